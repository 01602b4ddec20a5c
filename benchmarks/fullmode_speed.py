"""What the full-mode changes of the given loops cost or save, as ratios against the plain loop,
measured in the same process, alternating, median of --rounds rounds.

    python benchmarks/fullmode_speed.py [--rounds 3] [--steps 20] [--threads 1] [--no-compile]

- run: `train_epoch` with a `runs.Run` (a checkpoint after the epoch) against no run; and the
  worst case, a checkpoint after every step (`save_every_s=0`; the default is every 5 minutes);
- sync: the loss read on the host after every step (`float(loss)`, what the loops no longer do)
  against the loss summed on the device (the given loops); on a CPU there is nothing to wait for,
  so the ratio is about 1 here; on a GPU it is what keeps the GPU's queue full;
- compile: `train_epoch` with $KIT_COMPILE=1 (torch.compile, after its compilation) against eager;
- resident data, batched augmentation, autocast and channels_last pay on a GPU only; their CPU
  ratios are in benchmarks/ddpm_speed.py, vae_speed.py and simsiam_augment_speed.py.

Loops: ddpm's `train_epoch` on the quick-mode U-Net and vae's `train_epoch` on the statement's VAE
(batches of 64 of synthetic SVHN-shaped images). Writes benchmarks/results/fullmode_speed.json.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

os.environ.setdefault("TQDM_DISABLE", "1")
KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "solutions")]

import ddpm_solution as ddpm  # noqa: E402
import runs  # noqa: E402
import vae_solution as vs  # noqa: E402

from benchmarks.results_file import peak_memory_mb, write_result  # noqa: E402


def ddpm_setup(steps, batch):
    ddpm.fix_experiment_seed()
    model = ddpm.prepare(ddpm.Unet(dim=8, dim_mults=(1, 2, 2), resnet_block_groups=4))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    images = torch.randint(0, 256, (steps * batch, 3, 32, 32), dtype=torch.uint8)
    return model, optimizer, images


def vae_setup(steps, batch):
    vs.fix_experiment_seed(0)
    model = vs.VAE(in_channels=3, input_size=32, z_dim=32, decoder_features=32, encoder_features=32, device="cpu")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    images = torch.randint(0, 256, (steps * batch, 3, 32, 32), dtype=torch.uint8)
    return model, optimizer, images


def ddpm_epoch(state, batch, run=None):
    model, optimizer, images = state
    ddpm.train_epoch(model, optimizer, images, batch, desc="ddpm", run=run)


def vae_epoch(state, batch, run=None):
    model, optimizer, images = state
    vs.train_epoch(model, optimizer, images, batch, desc="vae", run=run)


def ddpm_epoch_synced(state, batch):
    """ddpm.train_epoch's loop, the loss read on the host at every step."""
    model, optimizer, images = state
    model.train()
    order, losses = torch.randperm(len(images)), []
    for step in range(len(images) // batch):
        x = ddpm.as_model_input(images[order[step * batch:(step + 1) * batch]])
        loss = ddpm.p_losses(model, x, ddpm.t_sample(ddpm.T, len(x)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))


def with_run(epoch, folder, every_step):
    def variant(state, batch):
        model, optimizer, _ = state
        run = runs.Run(f"bench{time.monotonic_ns()}", root=folder, save_every_s=0.0 if every_step else 300.0)
        for _ in run.epochs(1, {"loss": []}, model=model, optimizer=optimizer):
            epoch(state, batch, run=run)
    return variant


def compiled(epoch):
    def variant(state, batch):
        os.environ["KIT_COMPILE"] = "1"
        try:
            epoch(state, batch)
        finally:
            os.environ.pop("KIT_COMPILE")
    return variant


def compare(name, setup, variants, steps, batch, rounds):
    """Seconds per step of each variant (median over rounds, alternating); ratios to "plain"."""
    states = {label: setup(steps, batch) for label in variants}
    for label, function in variants.items():  # warm-up (and compilation)
        function(states[label], batch)
    seconds = {label: [] for label in variants}
    for _ in range(rounds):
        for label, function in variants.items():
            started = time.perf_counter()
            function(states[label], batch)
            seconds[label].append((time.perf_counter() - started) / steps)
    median = {label: statistics.median(values) for label, values in seconds.items()}
    result = {"step_ms": {label: round(1e3 * value, 2) for label, value in median.items()},
              "ratio_to_plain": {label: round(value / median["plain"], 3) for label, value in median.items()}}
    print(name, result, flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = {"device": "cpu", "threads": args.threads, "rounds": args.rounds, "steps": args.steps,
              "batch": args.batch, "loops": {}}
    with tempfile.TemporaryDirectory() as folder:
        for name, setup, epoch in (("ddpm.train_epoch (quick-mode U-Net)", ddpm_setup, ddpm_epoch),
                                   ("vae.train_epoch (statement's VAE)", vae_setup, vae_epoch)):
            variants = {"plain": epoch,
                        "run, checkpoint per epoch": with_run(epoch, folder, every_step=False),
                        "run, checkpoint every step (worst case)": with_run(epoch, folder, every_step=True)}
            if epoch is ddpm_epoch:
                variants["loss read every step (sync)"] = ddpm_epoch_synced
            if not args.no_compile:
                variants["torch.compile (KIT_COMPILE=1)"] = compiled(epoch)
            result["loops"][name] = compare(name, setup, variants, args.steps, args.batch, args.rounds)
    result["peak_memory_mb"] = peak_memory_mb()
    write_result("fullmode_speed", result)


if __name__ == "__main__":
    main()
