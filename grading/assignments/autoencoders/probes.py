"""Probes of the `autoencoders` assignment: call one student function on given inputs, return plain values.

Each probe isolates the function it exercises: the networks a method runs are the grader's own
(built here from weights the grader sends), not the student's `make_encoder`/`make_decoder`, and
the helpers a function is meant to call (`make_encoder`, `make_decoder`, `reconstruction_loss`)
can be swapped for the stand-ins below, which are deliberately *not* answers. So a wrong
`reconstruction_loss` costs that question only, not `vae_loss` and `sparse_loss` as well.
"""
import torch
from torch import nn

from grading.probing import (
    Rejected,
    as_float,
    as_module,
    as_tensor,
    describe_network,
    gradients_of,
    load_parameters,
    type_name,
    with_standins,
)

IMAGE = (1, 28, 28)
PIXELS = 28 * 28


def _linear(weight, bias) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0])
    load_parameters([layer], [weight, bias], "the grader's layer")
    return layer


def _grader_encoder(weight, bias) -> nn.Module:
    """Flatten -> Linear(784, out) with the given weights."""
    return nn.Sequential(nn.Flatten(), _linear(weight, bias))


def _grader_decoder(weights) -> nn.Module:
    """Linear layers with ReLU between them, then a sigmoid, reshaped to images."""
    layers = []
    for i in range(0, len(weights), 2):
        layers += [_linear(weights[i], weights[i + 1]), nn.ReLU()]
    return nn.Sequential(*layers[:-1], nn.Sigmoid(), nn.Unflatten(1, IMAGE))


def _bare(cls, **attributes):
    """An instance of the student's nn.Module subclass without running its __init__."""
    module = object.__new__(cls)
    nn.Module.__init__(module)
    for name, value in attributes.items():
        setattr(module, name, value)
    return module


def _pair(result, what: str):
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise Rejected(f"{what} returned {type_name(result)}; expected a pair of tensors")
    return result


# Stand-ins: deliberately not answers, only recognisable behaviour.

def _standin_make_encoder(d, hidden=()):
    """Not the answer: a single fixed linear layer, whatever `hidden` says."""
    generator = torch.Generator().manual_seed(1000 + d)
    return _grader_encoder(torch.randn(d, PIXELS, generator=generator) / 28, torch.zeros(d))


def _standin_make_decoder(d, hidden=()):
    generator = torch.Generator().manual_seed(2000 + d)
    return _grader_decoder([torch.randn(PIXELS, d, generator=generator), torch.zeros(PIXELS)])


def _standin_reconstruction_loss(x_hat, x, kind="bce"):
    """Not a reconstruction loss: a smooth function of x_hat, x and kind."""
    factor = {"bce": 3.0, "mse": 2.0}.get(kind, 5.0)
    return factor * ((x_hat - 0.3 * x) ** 2).flatten(1).sum(dim=1).mean() + 0.1


STANDINS = {"make_encoder": _standin_make_encoder, "make_decoder": _standin_make_decoder,
            "reconstruction_loss": _standin_reconstruction_loss}


def _with_standins(sub, names):
    return with_standins(sub, STANDINS, names)


def _loss_report(loss, inputs, what: str) -> dict:
    """The loss value, whether it is attached to the graph, and its gradients w.r.t. `inputs`."""
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise Rejected(f"{what} returned {type_name(loss)}; expected a scalar tensor")
    return {"loss": as_float(loss.detach(), what), "attached": loss.requires_grad,
            "gradients": gradients_of(loss, inputs)}


# Probes, one per graded behaviour.

def network(sub, part, d, x, hidden=None, weights=None):
    """Build with make_encoder / make_decoder (default widths when hidden is None); report the
    called layers, the output (with the given weights loaded, when there are any), the size."""
    build = getattr(sub, f"make_{part}")
    what = f"make_{part}"
    built = as_module(build(d) if hidden is None else build(d, tuple(hidden)), what)
    return describe_network(built, x, weights, f"the network of {what}")


def ae_forward(sub, encoder_weights, decoder_weights, x):
    """AutoEncoder.forward with the grader's one-layer encoder and decoder."""
    model = _bare(sub.AutoEncoder, d=encoder_weights[0].shape[0], encoder=_grader_encoder(*encoder_weights),
                  decoder=_grader_decoder(decoder_weights))
    with torch.no_grad():
        x_hat, h = _pair(model(x), "AutoEncoder.forward")
    return {"x_hat": as_tensor(x_hat, "AutoEncoder.forward (x_hat)"), "h": as_tensor(h, "AutoEncoder.forward (h)")}


def reconstruction(sub, x_hat, x, kind=None):
    x_hat = x_hat.clone().requires_grad_(True)
    loss = sub.reconstruction_loss(x_hat, x) if kind is None else sub.reconstruction_loss(x_hat, x, kind)
    return _loss_report(loss, [x_hat], "reconstruction_loss")


def reconstruction_error(sub, x_hat, x, kind):
    """The name of the exception reconstruction_loss raises for `kind` ("ValueError" for any
    subclass of it), or None when it returns."""
    try:
        sub.reconstruction_loss(x_hat, x, kind)
    except ValueError:
        return "ValueError"
    except Exception as error:
        return type(error).__name__
    return None


def white_noise(sub, x, amplitude, noise=None):
    original = x.clone()
    noisy = sub.add_white_noise(x, amplitude) if noise is None else sub.add_white_noise(x, amplitude, noise)
    return {"noisy": as_tensor(noisy, "add_white_noise", x.shape), "x_unchanged": bool(torch.equal(x, original))}


def parameter_count(sub, d, hidden=None):
    count = sub.n_parameters(d) if hidden is None else sub.n_parameters(d, tuple(hidden))
    return as_float(count, "n_parameters")


def ratio(sub, d, image_shape=None):
    value = sub.compression_ratio(d) if image_shape is None else sub.compression_ratio(d, tuple(image_shape))
    return as_float(value, "compression_ratio")


def vae_structure(sub, d, x, z):
    """VAE(d) built with the stand-in builders: its encoder's and decoder's output shapes, and
    what encode returns."""
    with _with_standins(sub, ["make_encoder", "make_decoder"]):
        vae = as_module(sub.VAE(d), f"VAE({d})")
    parts = {}
    for name in ("encoder", "decoder"):
        parts[name] = getattr(vae, name, None)
        if not isinstance(parts[name], nn.Module):
            raise Rejected(f"VAE({d}).{name} is {type_name(parts[name])}; expected a torch.nn.Module")
    with torch.no_grad():
        encoded = as_tensor(parts["encoder"](x), f"VAE({d}).encoder")
        decoded = as_tensor(parts["decoder"](z), f"VAE({d}).decoder")
        mu, logvar = _pair(vae.encode(x), "VAE.encode")
    return {"encoder_shape": list(encoded.shape), "decoder_shape": list(decoded.shape),
            "mu_shape": list(as_tensor(mu, "VAE.encode (mu)").shape),
            "logvar_shape": list(as_tensor(logvar, "VAE.encode (logvar)").shape)}


def vae_encode(sub, encoder_weights, x):
    """VAE.encode with the grader's encoder of 2 * d outputs."""
    d = encoder_weights[0].shape[0] // 2
    vae = _bare(sub.VAE, d=d, encoder=_grader_encoder(*encoder_weights),
                decoder=_standin_make_decoder(d))
    with torch.no_grad():
        mu, logvar = _pair(vae.encode(x), "VAE.encode")
    return {"mu": as_tensor(mu, "VAE.encode (mu)"), "logvar": as_tensor(logvar, "VAE.encode (logvar)")}


def reparameterization(sub, mu, logvar, noise=None):
    mu, logvar = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    z = sub.reparameterize(mu, logvar) if noise is None else sub.reparameterize(mu, logvar, noise)
    if not isinstance(z, torch.Tensor):
        raise Rejected(f"reparameterize returned {type_name(z)}; expected a torch.Tensor")
    return {"z": as_tensor(z, "reparameterize", mu.shape), "gradients": gradients_of(z, [mu, logvar])}


def elbo_loss(sub, x_hat, x, mu, logvar, standins, kind=None):
    inputs = [t.clone().requires_grad_(True) for t in (x_hat, mu, logvar)]
    x_hat, mu, logvar = inputs
    with _with_standins(sub, standins):
        loss = sub.vae_loss(x_hat, x, mu, logvar) if kind is None else sub.vae_loss(x_hat, x, mu, logvar, kind)
    return _loss_report(loss, inputs, "vae_loss")


def sparse(sub, x_hat, x, h, decoder_weights, lambda1, lambda2, standins, kind=None):
    """sparse_loss with the grader's decoder; also the sum of its squared biases (penalizing
    them too is accepted)."""
    decoder = _grader_decoder(decoder_weights)
    x_hat, h = x_hat.clone().requires_grad_(True), h.clone().requires_grad_(True)
    weights = [layer.weight for layer in decoder if isinstance(layer, nn.Linear)]
    args = (x_hat, x, h, decoder, lambda1, lambda2) + (() if kind is None else (kind,))
    with _with_standins(sub, standins):
        loss = sub.sparse_loss(*args)
    report = _loss_report(loss, [x_hat, h, *weights], "sparse_loss")
    report["bias_squares"] = float(sum((layer.bias.detach().double() ** 2).sum() for layer in decoder
                                       if isinstance(layer, nn.Linear)))
    return report


def schedule(sub, epochs, n_epochs, final, start=None):
    values = []
    for epoch in epochs:
        value = sub.lambda1_schedule(epoch, n_epochs, final) if start is None else \
            sub.lambda1_schedule(epoch, n_epochs, final, start)
        values.append(as_float(value, f"lambda1_schedule({epoch}, {n_epochs}, ...)"))
    return values
