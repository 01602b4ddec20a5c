"""The given parts of the `ddpm` module: data loaders on the kit's SVHN fixture, the U-Net, the
training epoch, the DDIM sampler and the offline sample-quality proxy (tiny sizes, CPU)."""
import sys

import pytest
import torch
import torch.nn.functional as F

from conftest import KIT_ROOT
from data import DatasetUnavailable, svhn

sys.path.insert(0, str(KIT_ROOT / "solutions"))
import ddpm_solution as ddpm  # noqa: E402

TINY = dict(dim=8, dim_mults=(1, 2, 2), resnet_block_groups=4)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    return svhn.write_fixture("svhn", tmp_path_factory.mktemp("svhn"), n_train=80, n_test=160)


def test_get_dataloaders_reads_svhn_in_minus_one_to_one(fixture_root):
    train, test = ddpm.get_dataloaders(str(fixture_root), batch_size=16)
    images, labels = next(iter(train))
    assert images.shape == (16, 3, 32, 32) and labels.shape == (16,)
    assert images.min() >= -1 and images.max() <= 1 and images.min() < -0.5 and images.max() > 0.5
    assert len(train) == 5  # 80 images, full batches only
    pixels, _ = svhn.load(fixture_root, "test")  # the tensors the notebook trains on: the same images
    assert torch.allclose(next(iter(test))[0], pixels[:16].float() / 127.5 - 1, atol=1e-6)


def test_missing_svhn_without_network_stops_with_one_line(tmp_path, offline):
    with pytest.raises(DatasetUnavailable) as error:
        ddpm.get_dataloaders(str(tmp_path / "empty"), batch_size=16)
    message = str(error.value)
    assert "\n" not in message and str(tmp_path / "empty") in message and "python -m data import svhn" in message


def test_the_unet_predicts_a_noise_of_the_image_shape():
    torch.manual_seed(0)
    model = ddpm.Unet(dim=32)  # the notebook's network: 4 levels, 32 to 256 channels
    assert 7e6 < sum(p.numel() for p in model.parameters()) < 1e7
    kinds = [type(module).__name__ for module in model.modules()]
    assert kinds.count("LinearAttention") == 7 and kinds.count("Attention") == 1
    assert kinds.count("SinusoidalPositionEmbeddings") == 1
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 32), torch.tensor([999]))
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()
    tiny = ddpm.Unet(**TINY, with_time_emb=False, out_dim=6)
    assert tiny(torch.randn(2, 3, 32, 32), torch.tensor([3, 5])).shape == (2, 6, 32, 32)


def test_train_epoch_steps_on_uint8_tensors(fixture_root):
    images, _ = svhn.load(fixture_root, "train")
    torch.manual_seed(0)
    model = ddpm.prepare(ddpm.Unet(**TINY))
    before = [p.detach().clone() for p in model.parameters()]
    loss = ddpm.train_epoch(model, torch.optim.Adam(model.parameters(), lr=1e-3), images[:40], batch_size=16)
    assert 0 < loss < 2
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters()) if p.requires_grad)


def test_ddim_is_deterministic_and_returns_images_in_range():
    torch.manual_seed(0)
    model = ddpm.Unet(**TINY).eval()
    first = (torch.manual_seed(1), ddpm.ddim_sample(model, (2, 3, 32, 32), steps=3))[1]
    second = (torch.manual_seed(1), ddpm.ddim_sample(model, (2, 3, 32, 32), steps=3))[1]
    assert first.shape == (2, 3, 32, 32) and first.device.type == "cpu"
    assert torch.equal(first, second) and first.abs().max() <= 1


def test_the_quality_proxy_ranks_degraded_images_worse(fixture_root):
    images, _ = svhn.load(fixture_root, "test")
    real = images.float() / 127.5 - 1
    a, b = real[:80], real[80:]
    blurred = F.avg_pool2d(b, 4).repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)
    noise = torch.randn(b.shape, generator=torch.Generator().manual_seed(0)).clamp(-1, 1)
    same, blur, pure_noise = ddpm.proxy_fd(a, b), ddpm.proxy_fd(a, blurred), ddpm.proxy_fd(a, noise)
    assert same < blur < pure_noise, (same, blur, pure_noise)
    assert ddpm.frechet_distance(ddpm.proxy_features(a), ddpm.proxy_features(a)) < 1e-4


def test_no_fid_weights_offline_is_a_none_not_an_error(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert ddpm.inception_weights(download=True, timeout=5) is None
