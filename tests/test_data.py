"""The data layer: fixtures in the real on-disk format, read by torchvision's own classes."""
import gzip

import numpy as np
import pytest
import torch
import torchvision

from data import DatasetUnavailable, data_root, mnist
from data.idx import read_idx, write_idx


def test_idx_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    for compress in (False, True):
        path = write_idx(tmp_path / f"images{compress}", images, compress=compress)
        assert np.array_equal(read_idx(path), images)
    assert write_idx(tmp_path / "labels", np.arange(5, dtype=np.uint8)).stat().st_size == 8 + 5


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
def test_fixtures_load_through_torchvision(tmp_path, name):
    root = mnist.write_fixture(name, tmp_path, n_train=50, n_test=20)
    train = mnist.DATASETS[name](root, train=True, download=True)  # finds the files: no download
    test = mnist.DATASETS[name](root, train=False)
    assert train.data.shape == (50, 28, 28) and train.data.dtype == torch.uint8
    assert test.targets.shape == (20,) and set(train.targets.tolist()) == set(range(10))
    images, labels = mnist.load(name, root, train=True)
    assert torch.equal(images, train.data) and torch.equal(labels, train.targets)


def test_fixture_pixels_all_vary_and_classes_differ():
    images, labels = mnist.synthetic_digits(500)
    assert images.astype(float).std(axis=0).min() > 0  # a per-pixel standardization never divides by 0
    means = np.stack([images[labels == k].mean(axis=0) for k in range(10)])
    assert np.abs(means[:, None] - means[None]).sum(axis=(2, 3))[~np.eye(10, dtype=bool)].min() > 1000


def test_import_files_from_a_local_gzipped_copy(tmp_path):
    source = tmp_path / "debian"
    source.mkdir()
    for split, n in (("train", 30), ("test", 10)):
        images, labels = mnist.synthetic_digits(n)
        image_file, label_file = mnist.SPLITS[split]
        (source / f"{image_file}.gz").write_bytes(gzip.compress(write_idx(tmp_path / "x", images).read_bytes()))
        (source / f"{label_file}.gz").write_bytes(gzip.compress(write_idx(tmp_path / "y", labels).read_bytes()))
    root = mnist.import_files("fashion_mnist", source, tmp_path / "cache")
    assert torchvision.datasets.FashionMNIST(root, train=True).data.shape == (30, 28, 28)


@pytest.mark.parametrize("name, folder", [("fashion_mnist", "FashionMNIST"), ("mnist", "MNIST")])
def test_a_missing_dataset_without_network_says_where_and_how(tmp_path, offline, name, folder):
    with pytest.raises(DatasetUnavailable) as error:
        mnist.ensure(name, tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert str(tmp_path / folder / "raw") in message and f"python -m data import {name}" in message


def test_the_data_root_comes_from_the_argument_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_DATA_ROOT", str(tmp_path / "from-env"))
    assert data_root() == tmp_path / "from-env"
    assert data_root(tmp_path / "given") == tmp_path / "given"
    assert (tmp_path / "given").is_dir()


def test_the_command_line_writes_a_fixture(tmp_path):
    from data.__main__ import main
    assert main(["--root", str(tmp_path), "fixture", "mnist"]) == 0
    assert (tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()
    assert main(["--root", str(tmp_path / "x"), "import", "mnist", str(tmp_path / "nowhere")]) == 1


def test_svhn_fixture_is_refused_by_torchvision_and_accepted_by_the_kits_class(tmp_path):
    from data import svhn
    root = svhn.write_fixture("svhn", tmp_path, n_train=40, n_test=20)
    with pytest.raises(RuntimeError, match="corrupted"):
        torchvision.datasets.SVHN(root, split="train")  # md5 differs from the official file's
    images, labels = svhn.load(root, "train")
    assert images.shape == (40, 3, 32, 32) and images.dtype == torch.uint8
    assert set(labels.tolist()) == set(range(10))  # 10 in the .mat file is the digit 0
    image, label = svhn.SVHN(root, split="test")[0]
    assert image.size == (32, 32) and 0 <= label <= 9
    (root / "test_32x32.mat").write_bytes((root / "test_32x32.mat").read_bytes()[:-10] + b"0" * 10)
    with pytest.raises(DatasetUnavailable):  # a damaged file is still caught
        svhn.load(root, "test")


def test_svhn_download_true_reads_a_fixture_without_fetching(tmp_path, offline):
    from data import svhn
    root = svhn.write_fixture("svhn", tmp_path, n_train=20, n_test=10)
    assert len(svhn.SVHN(root, split="train", download=True)) == 20
