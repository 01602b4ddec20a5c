"""CIFAR-10 (32x32 colour, 10 classes): download through torchvision, offline fixtures, tensors.

torchvision's `CIFAR10` verifies the md5 of every batch file (and of `batches.meta`) each time it
loads them, so a fixture in the real format is refused by the stock class. `CIFAR10` below is
that class with one change: a file whose md5 matches the `<file>.fixture-md5` record written next
to it by `write_fixture` is accepted too. Everything else (the pickled batches, the NCHW -> NHWC
layout, the class names read from `batches.meta`) is torchvision's own code.

`load` returns uint8 tensors (N, 3, 32, 32), ready to be moved to the GPU once and augmented there
in batches (see `data.augment`). `load_sample` reads the kit's real CIFAR-10 sample (an .npz) for
benchmarks, from a path given explicitly.
"""
import hashlib
import pickle
import shutil
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.datasets.utils import check_integrity

from data import DatasetUnavailable, data_root

DATASETS = ("cifar10",)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FOLDER = torchvision.datasets.CIFAR10.base_folder   # cifar-10-batches-py
ARCHIVE = torchvision.datasets.CIFAR10.filename     # cifar-10-python.tar.gz
HOW_TO_GET = (f"download {ARCHIVE} from https://www.cs.toronto.edu/~kriz/cifar.html "
              "and run `python -m data import cifar10 FOLDER_WITH_THE_FILE`")


def _accepted_md5(path: Path, official: str) -> str:
    """The fixture's recorded md5 when the file matches it, else the official one."""
    record = path.parent / f"{path.name}.fixture-md5"
    if record.is_file() and check_integrity(str(path), record.read_text().strip()):
        return record.read_text().strip()
    return official


class CIFAR10(torchvision.datasets.CIFAR10):
    """torchvision's CIFAR10, which also accepts the kit's fixtures (see the module docstring)."""

    def __init__(self, root, *args, **kwargs):
        folder = Path(root) / self.base_folder
        self.train_list = [[name, _accepted_md5(folder / name, md5)] for name, md5 in type(self).train_list]
        self.test_list = [[name, _accepted_md5(folder / name, md5)] for name, md5 in type(self).test_list]
        self.meta = dict(type(self).meta, md5=_accepted_md5(folder / self.meta["filename"], self.meta["md5"]))
        super().__init__(root, *args, **kwargs)


def ensure(name: str = "cifar10", root=None) -> Path:
    """Make sure CIFAR-10 is on disk, downloading it (170 MB) if needed; return the root."""
    root = data_root(root)
    try:
        CIFAR10(root, train=True, download=True)
    except (RuntimeError, urllib.error.URLError, OSError, tarfile.TarError) as error:
        reason = str(error).strip().splitlines()[-1][:160] if str(error).strip() else type(error).__name__
        raise DatasetUnavailable(f"CIFAR-10 is not in {root / FOLDER} and could not be downloaded ({reason}). "
                                 f"To get it: {HOW_TO_GET}") from None
    return root


def load(root=None, train: bool = True):
    """A split as tensors: images uint8 (N, 3, 32, 32) and labels int64 (N,)."""
    dataset = CIFAR10(ensure("cifar10", root), train=train)
    images = torch.from_numpy(np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2)))
    return images, torch.tensor(dataset.targets, dtype=torch.int64)


def import_files(name: str, source, root=None) -> Path:
    """Unpack cifar-10-python.tar.gz from a local folder (or copy an unpacked
    cifar-10-batches-py folder) into the cache."""
    source, root = Path(source), data_root(root)
    archive, unpacked = source / ARCHIVE, source / FOLDER
    if archive.is_file():
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    elif unpacked.is_dir():
        shutil.copytree(unpacked, root / FOLDER, dirs_exist_ok=True)
    else:
        raise DatasetUnavailable(f"neither {ARCHIVE} nor {FOLDER}/ is in {source}. To get it: {HOW_TO_GET}")
    return root


def synthetic_objects(n: int, seed: int = 0):
    """`n` coloured 32x32 images in 10 classes (uint8, (N, 3, 32, 32)) and labels 0..9.

    Each class is a shape (disc, ring, bars, square...) of its own colour, at a random position
    and size, on a random background, with noise: different classes stay apart under crops and
    colour jitter only partly, as real objects do, so a few epochs of SimSiam learn something.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:32, 0:32] / 31.0
    labels = rng.permutation(np.arange(n) % 10)
    centre = rng.uniform(0.3, 0.7, size=(n, 2, 1, 1))
    radius = rng.uniform(0.15, 0.3, size=(n, 1, 1))
    dy, dx = rows - centre[:, 0], cols - centre[:, 1]
    distance = np.hypot(dy, dx) / radius
    shapes = [distance < 1, np.abs(distance - 0.8) < 0.25, np.abs(np.sin(12 * dy)) > 0.5,
              np.maximum(np.abs(dy), np.abs(dx)) < radius, np.abs(np.sin(12 * dx)) > 0.5,
              (np.abs(dy) < radius / 3) | (np.abs(dx) < radius / 3), np.abs(dy + dx) < radius / 2,
              distance < 0.6, (np.sin(12 * dy) * np.sin(12 * dx)) > 0, np.abs(dy - dx) < radius / 2]
    mask = np.stack([shapes[k][i] for i, k in enumerate(labels)]).astype(float)[:, None]
    colour = np.random.default_rng(4242).uniform(0.1, 1.0, size=(10, 3, 1, 1))[labels]
    background = rng.uniform(0.0, 0.5, size=(n, 3, 1, 1))
    images = background * (1 - mask) + colour * mask + rng.normal(0, 0.05, size=(n, 3, 32, 32))
    return np.clip(images * 255, 0, 255).astype(np.uint8), labels.astype(np.int64)


def write_fixture(name: str, root, n_train: int = 500, n_test: int = 200, seed: int = 0) -> Path:
    """Write small synthetic splits in CIFAR-10's pickled-batch format under `root`
    (five training batches, a test batch, batches.meta) with the md5 records `CIFAR10`
    accepts; return `root`."""
    folder = Path(root) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = synthetic_objects(n_train, seed)
    train_names = [file for file, _ in torchvision.datasets.CIFAR10.train_list]
    batches = [(file, part_images, part_labels) for file, part_images, part_labels in
               zip(train_names, np.array_split(images, len(train_names)), np.array_split(labels, len(train_names)))]
    test_images, test_labels = synthetic_objects(n_test, seed + 1)
    batches.append(("test_batch", test_images, test_labels))
    for file, part_images, part_labels in batches:
        _write_pickle(folder / file, {"batch_label": f"synthetic {file}",
                                      "data": part_images.reshape(len(part_images), -1),
                                      "labels": part_labels.tolist(),
                                      "filenames": [f"synthetic_{i}.png" for i in range(len(part_labels))]})
    _write_pickle(folder / "batches.meta", {"label_names": list(CLASSES), "num_cases_per_batch": len(batches[0][2]),
                                            "num_vis": 3072})
    return Path(root)


def _write_pickle(path: Path, content: dict) -> None:
    path.write_bytes(pickle.dumps(content, protocol=2))
    (path.parent / f"{path.name}.fixture-md5").write_text(hashlib.md5(path.read_bytes()).hexdigest())


def load_sample(path):
    """The kit's real CIFAR-10 sample (an .npz with x_train (N, 32, 32, 3) uint8, y_train,
    x_test, y_test, classes), as {"train": (images, labels), "test": (images, labels),
    "classes": [...]}, images uint8 (N, 3, 32, 32) and labels int64."""
    path = Path(path)
    if not path.is_file():
        raise DatasetUnavailable(f"no CIFAR-10 sample at {path}; pass the path of cifar10_subset.npz")
    with np.load(path) as sample:
        split = {name: (torch.from_numpy(np.ascontiguousarray(sample[f"x_{name}"].transpose(0, 3, 1, 2))),
                        torch.from_numpy(sample[f"y_{name}"].astype(np.int64))) for name in ("train", "test")}
        return {**split, "classes": [str(c) for c in sample["classes"]]}
