"""The comparisons checks use: they pass right answers and fail wrong ones with a clear message."""
import pytest
import torch

from grading import judge
from grading.rubric import CheckFailed


def draws(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_close_equal_and_any_of():
    judge.close(torch.ones(3), torch.ones(3) + 1e-7, "x")
    with pytest.raises(CheckFailed, match="shape"):
        judge.close(torch.ones(3), torch.ones(4), "x")
    with pytest.raises(CheckFailed, match="NaN"):
        judge.close(torch.tensor([float("nan")]), torch.ones(1), "x")
    with pytest.raises(CheckFailed, match="got 2, expected 1"):
        judge.close(2.0, 1.0, "x")
    judge.any_close(3.0, [1.0, 3.0], "x")
    with pytest.raises(CheckFailed):
        judge.equal(torch.tensor([1, 2]), torch.tensor([1, 3]), "x")


def test_distribution_accepts_right_draws_and_refuses_wrong_ones():
    mean, std = torch.tensor([0.0, 2.0, -1.0]), torch.tensor([1.0, 0.5, 3.0])
    samples = mean + std * draws(0, 4000, 3)
    judge.distribution(samples, mean, std, "draws")
    with pytest.raises(CheckFailed, match="mean"):
        judge.distribution(samples + 0.2, mean, std, "draws")
    with pytest.raises(CheckFailed, match="standard deviation"):
        judge.distribution(mean + std ** 2 * draws(1, 4000, 3), mean, std, "draws")  # variance for std


def test_uniform_integers():
    generator = torch.Generator().manual_seed(0)
    judge.uniform_integers(torch.randint(0, 10, (5000,), generator=generator), 0, 9, "t")
    with pytest.raises(CheckFailed, match="range"):
        judge.uniform_integers(torch.randint(1, 11, (5000,), generator=generator), 0, 9, "t")
    with pytest.raises(CheckFailed, match="not uniform"):
        judge.uniform_integers(torch.randint(0, 5, (5000,), generator=generator) * 2, 0, 9, "t")
