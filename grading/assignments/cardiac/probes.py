"""Probes of the `cardiac` assignment: call one student function on given inputs, return plain values.

Each probe isolates what it exercises. The forward passes run on small networks built here from
the grader's weights, never on the student's `Encoder` and `Decoder`; and the helpers a function
is meant to call (`to_onehot`, `reconstruction_loss`, `reparameterize`, `vae_loss`) can be
swapped for the stand-ins below, which are deliberately *not* answers. So a wrong `to_onehot`
costs the to_onehot question only, not the forward passes as well.
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

TINY_CHANNELS = 6  # the probes' networks work on 8x8 maps: one stride-2 layer, 4x4 feature maps


# Stand-ins: deliberately not answers, only recognisable, differentiable behaviour.

def _standin_to_onehot(label_map, n_classes=4):
    """Not a one-hot encoding: cos(k * label) in channel k."""
    scale = torch.arange(1, n_classes + 1, dtype=torch.float32, device=label_map.device).view(1, -1, 1, 1)
    return torch.cos(label_map.float().unsqueeze(1) * scale)


def _standin_reconstruction_loss(logits, label_map):
    """Not a cross-entropy: a squared distance to the labels."""
    return 0.7 * ((logits - label_map.unsqueeze(1).float() / 3) ** 2).mean()


def _standin_reparameterize(mu, logvar, noise=None):
    """Not a sample: a fixed mix of the mean, the log-variance and the noise."""
    noise = torch.zeros_like(mu) if noise is None else noise
    return 0.8 * mu - 0.3 * torch.tanh(logvar) + 0.5 * noise


def _standin_vae_loss(logits, label_map, mu, logvar, beta=1.0):
    """Not an ELBO: a smooth function of every input."""
    return (logits.tanh() * (label_map.unsqueeze(1).float() - 1)).mean() + beta * (mu * logvar).mean() \
        + 0.1 * (mu ** 2).sum()


STANDINS = {"to_onehot": _standin_to_onehot, "reconstruction_loss": _standin_reconstruction_loss,
            "reparameterize": _standin_reparameterize, "vae_loss": _standin_vae_loss}


def _with_standins(sub, names):
    return with_standins(sub, STANDINS, names)


def _tiny_networks(encoder_weights, decoder_weights):
    """Encoder: Conv2d(4, 6, 3, stride 2) -> ReLU -> Linear(6*4*4, out) on 8x8 maps; decoder:
    Linear(L, 6*4*4) -> ReLU -> ConvTranspose2d(6, 4, 3, stride 2) back to 8x8; the given weights."""
    codes, latent = encoder_weights[2].shape[0], decoder_weights[0].shape[1]
    features = TINY_CHANNELS * 4 * 4
    encoder = nn.Sequential(nn.Conv2d(4, TINY_CHANNELS, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                            nn.Linear(features, codes))
    decoder = nn.Sequential(nn.Linear(latent, features), nn.ReLU(), nn.Unflatten(1, (TINY_CHANNELS, 4, 4)),
                            nn.ConvTranspose2d(TINY_CHANNELS, 4, 3, stride=2, padding=1, output_padding=1))
    load_parameters([encoder[0], encoder[3]], encoder_weights, "the grader's encoder")
    load_parameters([decoder[0], decoder[3]], decoder_weights, "the grader's decoder")
    return encoder, decoder


def _scalar_loss(value, what):
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise Rejected(f"{what}: the loss is {type_name(value)}; expected a scalar torch.Tensor")
    return value


def _tuple(value, length, what, names):
    if not (isinstance(value, (tuple, list)) and len(value) == length):
        raise Rejected(f"{what} returned {type_name(value)}; expected ({', '.join(names)})")
    return value


# Probes, one per graded behaviour.

def to_onehot(sub, label_map, n_classes):
    return as_tensor(sub.to_onehot(label_map, n_classes), "to_onehot")


def network(sub, kind, x, settings, weights=None):
    """Build sub.Encoder(**settings) or sub.Decoder(**settings); report the called layers, the
    output on `x` (with `weights` loaded into the layers in call order, when given) and the
    number of parameters."""
    what = {"encoder": "Encoder", "decoder": "Decoder"}[kind]
    return describe_network(as_module(getattr(sub, what)(**settings), what), x, weights, what)


def reconstruction_loss(sub, logits, label_map):
    logits = logits.clone().requires_grad_(True)
    loss = _scalar_loss(sub.reconstruction_loss(logits, label_map), "reconstruction_loss")
    gradients = gradients_of(loss, [logits])
    return {"loss": as_float(loss.detach(), "reconstruction_loss"), "attached": gradients is not None,
            "gradients": gradients}


def ae_forward_pass(sub, encoder_weights, decoder_weights, label_map, standins):
    encoder, decoder = _tiny_networks(encoder_weights, decoder_weights)
    with _with_standins(sub, standins):
        result = _tuple(sub.ae_forward_pass(encoder, decoder, label_map), 2, "ae_forward_pass", ("loss", "logits"))
    loss = _scalar_loss(result[0], "ae_forward_pass")
    gradients = gradients_of(loss, [*encoder.parameters(), *decoder.parameters()])
    return {"loss": as_float(loss.detach(), "ae_forward_pass (loss)"), "attached": gradients is not None,
            "logits": as_tensor(result[1], "ae_forward_pass (logits)"), "gradients": gradients}


def reparameterize(sub, mu, logvar, noise=None, draws=0):
    """With `draws`, that many samples for every row of (mu, logvar), stacked (draws, N, L);
    else one call, with the gradients of a weighted sum of z."""
    if draws:
        n, latent = mu.shape
        z = sub.reparameterize(mu.repeat(draws, 1), logvar.repeat(draws, 1))
        return as_tensor(z, "reparameterize", shape=(draws * n, latent)).view(draws, n, latent)
    mu, logvar = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    z = sub.reparameterize(mu, logvar, noise)
    z_value = as_tensor(z, "reparameterize", shape=mu.shape)
    weighting = torch.linspace(-1, 2, mu.numel()).view(mu.shape)
    gradients = gradients_of((z * weighting).sum(), [mu, logvar]) if isinstance(z, torch.Tensor) else None
    return {"z": z_value, "gradients": gradients}


def vae_loss(sub, logits, label_map, mu, logvar, beta, standins):
    inputs = [t.clone().requires_grad_(True) for t in (logits, mu, logvar)]
    with _with_standins(sub, standins):
        loss = _scalar_loss(sub.vae_loss(inputs[0], label_map, inputs[1], inputs[2], beta), "vae_loss")
    gradients = gradients_of(loss, inputs)
    return {"loss": as_float(loss.detach(), "vae_loss"), "attached": gradients is not None, "gradients": gradients}


def vae_forward_pass(sub, encoder_weights, decoder_weights, label_map, beta, noise, standins):
    encoder, decoder = _tiny_networks(encoder_weights, decoder_weights)
    with _with_standins(sub, standins):
        result = _tuple(sub.vae_forward_pass(encoder, decoder, label_map, beta, noise), 4, "vae_forward_pass",
                        ("loss", "logits", "mu", "logvar"))
    loss = _scalar_loss(result[0], "vae_forward_pass")
    gradients = gradients_of(loss, [*encoder.parameters(), *decoder.parameters()])
    values = {name: as_tensor(value, f"vae_forward_pass ({name})")
              for name, value in zip(("logits", "mu", "logvar"), result[1:])}
    return {"loss": as_float(loss.detach(), "vae_forward_pass (loss)"), "attached": gradients is not None,
            "gradients": gradients, **values}


def dice_score(sub, prediction, target, n_classes):
    return as_tensor(sub.dice_score(prediction, target, n_classes), "dice_score")
