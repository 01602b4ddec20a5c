"""Real-data check of the `vae` assignment: the reference VAE trained on real CIFAR-10 images.

    python benchmarks/vae_cifar10.py --npz /path/to/cifar10_subset.npz [--epochs 3] [--ll-images 500] [--K 100]

SVHN cannot be downloaded on the machines where the kit is built, so this trains the reference
`vae_solution` with the statement's settings (batch 64, z_dim 32, Adam lr 1e-4, the notebook's
tensor pipeline) on a real 32x32 colour dataset: an .npz holding x_train (N, 32, 32, 3) and x_test
uint8 arrays (the CIFAR-10 sample of the course's shared data). It records the test negative ELBO
and the importance-sampled log-likelihood (`VAE.log_likelihood`), in nats per image and in bits per
dimension of the 8-bit pixels (the [-1, 1] scaling divides pixel values by 127.5, so
bits/dim = (nll / D + log 127.5) / log 2 with D = 3072). The estimate must be at least the ELBO.
A few epochs on a CPU take minutes. Writes benchmarks/results/vae_cifar10.json.
"""
import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "solutions")]

import vae_solution as vs  # noqa: E402

from benchmarks.results_file import write_result  # noqa: E402

DIMENSIONS = 3 * 32 * 32


def bits_per_dim(nats_per_image: float) -> float:
    return (nats_per_image / DIMENSIONS + math.log(127.5)) / math.log(2)


def load(npz: Path, split: str, limit=None) -> torch.Tensor:
    """uint8 images (N, 3, 32, 32) from an .npz's x_<split> (N, 32, 32, 3)."""
    with np.load(npz) as archive:
        images = archive[f"x_{split}"][:limit]
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


@torch.no_grad()
def evaluate(model, images, batch_size, K=None):
    """Mean negative ELBO per image (and, with K, the mean importance-sampled log-likelihood)."""
    model.eval()
    elbo, ll = [], []
    for start in range(0, len(images), batch_size):
        x = vs.to_model_range(images[start:start + batch_size].to(vs.device))
        _, nll, kl = model(x)
        elbo.append((nll + kl).double().cpu())
        if K is not None:
            ll.append(model.log_likelihood(x, K=K).double().cpu())
    negative_elbo = torch.cat(elbo).mean().item()
    return negative_elbo, (torch.cat(ll).mean().item() if K is not None else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--npz", type=Path, default=None, help="x_train / x_test uint8 (N, 32, 32, 3)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-images", type=int, default=None, help="default: all")
    parser.add_argument("--ll-images", type=int, default=500, help="test images for the log-likelihood")
    parser.add_argument("--K", type=int, default=100, help="importance samples per image")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.npz is None or not args.npz.is_file():
        print(f"skipped: no CIFAR-10 sample ({args.npz or 'pass --npz PATH'})")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)

    device = vs.device
    train_images = load(args.npz, "train", args.train_images).to(device)
    test_images = load(args.npz, "test")
    vs.fix_experiment_seed(0)
    model = vs.VAE(in_channels=3, input_size=32, z_dim=vs.z_dim, decoder_features=32, encoder_features=32,
                   device=device).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=vs.lr)
    dtype, scaler = vs.mixed_precision(device)

    started, train_losses = time.monotonic(), []
    for epoch in range(args.epochs):
        train_losses.append(round(vs.train_epoch(model, optimizer, train_images, vs.train_batch_size, scaler, dtype,
                                                 desc=f"epoch {epoch + 1}"), 2))
        print(f"epoch {epoch + 1}: training negative ELBO {train_losses[-1]:.1f}", flush=True)
    train_seconds = time.monotonic() - started

    started = time.monotonic()
    test_negative_elbo, _ = evaluate(model, test_images, 500)
    subset = test_images[:args.ll_images]
    subset_negative_elbo, log_likelihood = evaluate(model, subset, 250, K=args.K)
    evaluation_seconds = time.monotonic() - started

    result = {
        "dataset": f"CIFAR-10 sample ({args.npz.name}): {len(train_images)} training, {len(test_images)} test images",
        "device": (torch.cuda.get_device_name() if device.type == "cuda"
                   else f"cpu, {torch.get_num_threads()} torch thread(s)"),
        "settings": {"epochs": args.epochs, "batch_size": vs.train_batch_size, "z_dim": vs.z_dim, "lr": vs.lr,
                     "K": args.K},
        "train_negative_elbo_per_epoch": train_losses,
        "test_negative_elbo": {"nats_per_image": round(test_negative_elbo, 2),
                               "bits_per_dim": round(bits_per_dim(test_negative_elbo), 4),
                               "images": len(test_images)},
        "test_log_likelihood": {"nats_per_image": round(log_likelihood, 2),
                                "bits_per_dim": round(bits_per_dim(-log_likelihood), 4),
                                "images": len(subset),
                                "negative_elbo_same_images_nats": round(subset_negative_elbo, 2),
                                "gain_over_elbo_nats": round(log_likelihood + subset_negative_elbo, 3)},
        "train_seconds": round(train_seconds, 1), "evaluation_seconds": round(evaluation_seconds, 1),
    }
    write_result("vae_cifar10", result)
    return 0 if log_likelihood >= -subset_negative_elbo else 1


if __name__ == "__main__":
    sys.exit(main())
