# A file as a student might hand it in: the given code kept, answers written in another (correct)
# style (custom modules with functional activations, hand-written losses, numpy for the
# schedule), a module-level device, plotting and dataset code defined but not called at import,
# and a training run under __main__. The grader must give it full marks.
import math
import random
from typing import Optional, Sequence, Tuple

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from tqdm.auto import tqdm

np.random.seed(3)
torch.manual_seed(3)
random.seed(3)

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"device: {device}")

IMAGE_SHAPE = (1, 28, 28)
N_PIXELS = 28 * 28
HIDDEN = (256,)


class Encoder(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])

    def forward(self, x):
        x = x.view(x.size(0), -1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


class Decoder(Encoder):
    def forward(self, z):
        return torch.sigmoid(super().forward(z)).view(-1, 1, 28, 28)


def make_encoder(d: int, hidden: Sequence[int] = HIDDEN) -> nn.Module:
    return Encoder([N_PIXELS] + list(hidden) + [d])


def make_decoder(d: int, hidden: Sequence[int] = HIDDEN) -> nn.Module:
    return Decoder([d] + list(hidden)[::-1] + [N_PIXELS])


class AutoEncoder(nn.Module):
    def __init__(self, d: int = 32, hidden: Sequence[int] = HIDDEN):
        super().__init__()
        self.d = d
        self.encoder = make_encoder(d, hidden)
        self.decoder = make_decoder(d, hidden)

    def forward(self, x):
        z = self.encoder(x)
        x_reconstructed = self.decoder(z)
        return x_reconstructed, z


def reconstruction_loss(x_hat, x, kind="bce"):
    n = x.shape[0]
    if kind == "mse":
        return torch.sum((x_hat - x) ** 2) / n
    elif kind == "bce":
        eps = 1e-12
        return -torch.sum(x * torch.log(x_hat + eps) + (1 - x) * torch.log(1 - x_hat + eps)) / n
    raise ValueError("kind must be 'bce' or 'mse'")


def add_white_noise(x, amplitude, noise=None):
    if noise is None:
        noise = torch.normal(0.0, 1.0, size=x.shape, device=x.device)
    noisy = x.clone()
    noisy = noisy + amplitude * noise
    return noisy


def n_parameters(d, hidden=HIDDEN):
    sizes = [N_PIXELS] + list(hidden) + [d]
    count = 0
    for i in range(len(sizes) - 1):
        count += sizes[i] * sizes[i + 1] + sizes[i + 1]  # encoder layer
        count += sizes[i + 1] * sizes[i] + sizes[i]  # decoder layer (mirror)
    return count


def compression_ratio(d, image_shape=(28, 28)):
    height, width = image_shape
    return float(d) / (height * width)


def reparameterize(mu, logvar, noise=None):
    std = torch.exp(0.5 * logvar)
    eps = torch.randn_like(std) if noise is None else noise
    return eps * std + mu


class VAE(nn.Module):
    def __init__(self, d: int = 2, hidden: Sequence[int] = HIDDEN):
        super().__init__()
        self.d = d
        self.encoder = make_encoder(d * 2, hidden)  # mean and log-variance
        self.decoder = make_decoder(d, hidden)

    def encode(self, x):
        out = self.encoder(x)
        return out[:, :self.d], out[:, self.d:]

    def forward(self, x, noise=None):
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, noise)
        return self.decoder(z), mu, logvar


def vae_loss(x_hat, x, mu, logvar, kind="bce"):
    batch = x.size(0)
    if kind == "bce":
        rec = F.binary_cross_entropy(x_hat.view(batch, -1), x.view(batch, -1), reduction="sum")
    else:
        rec = F.mse_loss(x_hat, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (rec + kld) / batch


def sparse_loss(x_hat, x, h, decoder, lambda1, lambda2, kind="bce"):
    l1 = torch.norm(h, p=1, dim=1).mean()
    l2 = sum(p.pow(2).sum() for p in decoder.parameters())  # biases too
    return reconstruction_loss(x_hat, x, kind) + lambda1 * l1 + lambda2 * l2


def lambda1_schedule(epoch, n_epochs, final, start=0.0):
    return np.linspace(start, final, n_epochs)[epoch]


def get_mnist(path="./data"):
    transform = torchvision.transforms.ToTensor()
    train = torchvision.datasets.MNIST(path, train=True, download=True, transform=transform)
    test = torchvision.datasets.MNIST(path, train=False, download=True, transform=transform)
    return (torch.utils.data.DataLoader(train, batch_size=64, shuffle=True),
            torch.utils.data.DataLoader(test, batch_size=256))


def train(model, loader, epochs=10, lr=1e-3):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for epoch in tqdm(range(epochs)):
        for x, _ in loader:
            x = x.to(device)
            x_hat, _ = model(x)
            loss = reconstruction_loss(x_hat, x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def show(images, title=""):
    fig, axes = plt.subplots(1, len(images), figsize=(2 * len(images), 2))
    for ax, image in zip(axes, images):
        ax.imshow(image.squeeze().cpu(), cmap="gray")
        ax.axis("off")
    fig.suptitle(title)
    plt.show()


if __name__ == "__main__":
    train_loader, test_loader = get_mnist()
    model = AutoEncoder(32).to(device)
    history = train(model, train_loader, epochs=5)
    x, _ = next(iter(test_loader))
    show(model(x[:8].to(device))[0].detach(), "reconstructions")
