"""Hidden checks of the `ddpm` assignment (instructor only: the release leaves this file out).

They run the student's functions on the real schedule (the reference's tables, T = 1000), compare
with the reference or with closed forms, and judge the random functions by many draws.
"""
import torch
import torch.nn.functional as F

from grading import judge
from grading.assignments.ddpm.probes import standin_step
from grading.assignments.ddpm.public import Q1, Q2, Q3, Q4, Q5, Q6, randn
from grading.runner import SubmissionFailure


def real_tables(ref) -> dict:
    """The reference's eight tables (T = 1000): what every hidden check installs in the submission."""
    return ref.call("coefficients")["tables"]


def expected_tables(T: int, beta_start: float, beta_end: float) -> dict:
    """The eight tables in float64 from their definitions, for the submission's own settings."""
    betas = torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
    alphas = 1 - betas
    cumprod = torch.cumprod(alphas, dim=0)
    previous = torch.cat([torch.ones(1, dtype=torch.float64), cumprod[:-1]])
    return {"betas": betas, "alphas": alphas, "sqrt_recip_alphas": alphas.rsqrt(), "alphas_cumprod": cumprod,
            "sqrt_alphas_cumprod": cumprod.sqrt(), "sqrt_one_minus_alphas_cumprod": (1 - cumprod).sqrt(),
            "alphas_cumprod_prev": previous, "posterior_variance": betas * (1 - previous) / (1 - cumprod)}


def compare_tables(sub, names):
    got = sub.call("coefficients")
    expected = expected_tables(got["T"], got["beta_start"], got["beta_end"])
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
    args = {"x_start": randn(201, 6, 3, 8, 8), "t": torch.tensor([0, 1, 17, 250, 998, 999]),
            "noise": randn(202, 6, 3, 8, 8), "tables": real_tables(ref)}
    judge.close(sub.call("q_sample", **args), ref.call("q_sample", **args), "q_sample(x_0, t, noise)")


@Q2.check(points=1)
def draws_without_a_noise(sub, ref):
    """without a noise: mean sqrt(abar_t) x_0 and standard deviation sqrt(1 - abar_t) over 2000 draws"""
    x, t, tables = randn(211, 3, 2, 2, 2), torch.tensor([5, 400, 999]), real_tables(ref)
    draws = sub.call("q_sample", x_start=x, t=t, tables=tables, repeats=2000)
    mean = ref.call("q_sample", x_start=x, t=t, tables=tables, noise=torch.zeros_like(x))[0]
    std = ref.call("q_sample", x_start=x, t=t, tables=tables, noise=torch.ones_like(x))[0] - mean
    judge.distribution(draws, mean, std, "q_sample(x_0, t) without a given noise")


@Q3.check(points=1)
def the_mean_at_the_last_step(sub, ref):
    """t_index = 0: exactly the mean 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t) eps)"""
    args = {"x": randn(301, 4, 3, 6, 6), "t_index": 0, "tables": real_tables(ref)}
    judge.close(sub.call("p_sample", **args), ref.call("p_sample", **args), "p_sample(t_index=0)")


@Q3.check(points=2)
def draws_at_earlier_steps(sub, ref):
    """t_index > 0: mean and standard deviation sqrt(posterior_variance_t) of 1000 draws"""
    x, tables = randn(311, 2, 3, 4, 4), real_tables(ref)
    for t_index in (1, 3, 10, 300, 999):
        draws = sub.call("p_sample", x=x, t_index=t_index, tables=tables, repeats=1000)
        noise = ref.call("denoiser_output", x=x, t=torch.full((len(x),), t_index))
        coefficient = tables["betas"][t_index] / tables["sqrt_one_minus_alphas_cumprod"][t_index]
        mean = tables["sqrt_recip_alphas"][t_index] * (x - coefficient * noise)
        judge.distribution(draws, mean, tables["posterior_variance"][t_index].sqrt(),
                           f"p_sample(t_index={t_index})")


@Q4.check(points=1)
def a_chain_of_calls_from_pure_noise(sub, ref):
    """starts from N(0, I); each call gets the model, a full t and the previous output; stacks all"""
    batch = 256
    got = sub.call("p_sample_loop", shape=(batch, 1, 4, 4), timesteps=5)
    calls = got["calls"]
    judge.equal(len(calls), 5, "p_sample_loop(timesteps=5): number of calls to p_sample")
    judge.distribution(calls[0]["x"].flatten(), 0.0, 1.0, "p_sample_loop: the starting image x_T (standard normal)")
    for i, call in enumerate(calls):
        judge.expect(call["model"], "p_sample_loop must pass its `model` to p_sample")
        t = call["t"]
        judge.expect(tuple(t.shape) == (batch,) and bool((t == call["t_index"]).all()),
                     f"p_sample_loop: call {i + 1} to p_sample should get t = a ({batch},) tensor filled with "
                     f"{call['t_index']}, got {tuple(t.shape)} values")
        if i:
            judge.close(call["x"], standin_step(calls[i - 1]["x"], calls[i - 1]["t_index"]),
                        f"p_sample_loop: call {i + 1} to p_sample should get the output of call {i}")
    expected = torch.stack([standin_step(call["x"], call["t_index"]) for call in calls])
    judge.close(got["output"], expected, "p_sample_loop: the stacked outputs of p_sample, in order")


P_LOSSES_CASE = {"x_start": randn(501, 8, 3, 8, 8), "t": torch.tensor([50, 120, 300, 480, 620, 800, 950, 999])}


def p_losses_runs(sub, ref):
    """p_losses run as it is, and with a stand-in for q_sample (in case its own q_sample is wrong),
    on the real schedule: [(used the stand-in, result)]. A crash in one run is not a verdict."""
    runs, failures = [], []
    for standin in (False, True):
        try:
            runs.append((standin, sub.call("p_losses", **P_LOSSES_CASE, tables=real_tables(ref),
                                           standin_q_sample=standin)))
        except SubmissionFailure as failure:
            failures.append(failure)
    if not runs:
        raise failures[0]
    return runs


def noise_to_predict(run, tables):
    """The noise in the x_t the model was given: what q_sample's stand-in received, or, computed
    inline, (x_t - sqrt(abar_t) x_0) / sqrt(1 - abar_t)."""
    standin, got = run
    judge.equal(len(got["model_calls"]), 1, "p_losses: number of calls to the model")
    call, t = got["model_calls"][0], P_LOSSES_CASE["t"]
    judge.close(call["t"], t.float(), "p_losses: the times given to the model")
    if standin:
        judge.expect(len(got["noises"]) > 0, "p_losses never called q_sample")
        judge.close(call["x"], got["noises"][-1], "p_losses: the model's input should be q_sample's output")
        return got["noises"][-1]
    shape = (-1, 1, 1, 1)
    signal = tables["sqrt_alphas_cumprod"][t].view(shape) * P_LOSSES_CASE["x_start"]
    return (call["x"] - signal) / tables["sqrt_one_minus_alphas_cumprod"][t].view(shape)


@Q5.check(points=2)
def the_loss_on_the_real_schedule(sub, ref):
    """the smooth L1 loss between the model's prediction and the noise in its input"""
    tables = real_tables(ref)

    def right(run):
        got = run[1]
        noise = noise_to_predict(run, tables)
        judge.expect(got["attached"], "p_losses: the loss does not carry gradients to the model")
        expected = F.smooth_l1_loss(got["model_calls"][0]["output"].double(), noise.double()).item()
        judge.close(got["loss"], expected, "p_losses (smooth L1 between predicted and true noise)")

    judge.any_of(p_losses_runs(sub, ref), right)


@Q5.check(points=1)
def the_noise_is_standard_normal(sub, ref):
    """the noise added to x_0 is standard normal"""
    tables = real_tables(ref)
    judge.any_of(p_losses_runs(sub, ref), lambda run: judge.distribution(
        noise_to_predict(run, tables).flatten(), 0.0, 1.0, "p_losses: the noise added to x_0"))


@Q6.check(points=1)
def uniform_over_every_time(sub, ref):
    """draws cover 0..timesteps-1 uniformly (timesteps = 10 and 1000)"""
    for timesteps, n in ((10, 20000), (1000, 50000)):
        got = sub.call("t_sample", timesteps=timesteps, batch_size=n)
        judge.uniform_integers(got["values"], 0, timesteps - 1, f"t_sample({timesteps}, {n})")
