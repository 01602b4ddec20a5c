"""Hidden checks of the `autoencoders` assignment (instructor only: the release leaves this file out).

They compare the submission with the reference solution on inputs the students never see: every
input is built when the check runs, from `grading.shared`, whose seeds the grader mixes with the
submission's key (so each submission gets its own). Messages say what is wrong, never the hidden
inputs or the expected values.
"""

from grading import judge
from grading.assignments.autoencoders.public import (
    PIXELS,
    Q1,
    Q2,
    Q4,
    Q5,
    Q8,
    Q9,
    Q10,
    Q11,
    RECONSTRUCTION,
    expect_independent_pixels,
    expect_linear_chain,
    images,
    judge_encode,
    linear_weights,
    noise_of,
    reconstructions,
)
from grading.rubric import CheckFailed, SubmissionFailure
from grading.shared import rand, randn


def check_with_or_without_helper(sub, ref, probe, compare, **args):
    """Judge a loss meant to call `reconstruction_loss`, whatever that helper's own correctness.

    The submission runs once with the helper swapped for a stand-in (see probes.py), to be
    compared with the reference run the same way, and once as it is, to be compared with the
    plain reference run (for a submission that computes the reconstruction term inline). It is
    right if either pair matches.
    """
    pairs, failures = [], []
    for standins in (RECONSTRUCTION, []):
        try:
            got = sub.call(probe, standins=standins, **args)
        except SubmissionFailure as failure:  # e.g. its own helper is not written yet
            failures.append(failure)
            continue
        pairs.append((got, ref.call(probe, standins=standins, **args)))
    if not pairs:
        raise failures[0]
    judge.any_of(pairs, lambda pair: compare(*pair))


def compare_networks(sub, ref, what, seed, **build):
    """Same Linear layers as the reference, and the same output once the same weights are loaded."""
    expected = ref.call("network", **build)
    got = sub.call("network", **build)
    linear = [layer for layer in expected["layers"] if layer["layer"] == "Linear"]
    sizes = [linear[0]["in_features"]] + [layer["out_features"] for layer in linear]
    expect_linear_chain(got["layers"], sizes, what)
    weights = linear_weights(seed, *sizes)
    judge.close(sub.call("network", weights=weights, **build)["output"],
                ref.call("network", weights=weights, **build)["output"], f"{what}: output with the grader's weights")


def compare_losses(got, expected, what):
    """Value and gradients, the expected ones computed by the reference in the grader."""
    judge.close(got["loss"], expected["loss"], what, rtol=1e-4, atol=1e-4)
    if got["gradients"] is None:
        raise CheckFailed(f"{what}: the loss is detached from the graph")
    judge.expect(isinstance(got["gradients"], list) and len(got["gradients"]) == len(expected["gradients"]),
                 f"{what}: the gradients of the loss could not be read")
    for i, (g, e) in enumerate(zip(got["gradients"], expected["gradients"])):
        judge.close(g, e, f"{what}: gradient with respect to input {i + 1}", rtol=1e-3, atol=1e-5)


@Q1.check(points=1)
def encoders_match_the_reference(sub, ref):
    """ReLU between the layers, no activation on the code: outputs with the grader's weights"""
    for seed, (d, hidden) in enumerate(((32, None), (5, [64, 16]), (3, []))):
        what = f"make_encoder({d}" + ("" if hidden is None else f", {tuple(hidden)}") + ")"
        compare_networks(sub, ref, what, 120 + 10 * seed, part="encoder", d=d, hidden=hidden,
                         x=images(121 + seed, 4))


@Q2.check(points=1)
def decoders_match_the_reference(sub, ref):
    """the encoder's widths in reverse, ReLU between the layers, sigmoid: outputs with the grader's weights"""
    for seed, (d, hidden) in enumerate(((16, None), (5, [64, 16]), (3, []))):
        what = f"make_decoder({d}" + ("" if hidden is None else f", {tuple(hidden)}") + ")"
        compare_networks(sub, ref, what, 140 + 10 * seed, part="decoder", d=d, hidden=hidden,
                         x=randn(141 + seed, 4, d) * 2)


@Q4.check(points=1)
def losses_match_the_reference(sub, ref):
    """BCE and MSE values and gradients on other images"""
    x, x_hat = images(151, 5), reconstructions(152, 5)
    for kind in ("bce", "mse", None):
        args = {"x_hat": x_hat, "x": x, "kind": kind}
        compare_losses(sub.call("reconstruction", **args), ref.call("reconstruction", **args),
                       f"reconstruction_loss(kind={kind!r})" if kind else "reconstruction_loss (default kind)")


@Q5.check(points=1)
def given_noise_and_independent_pixels(sub, ref):
    """x + amplitude * noise for a given noise; independent draws for every pixel and every image"""
    x, noise = images(161, 3), randn(162, 3, 1, 28, 28)
    amplitude = 0.2 + 0.8 * float(rand(163, 1))
    args = {"x": x, "amplitude": amplitude, "noise": noise}
    judge.close(sub.call("white_noise", **args)["noisy"], ref.call("white_noise", **args)["noisy"],
                "add_white_noise(x, amplitude, noise)")
    x = rand(164, 1, 1, 2, 2).repeat(8000, 1, 1, 1)
    draws = noise_of(sub.call("white_noise", x=x, amplitude=amplitude), x, "add_white_noise(x, amplitude)")
    judge.distribution(draws, 0.0, amplitude, "add_white_noise(x, amplitude) - x")
    expect_independent_pixels(draws, amplitude, "add_white_noise(x, amplitude)")


@Q8.check(points=1)
def encode_splits_means_then_log_variances(sub, ref):
    """encode returns the first d encoder outputs as mu and the last d as logvar"""
    for seed, d in ((181, 2), (185, 4)):
        args = {"encoder_weights": linear_weights(seed, PIXELS, 2 * d), "x": images(seed + 1, 5)}
        judge_encode(sub, d, args["encoder_weights"], args["x"], f"VAE.encode (d = {d})")


@Q9.check(points=1)
def given_noise_and_gradients(sub, ref):
    """mu + exp(logvar / 2) * noise for a given noise, with gradients flowing to mu and logvar"""
    args = {"mu": randn(191, 6, 3), "logvar": randn(192, 6, 3), "noise": randn(193, 6, 3)}
    got, expected = sub.call("reparameterization", **args), ref.call("reparameterization", **args)
    judge.close(got["z"], expected["z"], "reparameterize(mu, logvar, noise)")
    judge.expect(got["gradients"] is not None, "reparameterize: z is detached from mu and logvar (no gradient flows)")
    judge.expect(isinstance(got["gradients"], list) and len(got["gradients"]) == 2,
                 "reparameterize: the gradients could not be read")
    judge.close(got["gradients"][0], expected["gradients"][0], "reparameterize: gradient with respect to mu")
    judge.close(got["gradients"][1], expected["gradients"][1], "reparameterize: gradient with respect to logvar")


@Q10.check(points=1)
def elbo_matches_the_reference(sub, ref):
    """negative ELBO values and gradients, BCE and MSE, random means and variances"""
    base = {"x_hat": reconstructions(201, 4), "x": images(202, 4), "mu": randn(203, 4, 3),
            "logvar": randn(204, 4, 3) * 0.5}
    for kind in ("bce", "mse", None):
        check_with_or_without_helper(sub, ref, "elbo_loss",
                                     lambda got, expected: compare_losses(got, expected, f"vae_loss(kind={kind!r})"),
                                     kind=kind, **base)


@Q11.check(points=1)
def sparse_loss_matches_the_reference(sub, ref):
    """values and gradients with both penalties, BCE and MSE"""
    base = {"x_hat": reconstructions(211, 3), "x": images(212, 3), "h": randn(213, 3, 6),
            "decoder_weights": linear_weights(214, 6, 9, PIXELS), "lambda1": 0.3, "lambda2": 0.02}

    def compare(got, expected, kind):
        with_biases = dict(expected, loss=expected["loss"] + base["lambda2"] * expected["bias_squares"])
        judge.any_of([expected, with_biases], lambda want: judge.close(got["loss"], want["loss"],
                                                                       f"sparse_loss(kind={kind!r})", atol=1e-4))
        got, expected = dict(got, loss=0.0), dict(expected, loss=0.0)
        compare_losses(got, expected, f"sparse_loss(kind={kind!r})")

    for kind in ("bce", "mse"):
        check_with_or_without_helper(sub, ref, "sparse", lambda got, expected: compare(got, expected, kind),
                                     kind=kind, **base)
