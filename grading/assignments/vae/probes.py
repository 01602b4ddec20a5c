"""Probes of the `vae` assignment: build what a question needs, call one student function, return
plain values.

Isolation. `VAE.sample`, `log_likelihood`, `forward` and `interpolate` are meant to call the
student's other answers (`encode`, `decode` and the distribution's `sample`, `nll`, `kl`,
`mode`). Their probes run them on a model whose networks are known linear maps (`_standin_model`)
with those helpers swapped for the stand-ins below, and record every latent the stand-ins draw and
decode. The stand-in distribution methods are deliberately *not* answers; the stand-in `encode`
and `decode` give, on that model only, what the model's own layers give, so a method that skips
them and uses the layers directly is judged the same way. The grader then recomputes from the
records what a correct method returns (`public.py`), so a wrong `nll` costs the nll question only.

Records are evidence, not verdicts. This file runs in the submission's interpreter, which may
replace any of it; so the grader checks every record against its own copy of the stand-ins: the
decoded latents must be fresh draws of the right distribution (the stand-in `sample`'s uniform law,
or a normal one), different at every call, and every output must be what the stand-ins give for
them.

Randomness. Draws are judged from what was actually drawn (the records), by the distribution of
many draws, or exactly when the optional `noise` argument fixes them: never by the order in which
a submission calls the random number generator.
"""
import inspect
import math

import torch

from grading.probing import Rejected, as_tensor, gradients_of, replaced, type_name

# The stand-ins' constants (the grader recomputes their values with the functions below).
MODE_SHIFT = 0.25        # the stand-in mode is the mean plus this
HALF_WIDTH = 2.0         # the stand-in sample is uniform on mean +- HALF_WIDTH * std
TINY = {"decoder_features": 4, "encoder_features": 4, "input_size": 16}  # a small VAE of the given architecture

_RECORD = {"decoded": [], "draws": []}
_SETUP = {}


# -- the stand-ins' arithmetic (also used by the grader) ------------------------------------------

def echo(z, matrix, shape):
    """The stand-in decoder network: latents (N, Z) -> images (N, *shape), z @ matrix."""
    if z.shape[-1] != matrix.shape[0]:
        raise Rejected(f"the decoder received latents of size {z.shape[-1]}; the model's z_dim is {matrix.shape[0]}")
    if z.device != matrix.device:
        raise Rejected(f"the latents are on the device {z.device.type!r}, the model on {matrix.device.type!r}: "
                       "create them on the model's device (self.device)")
    return (z @ matrix.to(z.dtype)).reshape(*z.shape[:-1], *shape)


def standin_nll(sample, mean, logvar, dims, scale=1.0):
    """Not a Gaussian negative log-likelihood: a scaled L1 distance plus a log-variance term."""
    return scale * ((sample - mean).abs() * torch.exp(-0.5 * logvar) + 0.1 * logvar).sum(dim=dims)


def standin_kl(mean, logvar):
    """Not a KL divergence."""
    return (mean.abs() + 0.1 * logvar).flatten(1).sum(dim=1)


def linear_posterior(x, posterior):
    """(mean, logvar) of the stand-in model's q(z|x): linear maps of the flattened image."""
    weight_mean, bias_mean, weight_logvar, bias_logvar = posterior
    flat = x.flatten(1)
    return flat @ weight_mean.T.to(flat.dtype) + bias_mean, flat @ weight_logvar.T.to(flat.dtype) + bias_logvar


# -- the stand-ins ---------------------------------------------------------------------------------

def _standin_sample(self, noise=None):
    """Not a Gaussian sample: uniform around the mean. Recorded (mean, std, draw); the grader does
    not trust the record: it tests that the draws are uniform on mean +- HALF_WIDTH * std."""
    z = self.mean + self.std * HALF_WIDTH * (2 * torch.rand_like(self.mean) - 1)
    _RECORD["draws"].append((self.mean.detach().clone(), self.std.detach().clone(), z.detach().clone()))
    return z


def _standin_nll(self, sample, dims=[1, 2, 3]):
    return standin_nll(sample, self.mean, self.logvar, dims, _SETUP["scale"])


def _standin_kl(self):
    return standin_kl(self.mean, self.logvar)


def _standin_mode(self):
    return self.mean + MODE_SHIFT


def _standin_encode(self, x):
    return _SETUP["distribution"](*linear_posterior(x, _SETUP["posterior"]))


def _standin_decode(self, z):
    _RECORD["decoded"].append(z.detach().clone())
    return _SETUP["distribution"](echo(z, _SETUP["matrix"], _SETUP["shape"]))


class _Echo(torch.nn.Module):
    """The stand-in model's decoder network (see `echo`). Records its inputs."""

    def __init__(self, matrix, shape):
        super().__init__()
        self.register_buffer("matrix", matrix.float())
        self.shape = tuple(shape)

    def forward(self, z):
        _RECORD["decoded"].append(z.detach().clone())
        return echo(z, self.matrix, self.shape)


class _LinearImage(torch.nn.Module):
    """A linear-Gaussian decoder network: z (N, Z) -> z @ weight.T + bias as images (N, *shape).
    Records its inputs."""

    def __init__(self, weight, bias, shape):
        super().__init__()
        self.linear = _linear(weight, bias)
        self.shape = tuple(shape)

    def forward(self, z):
        _RECORD["decoded"].append(z.detach().clone())
        return self.linear(z).reshape(z.shape[0], *self.shape)


def _linear(weight, bias):
    layer = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
    return layer


def _reset(sub, **setup):
    _RECORD["decoded"].clear()
    _RECORD["draws"].clear()
    _SETUP.clear()
    _SETUP.update(distribution=sub.DiagonalGaussianDistribution, scale=1.0, posterior=None, matrix=None, shape=None)
    _SETUP.update(setup)


def _standins(sub):
    """Swap every helper of the VAE's methods for its stand-in (restored on exit)."""
    import contextlib
    stack = contextlib.ExitStack()
    stack.enter_context(replaced(sub.DiagonalGaussianDistribution, sample=_standin_sample, nll=_standin_nll,
                                 kl=_standin_kl, mode=_standin_mode))
    stack.enter_context(replaced(sub.VAE, encode=_standin_encode, decode=_standin_decode))
    return stack


def _standin_model(sub, z_dim, shape, matrix, posterior=None):
    """A VAE of the submission's class whose networks are known maps: Flatten, then linear layers
    for the posterior's mean and log-variance, and `echo` as the decoder."""
    model = sub.VAE(in_channels=shape[0], z_dim=z_dim, device=torch.device("cpu"), **TINY)
    model.encoder = torch.nn.Flatten()
    if posterior is not None:
        model.mean, model.logvar = _linear(*posterior[:2]), _linear(*posterior[2:])
    model.decoder = _Echo(matrix, shape)
    _reset(sub, posterior=posterior, matrix=model.decoder.matrix, shape=tuple(shape))
    return model.eval()


def _records():
    return {"decoded": [z.cpu() for z in _RECORD["decoded"]],
            "draws": [[mean.cpu(), std.cpu(), z.cpu()] for mean, std, z in _RECORD["draws"]]}


# -- helpers ---------------------------------------------------------------------------------------

def accepts_noise(function) -> bool:
    try:
        return "noise" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _fill(model, seed):
    """Deterministic weights from the grader's seed, whatever random numbers the file drew before."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if parameter.dim() > 1:
                parameter.copy_(noise / math.sqrt(parameter[0].numel()))
            elif name.endswith("weight"):  # batch-norm scales
                parameter.copy_(1 + 0.1 * noise)
            else:
                parameter.copy_(0.1 * noise)
    return model


def _tiny_vae(sub, z_dim, seed):
    """The given architecture, small: 3x16x16 images, 4 features per level."""
    model = sub.VAE(in_channels=3, z_dim=z_dim, device=torch.device("cpu"), **TINY)
    return _fill(model, seed).eval()


def _distribution(value, what):
    if not (hasattr(value, "mean") and hasattr(value, "logvar")):
        raise Rejected(f"{what} returned {type_name(value)}; expected a DiagonalGaussianDistribution")
    return {"type": type(value).__name__, "mean": as_tensor(value.mean, f"{what} (its mean)"),
            "logvar": as_tensor(value.logvar, f"{what} (its logvar)")}


def _distribution_of(sub, mean, logvar):
    return sub.DiagonalGaussianDistribution(mean, logvar)


# -- DiagonalGaussianDistribution ------------------------------------------------------------------

def dgd_sample(sub, mean, logvar, noise=None):
    """A draw, and the gradients of its sum with respect to the mean and the log-variance."""
    mean, logvar = mean.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    distribution = _distribution_of(sub, mean, logvar)
    supported = accepts_noise(distribution.sample)
    if noise is not None and not supported:
        return {"accepts_noise": False}
    sample = distribution.sample(noise=noise) if noise is not None else distribution.sample()
    if not isinstance(sample, torch.Tensor):
        raise Rejected(f"sample returned {type_name(sample)}; expected a torch.Tensor")
    found = gradients_of(sample, [mean, logvar]) if sample.shape == mean.shape else None
    grad_mean, grad_logvar = found or [torch.zeros_like(mean), torch.zeros_like(logvar)]
    return {"accepts_noise": supported, "sample": as_tensor(sample, "sample"),
            "grad_mean": grad_mean, "grad_logvar": grad_logvar}


def dgd_kl(sub, mean, logvar):
    return as_tensor(_distribution_of(sub, mean, logvar).kl(), "kl")


def dgd_nll(sub, mean, logvar, sample, dims=None):
    distribution = _distribution_of(sub, mean, logvar)
    value = distribution.nll(sample) if dims is None else distribution.nll(sample, dims=dims)
    return as_tensor(value, "nll")


def dgd_mode(sub, mean, logvar):
    return as_tensor(_distribution_of(sub, mean, logvar).mode(), "mode")


# -- VAE.encode / VAE.decode on the given architecture ----------------------------------------------

def encode(sub, x, z_dim, seed):
    model = _tiny_vae(sub, z_dim, seed)
    with torch.no_grad():
        return _distribution(model.encode(x), "encode")


def decode(sub, z, seed):
    model = _tiny_vae(sub, z.shape[1], seed)
    with torch.no_grad():
        return _distribution(model.decode(z), "decode")


def encode_known(sub, x, posterior):
    """encode on a VAE whose networks are known maps (`self.encoder` flattens, `self.mean` and
    `self.logvar` are the linear maps `posterior`): the grader knows what q(z|x) must be."""
    model = sub.VAE(in_channels=x.shape[1], z_dim=posterior[0].shape[0], device=torch.device("cpu"), **TINY)
    model.encoder = torch.nn.Flatten()
    model.mean, model.logvar = _linear(*posterior[:2]), _linear(*posterior[2:])
    with torch.no_grad():
        return _distribution(model.eval().encode(x), "encode")


def decode_known(sub, z, matrix, shape):
    """decode on a VAE whose decoder network is `echo` (z @ matrix as images of `shape`)."""
    model = _standin_model(sub, matrix.shape[0], shape, matrix)
    with torch.no_grad():
        return _distribution(model.decode(z), "decode")


# -- methods that call the helpers: run with the stand-ins ------------------------------------------

def vae_sample(sub, batch_size, z_dim, matrix, shape, noise=None, device="cpu"):
    """VAE.sample on the stand-in model: the output and the latents it decoded (or, on the
    placeholder device "meta", only where they live)."""
    model = _standin_model(sub, z_dim, shape, matrix)
    if noise is not None and not accepts_noise(model.sample):
        return {"accepts_noise": False}
    target = torch.device(device)
    if target.type != "cpu":
        model.to(target)
        model.device = target
        _SETUP["matrix"] = model.decoder.matrix
    with torch.no_grad(), _standins(sub), replaced(sub, device=target):
        output = model.sample(batch_size) if noise is None else model.sample(batch_size, noise=noise)
    if not isinstance(output, torch.Tensor):
        raise Rejected(f"sample returned {type_name(output)}; expected a torch.Tensor")
    if target.type != "cpu":
        return {"output_device": output.device.type, "output_shape": list(output.shape),
                "decoded": [[z.device.type, list(z.shape)] for z in _RECORD["decoded"]]}
    return {"accepts_noise": accepts_noise(model.sample), "output": as_tensor(output, "sample"), **_records()}


def interpolate(sub, z_1, z_2, n_samples, matrix, shape):
    model = _standin_model(sub, z_1.shape[1], shape, matrix)
    with torch.no_grad(), _standins(sub):
        output = sub.interpolate(model, z_1, z_2, n_samples)
    return {"output": as_tensor(output, "interpolate"), **_records()}


def forward(sub, x, z_dim, posterior, matrix):
    model = _standin_model(sub, z_dim, x.shape[1:], matrix, posterior)
    with torch.no_grad(), _standins(sub):
        result = model(x)
    if not (isinstance(result, (tuple, list)) and len(result) == 3):
        raise Rejected(f"forward returned {type_name(result)}; expected (reconstruction, nll, kl)")
    names = ("reconstruction", "nll", "kl")
    return {"returned": [as_tensor(value, f"forward ({name})") for value, name in zip(result, names)], **_records()}


def log_likelihood(sub, x, K, z_dim, posterior, matrix, scale=1.0):
    """log_likelihood on the stand-in model, with the stand-in nll scaled by `scale` (large
    scales give log-weights far below -1000: a naive exp underflows)."""
    model = _standin_model(sub, z_dim, x.shape[1:], matrix, posterior)
    _SETUP.update(scale=scale)
    with torch.no_grad(), _standins(sub):
        ll = model.log_likelihood(x, K=K)
    return {"ll": as_tensor(ll, "log_likelihood"), **_records()}


def log_likelihood_linear(sub, x, K, encoder, decoder):
    """log_likelihood with the submission's own helpers, on a linear-Gaussian model (encoder: the
    posterior's linear maps; decoder: weight, bias), where log p(x) is known in closed form."""
    shape = x.shape[1:]
    model = sub.VAE(in_channels=shape[0], z_dim=decoder[0].shape[1], device=torch.device("cpu"), **TINY)
    model.encoder = torch.nn.Flatten()
    model.mean, model.logvar = _linear(*encoder[:2]), _linear(*encoder[2:])
    model.decoder = _LinearImage(*decoder, shape)
    _reset(sub)
    with torch.no_grad():
        ll = model.eval().log_likelihood(x, K=K)
    return {"ll": as_tensor(ll, "log_likelihood"), "decoded": [z.cpu() for z in _RECORD["decoded"]]}
