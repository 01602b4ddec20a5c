"""A denoising diffusion probabilistic model (DDPM) on SVHN (assignment 3, problem 2).

Complete every part marked `# WRITE CODE HERE`: the coefficient tables (module level), `q_sample`,
`p_sample`, `p_sample_loop`, `p_losses` and `t_sample`. Keep the names and signatures: the
autograder imports this file and calls them directly. You may add helper functions and imports.

Notation (Ho et al. 2020, https://arxiv.org/abs/2006.11239): the paper's times t = 1..T are the
indices 0..T-1 here, so `betas[0]` is beta_1. Shapes: B is a batch size, C, H, W the channels,
height and width of an image (3, 32, 32 for SVHN). Images live in [-1, 1].

    forward process   q(x_t | x_0)     = N(sqrt(abar_t) x_0, (1 - abar_t) I)
    reverse process   p(x_{t-1} | x_t) = N(1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t) eps(x_t, t)),
                                           betatilde_t I)

Tensors may live on the GPU: create new tensors on the device of your inputs (`device=x.device`,
`torch.randn_like(x)`), or on the module's `device`.
"""
import contextlib
import math
import random
import urllib.request
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from einops import rearrange
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms
from tqdm.auto import tqdm

try:  # given: training runs that survive a disconnect, opt-in torch.compile (solutions/runs.py)
    from runs import compiled, epochs_to_train
except ImportError:  # this file on its own (as the grader imports it): no checkpoint, nothing compiled
    def compiled(module):
        return module

    def epochs_to_train(run, n_epochs, history, **objects):
        return range(n_epochs), None


try:  # inside the kit: its SVHN module (torchvision's class, also accepting the kit's offline fixtures)
    from data import svhn as kit_svhn
except ImportError:  # a copy of this file on its own: torchvision alone
    kit_svhn = None

# Training hyperparameters
train_batch_size = 64
lr = 1e-4
epochs = 30

# Noise schedule (Ho et al. 2020)
T = 1000             # diffusion steps
beta_start = 0.0001  # beta_1
beta_end = 0.02      # beta_T

# Dataset
image_size = 32
input_channels = 3
data_root = "./data"

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def fix_experiment_seed(seed=0):
    """Seed every random number generator, and make cuDNN deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


fix_experiment_seed()


def get_dataloaders(data_root, batch_size):
    """SVHN train and test loaders of (images (B, 3, 32, 32) in [-1, 1], labels (B,)).

    The course's original pipeline: a PIL image per sample, transformed in worker processes. The
    notebook keeps the whole dataset as one uint8 tensor on the GPU instead (see `train_epoch`):
    no per-image work, no worker processes, no copy from the host per batch.
    """
    transform = transforms.Compose((
        transforms.Resize((image_size, image_size)),
        transforms.ToTensor(),
        transforms.Normalize(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))))
    if kit_svhn is not None:  # downloads what is missing, or stops with one line saying how to get it
        data_root, dataset = kit_svhn.ensure("svhn", data_root), kit_svhn.SVHN
    else:
        dataset = partial(torchvision.datasets.SVHN, download=True)
    train = dataset(data_root, split="train", transform=transform)
    test = dataset(data_root, split="test", transform=transform)
    train_dataloader = DataLoader(train, batch_size=batch_size, shuffle=True, num_workers=2, drop_last=True)
    test_dataloader = DataLoader(test, batch_size=batch_size, shuffle=False, num_workers=2, drop_last=True)
    return train_dataloader, test_dataloader


def show_image(image, nrow=8):
    """Display a batch of images (B, 3, H, W) with values in [0, 1] as a grid."""
    grid = torchvision.utils.make_grid(image.detach().float().cpu().clamp(0, 1), nrow=nrow)
    plt.imshow(grid.permute(1, 2, 0))
    plt.axis("off")


# ---------------------------------------------------------------------------------------------
# The noise model eps_theta(x_t, t): a U-Net of the DDPM family (given)
# ---------------------------------------------------------------------------------------------

class SinusoidalPositionEmbeddings(nn.Module):
    """Times (B,) -> (B, dim): sines and cosines of t at geometrically spaced frequencies, as the
    positions of a Transformer, so that the network can tell nearby times apart at every scale."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, time):
        half = self.dim // 2
        frequencies = torch.exp(-math.log(10000) * torch.arange(half, device=time.device) / max(half - 1, 1))
        angles = time.float()[:, None] * frequencies[None, :]
        return torch.cat((angles.sin(), angles.cos()), dim=-1)


class ResnetBlock(nn.Module):
    """Two (GroupNorm, SiLU, 3x3 convolution) layers and a residual connection, (B, dim, H, W) ->
    (B, dim_out, H, W). The time embedding scales and shifts the features between the two layers."""

    def __init__(self, dim, dim_out, time_emb_dim=None, groups=8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, dim)
        self.conv1 = nn.Conv2d(dim, dim_out, 3, padding=1)
        self.time = nn.Sequential(nn.SiLU(), nn.Linear(time_emb_dim, 2 * dim_out)) if time_emb_dim else None
        self.norm2 = nn.GroupNorm(groups, dim_out)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, padding=1)
        self.skip = nn.Conv2d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

    def forward(self, x, time_emb=None):
        h = self.norm2(self.conv1(F.silu(self.norm1(x))))
        if self.time is not None and time_emb is not None:
            scale, shift = rearrange(self.time(time_emb), "b (two c) -> two b c 1 1", two=2)
            h = h * (1 + scale) + shift
        return self.conv2(F.silu(h)) + self.skip(x)


class Attention(nn.Module):
    """Multi-head self-attention between all H*W positions: O((HW)^2), so only at the lowest
    resolution."""

    def __init__(self, dim, heads=4, dim_head=32):
        super().__init__()
        self.heads = heads
        self.to_qkv = nn.Conv2d(dim, 3 * heads * dim_head, 1, bias=False)
        self.to_out = nn.Conv2d(heads * dim_head, dim, 1)

    def forward(self, x):
        height = x.shape[2]
        q, k, v = rearrange(self.to_qkv(x), "b (qkv h d) x y -> qkv b h (x y) d", qkv=3, h=self.heads)
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(d)) v, fused on GPUs
        return self.to_out(rearrange(out, "b h (x y) d -> b (h d) x y", x=height))


class LinearAttention(nn.Module):
    """Attention in O(HW) (Shen et al. 2021): queries are normalized over their features and keys
    over the positions, so keys and values are first summarized into a (d, d) context per head."""

    def __init__(self, dim, heads=4, dim_head=32):
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        self.to_qkv = nn.Conv2d(dim, 3 * heads * dim_head, 1, bias=False)
        self.to_out = nn.Sequential(nn.Conv2d(heads * dim_head, dim, 1), nn.GroupNorm(1, dim))

    def forward(self, x):
        height = x.shape[2]
        q, k, v = rearrange(self.to_qkv(x), "b (qkv h d) x y -> qkv b h d (x y)", qkv=3, h=self.heads)
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
        context = torch.einsum("bhdn,bhen->bhde", k, v)
        out = torch.einsum("bhde,bhdn->bhen", context, q)
        return self.to_out(rearrange(out, "b h e (x y) -> b (h e) x y", x=height))


class PreNorm(nn.Module):
    """`fn` applied to the input normalized over all its channels (GroupNorm with one group)."""

    def __init__(self, dim, fn):
        super().__init__()
        self.norm, self.fn = nn.GroupNorm(1, dim), fn

    def forward(self, x):
        return self.fn(self.norm(x))


class Residual(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x, *args, **kwargs):
        return self.fn(x, *args, **kwargs) + x


def Downsample(dim):
    return nn.Conv2d(dim, dim, 4, stride=2, padding=1)


def Upsample(dim):
    # Nearest upsampling then a convolution: no checkerboard artefacts (a transposed conv has them).
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(dim, dim, 3, padding=1))


class Unet(nn.Module):
    """The noise model: (x_t (B, C, H, W), t (B,)) -> predicted noise (B, out_dim, H, W).

    One level per entry of `dim_mults`, with dim * mult channels: two residual blocks (conditioned
    on the time embedding) and linear attention, then a downsampling by 2 except at the last
    level; full attention in the middle; the mirror path upsamples and concatenates the features
    of the same level (skip connections). H and W must be divisible by 2 ** (len(dim_mults) - 1),
    and init_dim (default: dim) and every dim * mult by resnet_block_groups (GroupNorm).
    """

    def __init__(self, dim, init_dim=None, out_dim=None, dim_mults=(1, 2, 4, 8), channels=3,
                 with_time_emb=True, resnet_block_groups=8):
        super().__init__()
        self.channels = channels
        init_dim = init_dim or dim
        self.init_conv = nn.Conv2d(channels, init_dim, 7, padding=3)
        dims = [init_dim, *(dim * mult for mult in dim_mults)]
        in_out = list(zip(dims[:-1], dims[1:]))

        time_dim = 4 * dim if with_time_emb else None
        self.time_mlp = nn.Sequential(SinusoidalPositionEmbeddings(dim), nn.Linear(dim, time_dim), nn.GELU(),
                                      nn.Linear(time_dim, time_dim)) if with_time_emb else None
        block = partial(ResnetBlock, time_emb_dim=time_dim, groups=resnet_block_groups)
        head = min(32, dim)  # channels per attention head (fewer in tiny test networks)

        self.downs = nn.ModuleList(
            nn.ModuleList([block(dim_in, dim_out), block(dim_out, dim_out),
                           Residual(PreNorm(dim_out, LinearAttention(dim_out, dim_head=head))),
                           Downsample(dim_out) if level < len(in_out) - 1 else nn.Identity()])
            for level, (dim_in, dim_out) in enumerate(in_out))
        mid_dim = dims[-1]
        self.mid_block1 = block(mid_dim, mid_dim)
        self.mid_attn = Residual(PreNorm(mid_dim, Attention(mid_dim, dim_head=head)))
        self.mid_block2 = block(mid_dim, mid_dim)
        self.ups = nn.ModuleList(
            nn.ModuleList([block(2 * dim_out, dim_in), block(dim_in, dim_in),
                           Residual(PreNorm(dim_in, LinearAttention(dim_in, dim_head=head))), Upsample(dim_in)])
            for dim_in, dim_out in reversed(in_out[1:]))
        self.final_block = block(2 * dims[1], dims[1])
        self.final_conv = nn.Conv2d(dims[1], out_dim or channels, 1)

    def forward(self, x, time):
        x = self.init_conv(x)
        t = self.time_mlp(time) if self.time_mlp is not None else None
        skips = []
        for block1, block2, attn, downsample in self.downs:
            x = attn(block2(block1(x, t), t))
            skips.append(x)
            x = downsample(x)
        x = self.mid_block2(self.mid_attn(self.mid_block1(x, t)), t)
        for block1, block2, attn, upsample in self.ups:
            x = upsample(attn(block2(block1(torch.cat((x, skips.pop()), dim=1), t), t)))
        return self.final_conv(self.final_block(torch.cat((x, skips.pop()), dim=1), t))


# ---------------------------------------------------------------------------------------------
# The diffusion
# ---------------------------------------------------------------------------------------------

def extract(a, t, x_shape):
    """a[t[i]] for every i, shaped to broadcast against x: a (T,), t (B,) -> (B, 1, 1, 1) when
    x_shape is (B, C, H, W), on t's device."""
    if a is None:  # the starter's tables are None until they are written
        raise NotImplementedError("a coefficient table is None: write the coefficient tables first (betas, alphas, "
                                  "..., posterior_variance, under `linear_beta_schedule` in ddpm_solution.py)")
    out = a.to(t.device).gather(-1, t)
    return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1)))


def linear_beta_schedule(beta_start, beta_end, timesteps):
    return torch.linspace(beta_start, beta_end, timesteps)


# The coefficients, each a tensor of shape (T,) (index 0 is the paper's t = 1):
#   betas                           beta_t, the linear schedule from beta_start to beta_end
#   alphas                          alpha_t = 1 - beta_t
#   sqrt_recip_alphas               1 / sqrt(alpha_t)
#   alphas_cumprod                  abar_t = alpha_1 * ... * alpha_t
#   sqrt_alphas_cumprod             sqrt(abar_t)
#   sqrt_one_minus_alphas_cumprod   sqrt(1 - abar_t)
#   alphas_cumprod_prev             abar_{t-1}: abar shifted right by one, starting with 1
#   posterior_variance              betatilde_t = beta_t (1 - abar_{t-1}) / (1 - abar_t), the
#                                   variance of q(x_{t-1} | x_t, x_0)
### BEGIN SOLUTION
betas = linear_beta_schedule(beta_start, beta_end, T)
alphas = 1.0 - betas
sqrt_recip_alphas = torch.rsqrt(alphas)
alphas_cumprod = torch.cumprod(alphas, dim=0)
sqrt_alphas_cumprod = alphas_cumprod.sqrt()
sqrt_one_minus_alphas_cumprod = (1.0 - alphas_cumprod).sqrt()
alphas_cumprod_prev = F.pad(alphas_cumprod[:-1], (1, 0), value=1.0)
posterior_variance = betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod)
### END SOLUTION


def q_sample(x_start, t, noise=None):
    """A sample of q(x_t | x_0) by reparameterization: sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise.

    :param x_start: clean images x_0, (B, C, H, W).
    :param t: times, (B,) integers in 0..T-1 (one per image).
    :param noise: the standard normal noise to use, (B, C, H, W); drawn here when None.
    :return: x_t, (B, C, H, W).
    """
    if noise is None:
        noise = torch.randn_like(x_start)
    ### BEGIN SOLUTION
    sqrt_alphas_cumprod_t = extract(sqrt_alphas_cumprod, t, x_start.shape)
    sqrt_one_minus_alphas_cumprod_t = extract(sqrt_one_minus_alphas_cumprod, t, x_start.shape)
    return sqrt_alphas_cumprod_t * x_start + sqrt_one_minus_alphas_cumprod_t * noise
    ### END SOLUTION


@torch.no_grad()
def p_sample(model, x, t, t_index):
    """One step of the reverse process: a sample of p(x_{t-1} | x_t).

    :param model: the noise model, model(x_t, t) -> predicted noise (B, C, H, W).
    :param x: x_t, (B, C, H, W).
    :param t: the time of every image, (B,) (all equal to t_index).
    :param t_index: the same time as a Python int.
    :return: x_{t-1}, (B, C, H, W): the mean when t_index == 0 (the last step adds no noise),
        otherwise mean + sqrt(posterior_variance_t) * standard normal noise.
    """
    ### BEGIN SOLUTION
    betas_t = extract(betas, t, x.shape)
    sqrt_one_minus_alphas_cumprod_t = extract(sqrt_one_minus_alphas_cumprod, t, x.shape)
    sqrt_recip_alphas_t = extract(sqrt_recip_alphas, t, x.shape)
    mean = sqrt_recip_alphas_t * (x - betas_t * model(x, t) / sqrt_one_minus_alphas_cumprod_t)
    if t_index == 0:
        return mean
    posterior_std_t = extract(posterior_variance, t, x.shape).sqrt()
    return mean + posterior_std_t * torch.randn_like(x)
    ### END SOLUTION


@torch.no_grad()
def p_sample_loop(model, shape, timesteps):
    """The whole reverse process, from pure noise x_T ~ N(0, I) down to x_0, with `p_sample`.

    :param model: the noise model.
    :param shape: (B, C, H, W) of the images to generate.
    :param timesteps: the number of steps T (times timesteps-1, ..., 0).
    :return: every x_{t-1} in the order they are produced, stacked: (timesteps, B, C, H, W), on the
        CPU. The last entry is the generated batch.
    """
    b = shape[0]
    img = torch.randn(shape, device=device)
    imgs = []
    ### BEGIN SOLUTION
    for i in tqdm(reversed(range(timesteps)), desc="Sampling", total=timesteps, leave=False):
        img = p_sample(model, img, torch.full((b,), i, device=device, dtype=torch.long), i)
        imgs.append(img.cpu())
    ### END SOLUTION
    return torch.stack(imgs)


@torch.no_grad()
def sample(model, image_size, batch_size=16, channels=3):
    """(T, batch_size, channels, image_size, image_size): every step of `p_sample_loop`."""
    with autocast():
        return p_sample_loop(model, shape=(batch_size, channels, image_size, image_size), timesteps=T)


def p_losses(denoise_model, x_start, t):
    """The training loss at times t: draw noise, make x_t with `q_sample`, predict the noise from
    (x_t, t), and return the smooth L1 (Huber, delta 1) loss between predicted and true noise,
    averaged over every element: a scalar tensor.

    :param denoise_model: the noise model.
    :param x_start: clean images x_0, (B, C, H, W).
    :param t: times, (B,) integers in 0..T-1.
    """
    ### BEGIN SOLUTION
    noise = torch.randn_like(x_start)
    x_noisy = q_sample(x_start, t, noise=noise)
    predicted_noise = denoise_model(x_noisy, t)
    return F.smooth_l1_loss(predicted_noise, noise)
    ### END SOLUTION


def t_sample(timesteps, batch_size):
    """(batch_size,) int64 times drawn uniformly from 0..timesteps-1, on the module's device."""
    ### BEGIN SOLUTION
    return torch.randint(0, timesteps, (batch_size,), device=device)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Training and faster sampling (given)
# ---------------------------------------------------------------------------------------------

# Mixed precision on CUDA: bfloat16 on GPUs that compute in it natively (compute capability 8+: no
# loss scaling needed), else float16 with a gradient scaler (Colab's T4).
AMP_DTYPE = torch.bfloat16 if device.type == "cuda" and torch.cuda.get_device_capability()[0] >= 8 else torch.float16


def autocast():
    """Mixed precision on CUDA (convolutions in 16 bits, reductions in 32); nothing on the CPU,
    where 16-bit convolutions are slower."""
    return torch.autocast("cuda", dtype=AMP_DTYPE) if device.type == "cuda" else contextlib.nullcontext()


def prepare(model):
    """The model on `device`, in channels-last memory format on CUDA (faster convolutions with
    mixed precision)."""
    if device.type == "cuda":
        return model.to(device, memory_format=torch.channels_last)
    return model.to(device)


def as_model_input(images):
    """uint8 images (B, C, H, W) in 0..255, on any device -> floats in [-1, 1] on `device`."""
    x = images.to(device, non_blocking=True).float().div_(127.5).sub_(1.0)
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x


def train_epoch(model, optimizer, images, batch_size=train_batch_size, scaler=None, desc="training", run=None):
    """One pass over `images` (uint8 (N, C, H, W), ideally already on `device`) in random
    mini-batches (the last incomplete one is dropped): t from `t_sample`, the loss from `p_losses`,
    one optimizer step per batch. Returns the mean loss of the epoch.

    `scaler` is a `torch.amp.GradScaler`, needed only with float16 (see `make_scaler`).
    `run` is optional: the `runs.Run` (solutions/runs.py) whose `epochs` loop calls this; the epoch
    is then checkpointed every few minutes, and an interrupted epoch resumes at its next batch.
    """
    model.train()
    network = compiled(model)  # `model` itself unless $KIT_COMPILE=1
    inner = run.take_inner() if run is not None else None
    steps = len(images) // batch_size
    if inner is None:
        order, total, first = torch.randperm(len(images), device=images.device), torch.zeros((), device=device), 0
    else:  # the interrupted epoch: its order, its loss so far, the next batch
        order, total, first = inner["order"].to(images.device), inner["total"].to(device), inner["step"]
    progress = tqdm(range(first, steps), total=steps, initial=first, desc=desc, unit="batch", leave=False)
    for step in progress:
        x = as_model_input(images[order[step * batch_size:(step + 1) * batch_size]])
        with autocast():
            loss = p_losses(network, x, t_sample(T, len(x)))
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        total += loss.detach()
        if run is not None:
            run.step(lambda: {"order": order, "step": step + 1, "total": total})
        if step % 50 == 49:  # reading the loss waits for the GPU: not at every step
            progress.set_postfix(loss=f"{total.item() / (step + 1):.4f}")
    return total.item() / max(steps, 1)


def make_scaler():
    """A gradient scaler for float16 training on CUDA (None otherwise: not needed)."""
    if device.type == "cuda" and AMP_DTYPE == torch.float16:
        return torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler") else torch.cuda.amp.GradScaler()
    return None


@torch.no_grad()
def ddim_sample(model, shape, steps=50):
    """Deterministic DDIM sampling (Song et al. 2021, eta = 0) with the same trained noise model, in
    `steps` model evaluations instead of T. Returns the generated images (B, C, H, W) on the CPU.

    At each visited time t the model's noise gives an estimate of x_0 (clipped to [-1, 1]); the
    next, earlier time s is reached by the forward process from that estimate with the same
    noise: x_s = q_sample(x0_estimate, s, noise).
    """
    times = torch.linspace(T - 1, 0, min(steps, T)).round().long().tolist()
    x = torch.randn(shape, device=device)
    model.eval()
    for now, later in tqdm(list(zip(times, times[1:] + [None])), desc="DDIM sampling", leave=False):
        t = torch.full((shape[0],), now, device=device, dtype=torch.long)
        abar = extract(alphas_cumprod, t, shape).to(device)
        with autocast():
            noise = model(x, t).float()
        x0 = ((x - (1 - abar).sqrt() * noise) / abar.sqrt()).clamp(-1, 1)
        if later is None:
            return x0.cpu()
        noise = (x - abar.sqrt() * x0) / (1 - abar).sqrt()  # the noise consistent with the clipped x_0
        x = q_sample(x0, torch.full_like(t, later), noise=noise)


# ---------------------------------------------------------------------------------------------
# Sample quality (given): a Frechet distance between feature statistics
# ---------------------------------------------------------------------------------------------

def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two feature sets (N, D) and (M, D):
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), in float64."""
    a, b = features_a.double(), features_b.double()
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    values, vectors = torch.linalg.eigh(cov_a)
    root_a = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    distance = (mean_a - mean_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross
    return max(float(distance), 0.0)  # rounding can leave -1e-6 for identical sets


_PROXY_NETWORK = {}


def proxy_features(images, batch_size=500):
    """(N, 3, 32, 32) images in [-1, 1] -> (N, 448) features of a fixed, randomly initialized
    convolutional network: the mean and the spatial standard deviation of its activations at
    three scales (the standard deviations see texture and noise, which means average away).
    Random features are not Inception's, but they see colour, edges and texture, need no
    download and run on a CPU."""
    if "network" not in _PROXY_NETWORK:
        generator = torch.Generator().manual_seed(2023)
        layers = []
        for c_in, c_out in ((3, 32), (32, 64), (64, 128)):
            conv = nn.Conv2d(c_in, c_out, 3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * (2 / (9 * c_in)) ** 0.5)
                conv.bias.zero_()
            layers.append(conv)
        _PROXY_NETWORK["network"] = nn.ModuleList(layers).eval()
    features = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x, pooled = images[start:start + batch_size].float().cpu(), []
            for i, conv in enumerate(_PROXY_NETWORK["network"]):
                x = F.relu(conv(x if i == 0 else F.avg_pool2d(x, 2)))
                pooled += [x.mean(dim=(2, 3)), x.std(dim=(2, 3))]
            features.append(torch.cat(pooled, dim=1))
    return torch.cat(features)


def proxy_fd(real, generated):
    """The offline quality proxy: Frechet distance between `proxy_features` of two image sets in
    [-1, 1]. Lower is better; only comparable between sets of the same sizes."""
    return frechet_distance(proxy_features(real), proxy_features(generated))


INCEPTION_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                 "weights-inception-2015-12-05-6726825d.pth")


def inception_weights(download=True, timeout=20):
    """Path of the FID Inception weights (torch-fidelity's), downloaded once into torch's hub
    cache; None when they are not there and cannot be downloaded."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_URL.rsplit("/", 1)[1]
    if not path.exists() and download:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with urllib.request.urlopen(INCEPTION_URL, timeout=timeout) as response:
                path.with_suffix(".part").write_bytes(response.read())
            path.with_suffix(".part").rename(path)
        except OSError:
            return None
    return path if path.exists() else None


def fid(real, generated, weights):
    """FID (torchmetrics, Inception v3 pool features) between two image sets in [-1, 1]."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    metric = FrechetInceptionDistance(feature=2048, normalize=True,
                                      feature_extractor_weights_path=str(weights)).to(device)
    for images, is_real in ((real, True), (generated, False)):
        for batch in images.split(200):
            metric.update(((batch.float().to(device) + 1) / 2).clamp(0, 1), real=is_real)
    return float(metric.compute())
