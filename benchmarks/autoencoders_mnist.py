"""Real-data check of the `autoencoders` assignment: the reference on real MNIST digits.

    python benchmarks/autoencoders_mnist.py --source /work/shared/data/mnist [--epochs 10] [--threads 1] [--figures DIR]

Reads the real MNIST *test* set (t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz) in
--source; without --source, the kit's cache, downloading MNIST if needed) and splits its 10,000
images at random (seed 0) into 8,000 for training and 2,000 held out. Trains the reference
modules for a few epochs and records, on the held-out images:

- the reconstruction error of AutoEncoder(d) for d = 2, 16, 32, 64 (MSE per pixel and BCE per image);
- the denoising error: MSE between the clean image and the reconstruction of its noisy version,
  against the noise amplitude, next to the error of the noisy image itself;
- the held-out ELBO of VAE(2) (one sample of z per image, nats per image);
- the sparse auto-encoder's fraction of near-zero codes against the final lambda1;
- speed: one epoch of `fit` (tensors indexed in batches on the device) against the same epoch
  through a DataLoader that collates sample by sample, measured in the same run.

Writes benchmarks/results/autoencoders_mnist.json (and PNG figures in --figures when given).
"""
import argparse
import sys
import time
from pathlib import Path

import torch

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "solutions")]

import autoencoders_solution as ae  # noqa: E402

from benchmarks.results_file import peak_memory_mb, write_result  # noqa: E402
from data import DatasetUnavailable, mnist  # noqa: E402
from data.idx import read_idx  # noqa: E402

LATENT_DIMS = (2, 16, 32, 64)
AMPLITUDES = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
SPARSE_LAMBDA1 = (0.0, 1.0, 3.0)
SPARSE_LAMBDA2, SPARSE_D, NEAR_ZERO = 1e-3, 64, 0.05
N_TRAIN = 8000


def test_set(source):
    """The MNIST test images (10000, 28, 28) uint8 and labels, from IDX files or the kit's cache."""
    if source is None:
        try:
            return mnist.load("mnist", train=False)
        except DatasetUnavailable as problem:
            sys.exit(f"skipped: {problem}")
    found = {}
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        paths = [path for path in (source / name, source / f"{name}.gz") if path.is_file()]
        if not paths:
            sys.exit(f"skipped: {name}(.gz) is not in {source}")
        found[name] = torch.from_numpy(read_idx(paths[0]).copy())
    return found["t10k-images-idx3-ubyte"], found["t10k-labels-idx1-ubyte"].long()


def mse_per_pixel(model, images) -> float:
    return float(((ae.reconstruct(model, images) - images) ** 2).mean())


def trained(build, train_x, test_x, objective, args, name):
    """(model, history, seconds): `build()` from seed 0, trained with `fit`."""
    torch.manual_seed(0)
    model = build()
    started = time.monotonic()
    history = ae.fit(model, train_x, test_x, objective, epochs=args.epochs, batch_size=args.batch_size, desc=name)
    return model, history, time.monotonic() - started


def dataloader_epoch(model, train_x, batch_size) -> None:
    """The baseline: one epoch through a DataLoader over a TensorDataset (per-sample collation)."""
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(train_x.cpu()), batch_size=batch_size,
                                         shuffle=True, generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    device = next(model.parameters()).device
    for (x,) in loader:
        x = x.to(device)
        loss = ae.reconstruction_loss(model(x)[0], x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def speed(train_x, test_x, batch_size, repeats=2) -> dict:
    """Seconds per epoch of d = 32, best of `repeats`, for `fit` and for the DataLoader loop."""
    def best(run):
        times = []
        for _ in range(repeats):
            torch.manual_seed(0)
            model = ae.AutoEncoder(32).to(train_x.device)
            started = time.monotonic()
            run(model)
            times.append(time.monotonic() - started)
        return min(times)
    # fit's epoch includes its held-out evaluation: give it an empty test set (1 image) to compare steps only
    kit = best(lambda model: ae.fit(model, train_x, test_x[:1], ae.ae_objective(), epochs=1, batch_size=batch_size))
    baseline = best(lambda model: dataloader_epoch(model, train_x, batch_size))
    return {"fit_epoch_seconds": round(kit, 2), "dataloader_epoch_seconds": round(baseline, 2),
            "speedup": round(baseline / kit, 2)}


def save_figures(folder: Path, autoencoders, vae, test_x, test_y) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    folder.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(len(autoencoders) + 1, 10, figsize=(10, len(autoencoders) + 1.3))
    rows = [("original", test_x[:10])] + [(f"d={d}", ae.reconstruct(m, test_x[:10])) for d, m in autoencoders.items()]
    for row, (name, images) in zip(axes, rows):
        row[0].set_title(name, loc="left", fontsize=8)
        for ax, image in zip(row, images.cpu()):
            ax.imshow(image[0], cmap="gray", vmin=0, vmax=1)
            ax.axis("off")
    fig.savefig(folder / "reconstructions.png", dpi=80)
    weight = [m for m in autoencoders[32].decoder.modules() if isinstance(m, torch.nn.Linear)][-1].weight
    fig, axes = plt.subplots(4, 8, figsize=(8, 4))
    for ax, column in zip(axes.flat, weight.detach().cpu().T):
        ax.imshow(column.view(28, 28), cmap="RdBu_r", vmin=-column.abs().max(), vmax=column.abs().max())
        ax.axis("off")
    fig.savefig(folder / "decoder_weights.png", dpi=80)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, (name, model) in zip(axes, (("AE d=2", autoencoders[2]), ("VAE d=2", vae))):
        codes = ae.latent_codes(model, test_x).cpu()
        ax.scatter(codes[:, 0], codes[:, 1], c=test_y.cpu(), cmap="tab10", s=2)
        ax.set_title(name)
    fig.savefig(folder / "latent_spaces.png", dpi=80)
    plt.close("all")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=None, help="folder with the MNIST test IDX files")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--figures", type=Path, default=None, help="also save PNG figures in this folder")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (1 is much faster on a machine whose cores are busy)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    images, labels = test_set(args.source)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    images = (images.float() / 255).unsqueeze(1)[order].to(device)
    labels = labels[order].to(device)
    train_x, test_x, test_y = images[:N_TRAIN], images[N_TRAIN:], labels[N_TRAIN:]

    autoencoders, reconstruction = {}, {}
    for d in LATENT_DIMS:
        autoencoders[d], history, seconds = trained(lambda: ae.AutoEncoder(d), train_x, test_x, ae.ae_objective(),
                                                    args, f"AE d={d}")
        reconstruction[f"d={d}"] = {"held_out_mse_per_pixel": round(mse_per_pixel(autoencoders[d], test_x), 5),
                                    "held_out_bce_per_image": round(history["test_loss"][-1], 2),
                                    "train_bce_per_image": round(history["train_loss"][-1], 2),
                                    "parameters": ae.n_parameters(d), "train_seconds": round(seconds, 1)}

    torch.manual_seed(0)
    noise = torch.randn_like(test_x)  # the same draws for every amplitude and every d
    denoising = {"amplitudes": list(AMPLITUDES),
                 "noisy_input_mse": [round(float((ae.add_white_noise(test_x, a, noise) - test_x).pow(2).mean()), 5)
                                     for a in AMPLITUDES]}
    for d, model in autoencoders.items():
        denoising[f"d={d}_mse"] = [round(float((ae.reconstruct(model, ae.add_white_noise(test_x, a, noise))
                                                - test_x).pow(2).mean()), 5) for a in AMPLITUDES]

    vae, history, seconds = trained(lambda: ae.VAE(2), train_x, test_x, ae.vae_objective(), args, "VAE d=2")
    vae_result = {"held_out_elbo_per_image": round(-history["test_loss"][-1], 2),
                  "train_elbo_per_image": round(-history["train_loss"][-1], 2),
                  "held_out_mse_per_pixel_of_the_mean": round(mse_per_pixel(vae, test_x), 5),
                  "train_seconds": round(seconds, 1)}

    sparse = {}
    for lambda1 in SPARSE_LAMBDA1:
        model, _, _ = trained(lambda: ae.AutoEncoder(SPARSE_D), train_x, test_x,
                              ae.sparse_objective(lambda1, SPARSE_LAMBDA2, args.epochs), args,
                              f"sparse lambda1={lambda1}")
        codes = ae.latent_codes(model, test_x)
        sparse[f"lambda1={lambda1}"] = {"near_zero_fraction": round(float((codes.abs() < NEAR_ZERO).float().mean()), 4),
                                        "held_out_mse_per_pixel": round(mse_per_pixel(model, test_x), 5)}

    if args.figures:
        save_figures(args.figures, autoencoders, vae, test_x, test_y)
    result = {"dataset": f"MNIST test set (real), split at random into {N_TRAIN} train / {len(test_x)} held out",
              "device": str(device), "torch_threads": torch.get_num_threads(), "epochs": args.epochs,
              "batch_size": args.batch_size, "hidden": list(ae.HIDDEN),
              "reconstruction": reconstruction, "denoising": denoising, "vae_d2": vae_result,
              "sparse": {"d": SPARSE_D, "lambda2": SPARSE_LAMBDA2, "near_zero_means": f"|h| < {NEAR_ZERO}", **sparse},
              "speed_d32": speed(train_x, test_x, args.batch_size),
              "peak_memory_mb": peak_memory_mb()}
    write_result("autoencoders_mnist", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
