"""Hidden checks of the `ddpm` assignment (instructor only: the release leaves this file out).

They run the student's functions on the real schedule (the reference's tables, T = 1000), on
inputs built when the check runs from seeds mixed with the submission's key (see
`grading.shared`), compare with the reference or with closed forms computed here, and judge the
random functions by many draws and their independence. Messages say what is wrong, never a hidden
input or its expected value.
"""
import torch

from grading import judge
from grading.assignments.ddpm.public import (
    Q1,
    Q2,
    Q3,
    Q4,
    Q5,
    Q6,
    expect_chain,
    expect_loss,
    reverse_mean,
    schedule_tables,
)
from grading.rubric import SubmissionFailure
from grading.shared import randint, randn


def real_tables(ref) -> dict:
    """The reference's eight tables (T = 1000): what every hidden check installs in the submission."""
    return ref.call("coefficients")["tables"]


def times(seed: int, n: int, T: int = 1000) -> torch.Tensor:
    """n times in 0..T-1, the first and the last among them."""
    return torch.cat([torch.tensor([0, T - 1]), randint(seed, 0, T, (n - 2,))])


def compare_tables(sub, names):
    got = sub.call("coefficients")
    expected = schedule_tables(torch.linspace(got["beta_start"], got["beta_end"], got["T"], dtype=torch.float64))
    for name in names:  # float32 cumulative products drift by ~1e-5 relative over 1000 steps
        judge.close(got["tables"][name], expected[name], f"`{name}`", rtol=1e-3, atol=1e-7)


@Q1.check(points=1)
def the_schedule(sub, ref):
    """betas, alphas and 1 / sqrt(alphas), element-wise"""
    compare_tables(sub, ("betas", "alphas", "sqrt_recip_alphas"))


@Q1.check(points=1)
def the_cumulative_products(sub, ref):
    """alphas_cumprod, its square root and sqrt(1 - alphas_cumprod), element-wise"""
    compare_tables(sub, ("alphas_cumprod", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod"))


@Q1.check(points=1)
def the_posterior(sub, ref):
    """alphas_cumprod_prev and posterior_variance, element-wise"""
    compare_tables(sub, ("alphas_cumprod_prev", "posterior_variance"))


@Q2.check(points=2)
def a_given_noise(sub, ref):
    """the real schedule, a given noise and a different time per image"""
    args = {"x_start": randn(201, 6, 3, 8, 8), "t": times(203, 6), "noise": randn(202, 6, 3, 8, 8),
            "tables": real_tables(ref)}
    judge.close(sub.call("q_sample", **args), ref.call("q_sample", **args), "q_sample(x_0, t, noise)")


@Q2.check(points=1)
def draws_without_a_noise(sub, ref):
    """without a noise: mean sqrt(abar_t) x_0, standard deviation sqrt(1 - abar_t) over 2000 draws, \
new ones every call"""
    x, t, tables = randn(211, 3, 2, 2, 2), times(212, 3), real_tables(ref)
    first = sub.call("q_sample", x_start=x, t=t, tables=tables, repeats=2000)
    mean = ref.call("q_sample", x_start=x, t=t, tables=tables, noise=torch.zeros_like(x))[0]
    std = ref.call("q_sample", x_start=x, t=t, tables=tables, noise=torch.ones_like(x))[0] - mean
    judge.distribution(first, mean, std, "q_sample(x_0, t) without a given noise")
    second = sub.call("q_sample", x_start=x, t=t, tables=tables, repeats=2000)
    judge.independent_draws((first - mean) / std, (second - mean) / std, "q_sample(x_0, t) without a given noise")


@Q3.check(points=1)
def the_mean_at_the_last_step(sub, ref):
    """t_index = 0: exactly the mean 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t) eps)"""
    args = {"x": randn(301, 4, 3, 6, 6), "t_index": 0, "tables": real_tables(ref)}
    judge.close(sub.call("p_sample", **args), ref.call("p_sample", **args), "p_sample(t_index=0)")


@Q3.check(points=2)
def draws_at_earlier_steps(sub, ref):
    """t_index > 0: mean and standard deviation sqrt(posterior_variance_t) of 1000 draws, new ones every call"""
    x, tables = randn(311, 2, 3, 4, 4), real_tables(ref)
    for t_index in (1, 3, 10, 300, 999, int(randint(312, 2, 998, (1,)))):
        draws = sub.call("p_sample", x=x, t_index=t_index, tables=tables, repeats=1000)
        mean, std = reverse_mean(x, t_index, tables), tables["posterior_variance"][t_index].double().sqrt()
        judge.distribution(draws, mean, std, "p_sample at a time t_index > 0")
    again = sub.call("p_sample", x=x, t_index=t_index, tables=tables, repeats=1000)
    judge.independent_draws((draws - mean) / std, (again - mean) / std, "p_sample at a time t_index > 0")


@Q4.check(points=1)
def a_chain_of_calls_from_pure_noise(sub, ref):
    """starts from N(0, I); each call gets the model, a full t and the previous output; stacks all"""
    batch = 256
    got = sub.call("p_sample_loop", shape=(batch, 1, 4, 4), timesteps=5)
    calls = got["calls"]
    judge.equal(len(calls), 5, "p_sample_loop(timesteps=5): number of calls to p_sample")
    judge.distribution(calls[0]["x"].flatten(), 0.0, 1.0, "p_sample_loop: the starting image x_T (standard normal)")
    for call in calls:
        judge.expect(call["model"], "p_sample_loop must pass its `model` to p_sample")
    expect_chain(got, batch, "p_sample_loop")
    again = sub.call("p_sample_loop", shape=(batch, 1, 4, 4), timesteps=5)["calls"]
    judge.expect(bool(again), "p_sample_loop never called p_sample")
    judge.independent_draws(calls[0]["x"], again[0]["x"], "p_sample_loop: the starting image x_T")


def expect_uncorrelated(noise, x, what, sigmas=6.0):
    """A noise drawn independently of x is not correlated with it."""
    a, b = noise.double().flatten(), x.double().flatten()
    correlation = torch.corrcoef(torch.stack([a, b]))[0, 1].item()
    judge.expect(abs(correlation) * len(a) ** 0.5 <= sigmas, f"{what} is correlated with x_0 ({correlation:.2f}): "
                                                             "draw it independently (torch.randn_like)")


def p_losses_case():
    return {"x_start": randn(501, 8, 3, 8, 8), "t": times(502, 8)}


def p_losses_runs(sub, case, tables):
    """p_losses run as it is, and with a stand-in for q_sample (in case its own q_sample is wrong),
    on the real schedule: [result]. A crash in one run is not a verdict."""
    runs, failures = [], []
    for standin in (False, True):
        try:
            runs.append(sub.call("p_losses", **case, tables=tables, standin_q_sample=standin))
        except SubmissionFailure as failure:
            failures.append(failure)
    if not runs:
        raise failures[0]
    return runs


@Q5.check(points=2)
def the_loss_on_the_real_schedule(sub, ref):
    """the smooth L1 loss between the model's prediction and the standard normal noise in its input, and its gradient"""
    case, tables = p_losses_case(), real_tables(ref)

    def right(got):
        noise = expect_loss(got, case["x_start"], case["t"], tables, "p_losses")
        judge.distribution(noise.flatten(), 0.0, 1.0, "p_losses: the noise added to x_0")

    judge.any_of(p_losses_runs(sub, case, tables), right)


@Q5.check(points=1)
def a_fresh_standard_normal_noise(sub, ref):
    """the noise added to x_0 is standard normal, independent of x_0, new every call"""
    case, tables = p_losses_case(), real_tables(ref)

    def right(pair):
        first, second = (expect_loss(got, case["x_start"], case["t"], tables, "p_losses") for got in pair)
        judge.distribution(first.flatten(), 0.0, 1.0, "p_losses: the noise added to x_0")
        expect_uncorrelated(first, case["x_start"], "p_losses: the noise added to x_0")
        judge.independent_draws(first, second, "p_losses: the noises of two calls")

    judge.any_of(list(zip(p_losses_runs(sub, case, tables), p_losses_runs(sub, case, tables))), right)


@Q6.check(points=1)
def uniform_over_every_time(sub, ref):
    """draws cover 0..timesteps-1 uniformly (timesteps = 10 and 1000), new ones every call"""
    for timesteps, n in ((10, 20000), (1000, 50000)):
        first = sub.call("t_sample", timesteps=timesteps, batch_size=n)["values"]
        judge.uniform_integers(first, 0, timesteps - 1, f"t_sample({timesteps}, {n})")
    second = sub.call("t_sample", timesteps=timesteps, batch_size=n)["values"]
    judge.independent_draws(first, second, f"t_sample({timesteps}, {n})")
