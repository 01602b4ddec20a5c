"""SVHN (cropped digits, 32x32 colour): download through torchvision, offline fixtures, tensors.

torchvision's `SVHN` verifies the md5 of `train_32x32.mat` / `test_32x32.mat` every time it
loads them, so a fixture in the real format is refused by the stock class. `SVHN` below is that
class with one change: it also accepts a file whose md5 matches the `<file>.fixture-md5` record
written next to it by `write_fixture`. Everything else (scipy's .mat reader, the label 10 -> 0
mapping, the NCHW layout) is torchvision's own code.
"""
import hashlib
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.datasets.utils import check_integrity

from data import DatasetUnavailable, data_root

DATASETS = ("svhn",)
SPLITS = ("train", "test")
HOW_TO_GET = ("download train_32x32.mat and test_32x32.mat from http://ufldl.stanford.edu/housenumbers/ "
              "and run `python -m data import svhn FOLDER_WITH_THE_FILES`")


class SVHN(torchvision.datasets.SVHN):
    """torchvision's SVHN, which also accepts the kit's fixtures (see the module docstring)."""

    def _check_integrity(self) -> bool:
        if super()._check_integrity():
            return True
        record = Path(self.root) / f"{self.filename}.fixture-md5"
        return record.is_file() and check_integrity(str(Path(self.root) / self.filename), record.read_text().strip())

    def download(self) -> None:
        if self._check_integrity():  # torchvision's would fetch the official file over a fixture
            return
        super().download()


def ensure(name: str = "svhn", root=None, splits=SPLITS) -> Path:
    """Make sure the SVHN splits are on disk, downloading them if needed; return the folder."""
    root = data_root(root)
    try:
        for split in splits:
            SVHN(root, split=split, download=True)
    except (RuntimeError, urllib.error.URLError, OSError) as error:
        reason = str(error).strip().splitlines()[-1][:160] if str(error).strip() else type(error).__name__
        raise DatasetUnavailable(f"SVHN is not in {root} and could not be downloaded ({reason}). "
                                 f"To get it: {HOW_TO_GET}") from None
    return root


def load(root=None, split: str = "train"):
    """A split as tensors: images uint8 (N, 3, 32, 32) and labels int64 (N,) in 0..9."""
    dataset = SVHN(ensure("svhn", root, (split,)), split=split)
    return torch.from_numpy(np.ascontiguousarray(dataset.data)), torch.from_numpy(dataset.labels)


def import_files(name: str, source, root=None) -> Path:
    """Copy train_32x32.mat and test_32x32.mat from a local folder into the cache."""
    source, root = Path(source), data_root(root)
    for split in SPLITS:
        path = source / f"{split}_32x32.mat"
        if not path.is_file():
            raise DatasetUnavailable(f"{path.name} is not in {source}. To get it: {HOW_TO_GET}")
        shutil.copyfile(path, root / path.name)
    return root


def synthetic_digits(n: int, seed: int = 0):
    """`n` coloured 32x32 images in 10 classes (uint8, (N, 3, 32, 32)) and labels 0..9.

    Each class is a fixed pattern of bright strokes on a background colour that varies per image,
    with noise: learnable, and far from constant, like house numbers.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:32, 0:32]
    templates = np.zeros((10, 32, 32))
    for k in range(10):
        class_rng = np.random.default_rng(2000 + k)
        for (r0, c0), (r1, c1) in class_rng.uniform(6, 26, size=(3, 2, 2)):
            along = (rows - r0) * (r1 - r0) + (cols - c0) * (c1 - c0)
            t = np.clip(along / ((r1 - r0) ** 2 + (c1 - c0) ** 2 + 1e-9), 0, 1)
            distance = np.hypot(rows - (r0 + t * (r1 - r0)), cols - (c0 + t * (c1 - c0)))
            templates[k] = np.maximum(templates[k], np.exp(-distance ** 2 / 4))
    labels = rng.permutation(np.arange(n) % 10)
    background = rng.uniform(0.1, 0.6, size=(n, 3, 1, 1))
    foreground = rng.uniform(0.5, 1.0, size=(n, 3, 1, 1))
    strokes = templates[labels][:, None]
    images = background * (1 - strokes) + foreground * strokes + rng.normal(0, 0.04, size=(n, 3, 32, 32))
    return np.clip(images * 255, 0, 255).astype(np.uint8), labels.astype(np.int64)


def write_fixture(name: str, root, n_train: int = 256, n_test: int = 128, seed: int = 0) -> Path:
    """Write small synthetic train/test splits in SVHN's .mat format (X (32, 32, 3, N) uint8,
    y (N, 1) with 10 for the digit 0), with the md5 records `SVHN` accepts; return `root`."""
    import scipy.io
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for split, n, split_seed in (("train", n_train, seed), ("test", n_test, seed + 1)):
        images, labels = synthetic_digits(n, split_seed)
        path = root / f"{split}_32x32.mat"
        scipy.io.savemat(path, {"X": images.transpose(2, 3, 1, 0), "y": np.where(labels == 0, 10, labels)[:, None]})
        (root / f"{path.name}.fixture-md5").write_text(hashlib.md5(path.read_bytes()).hexdigest())
    return root
