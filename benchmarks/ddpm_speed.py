"""Speed of the `ddpm` assignment: training images per second and sampling time, the kit's way
against a plain implementation, measured in the same run on the same network and weights.

    python benchmarks/ddpm_speed.py [--data-root FOLDER_WITH_SVHN] [--rounds 3] [--threads N]

- training, plain: the course's original loop: torchvision's SVHN with per-image transforms in
  DataLoader workers, float32, a `loss.item()` per step (for the progress bar);
- training, kit: `ddpm.train_epoch`: the dataset as one uint8 tensor on the device, batches by
  index, mixed precision and channels-last on CUDA, the loss read every 50 steps;
- sampling: the ancestral sampler (`p_sample_loop`) in float32 against the same under mixed
  precision and channels-last (CUDA only: on a CPU both are float32), timed over `--sample-steps`
  steps and scaled to T = 1000; and DDIM with 50 steps, timed in full.

Each measure alternates between the implementations for `--rounds` rounds and reports the median
(and the range of the training rates), so that the load of a shared machine weighs on all alike.
On a busy CPU, `--threads 1` avoids the large slowdowns of oversubscribed threads.

The network is the notebook's U-Net (dim 32, 4 levels). Data: SVHN from `--data-root` if given,
else a synthetic fixture in SVHN's format (speed does not depend on the pixels). Writes
benchmarks/results/ddpm_speed.json.
"""
import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "solutions")]

import ddpm_solution as ddpm  # noqa: E402

from benchmarks.results_file import peak_memory_mb, write_result  # noqa: E402
from data import svhn  # noqa: E402


def synchronize():
    if ddpm.device.type == "cuda":
        torch.cuda.synchronize()


def timed(function) -> float:
    synchronize()
    started = time.perf_counter()
    function()
    synchronize()
    return time.perf_counter() - started


class PlainTraining:
    """The original loop over get_dataloaders' DataLoader (per-image transforms in 2 workers,
    float32, a `loss.item()` per step for the progress bar)."""

    def __init__(self, model, root, batch_size):
        self.model, self.optimizer = model.train(), torch.optim.Adam(model.parameters(), lr=ddpm.lr)
        self.batches = iter(ddpm.get_dataloaders(root, batch_size)[0])

    def run(self, steps):
        for _ in range(steps):
            x = next(self.batches)[0].to(ddpm.device)
            loss = ddpm.p_losses(self.model, x, ddpm.t_sample(ddpm.T, len(x)))
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            loss.item()


class KitTraining:
    """`ddpm.train_epoch` on the uint8 tensor on the device (mixed precision, channels-last on CUDA)."""

    def __init__(self, model, images, batch_size):
        self.model, self.images, self.batch_size = model, images, batch_size
        self.optimizer, self.scaler = torch.optim.Adam(model.parameters(), lr=ddpm.lr), ddpm.make_scaler()

    def run(self, steps):
        ddpm.train_epoch(self.model, self.optimizer, self.images[:steps * self.batch_size], self.batch_size,
                         self.scaler, desc="kit")


def ancestral(model, shape, steps, fast):
    """`steps` steps of p_sample_loop, in float32 (plain) or under `ddpm.autocast` (kit)."""
    with ddpm.autocast() if fast else torch.no_grad():
        ddpm.p_sample_loop(model, shape, steps)


def median_rate(times, amount):
    """amount / seconds for the median round, and the range over rounds."""
    rates = sorted(amount / t for t in times)
    return round(statistics.median(rates), 3), [round(rates[0], 3), round(rates[-1], 3)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, help="a folder with SVHN's train_32x32.mat and test_32x32.mat")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per measure (medians reported)")
    parser.add_argument("--steps", type=int, default=3, help="training steps per round and implementation")
    parser.add_argument("--batch-size", type=int, default=ddpm.train_batch_size)
    parser.add_argument("--sample-batch", type=int, default=16)
    parser.add_argument("--sample-steps", type=int, default=10, help="ancestral steps per round (scaled to T)")
    parser.add_argument("--ddim-steps", type=int, default=50)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    n_images = (args.rounds * args.steps + 2) * args.batch_size
    root = args.data_root or svhn.write_fixture("svhn", tempfile.mkdtemp(prefix="svhn-"), n_train=n_images, n_test=64)
    images = svhn.load(root, "train")[0][:n_images].to(ddpm.device)
    ddpm.fix_experiment_seed()
    initial = ddpm.Unet(dim=ddpm.image_size, channels=ddpm.input_channels, dim_mults=(1, 2, 4, 8))

    # Training: the same initial weights; one warm-up step each, then alternating rounds, so that
    # the load of a shared machine weighs on both alike.
    plain = PlainTraining(copy.deepcopy(initial).to(ddpm.device), str(root), args.batch_size)
    kit = KitTraining(ddpm.prepare(copy.deepcopy(initial)), images, args.batch_size)
    plain.run(1), kit.run(1)
    train_times = {"plain": [], "kit": []}
    for _ in range(args.rounds):
        train_times["plain"].append(timed(lambda: plain.run(args.steps)))
        train_times["kit"].append(timed(lambda: kit.run(args.steps)))
    plain_rate, plain_range = median_rate(train_times["plain"], args.steps * args.batch_size)
    kit_rate, kit_range = median_rate(train_times["kit"], args.steps * args.batch_size)

    # Sampling: ancestral steps of both kinds and full 50-step DDIM runs, alternating.
    shape = (args.sample_batch, 3, ddpm.image_size, ddpm.image_size)
    plain_model, kit_model = copy.deepcopy(initial).to(ddpm.device).eval(), ddpm.prepare(copy.deepcopy(initial)).eval()
    ancestral(plain_model, shape, 1, fast=False), ancestral(kit_model, shape, 1, fast=True)
    sample_times = {"plain": [], "kit": [], "ddim": []}
    for _ in range(args.rounds):
        sample_times["plain"].append(timed(lambda: ancestral(plain_model, shape, args.sample_steps, fast=False)))
        sample_times["kit"].append(timed(lambda: ancestral(kit_model, shape, args.sample_steps, fast=True)))
        sample_times["ddim"].append(timed(lambda: ddpm.ddim_sample(kit_model, shape, steps=args.ddim_steps)))
    plain_step = statistics.median(sample_times["plain"]) / args.sample_steps
    kit_step = statistics.median(sample_times["kit"]) / args.sample_steps
    ddim_seconds = statistics.median(sample_times["ddim"])

    result = {
        "device": torch.cuda.get_device_name() if ddpm.device.type == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(),
        "mixed_precision": str(ddpm.AMP_DTYPE).replace("torch.", "") if ddpm.device.type == "cuda" else "off (CPU)",
        "data": str(args.data_root) if args.data_root else "synthetic fixture in SVHN's format",
        "network_parameters": sum(p.numel() for p in initial.parameters()),
        "rounds": args.rounds,
        "training": {"batch_size": args.batch_size, "steps_per_round": args.steps,
                     "plain_images_per_second": plain_rate, "plain_range": plain_range,
                     "kit_images_per_second": kit_rate, "kit_range": kit_range,
                     "speedup": round(kit_rate / plain_rate, 2)},
        "sampling": {"batch_size": args.sample_batch, "ancestral_steps_per_round": args.sample_steps,
                     "plain_seconds_per_step": round(plain_step, 4), "kit_seconds_per_step": round(kit_step, 4),
                     "plain_seconds_for_T_steps": round(plain_step * ddpm.T, 1),
                     "kit_seconds_for_T_steps": round(kit_step * ddpm.T, 1),
                     "speedup_kit_vs_plain": round(plain_step / kit_step, 2),
                     "ddim_steps": args.ddim_steps, "ddim_seconds": round(ddim_seconds, 2),
                     "speedup_ddim_vs_kit_ancestral": round(kit_step * ddpm.T / ddim_seconds, 1),
                     "speedup_ddim_vs_plain_ancestral": round(plain_step * ddpm.T / ddim_seconds, 1)},
        "peak_memory_mb": peak_memory_mb(),
    }
    if ddpm.device.type == "cuda":
        result["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    else:
        result["note"] = ("on a CPU both implementations compute in float32 (mixed precision and channels-last "
                          "are for CUDA) and the network dominates: plain and kit differ only by the data "
                          "pipeline; DDIM's speed-up is the CPU's real gain")
    write_result("ddpm_speed", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
