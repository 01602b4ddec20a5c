"""Speed of the `cardiac` assignment's batched tensor code against a plain per-sample loop.

    python benchmarks/cardiac_speed.py [--size 256] [--maps 256] [--acdc FOLDER_WITH_PATIENT_FOLDERS]

Measured in the same run, on CUDA when there is one (mixed precision there), else on the CPU:
- evaluation: reconstruct label maps and score them (Dice per class) in batches on the device
  (`cs.reconstruct`, `cs.dice_score`), against one map at a time with a NumPy Dice;
- training: Adam steps on batches of maps held on the device (`cs.train`), against one step per map
  (batch size 1), for the same number of maps;
- phantoms: `acdc.phantoms` with its default chunks (one map at a time on a CPU, whose cache it
  then fits; a thousand on a GPU), against every map in one call.
With --acdc, also the time to read ACDC's NIfTI volumes and the number of slices found. The
defaults on a CPU (128x128 maps, 32 of them) keep the run to a few minutes.
Writes benchmarks/results/cardiac_speed.json.
"""
import argparse
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

DEVICE = cs.DEVICE


def synchronize():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def timed(function, repeat: int = 2):
    """(best wall-clock seconds of `repeat` runs, the last result), after one warm-up run."""
    result = function()
    best = float("inf")
    for _ in range(repeat):
        synchronize()
        started = time.perf_counter()
        result = function()
        synchronize()
        best = min(best, time.perf_counter() - started)
    return best, result


def comparison(n: int, batched: float, loop: float) -> dict:
    return {"maps": n, "batched_maps_per_second": round(n / batched, 2), "loop_maps_per_second": round(n / loop, 2),
            "speedup": round(loop / batched, 2)}


def numpy_dice(predicted: np.ndarray, target: np.ndarray) -> list:
    scores = []
    for k in range(1, cs.N_CLASSES):
        p, t = predicted == k, target == k
        total = p.sum() + t.sum()
        scores.append(1.0 if total == 0 else 2 * (p & t).sum() / total)
    return scores


def evaluate_per_map(encoder, decoder, maps):
    """The plain loop: one map at a time to the device and back, Dice in NumPy."""
    scores = []
    with torch.inference_mode():
        for label_map in maps:
            logits = decoder(encoder(cs.to_onehot(label_map[None].to(DEVICE).long())))
            scores.append(numpy_dice(logits.argmax(dim=1)[0].cpu().numpy(), label_map.numpy()))
    return np.mean(scores, axis=0)


def evaluate_batched(encoder, decoder, maps, batch_size):
    predicted = cs.reconstruct(encoder, decoder, maps, batch_size=batch_size)
    return cs.dice_score(predicted.to(DEVICE), maps.to(DEVICE)).mean(dim=0).cpu().numpy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256 if DEVICE.type == "cuda" else 128)
    parser.add_argument("--maps", type=int, default=256 if DEVICE.type == "cuda" else 32)
    parser.add_argument("--batch-size", type=int, default=32 if DEVICE.type == "cuda" else 16)
    parser.add_argument("--acdc", type=Path, help="also time reading this folder of ACDC patientXXX folders")
    args = parser.parse_args()
    torch.manual_seed(0)
    maps = acdc.phantoms(args.maps, size=args.size, seed=0)
    encoder, decoder = cs.Encoder(image_size=args.size).to(DEVICE), cs.Decoder(image_size=args.size).to(DEVICE)
    result = {"device": str(DEVICE), "torch_threads": torch.get_num_threads(), "image_size": args.size,
              "batch_size": args.batch_size, "mixed_precision": DEVICE.type == "cuda"}

    batched_s, batched_dice = timed(lambda: evaluate_batched(encoder, decoder, maps, args.batch_size))
    loop_s, loop_dice = timed(lambda: evaluate_per_map(encoder, decoder, maps))
    result["evaluation"] = comparison(args.maps, batched_s, loop_s)
    # same predictions both ways (up to mixed precision on CUDA)
    result["evaluation"]["dice_gap"] = round(float(np.abs(batched_dice - loop_dice).max()), 4)

    train_maps = maps[:args.batch_size] if DEVICE.type == "cpu" else maps
    valid = maps[:1]

    def train(batch_size):
        return cs.train(cs.ae_forward_pass, encoder, decoder, train_maps, valid, 1, batch_size, desc="speed")
    batched_s, _ = timed(lambda: train(args.batch_size), repeat=1)
    loop_s, _ = timed(lambda: train(1), repeat=1)
    result["training"] = comparison(len(train_maps), batched_s, loop_s)

    # the default (one map per call on a CPU, a thousand per call on a GPU) against one call for all
    n_phantoms = 16 * args.maps
    default_s, _ = timed(lambda: acdc.phantoms(n_phantoms, size=args.size, device=DEVICE))
    one_call_s, _ = timed(lambda: acdc.phantoms(n_phantoms, size=args.size, device=DEVICE, chunk=n_phantoms))
    result["phantoms"] = {"maps": n_phantoms, "default_maps_per_second": round(n_phantoms / default_s, 1),
                          "all_in_one_call_maps_per_second": round(n_phantoms / one_call_s, 1)}

    if args.acdc:
        started = time.perf_counter()
        acdc_maps, patients = acdc.read_folder(args.acdc, size=args.size)
        result["acdc"] = {"slices": len(acdc_maps), "patients": len(patients.unique()),
                          "read_seconds": round(time.perf_counter() - started, 1),
                          "class_fractions": [round(float((acdc_maps == k).float().mean()), 4) for k in range(4)]}
    else:
        result["acdc"] = "not measured (no --acdc folder given)"
    result["peak_memory_mb"] = peak_memory_mb()
    write_result("cardiac_speed", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
