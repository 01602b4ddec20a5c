"""Batched augmentations (data/augment.py): the same operations and the same random distributions
as torchvision's per-sample transforms.

Distributions are compared with two-sample Kolmogorov-Smirnov and binomial tests on draws from
fixed seeds (deterministic verdicts). Each comparison is also shown to reject a plausible mistake
(a negative control), so these tests can fail.
"""
import itertools

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import stats
from torchvision import transforms as T
from torchvision.transforms import functional as TF

from data import augment

N_DRAWS = 4000
P_SAME = 1e-3      # below: the two samples do not come from the same distribution


pytestmark = pytest.mark.usefixtures("one_thread")


def same_distribution(a, b) -> bool:
    return stats.ks_2samp(np.asarray(a, dtype=float), np.asarray(b, dtype=float)).pvalue > P_SAME


def rate_is(successes: int, n: int, p: float) -> bool:
    return stats.binomtest(int(successes), n, p).pvalue > P_SAME


def torchvision_boxes(n, size=32, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    torch.manual_seed(0)
    image = torch.zeros(3, size, size)
    return torch.tensor([T.RandomResizedCrop.get_params(image, list(scale), list(ratio)) for _ in range(n)]).T


def box_statistics(top, left, h, w, size=32):
    """Area fraction, log aspect ratio, and the relative position within the free range."""
    return {"area": (h * w).float() / size ** 2, "log_ratio": torch.log(w.float() / h.float()),
            "top": (top.float() + 0.5) / (size - h + 1).float(), "left": (left.float() + 0.5) / (size - w + 1).float()}


@pytest.fixture(scope="module")
def boxes():
    ours = augment.crop_boxes(N_DRAWS, 32, 32, generator=torch.Generator().manual_seed(1))
    return box_statistics(*ours), box_statistics(*torchvision_boxes(N_DRAWS))


@pytest.mark.parametrize("statistic", ["area", "log_ratio", "top", "left"])
def test_crop_boxes_are_drawn_like_torchvisions(boxes, statistic):
    ours, theirs = boxes
    assert same_distribution(ours[statistic], theirs[statistic])


def test_the_crop_comparison_rejects_a_linear_aspect_ratio(boxes):
    """Negative control: aspect ratios uniform in [3/4, 4/3] instead of log-uniform."""
    g = torch.Generator().manual_seed(2)
    area = 1024 * (0.08 + 0.92 * torch.rand(N_DRAWS, generator=g))
    aspect = 3 / 4 + (4 / 3 - 3 / 4) * torch.rand(N_DRAWS, generator=g)
    w, h = torch.round(torch.sqrt(area * aspect)), torch.round(torch.sqrt(area / aspect))
    assert not same_distribution(torch.log(w / h), boxes[1]["log_ratio"])


def test_the_crop_fallback_is_torchvisions_central_crop():
    # No attempt can fit: a wide aspect ratio covering the whole image.
    top, left, h, w = augment.crop_boxes(50, 32, 32, scale=(0.99, 1.0), ratio=(2.0, 3.0))
    expected = T.RandomResizedCrop.get_params(torch.zeros(3, 32, 32), [0.99, 1.0], [2.0, 3.0])
    assert {(int(a), int(b), int(c), int(d)) for a, b, c, d in zip(top, left, h, w)} == {expected}


def test_resized_crop_equals_torchvisions_crop_then_resize():
    g = torch.Generator().manual_seed(3)
    images = torch.rand(12, 3, 32, 32, generator=g)
    boxes = augment.crop_boxes(12, 32, 32, generator=g)
    expected = torch.stack([TF.resized_crop(image, *(int(v[i]) for v in boxes), [32, 32], antialias=True)
                            for i, image in enumerate(images)])
    torch.testing.assert_close(augment.resized_crop(images, boxes, 32), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("operation, theirs, low, high", [
    (augment.adjust_brightness, TF.adjust_brightness, 0.6, 1.4),
    (augment.adjust_contrast, TF.adjust_contrast, 0.6, 1.4),
    (augment.adjust_saturation, TF.adjust_saturation, 0.6, 1.4),
    (augment.adjust_hue, TF.adjust_hue, -0.1, 0.1)])
def test_each_jitter_operation_equals_torchvisions(operation, theirs, low, high):
    g = torch.Generator().manual_seed(4)
    images = torch.rand(10, 3, 16, 16, generator=g)
    images[0] = images[0, :1]  # a gray image: hue and saturation leave it unchanged
    factors = low + (high - low) * torch.rand(10, generator=g)
    expected = torch.stack([theirs(image, float(f)) for image, f in zip(images, factors)])
    torch.testing.assert_close(operation(images, factors), expected, atol=2e-6, rtol=0)


def test_grayscale_equals_torchvisions():
    images = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(augment.grayscale(images).expand_as(images), TF.rgb_to_grayscale(images, 3))


@pytest.fixture(scope="module")
def jitter_draws():
    ours = augment.jitter_parameters(N_DRAWS, generator=torch.Generator().manual_seed(6))
    torch.manual_seed(7)
    jitter = T.ColorJitter(0.4, 0.4, 0.4, 0.1)
    theirs = [jitter.get_params(jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue)
              for _ in range(N_DRAWS)]
    return ours, theirs


@pytest.mark.parametrize("index", range(4), ids=["brightness", "contrast", "saturation", "hue"])
def test_jitter_factors_are_drawn_like_torchvisions(jitter_draws, index):
    ours, theirs = jitter_draws
    assert same_distribution(ours.factors[:, index], [draw[1 + index] for draw in theirs])


def test_the_factor_comparison_rejects_a_wrong_range(jitter_draws):
    """Negative control: brightness factors in [0.6, 1.0] (a jitter that only darkens)."""
    wrong = 0.6 + 0.4 * torch.rand(N_DRAWS, generator=torch.Generator().manual_seed(8))
    assert not same_distribution(wrong, [draw[1] for draw in jitter_draws[1]])


def test_jitter_orders_are_uniform_over_the_24_permutations_and_applied_with_p_0_8(jitter_draws):
    ours, theirs = jitter_draws
    permutations = list(itertools.permutations(range(4)))
    counts = np.bincount([permutations.index(tuple(order)) for order in ours.order.tolist()], minlength=24)
    assert counts.sum() == N_DRAWS and stats.chisquare(counts).pvalue > P_SAME
    first_theirs = [int(draw[0][0]) for draw in theirs]
    assert same_distribution(ours.order[:, 0], first_theirs)
    assert rate_is(ours.applied.sum(), N_DRAWS, 0.8)
    assert not rate_is(ours.applied.sum(), N_DRAWS, 0.7)  # the binomial test can fail


def test_jitter_runs_each_images_operations_in_its_own_order():
    images = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(9))
    factors = torch.tensor([[1.3, 0.7, 1.2, 0.05]] * 2)
    orders = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0]])
    got = augment.color_jitter(images, augment.JitterParameters(factors, orders, torch.tensor([True, True])))
    for image, order, result in zip(images, orders, got):
        expected = image[None]
        for index in order.tolist():
            expected = augment.JITTER_OPERATIONS[index](expected, factors[:1, index])
        torch.testing.assert_close(result, expected[0])
    kept = augment.color_jitter(images, augment.JitterParameters(factors, orders, torch.tensor([False, True])))
    assert torch.equal(kept[0], images[0]) and not torch.equal(kept[1], images[1])


# -- the whole pipeline, on images built so each random choice can be read back ----------------

def pipeline_outputs(images: torch.Tensor, draws: int):
    """`draws` augmentations of each image, by the batched pipeline and by torchvision's, in [0, 1]."""
    recipe = augment.Augment()
    batch = images.repeat(draws, 1, 1, 1)
    ours = recipe(batch, torch.Generator().manual_seed(10))
    torch.manual_seed(11)
    baseline = augment.torchvision_pipeline(recipe)
    pil = [Image.fromarray(image.permute(1, 2, 0).numpy()) for image in images]
    theirs = torch.stack([baseline(pil[i % len(pil)]) for i in range(len(batch))])
    mean, std = torch.tensor(recipe.mean).view(1, 3, 1, 1), torch.tensor(recipe.std).view(1, 3, 1, 1)
    return ours * std + mean, theirs * std + mean


def test_flip_and_grayscale_rates_match_torchvisions():
    # A gray image brightening from left to right: crops and jitter keep that order, so a flip
    # shows as a brighter left side. A colourful image: only the grayscale step makes its three
    # channels equal (jitter changes its chroma by a factor 0.6 to 1.4 at most, each step).
    ramp = torch.linspace(0.1, 0.6, 32).view(1, 1, 32).expand(3, 32, 32)
    colour = torch.tensor([0.8, 0.2, 0.5]).view(3, 1, 1).expand(3, 32, 32)
    images = (torch.stack([ramp, colour]) * 255).to(torch.uint8)
    n = 600
    for outputs in pipeline_outputs(images, n):
        ramps, colours = outputs[0::2], outputs[1::2]
        flipped = (ramps[:, 0, :, :4].mean(dim=(1, 2)) > ramps[:, 0, :, -4:].mean(dim=(1, 2))).sum()
        chroma = (colours.amax(dim=1) - colours.amin(dim=1)).amax(dim=(1, 2))
        gray = (chroma < 0.02).sum()
        assert rate_is(flipped, n, 0.5) and rate_is(gray, n, 0.2), (int(flipped), int(gray))


def test_pixel_statistics_match_torchvisions():
    """A coarse check of the whole recipe: per image and channel, the mean and the spread of the
    pixels of its augmentations are distributed alike (it only catches gross mistakes, such as a
    jitter twice too strong; the tests above check each draw precisely)."""
    from data.cifar10 import synthetic_objects
    images = torch.from_numpy(synthetic_objects(20, seed=3)[0])
    ours, theirs = pipeline_outputs(images, 40)
    statistics = (lambda x: x.mean(dim=(1, 2)), lambda x: x.std(dim=(1, 2)))
    for channel in range(3):
        for statistic in statistics:
            assert same_distribution(statistic(ours[:, channel]), statistic(theirs[:, channel]))
    mean, std = torch.tensor(augment.CIFAR10_MEAN).view(1, 3, 1, 1), torch.tensor(augment.CIFAR10_STD).view(1, 3, 1, 1)
    strong = augment.Augment(jitter=(0.8, 0.8, 0.8, 0.2))(images.repeat(40, 1, 1, 1), torch.Generator().manual_seed(12))
    strong = strong * std + mean
    assert not all(same_distribution(statistic(strong[:, channel]), statistic(theirs[:, channel]))
                   for channel in range(3) for statistic in statistics)


def test_views_are_reproducible_with_a_generator_and_differ_from_each_other():
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(13))
    first = augment.Augment().two_views(images, torch.Generator().manual_seed(0))
    again = augment.Augment().two_views(images, torch.Generator().manual_seed(0))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert first[0].shape == (8, 3, 32, 32) and first[0].dtype == torch.float32
    assert not torch.equal(first[0], first[1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_the_pipeline_runs_on_the_gpu():
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, device="cuda")
    views = augment.Augment().two_views(images, torch.Generator(device="cuda").manual_seed(0))
    assert views[0].device.type == "cuda" and torch.isfinite(views[0]).all()
