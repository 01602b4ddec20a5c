"""Speed of the `vae` training loop: the tensor pipeline against a plain DataLoader loop, same run.

    python benchmarks/vae_speed.py [--images 2048] [--steps 24] [--rounds 4] [--threads N]

Both train the reference VAE with the module's settings (batch 64, z_dim 32, Adam lr 1e-4) on the
same SVHN fixture (the real .mat format), and report images per second of a training step:

- baseline: the original course's loop, `get_dataloaders` (torchvision's SVHN, ToTensor and
  Normalize per image, 2 workers), a host-to-device copy per batch, full precision;
- tensor pipeline: the notebook's, uint8 images kept on the device, batches drawn by indexing
  and scaled there, mixed precision on CUDA (`vae_solution.train_epoch`'s step).

Also the throughput of each data pipeline alone (no model), the ceiling it puts on training.
CUDA when present, else CPU (where the model's compute dominates and the ratio stays near 1).
Writes benchmarks/results/vae_speed.json.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "solutions")]

import vae_solution as vs  # noqa: E402

from benchmarks.results_file import write_result  # noqa: E402
from data import svhn  # noqa: E402


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def endless(make_batches):
    while True:
        yield from make_batches()


def images_per_second(batches, step, device, steps, warmup):
    """Run `step(x)` on `warmup + steps` batches; images per second over the last `steps`."""
    for _ in range(warmup):
        step(next(batches))
    synchronize(device)
    started, images = time.perf_counter(), 0
    for _ in range(steps):
        x = next(batches)
        step(x)
        images += x.shape[0]
    synchronize(device)
    return images / (time.perf_counter() - started)


def new_model(device):
    vs.fix_experiment_seed(0)
    model = vs.VAE(in_channels=vs.input_channels, input_size=vs.image_size, z_dim=vs.z_dim, decoder_features=32,
                   encoder_features=32, device=device).to(device)
    return model.train(), torch.optim.Adam(model.parameters(), lr=vs.lr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2048, help="training images in the fixture")
    parser.add_argument("--steps", type=int, default=24, help="timed steps per loop")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4, help="the timed steps are split in rounds, alternating loops")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's; 1 is steadier on a shared machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = vs.device
    root = svhn.write_fixture("svhn", tempfile.mkdtemp(prefix="vae-speed-"), n_train=args.images, n_test=64)
    torchvision.datasets.SVHN = svhn.SVHN  # torchvision's class, accepting the fixture's md5

    train_loader, _ = vs.get_dataloaders(str(root), vs.train_batch_size)
    train_images = svhn.load(root, "train")[0].to(device)

    def loader_batches():
        return (x.to(device, non_blocking=True) for x, _ in train_loader)

    def tensor_batches():
        return vs.tensor_batches(train_images, vs.train_batch_size, shuffle=True, drop_last=True)

    data_only = {name: images_per_second(endless(make), lambda x: None, device, args.steps * 4, args.warmup)
                 for name, make in (("dataloader", loader_batches), ("tensors", tensor_batches))}

    # The two loops alternate in rounds, so that a busy shared machine slows both alike; medians.
    model, optimizer = new_model(device)
    plain_scaler = torch.amp.GradScaler(device.type, enabled=False)
    fast_model, fast_optimizer = new_model(device)
    dtype, scaler = vs.mixed_precision(device)
    loops = {"dataloader_loop": (endless(loader_batches),
                                 lambda x: vs.training_step(model, optimizer, x, plain_scaler, None)),
             "tensor_pipeline": (endless(tensor_batches),
                                 lambda x: vs.training_step(fast_model, fast_optimizer, x, scaler, dtype))}
    rates = {name: [] for name in loops}
    for round_ in range(args.rounds):
        for name, (batches, step) in loops.items():
            rates[name].append(images_per_second(batches, step, device, args.steps // args.rounds,
                                                 args.warmup if round_ == 0 else 0))
    ratios = [fast / slow for fast, slow in zip(rates["tensor_pipeline"], rates["dataloader_loop"])]

    where = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu, {torch.get_num_threads()} torch thread(s)"
    result = {
        "device": where,
        "batch_size": vs.train_batch_size, "timed_steps": args.steps, "fixture_images": args.images,
        "mixed_precision": str(dtype) if dtype is not None else "none (CPU)",
        "baseline": "get_dataloaders (torchvision SVHN, 2 workers, per-image transforms), fp32 step",
        "rounds": args.rounds,
        "train_images_per_second": {name: round(statistics.median(values), 1) for name, values in rates.items()},
        "speedup": round(statistics.median(ratios), 2),
        "speedup_per_round": [round(ratio, 2) for ratio in ratios],
        "data_only_images_per_second": {name: round(value, 1) for name, value in data_only.items()},
        "data_only_speedup": round(data_only["tensors"] / data_only["dataloader"], 1),
    }
    write_result("vae_speed", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
