"""The `vae` rubric: full marks for the reference, 0 for the starter, and every wrong variant of a
question loses that question's points and no others, whatever the other answers do."""
import json
import re

import pytest

from conftest import KIT_ROOT, assert_only_lost, reference_source, replace_solution, scores
from grading import results

LL_LINE = "ll = torch.logsumexp(log_likelihood, dim=1) - math.log(K)"

# number -> (function whose first solution region is replaced, new body)
WRONG_VARIANTS = {
    "Q1": ("sample", """
        return self.mean + self.var * torch.randn_like(self.mean)  # the variance, not the standard deviation
        """),
    "Q2": ("kl", """
        return (self.mean ** 2 + self.var - 1.0 - self.logvar).sum(dim=1)  # no factor 1/2
        """),
    "Q3": ("nll", """
        return 0.5 * torch.sum((sample - self.mean) ** 2 / self.var, dim=dims)  # no log-variance, no log(2 pi)
        """),
    "Q4": ("mode", """
        return self.sample()  # a draw, not the mode
        """),
    "Q5": ("encode", """
        hidden = self.encoder(x)
        return DiagonalGaussianDistribution(self.mean(hidden), self.mean(hidden))  # logvar from the mean layer
        """),
    "Q6": ("decode", """
        mean = self.decoder(z)
        return DiagonalGaussianDistribution(mean, torch.ones_like(mean))  # variance e, not 1
        """),
    "Q7": ("VAE.sample", """
        return self.decode(torch.randn(batch_size, self.z_dim)).mode()  # on the CPU whatever the model's device
        """),
    "Q9": ("VAE.forward", """
        posterior = self.encode(x)
        latent_z = posterior.mode()  # decodes the mean: no sampling
        recon = self.decode(latent_z)
        """),
    "Q10": ("interpolate", """
        z = z_1 + lengths * z_2  # ends at z_1 + z_2
        """),
}

LOG_LIKELIHOOD_VARIANTS = {
    "without the log K term": "ll = torch.logsumexp(log_likelihood, dim=1)",
    "with exp then log (underflows)": "ll = torch.log(torch.exp(log_likelihood).mean(dim=1))",
    "as an average of the log-weights": "ll = log_likelihood.mean(dim=1)",
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


def test_reference_scores_20_with_a_valid_results_json(grade):
    report = grade("vae", reference_source("vae"))
    assert (report.score, report.max_score) == (20, 20), results.table(report)
    data = json.loads(json.dumps(results.gradescope(report)))
    assert [t["name"] for t in data["tests"]][:2] == ["Q1 DiagonalGaussianDistribution.sample",
                                                      "Q2 DiagonalGaussianDistribution.kl"]
    assert all(test["status"] == "passed" for test in data["tests"])


@pytest.mark.parametrize("number", sorted(WRONG_VARIANTS, key=lambda n: int(n[1:])))
def test_a_wrong_answer_loses_its_own_points_only(grade, number):
    function, body = WRONG_VARIANTS[number]
    report = grade("vae", replace_solution(reference_source("vae"), function, body))
    assert_only_lost(report, number)


@pytest.mark.parametrize("variant", sorted(LOG_LIKELIHOOD_VARIANTS))
def test_a_wrong_log_likelihood_loses_its_own_points_only(grade, variant):
    source = reference_source("vae")
    assert LL_LINE in source
    report = grade("vae", source.replace(LL_LINE, LOG_LIKELIHOOD_VARIANTS[variant]))
    assert_only_lost(report, "Q8")
    if variant == "without the log K term":
        assert report.questions[7].score == 0


def test_a_sample_not_reparameterized_loses_sample_points_only(grade):
    report = grade("vae", replace_solution(reference_source("vae"), "sample",
                                           "return torch.normal(self.mean, self.std)  # no gradient"))
    assert_only_lost(report, "Q1")
    assert "gradient" in " ".join(report.questions[0].messages)


def test_vae_sample_with_the_modules_z_dim_loses_its_points_only(grade):
    report = grade("vae", replace_solution(reference_source("vae"), "VAE.sample",
                                           "return self.decode(torch.randn(batch_size, z_dim, device=self.device)).mode()"))
    assert_only_lost(report, "Q7")
    assert "latents of size 32" in " ".join(report.questions[6].messages)


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
                              "z = torch.randn(batch_size, self.z_dim, device=self.device) if noise is None else noise\n"
                              "return self.decoder(z)")
    source = replace_method(source, "log_likelihood", VECTORIZED_LOG_LIKELIHOOD)
    report = grade("vae", source)
    assert report.score == 20, results.table(report)


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


def test_a_file_written_for_the_original_course_gets_full_marks(grade):
    report = grade("vae", KIT_ROOT / "tests" / "submissions" / "vae")
    assert report.score == 20, results.table(report)


def test_scores_do_not_depend_on_how_random_numbers_are_drawn(grade):
    source = reference_source("vae").replace(
        "            noise = torch.randn_like(self.mean)",
        "            torch.rand(int(torch.randint(1, 50, (1,))))  # draws extra random numbers first\n"
        "            noise = torch.randn_like(self.mean)")
    source += "\nimport random as _r\nfor _ in range(_r.randint(1, 9)):\n    torch.randn(3)\n"
    first, second = grade("vae", source), grade("vae", source)
    assert first.score == 20
    assert scores(first) == scores(second)
