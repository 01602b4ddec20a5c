"""Probes of the `ddpm` assignment: call one student function on given inputs, return plain values.

Each probe isolates what it exercises:
- the coefficient tables the functions read are the ones the grader sends (installed in the
  module for the duration of the call), never the student's own, so a wrong table costs the
  coefficients question only;
- the noise model is `Denoiser`, a fixed function of (x, t), never a trained network;
- `p_sample_loop` runs with a recording stand-in for `p_sample`, and `p_losses` can run with a
  stand-in for `q_sample`; the stand-ins are deliberately *not* answers.
"""
import contextlib

import torch
from torch import nn

from grading.probing import Rejected, as_float, as_tensor, replaced, type_name

TABLES = ("betas", "alphas", "sqrt_recip_alphas", "alphas_cumprod", "sqrt_alphas_cumprod",
          "sqrt_one_minus_alphas_cumprod", "alphas_cumprod_prev", "posterior_variance")
_MISSING = object()


class Denoiser(nn.Module):
    """A stand-in noise model eps(x, t) that records its calls.

    "smooth": a fixed smooth function of x and t (no training involved); "shift": x + offset,
    which predicts the noise exactly, up to the offset, when x_t is the noise itself. Its one
    parameter (`scale`, 1) lets a loss carry gradients.
    """

    def __init__(self, kind: str = "smooth", offset: float = 0.0):
        super().__init__()
        self.kind, self.offset = kind, offset
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.calls = []

    def forward(self, x, time):
        time = torch.as_tensor(time, device=x.device).float().reshape(-1, *([1] * (x.dim() - 1)))
        if self.kind == "shift":
            out = x + self.offset * self.scale
        else:
            out = self.scale * torch.tanh(0.8 * x + 0.3 * torch.sin(time / 50))
        self.calls.append({"x": x.detach().cpu().clone(), "t": time.detach().cpu().flatten().clone(),
                           "output": out.detach().cpu().clone()})
        return out


@contextlib.contextmanager
def _tables(sub, tables):
    """The grader's tables in place of the module's (copies: a submission may modify them)."""
    with replaced(sub, **{name: tables[name].clone() for name in TABLES}):
        yield


def coefficients(sub):
    """The eight module-level tables and the settings they were computed from."""
    settings = {}
    for name, kind in (("T", int), ("beta_start", float), ("beta_end", float)):
        value = getattr(sub, name, None)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Rejected(f"the module-level setting `{name}` is missing (the original file defines it)")
        settings[name] = kind(value)
    tables = {}
    for name in TABLES:
        value = getattr(sub, name, _MISSING)
        if value is _MISSING:
            raise Rejected(f"`{name}` is not defined at module level")
        if value is None:
            raise Rejected(f"not implemented yet: `{name}` is None")
        if not isinstance(value, torch.Tensor):
            raise Rejected(f"`{name}` is {type_name(value)}; expected a tensor of shape ({settings['T']},)")
        tables[name] = value.detach().cpu().clone()
    return {"tables": tables, **settings}


def q_sample(sub, x_start, t, tables, noise=None, repeats=1):
    """q_sample on `repeats` copies of the batch: (repeats, *x_start.shape)."""
    x, times = x_start.repeat(repeats, *([1] * (x_start.dim() - 1))), t.repeat(repeats)
    with _tables(sub, tables):
        if noise is None:
            out = sub.q_sample(x, times)
        else:
            out = sub.q_sample(x, times, noise.repeat(repeats, *([1] * (noise.dim() - 1))))
    return as_tensor(out, "q_sample", shape=x.shape).reshape(repeats, *x_start.shape)


def p_sample(sub, x, t_index, tables, repeats=1):
    """p_sample(Denoiser(), x, t filled with t_index, t_index) on `repeats` copies of the batch:
    (repeats, *x.shape)."""
    batch = x.repeat(repeats, *([1] * (x.dim() - 1)))
    t = torch.full((len(batch),), t_index, dtype=torch.long)
    with _tables(sub, tables):
        out = sub.p_sample(Denoiser(), batch, t, t_index)
    return as_tensor(out, "p_sample", shape=batch.shape).reshape(repeats, *x.shape)


def denoiser_output(sub, x, t):
    """The stand-in noise model's prediction (the submission is not used)."""
    with torch.no_grad():
        return Denoiser()(x, t)


def standin_step(x, t_index):
    """What the stand-in for p_sample returns: not a reverse step, a recognisable function of the
    image and the time."""
    return x * 0.5 + (int(t_index) + 1) / 8


def p_sample_loop(sub, shape, timesteps):
    """p_sample_loop with a recording stand-in for p_sample: what it returned, and every call."""
    expected_model, calls = Denoiser(), []

    def recording_p_sample(model, x, t, t_index):
        calls.append({"x": as_tensor(x, "the image given to p_sample").clone(),
                      "t": torch.as_tensor(t).detach().cpu().clone(), "t_index": int(t_index),
                      "model": model is expected_model})
        return standin_step(x, t_index)

    with replaced(sub, p_sample=recording_p_sample):
        out = sub.p_sample_loop(expected_model, tuple(shape), timesteps)
    if not isinstance(out, torch.Tensor):
        raise Rejected(f"p_sample_loop returned {type_name(out)}; expected a torch.Tensor")
    return {"output": out.detach().cpu(), "device": out.device.type, "calls": calls}


def p_losses(sub, x_start, t, tables, model="smooth", offset=0.0, standin_q_sample=False):
    """p_losses with the stand-in model (and, if asked, a stand-in q_sample): the loss, whether it
    carries gradients, the model's calls and the noises the stand-in q_sample was given."""
    denoiser, noises = Denoiser(model, offset), []

    def q_sample_standin(x_start, t, noise=None):
        """Not q(x_t | x_0): returns the noise itself, ignoring x_0."""
        if noise is None:
            noise = torch.randn_like(x_start)
        noises.append(noise.detach().cpu().clone())
        return noise * 1.0

    patches = {"q_sample": q_sample_standin} if standin_q_sample else {}
    with _tables(sub, tables), replaced(sub, **patches):
        loss = sub.p_losses(denoiser, x_start, t)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise Rejected(f"p_losses returned {type_name(loss)}; expected a scalar tensor")
    attached = loss.requires_grad
    gradient = None
    if attached:
        loss.sum().backward()
        gradient = as_float(denoiser.scale.grad if denoiser.scale.grad is not None else 0.0, "the gradient")
    return {"loss": as_float(loss.detach(), "p_losses"), "attached": attached,
            "gradient": gradient, "model_calls": denoiser.calls, "noises": noises}


def t_sample(sub, timesteps, batch_size):
    out = sub.t_sample(timesteps, batch_size)
    if not isinstance(out, torch.Tensor):
        raise Rejected(f"t_sample returned {type_name(out)}; expected a torch.Tensor")
    return {"values": out.detach().cpu(), "dtype": str(out.dtype).replace("torch.", "")}
