"""Comparisons for checks, each failing with a message a student can act on.

Values here are what came back through `grading.wire` (Python numbers, strings, lists, dicts,
torch tensors), so the comparisons run in the grader on plain data and cannot be monkeypatched
by a submission.

In a hidden check (`grading.shared.in_hidden_check()`), a message says what is wrong (the shape,
the property, by how much) but never shows the expected value: its inputs are secret.
"""
import itertools
import math

import torch

from grading.rubric import CheckFailed, GraderBug, SubmissionFailure
from grading.shared import in_hidden_check


def _show(value) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= 6:
            return str([round(v, 6) if isinstance(v, float) else v for v in value.flatten().tolist()])
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def _expected(value) -> str:
    """How a message names the expected value: shown in public checks only."""
    return "another value" if in_hidden_check() else _show(value)


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
            detail = f"got {_show(actual)}, expected {_show(expected)}" \
                if expected.numel() <= 6 and not in_hidden_check() else f"largest difference {gap:.1g}"
            raise CheckFailed(f"{what}: wrong values ({detail})")
        return
    got, want = number(actual, what), number(expected, what)
    if math.isnan(got) and not math.isnan(want):
        raise CheckFailed(f"{what}: got NaN, expected {_expected(want)}")
    if not math.isclose(got, want, rel_tol=rtol, abs_tol=atol) and not (math.isinf(got) and got == want):
        if in_hidden_check():
            error = abs(got - want) / max(abs(want), atol)
            raise CheckFailed(f"{what}: got {got:.6g}, off by about {error:.0%}" if math.isfinite(error)
                              else f"{what}: got {got:.6g}, not the expected value")
        raise CheckFailed(f"{what}: got {got:.6g}, expected {want:.6g}")


def equal(actual, expected, what: str) -> None:
    """Exact equality (values and shape for tensors; == otherwise)."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            raise CheckFailed(f"{what}: expected a tensor, got {type(actual).__name__}")
        if tuple(actual.shape) != tuple(expected.shape):
            raise CheckFailed(f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}")
        if not torch.equal(actual.double(), expected.double()):
            raise CheckFailed(f"{what}: got {_show(actual)}, expected {_expected(expected)}")
        return
    if actual != expected:
        raise CheckFailed(f"{what}: got {_show(actual)}, expected {_expected(expected)}")


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


def naming_mistakes(got, expected, mistakes, compare) -> None:
    """`compare(got, expected)` (raises CheckFailed); when it fails and `got` matches one of the
    `mistakes` [(message, what that mistake gives)], the failure names that mistake instead:
    feedback that teaches ("normalized with its own statistics") rather than "wrong values"."""
    try:
        compare(got, expected)
        return
    except CheckFailed as failure:
        for message, candidate in mistakes:
            try:
                compare(got, candidate)
            except (CheckFailed, RuntimeError, ValueError, TypeError):
                continue
            raise CheckFailed(message) from None
        raise failure


def close_unless(got, expected, what, mistakes=(), rtol=1e-4, atol=1e-5) -> None:
    """`close`, but when `got` matches one of `mistakes` ((value, explanation) pairs) the message
    names that mistake."""
    naming_mistakes(got, expected, [(f"{what}: {explanation}", value) for value, explanation in mistakes],
                    lambda a, b: close(a, b, what, rtol=rtol, atol=atol))


def with_or_without_helpers(sub, ref, probe: str, helpers, compare, **args) -> None:
    """Judge a function meant to call helpers the student also writes, whatever their correctness.

    `probe` must take a `standins` argument (names of the helpers it swaps for stand-ins, see
    `grading.probing.with_standins`). The submission runs once with every helper swapped and once
    as it is. It is right if the first run matches the reference run with any subset of the
    stand-ins (it calls some helpers and computes the rest inline), or if the second matches the
    plain reference run (it computes everything itself, correctly). `compare(got, expected)`
    raises CheckFailed when they differ.
    """
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


# Random functions are judged by many draws, whatever order the submission draws its numbers in:
# their moments, the shape of their distribution (a goodness-of-fit test) and their independence
# across calls. The child's generators are seeded from the submission's key before every call, so
# the verdict on a given file is the same every time. Every bound is wide (6 standard errors, or a
# p-value of 1e-9) so that a correct answer fails by chance less than once in a hundred million.

MIN_P_VALUE = 1e-9


def _ks_p_value(statistic: float, n: int) -> float:
    """Asymptotic p-value of a Kolmogorov-Smirnov statistic on n values (Kolmogorov's series)."""
    x = (n ** 0.5 + 0.12 + 0.11 / n ** 0.5) * statistic
    if x < 0.2:
        return 1.0
    return max(0.0, min(1.0, 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, 101))))


def _normal_fit(z: torch.Tensor, what: str) -> None:
    """Standardized draws `z` (any shape, float64) follow N(0, 1): a Kolmogorov-Smirnov test."""
    z = z.flatten().sort().values
    n = len(z)
    if n < 50:
        return
    cdf = torch.special.ndtr(z)
    steps = torch.arange(1, n + 1, dtype=torch.float64) / n
    statistic = max((steps - cdf).max().item(), (cdf - (steps - 1 / n)).max().item())
    if _ks_p_value(statistic, n) < MIN_P_VALUE:
        raise CheckFailed(f"{what}: the draws are not normally distributed (Kolmogorov-Smirnov distance "
                          f"{statistic:.3f} over {n} values; a normal sample stays under "
                          f"{(-0.5 * math.log(MIN_P_VALUE / 2)) ** 0.5 / n ** 0.5:.3f})")


def distribution(samples: torch.Tensor, mean, std, what: str, sigmas: float = 6.0) -> None:
    """Draws `samples` (n, ...) are, element-wise, normal with the expected `mean` and `std`
    (tensors or numbers broadcastable to one draw)."""
    if not isinstance(samples, torch.Tensor) or samples.dim() < 1 or samples.shape[0] < 2:
        raise CheckFailed(f"{what}: expected many draws, got {_show(samples)}")
    samples = samples.double()
    n = samples.shape[0]
    mean = torch.as_tensor(mean, dtype=torch.float64).expand_as(samples[0])
    std = torch.as_tensor(std, dtype=torch.float64).expand_as(samples[0])
    if torch.isnan(samples).any():
        raise CheckFailed(f"{what}: the draws contain NaN")
    hidden = in_hidden_check()
    mean_gap = ((samples.mean(0) - mean).abs() / (std / n ** 0.5 + 1e-12)).max().item()
    if mean_gap > sigmas:
        raise CheckFailed(f"{what}: the mean of {n} draws is off by {mean_gap:.1f} standard errors"
                          + ("" if hidden else f" (observed {samples.mean().item():.4g} on average, "
                                               f"expected {mean.mean().item():.4g})"))
    std_gap = ((samples.std(0) - std).abs() / (std / (2 * n) ** 0.5 + 1e-12)).max().item()
    if std_gap > sigmas:
        raise CheckFailed(f"{what}: the standard deviation of {n} draws is off by {std_gap:.1f} standard errors"
                          + ("" if hidden else f" (observed {samples.std(0).mean().item():.4g} on average, "
                                               f"expected {std.mean().item():.4g})"))
    random = std > 0
    if random.any():
        _normal_fit(((samples - mean) / std.clamp(min=1e-300))[:, random], what)


def _chi_square_p_values(counts: torch.Tensor, expected: float):
    """(p of too large a chi-square, p of too small a one) for counts of equally likely values,
    with the Wilson-Hilferty normal approximation."""
    k = len(counts) - 1
    if k < 1:
        return 1.0, 1.0
    chi2 = (((counts - expected) ** 2) / expected).sum().item()
    z = ((chi2 / k) ** (1 / 3) - (1 - 2 / (9 * k))) / (2 / (9 * k)) ** 0.5
    return 0.5 * math.erfc(z / 2 ** 0.5), 0.5 * math.erfc(-z / 2 ** 0.5)


def uniform_integers(samples: torch.Tensor, low: int, high: int, what: str) -> None:
    """Integer draws cover exactly low..high (inclusive), each value about equally often -- but not
    too evenly (a fixed cycle is not random) -- with no dependence between consecutive draws."""
    if not isinstance(samples, torch.Tensor) or samples.dtype.is_floating_point or samples.numel() < 2:
        raise CheckFailed(f"{what}: expected integer draws, got {_show(samples)}")
    values = samples.flatten().long()
    if values.min().item() < low or values.max().item() > high:
        raise CheckFailed(f"{what}: draws range over {values.min().item()}..{values.max().item()}, "
                          f"expected {low}..{high}")
    counts = torch.bincount(values - low, minlength=high - low + 1).double()
    expected = len(values) / (high - low + 1)
    too_uneven, too_even = _chi_square_p_values(counts, expected)
    if too_uneven < MIN_P_VALUE:
        worst = ((counts - expected).abs() / expected ** 0.5).max().item()
        raise CheckFailed(f"{what}: some values come too often or too rarely, up to {worst:.1f} standard errors "
                          "(not uniform)")
    if too_even < MIN_P_VALUE:
        raise CheckFailed(f"{what}: every value comes almost exactly as often as the others, "
                          "more evenly than random draws ever do (a fixed pattern?)")
    _no_serial_dependence(values.double(), what)


def _no_serial_dependence(values: torch.Tensor, what: str, sigmas: float = 6.0) -> None:
    """Consecutive draws are uncorrelated (a cycle or a running counter is not)."""
    if len(values) < 50 or values.std() == 0:
        return
    centred = (values - values.mean()) / values.std()
    correlation = (centred[1:] * centred[:-1]).mean().item()
    if abs(correlation) * len(values) ** 0.5 > sigmas:
        raise CheckFailed(f"{what}: each draw depends on the previous one (correlation {correlation:.2f})")


def independent_draws(first: torch.Tensor, second: torch.Tensor, what: str, sigmas: float = 6.0) -> None:
    """Two calls with the same arguments gave independent draws: not the same values, and
    uncorrelated (a file that replays one fixed draw is not random)."""
    if not (isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor)) or first.shape != second.shape:
        raise CheckFailed(f"{what}: two calls returned draws of different shapes")
    a, b = first.double().flatten(), second.double().flatten()
    if torch.equal(a, b):
        raise CheckFailed(f"{what}: two calls drew exactly the same values (the draws must be random)")
    if len(a) >= 50 and a.std() > 0 and b.std() > 0:
        correlation = torch.corrcoef(torch.stack([a, b]))[0, 1].item()
        if abs(correlation) * len(a) ** 0.5 > sigmas:
            raise CheckFailed(f"{what}: the draws of two calls are correlated ({correlation:.2f})")
