"""Questions of the `vae` assignment (20 points) and their public checks.

Public checks ship to students: they use examples with known answers and the stand-in model of
probes.py, never the reference solution. Every expected value is computed here, in the grader,
from inputs the grader chose and the grader's own copy of the stand-ins: what the submission's
process reports about itself (the latents it decoded, the draws of the stand-in `sample`) is
checked, never trusted -- decoded latents must be fresh draws of the right distribution, and the
outputs must be what the stand-ins give for them. Where a common mistake can be recognised, the
message names it. The hidden checks (hidden.py, instructor only) add comparisons with the
reference on other inputs.
"""
import math

import torch

from grading import judge
from grading.assignments.vae import probes
from grading.rubric import CheckFailed, Question, SubmissionFailure
from grading.shared import randn

Q1 = Question("Q1", "DiagonalGaussianDistribution.sample", points=1)
Q2 = Question("Q2", "DiagonalGaussianDistribution.kl", points=2)
Q3 = Question("Q3", "DiagonalGaussianDistribution.nll", points=2)
Q4 = Question("Q4", "DiagonalGaussianDistribution.mode", points=1)
Q5 = Question("Q5", "VAE.encode", points=2)
Q6 = Question("Q6", "VAE.decode", points=2)
Q7 = Question("Q7", "VAE.sample", points=2)
Q8 = Question("Q8", "VAE.log_likelihood", points=4, timeout=60)
Q9 = Question("Q9", "VAE.forward", points=2)
Q10 = Question("Q10", "interpolate", points=2)
QUESTIONS = [Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8, Q9, Q10]


# The stand-in model (probes.py): 1x4x4 images, latents of size 4 (not the module's z_dim of 32,
# nor the VAE's default of 100), linear maps for q(z|x), and `echo` as the decoder.
Z = 4
IMAGE = (1, 4, 4)


def standin_model(seed: int = 1) -> dict:
    """The stand-in model's weights, from seeds seed..seed+4 (mixed with the submission's key in a
    hidden check: build them when the check runs)."""
    posterior = [randn(seed + 1, Z, 16) * 0.3, randn(seed + 2, Z) * 0.2, randn(seed + 3, Z, 16) * 0.1,
                 randn(seed + 4, Z) * 0.3 - 0.5]
    return {"z_dim": Z, "posterior": posterior, "matrix": randn(seed, Z, 16) / 2}


STANDIN_MODEL = standin_model(1)   # public checks: the same weights every time
MATRIX = STANDIN_MODEL["matrix"]


def posterior_of(x, model=STANDIN_MODEL):
    """(mean, logvar, std) of the stand-in model's q(z|x), in float64."""
    mean, logvar = probes.linear_posterior(x.double(), [p.double() for p in model["posterior"]])
    logvar = logvar.clamp(-30, 20)
    return mean, logvar, torch.exp(0.5 * logvar)


def decoded(z, matrix=MATRIX):
    """The stand-in decoder's output for latents z, in float64."""
    return probes.echo(z.double(), matrix.double(), IMAGE)


def decoded_batch(got, shape, what):
    """The one batch of latents a method decoded, of the given shape."""
    batches = got["decoded"]
    judge.expect(len(batches) == 1, f"{what} decoded {len(batches)} batches of latents; expected one")
    z = batches[0]
    judge.expect(tuple(z.shape) == tuple(shape), f"{what} decoded latents of shape {tuple(z.shape)}; "
                                                 f"expected {tuple(shape)} (batch, z_dim)")
    return z


def expect_mode_of(output, z, what, matrix=MATRIX):
    """`output` is the mode of p(x|z) for the decoded z: through the distribution's mode(), or the
    decoder's output itself (the same thing for a Gaussian)."""
    mean = decoded(z, matrix)
    judge.any_close(output, [mean + probes.MODE_SHIFT, mean], f"{what}: the mode of p(x|z) for the decoded z",
                    rtol=1e-4, atol=1e-4)


# -- draws: verified, never taken on trust ------------------------------------------------------

def uniform_as_normal(u: torch.Tensor) -> torch.Tensor:
    """Values uniform on [-1, 1] mapped to standard normal ones by the inverse normal CDF (a
    monotone map: the normality test of `judge.distribution` becomes a test of uniformity)."""
    return torch.special.ndtri(((u.double() + 1) / 2).clamp(1e-12, 1 - 1e-12))


def standardized_draws(got, z, mean, std, what):
    """The latents z (N, Z) a method decoded, standardized to N(0, 1) draws, when they are draws of
    N(mean, std^2) (mean, std: (N, Z), computed in the grader).

    A latent is either a draw of the stand-in `DiagonalGaussianDistribution.sample` on that
    Gaussian -- found in the records, whose parameters are checked against the grader's, and whose
    values must then be uniform on mean +- HALF_WIDTH * std, the stand-in's law -- or drawn
    otherwise, and then normal around the mean. Either way the distribution is tested here, so a
    record claiming a draw that was never made does not pass."""
    z, mean, std = z.double().reshape(-1, z.shape[-1]), mean.double().expand_as(z), std.double().expand_as(z)
    judge.expect(bool(torch.isfinite(z).all()), f"{what}: the decoded latents contain NaN or infinite values")
    for centre, name in ((mean, "mean"), (mean + probes.MODE_SHIFT, "mode (.mode())")):
        judge.expect(not torch.allclose(z, centre, atol=1e-6),
                     f"{what} decoded the {name} of the distribution, not a "
                     "sample of it (draw z with the reparameterization trick)")
    recorded = {}
    for draw_mean, draw_std, draw in got.get("draws", []):
        width = draw.shape[-1] if draw.dim() else 0
        if width != z.shape[1] or draw_mean.shape != draw.shape or draw_std.shape != draw.shape:
            continue
        for row in zip(draw_mean.reshape(-1, width), draw_std.reshape(-1, width), draw.reshape(-1, width)):
            recorded[tuple(row[2].tolist())] = row
    found = [recorded.get(tuple(row.tolist())) for row in z.float()]
    if all(row is not None for row in found):   # every latent claims to be a stand-in draw: check it is one
        claimed_mean = torch.stack([row[0] for row in found]).double()
        claimed_std = torch.stack([row[1] for row in found]).double()
        judge.close(claimed_mean, mean, f"{what}: the mean of the distribution the latents were sampled from",
                    rtol=1e-4, atol=1e-4)
        judge.close(claimed_std, std, f"{what}: the standard deviation of the distribution the latents were "
                                      "sampled from", rtol=1e-4, atol=1e-4)
        u = (z - mean) / (probes.HALF_WIDTH * std)
        rounding = 1e-4 + 1e-6 * (mean.abs() + 1) / std  # float32 draws
        judge.expect(bool((u.abs() <= 1 + rounding).all()), f"{what}: the latents are not the draws of "
                                                             "DiagonalGaussianDistribution.sample")
        standard = uniform_as_normal(u)
        judge.distribution(standard.flatten(), 0.0, 1.0, f"{what}: the draws of DiagonalGaussianDistribution.sample "
                                                         "(the stand-in's uniform law)")
        return standard
    judge.expect(all(row is None for row in found), f"{what}: some decoded latents are draws of "
                                                    "DiagonalGaussianDistribution.sample, others are not")
    standard = (z - mean) / std
    judge.distribution(standard.flatten(), 0.0, 1.0, f"{what}: (z - mean) / std of the decoded latents "
                                                     "(should be standard normal: z sampled from the distribution)")
    return standard


def expect_independent(first, second, what):
    """Two calls with the same arguments drew different, uncorrelated latents."""
    judge.independent_draws(first, second, f"{what}: the latents of two calls")


# -- log_likelihood ------------------------------------------------------------------------------

def latents_per_image(got, mean, what):
    """For each image b, the latents decoded for it (n_b, Z): by position when every decoded batch
    holds one latent per image (the statement's loop), otherwise through the draws' means."""
    batch = mean.shape[0]
    decoded_rows = [z.reshape(-1, z.shape[-1]) for z in got["decoded"]]
    judge.expect(bool(decoded_rows), f"{what} decoded no latent (use self.decode)")
    if all(z.shape[0] == batch for z in decoded_rows):
        return [torch.stack([z[b] for z in decoded_rows]) for b in range(batch)]
    owner = {}
    for draw_mean, _, draw in got["draws"]:
        for m, z in zip(draw_mean.reshape(-1, draw_mean.shape[-1]), draw.reshape(-1, draw.shape[-1])):
            matches = [b for b in range(batch) if torch.allclose(m.double(), mean[b], atol=1e-5)]
            if matches:
                owner[tuple(z.tolist())] = matches[0]
    groups = [[] for _ in range(batch)]
    for z in torch.cat(decoded_rows):
        b = owner.get(tuple(z.tolist()))
        judge.expect(b is not None, f"{what}: cannot tell which image a decoded latent belongs to "
                                    "(sample each latent with posterior.sample())")
        groups[b].append(z)
    return [torch.stack(group) if group else torch.zeros(0, mean.shape[1]) for group in groups]


def expect_distinct(rows: torch.Tensor, what: str) -> None:
    """Latents meant to be independent draws are all different (one draw reused K times is not
    an importance-sampling estimate with K samples)."""
    distinct = len(torch.unique(rows.reshape(-1, rows.shape[-1]), dim=0))
    judge.expect(distinct == len(rows.reshape(-1, rows.shape[-1])),
                 f"{what}: only {distinct} distinct latents among the {len(rows.reshape(-1, rows.shape[-1]))} "
                 "decoded: the same z is reused (draw a new z_k ~ q(z|x) for every k)")


def posterior_latents(got, x, K, what, model=STANDIN_MODEL):
    """The K latents decoded for each image: K distinct draws of q(z|x) (checked). (B, K, Z)."""
    mean, _, std = posterior_of(x, model)
    groups = latents_per_image(got, mean, what)
    for b, z in enumerate(groups):
        judge.expect(len(z) == K, f"{what}: {len(z)} latents were decoded for image {b}; expected K = {K}")
        expect_distinct(z, f"{what}, image {b}")
    latents = torch.stack(groups)
    standardized_draws(got, latents.reshape(-1, Z), mean.repeat_interleave(K, 0), std.repeat_interleave(K, 0), what)
    return latents


# A linear-Gaussian model, p(z) = N(0, I), p(x|z) = N(W z + c, I), whose exact posterior is
# diagonal (W has orthogonal columns). A method that writes the Gaussian densities itself, instead
# of calling `nll`, is judged on this model with its own helpers, one image per call, against the
# importance-sampling estimate computed here from the latents it decoded -- checked to be K
# distinct draws of q(z|x) -- with a proposal wider than the posterior (so that the weights differ
# and the estimate depends on the draws).
LINEAR_W = torch.tensor([[1.2, 0.0], [0.0, 0.8], [0.9, 0.0], [0.0, -0.6]])
LINEAR_C = torch.tensor([0.1, -0.2, 0.3, 0.0])
LINEAR_IMAGE = (1, 2, 2)


def linear_model(widen: float = 1.0):
    """(encoder, decoder) parameters for `log_likelihood_linear`: the exact posterior, its
    variance multiplied by `widen`."""
    variance = 1.0 / (1.0 + (LINEAR_W ** 2).sum(dim=0))            # diagonal of (I + W^T W)^-1
    weight_mean = variance[:, None] * LINEAR_W.T
    encoder = [weight_mean, -weight_mean @ LINEAR_C, torch.zeros(2, 4), torch.log(variance * widen)]
    return encoder, [LINEAR_W, LINEAR_C]


def gaussian_log_density(value, mean, variance):
    """log N(value; mean, diag(variance)), summed over the last dimension (float64)."""
    return -0.5 * (torch.log(2 * math.pi * variance) + (value - mean) ** 2 / variance).sum(dim=-1)


def linear_estimate(x, z, encoder, decoder):
    """log (1/K) sum_k p(x, z_k) / q(z_k|x) for one image x (1, 1, 2, 2) and its latents z (K, 2)."""
    x, z = x.double().flatten(), z.double()
    weight, bias = (t.double() for t in decoder)
    mean_q = encoder[0].double() @ x + encoder[1].double()
    variance_q = torch.exp(encoder[3].double())
    log_weights = (gaussian_log_density(x, z @ weight.T + bias, torch.ones(())) +
                   gaussian_log_density(z, torch.zeros(()), torch.ones(())) -
                   gaussian_log_density(z, mean_q, variance_q))
    return torch.logsumexp(log_weights, dim=0) - math.log(len(z)), mean_q, variance_q.sqrt()


def linear_images(seed: int, n: int, offset: float = 0.0):
    return (randn(seed, n, *LINEAR_IMAGE) + offset).float()


def check_log_likelihood_on_linear_model(sub, x, K, what, widen=3.0, rtol=1e-4, atol=1e-3):
    encoder, decoder = linear_model(widen)
    for b in range(len(x)):
        got = sub.call("log_likelihood_linear", x=x[b:b + 1], K=K, encoder=encoder, decoder=decoder)
        rows = [z.reshape(-1, z.shape[-1]) for z in got["decoded"]]
        z = torch.cat(rows) if rows else torch.zeros(0, 2)
        judge.expect(len(z) == K, f"{what} decoded {len(z)} latents for one image; expected K = {K}")
        expect_distinct(z, what)
        expected, mean, std = linear_estimate(x[b], z, encoder, decoder)
        standardized_draws(got, z, mean, std, f"{what}: the latents (z ~ q(z|x))")
        ll = got["ll"]
        expect_finite_estimate(ll, what)
        judge.close(ll, expected.reshape(1), f"{what}: the estimate for the latents drawn", rtol=rtol, atol=atol)


def either(primary, fallback):
    """Pass if `primary` passes, or else `fallback`; a failure reports the primary's message."""
    try:
        primary()
    except (CheckFailed, SubmissionFailure) as failure:
        try:
            fallback()
        except (CheckFailed, SubmissionFailure):
            raise failure from None


# -- Q1-Q4: DiagonalGaussianDistribution ---------------------------------------------------------

@Q1.check(points=0.5, public=True)
def reparameterized_draw(sub, ref):
    """draws of N(mean, exp(logvar)), differentiable: d/dmean = 1, d/dlogvar = (sample - mean) / 2"""
    mean, logvar = randn(10, 5, 3), randn(11, 5, 3) * 0.5
    got = sub.call("dgd_sample", mean=mean, logvar=logvar)
    sample = got["sample"]
    judge.expect(tuple(sample.shape) == (5, 3), f"sample returned shape {tuple(sample.shape)}; expected (5, 3)")
    judge.expect(not torch.allclose(sample, mean), "sample returned the mean: draw standard normal noise")
    judge.expect(got["grad_mean"].abs().sum() > 0, "sample: no gradient reaches the mean "
                                                   "(use the reparameterization trick: mean + std * noise)")
    judge.close(got["grad_mean"], torch.ones(5, 3), "sample: gradient of the draw with respect to the mean")
    if torch.allclose(got["grad_logvar"], sample - mean, rtol=1e-4, atol=1e-5):
        raise CheckFailed("sample: the noise is multiplied by the variance (self.var), not by the standard "
                          "deviation (self.std = exp(logvar / 2))")
    judge.close(got["grad_logvar"], (sample - mean) / 2,
                "sample: gradient of the draw with respect to the log-variance", rtol=1e-4, atol=1e-5)
    std = torch.exp(0.5 * logvar[0])
    draws = sub.call("dgd_sample", mean=mean[0].expand(2000, 3).clone(), logvar=logvar[0].expand(2000, 3).clone())
    observed = draws["sample"].double().std(0)
    if torch.allclose(observed, std.double() ** 2, rtol=0.15) and not torch.allclose(observed, std.double(), rtol=0.15):
        raise CheckFailed("sample: the standard deviation of 2000 draws is the variance: multiply the noise by "
                          "self.std, not self.var")
    judge.distribution(draws["sample"], mean[0], std, "sample: 2000 draws of N(mean, exp(logvar))")


@Q2.check(points=1, public=True)
def kl_examples(sub, ref):
    """KL(N(0, I) || N(0, I)) = 0, KL(N(mu, I) || N(0, I)) = |mu|^2 / 2, one value per row"""
    judge.close(sub.call("dgd_kl", mean=torch.zeros(3, 4), logvar=torch.zeros(3, 4)), torch.zeros(3),
                "kl of N(0, I) (3 rows: one value per element of the batch)")
    mean = torch.tensor([[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]])
    got = sub.call("dgd_kl", mean=mean, logvar=torch.zeros(2, 4))
    if isinstance(got, torch.Tensor) and got.shape == (2,) and torch.allclose(got, torch.tensor([5.0, 9.0])):
        raise CheckFailed("kl: twice the KL divergence (the factor 1/2 is missing)")
    judge.close(got, torch.tensor([2.5, 4.5]), "kl of N(mu, I) for mu = (1, 2, 0, 0) and (0, 0, 3, 0)")
    judge.close(sub.call("dgd_kl", mean=torch.zeros(1, 1), logvar=torch.full((1, 1), math.log(2.0))),
                torch.tensor([0.1534264]), "kl of N(0, 2) in one dimension")


@Q3.check(points=1, public=True)
def nll_examples(sub, ref):
    """every term of the log-density: D/2 log(2 pi) for N(0, I) at its mean; the log-variance term"""
    got = sub.call("dgd_nll", mean=torch.zeros(2, 3, 4, 4), logvar=torch.zeros(2, 3, 4, 4),
                   sample=torch.zeros(2, 3, 4, 4))
    if isinstance(got, torch.Tensor) and got.shape == (2,) and torch.allclose(got, torch.zeros(2), atol=1e-4):
        raise CheckFailed("nll: the log(2 pi) term is missing (the nll of N(0, I) at its mean in 48 dimensions "
                          "is 24 log(2 pi) = 44.109, not 0)")
    judge.close(got, torch.full((2,), 44.10905), "nll of the mean under N(0, I) in 48 dimensions (default dims)")
    got = sub.call("dgd_nll", mean=torch.ones(3, 5), logvar=torch.full((3, 5), 2.0), sample=torch.ones(3, 5), dims=[1])
    if isinstance(got, torch.Tensor) and got.shape == (3,) and torch.allclose(got, torch.full((3,), 4.594693)):
        raise CheckFailed("nll: the log-variance term is missing (sum of logvar / 2)")
    judge.close(got, torch.full((3,), 9.594693), "nll of the mean under N(1, e^2 I) in 5 dimensions (dims=[1])")


@Q4.check(points=1, public=True)
def mode_is_the_mean(sub, ref):
    """the mode of a Gaussian is its mean"""
    for seed, shape in ((20, (4, 6)), (21, (2, 3, 4, 4))):
        mean = randn(seed, *shape)
        judge.close(sub.call("dgd_mode", mean=mean, logvar=randn(seed + 1, *shape)), mean, f"mode, shape {shape}")


# -- Q5-Q6: encode, decode -----------------------------------------------------------------------

ENCODE_POSTERIOR = [randn(30, 6, 48) * 0.2, randn(31, 6) * 0.1, randn(32, 6, 48) * 0.2, randn(33, 6) * 0.1 - 1]


@Q5.check(points=1, public=True)
def posterior_from_the_two_layers(sub, ref):
    """with known layers: mean = self.mean(h), logvar = self.logvar(h), h = self.encoder(x)"""
    x = randn(34, 5, 3, 4, 4)
    got = sub.call("encode_known", x=x, posterior=ENCODE_POSTERIOR)
    flat = x.flatten(1)
    mean = flat @ ENCODE_POSTERIOR[0].T + ENCODE_POSTERIOR[1]
    logvar = flat @ ENCODE_POSTERIOR[2].T + ENCODE_POSTERIOR[3]
    for name in ("mean", "logvar"):
        judge.expect(tuple(got[name].shape) == (5, 6), f"encode: the posterior's {name} has shape "
                                                       f"{tuple(got[name].shape)}; expected (5, 6) (batch, z_dim)")
    if torch.allclose(got["mean"], logvar, atol=1e-4) and torch.allclose(got["logvar"], mean, atol=1e-4):
        raise CheckFailed("encode: the mean and the log-variance are swapped")
    judge.close(got["mean"], mean, "encode: the posterior's mean (self.mean of the encoder's output)", atol=1e-4)
    if torch.allclose(got["logvar"], mean, atol=1e-4):
        raise CheckFailed("encode: the log-variance comes from self.mean; use self.logvar")
    for value, name in ((torch.exp(0.5 * logvar), "a standard deviation"), (torch.exp(logvar), "a variance")):
        if torch.allclose(got["logvar"], value.clamp(-30, 20), atol=1e-4):
            raise CheckFailed(f"encode: the distribution was given {name} where it takes the log-variance "
                              "(pass self.logvar(h) itself)")
    judge.close(got["logvar"], logvar.clamp(-30, 20), "encode: the posterior's log-variance "
                                                      "(self.logvar of the encoder's output)", atol=1e-4)


@Q6.check(points=1, public=True)
def likelihood_from_the_decoder(sub, ref):
    """with a known decoder: mean = self.decoder(z) of the images' shape, identity covariance"""
    z, matrix = randn(40, 4, 6), randn(41, 6, 16)
    got = sub.call("decode_known", z=z, matrix=matrix, shape=IMAGE)
    judge.close(got["mean"], probes.echo(z, matrix, IMAGE), "decode: the mean of p(x|z) (the decoder's output)",
                atol=1e-4)
    if torch.allclose(got["logvar"], torch.ones_like(got["logvar"])):
        raise CheckFailed("decode: a log-variance of 1 is a variance of e; the identity covariance is a "
                          "log-variance of 0 (DiagonalGaussianDistribution(mean))")
    judge.close(got["logvar"], torch.zeros(4, *IMAGE), "decode: the log-variance (identity covariance: 0)")


# -- Q7-Q10: methods that call the others --------------------------------------------------------

def check_vae_sample(sub, batch_size, model, what):
    """VAE.sample(batch_size) on the stand-in model: the latents are fresh N(0, I) draws of size
    z_dim and the output is the mode of p(x|z) for them. Returns the standardized draws."""
    got = sub.call("vae_sample", batch_size=batch_size, z_dim=Z, matrix=model["matrix"], shape=IMAGE)
    z = decoded_batch(got, (batch_size, Z), what)
    expect_mode_of(got["output"], z, what, model["matrix"])
    return standardized_draws(got, z, torch.zeros(()), torch.ones(()), f"{what}: the latents (z from N(0, I))")


@Q7.check(points=1, public=True)
def decodes_prior_draws_of_size_z_dim(sub, ref):
    """decodes (batch_size, z_dim) latents drawn from N(0, I), a new draw every call; returns the mode"""
    first = check_vae_sample(sub, 200, STANDIN_MODEL, "VAE.sample(200)")
    expect_independent(first, check_vae_sample(sub, 200, STANDIN_MODEL, "VAE.sample(200)"), "VAE.sample(200)")


def expected_log_likelihood(latents, x, K, scale, model=STANDIN_MODEL):
    """What a correct estimator returns given the latents it drew (B, K, Z), with the stand-in
    densities (computed here, from latents the grader checked)."""
    mean, logvar, _ = posterior_of(x, model)
    expected = []
    for b, z in enumerate(latents):
        z = z.double()
        image = x[b].double().expand(len(z), *x.shape[1:])
        log_p_x_given_z = -probes.standin_nll(image, decoded(z, model["matrix"]), torch.zeros(()), [1, 2, 3], scale)
        log_p_z = -probes.standin_nll(z, torch.zeros(()), torch.zeros(()), [1], scale)
        log_q_z = -probes.standin_nll(z, mean[b], logvar[b], [1], scale)
        expected.append(torch.logsumexp(log_p_x_given_z + log_p_z - log_q_z, dim=0) - math.log(K))
    return torch.stack(expected)


def expect_finite_estimate(ll, what):
    """A log-likelihood estimate of images whose log-weights are far below -1000 is finite."""
    if isinstance(ll, torch.Tensor) and ll.numel() and not bool(torch.isfinite(ll).all()):
        raise CheckFailed(f"{what}: the estimate is infinite or NaN for log-weights far below -1000: exp() "
                          "underflows to 0; compute it with the log-sum-exp trick (torch.logsumexp)")


def check_log_likelihood_with_standins(sub, x, K, scale, what, model=STANDIN_MODEL, rtol=1e-4, atol=1e-3):
    """log_likelihood on the stand-in model (the stand-in nll scaled by `scale`: large scales give
    log-weights far below -1000): the estimate for the latents it decoded, checked to be K
    distinct draws of q(z|x) for each image."""
    got = sub.call("log_likelihood", x=x, K=K, scale=scale, **model)
    ll = got["ll"]
    judge.expect(tuple(ll.shape) == (x.shape[0],), f"{what} returned shape {tuple(ll.shape)}; expected ({x.shape[0]},)")
    latents = posterior_latents(got, x, K, what, model)
    expected = expected_log_likelihood(latents, x, K, scale, model)
    if torch.allclose(ll.double(), expected + math.log(K), rtol=rtol, atol=atol):
        raise CheckFailed(f"{what}: the estimate is log K too high: the - log K term (the 1/K of the average) is "
                          "missing")
    expect_finite_estimate(ll, what)
    judge.close(ll, expected, what, rtol=rtol, atol=atol)


# Log-weights of about -2000: exp() gives 0, even in float64. Tolerances well under log K.
EXTREME = {"rtol": 1e-6, "atol": 0.05}


@Q8.check(points=1, public=True)
def importance_sampling_estimate(sub, ref):
    """log (1/K) sum_k p(x, z_k) / q(z_k|x) with K = 10 fresh z_k ~ q(z|x) (also for log-weights near -2000)"""
    either(lambda: (check_log_likelihood_with_standins(sub, randn(50, 3, *IMAGE), 10, 1.0, "log_likelihood(x, K=10)"),
                    check_log_likelihood_with_standins(sub, randn(52, 3, *IMAGE) * 3, 10, 50.0,
                                                       "log_likelihood(x, K=10) with log-weights near -2000",
                                                       **EXTREME)),
           lambda: (check_log_likelihood_on_linear_model(sub, linear_images(51, 3), 10, "log_likelihood(x, K=10)"),
                    check_log_likelihood_on_linear_model(sub, linear_images(53, 3, offset=40.0), 10,
                                                         "log_likelihood(x, K=10) of images far from the model",
                                                         rtol=1e-6, atol=5e-3)))


X_FORWARD = randn(60, 400, *IMAGE)


def check_forward(sub, x, model, what="forward"):
    """forward on the stand-in model: decodes fresh draws of q(z|x) (checked) and returns the mode
    of p(x|z) and recon.nll(x) for them. Returns (what it returned, the standardized draws)."""
    got = sub.call("forward", x=x, **model)
    z = decoded_batch(got, (len(x), Z), what)
    mean, _, std = posterior_of(x, model)
    standard = standardized_draws(got, z, mean, std, f"{what}: the decoded latents (z ~ q(z|x))")
    reconstruction, nll, _ = got["returned"]
    expect_mode_of(reconstruction, z, f"{what} (reconstruction)", model["matrix"])
    expected = probes.standin_nll(x.double(), decoded(z, model["matrix"]), torch.zeros(()), [1, 2, 3])
    judge.close(nll, expected, f"{what} (nll): recon.nll(x) for the decoded z", rtol=1e-4, atol=1e-4)
    return got["returned"], standard


@Q9.check(points=1, public=True)
def reconstruction_and_nll(sub, ref):
    """decodes a fresh z ~ q(z|x) each call; returns the mode of p(x|z) and the nll of x under it"""
    _, first = check_forward(sub, X_FORWARD, STANDIN_MODEL)
    _, second = check_forward(sub, X_FORWARD, STANDIN_MODEL)
    expect_independent(first, second, "forward")


def interpolation_latents(got, z_1, z_2, n, what):
    """The latents decoded: n equally spaced points of the segment [z_1, z_2], endpoints included,
    from z_1 to z_2 or from z_2 to z_1 (the statement fixes no direction)."""
    z = decoded_batch(got, (n, z_1.shape[1]), what)
    forward = z_1 + torch.linspace(0, 1, n).unsqueeze(1) * (z_2 - z_1)
    judge.any_of([forward, forward.flip(0)],
                 lambda points: judge.close(z, points, f"{what}: the decoded latents ({n} equally spaced points "
                                                       "from z_1 to z_2, or from z_2 to z_1, endpoints included)",
                                            atol=1e-5))
    return z


@Q10.check(points=1, public=True)
def from_z1_to_z2(sub, ref):
    """decodes n_samples equally spaced latents from one endpoint to the other (either direction)"""
    z_1, z_2 = randn(70, 1, Z), randn(71, 1, Z)
    got = sub.call("interpolate", z_1=z_1, z_2=z_2, n_samples=5, matrix=MATRIX, shape=IMAGE)
    what = "interpolate(model, z_1, z_2, 5)"
    z = decoded_batch(got, (5, Z), what)
    if torch.allclose(z[-1], z_1[0] + z_2[0], atol=1e-5) or torch.allclose(z[0], z_1[0] + z_2[0], atol=1e-5):
        raise CheckFailed(f"{what}: one end of the path is z_1 + z_2, not an endpoint: the points are "
                          "z_1 + t (z_2 - z_1) for t in lengths")
    interpolation_latents(got, z_1, z_2, 5, what)
    expect_mode_of(got["output"], z, "interpolate")
