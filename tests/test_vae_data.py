"""The `vae` data paths: the original `get_dataloaders` (torchvision's SVHN) and the tensor
pipeline the notebook trains with, both on an SVHN fixture in the real .mat format."""
import importlib.util

import pytest
import torch
import torchvision

from conftest import KIT_ROOT
from data import DatasetUnavailable, svhn


@pytest.fixture(scope="module")
def vae():
    spec = importlib.util.spec_from_file_location("_vae_reference_for_data_tests",
                                                  KIT_ROOT / "solutions" / "vae_solution.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_get_dataloaders_reads_the_fixture_like_the_tensor_pipeline(vae, tmp_path, monkeypatch):
    root = svhn.write_fixture("svhn", tmp_path, n_train=40, n_test=20)
    monkeypatch.setattr(torchvision.datasets, "SVHN", svhn.SVHN)  # torchvision's class, fixture md5 accepted
    train, test = vae.get_dataloaders(str(root), batch_size=16)
    assert len(train) == 2 and len(test) == 2  # drop_last on train only
    x, y = next(iter(test))
    assert x.shape == (16, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    images, labels = svhn.load(root, "test")
    torch.testing.assert_close(x, vae.to_model_range(images[:16]), atol=1e-6, rtol=0)
    assert torch.equal(y, labels[:16])


def test_tensor_batches_cover_every_image_once_per_epoch(vae):
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 3, 2, 2).contiguous()
    batches = list(vae.tensor_batches(images, 4, shuffle=True, drop_last=True))
    assert [len(b) for b in batches] == [4, 4]
    seen = torch.cat(batches)[:, 0, 0, 0]
    assert len(set(seen.tolist())) == 8 and seen.min() >= -1 and seen.max() <= 1
    assert [len(b) for b in vae.tensor_batches(images, 4)] == [4, 4, 2]


def test_training_on_tensors_lowers_the_negative_elbo(vae, tmp_path):
    images, _ = svhn.load(svhn.write_fixture("svhn", tmp_path, n_train=128, n_test=8), "train")
    torch.manual_seed(0)
    model = vae.VAE(z_dim=8, decoder_features=8, encoder_features=8, device=torch.device("cpu"))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = [vae.train_epoch(model, optimizer, images, batch_size=32) for _ in range(4)]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0], losses


def test_missing_svhn_without_network_says_where_and_how(tmp_path, offline):
    with pytest.raises(DatasetUnavailable) as error:
        svhn.load(tmp_path, "train")
    message = str(error.value)
    assert "\n" not in message and str(tmp_path) in message and "python -m data import svhn" in message
