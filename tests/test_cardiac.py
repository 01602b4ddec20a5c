"""The `cardiac` rubric. tests/test_rubrics.py runs the cases declared here (wrong variants,
random-order edits, common mistakes); the tests below are this assignment's own."""
import pytest

from conftest import KIT_ROOT, reference_source, replace_solution, scores
from grading import assignments, results

WRONG_VARIANTS = [
    ("Q1", "to_onehot", """
        return F.one_hot(label_map.long(), n_classes).float()  # channels last: (N, H, W, K)
        """),
    ("Q2", "Encoder.__init__", """
        layers, channels = [], in_channels
        for width in (48, 96, 192, 48):  # no ReLU between the convolutions
            layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.Conv2d(width, width, 3, padding=1)]
            channels = width
        side = image_size // 16
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * side * side, latent_dim))
        """),
    ("Q3", "Decoder.forward", """
        return torch.relu(self.net(z))  # scores can't be negative
        """),
    ("Q4", "reconstruction_loss", """
        return F.cross_entropy(logits.softmax(dim=1), label_map.long())  # softmax twice
        """),
    ("Q5", "ae_forward_pass", """
        logits = decoder(encoder(to_onehot(label_map)).detach())  # no gradient reaches the encoder
        return reconstruction_loss(logits, label_map), logits
        """),
    ("Q6", "reparameterize", """
        if noise is None:
            noise = torch.randn_like(mu)
        return mu + torch.exp(logvar) * noise  # the variance, not the standard deviation
        """),
    ("Q7", "vae_loss", """
        kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).mean()  # averaged over the latent dimensions too
        height, width = label_map.shape[-2:]
        return reconstruction_loss(logits, label_map) + beta * kl / (height * width)
        """),
    ("Q8", "vae_forward_pass", """
        logvar, mu = encoder(to_onehot(label_map)).chunk(2, dim=1)  # the halves swapped
        logits = decoder(reparameterize(mu, logvar, noise))
        return vae_loss(logits, label_map, mu, logvar, beta), logits, mu, logvar
        """),
    ("Q9", "dice_score", """
        classes = torch.arange(1, n_classes, device=prediction.device).view(-1, 1, 1)
        predicted, true = prediction.unsqueeze(-3) == classes, target.unsqueeze(-3) == classes
        intersection = (predicted & true).sum(dim=(-2, -1)).float()
        union = (predicted | true).sum(dim=(-2, -1)).float()
        return torch.where(union > 0, intersection / union.clamp(min=1), torch.ones_like(union))  # IoU
        """),
]

RANDOM_ORDER_EDITS = [
    ("    if noise is None:\n        noise = torch.randn_like(mu)",
     "    torch.rand(int(torch.randint(1, 50, (1,))))  # draws extra random numbers first\n"
     "    if noise is None:\n        noise = torch.randn(mu.shape[::-1]).T"),
]

VARIANT = {number: body for number, _, body in WRONG_VARIANTS}
COMMON_MISTAKES = [
    ("Q1", "to_onehot", VARIANT["Q1"], ["channels must come second"]),
    ("Q3", "Decoder.forward", VARIANT["Q3"], ["no ReLU after the last layer"]),
    ("Q4", "reconstruction_loss", VARIANT["Q4"], ["raw scores", "softmax"]),
    ("Q5", "ae_forward_pass", VARIANT["Q5"], ["no gradient reaches the encoder"]),
    ("Q6", "reparameterize", VARIANT["Q6"], ["standard deviation exp(logvar / 2)"]),
    ("Q7", "vae_loss", VARIANT["Q7"], ["sum the KL over the latent dimensions"]),
    ("Q8", "vae_forward_pass", VARIANT["Q8"], ["mu and logvar are swapped"]),
    ("Q8", "vae_forward_pass", """
        mu, logvar = encoder(to_onehot(label_map)).chunk(2, dim=1)
        logits = decoder(reparameterize(mu, logvar))  # the noise given is not passed on
        return vae_loss(logits, label_map, mu, logvar, beta), logits, mu, logvar
        """, ["pass noise on to reparameterize"]),
    ("Q9", "dice_score", VARIANT["Q9"], ["IoU"]),
]


def test_question_names():
    assert [q.name for q in assignments.load("cardiac").questions][:3] == ["Q1 to_onehot", "Q2 Encoder", "Q3 Decoder"]


def test_the_file_in_another_style_runs_its_import_time_code(grade):
    report = grade("cardiac", KIT_ROOT / "tests" / "submissions" / "cardiac", hidden=False)
    assert report.score == report.max_score, results.table(report)
    assert any("running on cpu" in note for note in report.notes)  # its import-time code ran


def test_unwritten_helpers_cost_only_their_own_questions(grade):
    """The forward passes are meant to call to_onehot, reconstruction_loss, reparameterize and
    vae_loss: with none of them written, the forward passes still get full marks."""
    source = reference_source("cardiac")
    for helper in ("to_onehot", "reconstruction_loss", "reparameterize", "vae_loss"):
        source = replace_solution(source, helper, "raise NotImplementedError")
    got = scores(grade("cardiac", source))
    assert all(got[number] == 0 for number in ("Q1", "Q4", "Q6", "Q7")), got
    assert got["Q5"] == got["Q8"] == 2, got


# Files that leave a function unwritten but replace the probe that exercises it, inside the
# sandbox, with one returning records the old public checks trusted: an "attached" flag, outputs
# of the right shapes, the statement's parameter count.
FORGED = {
    "Q5": ("ae_forward_pass", '''
import sys as _sys


def _forged(sub, encoder_weights, decoder_weights, label_map, standins):
    n, h, w = label_map.shape
    return {"loss": 1.0, "attached": True, "gradients": None, "logits": torch.zeros(n, 4, h, w)}


_sys.modules["probes"].ae_forward_pass = _forged
'''),
    "Q8": ("vae_forward_pass", '''
import sys as _sys


def _forged(sub, encoder_weights, decoder_weights, label_map, beta, noise, standins):
    (n, h, w), latent = label_map.shape, decoder_weights[0].shape[1]
    return {"loss": 1.0, "attached": True, "gradients": None, "logits": torch.zeros(n, 4, h, w),
            "mu": torch.zeros(n, latent), "logvar": torch.zeros(n, latent)}


_sys.modules["probes"].vae_forward_pass = _forged
'''),
    "Q2": ("Encoder.forward", '''
import sys as _sys

_network = _sys.modules["probes"].network


def _forged(sub, kind, x, settings, weights=None):
    if kind != "encoder":
        return _network(sub, kind, x, settings, weights)
    return {"layers": [], "output": torch.rand(x.shape[0], settings.get("latent_dim", 4)), "parameters": 798148}


_sys.modules["probes"].network = _forged
'''),
}


@pytest.mark.parametrize("number", sorted(FORGED))
def test_forged_probe_records_earn_nothing(grade, number):
    function, forgery = FORGED[number]
    source = replace_solution(reference_source("cardiac"), function, "raise NotImplementedError") + forgery
    assert scores(grade("cardiac", source))[number] == 0
