"""The `autoencoders` rubric: full marks for the reference, 0 for the starter, and every wrong
variant of a question loses that question's points and no others."""
import pytest

from conftest import KIT_ROOT, assert_only_lost, reference_source, replace_solution, scores
from grading import results

WRONG_VARIANTS = {
    "Q1": ("make_encoder", """
        layers, width = [nn.Flatten()], N_PIXELS
        for units in hidden:  # no activation: the encoder is linear
            layers.append(nn.Linear(width, units))
            width = units
        return nn.Sequential(*layers, nn.Linear(width, d))
        """),
    "Q2": ("make_decoder", """
        layers, width = [], d
        for units in hidden:  # the encoder's order, not its mirror image
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        return nn.Sequential(*layers, nn.Linear(width, N_PIXELS), nn.Sigmoid(), nn.Unflatten(1, IMAGE_SHAPE))
        """),
    "Q3": ("forward", """
        h = self.encoder(x)
        return h, self.decoder(h)  # the pair in the wrong order
        """),
    "Q4": ("reconstruction_loss", """
        if kind == "bce":
            return F.binary_cross_entropy(x_hat, x)  # averaged over the pixels too
        if kind == "mse":
            return F.mse_loss(x_hat, x)
        raise ValueError(kind)
        """),
    "Q5": ("add_white_noise", """
        if noise is None:  # one draw per image, not per pixel
            noise = torch.randn(x.shape[0], *[1] * (x.dim() - 1), device=x.device).expand_as(x)
        return x + amplitude * noise
        """),
    "Q6": ("n_parameters", """
        widths = [N_PIXELS, *hidden, d]
        return sum(2 * a * b for a, b in zip(widths, widths[1:]))  # the biases are forgotten
        """),
    "Q7": ("compression_ratio", """
        return math.prod(image_shape) / d  # upside down
        """),
    "Q8": ("encode", """
        logvar, mu = self.encoder(x).chunk(2, dim=1)  # the halves swapped
        return mu, logvar
        """),
    "Q9": ("reparameterize", """
        if noise is None:
            noise = torch.randn_like(mu)
        return mu + torch.exp(logvar) * noise  # the variance, not the standard deviation
        """),
    "Q10": ("vae_loss", """
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).mean()  # averaged over the latent dimensions
        return reconstruction_loss(x_hat, x, kind) + kl
        """),
    "Q11": ("sparse_loss", """
        l1 = h.abs().mean()  # averaged over the code's values, not summed
        l2 = sum((layer.weight ** 2).sum() for layer in decoder.modules() if isinstance(layer, nn.Linear))
        return reconstruction_loss(x_hat, x, kind) + lambda1 * l1 + lambda2 * l2
        """),
    "Q12": ("lambda1_schedule", """
        return start + (final - start) * epoch / n_epochs  # never reaches final
        """),
}


def test_reference_scores_20(grade):
    report = grade("autoencoders", reference_source("autoencoders"))
    assert (report.score, report.max_score) == (20, 20), results.table(report)
    assert all(q.status == "passed" for q in report.questions)


@pytest.mark.parametrize("number", sorted(WRONG_VARIANTS, key=lambda n: int(n[1:])))
def test_a_wrong_answer_loses_its_own_points_only(grade, number):
    function, body = WRONG_VARIANTS[number]
    report = grade("autoencoders", replace_solution(reference_source("autoencoders"), function, body))
    assert_only_lost(report, number)


def test_a_wrong_helper_does_not_cost_the_losses_that_call_it_nor_the_vae(grade):
    """reconstruction_loss, make_encoder and make_decoder all unwritten: only their own points go."""
    source = reference_source("autoencoders")
    for function in ("reconstruction_loss", "make_encoder", "make_decoder"):
        source = replace_solution(source, function, "raise NotImplementedError()")
    lost = {"Q1", "Q2", "Q4"}
    report = grade("autoencoders", source)
    for question in report.questions:
        number = question.name.split()[0]
        assert (question.score < question.max_score) == (number in lost), (number, question.messages)


def test_a_file_written_in_another_style_gets_full_marks(grade):
    report = grade("autoencoders", KIT_ROOT / "tests" / "submissions" / "autoencoders")
    assert report.score == 20, results.table(report)
    assert any("device: cpu" in note for note in report.notes)  # its import-time code ran


def test_scores_do_not_depend_on_how_random_numbers_are_drawn(grade):
    source = reference_source("autoencoders").replace(
        "    if noise is None:\n        noise = torch.randn_like(mu)",
        "    torch.rand(int(torch.randint(1, 50, (1,))))  # draws extra random numbers first\n"
        "    if noise is None:\n        noise = torch.randn_like(mu)")
    source += "\nimport random as _r\nfor _ in range(_r.randint(1, 9)):\n    torch.randn(3)\n"
    first, second = grade("autoencoders", source), grade("autoencoders", source)
    assert first.score == 20, results.table(first)
    assert scores(first) == scores(second)
