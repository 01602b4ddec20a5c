"""Batched image augmentations on tensors (on the GPU when the images are there).

torchvision's transforms augment one PIL image at a time in DataLoader workers: with two views
per image and Colab's two CPU cores, that starves the GPU. Here a whole batch of uint8 images
(N, 3, H, W), kept on the GPU, is augmented at once, each image with its own random parameters
drawn from the same distributions as torchvision's:

- `RandomResizedCrop(size, scale, ratio)`: the 10 rejection-sampling attempts of
  `RandomResizedCrop.get_params`, then the central fallback; bilinear resizing of the crop;
- `RandomHorizontalFlip(p)`;
- `RandomApply([ColorJitter(b, c, s, h)], p)`: factors uniform in [1 - b, 1 + b] (and [-h, h]),
  the four adjustments in a uniformly random order per image, each computed as torchvision's
  tensor functions compute it (`adjust_brightness`, ..., `adjust_hue`);
- `RandomGrayscale(p)`; `Normalize(mean, std)`.

Images stay in float [0, 1] between steps (torchvision's uint8 paths round after each one).
Every random draw goes through `generator` (a `torch.Generator` on the images' device) when one
is given, so a pipeline is reproducible.
"""
import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale


def _uniform(n: int, low: float, high: float, generator, device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def _bernoulli(n: int, p: float, generator, device) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=device) < p


# -- random resized crop ---------------------------------------------------------------------

def crop_boxes(n: int, height: int, width: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
               generator: Optional[torch.Generator] = None, device=None, attempts: int = 10):
    """Crop boxes drawn like `torchvision.transforms.RandomResizedCrop.get_params`, for n images.

    :return: (top, left, h, w), four int64 tensors of shape (n,).
    """
    area = height * width
    fractions = torch.rand(n, attempts, generator=generator, device=device)
    target_area = area * (scale[0] + (scale[1] - scale[0]) * fractions)
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_low + (log_high - log_low) * torch.rand(n, attempts, generator=generator, device=device))
    w = torch.round(torch.sqrt(target_area * aspect)).long()
    h = torch.round(torch.sqrt(target_area / aspect)).long()
    valid = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = valid.to(torch.uint8).argmax(dim=1, keepdim=True)  # the first valid attempt, as get_params stops there
    w, h = w.gather(1, first).squeeze(1), h.gather(1, first).squeeze(1)

    # No valid attempt: the central crop with the aspect ratio clamped to `ratio`.
    if width / height < min(ratio):
        fallback_w, fallback_h = width, int(round(width / min(ratio)))
    elif width / height > max(ratio):
        fallback_w, fallback_h = int(round(height * max(ratio))), height
    else:
        fallback_w, fallback_h = width, height
    found = valid.any(dim=1)
    w = torch.where(found, w, torch.full_like(w, fallback_w))
    h = torch.where(found, h, torch.full_like(h, fallback_h))
    # A uniform position among the valid ones, like torch.randint(0, height - h + 1).
    top = (torch.rand(n, generator=generator, device=device) * (height - h + 1)).long().clamp(max=height - h)
    left = (torch.rand(n, generator=generator, device=device) * (width - w + 1)).long().clamp(max=width - w)
    top = torch.where(found, top, (height - h) // 2)
    left = torch.where(found, left, (width - w) // 2)
    return top, left, h, w


def _interpolation_matrix(start: torch.Tensor, length: torch.Tensor, size: int, extent: int) -> torch.Tensor:
    """(n, size, extent) bilinear weights that resize the segment [start, start + length) of an
    axis of `extent` pixels to `size` pixels (half-pixel centres, the crop's edge pixels repeated
    beyond it: torchvision's crop-then-resize)."""
    centres = torch.arange(size, device=start.device, dtype=torch.float32) + 0.5
    source = start[:, None] + centres * (length[:, None].float() / size) - 0.5
    source = torch.minimum(torch.maximum(source, start[:, None].float()), (start + length - 1)[:, None].float())
    below = source.floor()
    fraction = source - below
    below = below.long()
    above = torch.minimum(below + 1, (start + length - 1)[:, None])
    weights = torch.zeros(len(start), size, extent, device=start.device)
    weights.scatter_add_(2, below[..., None], (1 - fraction)[..., None])
    weights.scatter_add_(2, above[..., None], fraction[..., None])
    return weights


def resized_crop(images: torch.Tensor, boxes, size: int) -> torch.Tensor:
    """Crop each image to its box and resize it to size x size (bilinear).

    :param images: float (n, C, H, W).
    :param boxes: (top, left, h, w) as returned by `crop_boxes`.
    :return: float (n, C, size, size). Two batched matrix products: rows then columns.
    """
    top, left, h, w = boxes
    rows = _interpolation_matrix(top, h, size, images.shape[-2]).to(images.dtype)     # (n, size, H)
    cols = _interpolation_matrix(left, w, size, images.shape[-1]).to(images.dtype)    # (n, size, W)
    return rows[:, None] @ images @ cols[:, None].transpose(-1, -2)


# -- colour ----------------------------------------------------------------------------------

def grayscale(images: torch.Tensor) -> torch.Tensor:
    """Luma (n, 1, H, W) of float RGB images (n, 3, H, W)."""
    weights = torch.tensor(GRAY_WEIGHTS, device=images.device, dtype=images.dtype)
    return (images * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def _blend(images, other, factor):
    return (factor.view(-1, 1, 1, 1) * images + (1 - factor.view(-1, 1, 1, 1)) * other).clamp(0, 1)


def adjust_brightness(images, factor):
    return _blend(images, torch.zeros_like(images), factor)


def adjust_contrast(images, factor):
    return _blend(images, grayscale(images).mean(dim=(1, 2, 3), keepdim=True), factor)


def adjust_saturation(images, factor):
    return _blend(images, grayscale(images), factor)


def adjust_hue(images, shift):
    """Rotate the hue of each image by `shift` (n,) turns, through HSV as torchvision does."""
    maximum, minimum = images.max(dim=1).values, images.min(dim=1).values
    chroma = maximum - minimum
    safe_chroma = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    r, g, b = images.unbind(dim=1)
    hue = torch.where(maximum == r, (g - b) / safe_chroma,
                      torch.where(maximum == g, 2 + (b - r) / safe_chroma, 4 + (r - g) / safe_chroma))
    hue = torch.where(chroma > 0, hue, torch.zeros_like(hue))
    hue = (hue / 6 + shift.view(-1, 1, 1)) % 1.0
    saturation = chroma / torch.where(maximum > 0, maximum, torch.ones_like(maximum))
    # HSV -> RGB: channel n (5, 3, 1 for r, g, b) is v - v s clamp(min(k, 4 - k), 0, 1), k = (n + 6 h) mod 6.
    k = (torch.tensor([5.0, 3.0, 1.0], device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
         + 6 * hue[:, None]) % 6
    ramp = torch.minimum(k, 4 - k).clamp(0, 1)
    return maximum[:, None] * (1 - saturation[:, None] * ramp)


JITTER_OPERATIONS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


@dataclass
class JitterParameters:
    factors: torch.Tensor   # (n, 4): brightness, contrast, saturation factors and hue shift
    order: torch.Tensor     # (n, 4): a permutation of 0..3 per image (the order of the operations)
    applied: torch.Tensor   # (n,) bool: RandomApply's draw


def jitter_parameters(n: int, strengths=(0.4, 0.4, 0.4, 0.1), p: float = 0.8,
                      generator: Optional[torch.Generator] = None, device=None) -> JitterParameters:
    """`RandomApply([ColorJitter(*strengths)], p)`'s random draws for n images."""
    brightness, contrast, saturation, hue = strengths
    factors = torch.stack([_uniform(n, max(0.0, 1 - s), 1 + s, generator, device)
                           for s in (brightness, contrast, saturation)]
                          + [_uniform(n, -hue, hue, generator, device)], dim=1)
    order = torch.rand(n, 4, generator=generator, device=device).argsort(dim=1)  # uniform over the 24 orders
    return JitterParameters(factors, order, _bernoulli(n, p, generator, device))


def color_jitter(images: torch.Tensor, parameters: JitterParameters) -> torch.Tensor:
    """Apply each image's four adjustments in its own order (images not `applied` are kept).

    Each of the 4 steps runs each operation once, on the images whose step it is: 4 operations'
    worth of work in all, whatever the orders.
    """
    out = images.clone()
    for step in range(4):
        for index, operation in enumerate(JITTER_OPERATIONS):
            rows = torch.nonzero(parameters.applied & (parameters.order[:, step] == index)).squeeze(1)
            if len(rows):
                out[rows] = operation(out[rows], parameters.factors[rows, index])
    return out


def normalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    mean = torch.tensor(mean, device=images.device, dtype=images.dtype).view(1, -1, 1, 1)
    std = torch.tensor(std, device=images.device, dtype=images.dtype).view(1, -1, 1, 1)
    return (images - mean) / std


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (n, C, H, W) in 0..255 -> float32 in [0, 1] (float images are returned as they are)."""
    return images.float() / 255 if images.dtype == torch.uint8 else images


# -- the pipeline ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Augment:
    """SimSiam's CIFAR-10 pre-training augmentation, for a batch at a time:

    RandomResizedCrop(size, scale), RandomApply([ColorJitter(*jitter)], jitter_p),
    RandomGrayscale(gray_p), RandomHorizontalFlip(flip_p), ToTensor, Normalize(mean, std).
    """
    size: int = 32
    scale: Tuple[float, float] = (0.08, 1.0)
    ratio: Tuple[float, float] = (3 / 4, 4 / 3)
    jitter: Tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    gray_p: float = 0.2
    flip_p: float = 0.5
    mean: Tuple[float, float, float] = CIFAR10_MEAN
    std: Tuple[float, float, float] = CIFAR10_STD

    def __call__(self, images: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """uint8 (or float in [0, 1]) images (n, 3, H, W) -> normalized float (n, 3, size, size)."""
        n, device = len(images), images.device
        x = to_float(images)
        x = resized_crop(x, crop_boxes(n, x.shape[-2], x.shape[-1], self.scale, self.ratio, generator, device),
                         self.size)
        x = color_jitter(x, jitter_parameters(n, self.jitter, self.jitter_p, generator, device))
        x = torch.where(_bernoulli(n, self.gray_p, generator, device).view(-1, 1, 1, 1), grayscale(x).expand_as(x), x)
        x = torch.where(_bernoulli(n, self.flip_p, generator, device).view(-1, 1, 1, 1), x.flip(-1), x)
        return normalize(x, self.mean, self.std)

    def two_views(self, images: torch.Tensor, generator: Optional[torch.Generator] = None):
        """Two independent augmentations of the same images: (view1, view2)."""
        return self(images, generator), self(images, generator)


def evaluation_transform(images: torch.Tensor, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> torch.Tensor:
    """No augmentation: uint8 images -> normalized float (for the kNN monitor and linear evaluation)."""
    return normalize(to_float(images), mean, std)


def torchvision_pipeline(augment: Augment = Augment()):
    """The same recipe as torchvision's per-sample transforms on PIL images (the baseline of the
    benchmark and of the distribution tests)."""
    from torchvision import transforms as T
    return T.Compose([T.RandomResizedCrop(augment.size, scale=augment.scale, ratio=augment.ratio),
                      T.RandomApply([T.ColorJitter(*augment.jitter)], p=augment.jitter_p),
                      T.RandomGrayscale(p=augment.gray_p), T.RandomHorizontalFlip(p=augment.flip_p),
                      T.ToTensor(), T.Normalize(augment.mean, augment.std)])
