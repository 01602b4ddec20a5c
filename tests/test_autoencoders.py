"""The `autoencoders` rubric's cases (run by tests/test_rubrics.py for every assignment), and the
tests of this rubric alone: wrong helpers cost only their own questions, a file in another style
runs its own code, and a file that forges what the probes report earns nothing."""
import pytest

from conftest import KIT_ROOT, reference_source, replace_solution, scores

# (question, function whose solution region is replaced, wrong body)
WRONG_VARIANTS = [
    ("Q1", "make_encoder", """
        layers, width = [nn.Flatten()], N_PIXELS
        for units in hidden:  # no activation: the encoder is linear
            layers.append(nn.Linear(width, units))
            width = units
        return nn.Sequential(*layers, nn.Linear(width, d))
        """),
    ("Q2", "make_decoder", """
        layers, width = [], d
        for units in hidden:  # the encoder's order, not its mirror image
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        return nn.Sequential(*layers, nn.Linear(width, N_PIXELS), nn.Sigmoid(), nn.Unflatten(1, IMAGE_SHAPE))
        """),
    ("Q3", "forward", """
        h = self.encoder(x)
        return h, self.decoder(h)  # the pair in the wrong order
        """),
    ("Q4", "reconstruction_loss", """
        if kind == "bce":
            return F.binary_cross_entropy(x_hat, x)  # averaged over the pixels too
        if kind == "mse":
            return F.mse_loss(x_hat, x)
        raise ValueError(kind)
        """),
    ("Q4", "reconstruction_loss", """
        if kind == "bce":
            per_pixel = F.binary_cross_entropy(x_hat, x, reduction="none")
        else:  # any other kind silently gives the squared error: no ValueError
            per_pixel = (x_hat - x) ** 2
        return per_pixel.flatten(1).sum(dim=1).mean()
        """),
    ("Q5", "add_white_noise", """
        if noise is None:  # one draw per image, not per pixel
            noise = torch.randn(x.shape[0], *[1] * (x.dim() - 1), device=x.device).expand_as(x)
        return x + amplitude * noise
        """),
    ("Q5", "add_white_noise", """
        if noise is None:  # the same noise at every call
            noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0)).to(x.device)
        return x + amplitude * noise
        """),
    ("Q6", "n_parameters", """
        widths = [N_PIXELS, *hidden, d]
        return sum(2 * a * b for a, b in zip(widths, widths[1:]))  # the biases are forgotten
        """),
    ("Q7", "compression_ratio", """
        return math.prod(image_shape) / d  # upside down
        """),
    ("Q8", "encode", """
        logvar, mu = self.encoder(x).chunk(2, dim=1)  # the halves swapped
        return mu, logvar
        """),
    ("Q9", "reparameterize", """
        if noise is None:
            noise = torch.randn_like(mu)
        return mu + torch.exp(logvar) * noise  # the variance, not the standard deviation
        """),
    ("Q10", "vae_loss", """
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).mean()  # averaged over the latent dimensions
        return reconstruction_loss(x_hat, x, kind) + kl
        """),
    ("Q11", "sparse_loss", """
        l1 = h.abs().mean()  # averaged over the code's values, not summed
        l2 = sum((layer.weight ** 2).sum() for layer in decoder.modules() if isinstance(layer, nn.Linear))
        return reconstruction_loss(x_hat, x, kind) + lambda1 * l1 + lambda2 * l2
        """),
    ("Q12", "lambda1_schedule", """
        return start + (final - start) * epoch / n_epochs  # never reaches final
        """),
    ("Q12", "lambda1_schedule", """
        return start + (final - start) * epoch / (n_epochs - 1)  # ZeroDivisionError when n_epochs is 1
        """),
]

# Edits that make the reference draw random numbers in another order (it must keep full marks).
RANDOM_ORDER_EDITS = [
    ("    if noise is None:\n        noise = torch.randn_like(mu)",
     "    torch.rand(int(torch.randint(1, 50, (1,))))  # draws extra random numbers first\n"
     "    if noise is None:\n        noise = torch.randn_like(mu)"),
]

# (question, function, wrong body, words the public checks' message must hold)
COMMON_MISTAKES = [
    ("Q4", "reconstruction_loss", """
        if kind == "bce":
            return F.binary_cross_entropy(x_hat, x)
        if kind == "mse":
            return F.mse_loss(x_hat, x)
        raise ValueError(kind)
        """, ["averaged over the pixels"]),
    ("Q5", "add_white_noise", """
        if noise is None:
            noise = torch.randn(x.shape[0], *[1] * (x.dim() - 1), device=x.device).expand_as(x)
        return x + amplitude * noise
        """, ["same noise value"]),
    ("Q9", "reparameterize", """
        if noise is None:
            noise = torch.randn_like(mu)
        return mu + torch.exp(logvar) * noise
        """, ["variance", "exp(logvar / 2)"]),
    ("Q10", "vae_loss", """
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).mean()
        return reconstruction_loss(x_hat, x, kind) + kl
        """, ["averaged over the d latent dimensions"]),
    ("Q11", "sparse_loss", """
        l1 = h.abs().mean()
        l2 = sum((layer.weight ** 2).sum() for layer in decoder.modules() if isinstance(layer, nn.Linear))
        return reconstruction_loss(x_hat, x, kind) + lambda1 * l1 + lambda2 * l2
        """, ["averaged over the code's values"]),
]


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


def test_a_file_written_in_another_style_runs_its_own_code(grade):
    report = grade("autoencoders", KIT_ROOT / "tests" / "submissions" / "autoencoders")
    assert report.score == 20
    assert any("device: cpu" in note for note in report.notes)  # its import-time code ran


def test_lambda1_schedule_over_one_epoch_and_unknown_loss_kinds_are_checked(grade):
    """Issue 13: a schedule that divides by zero for n_epochs = 1, and a reconstruction_loss that
    accepts any kind, lose points in the public checks (what students run)."""
    source = replace_solution(reference_source("autoencoders"), "lambda1_schedule",
                              "return start + (final - start) * epoch / (n_epochs - 1)")
    source = replace_solution(source, "reconstruction_loss", """
        per_pixel = F.binary_cross_entropy(x_hat, x, reduction="none") if kind == "bce" else (x_hat - x) ** 2
        return per_pixel.flatten(1).sum(dim=1).mean()
        """)
    report = grade("autoencoders", source, hidden=False)
    messages = {q.name.split()[0]: " ".join(q.messages) for q in report.questions}
    assert scores(report)["Q12"] == 0 and "ZeroDivisionError" in messages["Q12"], messages["Q12"]
    assert scores(report)["Q4"] == 0 and "ValueError" in messages["Q4"], messages["Q4"]


# A file that leaves a function unwritten but replaces, at import, the probe that exercises it
# (the probes run in the submission's own interpreter) with one that reports what a correct
# answer would look like: the checks must compute what they expect themselves, so it earns nothing.
FORGED_NETWORK = """
_real_network = _sys.modules['probes'].network
def _forged(sub, part, d, x, hidden=None, weights=None):
    if part != {part!r}:
        return _real_network(sub, part, d, x, hidden, weights)
    widths = [784, *(hidden if hidden is not None else [256]), d]
    if part == "decoder":
        widths = widths[::-1]
    layers = []
    for a, b in zip(widths, widths[1:]):
        layers += [{{"layer": "Linear", "in_features": a, "out_features": b}}, {{"layer": "ReLU"}}]
    output = torch.zeros(len(x), d) if part == "encoder" else torch.full((len(x), 1, 28, 28), 0.5)
    return {{"layers": layers[:-1], "output": output, "parameters": 0}}
"""
FORGERIES = {
    "Q1": ("make_encoder", "network", FORGED_NETWORK.format(part="encoder")),
    "Q2": ("make_decoder", "network", FORGED_NETWORK.format(part="decoder")),
    "Q8": ("encode", "vae_structure", """
def _forged(sub, d, x, z):
    return {"encoder_shape": [len(x), 2 * d], "decoder_shape": [len(z), 1, 28, 28],
            "mu_shape": [len(x), d], "logvar_shape": [len(x), d]}
"""),
    "Q10": ("vae_loss", "elbo_loss", """
def _forged(sub, x_hat, x, mu, logvar, standins, kind=None):
    return {"loss": float((mu ** 2).sum(1).mean() / 2), "attached": True, "gradients": []}
"""),
}


@pytest.mark.parametrize("number", list(FORGERIES))
def test_forged_probe_reports_earn_nothing(grade, number):
    function, probe, forged = FORGERIES[number]
    source = replace_solution(reference_source("autoencoders"), function, "raise NotImplementedError()")
    source += f"\nimport sys as _sys\n{forged}\n_sys.modules['probes'].{probe} = _forged\n"
    report = grade("autoencoders", source)
    assert scores(report)[number] == 0, [q.messages for q in report.questions if q.name.startswith(number + " ")]
