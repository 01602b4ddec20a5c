"""Questions of the `autoencoders` assignment (20 points) and their public checks.

Public checks ship to students: they use closed-form facts and properties only, never the
reference solution. The hidden checks (hidden.py, instructor only) compare with the reference on
other inputs.
"""
import math

import torch

from grading import judge
from grading.rubric import Question

Q1 = Question("Q1", "make_encoder", points=2)
Q2 = Question("Q2", "make_decoder", points=2)
Q3 = Question("Q3", "AutoEncoder.forward", points=1)
Q4 = Question("Q4", "reconstruction_loss", points=2)
Q5 = Question("Q5", "add_white_noise", points=2)
Q6 = Question("Q6", "n_parameters", points=1)
Q7 = Question("Q7", "compression_ratio", points=1)
Q8 = Question("Q8", "VAE (2 x d encoder outputs, encode)", points=2)
Q9 = Question("Q9", "reparameterize", points=2)
Q10 = Question("Q10", "vae_loss", points=2)
Q11 = Question("Q11", "sparse_loss", points=2)
Q12 = Question("Q12", "lambda1_schedule", points=1)
QUESTIONS = [Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8, Q9, Q10, Q11, Q12]

PIXELS = 28 * 28
DEFAULT_HIDDEN = (256,)
# The helper a loss is meant to call; the probes can swap it for a stand-in (see probes.py).
RECONSTRUCTION = ["reconstruction_loss"]


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=generator(seed))


def images(seed: int, n: int) -> torch.Tensor:
    """n images (n, 1, 28, 28) with pixels in [0, 1]."""
    return torch.rand(n, 1, 28, 28, generator=generator(seed))


def reconstructions(seed: int, n: int) -> torch.Tensor:
    """n decoder-like outputs (n, 1, 28, 28), strictly inside (0, 1)."""
    return torch.sigmoid(randn(seed, n, 1, 28, 28) * 2)


def linear_weights(seed: int, *sizes):
    """[W, b] pairs for Linear layers sizes[0] -> sizes[1] -> ..., scaled like PyTorch's init."""
    weights = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        weights += [randn(seed + i, fan_out, fan_in) / fan_in ** 0.5, randn(seed + 100 + i, fan_out) * 0.1]
    return weights


def chain_parameters(sizes) -> int:
    """Weights and biases of Linear layers sizes[0] -> sizes[1] -> ..."""
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def expect_linear_chain(layers: list, sizes, what: str) -> None:
    """The Linear layers called, in order, map sizes[0] -> sizes[1] -> ... (other layers, such as
    activations and reshapes, are judged by the outputs)."""
    got = [(layer["in_features"], layer["out_features"]) for layer in layers if layer["layer"] == "Linear"]
    expected = list(zip(sizes, sizes[1:]))
    shown = " -> ".join(str(width) for width in [got[0][0], *[out for _, out in got]]) if got else "none"
    judge.expect(got == expected, f"{what}: its Linear layers map {shown}; expected "
                                  f"{' -> '.join(str(width) for width in sizes)}")


@Q1.check(points=1, public=True)
def default_encoder_layers(sub, ref):
    """make_encoder(32): Linear layers 784 -> 256 -> 32, codes of shape (N, 32)"""
    got = sub.call("network", part="encoder", d=32, x=images(1, 5))
    expect_linear_chain(got["layers"], (PIXELS, *DEFAULT_HIDDEN, 32), "make_encoder(32)")
    judge.equal(list(got["output"].shape), [5, 32], "make_encoder(32) output shape for 5 images")


@Q2.check(points=1, public=True)
def default_decoder_layers(sub, ref):
    """make_decoder(16): Linear layers 16 -> 256 -> 784, images in (0, 1) of shape (N, 1, 28, 28)"""
    got = sub.call("network", part="decoder", d=16, x=randn(2, 6, 16))
    expect_linear_chain(got["layers"], (16, *reversed(DEFAULT_HIDDEN), PIXELS), "make_decoder(16)")
    judge.equal(list(got["output"].shape), [6, 1, 28, 28], "make_decoder(16) output shape for 6 codes")
    output = got["output"]
    judge.expect(bool(((output > 0) & (output < 1)).all()),
                 f"make_decoder(16): pixels range over {output.min():.3g}..{output.max():.3g}; expected (0, 1) "
                 "(a sigmoid output)")


@Q3.check(points=1, public=True)
def forward_encodes_then_decodes(sub, ref):
    """forward returns (decoder(encoder(x)), encoder(x)) with the grader's networks"""
    encoder_weights, decoder_weights = linear_weights(31, PIXELS, 3), linear_weights(41, 3, PIXELS)
    x = images(32, 4)
    got = sub.call("ae_forward", encoder_weights=encoder_weights, decoder_weights=decoder_weights, x=x)
    h = x.flatten(1) @ encoder_weights[0].T + encoder_weights[1]
    x_hat = torch.sigmoid(h @ decoder_weights[0].T + decoder_weights[1]).view(4, 1, 28, 28)
    judge.close(got["h"], h, "AutoEncoder.forward: the code h")
    judge.close(got["x_hat"], x_hat, "AutoEncoder.forward: the reconstruction x_hat")


@Q4.check(points=1, public=True)
def closed_form_examples(sub, ref):
    """MSE of a uniform 0.1 error; BCE of binary images reconstructed at 0.9 / 0.1; bce by default"""
    x = (images(51, 3) > 0.5).float()
    x_hat = x * 0.8 + 0.1
    mse = sub.call("reconstruction", x_hat=x_hat, x=x, kind="mse")
    judge.close(mse["loss"], PIXELS * 0.01, "reconstruction_loss(x + 0.1 error, x, 'mse') (per image: 784 x 0.1^2)")
    expected_bce = -PIXELS * math.log(0.9)
    for kind in ("bce", None):
        got = sub.call("reconstruction", x_hat=x_hat, x=x, kind=kind)
        judge.close(got["loss"], expected_bce, "reconstruction_loss(..., 'bce')" if kind else
                    "reconstruction_loss(x_hat, x) (the default kind is 'bce')")
        judge.expect(got["attached"], "reconstruction_loss: the loss is detached from the graph "
                                      "(do not use .item(), .detach() or torch.no_grad())")


@Q5.check(points=1, public=True)
def noise_has_the_amplitude_as_standard_deviation(sub, ref):
    """the noise added has mean 0 and standard deviation `amplitude`; x itself is unchanged"""
    x = torch.linspace(0, 1, 4).view(1, 1, 2, 2).repeat(4000, 1, 1, 1)
    got = sub.call("white_noise", x=x, amplitude=0.3)
    judge.expect(got["x_unchanged"], "add_white_noise modified its input x (return a new tensor)")
    judge.distribution(got["noisy"] - x, 0.0, 0.3, "add_white_noise(x, 0.3) - x")
    same = sub.call("white_noise", x=x[:5], amplitude=0.0)
    judge.close(same["noisy"], x[:5], "add_white_noise(x, 0)")


@Q6.check(points=1, public=True)
def counts_of_the_layers(sub, ref):
    """n_parameters(d) for d = 2, 16, 32, 64 and other widths, counted layer by layer"""
    for hidden in (None, (64, 16), ()):
        widths = DEFAULT_HIDDEN if hidden is None else hidden
        for d in (2, 16, 32, 64):
            sizes = (PIXELS, *widths, d)
            expected = chain_parameters(sizes) + chain_parameters(sizes[::-1])  # encoder + decoder
            got = sub.call("parameter_count", d=d, hidden=None if hidden is None else list(hidden))
            judge.equal(got, expected, f"n_parameters({d}" + ("" if hidden is None else f", {hidden}") + ")")


@Q7.check(points=1, public=True)
def ratio_of_values(sub, ref):
    """compression_ratio(d) = d values against 28 x 28 pixels (and 32 x 32)"""
    for d in (2, 16, 32, 64):
        judge.close(sub.call("ratio", d=d), d / PIXELS, f"compression_ratio({d})")
    judge.close(sub.call("ratio", d=8, image_shape=[32, 32]), 8 / 1024, "compression_ratio(8, (32, 32))")


@Q8.check(points=1, public=True)
def encoder_has_twice_the_latent_outputs(sub, ref):
    """VAE(3): an encoder of 6 outputs, a decoder from 3 values, encode gives two (N, 3) tensors"""
    got = sub.call("vae_structure", d=3, x=images(81, 4), z=randn(82, 4, 3))
    judge.equal(got["encoder_shape"], [4, 6], "VAE(3).encoder output shape for 4 images (2 x d values)")
    judge.equal(got["decoder_shape"], [4, 1, 28, 28], "VAE(3).decoder output shape for 4 codes")
    judge.equal(got["mu_shape"], [4, 3], "VAE(3).encode: shape of mu")
    judge.equal(got["logvar_shape"], [4, 3], "VAE(3).encode: shape of logvar")


@Q9.check(points=1, public=True)
def samples_follow_the_posterior(sub, ref):
    """4000 draws have mean mu and standard deviation exp(logvar / 2)"""
    mu, logvar = torch.tensor([0.5, -2.0, 3.0]), torch.tensor([0.0, -1.0, 1.5])
    got = sub.call("reparameterization", mu=mu.repeat(4000, 1), logvar=logvar.repeat(4000, 1))
    judge.distribution(got["z"], mu, torch.exp(logvar / 2), "reparameterize(mu, logvar)")


@Q10.check(points=1, public=True)
def kl_term_special_cases(sub, ref):
    """the KL term: 0 for q = N(0, I), |mu|^2 / 2 for unit variances, d (4 - 1 - log 4) / 2 for variance 4"""
    x, x_hat = images(101, 3), reconstructions(102, 3)
    mu = randn(103, 3, 2)
    zero = torch.zeros(3, 2)
    cases = {"prior": (zero, zero), "means": (mu, zero), "variances": (zero, torch.full((3, 2), math.log(4)))}
    losses = {name: sub.call("elbo_loss", x_hat=x_hat, x=x, mu=m, logvar=lv, standins=RECONSTRUCTION)
              for name, (m, lv) in cases.items()}
    judge.expect(losses["prior"]["attached"], "vae_loss: the loss is detached from the graph")
    judge.close(losses["means"]["loss"] - losses["prior"]["loss"], float((mu ** 2).sum(dim=1).mean() / 2),
                "vae_loss: KL term for unit variances (|mu|^2 / 2 per image, averaged)", rtol=1e-4, atol=1e-4)
    judge.close(losses["variances"]["loss"] - losses["prior"]["loss"], 2 * (4 - 1 - math.log(4)) / 2,
                "vae_loss: KL term for mu = 0 and variance 4 in d = 2 dimensions", rtol=1e-4, atol=1e-4)


@Q11.check(points=1, public=True)
def penalty_terms(sub, ref):
    """lambda1 times the mean L1 norm of the codes, lambda2 times the squared decoder weights"""
    x, x_hat, h = images(111, 4), reconstructions(112, 4), randn(113, 4, 5)
    weights = linear_weights(114, 5, 7, PIXELS)
    case = {"x_hat": x_hat, "x": x, "h": h, "decoder_weights": weights, "standins": RECONSTRUCTION}
    base = sub.call("sparse", lambda1=0.0, lambda2=0.0, **case)
    judge.expect(base["attached"], "sparse_loss: the loss is detached from the graph")
    l1 = sub.call("sparse", lambda1=0.5, lambda2=0.0, **case)
    judge.close(l1["loss"] - base["loss"], 0.5 * float(h.abs().sum(dim=1).mean()),
                "sparse_loss: lambda1 term (lambda1 x the L1 norm of each code, averaged over the batch)",
                rtol=1e-4, atol=1e-4)
    l2 = sub.call("sparse", lambda1=0.0, lambda2=0.01, **case)
    weight_squares = float(sum((w ** 2).sum() for w in weights[::2]))
    judge.any_close(l2["loss"] - base["loss"], [0.01 * weight_squares, 0.01 * (weight_squares + l2["bias_squares"])],
                    "sparse_loss: lambda2 term (lambda2 x the sum of the squared decoder weights)", rtol=1e-4, atol=1e-4)


@Q12.check(points=1, public=True)
def linear_ramp(sub, ref):
    """rises linearly from start (epoch 0) to final (last epoch)"""
    judge.close(torch.tensor(sub.call("schedule", epochs=list(range(5)), n_epochs=5, final=0.8)),
                torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8]), "lambda1_schedule(epoch, 5, 0.8) for epochs 0..4")
    judge.close(torch.tensor(sub.call("schedule", epochs=[0, 1, 2], n_epochs=3, final=0.5, start=0.1)),
                torch.tensor([0.1, 0.3, 0.5]), "lambda1_schedule(epoch, 3, 0.5, start=0.1) for epochs 0..2")
    judge.close(torch.tensor(sub.call("schedule", epochs=[3, 1], n_epochs=4, final=0.3)), torch.tensor([0.3, 0.1]),
                "lambda1_schedule(epoch, 4, 0.3) for epochs 3 and 1")
