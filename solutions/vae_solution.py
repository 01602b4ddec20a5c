"""A variational auto-encoder (VAE) on SVHN (homework 3, problem 1).

Complete every function marked `# WRITE CODE HERE`. Keep the names and signatures: the
autograder imports this file and calls them directly. You may add helper functions and imports,
but use basic `torch` operations (not `torch.distributions`).

The model:  q(z|x) = N(mu(x), diag(sigma^2(x))),  p(x|z) = N(mu(z), I),  p(z) = N(0, I).
Shapes in the docstrings: B is a batch size, C, H, W the channels, height and width of an image
(3, 32, 32 for SVHN) and Z the latent size (`z_dim`). Images are scaled to [-1, 1].

When you create a tensor, put it on the device of the tensors it goes with (`device=x.device`, or
the model's `self.device`): the notebook trains on the GPU, the grader runs on the CPU.
"""
import math
import random
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torchvision
from torch.optim import Adam
from torch.utils.data import DataLoader
from torchvision import datasets, transforms
from tqdm.auto import tqdm

try:  # given: training runs that survive a disconnect, opt-in torch.compile (solutions/runs.py)
    from runs import compiled, epochs_to_train
except ImportError:  # this file on its own (as the grader imports it): no checkpoint, nothing compiled
    def compiled(module):
        return module

    def epochs_to_train(run, n_epochs, history, **objects):
        return range(n_epochs), None


def fix_experiment_seed(seed=0):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.cuda.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


fix_experiment_seed()

# Training hyperparameters
train_batch_size = 64   # batch size
z_dim = 32              # latent dimensionality
lr = 1e-4               # learning rate
epochs = 30

# Dataset statistics
image_size = 32
input_channels = 3
data_root = './data'

device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")


def show_image(image, nrow=8):
    """Show a batch of images (B, C, H, W) with values in [0, 1] as one grid."""
    grid_img = torchvision.utils.make_grid(image.detach().cpu(), nrow=nrow)
    plt.imshow(grid_img.permute(1, 2, 0))
    plt.axis('off')


def get_dataloaders(data_root, batch_size):
    """SVHN as (train_loader, test_loader) of (images in [-1, 1] (B, 3, 32, 32), labels (B,))."""
    normalize = transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    transform = transforms.Compose((
        transforms.Resize((image_size, image_size)),
        transforms.ToTensor(),
        normalize))

    # download=True would check the file against the official md5 (and download again) even when
    # it is there: ask for a download only when the file is missing.
    train, test = (datasets.SVHN(data_root, split=split, transform=transform,
                                 download=not Path(data_root, f"{split}_32x32.mat").exists())
                   for split in ("train", "test"))

    train_dataloader = DataLoader(train, batch_size=batch_size, shuffle=True, num_workers=2, drop_last=True)
    test_dataloader = DataLoader(test, batch_size=batch_size, shuffle=False, num_workers=2)
    return train_dataloader, test_dataloader


class Encoder(nn.Module):
    """(B, nc, isize, isize) -> (B, nef * 8 * (isize // 16) ** 2): four stride-2 convolutions."""

    def __init__(self, nc, nef, nz, isize, device):
        super(Encoder, self).__init__()
        self.device = device
        self.encoder = nn.Sequential(
            nn.Conv2d(nc, nef, 4, 2, padding=1),
            nn.LeakyReLU(0.2, True),
            nn.BatchNorm2d(nef),

            nn.Conv2d(nef, nef * 2, 4, 2, padding=1),
            nn.LeakyReLU(0.2, True),
            nn.BatchNorm2d(nef * 2),

            nn.Conv2d(nef * 2, nef * 4, 4, 2, padding=1),
            nn.LeakyReLU(0.2, True),
            nn.BatchNorm2d(nef * 4),

            nn.Conv2d(nef * 4, nef * 8, 4, 2, padding=1),
            nn.LeakyReLU(0.2, True),
            nn.BatchNorm2d(nef * 8),
        )

    def forward(self, inputs):
        batch_size = inputs.size(0)
        hidden = self.encoder(inputs)
        hidden = hidden.view(batch_size, -1)
        return hidden


class Decoder(nn.Module):
    """(B, nz) -> (B, nc, isize, isize): a dense layer, then four x2 upsamplings and 3x3 convolutions."""

    def __init__(self, nc, ndf, nz, isize):
        super(Decoder, self).__init__()
        self.ndf = ndf
        self.out_size = isize // 16
        self.decoder_dense = nn.Sequential(
            nn.Linear(nz, ndf * 8 * self.out_size * self.out_size),
            nn.ReLU(True),
        )
        self.decoder_conv = nn.Sequential(
            nn.UpsamplingNearest2d(scale_factor=2),
            nn.Conv2d(ndf * 8, ndf * 4, 3, 1, padding=1),
            nn.LeakyReLU(0.2, True),

            nn.UpsamplingNearest2d(scale_factor=2),
            nn.Conv2d(ndf * 4, ndf * 2, 3, 1, padding=1),
            nn.LeakyReLU(0.2, True),

            nn.UpsamplingNearest2d(scale_factor=2),
            nn.Conv2d(ndf * 2, ndf, 3, 1, padding=1),
            nn.LeakyReLU(0.2, True),

            nn.UpsamplingNearest2d(scale_factor=2),
            nn.Conv2d(ndf, nc, 3, 1, padding=1),
        )

    def forward(self, input):
        batch_size = input.size(0)
        hidden = self.decoder_dense(input).view(batch_size, self.ndf * 8, self.out_size, self.out_size)
        output = self.decoder_conv(hidden)
        return output


class DiagonalGaussianDistribution(object):
    """A Gaussian with a diagonal covariance matrix, one per element of a batch.

    `mean` and `logvar` have the same shape, (B, ...); `logvar` is the log of the variance of each
    dimension (zeros, i.e. variance 1, when it is not given).
    """

    def __init__(self, mean, logvar=None):
        super(DiagonalGaussianDistribution, self).__init__()
        self.mean = mean
        if logvar is None:
            logvar = torch.zeros_like(self.mean)
        self.logvar = torch.clamp(logvar, -30., 20.)

        self.std = torch.exp(0.5 * self.logvar)
        self.var = torch.exp(self.logvar)

    def sample(self, noise=None):
        """A reparameterized sample, so that gradients flow back to `mean` and `logvar`.

        :param noise: optional standard normal noise of the shape of `mean`; drawn when None.
        :return: a tensor of the shape of `mean`.
        """
        ### BEGIN SOLUTION
        if noise is None:
            noise = torch.randn_like(self.mean)
        return self.mean + self.std * noise
        ### END SOLUTION

    def kl(self):
        """KL divergence KL(self || N(0, I)), summed over all but the batch dimension: (B,)."""
        ### BEGIN SOLUTION
        return 0.5 * (self.mean ** 2 + self.var - 1.0 - self.logvar).flatten(1).sum(dim=1)
        ### END SOLUTION

    def nll(self, sample, dims=[1, 2, 3]):
        """Negative log-likelihood of `sample` (the shape of `mean`) under this Gaussian, every
        term of the log-density included (log-variance and log(2 pi)), summed over `dims`: (B,)."""
        ### BEGIN SOLUTION
        return 0.5 * torch.sum(math.log(2 * math.pi) + self.logvar + (sample - self.mean) ** 2 / self.var, dim=dims)
        ### END SOLUTION

    def mode(self):
        """The mode of the distribution: a tensor of the shape of `mean`."""
        ### BEGIN SOLUTION
        return self.mean
        ### END SOLUTION


class VAE(nn.Module):
    def __init__(self, in_channels=3, decoder_features=32, encoder_features=32, z_dim=100, input_size=32,
                 device=torch.device("cuda:0")):
        super(VAE, self).__init__()

        self.z_dim = z_dim
        self.in_channels = in_channels
        self.device = device

        # Encode the input
        self.encoder = Encoder(nc=in_channels, nef=encoder_features, nz=z_dim, isize=input_size, device=device)

        # Map the encoded feature map to the latent vector of mean, (log)variance
        out_size = input_size // 16
        self.mean = nn.Linear(encoder_features * 8 * out_size * out_size, z_dim)
        self.logvar = nn.Linear(encoder_features * 8 * out_size * out_size, z_dim)

        # Decode the latent representation
        self.decoder = Decoder(nc=in_channels, ndf=decoder_features, nz=z_dim, isize=input_size)

    def encode(self, x):
        """The approximate posterior q(z|x) of images x (B, C, H, W), as a
        DiagonalGaussianDistribution of mean and log-variance (B, Z) (`self.encoder`, then the
        linear layers `self.mean` and `self.logvar`)."""
        ### BEGIN SOLUTION
        hidden = self.encoder(x)
        return DiagonalGaussianDistribution(self.mean(hidden), self.logvar(hidden))
        ### END SOLUTION

    def decode(self, z):
        """The likelihood p(x|z) of latents z (B, Z), as a DiagonalGaussianDistribution whose mean
        (B, C, H, W) is the decoder's output and whose covariance is the identity."""
        ### BEGIN SOLUTION
        return DiagonalGaussianDistribution(self.decoder(z))
        ### END SOLUTION

    def sample(self, batch_size, noise=None):
        """Generate images: draw z from the prior p(z), decode, return the mode of p(x|z).

        :param noise: optional latents (batch_size, Z) to decode instead of drawing them.
        :return: (batch_size, C, H, W).
        """
        ### BEGIN SOLUTION
        if noise is None:
            noise = torch.randn(batch_size, self.z_dim, device=self.device)
        return self.decode(noise).mode()
        ### END SOLUTION

    def log_likelihood(self, x, K=100):
        """Importance-sampling estimate of log p(x) for images x (B, C, H, W) with K latents
        z_k ~ q(z|x):  log (1/K) sum_k p(x, z_k) / q(z_k|x),  computed with the log-sum-exp trick
        from the log-weights  log p(x|z_k) + log p(z_k) - log q(z_k|x).  Returns (B,).
        """
        posterior = self.encode(x)
        prior = DiagonalGaussianDistribution(torch.zeros_like(posterior.mean))

        log_likelihood = torch.zeros(x.shape[0], K, device=x.device)
        for i in range(K):
            ### BEGIN SOLUTION
            z = posterior.sample()
            recon = self.decode(z)
            log_likelihood[:, i] = -recon.nll(x) - prior.nll(z, dims=[1]) + posterior.nll(z, dims=[1])
            ### END SOLUTION
            del z, recon

        ### BEGIN SOLUTION
        ll = torch.logsumexp(log_likelihood, dim=1) - math.log(K)
        ### END SOLUTION
        return ll

    def forward(self, x, noise=None):
        """Encode x (B, C, H, W), draw a reparameterized z from q(z|x), decode it.

        :param noise: optional standard normal noise (B, Z) for the draw of z.
        :return: the mode of p(x|z) (B, C, H, W) as the reconstruction, the negative
            log-likelihood of x under p(x|z) (B,), and KL(q(z|x) || N(0, I)) (B,).
        """
        ### BEGIN SOLUTION
        posterior = self.encode(x)
        latent_z = posterior.sample(noise)
        recon = self.decode(latent_z)
        ### END SOLUTION
        return recon.mode(), recon.nll(x), posterior.kl()


def interpolate(model, z_1, z_2, n_samples):
    """Decode `n_samples` evenly spaced points on the segment between z_1 and z_2 (each (1, Z)),
    both endpoints included, at the positions `lengths` below: from z_1 to z_2 here, but the
    statement fixes no direction, so going from z_2 to z_1 is accepted as well. Returns the mode
    of p(x|z): (n_samples, C, H, W)."""
    lengths = torch.linspace(0., 1., n_samples).unsqueeze(1).to(z_1.device)
    ### BEGIN SOLUTION
    z = z_1 + lengths * (z_2 - z_1)
    ### END SOLUTION
    return model.decode(z).mode()


# Training on tensors. SVHN fits in GPU memory as uint8 (220 MB), so the fast path keeps it there
# and draws batches by indexing: no per-image Python work and no host-to-device copy per step.

def to_model_range(images):
    """uint8 images (B, C, H, W) in 0..255 -> floats in [-1, 1] (what get_dataloaders' transform gives)."""
    return images.float().div_(127.5).sub_(1.0)


def tensor_batches(images, batch_size, shuffle=False, drop_last=False):
    """Batches of uint8 `images` (N, C, H, W) as floats in [-1, 1], on the images' device."""
    n = images.shape[0]
    order = torch.randperm(n, device=images.device) if shuffle else torch.arange(n, device=images.device)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield to_model_range(images[order[start:start + batch_size]])


def mixed_precision(device):
    """(autocast dtype, GradScaler) for a device: bfloat16 where the GPU has it, else float16 with
    loss scaling; full precision on the CPU."""
    if torch.device(device).type != "cuda":
        return None, torch.amp.GradScaler("cpu", enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return dtype, torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)


def training_step(model, optimizer, x, scaler, dtype=None):
    """One Adam step on the negative ELBO (nll + kl).mean() of a batch x; returns the loss, detached
    (reading it with .item() would wait for the GPU)."""
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
        _, nll, kl = model(x)
        loss = (nll.float() + kl.float()).mean()
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.detach()


def train_epoch(model, optimizer, images, batch_size=train_batch_size, scaler=None, dtype=None, desc="train",
                run=None):
    """One epoch over uint8 `images` (N, C, H, W) kept on the model's device, in shuffled full
    batches (as `tensor_batches(..., shuffle=True, drop_last=True)`); returns the mean loss.

    `run` is optional: the `runs.Run` (solutions/runs.py) whose `epochs` loop calls this; the epoch
    is then checkpointed every few minutes, and an interrupted epoch resumes at its next batch."""
    if scaler is None:
        dtype, scaler = mixed_precision(images.device)
    model.train()
    network = compiled(model)  # `model` itself unless $KIT_COMPILE=1
    inner = run.take_inner() if run is not None else None
    steps = images.shape[0] // batch_size
    if inner is None:
        order = torch.randperm(images.shape[0], device=images.device)
        total, first = torch.zeros((), device=images.device), 0
    else:  # the interrupted epoch: its order, its loss so far, the next batch
        order, total, first = inner["order"].to(images.device), inner["total"].to(images.device), inner["step"]
    for step in tqdm(range(first, steps), total=steps, initial=first, desc=desc, leave=False):
        x = to_model_range(images[order[step * batch_size:(step + 1) * batch_size]])
        total += training_step(network, optimizer, x, scaler, dtype)
        if run is not None:
            run.step(lambda: {"order": order, "step": step + 1, "total": total})
    return (total / max(steps, 1)).item()


if __name__ == "__main__":
    from torchvision.utils import save_image

    train_loader, test_loader = get_dataloaders(data_root, batch_size=train_batch_size)
    train_images = torch.from_numpy(train_loader.dataset.data).to(device)  # uint8, (N, 3, 32, 32)
    model = VAE(in_channels=input_channels, input_size=image_size, z_dim=z_dim, decoder_features=32,
                encoder_features=32, device=device).to(device)
    optimizer = Adam(model.parameters(), lr=lr)
    dtype, scaler = mixed_precision(device)
    Path("results").mkdir(exist_ok=True)
    for epoch in tqdm(range(epochs), desc="epochs"):
        loss = train_epoch(model, optimizer, train_images, train_batch_size, scaler, dtype, desc=f"epoch {epoch}")
        model.eval()
        with torch.no_grad():
            samples = model.sample(batch_size=64)
        save_image((samples + 1.) * 0.5, f"results/samples_{epoch}.png")
        print(f"epoch {epoch}: negative ELBO {loss:.1f}")
