"""Auto-encoders on MNIST: an MLP auto-encoder, white noise, a VAE and a sparse auto-encoder.

Complete every function marked `# WRITE CODE HERE`. Keep the names and signatures: the
autograder imports this file and calls them directly. You may add helper functions and imports.

Shapes used in the docstrings: N is a batch size, d the latent dimension (the size of the code
h). Images are float tensors (N, 1, 28, 28) with pixels in [0, 1]. `hidden` is the tuple of
hidden widths (H1, ..., Hk) of the encoder, from the image towards the code; the decoder uses the
same widths in reverse order.

What you write (20 points):

    Q1   2 pts  make_encoder(d, hidden=HIDDEN) -> nn.Module
    Q2   2 pts  make_decoder(d, hidden=HIDDEN) -> nn.Module
    Q3   1 pt   AutoEncoder.forward(x) -> (x_hat, h)
    Q4   2 pts  reconstruction_loss(x_hat, x, kind="bce") -> loss
    Q5   2 pts  add_white_noise(x, amplitude, noise=None) -> noisy x
    Q6   1 pt   n_parameters(d, hidden=HIDDEN) -> int
    Q7   1 pt   compression_ratio(d, image_shape=(28, 28)) -> float
    Q8   2 pts  VAE.__init__(d, hidden) and VAE.encode(x) -> (mu, logvar)
    Q9   2 pts  reparameterize(mu, logvar, noise=None) -> z
    Q10  2 pts  vae_loss(x_hat, x, mu, logvar, kind="bce") -> loss
    Q11  2 pts  sparse_loss(x_hat, x, h, decoder, lambda1, lambda2, kind="bce") -> loss
    Q12  1 pt   lambda1_schedule(epoch, n_epochs, final, start=0.0) -> float

Given (used by the notebook): `load_mnist`, the training objectives `ae_objective`,
`vae_objective`, `sparse_objective`, and `fit`, `evaluate`, `reconstruct`, `latent_codes`.

Tensors may live on the GPU: when you create a new tensor from an input `x`, give it
`device=x.device` (or use `torch.randn_like(x)` and friends).
"""
import contextlib
import math
import random
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

try:  # given: training runs that survive a disconnect, opt-in torch.compile (solutions/runs.py)
    from runs import compiled, epochs_to_train
except ImportError:  # this file on its own (as the grader imports it): no checkpoint, nothing compiled
    def compiled(module):
        return module

    def epochs_to_train(run, n_epochs, history, **objects):
        return range(n_epochs), None


# Seed all random number generators
np.random.seed(3)
torch.manual_seed(3)
random.seed(3)

IMAGE_SHAPE = (1, 28, 28)
N_PIXELS = 28 * 28
HIDDEN = (256,)  # hidden widths of the encoder (the decoder uses them reversed)


# Part 1: the auto-encoder

def make_encoder(d: int, hidden: Sequence[int] = HIDDEN) -> nn.Module:
    """MLP encoder: images (N, 1, 28, 28) -> codes h (N, d).

    Flatten the image, then for each width H of `hidden` a Linear layer to H units followed by a
    ReLU, then a Linear layer to d units with no activation (a code may take any real value).
    With hidden=() it is a single Linear(784, d).
    """
    ### BEGIN SOLUTION
    layers, width = [nn.Flatten()], N_PIXELS
    for units in hidden:
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    layers.append(nn.Linear(width, d))
    return nn.Sequential(*layers)
    ### END SOLUTION


def make_decoder(d: int, hidden: Sequence[int] = HIDDEN) -> nn.Module:
    """MLP decoder, the mirror image of `make_encoder(d, hidden)`: codes (N, d) -> images
    (N, 1, 28, 28) with pixels in (0, 1).

    For each width H of `reversed(hidden)` a Linear layer to H units followed by a ReLU, then a
    Linear layer to 784 units, a sigmoid (pixels are in [0, 1]) and a reshape to (N, 1, 28, 28)
    (e.g. `nn.Unflatten(1, (1, 28, 28))`).
    """
    ### BEGIN SOLUTION
    layers, width = [], d
    for units in reversed(hidden):
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    layers += [nn.Linear(width, N_PIXELS), nn.Sigmoid(), nn.Unflatten(1, IMAGE_SHAPE)]
    return nn.Sequential(*layers)
    ### END SOLUTION


class AutoEncoder(nn.Module):
    """An MLP auto-encoder with a code of `d` values."""

    def __init__(self, d: int = 32, hidden: Sequence[int] = HIDDEN):
        super().__init__()
        self.d = d
        self.encoder = make_encoder(d, hidden)
        self.decoder = make_decoder(d, hidden)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Encode then decode a batch.

        :param x: images (N, 1, 28, 28).
        :return: (x_hat, h): the reconstruction (N, 1, 28, 28) and the code h (N, d) it was
            decoded from, both from `self.encoder` and `self.decoder`.
        """
        ### BEGIN SOLUTION
        h = self.encoder(x)
        return self.decoder(h), h
        ### END SOLUTION


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Reconstruction error of a batch, per image, averaged over the batch.

    :param x_hat: reconstructions (N, ...) with values in (0, 1).
    :param x: the original images (N, ...) (same shape), values in [0, 1].
    :param kind: "bce" for the binary cross-entropy -[x log x_hat + (1 - x) log(1 - x_hat)],
        "mse" for the squared error (x_hat - x)^2; ValueError for anything else.
    :return: the per-pixel errors summed over the pixels of each image, then averaged over the N
        images: a scalar tensor attached to the graph.
    """
    ### BEGIN SOLUTION
    if kind == "bce":
        per_pixel = F.binary_cross_entropy(x_hat, x, reduction="none")
    elif kind == "mse":
        per_pixel = (x_hat - x) ** 2
    else:
        raise ValueError(f"unknown reconstruction loss {kind!r}: use 'bce' or 'mse'")
    return per_pixel.flatten(1).sum(dim=1).mean()
    ### END SOLUTION


def add_white_noise(x: torch.Tensor, amplitude: float, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Add Gaussian white noise to every pixel of a batch of images.

    :param x: images (N, ...), left unchanged.
    :param amplitude: the standard deviation sigma of the noise.
    :param noise: standard normal draws, same shape as x; when None, draw them (independently
        for every pixel of every image).
    :return: x + amplitude * noise, same shape as x (not clipped to [0, 1]).
    """
    ### BEGIN SOLUTION
    if noise is None:
        noise = torch.randn_like(x)
    return x + amplitude * noise
    ### END SOLUTION


def n_parameters(d: int, hidden: Sequence[int] = HIDDEN) -> int:
    """The number of parameters (weights and biases) of `AutoEncoder(d, hidden)`, from a
    closed-form expression in d and the widths, without building the networks."""
    ### BEGIN SOLUTION
    widths = [N_PIXELS, *hidden]
    # a pair of widths (a, b) gives the encoder layer a -> b and the decoder layer b -> a
    pairs = sum(2 * a * b + a + b for a, b in zip(widths, widths[1:]))
    last = widths[-1]
    return pairs + (2 * last + 1) * d + last  # code layers: last -> d and d -> last
    ### END SOLUTION


def compression_ratio(d: int, image_shape: Tuple[int, int] = (28, 28)) -> float:
    """Size of a code of d values relative to an image of `image_shape` pixels (one value each)."""
    ### BEGIN SOLUTION
    return d / math.prod(image_shape)
    ### END SOLUTION


# Part 2: the variational auto-encoder

def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
    """A sample z ~ N(mu, diag(exp(logvar))) through which gradients flow to mu and logvar.

    :param mu, logvar: means and log-variances (N, d).
    :param noise: standard normal draws eps (N, d); when None, draw them.
    :return: z = mu + sigma * eps with sigma = exp(logvar / 2), shape (N, d).
    """
    ### BEGIN SOLUTION
    if noise is None:
        noise = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * noise
    ### END SOLUTION


class VAE(nn.Module):
    """A variational auto-encoder with a latent space of dimension `d` (2 to draw it)."""

    def __init__(self, d: int = 2, hidden: Sequence[int] = HIDDEN):
        """Build `self.encoder`, an encoder with 2 * d outputs (the means and log-variances of
        q(z|x)), and `self.decoder`, a decoder from d values, with `make_encoder` and
        `make_decoder`."""
        super().__init__()
        self.d = d
        ### BEGIN SOLUTION
        self.encoder = make_encoder(2 * d, hidden)
        self.decoder = make_decoder(d, hidden)
        ### END SOLUTION

    def encode(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The parameters of q(z|x): x (N, 1, 28, 28) -> (mu, logvar), each (N, d): the first d
        outputs of `self.encoder` are the means, the last d the log-variances."""
        ### BEGIN SOLUTION
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar
        ### END SOLUTION

    def forward(self, x: torch.Tensor, noise: Optional[torch.Tensor] = None):
        """x (N, 1, 28, 28) -> (x_hat (N, 1, 28, 28), mu (N, d), logvar (N, d))."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, noise)
        return self.decoder(z), mu, logvar


def vae_loss(x_hat: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             kind: str = "bce") -> torch.Tensor:
    """The negative ELBO per image, averaged over the batch.

    :param x_hat, x: reconstructions and images (N, 1, 28, 28).
    :param mu, logvar: the parameters of q(z|x), (N, d).
    :param kind: the reconstruction term, as in `reconstruction_loss`.
    :return: reconstruction_loss(x_hat, x, kind) + the KL divergence from q(z|x) to N(0, I),
        KL = 1/2 sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j) over the d latent dimensions,
        averaged over the N images: a scalar tensor attached to the graph.
    """
    ### BEGIN SOLUTION
    kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1).mean()
    return reconstruction_loss(x_hat, x, kind) + kl
    ### END SOLUTION


# Part 3: the sparse auto-encoder

def sparse_loss(x_hat: torch.Tensor, x: torch.Tensor, h: torch.Tensor, decoder: nn.Module,
                lambda1: float, lambda2: float, kind: str = "bce") -> torch.Tensor:
    """Reconstruction + lambda1 * ||h||_1 + lambda2 * ||W_decoder||_2^2.

    :param x_hat, x: reconstructions and images (N, 1, 28, 28).
    :param h: the codes (N, d) x_hat was decoded from.
    :param decoder: the decoder; its weights are the `weight` matrices of its Linear layers
        (biases are not penalized).
    :return: reconstruction_loss(x_hat, x, kind) + lambda1 * (the L1 norm of each code,
        averaged over the N images) + lambda2 * (the sum of the squares of every decoder
        weight): a scalar tensor attached to the graph.
    """
    ### BEGIN SOLUTION
    l1 = h.abs().sum(dim=1).mean()
    l2 = sum((layer.weight ** 2).sum() for layer in decoder.modules() if isinstance(layer, nn.Linear))
    return reconstruction_loss(x_hat, x, kind) + lambda1 * l1 + lambda2 * l2
    ### END SOLUTION


def lambda1_schedule(epoch: int, n_epochs: int, final: float, start: float = 0.0) -> float:
    """The weight of the L1 term at `epoch` (0 .. n_epochs - 1): it rises linearly from `start`
    at epoch 0 to `final` at the last epoch (`final` when n_epochs is 1)."""
    ### BEGIN SOLUTION
    if n_epochs <= 1:
        return float(final)
    return start + (final - start) * epoch / (n_epochs - 1)
    ### END SOLUTION


# Given: data, training and evaluation

def load_mnist(datapath: str = "./data", device=None):
    """MNIST as tensors on `device`: (train_images, train_labels, test_images, test_labels),
    images float (N, 1, 28, 28) in [0, 1], labels int64 (N,). Downloads it on first use."""
    import torchvision
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tensors = []
    for train in (True, False):
        dataset = torchvision.datasets.MNIST(datapath, train=train, download=True)
        tensors += [(dataset.data.float() / 255).unsqueeze(1).to(device), dataset.targets.to(device)]
    return tuple(tensors)


# An objective maps (model outputs, images, model, epoch) to the loss to minimize. fit computes
# it outside mixed precision, on float32 outputs (a binary cross-entropy is unsafe in float16).

def ae_objective(kind: str = "bce") -> Callable:
    """The auto-encoder's loss, for outputs (x_hat, h)."""
    return lambda outputs, x, model, epoch: reconstruction_loss(outputs[0], x, kind)


def vae_objective(kind: str = "bce") -> Callable:
    """The VAE's negative ELBO, for outputs (x_hat, mu, logvar)."""
    return lambda outputs, x, model, epoch: vae_loss(outputs[0], x, outputs[1], outputs[2], kind)


def sparse_objective(final_lambda1: float, lambda2: float, n_epochs: int, kind: str = "bce") -> Callable:
    """The sparse auto-encoder's loss, lambda1 following `lambda1_schedule` over `n_epochs`."""
    def objective(outputs, x, model, epoch):
        lambda1 = lambda1_schedule(min(epoch, n_epochs - 1), n_epochs, final_lambda1)
        return sparse_loss(outputs[0], x, outputs[1], model.decoder, lambda1, lambda2, kind)
    return objective


def _half_dtype(device: torch.device) -> Optional[torch.dtype]:
    """bfloat16 on GPUs that compute in it (no loss scaling needed), float16 on older ones (a T4:
    with a GradScaler), None on the CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _mixed_precision(device: torch.device):
    """Autocast on CUDA (faster matrix products, `_half_dtype`), none on CPU."""
    dtype = _half_dtype(device)
    if dtype is not None:
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def _as_float32(outputs):
    return tuple(output.float() for output in outputs)


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, objective: Callable, epoch: int = 0,
             batch_size: int = 1000, seed: int = 0) -> float:
    """The objective averaged over `images` (in float32, without training the model; a VAE's
    samples are drawn from a fixed seed, so the value is reproducible)."""
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    total = 0.0
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        total += float(objective(_as_float32(model(x)), x, model, epoch)) * len(x)
    model.train(was_training)
    return total / len(images)


def fit(model: nn.Module, train_images: torch.Tensor, test_images: torch.Tensor, objective: Callable,
        epochs: int = 10, batch_size: int = 128, lr: float = 1e-3, seed: int = 0, desc: str = "training",
        run=None) -> dict:
    """Train `model` with Adam on shuffled mini-batches of `train_images` (N, 1, 28, 28).

    The images stay where they are (on the GPU when there is one) and the model moves there;
    the forward pass runs in mixed precision on CUDA. Returns the history: the mean training
    loss of every epoch ("train_loss") and the test loss after every epoch ("test_loss").
    With `run` (a name: see solutions/runs.py) every epoch is checkpointed, and calling fit again
    resumes the run, or loads it when it is finished.
    """
    device = train_images.device
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    # float16 (a T4) needs loss scaling to keep small gradients from underflowing; bfloat16 does not
    scaler = torch.amp.GradScaler(device.type, enabled=_half_dtype(device) == torch.float16)
    forward = compiled(model)
    order_generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    history = {"train_loss": [], "test_loss": []}
    to_train, run = epochs_to_train(run, epochs, history, model=model, optimizer=optimizer, scaler=scaler,
                                order=order_generator)
    for epoch in tqdm(to_train, total=epochs, desc=desc, leave=False):
        model.train()
        order = torch.randperm(len(train_images), generator=order_generator).to(device)
        total = torch.zeros((), device=device)  # summed on the device: no synchronization per step
        for start in range(0, len(order), batch_size):
            x = train_images[order[start:start + batch_size]]
            with _mixed_precision(device):
                outputs = forward(x)
            loss = objective(_as_float32(outputs), x, model, epoch)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += loss.detach() * len(x)
            if run is not None:
                run.step()
        history["train_loss"].append(float(total) / len(train_images))
        history["test_loss"].append(evaluate(model, test_images, objective, epoch))
    return history


@torch.no_grad()
def reconstruct(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Reconstructions (N, 1, 28, 28) in float32; a VAE decodes the mean of q(z|x)."""
    model.eval()
    parts = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        parts.append(model.decoder(model.encode(x)[0]) if isinstance(model, VAE) else model(x)[0])
    return torch.cat(parts).float()


@torch.no_grad()
def latent_codes(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Codes (N, d): the encoder's output for an AutoEncoder, the mean of q(z|x) for a VAE."""
    model.eval()
    parts = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        parts.append(model.encode(x)[0] if isinstance(model, VAE) else model.encoder(x))
    return torch.cat(parts).float()


if __name__ == "__main__":
    train_x, _, test_x, _ = load_mnist()
    autoencoder = AutoEncoder(d=32)
    history = fit(autoencoder, train_x, test_x, ae_objective(), epochs=5)
    print("test binary cross-entropy per image, per epoch:", [round(v, 2) for v in history["test_loss"]])
