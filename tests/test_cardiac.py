"""The `cardiac` rubric: full marks for the reference, 0 for the starter, and every wrong variant
of a question loses that question's points and no others."""
import pytest

from conftest import KIT_ROOT, assert_only_lost, reference_source, replace_solution, scores
from grading import results

WRONG_VARIANTS = {
    "Q1": ("to_onehot", """
        return F.one_hot(label_map.long(), n_classes).float()  # channels last: (N, H, W, K)
        """),
    "Q2": ("__init__", """
        layers, channels = [], in_channels
        for width in (48, 96, 192, 48):  # no ReLU between the convolutions
            layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.Conv2d(width, width, 3, padding=1)]
            channels = width
        side = image_size // 16
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * side * side, latent_dim))
        """),
    "Q3": ("forward", None),  # the decoder's scores go through a ReLU (see test below)
    "Q4": ("reconstruction_loss", """
        return F.cross_entropy(logits.softmax(dim=1), label_map.long())  # softmax twice
        """),
    "Q5": ("ae_forward_pass", """
        logits = decoder(encoder(to_onehot(label_map)).detach())  # no gradient reaches the encoder
        return reconstruction_loss(logits, label_map), logits
        """),
    "Q6": ("reparameterize", """
        if noise is None:
            noise = torch.randn_like(mu)
        return mu + torch.exp(logvar) * noise  # the variance, not the standard deviation
        """),
    "Q7": ("vae_loss", """
        kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).mean()  # averaged over the latent dimensions too
        height, width = label_map.shape[-2:]
        return reconstruction_loss(logits, label_map) + beta * kl / (height * width)
        """),
    "Q8": ("vae_forward_pass", """
        logvar, mu = encoder(to_onehot(label_map)).chunk(2, dim=1)  # the halves swapped
        logits = decoder(reparameterize(mu, logvar, noise))
        return vae_loss(logits, label_map, mu, logvar, beta), logits, mu, logvar
        """),
    "Q9": ("dice_score", """
        classes = torch.arange(1, n_classes, device=prediction.device).view(-1, 1, 1)
        predicted, true = prediction.unsqueeze(-3) == classes, target.unsqueeze(-3) == classes
        intersection = (predicted & true).sum(dim=(-2, -1)).float()
        union = (predicted | true).sum(dim=(-2, -1)).float()
        return torch.where(union > 0, intersection / union.clamp(min=1), torch.ones_like(union))  # IoU
        """),
}


def wrong_source(number: str) -> str:
    source = reference_source("cardiac")
    function, body = WRONG_VARIANTS[number]
    if number == "Q2":  # the Encoder's __init__ is the first one in the file
        return replace_solution(source, function, body)
    if number == "Q3":
        decoder_forward = "        return self.net(z)\n"
        assert source.count(decoder_forward) == 1
        return source.replace(decoder_forward, "        return torch.relu(self.net(z))  # scores can't be negative\n")
    return replace_solution(source, function, body)


def test_reference_scores_20(grade):
    report = grade("cardiac", reference_source("cardiac"))
    assert (report.score, report.max_score) == (20, 20), results.table(report)
    assert [q.name for q in report.questions][:3] == ["Q1 to_onehot", "Q2 Encoder", "Q3 Decoder"]


@pytest.mark.parametrize("number", sorted(WRONG_VARIANTS, key=lambda n: int(n[1:])))
def test_a_wrong_answer_loses_its_own_points_only(grade, number):
    assert_only_lost(grade("cardiac", wrong_source(number)), number)


def test_a_file_in_another_style_gets_full_marks(grade):
    report = grade("cardiac", KIT_ROOT / "tests" / "submissions" / "cardiac")
    assert report.score == 20, results.table(report)
    assert any("running on cpu" in note for note in report.notes)  # its import-time code ran


def test_scores_do_not_depend_on_how_random_numbers_are_drawn(grade):
    source = reference_source("cardiac").replace(
        "    if noise is None:\n        noise = torch.randn_like(mu)",
        "    torch.rand(int(torch.randint(1, 50, (1,))))  # draws extra random numbers first\n"
        "    if noise is None:\n        noise = torch.randn(mu.shape[::-1]).T")
    assert source != reference_source("cardiac")
    first, second = grade("cardiac", source), grade("cardiac", source)
    assert first.score == 20, results.table(first)
    assert scores(first) == scores(second)
