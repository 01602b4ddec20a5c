"""Questions of the `autoencoders` assignment (20 points) and their public checks.

Public checks ship to students: they use closed-form facts and properties only, never the
reference solution. Every expected value is computed here, in the grader, from inputs the grader
chose (the networks of the statement, the gradients of the losses, the probes' stand-ins): nothing
the submission's process reports about itself is taken on trust. Where a common mistake can be
recognised, the message names it. The hidden checks (hidden.py, instructor only) compare with the
reference on other inputs.
"""
import math

import torch

from grading import judge, shared
from grading.rubric import CheckFailed, Question
from grading.shared import generator, randn

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


# -- inputs ---------------------------------------------------------------------------------------

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


# -- the statement's networks, computed here ------------------------------------------------------

def chain_output(weights, x, last=None) -> torch.Tensor:
    """Linear layers with ReLU between them (none after the last), then `last` ("sigmoid" for a
    decoder, reshaped to images)."""
    h = x.flatten(1)
    for i in range(0, len(weights), 2):
        h = h @ weights[i].T + weights[i + 1]
        if i + 2 < len(weights):
            h = h.clamp(min=0)
    if last == "sigmoid":
        return torch.sigmoid(h).view(len(x), 1, 28, 28)
    return h


def linear_layers(sizes):
    return [{"layer": "Linear", "in_features": a, "out_features": b} for a, b in zip(sizes, sizes[1:])]


def expect_linear_chain(layers: list, sizes, what: str) -> None:
    """The Linear layers called, in order, map sizes[0] -> sizes[1] -> ... (other layers, such as
    activations and reshapes, are judged by the outputs). In a hidden check the message names
    the wrong layer, not the expected widths (they are the hidden case's)."""
    got, expected = shared.of_kinds(layers, ["Linear"]), linear_layers(sizes)
    if not shared.in_hidden_check():
        shared.expect_layers(got, expected, what)
        return
    shown = " -> ".join(str(width) for width in [got[0]["in_features"], *[layer["out_features"] for layer in got]]) \
        if got else "none"
    judge.expect([(layer["in_features"], layer["out_features"]) for layer in got] == list(zip(sizes, sizes[1:])),
                 f"{what}: its Linear layers map {shown}, not the widths this case asks for")


def judge_network(sub, what, seed, part, d, x, hidden=None):
    """The statement's Linear layers, and the statement's output once the grader's weights are
    loaded (computed here, not reported by the submission's process)."""
    widths = DEFAULT_HIDDEN if hidden is None else tuple(hidden)
    sizes = (PIXELS, *widths, d) if part == "encoder" else (d, *reversed(widths), PIXELS)
    weights = linear_weights(seed, *sizes)
    got = sub.call("network", part=part, d=d, x=x, hidden=None if hidden is None else list(hidden), weights=weights)
    expect_linear_chain(got["layers"], sizes, what)
    judge.close(got["output"], chain_output(weights, x, None if part == "encoder" else "sigmoid"),
                f"{what}: output with the grader's weights" +
                (" (ReLU after every hidden layer, none on the code)" if part == "encoder" else
                 " (ReLU after every hidden layer, a sigmoid on the pixels, images of shape (N, 1, 28, 28))"))


# -- judging helpers ------------------------------------------------------------------------------

def expect_gradient(report: dict, index: int, expected, what: str, rtol=1e-3, atol=1e-5) -> None:
    """The gradient a probe's loss sent back to its input `index` is `expected` (computed here):
    the loss must be attached to the graph, and its gradient right."""
    gradients = report.get("gradients")
    if gradients is None:
        raise CheckFailed(f"{what}: the loss is detached from the graph (do not use .item(), .detach() or "
                          "torch.no_grad())")
    if not isinstance(gradients, list) or len(gradients) <= index:
        raise CheckFailed(f"{what}: the gradients of the loss could not be read")
    judge.close(gradients[index], expected, what, rtol=rtol, atol=atol)


def bce(x_hat, x):
    """The statement's reconstruction loss: summed over the pixels, averaged over the batch."""
    return -(x * x_hat.log() + (1 - x) * (1 - x_hat).log()).flatten(1).sum(1).mean()


# -- checks ---------------------------------------------------------------------------------------

@Q1.check(points=1, public=True)
def default_encoder(sub, ref):
    """make_encoder(32): Linear layers 784 -> 256 -> 32 with a ReLU between them, codes with the grader's weights"""
    judge_network(sub, "make_encoder(32)", 11, "encoder", 32, images(1, 5))


@Q2.check(points=1, public=True)
def default_decoder(sub, ref):
    """make_decoder(16): Linear layers 16 -> 256 -> 784, ReLU, sigmoid, (N, 1, 28, 28) images, the grader's weights"""
    judge_network(sub, "make_decoder(16)", 21, "decoder", 16, randn(2, 6, 16) * 2)


@Q3.check(points=1, public=True)
def forward_encodes_then_decodes(sub, ref):
    """forward returns (decoder(encoder(x)), encoder(x)) with the grader's networks"""
    encoder_weights, decoder_weights = linear_weights(31, PIXELS, 3), linear_weights(41, 3, PIXELS)
    x = images(32, 4)
    got = sub.call("ae_forward", encoder_weights=encoder_weights, decoder_weights=decoder_weights, x=x)
    h = chain_output(encoder_weights, x)
    judge.close(got["h"], h, "AutoEncoder.forward: the code h")
    judge.close(got["x_hat"], chain_output(decoder_weights, h, "sigmoid"),
                "AutoEncoder.forward: the reconstruction x_hat")


@Q4.check(points=1, public=True)
def closed_form_examples(sub, ref):
    """BCE and MSE summed over the pixels, averaged over the batch, and their gradients; ValueError for another kind"""
    x = (images(51, 3) > 0.5).float()
    x_hat = x * 0.8 + 0.1
    mse = sub.call("reconstruction", x_hat=x_hat, x=x, kind="mse")
    pixels = (" (the mean over the pixels too: sum the errors over the pixels of each image, then average "
              "over the images)")
    judge.close_unless(mse["loss"], PIXELS * 0.01,
                       "reconstruction_loss(x + 0.1 error, x, 'mse') (per image: 784 x 0.1^2)",
                       [(0.01, "averaged over the pixels" + pixels),
                        (3 * PIXELS * 0.01, "summed over the batch too: average it over the images")])
    expect_gradient(mse, 0, 2 * (x_hat - x) / 3, "reconstruction_loss(..., 'mse'): gradient with respect to x_hat")
    expected_bce = -PIXELS * math.log(0.9)
    for kind in ("bce", None):
        got = sub.call("reconstruction", x_hat=x_hat, x=x, kind=kind)
        what = ("reconstruction_loss(..., 'bce')" if kind else
                "reconstruction_loss(x_hat, x) (the default kind is 'bce')")
        judge.close_unless(got["loss"], expected_bce, what,
                           [(-math.log(0.9), "averaged over the pixels" + pixels),
                            (3 * expected_bce, "summed over the batch too: average it over the images")])
        expect_gradient(got, 0, (x_hat - x) / (x_hat * (1 - x_hat)) / 3, f"{what}: gradient with respect to x_hat")
    raised = sub.call("reconstruction_error", x_hat=x_hat, x=x, kind="l1")
    judge.expect(raised == "ValueError", "reconstruction_loss(x_hat, x, 'l1') must raise a ValueError (the kind is "
                                         "neither 'bce' nor 'mse'); it " +
                 (f"raised {raised}" if raised else "returned a value"))


def noise_of(report, x, what):
    noisy = report["noisy"]
    judge.expect(isinstance(noisy, torch.Tensor) and noisy.shape == x.shape, f"{what}: expected a tensor shaped like x")
    return (noisy - x).double()


def expect_independent_pixels(noise, amplitude, what):
    """noise (n images, pixels...): independent draws for every pixel and every image."""
    flat = noise.flatten(1)
    judge.expect(not bool(((flat - flat[:, :1]).abs() < 1e-5).all()),
                 f"{what}: every pixel of an image gets the same noise value; draw one value per pixel "
                 "(e.g. torch.randn_like(x))")
    judge.expect(not bool(((flat - flat[:1]).abs() < 1e-5).all()),
                 f"{what}: every image of the batch gets the same noise; draw new values for every image")
    judge.distribution(flat[:, :1] - flat[:, -1:], 0.0, amplitude * 2 ** 0.5,
                       f"{what}: difference between two pixels of an image (independent draws?)")
    judge.distribution(flat[0::2] - flat[1::2], 0.0, amplitude * 2 ** 0.5,
                       f"{what}: difference between two images of a batch (independent draws?)")


@Q5.check(points=1, public=True)
def noise_has_the_amplitude_as_standard_deviation(sub, ref):
    """independent N(0, amplitude^2) noise on every pixel of every image, new at every call; x is unchanged"""
    x = torch.linspace(0, 1, 4).view(1, 1, 2, 2).repeat(4000, 1, 1, 1)
    first = sub.call("white_noise", x=x, amplitude=0.3)
    judge.expect(first["x_unchanged"], "add_white_noise modified its input x (return a new tensor)")
    noise = noise_of(first, x, "add_white_noise(x, 0.3)")
    judge.distribution(noise, 0.0, 0.3, "add_white_noise(x, 0.3) - x")
    expect_independent_pixels(noise, 0.3, "add_white_noise(x, 0.3)")
    judge.independent_draws(noise, noise_of(sub.call("white_noise", x=x, amplitude=0.3), x, "add_white_noise"),
                            "add_white_noise(x, 0.3), called twice")
    given = randn(52, 5, 1, 2, 2)
    judge.close(sub.call("white_noise", x=x[:5], amplitude=0.5, noise=given)["noisy"], x[:5] + 0.5 * given,
                "add_white_noise(x, 0.5, noise) (x + amplitude * noise)")


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


def judge_encode(sub, d, weights, x, what):
    """VAE.encode with the grader's encoder of 2 d outputs: the first d are mu, the last d logvar."""
    got = sub.call("vae_encode", encoder_weights=weights, x=x)
    outputs = chain_output(weights, x)
    mu, logvar = outputs[:, :d], outputs[:, d:]
    swapped = "mu and logvar are swapped: the first d outputs of the encoder are the means"
    judge.close_unless(got["mu"], mu, f"{what} (mu)", [(logvar, swapped)])
    judge.close_unless(got["logvar"], logvar, f"{what} (logvar)", [(mu, swapped)])


@Q8.check(points=1, public=True)
def encoder_has_twice_the_latent_outputs(sub, ref):
    """VAE(3): an encoder of 6 outputs, a decoder from 3 values; encode splits an encoder's outputs into mu, logvar"""
    got = sub.call("vae_structure", d=3, x=images(81, 4), z=randn(82, 4, 3))
    judge.equal(got["encoder_shape"], [4, 6], "VAE(3).encoder output shape for 4 images (2 x d values)")
    judge.equal(got["decoder_shape"], [4, 1, 28, 28], "VAE(3).decoder output shape for 4 codes")
    judge_encode(sub, 3, linear_weights(83, PIXELS, 6), images(84, 5), "VAE(3).encode with the grader's encoder")


@Q9.check(points=1, public=True)
def samples_follow_the_posterior(sub, ref):
    """4000 draws have mean mu and standard deviation exp(logvar / 2), new ones at every call"""
    mu, logvar = torch.tensor([0.5, -2.0, 3.0]), torch.tensor([0.0, -1.0, 1.5])
    args = {"mu": mu.repeat(4000, 1), "logvar": logvar.repeat(4000, 1)}
    z = sub.call("reparameterization", **args)["z"]
    judge.expect(isinstance(z, torch.Tensor) and tuple(z.shape) == (4000, 3), "reparameterize: z must have mu's shape")
    spread = z.double().std(dim=0)
    for wrong, explanation in ((logvar.exp(), "exp(logvar) is the variance, not the standard deviation: "
                                              "sigma = exp(logvar / 2)"),
                               (logvar.abs(), "logvar is a log-variance, not the standard deviation: "
                                              "sigma = exp(logvar / 2)")):
        if torch.allclose(spread, wrong.double(), rtol=0.06):
            raise CheckFailed(f"reparameterize(mu, logvar): the draws' standard deviation is about "
                              f"{[round(v, 2) for v in spread.tolist()]}; {explanation}")
    judge.distribution(z, mu, torch.exp(logvar / 2), "reparameterize(mu, logvar)")
    sigma = torch.exp(logvar / 2)
    judge.independent_draws((z - mu) / sigma, (sub.call("reparameterization", **args)["z"] - mu) / sigma,
                            "reparameterize, called twice")


def kl_cases(seed: int):
    x, x_hat = images(seed, 3), reconstructions(seed + 1, 3)
    mu = randn(seed + 2, 3, 2)
    zero = torch.zeros(3, 2)
    variances = torch.full((3, 2), math.log(4))
    return x, x_hat, mu, {"prior": (zero, zero), "means": (mu, zero), "variances": (zero, variances)}


@Q10.check(points=1, public=True)
def kl_term_special_cases(sub, ref):
    """the KL term: 0 for q = N(0, I), |mu|^2 / 2 for unit variances, d (4 - 1 - log 4) / 2 for variance 4"""
    x, x_hat, mu, cases = kl_cases(101)
    losses = {name: sub.call("elbo_loss", x_hat=x_hat, x=x, mu=m, logvar=lv, standins=RECONSTRUCTION)
              for name, (m, lv) in cases.items()}
    n, d = mu.shape
    for name, expected, what in (("means", float((mu ** 2).sum(dim=1).mean() / 2),
                                  "vae_loss: KL term for unit variances (|mu|^2 / 2 per image, averaged)"),
                                 ("variances", d * (4 - 1 - math.log(4)) / 2,
                                  "vae_loss: KL term for mu = 0 and variance 4 in d = 2 dimensions")):
        judge.close_unless(losses[name]["loss"] - losses["prior"]["loss"], expected, what,
                           [(expected / d, "the KL term is averaged over the d latent dimensions; sum it over them "
                                           "(then average over the images)"),
                            (expected * n, "the KL term is summed over the images; average it over the batch")],
                           rtol=1e-4, atol=1e-4)
    expect_gradient(losses["means"], 1, mu / n, "vae_loss: gradient with respect to mu (unit variances)")
    expect_gradient(losses["variances"], 2, torch.full((n, d), 0.5 * (4 - 1) / n),
                    "vae_loss: gradient with respect to logvar (variance 4)")


def sparse_case(seed: int, n: int, d: int) -> dict:
    return {"x_hat": reconstructions(seed, n), "x": images(seed + 1, n), "h": randn(seed + 2, n, d),
            "decoder_weights": linear_weights(seed + 3, d, 7, PIXELS)}


@Q11.check(points=1, public=True)
def penalty_terms(sub, ref):
    """lambda1 times the mean L1 norm of the codes, lambda2 times the squared decoder weights; their gradients"""
    case = dict(sparse_case(111, 4, 5), standins=RECONSTRUCTION)
    h, weights = case["h"], case["decoder_weights"]
    n, d = h.shape
    base = sub.call("sparse", lambda1=0.0, lambda2=0.0, **case)
    l1 = sub.call("sparse", lambda1=0.5, lambda2=0.0, **case)
    expected_l1 = 0.5 * float(h.abs().sum(dim=1).mean())
    judge.close_unless(l1["loss"] - base["loss"], expected_l1,
                       "sparse_loss: lambda1 term (lambda1 x the L1 norm of each code, averaged over the batch)",
                       [(expected_l1 / d, "the L1 term is averaged over the code's values; take each code's L1 "
                                          "norm (a sum over its values), then average over the batch"),
                        (expected_l1 * n, "the L1 term is summed over the batch; average it over the images")],
                       rtol=1e-4, atol=1e-4)
    expect_gradient(l1, 1, 0.5 * h.sign() / n, "sparse_loss: gradient of the lambda1 term with respect to h")
    l2 = sub.call("sparse", lambda1=0.0, lambda2=0.01, **case)
    weight_squares = float(sum((w.double() ** 2).sum() for w in weights[0::2]))
    bias_squares = float(sum((b.double() ** 2).sum() for b in weights[1::2]))
    judge.any_close(l2["loss"] - base["loss"], [0.01 * weight_squares, 0.01 * (weight_squares + bias_squares)],
                    "sparse_loss: lambda2 term (lambda2 x the sum of the squared decoder weights)",
                    rtol=1e-4, atol=1e-4)
    for i, weight in enumerate(weights[0::2]):
        expect_gradient(l2, 2 + i, 2 * 0.01 * weight, f"sparse_loss: gradient with respect to decoder weight {i + 1}")


@Q12.check(points=1, public=True)
def linear_ramp(sub, ref):
    """rises linearly from start (epoch 0) to final (last epoch); a one-epoch schedule works"""
    judge.close_unless(torch.tensor(sub.call("schedule", epochs=list(range(5)), n_epochs=5, final=0.8)),
                       torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8]), "lambda1_schedule(epoch, 5, 0.8) for epochs 0..4",
                       [(torch.tensor([0.0, 0.16, 0.32, 0.48, 0.64]),
                         "it never reaches final: the last epoch is n_epochs - 1 (divide by n_epochs - 1)")])
    judge.close(torch.tensor(sub.call("schedule", epochs=[0, 1, 2], n_epochs=3, final=0.5, start=0.1)),
                torch.tensor([0.1, 0.3, 0.5]), "lambda1_schedule(epoch, 3, 0.5, start=0.1) for epochs 0..2")
    judge.close(torch.tensor(sub.call("schedule", epochs=[3, 1], n_epochs=4, final=0.3)), torch.tensor([0.3, 0.1]),
                "lambda1_schedule(epoch, 4, 0.3) for epochs 3 and 1")
    # One epoch: epoch 0 is the first and the last; the docstring asks for final, start is accepted.
    judge.any_close(sub.call("schedule", epochs=[0], n_epochs=1, final=0.7, start=0.2)[0], [0.7, 0.2],
                    "lambda1_schedule(0, 1, 0.7, start=0.2) (a one-epoch schedule: the docstring gives final)")
