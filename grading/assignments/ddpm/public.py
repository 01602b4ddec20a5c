"""Questions of the `ddpm` assignment (20 points) and their public checks.

Public checks ship to students: they check shapes, the statement's facts and limit cases (a
schedule that destroys nothing, one that destroys everything at once), never the reference
solution. The hidden checks (hidden.py, instructor only) compare with the reference on the real
schedule, and judge the random functions by the distribution of many draws.
"""
import torch

from grading import judge
from grading.rubric import Question

Q1 = Question("Q1", "coefficients", points=4)
Q2 = Question("Q2", "q_sample", points=4)
Q3 = Question("Q3", "p_sample", points=4)
Q4 = Question("Q4", "p_sample_loop", points=2)
Q5 = Question("Q5", "p_losses", points=4)
Q6 = Question("Q6", "t_sample", points=2)
QUESTIONS = [Q1, Q2, Q3, Q4, Q5, Q6]

TABLES = ("betas", "alphas", "sqrt_recip_alphas", "alphas_cumprod", "sqrt_alphas_cumprod",
          "sqrt_one_minus_alphas_cumprod", "alphas_cumprod_prev", "posterior_variance")


def randn(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


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
    """Positive tables of no particular schedule: enough to observe how p_sample behaves."""
    return {name: 0.1 + 0.8 * torch.rand(T, generator=torch.Generator().manual_seed(seed + i))
            for i, name in enumerate(TABLES)}


@Q1.check(points=1, public=True)
def shapes_and_the_shifted_product(sub, ref):
    """eight finite tensors of shape (T,), betas from beta_start to beta_end, alphas_cumprod_prev shifted"""
    got = sub.call("coefficients")
    tables, T = got["tables"], got["T"]
    for name in TABLES:
        judge.expect(tuple(tables[name].shape) == (T,),
                     f"`{name}` has shape {tuple(tables[name].shape)}; expected ({T},)")
        judge.expect(tables[name].dtype.is_floating_point, f"`{name}` holds {tables[name].dtype}; expected floats")
        judge.expect(bool(torch.isfinite(tables[name]).all()), f"`{name}` contains NaN or infinite values")
    judge.close(tables["betas"][[0, -1]], torch.tensor([got["beta_start"], got["beta_end"]]),
                "`betas` (first and last values)")
    judge.close(tables["alphas_cumprod_prev"][0], 1.0, "`alphas_cumprod_prev[0]`")
    judge.close(tables["alphas_cumprod_prev"][1:], tables["alphas_cumprod"][:-1],
                "`alphas_cumprod_prev[1:]` (should equal `alphas_cumprod[:-1]`)")


@Q2.check(points=1, public=True)
def the_two_limit_schedules(sub, ref):
    """returns x_0 when beta_t = 0 for every t, and the noise when beta_t = 1 for every t"""
    x, noise, t = randn(21, 4, 3, 5, 5), randn(22, 4, 3, 5, 5), torch.tensor([0, 3, 7, 19])
    got = sub.call("q_sample", x_start=x, t=t, noise=noise, tables=limit_schedule(0))
    judge.close(got[0], x, "q_sample with beta_t = 0 for every t (the images never change)")
    got = sub.call("q_sample", x_start=x, t=t, noise=noise, tables=limit_schedule(1))
    judge.close(got[0], noise, "q_sample with beta_t = 1 for every t (x_t is pure noise)")


@Q3.check(points=1, public=True)
def deterministic_at_the_last_step_only(sub, ref):
    """keeps the shape; the step to t = 0 adds no noise, earlier steps do"""
    x, tables = randn(31, 2, 3, 4, 4), arbitrary_tables(32)
    last = sub.call("p_sample", x=x, t_index=0, tables=tables, repeats=2)
    judge.expect(bool(torch.isfinite(last).all()), "p_sample(t_index=0) returned NaN or infinite values")
    judge.expect(torch.equal(last[0], last[1]), "p_sample(t_index=0) must return the mean, without noise "
                                                "(two copies of the same input gave different outputs)")
    earlier = sub.call("p_sample", x=x, t_index=5, tables=tables, repeats=2)
    judge.expect(not torch.equal(earlier[0], earlier[1]),
                 "p_sample(t_index=5) must add noise (two copies of the same input gave the same output)")


@Q4.check(points=1, public=True)
def every_step_from_T_minus_1_down_to_0(sub, ref):
    """calls p_sample for t_index = T-1, ..., 0 and returns (T, B, C, H, W) on the CPU"""
    got = sub.call("p_sample_loop", shape=(3, 1, 4, 4), timesteps=6)
    judge.equal([call["t_index"] for call in got["calls"]], [5, 4, 3, 2, 1, 0],
                "p_sample_loop(timesteps=6): the t_index of its calls to p_sample")
    judge.equal(tuple(got["output"].shape), (6, 3, 1, 4, 4), "p_sample_loop(model, (3, 1, 4, 4), 6): shape")
    judge.equal(got["device"], "cpu", "p_sample_loop: device of the result")


@Q5.check(points=1, public=True)
def smooth_l1_of_the_prediction_error(sub, ref):
    """x_t is the noise itself (beta_t = 1): a prediction off by c costs smooth L1(c) (0, 0.125, 2.5)"""
    x, t = randn(51, 4, 3, 5, 5), torch.tensor([1, 4, 9, 19])
    for offset, expected in ((0.0, 0.0), (0.5, 0.125), (3.0, 2.5)):
        got = sub.call("p_losses", x_start=x, t=t, tables=limit_schedule(1), model="shift", offset=offset,
                       standin_q_sample=True)
        judge.expect(got["attached"], "p_losses: the loss does not carry gradients to the model "
                                      "(no .item(), .detach() or torch.no_grad())")
        judge.close(got["loss"], expected, f"p_losses when the model predicts the noise + {offset}")


@Q6.check(points=1, public=True)
def shape_type_and_range(sub, ref):
    """(batch_size,) int64 times in 0..timesteps-1"""
    got = sub.call("t_sample", timesteps=5, batch_size=400)
    judge.equal(tuple(got["values"].shape), (400,), "t_sample(5, 400): shape")
    judge.equal(got["dtype"], "int64", "t_sample: dtype (indices for gather must be torch.long)")
    low, high = got["values"].min().item(), got["values"].max().item()
    judge.expect(0 <= low and high <= 4, f"t_sample(5, 400) drew times in {low}..{high}; expected 0..4")
