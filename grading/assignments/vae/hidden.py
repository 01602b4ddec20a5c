"""Hidden checks of the `vae` assignment (instructor only: the release leaves this file out).

They compare the submission with the reference solution on inputs the students never see (built
when the check runs, from seeds mixed with the submission's key: see `grading.shared`), and add
the statistical and numerical properties of the random and the log-sum-exp answers. Messages say
what is wrong, never a hidden input or its expected value.
"""
import torch

from grading import judge, shared
from grading.assignments.vae import probes
from grading.assignments.vae.public import (
    EXTREME,
    IMAGE,
    Q1,
    Q2,
    Q3,
    Q5,
    Q6,
    Q7,
    Q8,
    Q9,
    Q10,
    Z,
    check_forward,
    check_log_likelihood_on_linear_model,
    check_log_likelihood_with_standins,
    check_vae_sample,
    decoded_batch,
    either,
    expect_independent,
    expect_mode_of,
    linear_images,
    posterior_of,
    standin_model,
)
from grading.shared import randn


@Q1.check(points=0.5)
def draws_follow_the_distribution(sub, ref):
    """4000 draws follow N(mean, exp(logvar)), new ones every call; `noise`, when accepted, is the noise used"""
    mu, logvar = randn(100, 5) * 2, randn(101, 5)
    args = {"mean": mu.expand(4000, 5).clone(), "logvar": logvar.expand(4000, 5).clone()}
    first, second = sub.call("dgd_sample", **args)["sample"], sub.call("dgd_sample", **args)["sample"]
    std = torch.exp(0.5 * logvar)
    judge.distribution(first, mu, std, "sample: 4000 draws")
    judge.independent_draws((first - mu) / std, (second - mu) / std, "sample: the draws of two calls")
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
    """mean and log-variance with the grader's weights, on the given architecture"""
    for seed, z_dim in ((130, 6), (133, 3)):
        args = {"x": randn(seed, 4, 3, 16, 16), "z_dim": z_dim, "seed": shared.mixed_seed(seed + 1)}
        got, expected = sub.call("encode", **args), ref.call("encode", **args)
        for name in ("mean", "logvar"):
            judge.close(got[name], expected[name], f"encode (z_dim={z_dim}): the posterior's {name}", rtol=1e-4,
                        atol=1e-5)


@Q6.check(points=1)
def likelihood_matches_the_reference(sub, ref):
    """the mean and log-variance of p(x|z) with the grader's weights, on the given architecture"""
    args = {"z": randn(140, 3, 5), "seed": shared.mixed_seed(141)}
    got, expected = sub.call("decode", **args), ref.call("decode", **args)
    judge.close(got["mean"], expected["mean"], "decode: the mean of p(x|z)", rtol=1e-4, atol=1e-5)
    judge.close(got["logvar"], expected["logvar"], "decode: the log-variance of p(x|z)")


@Q7.check(points=1)
def latents_from_the_prior_on_the_models_device(sub, ref):
    """latents drawn from N(0, I) (3000 draws, new ones every call) on the model's device; \
`noise`, when accepted, decoded"""
    model = standin_model(150)
    first = check_vae_sample(sub, 3000, model, "VAE.sample(3000)")
    expect_independent(first, check_vae_sample(sub, 3000, model, "VAE.sample(3000)"), "VAE.sample(3000)")
    placed = sub.call("vae_sample", batch_size=5, z_dim=Z, matrix=model["matrix"], shape=IMAGE, device="meta")
    devices = sorted({device for device, _ in placed["decoded"]} | {placed["output_device"]})
    judge.expect(devices == ["meta"], "VAE.sample: with the model on another device than the CPU, its latents or "
                                      f"samples were on {', '.join(devices)} (create z on self.device)")
    noise = randn(156, 4, Z)
    got = sub.call("vae_sample", batch_size=4, z_dim=Z, matrix=model["matrix"], shape=IMAGE, noise=noise)
    if got["accepts_noise"]:
        judge.close(decoded_batch(got, (4, Z), "VAE.sample(4, noise=z)"), noise,
                    "VAE.sample(4, noise=z): the decoded z")
        expect_mode_of(got["output"], noise, "VAE.sample(4, noise=z)", model["matrix"])


@Q8.check(points=1.5)
def log_sum_exp_for_extreme_weights(sub, ref):
    """log-weights near -2000: log-sum-exp, not exp then log; K distinct draws of q(z|x)"""
    either(lambda: check_log_likelihood_with_standins(sub, randn(160, 3, *IMAGE) * 3, 20, 50.0,
                                                      "log_likelihood with log-weights near -2000", standin_model(1),
                                                      **EXTREME),
           lambda: check_log_likelihood_on_linear_model(sub, linear_images(161, 3, offset=40.0), 20,
                                                        "log_likelihood of images far from the model's mean",
                                                        rtol=1e-6, atol=5e-3))


@Q8.check(points=1.5)
def many_samples(sub, ref):
    """K = 1000: one log-weight per latent, the log K term, log-sum-exp rather than an average of logs"""
    either(lambda: check_log_likelihood_with_standins(sub, randn(170, 2, *IMAGE), 1000, 1.0,
                                                      "log_likelihood(x, K=1000)", standin_model(1)),
           lambda: check_log_likelihood_on_linear_model(sub, linear_images(171, 3), 500, "log_likelihood(x, K=500)",
                                                        widen=2.0))


@Q9.check(points=1)
def decodes_a_posterior_draw_and_returns_its_kl(sub, ref):
    """decodes a fresh z ~ q(z|x) (reparameterized) each call and returns KL(q(z|x) || N(0, I))"""
    model, x = standin_model(190), randn(195, 400, *IMAGE)
    returned, first = check_forward(sub, x, model)
    _, second = check_forward(sub, x, model)
    expect_independent(first, second, "forward")
    mean, logvar, _ = posterior_of(x, model)
    judge.close(returned[2], probes.standin_kl(mean, logvar), "forward (kl): posterior.kl() of q(z|x)", rtol=1e-4,
                atol=1e-4)


@Q10.check(points=1)
def points_match_the_reference(sub, ref):
    """seven points between two latents of size 6"""
    matrix = randn(180, 6, 16)
    args = {"z_1": randn(181, 1, 6), "z_2": randn(182, 1, 6), "n_samples": 7, "matrix": matrix, "shape": IMAGE}
    got, expected = sub.call("interpolate", **args), ref.call("interpolate", **args)
    z, points = decoded_batch(got, (7, 6), "interpolate"), expected["decoded"][0]
    judge.any_close(z, [points, points.flip(0)], "interpolate: the decoded latents (from z_1 to z_2, or from z_2 "
                                                 "to z_1)", atol=1e-5)
    expect_mode_of(got["output"], z, "interpolate", matrix)
