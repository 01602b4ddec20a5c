"""The `vae` rubric's cases (run by tests/test_rubrics.py for every assignment), and the tests of
this rubric alone: wrong log-likelihood estimators, methods that call wrong helpers or none, the
answers the statement allows (either direction of an interpolation, a prior sampled through
DiagonalGaussianDistribution), and files that forge what the probes report."""
import re

import pytest

from conftest import assert_only_lost, reference_source, replace_solution, scores
from grading import results

# (question, function whose first solution region is replaced, wrong body)
WRONG_VARIANTS = [
    ("Q1", "sample", """
        return self.mean + self.var * torch.randn_like(self.mean)  # the variance, not the standard deviation
        """),
    ("Q2", "kl", """
        return (self.mean ** 2 + self.var - 1.0 - self.logvar).sum(dim=1)  # no factor 1/2
        """),
    ("Q3", "nll", """
        return 0.5 * torch.sum((sample - self.mean) ** 2 / self.var, dim=dims)  # no log-variance, no log(2 pi)
        """),
    ("Q4", "mode", """
        return self.sample()  # a draw, not the mode
        """),
    ("Q5", "encode", """
        hidden = self.encoder(x)
        return DiagonalGaussianDistribution(self.mean(hidden), self.mean(hidden))  # logvar from the mean layer
        """),
    ("Q6", "decode", """
        mean = self.decoder(z)
        return DiagonalGaussianDistribution(mean, torch.ones_like(mean))  # variance e, not 1
        """),
    ("Q7", "VAE.sample", """
        return self.decode(torch.randn(batch_size, self.z_dim)).mode()  # on the CPU whatever the model's device
        """),
    ("Q8", "log_likelihood", """
        if i == 0:
            z_once = posterior.sample()
        z = z_once  # one latent reused for every k: not K draws of q(z|x)
        recon = self.decode(z)
        log_likelihood[:, i] = -recon.nll(x) - prior.nll(z, dims=[1]) + posterior.nll(z, dims=[1])
        """),
    ("Q9", "VAE.forward", """
        posterior = self.encode(x)
        latent_z = posterior.mode()  # decodes the mean: no sampling
        recon = self.decode(latent_z)
        """),
    ("Q10", "interpolate", """
        z = z_1 + lengths * z_2  # ends at z_1 + z_2
        """),
]

# Edits that make the reference draw random numbers in another order (it must keep full marks).
RANDOM_ORDER_EDITS = [
    ("            noise = torch.randn_like(self.mean)",
     "            torch.rand(int(torch.randint(1, 50, (1,))))  # draws extra random numbers first\n"
     "            noise = torch.randn_like(self.mean)"),
]

# (question, function, wrong body, words the public checks' message must hold)
COMMON_MISTAKES = [
    ("Q1", "sample", """
        return self.mean + self.var * torch.randn_like(self.mean)
        """, ["variance", "self.std"]),
    ("Q2", "kl", """
        return (self.mean ** 2 + self.var - 1.0 - self.logvar).flatten(1).sum(dim=1)
        """, ["factor 1/2"]),
    ("Q3", "nll", """
        return 0.5 * torch.sum(self.logvar + (sample - self.mean) ** 2 / self.var, dim=dims)
        """, ["log(2 pi)", "missing"]),
    ("Q8", "log_likelihood", """
        if i == 0:
            z_once = posterior.sample()
        z = z_once
        recon = self.decode(z)
        log_likelihood[:, i] = -recon.nll(x) - prior.nll(z, dims=[1]) + posterior.nll(z, dims=[1])
        """, ["reused", "for every k"]),
    ("Q9", "VAE.forward", """
        posterior = self.encode(x)
        latent_z = posterior.mean
        recon = self.decode(latent_z)
        """, ["decoded the mean", "not a sample"]),
]

LL_LINE = "ll = torch.logsumexp(log_likelihood, dim=1) - math.log(K)"

LOG_LIKELIHOOD_VARIANTS = {  # the second solution region of log_likelihood: (line, words the messages hold)
    "without the log K term": ("ll = torch.logsumexp(log_likelihood, dim=1)", "log K"),
    "with exp then log (underflows)": ("ll = torch.log(torch.exp(log_likelihood).mean(dim=1))", "logsumexp"),
    "as an average of the log-weights": ("ll = log_likelihood.mean(dim=1)", ""),
}


def replace_method(source: str, name: str, code: str) -> str:
    """`source` with the whole method `name` (up to the next def at its level) replaced by `code`."""
    pattern = re.compile(rf"( *)def {name}\(.*?(?=\n\1def |\n\S)", re.S)
    match = pattern.search(source)
    assert match, name
    indent = match.group(1)
    body = "\n".join(indent + line if line.strip() else line for line in _dedent(code).splitlines())
    return source[:match.start()] + body + "\n" + source[match.end():]


def _dedent(text):
    import textwrap
    return textwrap.dedent(text).strip("\n")


@pytest.mark.parametrize("variant", sorted(LOG_LIKELIHOOD_VARIANTS))
def test_a_wrong_log_likelihood_loses_its_own_points_only(grade, variant):
    source = reference_source("vae")
    assert LL_LINE in source
    line, words = LOG_LIKELIHOOD_VARIANTS[variant]
    report = grade("vae", source.replace(LL_LINE, line))
    assert_only_lost(report, "Q8")
    assert words in " ".join(report.questions[7].messages), report.questions[7].messages
    if variant == "without the log K term":
        assert report.questions[7].score == 0


def test_a_sample_not_reparameterized_loses_sample_points_only(grade):
    report = grade("vae", replace_solution(reference_source("vae"), "sample",
                                           "return torch.normal(self.mean, self.std)  # no gradient"))
    assert_only_lost(report, "Q1")
    assert "gradient" in " ".join(report.questions[0].messages)


def test_vae_sample_with_the_modules_z_dim_loses_its_points_only(grade):
    report = grade("vae", replace_solution(reference_source("vae"), "VAE.sample",
                                           "return self.decode(torch.randn(batch_size, z_dim, "
                                           "device=self.device)).mode()"))
    assert_only_lost(report, "Q7")
    assert "latents of size 32" in " ".join(report.questions[6].messages)


def test_vae_sample_through_the_distributions_sample_gets_full_marks(grade):
    """Issue 13: the docstring's way -- z from DiagonalGaussianDistribution(0, I).sample() -- met
    the probe's uniform stand-in for `sample` and was tested against N(0, I) (1 of 2 points)."""
    source = replace_solution(reference_source("vae"), "VAE.sample", """
        return self.decode(DiagonalGaussianDistribution(torch.zeros(batch_size, \
self.z_dim, device=self.device)).sample()).mode()
        """).replace("    def sample(self, batch_size, noise=None):", "    def sample(self, batch_size):")
    assert "def sample(self, batch_size):" in source
    report = grade("vae", source)
    assert report.score == 20, results.table(report)


def test_one_latent_reused_k_times_earns_no_log_likelihood_point(grade):
    """Issue 13: nothing checked that the K latents are K draws of q(z|x)."""
    body = next(body for number, _, body in WRONG_VARIANTS if number == "Q8")
    report = grade("vae", replace_solution(reference_source("vae"), "log_likelihood", body))
    assert scores(report)["Q8"] == 0, report.questions[7].messages
    assert "reused" in " ".join(report.questions[7].messages)


def test_an_interpolation_from_z2_to_z1_gets_full_marks(grade):
    """Issue 13: the statement fixes no direction; the segment, evenly spaced, endpoints included."""
    report = grade("vae", replace_solution(reference_source("vae"), "interpolate",
                                           "z = lengths * z_1 + (1. - lengths) * z_2  # from z_2 to z_1"))
    assert report.score == 20, results.table(report)


WRONG_HELPERS = {
    "sample": "return self.mean",
    "kl": "return self.mean.sum(dim=1)",
    "nll": "return ((sample - self.mean) ** 2).sum(dim=dims)",
    "mode": "return self.mean * 2",
    "encode": "return DiagonalGaussianDistribution(self.mean(self.encoder(x)))",
    "decode": "return DiagonalGaussianDistribution(self.decoder(z) * 0)",
}


def test_methods_that_call_wrong_helpers_keep_their_points(grade):
    source = reference_source("vae")
    for function, body in WRONG_HELPERS.items():
        source = replace_solution(source, function, body)
    report = grade("vae", source)
    for question in report.questions[:6]:
        assert question.score < question.max_score, results.table(report)
    for question in report.questions[6:]:
        assert question.score == question.max_score, question.messages


INLINE_FORWARD = """
    hidden = self.encoder(x)
    mu, logvar = self.mean(hidden), self.logvar(hidden)
    latent_z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    posterior = DiagonalGaussianDistribution(mu, logvar)
    recon = DiagonalGaussianDistribution(self.decoder(latent_z))
"""

VECTORIZED_LOG_LIKELIHOOD = """
def log_likelihood(self, x, K=100):
    hidden = self.encoder(x)
    mu, logvar = self.mean(hidden), self.logvar(hidden)
    eps = torch.randn(K, *mu.shape, device=mu.device)
    z = mu + torch.exp(0.5 * logvar) * eps                              # (K, B, Z)
    mean_x = self.decoder(z.reshape(-1, z.shape[-1])).reshape(K, *x.shape)
    log_p_x = -0.5 * ((x - mean_x) ** 2 + math.log(2 * math.pi)).flatten(2).sum(2)
    log_p_z = -0.5 * (z ** 2 + math.log(2 * math.pi)).sum(2)
    log_q_z = -0.5 * (eps ** 2 + logvar + math.log(2 * math.pi)).sum(2)
    return torch.logsumexp(log_p_x + log_p_z - log_q_z, dim=0) - math.log(K)
"""


def test_methods_written_without_the_helpers_get_full_marks(grade):
    source = replace_solution(reference_source("vae"), "VAE.forward", INLINE_FORWARD)
    source = replace_solution(source, "VAE.sample",
                              "z = torch.randn(batch_size, self.z_dim, device=self.device) if noise is None "
                              "else noise\n"
                              "return self.decoder(z)")
    source = replace_method(source, "log_likelihood", VECTORIZED_LOG_LIKELIHOOD)
    report = grade("vae", source)
    assert report.score == 20, results.table(report)


def test_a_vectorized_log_likelihood_written_without_helpers_that_reuses_its_draw_loses_its_points(grade):
    reused = VECTORIZED_LOG_LIKELIHOOD.replace("eps = torch.randn(K, *mu.shape, device=mu.device)",
                                               "eps = torch.randn(1, *mu.shape, device=mu.device).expand(K, *mu.shape)")
    report = grade("vae", replace_method(reference_source("vae"), "log_likelihood", reused))
    assert_only_lost(report, "Q8")
    assert scores(report)["Q8"] == 0, report.questions[7].messages


VECTORIZED_LOG_LIKELIHOOD_WITH_HELPERS = """
def log_likelihood(self, x, K=100):
    posterior = self.encode(x)
    repeated = DiagonalGaussianDistribution(posterior.mean.repeat(K, 1), posterior.logvar.repeat(K, 1))
    z = repeated.sample()                                                # (K * B, Z), image b in rows b, B + b, ...
    prior = DiagonalGaussianDistribution(torch.zeros_like(z))
    log_weights = -self.decode(z).nll(x.repeat(K, 1, 1, 1)) - prior.nll(z, dims=[1]) + repeated.nll(z, dims=[1])
    return torch.logsumexp(log_weights.view(K, -1), dim=0) - math.log(K)
"""


def test_a_vectorized_log_likelihood_that_uses_the_helpers_gets_full_marks(grade):
    report = grade("vae", replace_method(reference_source("vae"), "log_likelihood",
                                         VECTORIZED_LOG_LIKELIHOOD_WITH_HELPERS))
    assert report.score == 20, results.table(report)


# A file that leaves a function unwritten but replaces, at import, the probe that exercises it
# (the probes run in the submission's own interpreter) with one that reports records a correct
# answer would leave -- latents "drawn" by the stand-in `sample`, outputs that match them -- without
# drawing them: the checks test the draws themselves, so it earns nothing.
FORGERIES = {
    "a draw at the mean": ("Q9", "VAE.forward", "forward", """
def _forged(sub, x, z_dim, posterior, matrix):
    mean, logvar = _P.linear_posterior(x, posterior)
    logvar = logvar.clamp(-30, 20)
    z = mean.clone()  # "drawn" by the stand-in sample, says the record
    image = _P.echo(z, matrix, tuple(x.shape[1:]))
    returned = [image + _P.MODE_SHIFT, _P.standin_nll(x, image, _torch.zeros(()), [1, 2, 3]), \
_P.standin_kl(mean, logvar)]
    return {"returned": returned, "decoded": [z], "draws": [[mean, _torch.exp(0.5 * logvar), z]]}
"""),
    "one draw replayed": ("Q9", "VAE.forward", "forward", """
def _forged(sub, x, z_dim, posterior, matrix):
    mean, logvar = _P.linear_posterior(x, posterior)
    logvar = logvar.clamp(-30, 20)
    std = _torch.exp(0.5 * logvar)
    fixed = _torch.rand(mean.shape, generator=_torch.Generator().manual_seed(0))  # the same every call
    z = mean + std * _P.HALF_WIDTH * (2 * fixed - 1)
    image = _P.echo(z, matrix, tuple(x.shape[1:]))
    returned = [image + _P.MODE_SHIFT, _P.standin_nll(x, image, _torch.zeros(()), [1, 2, 3]), \
_P.standin_kl(mean, logvar)]
    return {"returned": returned, "decoded": [z], "draws": [[mean, std, z]]}
"""),
    "prior draws at zero": ("Q7", "VAE.sample", "vae_sample", """
def _forged(sub, batch_size, z_dim, matrix, shape, noise=None, device="cpu"):
    z = _torch.zeros(batch_size, z_dim)
    if device != "cpu":
        return {"output_device": device, "output_shape": [batch_size, *shape], \
"decoded": [[device, [batch_size, z_dim]]]}
    return {"accepts_noise": False, "output": _P.echo(z, matrix, tuple(shape)) + _P.MODE_SHIFT, "decoded": [z],
            "draws": [[z, _torch.ones_like(z), z]]}
"""),
    "the exact log p(x) of the linear model": ("Q8", "log_likelihood", "log_likelihood_linear", """
def _forged(sub, x, K, encoder, decoder):
    weight, bias = decoder
    marginal = _torch.distributions.MultivariateNormal(bias, _torch.eye(4) + weight @ weight.T)
    mean = x.flatten(1) @ encoder[0].T + encoder[1]
    z = mean + _torch.exp(0.5 * encoder[3]) * _torch.randn(K * len(x), 2)  # drawn, never weighted
    return {"ll": marginal.log_prob(x.flatten(1)), "decoded": [z]}
"""),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_probe_records_earn_nothing(grade, forgery):
    number, function, probe, forged = FORGERIES[forgery]
    source = replace_solution(reference_source("vae"), function, "raise NotImplementedError()")
    source += (f"\nimport sys as _sys\nimport torch as _torch\n_P = _sys.modules['probes']\n"
               f"{forged}\n_P.{probe} = _forged\n")
    report = grade("vae", source)
    assert scores(report)[number] == 0, [q.messages for q in report.questions if q.name.startswith(number + " ")]
