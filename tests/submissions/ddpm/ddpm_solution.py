# A file as a student of the original course handed it in: the notebook exported to Python, with
# the template's given code (data loaders, visualisations, a U-Net that imports einops, training
# under __main__), the answers written in the original template's style, a module-level `device`
# string and a results folder created at import. The grader must give it full marks.
import random
import numpy as np
from tqdm.auto import tqdm

from inspect import isfunction
from functools import partial
import math
from einops import rearrange

import torch
import torch.nn.functional as F
from torch import nn
from torch import einsum
from torch.optim import Adam
from torch.utils.data import DataLoader
import traceback
from torchvision import datasets
from torchvision.utils import make_grid, save_image
from torchvision import transforms

import matplotlib.pyplot as plt
from pathlib import Path


def fix_experiment_seed(seed=0):
  random.seed(seed)
  np.random.seed(seed)
  torch.manual_seed(seed)
  torch.cuda.manual_seed_all(seed)
  torch.cuda.manual_seed(seed)
  torch.backends.cudnn.deterministic = True
  torch.backends.cudnn.benchmark = False

fix_experiment_seed()

results_folder = Path("./results")
results_folder.mkdir(exist_ok = True)
device = "cuda" if torch.cuda.is_available() else "cpu"

# Helper Functions
def show_image(image, nrow=8):
  grid_img = make_grid(image.detach().cpu(), nrow=nrow, padding=0)
  plt.imshow(grid_img.permute(1, 2, 0))
  plt.axis('off')

# Training Hyperparameters
train_batch_size = 64   # Batch Size
lr = 1e-4         # Learning Rate

# Hyperparameters taken from Ho et. al for noise scheduling
T = 1000            # Diffusion Timesteps
beta_start = 0.0001 # Starting variance
beta_end = 0.02     # Ending variance

# Define Dataset Statistics
image_size = 32
input_channels = 3
data_root = './data'

def get_dataloaders(data_root, batch_size):
  normalize = transforms.Normalize(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
  transform = transforms.Compose((
      transforms.Resize((image_size, image_size)),
      transforms.ToTensor(),
      normalize))
  train = datasets.SVHN(data_root, split='train', download=True, transform=transform)
  test = datasets.SVHN(data_root, split='test', download=True, transform=transform)
  train_dataloader = DataLoader(train, batch_size=batch_size, shuffle=True, num_workers=2, drop_last=True)
  test_dataloader = DataLoader(test, batch_size=batch_size, shuffle=False, num_workers=2, drop_last=True)
  return train_dataloader, test_dataloader

# Visualize the Dataset
def visualize():
  train_dataloader, _ = get_dataloaders(data_root=data_root, batch_size=train_batch_size)
  imgs, labels = next(iter(train_dataloader))
  save_image((imgs + 1.) * 0.5, './results/orig.png')
  show_image((imgs + 1.) * 0.5)

if __name__ == '__main__':
  visualize()

# Building blocks of the U-Net (given)
def exists(x):
  return x is not None

def default(val, d):
  if exists(val):
    return val
  return d() if isfunction(d) else d

class Residual(nn.Module):
  def __init__(self, fn):
    super().__init__()
    self.fn = fn

  def forward(self, x, *args, **kwargs):
    return x + self.fn(x, *args, **kwargs)

def Upsample(dim):
  return nn.ConvTranspose2d(dim, dim, kernel_size=4, stride=2, padding=1)

def Downsample(dim):
  return nn.Conv2d(dim, dim, kernel_size=4, stride=2, padding=1)

class SinusoidalPositionEmbeddings(nn.Module):
  def __init__(self, dim):
    super().__init__()
    self.dim = dim

  def forward(self, time):
    half = self.dim // 2
    freqs = torch.exp(torch.arange(half, device=time.device) * -(math.log(10000) / (half - 1)))
    args = time[:, None].float() * freqs[None, :]
    return torch.cat((args.sin(), args.cos()), dim=-1)

class Block(nn.Module):
  def __init__(self, dim, dim_out, groups=8):
    super().__init__()
    self.proj = nn.Conv2d(dim, dim_out, 3, padding=1)
    self.norm = nn.GroupNorm(groups, dim_out)

  def forward(self, x):
    return F.silu(self.norm(self.proj(x)))

class ResnetBlock(nn.Module):
  def __init__(self, dim, dim_out, *, time_emb_dim=None, groups=8):
    super().__init__()
    self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_emb_dim, dim_out)) if exists(time_emb_dim) else None
    self.block1 = Block(dim, dim_out, groups=groups)
    self.block2 = Block(dim_out, dim_out, groups=groups)
    self.res_conv = nn.Conv2d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

  def forward(self, x, time_emb=None):
    h = self.block1(x)
    if exists(self.mlp) and exists(time_emb):
      h = h + rearrange(self.mlp(time_emb), "b c -> b c 1 1")
    return self.block2(h) + self.res_conv(x)

class Attention(nn.Module):
  def __init__(self, dim, heads=4, dim_head=32):
    super().__init__()
    self.heads = heads
    self.scale = dim_head ** -0.5
    self.to_qkv = nn.Conv2d(dim, dim_head * heads * 3, 1, bias=False)
    self.to_out = nn.Conv2d(dim_head * heads, dim, 1)

  def forward(self, x):
    b, c, h, w = x.shape
    q, k, v = (rearrange(part, "b (h c) x y -> b h c (x y)", h=self.heads) for part in self.to_qkv(x).chunk(3, dim=1))
    attn = (einsum("b h d i, b h d j -> b h i j", q * self.scale, k)).softmax(dim=-1)
    out = einsum("b h i j, b h d j -> b h i d", attn, v)
    return self.to_out(rearrange(out, "b h (x y) d -> b (h d) x y", x=h, y=w))

class LinearAttention(nn.Module):
  def __init__(self, dim, heads=4, dim_head=32):
    super().__init__()
    self.heads = heads
    self.scale = dim_head ** -0.5
    self.to_qkv = nn.Conv2d(dim, dim_head * heads * 3, 1, bias=False)
    self.to_out = nn.Sequential(nn.Conv2d(dim_head * heads, dim, 1), nn.GroupNorm(1, dim))

  def forward(self, x):
    b, c, h, w = x.shape
    q, k, v = (rearrange(part, "b (h c) x y -> b h c (x y)", h=self.heads) for part in self.to_qkv(x).chunk(3, dim=1))
    q = q.softmax(dim=-2) * self.scale
    k = k.softmax(dim=-1)
    context = einsum("b h d n, b h e n -> b h d e", k, v)
    out = einsum("b h d e, b h d n -> b h e n", context, q)
    return self.to_out(rearrange(out, "b h c (x y) -> b (h c) x y", h=self.heads, x=h, y=w))

class PreNorm(nn.Module):
  def __init__(self, dim, fn):
    super().__init__()
    self.fn = fn
    self.norm = nn.GroupNorm(1, dim)

  def forward(self, x):
    return self.fn(self.norm(x))

class Unet(nn.Module):
  def __init__(self, dim, init_dim=None, out_dim=None, dim_mults=(1, 2, 4, 8), channels=3,
               with_time_emb=True, resnet_block_groups=8):
    super().__init__()
    self.channels = channels
    init_dim = default(init_dim, dim // 3 * 2)
    self.init_conv = nn.Conv2d(channels, init_dim, 7, padding=3)
    dims = [init_dim, *map(lambda m: dim * m, dim_mults)]
    in_out = list(zip(dims[:-1], dims[1:]))
    block_klass = partial(ResnetBlock, groups=resnet_block_groups)
    if with_time_emb:
      time_dim = dim * 4
      self.time_mlp = nn.Sequential(SinusoidalPositionEmbeddings(dim), nn.Linear(dim, time_dim), nn.GELU(),
                                    nn.Linear(time_dim, time_dim))
    else:
      time_dim = None
      self.time_mlp = None
    self.downs = nn.ModuleList([])
    self.ups = nn.ModuleList([])
    for ind, (dim_in, dim_out) in enumerate(in_out):
      is_last = ind >= len(in_out) - 1
      self.downs.append(nn.ModuleList([
          block_klass(dim_in, dim_out, time_emb_dim=time_dim),
          block_klass(dim_out, dim_out, time_emb_dim=time_dim),
          Residual(PreNorm(dim_out, LinearAttention(dim_out))),
          Downsample(dim_out) if not is_last else nn.Identity()]))
    mid_dim = dims[-1]
    self.mid_block1 = block_klass(mid_dim, mid_dim, time_emb_dim=time_dim)
    self.mid_attn = Residual(PreNorm(mid_dim, Attention(mid_dim)))
    self.mid_block2 = block_klass(mid_dim, mid_dim, time_emb_dim=time_dim)
    for ind, (dim_in, dim_out) in enumerate(reversed(in_out[1:])):
      self.ups.append(nn.ModuleList([
          block_klass(dim_out * 2, dim_in, time_emb_dim=time_dim),
          block_klass(dim_in, dim_in, time_emb_dim=time_dim),
          Residual(PreNorm(dim_in, LinearAttention(dim_in))),
          Upsample(dim_in)]))
    out_dim = default(out_dim, channels)
    self.final_conv = nn.Sequential(block_klass(dim, dim), nn.Conv2d(dim, out_dim, 1))

  def forward(self, x, time):
    x = self.init_conv(x)
    t = self.time_mlp(time) if exists(self.time_mlp) else None
    h = []
    for block1, block2, attn, downsample in self.downs:
      x = attn(block2(block1(x, t), t))
      h.append(x)
      x = downsample(x)
    x = self.mid_block2(self.mid_attn(self.mid_block1(x, t)), t)
    for block1, block2, attn, upsample in self.ups:
      x = torch.cat((x, h.pop()), dim=1)
      x = upsample(attn(block2(block1(x, t), t)))
    return self.final_conv(x)

def extract(a, t, x_shape):
  batch_size = t.shape[0]
  out = a.gather(-1, t.cpu())
  return out.reshape(batch_size, *((1,) * (len(x_shape) - 1))).to(t.device)

def linear_beta_schedule(beta_start, beta_end, timesteps):
  return torch.linspace(beta_start, beta_end, timesteps)

betas = linear_beta_schedule(beta_start, beta_end, T)        # WRITE CODE HERE: Define the linear beta schedule
alphas = 1. - betas                                           # WRITE CODE HERE: Compute the alphas as 1 - betas
sqrt_recip_alphas = 1. / torch.sqrt(alphas)                   # WRITE CODE HERE: Returns 1/square_root(\alpha_t)
alphas_cumprod = torch.cumprod(alphas, axis=0)                # WRITE CODE HERE: Compute product of alphas up to index t, \bar{\alpha}
sqrt_alphas_cumprod = torch.sqrt(alphas_cumprod)              # WRITE CODE HERE: Returns sqaure_root(\bar{\alpha}_t)
sqrt_one_minus_alphas_cumprod = torch.sqrt(1. - alphas_cumprod)  # WRITE CODE HERE: Returns square_root(1 - \bar{\alpha}_t)
alphas_cumprod_prev = alphas_cumprod.roll(1, 0)               # WRITE CODE HERE: Right shifts \bar{\alpha}_t; with first element as 1.
alphas_cumprod_prev[0] = 1.
posterior_variance = betas * (1. - alphas_cumprod_prev) / (1. - alphas_cumprod)  # WRITE CODE HERE

def q_sample(x_start, t, noise=None):
  if noise is None:
    noise = torch.randn_like(x_start)
  sqrt_alphas_cumprod_t = sqrt_alphas_cumprod[t].reshape(-1, 1, 1, 1)      # WRITE CODE HERE
  sqrt_one_minus_alphas_cumprod_t = sqrt_one_minus_alphas_cumprod[t].reshape(-1, 1, 1, 1)  # WRITE CODE HERE
  x_noisy = sqrt_alphas_cumprod_t * x_start + sqrt_one_minus_alphas_cumprod_t * noise      # WRITE CODE HERE
  return x_noisy

def visualize_diffusion():
  train_dataloader, _ = get_dataloaders(data_root=data_root, batch_size=train_batch_size)
  imgs, _ = next(iter(train_dataloader))
  sample = imgs[3].unsqueeze(0)
  noisy_images = [sample] + [q_sample(sample, torch.tensor([100 * t + 99])) for t in range(10)]
  noisy_images = (torch.cat(noisy_images, dim=0) + 1.) * 0.5
  show_image(noisy_images.clamp(0., 1.), nrow=11)

if __name__ == '__main__':
  visualize_diffusion()

def p_sample(model, x, t, t_index):
  with torch.no_grad():
    betas_t = extract(betas, t, x.shape)                                                   # WRITE CODE HERE
    sqrt_one_minus_alphas_cumprod_t = extract(sqrt_one_minus_alphas_cumprod, t, x.shape)   # WRITE CODE HERE
    sqrt_recip_alphas_t = extract(sqrt_recip_alphas, t, x.shape)                           # WRITE CODE HERE
    p_mean = sqrt_recip_alphas_t * (x - betas_t * model(x, t) / sqrt_one_minus_alphas_cumprod_t)  # WRITE CODE HERE
    if t_index == 0:
      sample = p_mean                                                                      # WRITE CODE HERE
    else:
      posterior_variance_t = extract(posterior_variance, t, x.shape)                       # WRITE CODE HERE
      noise = torch.randn_like(x)                                                          # WRITE CODE HERE
      sample = p_mean + torch.sqrt(posterior_variance_t) * noise                           # WRITE CODE HERE
    return sample

def p_sample_loop(model, shape, timesteps):
  with torch.no_grad():
    b = shape[0]
    img = torch.randn(shape, device=device)
    imgs = []
    try:
      for i in tqdm(reversed(range(0, timesteps)), desc='Sampling', total=T, leave=False):
        t = torch.tensor([i], dtype=torch.long, device=device).expand(b)
        img = p_sample(model=model, x=img, t=t, t_index=i)  # WRITE CODE HERE
        imgs.append(img.cpu())
    except:
      traceback.print_exc()
    return torch.stack(imgs)

def sample(model, image_size, batch_size=16, channels=3):
  with torch.no_grad():
    return p_sample_loop(model, shape=(batch_size, channels, image_size, image_size), timesteps=T)

def p_losses(denoise_model, x_start, t):
  noise = torch.randn_like(x_start)                                                     # WRITE CODE HERE
  x_noisy = extract(sqrt_alphas_cumprod, t, x_start.shape) * x_start \
      + extract(sqrt_one_minus_alphas_cumprod, t, x_start.shape) * noise                # WRITE CODE HERE
  predicted_noise = denoise_model(x_noisy, t)                                            # WRITE CODE HERE
  loss = F.huber_loss(predicted_noise, noise, reduction='mean', delta=1.0)               # WRITE CODE HERE
  return loss

def t_sample(timesteps, batch_size):
  ts = torch.randint(0, timesteps, (batch_size,), device=device).long()  # WRITE CODE HERE
  return ts

if __name__ == '__main__':
  model = Unet(dim=image_size, channels=input_channels, dim_mults=(1, 2, 4, 8))
  model.to(device)
  optimizer = Adam(model.parameters(), lr=lr)

epochs = 30

if __name__ == '__main__':
  train_dataloader, _ = get_dataloaders(data_root, batch_size=train_batch_size)
  for epoch in range(epochs):
    with tqdm(train_dataloader, unit="batch", leave=False) as tepoch:
      for batch in tepoch:
        tepoch.set_description(f"Epoch: {epoch}")
        optimizer.zero_grad()
        imgs, _ = batch
        x = imgs.to(device)
        t = t_sample(T, x.shape[0])
        loss = p_losses(model, x, t)
        loss.backward()
        optimizer.step()
        tepoch.set_postfix(loss=loss.item())
    samples = sample(model, image_size=image_size, batch_size=64, channels=input_channels)
    save_image((samples[-1] + 1.) * 0.5, f'./results/samples_{epoch}.png')
