"""Comparisons for checks, each failing with a message a student can act on.

Values here are what came back through `grading.wire` (Python numbers, strings, lists, dicts,
torch tensors), so the comparisons run in the grader on plain data and cannot be monkeypatched
by a submission.
"""
import itertools
import math

import torch

from grading.rubric import CheckFailed


def _show(value) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= 6:
            return str([round(v, 6) if isinstance(v, float) else v for v in value.flatten().tolist()])
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def number(value, what: str) -> float:
    """A finite or infinite float from a number or a one-element tensor."""
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        raise CheckFailed(f"{what}: expected a number, got {type(value).__name__}")
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise CheckFailed(f"{what}: expected a single number, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    return float(value)


def close(actual, expected, what: str, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """`actual` equals `expected` (numbers or tensors) within tolerances, with no NaN."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            raise CheckFailed(f"{what}: expected a tensor of shape {tuple(expected.shape)}, "
                              f"got {type(actual).__name__}")
        if tuple(actual.shape) != tuple(expected.shape):
            raise CheckFailed(f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}")
        actual64, expected64 = actual.double(), expected.double()
        if torch.isnan(actual64).any() and not torch.isnan(expected64).any():
            raise CheckFailed(f"{what}: contains NaN")
        if not torch.allclose(actual64, expected64, rtol=rtol, atol=atol, equal_nan=True):
            gap = (actual64 - expected64).abs().nan_to_num(nan=math.inf).max().item()
            detail = f"got {_show(actual)}, expected {_show(expected)}" if expected.numel() <= 6 \
                else f"largest difference {gap:.3g}"
            raise CheckFailed(f"{what}: wrong values ({detail})")
        return
    got, want = number(actual, what), number(expected, what)
    if math.isnan(got) and not math.isnan(want):
        raise CheckFailed(f"{what}: got NaN, expected {want:.6g}")
    if not math.isclose(got, want, rel_tol=rtol, abs_tol=atol) and not (math.isinf(got) and got == want):
        raise CheckFailed(f"{what}: got {got:.6g}, expected {want:.6g}")


def equal(actual, expected, what: str) -> None:
    """Exact equality (values and shape for tensors; == otherwise)."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            raise CheckFailed(f"{what}: expected a tensor, got {type(actual).__name__}")
        if tuple(actual.shape) != tuple(expected.shape):
            raise CheckFailed(f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}")
        if not torch.equal(actual.double(), expected.double()):
            raise CheckFailed(f"{what}: got {_show(actual)}, expected {_show(expected)}")
        return
    if actual != expected:
        raise CheckFailed(f"{what}: got {_show(actual)}, expected {_show(expected)}")


def any_of(candidates, compare) -> None:
    """Pass if `compare(candidate)` passes for at least one candidate (several acceptable
    answers); otherwise fail with the first candidate's message."""
    first_failure = None
    for candidate in candidates:
        try:
            compare(candidate)
            return
        except CheckFailed as failure:
            first_failure = first_failure or failure
    raise first_failure


def with_or_without_helpers(sub, ref, probe: str, helpers, compare, **args) -> None:
    """Judge a function meant to call helpers the student also writes, whatever their correctness.

    `probe` must take a `standins` argument (names of the helpers it swaps for stand-ins, see
    `grading.probing.with_standins`). The submission runs once with every helper swapped and once
    as it is. It is right if the first run matches the reference run with any subset of the
    stand-ins (it calls some helpers and computes the rest inline), or if the second matches the
    plain reference run (it computes everything itself, correctly). `compare(got, expected)`
    raises CheckFailed when they differ.
    """
    from grading.grader import GraderBug
    from grading.runner import SubmissionFailure
    subsets = [list(s) for n in range(len(helpers), 0, -1) for s in itertools.combinations(helpers, n)]
    pairs, failures = [], []
    for standins, expected in ((list(helpers), None), ([], [ref.call(probe, standins=[], **args)])):
        try:
            got = sub.call(probe, standins=standins, **args)
        except SubmissionFailure as failure:  # its own helper crashes, or it mixes stand-ins and its code
            failures.append(failure)
            continue
        if expected is None:
            expected = []
            for subset in subsets:
                try:
                    expected.append(ref.call(probe, standins=subset, **args))
                except GraderBug:  # a mix the reference cannot run (a stand-in's output fed to real code)
                    continue
        pairs += [(got, candidate) for candidate in expected]
    if not pairs:
        raise failures[0]
    any_of(pairs, lambda pair: compare(*pair))


def any_close(actual, candidates, what: str, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """`actual` is close to at least one of several acceptable answers."""
    any_of(candidates, lambda candidate: close(actual, candidate, what, rtol, atol))


# Random functions are judged by the distribution of many draws, whatever order the submission
# draws its numbers in. The child resets its generators before every call, so the verdict on a
# given submission is the same every time; the bounds are wide enough (6 standard errors) that a
# correct answer fails by chance less than once in a hundred million.

def distribution(samples: torch.Tensor, mean, std, what: str, sigmas: float = 6.0) -> None:
    """Draws `samples` (n, ...) have, element-wise, the expected `mean` and `std` (tensors or
    numbers broadcastable to one draw)."""
    if not isinstance(samples, torch.Tensor) or samples.dim() < 1 or samples.shape[0] < 2:
        raise CheckFailed(f"{what}: expected many draws, got {_show(samples)}")
    samples = samples.double()
    n = samples.shape[0]
    mean = torch.as_tensor(mean, dtype=torch.float64).expand_as(samples[0])
    std = torch.as_tensor(std, dtype=torch.float64).expand_as(samples[0])
    if torch.isnan(samples).any():
        raise CheckFailed(f"{what}: the draws contain NaN")
    mean_gap = ((samples.mean(0) - mean).abs() / (std / n ** 0.5 + 1e-12)).max().item()
    if mean_gap > sigmas:
        raise CheckFailed(f"{what}: the mean of {n} draws is off by {mean_gap:.1f} standard errors "
                          f"(observed {samples.mean().item():.4g} on average, expected {mean.mean().item():.4g})")
    std_gap = ((samples.std(0) - std).abs() / (std / (2 * n) ** 0.5 + 1e-12)).max().item()
    if std_gap > sigmas:
        raise CheckFailed(f"{what}: the standard deviation of {n} draws is off by {std_gap:.1f} standard errors "
                          f"(observed {samples.std(0).mean().item():.4g} on average, expected {std.mean().item():.4g})")


def uniform_integers(samples: torch.Tensor, low: int, high: int, what: str, sigmas: float = 6.0) -> None:
    """Integer draws cover exactly low..high (inclusive), each value about equally often."""
    if not isinstance(samples, torch.Tensor) or samples.dtype.is_floating_point:
        raise CheckFailed(f"{what}: expected integer draws, got {_show(samples)}")
    values = samples.flatten().long()
    if values.min().item() < low or values.max().item() > high:
        raise CheckFailed(f"{what}: draws range over {values.min().item()}..{values.max().item()}, "
                          f"expected {low}..{high}")
    counts = torch.bincount(values - low, minlength=high - low + 1).double()
    expected = len(values) / (high - low + 1)
    worst = ((counts - expected).abs() / expected ** 0.5).max().item()
    if worst > sigmas:
        raise CheckFailed(f"{what}: some values come {worst:.1f} standard errors too often or too rarely "
                          "(not uniform)")
