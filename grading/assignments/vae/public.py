"""Questions of the `vae` assignment (20 points) and their public checks.

Public checks ship to students: they use examples with known answers and the records of the
stand-ins (see probes.py), never the reference solution. The hidden checks (hidden.py, instructor
only) add comparisons with the reference on other inputs.
"""
import math

import torch

from grading import judge
from grading.assignments.vae import probes
from grading.rubric import CheckFailed, Question
from grading.runner import SubmissionFailure

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


def randn(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# The stand-in model (probes.py): 1x4x4 images, latents of size 4 (not the module's z_dim of 32,
# nor the VAE's default of 100), linear maps for q(z|x), and `echo` as the decoder.
Z = 4
IMAGE = (1, 4, 4)
MATRIX = randn(1, Z, 16) / 2
POSTERIOR = [randn(2, Z, 16) * 0.3, randn(3, Z) * 0.2, randn(4, Z, 16) * 0.1, randn(5, Z) * 0.3 - 0.5]
STANDIN_MODEL = {"z_dim": Z, "posterior": POSTERIOR, "matrix": MATRIX}


def posterior_of(x):
    """(mean, logvar, std) of the stand-in model's q(z|x), in float64."""
    mean, logvar = probes.linear_posterior(x.double(), [p.double() for p in POSTERIOR])
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
    for draw_mean, draw in got["draws"]:
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


# A linear-Gaussian model, p(z) = N(0, I), p(x|z) = N(W z + c, I), whose exact posterior is
# diagonal (W has orthogonal columns) and whose log p(x) = log N(x; c, I + W W^T) is known. With
# the exact posterior as proposal every importance weight equals p(x); a wider proposal makes
# them vary. A method that writes the Gaussian densities itself, instead of calling `nll`, is
# judged on this model with its own helpers.
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


def linear_log_p(x):
    covariance = torch.eye(4, dtype=torch.float64) + (LINEAR_W @ LINEAR_W.T).double()
    marginal = torch.distributions.MultivariateNormal(LINEAR_C.double(), covariance)
    return marginal.log_prob(x.flatten(1).double())


def linear_images(seed: int, n: int, offset: float = 0.0):
    return (randn(seed, n, *LINEAR_IMAGE) + offset).float()


def check_log_likelihood_on_linear_model(sub, x, K, what, widen=1.0, rtol=1e-4, atol=1e-3, mean_tolerance=None):
    encoder, decoder = linear_model(widen)
    ll = sub.call("log_likelihood_linear", x=x, K=K, encoder=encoder, decoder=decoder)
    exact = linear_log_p(x)
    if mean_tolerance is None:
        judge.close(ll, exact, f"{what} (the exact posterior as proposal: every weight is p(x))", rtol=rtol, atol=atol)
        return
    judge.expect(tuple(ll.shape) == tuple(exact.shape), f"{what} returned shape {tuple(ll.shape)}")
    gap = (ll.double() - exact).mean().item()
    judge.expect(abs(gap) < mean_tolerance, f"{what}: off by {gap:.3f} nats on average over {len(exact)} images "
                                            f"(K = {K}, a proposal wider than the posterior)")


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
    """a draw of the mean's shape, differentiable: d/dmean = 1, d/dlogvar = (sample - mean) / 2"""
    mean, logvar = randn(10, 5, 3), randn(11, 5, 3) * 0.5
    got = sub.call("dgd_sample", mean=mean, logvar=logvar)
    sample = got["sample"]
    judge.expect(tuple(sample.shape) == (5, 3), f"sample returned shape {tuple(sample.shape)}; expected (5, 3)")
    judge.expect(not torch.allclose(sample, mean), "sample returned the mean: draw standard normal noise")
    judge.expect(got["grad_mean"].abs().sum() > 0, "sample: no gradient reaches the mean "
                                                   "(use the reparameterization trick: mean + std * noise)")
    judge.close(got["grad_mean"], torch.ones(5, 3), "sample: gradient of the draw with respect to the mean")
    judge.close(got["grad_logvar"], (sample - mean) / 2, "sample: gradient of the draw with respect to the log-variance",
                rtol=1e-4, atol=1e-5)


@Q2.check(points=1, public=True)
def kl_examples(sub, ref):
    """KL(N(0, I) || N(0, I)) = 0, KL(N(mu, I) || N(0, I)) = |mu|^2 / 2, one value per row"""
    judge.close(sub.call("dgd_kl", mean=torch.zeros(3, 4), logvar=torch.zeros(3, 4)), torch.zeros(3),
                "kl of N(0, I) (3 rows)")
    mean = torch.tensor([[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]])
    judge.close(sub.call("dgd_kl", mean=mean, logvar=torch.zeros(2, 4)), torch.tensor([2.5, 4.5]),
                "kl of N(mu, I) for mu = (1, 2, 0, 0) and (0, 0, 3, 0)")
    judge.close(sub.call("dgd_kl", mean=torch.zeros(1, 1), logvar=torch.full((1, 1), math.log(2.0))),
                torch.tensor([0.1534264]), "kl of N(0, 2) in one dimension")


@Q3.check(points=1, public=True)
def nll_examples(sub, ref):
    """every term of the log-density: D/2 log(2 pi) for N(0, I) at its mean; the log-variance term"""
    judge.close(sub.call("dgd_nll", mean=torch.zeros(2, 3, 4, 4), logvar=torch.zeros(2, 3, 4, 4),
                         sample=torch.zeros(2, 3, 4, 4)), torch.full((2,), 44.10905),
                "nll of the mean under N(0, I) in 48 dimensions (default dims)")
    judge.close(sub.call("dgd_nll", mean=torch.ones(3, 5), logvar=torch.full((3, 5), 2.0), sample=torch.ones(3, 5),
                         dims=[1]), torch.full((3,), 9.594693), "nll of the mean under N(1, e^2 I) in 5 dimensions (dims=[1])")


@Q4.check(points=1, public=True)
def mode_is_the_mean(sub, ref):
    """the mode of a Gaussian is its mean"""
    for seed, shape in ((20, (4, 6)), (21, (2, 3, 4, 4))):
        mean = randn(seed, *shape)
        judge.close(sub.call("dgd_mode", mean=mean, logvar=randn(seed + 1, *shape)), mean, f"mode, shape {shape}")


# -- Q5-Q6: encode, decode -----------------------------------------------------------------------

@Q5.check(points=1, public=True)
def posterior_shapes(sub, ref):
    """returns q(z|x): mean and log-variance (B, z_dim), from their two layers"""
    got = sub.call("encode", x=randn(30, 5, 3, 16, 16), z_dim=6, seed=31)
    for name in ("mean", "logvar"):
        judge.expect(tuple(got[name].shape) == (5, 6), f"encode: the posterior's {name} has shape "
                                                       f"{tuple(got[name].shape)}; expected (5, 6)")
    judge.expect(not torch.allclose(got["mean"], got["logvar"]), "encode: mean and log-variance are equal "
                                                                "(use self.mean and self.logvar)")
    judge.expect(not torch.allclose(got["mean"][0], got["mean"][1]), "encode: every image gets the same posterior")


@Q6.check(points=1, public=True)
def likelihood_shapes(sub, ref):
    """returns p(x|z): a mean of the images' shape and the identity covariance"""
    got = sub.call("decode", z=randn(40, 4, 6), seed=41)
    judge.expect(tuple(got["mean"].shape) == (4, 3, 16, 16), f"decode: the mean has shape {tuple(got['mean'].shape)}; "
                                                             "expected (4, 3, 16, 16)")
    judge.close(got["logvar"], torch.zeros(4, 3, 16, 16), "decode: the log-variance (identity covariance: 0)")


# -- Q7-Q10: methods that call the others --------------------------------------------------------

@Q7.check(points=1, public=True)
def decodes_latents_of_size_z_dim(sub, ref):
    """decodes (batch_size, z_dim) latents and returns the mode of p(x|z)"""
    got = sub.call("vae_sample", batch_size=6, z_dim=Z, matrix=MATRIX, shape=IMAGE)
    z = decoded_batch(got, (6, Z), "VAE.sample(6)")
    expect_mode_of(got["output"], z, "VAE.sample(6)")


X_LL = randn(50, 3, *IMAGE)


def equal_weights_case(sub, x, K, what):
    """Stand-in densities that ignore their parameters: the prior and posterior terms of every
    log-weight cancel and the weights all equal p(x|z) = exp(-parameter_free_nll(x)), so the
    estimate of log p(x) is that log-weight, whatever K."""
    got = sub.call("log_likelihood", x=x, K=K, parameter_free=True, **STANDIN_MODEL)
    mean, _, _ = posterior_of(x)
    for b, z in enumerate(latents_per_image(got, mean, what)):
        judge.expect(len(z) == K, f"{what}: {len(z)} latents were decoded for image {b}; expected K = {K}")
    judge.close(got["ll"], -probes.parameter_free_nll(x.double(), [1, 2, 3]),
                f"{what}, every importance weight equal to p(x|z)", rtol=1e-4, atol=1e-3)


@Q8.check(points=1, public=True)
def importance_sampling_estimate(sub, ref):
    """log (1/K) sum_k p(x, z_k) / q(z_k|x) with K = 10, z_k ~ q(z|x), when every weight is equal"""
    either(lambda: equal_weights_case(sub, X_LL, 10, "log_likelihood(x, K=10)"),
           lambda: check_log_likelihood_on_linear_model(sub, linear_images(51, 4), 10, "log_likelihood(x, K=10)"))


X_FORWARD = randn(60, 400, *IMAGE)


@Q9.check(points=1, public=True)
def reconstruction_and_nll(sub, ref):
    """returns the mode of p(x|z) and the negative log-likelihood of x under it"""
    got = sub.call("forward", x=X_FORWARD, **STANDIN_MODEL)
    z = decoded_batch(got, (len(X_FORWARD), Z), "forward")
    reconstruction, nll, _ = got["returned"]
    expect_mode_of(reconstruction, z, "forward (reconstruction)")
    expected = probes.standin_nll(X_FORWARD.double(), decoded(z), torch.zeros(()), [1, 2, 3])
    judge.close(nll, expected, "forward (nll): recon.nll(x) for the decoded z", rtol=1e-4, atol=1e-4)


@Q10.check(points=1, public=True)
def from_z1_to_z2(sub, ref):
    """decodes n_samples latents from z_1 (first) to z_2 (last), equally spaced"""
    z_1, z_2 = randn(70, 1, Z), randn(71, 1, Z)
    got = sub.call("interpolate", z_1=z_1, z_2=z_2, n_samples=5, matrix=MATRIX, shape=IMAGE)
    z = decoded_batch(got, (5, Z), "interpolate(model, z_1, z_2, 5)")
    judge.close(z[0], z_1[0], "interpolate: the first latent (z_1)")
    judge.close(z[-1], z_2[0], "interpolate: the last latent (z_2)")
    steps = z[1:] - z[:-1]
    judge.close(steps, steps[:1].expand_as(steps), "interpolate: the steps between consecutive latents (equal)",
                atol=1e-5)
    expect_mode_of(got["output"], z, "interpolate")
