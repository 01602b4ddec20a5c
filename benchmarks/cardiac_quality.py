"""Quality check of the `cardiac` assignment: the notebook's three models, trained for real.

    python benchmarks/cardiac_quality.py [--acdc FOLDER_WITH_PATIENT_FOLDERS] [--size 32] [--maps 600]
                                         [--epochs 15] [--batch-size 8]

Trains the reference auto-encoder with latents 4 and 2 and the VAE with latent 2, as the notebook
does, and records the test Dice of every class, the final losses and the time. It uses ACDC when
--acdc names a folder of patientXXX folders (split by patient 70/15/15), else synthetic phantoms.
The statement expects latent 2 to reconstruct worse than latent 4. The defaults on a CPU (32x32
maps, 15 epochs in batches of 8) take ten to fifteen minutes; on a GPU they are the notebook's
(256x256, 3000 phantoms, 40 epochs).
Writes benchmarks/results/cardiac_quality.json.
"""
import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "solutions")]

import cardiac_solution as cs  # noqa: E402

from benchmarks.results_file import peak_memory_mb, write_result  # noqa: E402
from data import acdc  # noqa: E402


def split(args):
    if args.acdc:
        maps, patients = acdc.read_folder(args.acdc, size=args.size)
        return "ACDC", (maps[patients <= 70], maps[(patients > 70) & (patients <= 85)], maps[patients > 85])
    maps = acdc.phantoms(args.maps, size=args.size, seed=0, device=cs.DEVICE).cpu()
    n_train, n_valid = int(0.8 * len(maps)), int(0.1 * len(maps))
    return "synthetic phantoms", (maps[:n_train], maps[n_train:n_train + n_valid], maps[n_train + n_valid:])


def run(name, latent, variational, data, args):
    for seed in (random.seed, np.random.seed, torch.manual_seed):
        seed(197331)
    train_maps, valid_maps, test_maps = data
    encoder = cs.Encoder(latent_dim=2 * latent if variational else latent, image_size=args.size)
    decoder = cs.Decoder(latent_dim=latent, image_size=args.size)
    forward = cs.vae_forward_pass if variational else cs.ae_forward_pass
    started = time.monotonic()
    logs = cs.train(forward, encoder, decoder, train_maps, valid_maps, args.epochs, args.batch_size, desc=name)
    seconds = time.monotonic() - started
    predicted = cs.reconstruct(encoder, decoder, test_maps, variational=variational)
    dice = cs.dice_score(predicted, test_maps).mean(dim=0)
    return {"train_loss": round(logs["train_loss"][-1], 5), "valid_loss": round(logs["valid_loss"][-1], 5),
            "test_dice": {cls: round(float(d), 4) for cls, d in zip(cs.CLASS_NAMES[1:], dice)},
            "test_dice_mean": round(float(dice.mean()), 4), "train_seconds": round(seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--acdc", type=Path, help="a folder of ACDC patientXXX folders (default: phantoms)")
    parser.add_argument("--size", type=int, default=256 if cs.DEVICE.type == "cuda" else 32)
    parser.add_argument("--maps", type=int, default=3000 if cs.DEVICE.type == "cuda" else 600,
                        help="phantoms to draw when no ACDC folder is given")
    parser.add_argument("--epochs", type=int, default=40 if cs.DEVICE.type == "cuda" else 15)
    # small batches on a CPU: more steps for the same arithmetic
    parser.add_argument("--batch-size", type=int, default=32 if cs.DEVICE.type == "cuda" else 8)
    args = parser.parse_args()
    source, data = split(args)
    print(f"{source}: {[len(part) for part in data]} maps of {args.size}x{args.size} on {cs.DEVICE}", flush=True)
    models = {"AE, latent 4": (4, False), "AE, latent 2": (2, False), "VAE, latent 2": (2, True)}
    results = {}
    for name, (latent, variational) in models.items():
        results[name] = run(name, latent, variational, data, args)
        print(name, results[name], flush=True)
    write_result("cardiac_quality", {
        "data": source, "image_size": args.size, "maps": {"train": len(data[0]), "valid": len(data[1]),
                                                           "test": len(data[2])},
        "epochs": args.epochs, "batch_size": args.batch_size, "device": str(cs.DEVICE),
        "torch_threads": torch.get_num_threads(), "models": results,
        "latent_2_worse_than_latent_4": results["AE, latent 2"]["test_dice_mean"]
        < results["AE, latent 4"]["test_dice_mean"],
        "peak_memory_mb": peak_memory_mb()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
