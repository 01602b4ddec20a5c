"""CIFAR-10 (data/cifar10.py): fixtures in the real pickled format, read by torchvision's own
class (with the fixture's md5 record accepted), the local import, the sample loader, and the
one-line error when the data is missing and the network is off."""
import io
import tarfile

import numpy as np
import pytest
import torch
import torchvision

from data import DatasetUnavailable, cifar10


def test_fixture_is_refused_by_torchvision_and_read_by_the_kits_subclass(tmp_path):
    root = cifar10.write_fixture("cifar10", tmp_path, n_train=60, n_test=20)
    with pytest.raises(RuntimeError, match="corrupted"):
        torchvision.datasets.CIFAR10(root, train=True)  # its md5s are not the official files'
    images, labels = cifar10.load(root, train=True)
    assert images.shape == (60, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and set(labels.tolist()) == set(range(10))
    dataset = cifar10.CIFAR10(root, train=False)
    assert len(dataset) == 20 and dataset.classes == list(cifar10.CLASSES)
    image, label = dataset[0]
    assert image.size == (32, 32) and torch.equal(torch.from_numpy(np.array(image)).permute(2, 0, 1),
                                                  cifar10.load(root, train=False)[0][0])


def test_a_damaged_file_is_still_caught(tmp_path, offline):
    root = cifar10.write_fixture("cifar10", tmp_path, n_train=20, n_test=10)
    batch = root / cifar10.FOLDER / "test_batch"
    batch.write_bytes(batch.read_bytes()[:-10] + b"0" * 10)
    with pytest.raises(DatasetUnavailable):
        cifar10.load(root, train=False)


def test_a_missing_dataset_without_network_says_where_and_how(tmp_path, offline):
    with pytest.raises(DatasetUnavailable) as error:
        cifar10.ensure("cifar10", tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert str(tmp_path / cifar10.FOLDER) in message and "python -m data import cifar10" in message


def test_import_from_a_local_archive(tmp_path):
    fixture = cifar10.write_fixture("cifar10", tmp_path / "made", n_train=20, n_test=10)
    source = tmp_path / "downloads"
    source.mkdir()
    with tarfile.open(source / cifar10.ARCHIVE, "w:gz") as archive:
        archive.add(fixture / cifar10.FOLDER, arcname=cifar10.FOLDER)
    root = cifar10.import_files("cifar10", source, tmp_path / "cache")
    assert cifar10.load(root, train=True)[0].shape == (20, 3, 32, 32)
    with pytest.raises(DatasetUnavailable, match="python -m data import cifar10"):
        cifar10.import_files("cifar10", tmp_path / "nowhere", tmp_path / "other")


def test_the_command_line_writes_a_fixture(tmp_path):
    from data.__main__ import main
    assert main(["--root", str(tmp_path), "fixture", "cifar10"]) == 0
    assert (tmp_path / cifar10.FOLDER / "data_batch_5").is_file()


def test_fixture_classes_differ_and_pixels_vary():
    images, labels = cifar10.synthetic_objects(400)
    assert images.astype(float).std(axis=0).min() > 0
    means = np.stack([images[labels == k].astype(float).mean(axis=0) for k in range(10)])
    gaps = np.abs(means[:, None] - means[None]).mean(axis=(2, 3, 4))
    assert gaps[~np.eye(10, dtype=bool)].min() > 5  # every pair of classes differs on average


def test_the_sample_loader_reads_the_npz_layout(tmp_path):
    path = tmp_path / "sample.npz"
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.savez(buffer, x_train=rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8), y_train=np.arange(6, dtype=np.uint8),
             x_test=rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8), y_test=np.arange(2, dtype=np.uint8),
             classes=np.array(cifar10.CLASSES))
    path.write_bytes(buffer.getvalue())
    sample = cifar10.load_sample(path)
    images, labels = sample["train"]
    assert images.shape == (6, 3, 32, 32) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert sample["test"][0].shape == (2, 3, 32, 32) and sample["classes"][0] == "airplane"
    with pytest.raises(DatasetUnavailable):
        cifar10.load_sample(tmp_path / "missing.npz")
