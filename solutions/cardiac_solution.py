"""Auto-encoders of cardiac MRI segmentation maps (homework 3, notebook 2: ACDC).

Complete every function marked `# WRITE CODE HERE`. Keep the names and signatures: the
autograder imports this file and calls them directly. You may add helper functions and imports.

The data are short-axis segmentation maps of the ACDC challenge, brought to 256x256: integer
label maps with K = 4 classes (0 background, 1 right ventricle, 2 myocardium, 3 left ventricle).
The networks read a map as a one-hot image with K channels and output K class scores per pixel.

Shapes used in the docstrings: N is a batch size, H, W the height and width of a map (256, 256
for ACDC; any multiple of 16 works), K the number of classes and L the latent dimension.
Label maps are integer tensors (N, H, W) with values in 0..K-1; class scores ("logits") are
float tensors (N, K, H, W), before any softmax.

The given code at the end (`train`, `encode`, `decode`, `reconstruct`) trains and uses the
networks on whole batches of maps kept as tensors on the GPU, with mixed precision on CUDA. When
you create a tensor from an input `x`, give it `device=x.device` so that your code runs there too.
"""
import random
from typing import Callable, Dict, Optional, Tuple

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
np.random.seed(197331)
torch.manual_seed(197331)
random.seed(197331)

N_CLASSES = 4
CLASS_NAMES = ("background", "right ventricle", "myocardium", "left ventricle")
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_onehot(label_map: torch.Tensor, n_classes: int = N_CLASSES) -> torch.Tensor:
    """One-hot encode a batch of label maps, one channel per class.

    :param label_map: integer tensor (N, H, W) with values in 0..n_classes-1.
    :param n_classes: the number of classes K (every class gets a channel, present or not).
    :return: float32 tensor (N, K, H, W) on the device of `label_map`, with
        out[n, k, i, j] = 1.0 if label_map[n, i, j] == k else 0.0.
    """
    ### BEGIN SOLUTION
    return F.one_hot(label_map.long(), n_classes).permute(0, 3, 1, 2).float()
    ### END SOLUTION


class Encoder(nn.Module):
    """Convolutional encoder: a one-hot map (N, C, H, W) -> a latent code (N, latent_dim).

    Four stages of two 3x3 convolutions (padding 1, no normalization layer), each followed by a
    ReLU; the first convolution of a stage has stride 2 and halves the height and width:

        stage      1            2           3            4
        channels   48           96          192          48
        size       H/2 x W/2    H/4 x W/4   H/8 x W/8    H/16 x W/16

    then the feature maps are flattened and a Linear layer (no activation) maps the
    48 * (H/16) * (W/16) features to `latent_dim` values. For 256x256 maps, C = 4 and L = 4 this
    network has exactly 798,148 parameters. A VAE uses it with `latent_dim = 2 * L` (a mean and a
    log-variance per latent dimension).

    :param latent_dim: the size of the output code.
    :param in_channels: the channels C of the input (N_CLASSES for one-hot maps).
    :param image_size: the height and width of the input maps (a multiple of 16).
    """

    def __init__(self, latent_dim: int = 4, in_channels: int = N_CLASSES, image_size: int = 256):
        super().__init__()
        ### BEGIN SOLUTION
        layers, channels = [], in_channels
        for width in (48, 96, 192, 48):
            layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.ReLU(),
                       nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
            channels = width
        side = image_size // 16
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * side * side, latent_dim))
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, latent_dim)."""
        ### BEGIN SOLUTION
        return self.net(x)
        ### END SOLUTION


class Decoder(nn.Module):
    """Convolutional decoder, the mirror of `Encoder`: a code (N, latent_dim) -> class scores
    (N, n_classes, H, W).

    A Linear layer maps the code to 48 * (H/16) * (W/16) features, followed by a ReLU, reshaped
    to 48 feature maps of (H/16) x (W/16). Then four stages of two 3x3 transposed convolutions
    (`nn.ConvTranspose2d`, padding 1): the first keeps the size and the number of channels
    (stride 1), the second doubles the height and width (stride 2, output_padding 1) and sets the
    number of channels:

        stage      1            2           3           4
        channels   192          96          48          n_classes
        size       H/8 x W/8    H/4 x W/4   H/2 x W/2   H x W

    Every layer is followed by a ReLU except the last one, whose outputs are the class scores.

    :param latent_dim: the size of the input code.
    :param n_classes: the number of output channels K.
    :param image_size: the height and width of the output maps (a multiple of 16).
    """

    def __init__(self, latent_dim: int = 4, n_classes: int = N_CLASSES, image_size: int = 256):
        super().__init__()
        ### BEGIN SOLUTION
        side = image_size // 16
        layers, channels = [nn.Linear(latent_dim, 48 * side * side), nn.ReLU(), nn.Unflatten(1, (48, side, side))], 48
        for width in (192, 96, 48, n_classes):
            layers += [nn.ConvTranspose2d(channels, channels, 3, padding=1), nn.ReLU(),
                       nn.ConvTranspose2d(channels, width, 3, stride=2, padding=1, output_padding=1), nn.ReLU()]
            channels = width
        self.net = nn.Sequential(*layers[:-1])  # no ReLU after the last layer: class scores
        ### END SOLUTION

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) -> (N, n_classes, H, W)."""
        ### BEGIN SOLUTION
        return self.net(z)
        ### END SOLUTION


def reconstruction_loss(logits: torch.Tensor, label_map: torch.Tensor) -> torch.Tensor:
    """Cross-entropy between predicted class scores and the true label map.

    :param logits: class scores (N, K, H, W), before the softmax.
    :param label_map: the true labels, integer tensor (N, H, W).
    :return: the cross-entropy -log softmax(logits)[true class], averaged over the batch and the
        pixels: a scalar tensor attached to the computation graph.
    """
    ### BEGIN SOLUTION
    return F.cross_entropy(logits, label_map.long())
    ### END SOLUTION


def ae_forward_pass(encoder: nn.Module, decoder: nn.Module,
                    label_map: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """The auto-encoder's forward pass on a batch of label maps.

    Convert the maps to one-hot images (`to_onehot`), encode them, decode the codes, and compare
    the class scores with the maps (`reconstruction_loss`).

    :param encoder: maps (N, K, H, W) to codes (N, L).
    :param decoder: maps codes (N, L) to class scores (N, K, H, W).
    :param label_map: integer tensor (N, H, W).
    :return: (loss, logits): the scalar reconstruction loss, attached to the graph, and the class
        scores (N, K, H, W).
    """
    ### BEGIN SOLUTION
    logits = decoder(encoder(to_onehot(label_map)))
    return reconstruction_loss(logits, label_map), logits
    ### END SOLUTION


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Draw z ~ N(mu, diag(exp(logvar))) with the reparameterization trick.

    :param mu: means (N, L).
    :param logvar: log-variances (N, L).
    :param noise: standard normal draws (N, L); when None, draw them (`torch.randn_like`).
    :return: z = mu + sigma * noise (N, L) with sigma = exp(logvar / 2), differentiable with
        respect to mu and logvar.
    """
    ### BEGIN SOLUTION
    if noise is None:
        noise = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * noise
    ### END SOLUTION


def vae_loss(logits: torch.Tensor, label_map: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float = 1.0) -> torch.Tensor:
    """The VAE's loss: the negative evidence lower bound per pixel, with a weight on the KL term.

    loss = reconstruction_loss(logits, label_map) + beta * KL / (H * W), where
    KL = -1/2 * sum_l (1 + logvar_l - mu_l^2 - exp(logvar_l)) is the divergence
    KL(N(mu, diag(exp(logvar))) || N(0, I)) of one map, averaged over the batch. Dividing by the
    number of pixels H * W puts it on the scale of the per-pixel cross-entropy.

    :param logits: class scores (N, K, H, W).
    :param label_map: the true labels, integer tensor (N, H, W).
    :param mu, logvar: the encoder's means and log-variances (N, L).
    :param beta: the weight of the KL term.
    :return: a scalar tensor attached to the computation graph.
    """
    ### BEGIN SOLUTION
    kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1).mean()
    height, width = label_map.shape[-2:]
    return reconstruction_loss(logits, label_map) + beta * kl / (height * width)
    ### END SOLUTION


def vae_forward_pass(encoder: nn.Module, decoder: nn.Module, label_map: torch.Tensor, beta: float = 1.0,
                     noise: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, ...]:
    """The VAE's forward pass on a batch of label maps.

    Convert the maps to one-hot images (`to_onehot`), encode them: the encoder outputs 2 * L
    values per map, the first L are the means, the last L the log-variances; draw codes with
    `reparameterize` (passing `noise` on), decode them, and compute `vae_loss` (with `beta`).

    :param encoder: maps (N, K, H, W) to (N, 2 * L).
    :param decoder: maps codes (N, L) to class scores (N, K, H, W).
    :param label_map: integer tensor (N, H, W).
    :param beta: the weight of the KL term of the loss.
    :param noise: standard normal draws (N, L) for `reparameterize`, or None to draw them.
    :return: (loss, logits, mu, logvar): the scalar loss attached to the graph, the class scores
        (N, K, H, W), the means (N, L) and the log-variances (N, L).
    """
    ### BEGIN SOLUTION
    mu, logvar = encoder(to_onehot(label_map)).chunk(2, dim=1)
    logits = decoder(reparameterize(mu, logvar, noise))
    return vae_loss(logits, label_map, mu, logvar, beta), logits, mu, logvar
    ### END SOLUTION


def dice_score(prediction: torch.Tensor, target: torch.Tensor, n_classes: int = N_CLASSES) -> torch.Tensor:
    """Dice coefficient of every foreground class between two label maps, map by map.

    For a class k, with P the pixels labelled k in `prediction` and T those labelled k in
    `target`: Dice = 2 |P and T| / (|P| + |T|), and 1.0 when the class is in neither map.

    :param prediction, target: integer label maps of the same shape (..., H, W), e.g. (H, W) or
        (N, H, W).
    :param n_classes: the number of classes K; class 0 (background) is not scored.
    :return: float tensor (..., K - 1): the Dice of classes 1..K-1 for each map.
    """
    ### BEGIN SOLUTION
    classes = torch.arange(1, n_classes, device=prediction.device).view(-1, 1, 1)
    predicted = prediction.unsqueeze(-3) == classes  # (..., K - 1, H, W)
    true = target.unsqueeze(-3) == classes
    intersection = (predicted & true).sum(dim=(-2, -1)).float()
    total = (predicted.sum(dim=(-2, -1)) + true.sum(dim=(-2, -1))).float()
    return torch.where(total > 0, 2 * intersection / total.clamp(min=1), torch.ones_like(total))
    ### END SOLUTION


# ------------------------------------------------------------------------------------------------
# Given code: training and inference on whole batches of maps (nothing to write below).

def _half_dtype(device: torch.device) -> Optional[torch.dtype]:
    """The mixed-precision type on CUDA (bfloat16 where supported, else float16); None on the CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _autocast(device: torch.device):
    dtype = _half_dtype(device)
    return torch.autocast(device_type=device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


def _to_device(encoder: nn.Module, decoder: nn.Module, device: torch.device) -> None:
    memory_format = torch.channels_last if device.type == "cuda" else torch.preserve_format
    encoder.to(device, memory_format=memory_format)
    decoder.to(device, memory_format=memory_format)


def train(forward_pass: Callable, encoder: nn.Module, decoder: nn.Module, train_maps: torch.Tensor,
          valid_maps: torch.Tensor, n_epochs: int, batch_size: int = 32, lr: float = 1e-3,
          device: torch.device = DEVICE, desc: str = "training", run=None) -> Dict[str, list]:
    """Train `encoder` and `decoder` with Adam on `forward_pass` (`ae_forward_pass`, or
    `vae_forward_pass`), whose first output is the loss.

    The maps (uint8 or integer tensors (N, H, W)) are moved to `device` once and cut into
    shuffled batches there; the networks run in mixed precision with channels_last on CUDA.
    :return: {"train_loss": [...], "valid_loss": [...]}, one value per epoch (the training loss
        averaged over the epoch's batches; the validation loss after the epoch).
    With `run` (a name: see solutions/runs.py) every epoch is checkpointed, and calling train
    again resumes the run, or loads it when it is finished.
    """
    _to_device(encoder, decoder, device)
    train_maps, valid_maps = train_maps.to(device), valid_maps.to(device)
    parameters = list(encoder.parameters()) + list(decoder.parameters())
    optimizer = torch.optim.Adam(parameters, lr=lr)
    # float16 needs loss scaling to keep small gradients from underflowing; bfloat16 does not.
    scaler = torch.amp.GradScaler(device.type, enabled=_half_dtype(device) == torch.float16)
    logs = {"train_loss": [], "valid_loss": []}
    networks = compiled(encoder), compiled(decoder)  # the same modules unless $KIT_COMPILE=1
    to_train, run = epochs_to_train(run, n_epochs, logs, encoder=encoder, decoder=decoder, optimizer=optimizer,
                                scaler=scaler)
    for _ in tqdm(to_train, total=n_epochs, desc=desc, leave=False):
        encoder.train(), decoder.train()
        losses = []
        for batch in torch.randperm(len(train_maps), device=device).split(batch_size):
            with _autocast(device):
                loss = forward_pass(*networks, train_maps[batch].long())[0]
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.detach())
            if run is not None:
                run.step()
        logs["train_loss"].append(float(torch.stack(losses).mean()))
        logs["valid_loss"].append(evaluate_loss(forward_pass, encoder, decoder, valid_maps, batch_size, device))
    return logs


@torch.inference_mode()
def evaluate_loss(forward_pass: Callable, encoder: nn.Module, decoder: nn.Module, maps: torch.Tensor,
                  batch_size: int = 64, device: torch.device = DEVICE) -> float:
    """The loss of `forward_pass` averaged over `maps` (weighted by batch size)."""
    encoder.eval(), decoder.eval()
    total = torch.zeros((), device=device)
    for batch in maps.to(device).split(batch_size):
        with _autocast(device):
            total += forward_pass(encoder, decoder, batch.long())[0].float() * len(batch)
    return float(total / max(len(maps), 1))


@torch.inference_mode()
def encode(encoder: nn.Module, maps: torch.Tensor, batch_size: int = 64, variational: bool = False,
           device: torch.device = DEVICE) -> torch.Tensor:
    """The codes (N, L) of label maps (N, H, W), on the CPU; a VAE's encoder gives its means."""
    encoder.eval()
    codes = []
    for batch in maps.to(device).split(batch_size):
        with _autocast(device):
            code = encoder(to_onehot(batch.long())).float()
        codes.append(code.chunk(2, dim=1)[0] if variational else code)
    return torch.cat(codes).cpu()


@torch.inference_mode()
def decode(decoder: nn.Module, codes: torch.Tensor, batch_size: int = 64,
           device: torch.device = DEVICE) -> torch.Tensor:
    """The label maps (N, H, W) (uint8, on the CPU) that `decoder` predicts for codes (N, L)."""
    decoder.eval()
    maps = []
    for batch in codes.to(device).split(batch_size):
        with _autocast(device):
            maps.append(decoder(batch).argmax(dim=1).to(torch.uint8))
    return torch.cat(maps).cpu()


def reconstruct(encoder: nn.Module, decoder: nn.Module, maps: torch.Tensor, variational: bool = False,
                batch_size: int = 64, device: torch.device = DEVICE) -> torch.Tensor:
    """Encode then decode label maps (N, H, W): the predicted maps (N, H, W), uint8 on the CPU
    (a VAE decodes its means, without sampling)."""
    codes = encode(encoder, maps, batch_size, variational, device)
    return decode(decoder, codes, batch_size, device)


if __name__ == "__main__":
    encoder, decoder = Encoder(latent_dim=4), Decoder(latent_dim=4)
    print(f"encoder: {sum(p.numel() for p in encoder.parameters()):,} parameters (the statement: 798,148)")
    print(f"decoder: {sum(p.numel() for p in decoder.parameters()):,} parameters")
