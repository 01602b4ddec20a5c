"""The `autoencoders` data and training code: MNIST fixtures through the module's loader, the
one-line message when MNIST is missing offline, the given training loop, the benchmark's reader."""
import numpy as np
import pytest
import torch

from data import mnist
from data.idx import write_idx
from grading import assignments


@pytest.fixture(scope="module")
def ae():
    return assignments.load("autoencoders").reference()


def test_load_mnist_reads_a_fixture_as_image_tensors(ae, tmp_path):
    root = mnist.write_fixture("mnist", tmp_path, n_train=40, n_test=20)
    train_x, train_y, test_x, test_y = ae.load_mnist(str(root), torch.device("cpu"))
    assert train_x.shape == (40, 1, 28, 28) and test_x.shape == (20, 1, 28, 28)
    assert train_x.dtype == torch.float32 and 0 <= train_x.min() and train_x.max() <= 1
    assert train_y.dtype == torch.int64 and set(train_y.tolist()) == set(range(10))
    images, labels = mnist.load("mnist", root, train=False)
    assert torch.equal(test_x[:, 0] * 255, images.float()) and torch.equal(test_y, labels)


def test_fit_lowers_the_loss_and_evaluate_is_reproducible(ae, tmp_path, one_thread):
    images, _ = mnist.load("mnist", mnist.write_fixture("mnist", tmp_path, n_train=64, n_test=32), train=True)
    x = (images.float() / 255).unsqueeze(1)
    torch.manual_seed(0)
    model = ae.AutoEncoder(4, hidden=(32,))
    history = ae.fit(model, x[:48], x[48:], ae.ae_objective(), epochs=3, batch_size=16, lr=3e-3)
    assert len(history["train_loss"]) == len(history["test_loss"]) == 3
    assert history["train_loss"][-1] < history["train_loss"][0]
    vae = ae.VAE(2, hidden=(32,))
    assert ae.evaluate(vae, x, ae.vae_objective()) == ae.evaluate(vae, x, ae.vae_objective())  # fixed draws
    assert ae.reconstruct(vae, x[:5]).shape == (5, 1, 28, 28) and ae.latent_codes(vae, x[:5]).shape == (5, 2)


def test_the_benchmark_reads_the_test_files_of_a_folder(tmp_path):
    from benchmarks.autoencoders_mnist import test_set
    images, labels = mnist.synthetic_digits(30)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, compress=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    got_images, got_labels = test_set(tmp_path)
    assert np.array_equal(got_images.numpy(), images) and got_labels.tolist() == labels.tolist()
    with pytest.raises(SystemExit, match="skipped"):
        test_set(tmp_path / "nowhere")
