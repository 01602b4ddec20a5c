"""MNIST and FashionMNIST: download through torchvision, import a local copy, offline fixtures.

torchvision keeps these datasets as decompressed IDX files in `ROOT/<Class>/raw/` and does not
check their md5 once they are there, so a local copy (e.g. Debian's `dataset-fashion-mnist`,
re-gzipped with a different md5) or a fixture written here loads through the real classes.
"""
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import torchvision

from data import DatasetUnavailable, data_root
from data.idx import read_idx, write_idx

DATASETS = {"mnist": torchvision.datasets.MNIST, "fashion_mnist": torchvision.datasets.FashionMNIST}
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
HOW_TO_GET = {
    "fashion_mnist": "get the four .gz files from https://github.com/zalandoresearch/fashion-mnist "
                     "(Debian: apt-get install dataset-fashion-mnist), then run "
                     "`python -m data import fashion_mnist FOLDER_WITH_THE_FILES`",
    "mnist": "get the four .gz files of http://yann.lecun.com/exdb/mnist/ (or a mirror), then run "
             "`python -m data import mnist FOLDER_WITH_THE_FILES`",
}


def _dataset_class(name: str):
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; use one of {sorted(DATASETS)}")
    return DATASETS[name]


def raw_folder(name: str, root=None) -> Path:
    """Where torchvision looks for the IDX files of `name` under `root`."""
    return data_root(root) / _dataset_class(name).__name__ / "raw"


def ensure(name: str, root=None) -> Path:
    """Make sure `name` is on disk, downloading it if needed; return the root for torchvision.

    Raises DatasetUnavailable (one line: where the files should be and how to get them) when the
    files are missing and the download fails.
    """
    root = data_root(root)
    dataset_class = _dataset_class(name)
    try:
        for train in (True, False):
            dataset_class(root, train=train, download=True)
    except (RuntimeError, urllib.error.URLError, OSError) as error:
        reason = str(error).strip().splitlines()[-1][:160] if str(error).strip() else type(error).__name__
        raise DatasetUnavailable(f"{name} is not in {raw_folder(name, root)} and could not be downloaded "
                                 f"({reason}). To get it: {HOW_TO_GET[name]}") from None
    return root


def load(name: str, root=None, train: bool = True):
    """The split as tensors: images uint8 (N, 28, 28) and labels int64 (N,)."""
    dataset = _dataset_class(name)(ensure(name, root), train=train, download=False)
    return dataset.data, dataset.targets


def import_files(name: str, source, root=None) -> Path:
    """Copy the four IDX files of `name` from a local folder (gzipped or not) into the cache."""
    source, target = Path(source), raw_folder(name, root)
    target.mkdir(parents=True, exist_ok=True)
    for base in (file for split in SPLITS.values() for file in split):
        found = [source / base, source / f"{base}.gz"]
        existing = [path for path in found if path.is_file()]
        if not existing:
            raise DatasetUnavailable(f"{base}(.gz) is not in {source}. To get it: {HOW_TO_GET[name]}")
        if existing[0].suffix == ".gz":
            write_idx(target / base, read_idx(existing[0]))
        else:
            shutil.copyfile(existing[0], target / base)
    return data_root(root)


def synthetic_digits(n: int, seed: int = 0):
    """`n` learnable 28x28 uint8 images in 10 classes (every class present), and their labels.

    Each class is a fixed pattern of three Gaussian blobs; each image shifts it by up to 2 pixels,
    scales its brightness and adds noise, so every pixel varies across images (a per-pixel
    standard deviation is never 0) and a small network can learn the classes in a few epochs.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:28, 0:28]
    templates = np.zeros((10, 28, 28))
    for k in range(10):
        class_rng = np.random.default_rng(1000 + k)
        for (row, col), sigma in zip(class_rng.uniform(6, 22, size=(3, 2)), class_rng.uniform(2, 4.5, size=3)):
            templates[k] += np.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * sigma ** 2))
    templates /= templates.max(axis=(1, 2), keepdims=True)
    labels = rng.permutation(np.arange(n) % 10)
    shifts = rng.integers(-2, 3, size=(n, 2))
    images = np.stack([np.roll(templates[label], tuple(shift), axis=(0, 1))
                       for label, shift in zip(labels, shifts)])
    images = images * rng.uniform(0.6, 1.0, size=(n, 1, 1)) + rng.normal(0, 0.08, size=images.shape)
    return np.clip(images * 255, 0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_fixture(name: str, root, n_train: int = 256, n_test: int = 128, seed: int = 0) -> Path:
    """Write a small synthetic `name` in torchvision's raw layout under `root`; return `root`."""
    target = Path(root) / _dataset_class(name).__name__ / "raw"
    target.mkdir(parents=True, exist_ok=True)
    for (split, (image_file, label_file)), n, split_seed in zip(SPLITS.items(), (n_train, n_test), (seed, seed + 1)):
        images, labels = synthetic_digits(n, split_seed)
        write_idx(target / image_file, images)
        write_idx(target / label_file, labels)
    return Path(root)

