"""Questions of the `ddpm` assignment (20 points) and their public checks.

Public checks ship to students: they check the statement's facts on short schedules written out
here (a schedule that destroys nothing, one that destroys everything at once, a short consistent
one), never the reference solution. Every expected value is computed here, in the grader, with
the grader's own copy of the stand-ins (probes.py): what the submission's process reports about
itself (the model's calls, the noises it drew) is checked, never trusted. Where a common mistake
can be recognised, the message names it. The hidden checks (hidden.py, instructor only) compare
with the reference on the real schedule, and judge the random functions by many draws.
"""
import torch
import torch.nn.functional as F

from grading import judge
from grading.assignments.ddpm import probes
from grading.rubric import CheckFailed, Question
from grading.shared import rand, randn

Q1 = Question("Q1", "coefficients", points=4)
Q2 = Question("Q2", "q_sample", points=4)
Q3 = Question("Q3", "p_sample", points=4)
Q4 = Question("Q4", "p_sample_loop", points=2)
Q5 = Question("Q5", "p_losses", points=4)
Q6 = Question("Q6", "t_sample", points=2)
QUESTIONS = [Q1, Q2, Q3, Q4, Q5, Q6]

TABLES = probes.TABLES


def schedule_tables(betas: torch.Tensor) -> dict:
    """The eight tables of a schedule, from their definitions, in float64."""
    betas = betas.double()
    alphas = 1 - betas
    cumprod = torch.cumprod(alphas, dim=0)
    previous = torch.cat([torch.ones(1, dtype=torch.float64), cumprod[:-1]])
    return {"betas": betas, "alphas": alphas, "sqrt_recip_alphas": alphas.rsqrt(), "alphas_cumprod": cumprod,
            "sqrt_alphas_cumprod": cumprod.sqrt(), "sqrt_one_minus_alphas_cumprod": (1 - cumprod).sqrt(),
            "alphas_cumprod_prev": previous, "posterior_variance": betas * (1 - previous) / (1 - cumprod)}


def short_schedule(T: int = 20) -> dict:
    """A short linear schedule (beta from 0.05 to 0.5): every table has values far from 0 and 1, so
    a missing square root or a table used for another shows. float32, as the module's."""
    return {name: table.float() for name, table in schedule_tables(torch.linspace(0.05, 0.5, T)).items()}


def limit_schedule(beta: int, T: int = 20) -> dict:
    """The tables of two limit schedules, written out: beta_t = 0 for every t (the images never
    change) or beta_t = 1 (x_1 is already pure noise)."""
    ones, zeros = torch.ones(T), torch.zeros(T)
    first = torch.cat([torch.ones(1), torch.zeros(T - 1)])  # 1, 0, 0, ...
    if beta == 0:
        return {"betas": zeros, "alphas": ones, "sqrt_recip_alphas": ones, "alphas_cumprod": ones,
                "sqrt_alphas_cumprod": ones, "sqrt_one_minus_alphas_cumprod": zeros,
                "alphas_cumprod_prev": ones, "posterior_variance": zeros}
    return {"betas": ones, "alphas": zeros, "sqrt_recip_alphas": torch.full((T,), float("inf")),
            "alphas_cumprod": zeros, "sqrt_alphas_cumprod": zeros, "sqrt_one_minus_alphas_cumprod": ones,
            "alphas_cumprod_prev": first, "posterior_variance": 1 - first}


def arbitrary_tables(seed: int, T: int = 20) -> dict:
    """Positive tables of no particular schedule (posterior_variance[0] > 0, unlike a real one)."""
    return {name: 0.1 + 0.8 * rand(seed + i, T) for i, name in enumerate(TABLES)}


def per_image(table: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """table[t] shaped (B, 1, 1, 1), in float64."""
    return table.double()[t].view(-1, 1, 1, 1)


def denoised(x: torch.Tensor, t, kind: str = "smooth", offset: float = 0.0, scale=None) -> torch.Tensor:
    """The stand-in noise model's prediction, computed here (float64; `scale` may be a tensor that
    requires grad)."""
    time = torch.as_tensor(t).double().reshape(-1, *([1] * (x.dim() - 1)))
    scale = torch.tensor(1.0, dtype=torch.float64) if scale is None else scale
    if kind == "shift":
        return x.double() + offset * scale
    return scale * torch.tanh(0.8 * x.double() + 0.3 * torch.sin(time / 50))


def reverse_mean(x, t_index, tables):
    """The mean of p(x_{t-1} | x_t) with the stand-in noise model, float64."""
    t = torch.full((len(x),), t_index)
    coefficient = per_image(tables["betas"], t) / per_image(tables["sqrt_one_minus_alphas_cumprod"], t)
    return per_image(tables["sqrt_recip_alphas"], t) * (x.double() - coefficient * denoised(x, t))


# -- Q1 ------------------------------------------------------------------------------------------

def expect_table(tables, name, expected, what, mistakes=()):
    """tables[name] equals `expected` (float32 precision); `mistakes`: (value, message) pairs
    naming a recognisable wrong table."""
    got = tables[name].double()
    for value, message in mistakes:
        if got.shape == value.shape and torch.allclose(got, value.double(), rtol=1e-3, atol=1e-7):
            raise CheckFailed(f"`{name}`: {message}")
    judge.close(got, expected, f"`{name}` ({what})", rtol=1e-3, atol=1e-7)


@Q1.check(points=1, public=True)
def shapes_and_the_relations_between_the_tables(sub, ref):
    """eight finite (T,) tables; betas from beta_start to beta_end; each table from betas as the statement defines it"""
    got = sub.call("coefficients")
    tables, T = got["tables"], got["T"]
    for name in TABLES:
        judge.expect(tuple(tables[name].shape) == (T,),
                     f"`{name}` has shape {tuple(tables[name].shape)}; expected ({T},)")
        judge.expect(tables[name].dtype.is_floating_point, f"`{name}` holds {tables[name].dtype}; expected floats")
        judge.expect(bool(torch.isfinite(tables[name]).all()), f"`{name}` contains NaN or infinite values")
    judge.close(tables["betas"][[0, -1]], torch.tensor([got["beta_start"], got["beta_end"]]),
                "`betas` (first and last values: beta_start and beta_end)")
    betas = tables["betas"].double()
    alphas, cumprod = 1 - betas, torch.cumprod(1 - betas, 0)
    previous = torch.cat([torch.ones(1, dtype=torch.float64), cumprod[:-1]])
    expect_table(tables, "alphas", alphas, "1 - betas")
    expect_table(tables, "sqrt_recip_alphas", alphas.rsqrt(), "1 / sqrt(alphas)",
                 [(alphas.sqrt(), "sqrt(alphas), not its inverse 1 / sqrt(alphas)")])
    expect_table(tables, "alphas_cumprod", cumprod, "the cumulative product of alphas")
    expect_table(tables, "sqrt_alphas_cumprod", cumprod.sqrt(), "sqrt(alphas_cumprod)")
    expect_table(tables, "sqrt_one_minus_alphas_cumprod", (1 - cumprod).sqrt(), "sqrt(1 - alphas_cumprod)",
                 [(1 - cumprod.sqrt(), "1 - sqrt(alphas_cumprod); the square root of 1 - alphas_cumprod is expected")])
    expect_table(tables, "alphas_cumprod_prev", previous, "alphas_cumprod shifted right by one, starting with 1",
                 [(torch.cat([torch.zeros(1, dtype=torch.float64), cumprod[:-1]]),
                   "starts with 0: pad the shifted alphas_cumprod with 1 (abar_0 = 1: nothing destroyed yet)"),
                  (torch.cat([cumprod[1:], torch.ones(1, dtype=torch.float64)]),
                   "shifted left; it is abar_{t-1}: shifted right, starting with 1")])
    expect_table(tables, "posterior_variance", betas * (1 - previous) / (1 - cumprod),
                 "betas (1 - alphas_cumprod_prev) / (1 - alphas_cumprod)",
                 [(betas * (1 - cumprod) / (1 - cumprod), "it equals betas: the numerator needs alphas_cumprod_prev "
                                                           "(1 - abar_{t-1}), not alphas_cumprod")])


# -- Q2 ------------------------------------------------------------------------------------------

@Q2.check(points=1, public=True)
def limit_schedules_and_a_short_one(sub, ref):
    """x_0 when beta_t = 0, the noise when beta_t = 1, sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise on a short schedule"""
    x, noise, t = randn(21, 4, 3, 5, 5), randn(22, 4, 3, 5, 5), torch.tensor([0, 3, 7, 19])
    got = sub.call("q_sample", x_start=x, t=t, noise=noise, tables=limit_schedule(0))
    judge.close(got[0], x, "q_sample with beta_t = 0 for every t (the images never change)")
    got = sub.call("q_sample", x_start=x, t=t, noise=noise, tables=limit_schedule(1))
    judge.close(got[0], noise, "q_sample with beta_t = 1 for every t (x_t is pure noise)")
    tables = short_schedule()
    got = sub.call("q_sample", x_start=x, t=t, noise=noise, tables=tables)[0].double()
    abar = per_image(tables["alphas_cumprod"], t)
    if torch.allclose(got, abar * x + (1 - abar) * noise, atol=1e-5):
        raise CheckFailed("q_sample: the square roots are missing: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise")
    if torch.allclose(got, abar.sqrt() + (1 - abar).sqrt() * noise, atol=1e-5):
        raise CheckFailed("q_sample: x_0 is missing: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise")
    judge.close(got, abar.sqrt() * x + (1 - abar).sqrt() * noise,
                "q_sample on a short schedule (beta from 0.05 to 0.5, T = 20)", atol=1e-5)


# -- Q3 ------------------------------------------------------------------------------------------

@Q3.check(points=1, public=True)
def the_mean_at_the_last_step_then_draws(sub, ref):
    """on a short schedule: the mean at t_index = 0, no noise; mean + sqrt(posterior_variance) noise before"""
    x, tables = randn(31, 2, 3, 4, 4), short_schedule()
    # (on a real schedule posterior_variance[0] is 0: tables where it is not show noise added at t_index = 0)
    for case in (arbitrary_tables(32), tables):
        last = sub.call("p_sample", x=x, t_index=0, tables=case, repeats=2)
        if isinstance(last, torch.Tensor) and last.shape == (2, *x.shape) and not torch.equal(last[0], last[1]):
            raise CheckFailed("p_sample(t_index=0) added noise: at the last step it returns the mean, without noise")
    judge.close(last[0], reverse_mean(x, 0, tables),
                "p_sample(t_index=0): the mean 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t) eps(x_t, t))",
                atol=1e-5)
    t_index = 5
    draws = sub.call("p_sample", x=x, t_index=t_index, tables=tables, repeats=1000)
    mean, std = reverse_mean(x, t_index, tables), tables["posterior_variance"][t_index].double().sqrt()
    judge.expect(not torch.equal(draws[0], draws[1]),
                 f"p_sample(t_index={t_index}) must add noise (two copies of the same input gave the same output)")
    observed = (draws.double() - mean).std().item()
    if abs(observed - std.item() ** 2) < 0.05 * std.item() ** 2:
        raise CheckFailed(f"p_sample(t_index={t_index}): the noise is multiplied by posterior_variance; multiply it "
                          "by its square root, the standard deviation")
    judge.distribution(draws, mean, std, f"p_sample(t_index={t_index}): 1000 draws (mean, sqrt(posterior_variance))")


# -- Q4 ------------------------------------------------------------------------------------------

def expect_chain(got, batch, what):
    """The calls recorded by the stand-in p_sample form the chain p_sample_loop must make: each
    gets the previous output (computed here with the grader's copy of the stand-in), and the
    result stacks the outputs in order. The starting image is checked by the caller."""
    calls = got["calls"]
    for i, call in enumerate(calls):
        t = call["t"]
        judge.expect(tuple(t.shape) == (batch,) and bool((t == call["t_index"]).all()),
                     f"{what}: call {i + 1} to p_sample should get t = a ({batch},) tensor filled with "
                     f"{call['t_index']}, got {tuple(t.shape)} values")
        if i:
            judge.close(call["x"], probes.standin_step(calls[i - 1]["x"], calls[i - 1]["t_index"]),
                        f"{what}: call {i + 1} to p_sample should get the output of call {i}")
    judge.expect(bool(calls), f"{what} never called p_sample")
    expected = torch.stack([probes.standin_step(call["x"], call["t_index"]) for call in calls])
    output = got["output"]
    if isinstance(output, torch.Tensor) and output.shape == expected.shape and len(calls) > 1 and \
            torch.allclose(output[0], calls[0]["x"]) and torch.allclose(output[1:], expected[:-1]):
        raise CheckFailed(f"{what}: each image is stored before its step: the result starts with x_T and misses "
                          "x_0 (store the output of p_sample)")
    judge.close(output, expected, f"{what}: the stacked outputs of p_sample, in order")


@Q4.check(points=1, public=True)
def every_step_from_T_minus_1_down_to_0(sub, ref):
    """calls p_sample for t_index = T-1, ..., 0 from N(0, I), each on the previous output; \
stacks them (T, B, C, H, W) on the CPU"""
    got = sub.call("p_sample_loop", shape=(4, 1, 4, 4), timesteps=6)
    order = [call["t_index"] for call in got["calls"]]
    if order == [0, 1, 2, 3, 4, 5]:
        raise CheckFailed("p_sample_loop goes from t = 0 up; the reverse process goes down, from T - 1 to 0")
    judge.equal(order, [5, 4, 3, 2, 1, 0], "p_sample_loop(timesteps=6): the t_index of its calls to p_sample")
    judge.equal(tuple(got["output"].shape), (6, 4, 1, 4, 4), "p_sample_loop(model, (4, 1, 4, 4), 6): shape")
    judge.equal(got["device"], "cpu", "p_sample_loop: device of the result")
    judge.distribution(got["calls"][0]["x"].flatten(), 0.0, 1.0, "p_sample_loop: the starting image x_T "
                                                                  "(standard normal)")
    expect_chain(got, 4, "p_sample_loop")


# -- Q5 ------------------------------------------------------------------------------------------

def noise_in_input(got, x_start, t, tables, what):
    """The noise in the x_t the model was given, checked: what the stand-in q_sample received
    (its output, the model's input, is that noise itself), or, x_t computed inline,
    (x_t - sqrt(abar_t) x_0) / sqrt(1 - abar_t)."""
    judge.equal(len(got["model_calls"]), 1, f"{what}: number of calls to the model")
    call = got["model_calls"][0]
    judge.close(call["t"], t.float(), f"{what}: the times given to the model")
    if got["noises"]:
        judge.close(call["x"], got["noises"][-1], f"{what}: the model's input should be q_sample's output")
        return got["noises"][-1].double()
    signal = per_image(tables["sqrt_alphas_cumprod"], t) * x_start.double()
    return (call["x"].double() - signal) / per_image(tables["sqrt_one_minus_alphas_cumprod"], t)


def expect_loss(got, x_start, t, tables, what, kind="smooth", offset=0.0):
    """p_losses' result, recomputed here from the noise in the model's input: the model's
    prediction (the grader's copy of the stand-in), the smooth L1 loss between it and the noise,
    and the gradient of the loss with respect to the model's parameter. Returns the noise."""
    noise = noise_in_input(got, x_start, t, tables, what)
    call = got["model_calls"][0]
    scale = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    predicted = denoised(call["x"], call["t"], kind, offset, scale)
    judge.close(call["output"], predicted.detach(), f"{what}: the model's prediction", rtol=1e-4, atol=1e-5)
    loss = F.smooth_l1_loss(predicted, noise)
    gradient, = torch.autograd.grad(loss, scale)
    got_loss = judge.number(got["loss"], what)
    for value, mistake in ((F.mse_loss(predicted, noise), "the mean squared error (MSE)"),
                           (F.l1_loss(predicted, noise), "the plain L1 loss"),
                           (F.smooth_l1_loss(predicted, noise, reduction="sum"), "the smooth L1 loss summed over "
                                                                                  "every element, not averaged")):
        if abs(got_loss - value.item()) <= 1e-4 * abs(value.item()) + 1e-6 < abs(value.item() - loss.item()):
            raise CheckFailed(f"{what}: the loss is {mistake}; the statement asks for the smooth L1 (Huber, delta 1) "
                              "loss averaged over every element (F.smooth_l1_loss)")
    judge.close(got_loss, loss.item(), f"{what} (smooth L1 between the predicted and the true noise)")
    judge.expect(got["gradient"] is not None, f"{what}: the loss does not carry gradients to the model "
                                              "(no .item(), .detach() or torch.no_grad())")
    judge.close(got["gradient"], gradient.item(), f"{what}: the gradient of the loss with respect to the model",
                rtol=1e-3, atol=1e-6)
    return noise


@Q5.check(points=1, public=True)
def smooth_l1_of_the_prediction_error(sub, ref):
    """on a short schedule: the smooth L1 loss between the model's prediction and the standard normal noise \
in its input"""
    x, t, tables = randn(51, 4, 3, 5, 5), torch.tensor([1, 4, 9, 19]), short_schedule()
    got = sub.call("p_losses", x_start=x, t=t, tables=tables, standin_q_sample=True)
    noise = expect_loss(got, x, t, tables, "p_losses")
    judge.distribution(noise.flatten(), 0.0, 1.0, "p_losses: the noise added to x_0")


# -- Q6 ------------------------------------------------------------------------------------------

@Q6.check(points=1, public=True)
def uniform_times_in_range(sub, ref):
    """(batch_size,) int64 times uniform over 0..timesteps-1, new ones every call"""
    first = sub.call("t_sample", timesteps=5, batch_size=4000)
    judge.equal(tuple(first["values"].shape), (4000,), "t_sample(5, 4000): shape")
    judge.equal(first["dtype"], "int64", "t_sample: dtype (indices for gather must be torch.long)")
    low, high = first["values"].min().item(), first["values"].max().item()
    if (low, high) == (1, 5):
        raise CheckFailed("t_sample(5, ...) drew times in 1..5: the times index tables of length timesteps, "
                          "0..timesteps-1 (torch.randint's high is excluded)")
    judge.uniform_integers(first["values"], 0, 4, "t_sample(5, 4000)")
    second = sub.call("t_sample", timesteps=5, batch_size=4000)
    judge.independent_draws(first["values"], second["values"], "t_sample(5, 4000)")
