"""Real-data check of the `trainer` assignment: the default MLP and CNN on the real FashionMNIST.

    python benchmarks/trainer_fashionmnist.py [--epochs 50] [--source /usr/share/datasets/fashion-mnist]

Uses the Debian package `dataset-fashion-mnist` (all 70,000 images; `apt-get install -y
dataset-fashion-mnist`) imported into a temporary data root, or the kit's cache if FashionMNIST is
already there. Trains the reference Trainer with the statement's settings (batch 128, Adam,
lr 1e-4, normalization) and records validation and test accuracy. The statement expects more than
80% for the best setting. Writes benchmarks/results/trainer_fashionmnist.json.
"""
import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "solutions")]

import trainer_solution as ts  # noqa: E402

from benchmarks.results_file import write_result  # noqa: E402
from data import DatasetUnavailable, mnist  # noqa: E402


def data_root(source: Path) -> str:
    try:
        if source.is_dir():
            return str(mnist.import_files("fashion_mnist", source, tempfile.mkdtemp(prefix="fashion-")))
        return str(mnist.ensure("fashion_mnist"))
    except DatasetUnavailable as problem:
        sys.exit(f"skipped: {problem}")


def train(root: str, epochs: int, **settings) -> dict:
    for seed in (random.seed, np.random.seed, torch.manual_seed):
        seed(197331)
    trainer = ts.Trainer(datapath=root, **settings)
    started = time.monotonic()
    logs = trainer.train_loop(epochs)
    seconds = time.monotonic() - started
    _, test_accuracy = trainer.evaluate(*trainer.test)
    return {"settings": {k: str(v) for k, v in settings.items()}, "epochs": epochs,
            "parameters": sum(p.numel() for p in trainer.network.parameters()),
            "train_accuracy": round(logs["train_accuracy"][-1], 4),
            "best_validation_accuracy": round(max(logs["validation_accuracy"]), 4),
            "final_validation_accuracy": round(logs["validation_accuracy"][-1], 4),
            "test_accuracy": round(float(test_accuracy), 4), "train_seconds": round(seconds, 1),
            "device": str(trainer.device)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=50, help="epochs of the MLP (the statement: 50)")
    parser.add_argument("--cnn-epochs", type=int, default=None, help="epochs of the CNN (default: --epochs)")
    parser.add_argument("--source", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    args = parser.parse_args()
    root = data_root(args.source)
    runs = {"mlp": train(root, args.epochs, network_type="mlp"),
            "cnn": train(root, args.cnn_epochs or args.epochs, network_type="cnn")}
    result = {"dataset": "FashionMNIST (real, 60,000 train / 2,000 validation / 8,000 test)",
              "torch_threads": torch.get_num_threads(), **runs}
    write_result("trainer_fashionmnist", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
