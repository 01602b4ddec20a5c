"""Hidden checks of the `vae` assignment (instructor only: the release leaves this file out).

They compare the submission with the reference solution on inputs the students never see, and
add the statistical and numerical properties of the random and the log-sum-exp answers.
"""
import math

import torch

from grading import judge
from grading.assignments.vae import probes
from grading.assignments.vae.public import (IMAGE, MATRIX, Q1, Q2, Q3, Q5, Q6, Q7, Q8, Q9, Q10, STANDIN_MODEL,
                                            X_FORWARD, Z, check_log_likelihood_on_linear_model, decoded,
                                            decoded_batch, either, expect_mode_of, latents_per_image, linear_images,
                                            posterior_of, randn)


def expect_posterior_draws(got, z, mean, std, what):
    """The decoded latents z (B, Z) are draws from q(z|x) = N(mean, std^2): the draws of
    DiagonalGaussianDistribution.sample on q(z|x), or, drawn otherwise, normal around the mean."""
    for draw_mean, draw in got["draws"]:
        if draw.shape == z.shape and torch.equal(draw, z) and torch.allclose(draw_mean.double(), mean, atol=1e-5):
            return
    judge.expect(not torch.allclose(z.double(), mean, atol=1e-6), f"{what} decoded the posterior's mean, not a "
                                                                  "sample of q(z|x)")
    judge.distribution((z.double() - mean) / std, 0.0, 1.0, f"{what}: (z - mean) / std of the decoded latents "
                       "(should be standard normal: z sampled from q(z|x))")


def expected_log_likelihood(got, x, K, scale, what):
    """What a correct estimator returns given the latents it drew, with the stand-in densities."""
    mean, logvar, _ = posterior_of(x)
    groups = latents_per_image(got, mean, what)
    expected = []
    for b, z in enumerate(groups):
        judge.expect(len(z) == K, f"{what}: {len(z)} latents were decoded for image {b}; expected K = {K}")
        z = z.double()
        image = x[b].double().expand(len(z), *x.shape[1:])
        log_p_x_given_z = -probes.standin_nll(image, decoded(z), torch.zeros(()), [1, 2, 3], scale)
        log_p_z = -probes.standin_nll(z, torch.zeros(()), torch.zeros(()), [1], scale)
        log_q_z = -probes.standin_nll(z, mean[b], logvar[b], [1], scale)
        expected.append(torch.logsumexp(log_p_x_given_z + log_p_z - log_q_z, dim=0) - math.log(K))
    return torch.stack(expected)


def check_log_likelihood_with_standins(sub, x, K, scale, what, rtol=1e-4, atol=1e-3):
    got = sub.call("log_likelihood", x=x, K=K, scale=scale, **STANDIN_MODEL)
    judge.expect(tuple(got["ll"].shape) == (x.shape[0],), f"{what} returned shape {tuple(got['ll'].shape)}; "
                                                           f"expected ({x.shape[0]},)")
    judge.close(got["ll"], expected_log_likelihood(got, x, K, scale, what), what, rtol=rtol, atol=atol)


@Q1.check(points=0.5)
def draws_follow_the_distribution(sub, ref):
    """4000 draws follow N(mean, exp(logvar)); `noise`, when accepted, is the standard normal used"""
    mu, logvar = randn(100, 5) * 2, randn(101, 5)
    got = sub.call("dgd_sample", mean=mu.expand(4000, 5).clone(), logvar=logvar.expand(4000, 5).clone())
    judge.distribution(got["sample"], mu, torch.exp(0.5 * logvar), "sample: 4000 draws")
    args = {"mean": randn(102, 6, 5), "logvar": randn(103, 6, 5), "noise": randn(104, 6, 5)}
    got = sub.call("dgd_sample", **args)
    if got["accepts_noise"]:
        judge.close(got["sample"], ref.call("dgd_sample", **args)["sample"], "sample(noise=...)")


@Q2.check(points=1)
def kl_matches_the_reference(sub, ref):
    """random means and log-variances, some beyond the [-30, 20] clamp"""
    logvar = randn(110, 6, 5) * 2
    logvar[0, 0], logvar[1, 1] = -40.0, 25.0
    args = {"mean": randn(111, 6, 5) * 3, "logvar": logvar}
    judge.close(sub.call("dgd_kl", **args), ref.call("dgd_kl", **args), "kl", rtol=1e-4)


@Q3.check(points=1)
def nll_matches_the_reference(sub, ref):
    """random images (default dims), vectors (dims=[1]) and dims=[1, 2]"""
    for seed, shape, dims in ((120, (3, 3, 4, 4), None), (123, (5, 7), [1]), (126, (2, 3, 5), [1, 2])):
        args = {"mean": randn(seed, *shape), "logvar": randn(seed + 1, *shape), "sample": randn(seed + 2, *shape) * 2,
                "dims": dims}
        judge.close(sub.call("dgd_nll", **args), ref.call("dgd_nll", **args), f"nll, shape {shape}, dims={dims}")


@Q5.check(points=1)
def posterior_matches_the_reference(sub, ref):
    """mean and log-variance with the grader's weights"""
    for seed, z_dim in ((130, 6), (133, 3)):
        args = {"x": randn(seed, 4, 3, 16, 16), "z_dim": z_dim, "seed": seed + 1}
        got, expected = sub.call("encode", **args), ref.call("encode", **args)
        for name in ("mean", "logvar"):
            judge.close(got[name], expected[name], f"encode (z_dim={z_dim}): the posterior's {name}", rtol=1e-4,
                        atol=1e-5)


@Q6.check(points=1)
def likelihood_matches_the_reference(sub, ref):
    """the mean of p(x|z) with the grader's weights"""
    args = {"z": randn(140, 3, 5), "seed": 141}
    judge.close(sub.call("decode", **args)["mean"], ref.call("decode", **args)["mean"], "decode: the mean of p(x|z)",
                rtol=1e-4, atol=1e-5)


@Q7.check(points=1)
def latents_from_the_prior_on_the_models_device(sub, ref):
    """latents drawn from N(0, I) (3000 draws) on the model's device; `noise`, when accepted, decoded"""
    got = sub.call("vae_sample", batch_size=3000, z_dim=Z, matrix=MATRIX, shape=IMAGE)
    z = decoded_batch(got, (3000, Z), "VAE.sample(3000)")
    judge.distribution(z, 0.0, 1.0, "VAE.sample: the latents of 3000 samples (should be drawn from N(0, I))")
    placed = sub.call("vae_sample", batch_size=5, z_dim=Z, matrix=MATRIX, shape=IMAGE, device="meta")
    devices = sorted({device for device, _ in placed["decoded"]} | {placed["output_device"]})
    judge.expect(devices == ["meta"], "VAE.sample: with the model on another device than the CPU, its latents or "
                                      f"samples were on {', '.join(devices)} (create z on self.device)")
    noise = randn(150, 4, Z)
    got = sub.call("vae_sample", batch_size=4, z_dim=Z, matrix=MATRIX, shape=IMAGE, noise=noise)
    if got["accepts_noise"]:
        judge.close(decoded_batch(got, (4, Z), "VAE.sample(4, noise=z)"), noise, "VAE.sample(4, noise=z): the decoded z")
        expect_mode_of(got["output"], noise, "VAE.sample(4, noise=z)")


X_EXTREME = randn(160, 3, *IMAGE) * 3

# Log-weights of about -2000: exp() gives 0, even in float64. Tolerances well under log K.
EXTREME = {"rtol": 1e-6, "atol": 0.05}


@Q8.check(points=1.5)
def log_sum_exp_for_extreme_weights(sub, ref):
    """log-weights near -2000: log-sum-exp, not exp then log"""
    either(lambda: check_log_likelihood_with_standins(sub, X_EXTREME, 20, 50.0,
                                                      "log_likelihood with log-weights near -2000", **EXTREME),
           lambda: check_log_likelihood_on_linear_model(sub, linear_images(161, 4, offset=40.0), 20,
                                                        "log_likelihood of images far from the model's mean", **EXTREME))


@Q8.check(points=1.5)
def many_samples(sub, ref):
    """K = 1000: one log-weight per latent, the log K term, log-sum-exp rather than an average of logs"""
    either(lambda: check_log_likelihood_with_standins(sub, randn(170, 2, *IMAGE), 1000, 1.0,
                                                      "log_likelihood(x, K=1000)"),
           lambda: check_log_likelihood_on_linear_model(sub, linear_images(171, 64), 500, "log_likelihood(x, K=500)",
                                                        widen=2.0, mean_tolerance=0.05))


@Q9.check(points=1)
def decodes_a_posterior_draw_and_returns_its_kl(sub, ref):
    """decodes z ~ q(z|x) (reparameterized) and returns KL(q(z|x) || N(0, I))"""
    got = sub.call("forward", x=X_FORWARD, **STANDIN_MODEL)
    z = decoded_batch(got, (len(X_FORWARD), Z), "forward")
    mean, logvar, std = posterior_of(X_FORWARD)
    expect_posterior_draws(got, z, mean, std, "forward")
    judge.close(got["returned"][2], probes.standin_kl(mean, logvar), "forward (kl): posterior.kl() of q(z|x)", rtol=1e-4,
                atol=1e-4)


@Q10.check(points=1)
def points_match_the_reference(sub, ref):
    """seven points between two latents of size 6"""
    matrix = randn(180, 6, 16)
    args = {"z_1": randn(181, 1, 6), "z_2": randn(182, 1, 6), "n_samples": 7, "matrix": matrix, "shape": IMAGE}
    got, expected = sub.call("interpolate", **args), ref.call("interpolate", **args)
    judge.close(decoded_batch(got, (7, 6), "interpolate"), expected["decoded"][0], "interpolate: the decoded latents")
    expect_mode_of(got["output"], got["decoded"][0], "interpolate", matrix)
