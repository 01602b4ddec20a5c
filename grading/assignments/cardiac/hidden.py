"""Hidden checks of the `cardiac` assignment (instructor only: the release leaves this file out).

They compare the submission with the reference solution on inputs the students never see, built
when the check runs from grading.shared (salted with the submission's key). Their messages say
what differs (which output, which gradient, by how much), never the inputs or expected values.
"""
import torch

from grading import judge
from grading.assignments.cardiac.public import (
    PARAMETERIZED,
    Q1,
    Q2,
    Q3,
    Q4,
    Q5,
    Q6,
    Q7,
    Q8,
    Q9,
    label_maps,
    randn,
    tiny_weights,
    weights_like,
)
from grading.rubric import CheckFailed
from grading.shared import expect_layers, generator, layer_line, of_kinds

HELPERS = {"ae_forward_pass": ("to_onehot", "reconstruction_loss"),
           "vae_loss": ("reconstruction_loss",),
           "vae_forward_pass": ("to_onehot", "reparameterize", "vae_loss", "reconstruction_loss")}


def check_with_or_without_helpers(sub, ref, probe, compare, **args):
    judge.with_or_without_helpers(sub, ref, probe, HELPERS[probe], compare, **args)


def compare_gradients(got, expected, what, names=None):
    judge.expect(got["gradients"] is not None,
                 f"{what}: the loss is detached from the graph (no gradient can flow back; do not use .item(), "
                 ".detach(), torch.no_grad() or numpy)")
    for i, (g, e) in enumerate(zip(got["gradients"], expected["gradients"])):
        judge.close(g, e, f"{what}: gradient with respect to {names[i] if names else f'parameter {i}'}",
                    rtol=1e-3, atol=1e-6)


# -- the networks ---------------------------------------------------------------------------------

def same_layers(got, expected, what):
    """shared.expect_layers, with a message that shows the student's layer, never the expected one."""
    try:
        expect_layers(got, expected, what)
    except CheckFailed:
        first = next((i for i, (g, e) in enumerate(zip(got, expected)) if g != e), min(len(got), len(expected)))
        if first < len(got):
            raise CheckFailed(f"{what}: layer {first + 1} is {layer_line(got[first])}, not the expected one") from None
        raise CheckFailed(f"{what}: only {len(got)} layers with weights are called, fewer than expected") from None


def compare_network(sub, ref, kind, what, seed, x, settings):
    """The same layers with weights as the reference, as many parameters, and the same output once
    the grader's weights are loaded into both."""
    expected = ref.call("network", kind=kind, x=x, settings=settings)
    got = sub.call("network", kind=kind, x=x, settings=settings)
    same_layers(of_kinds(got["layers"], PARAMETERIZED), of_kinds(expected["layers"], PARAMETERIZED),
                f"{what}: the layers with weights, in call order")
    judge.equal(got["parameters"], expected["parameters"], f"{what}: number of parameters")
    weights = weights_like(expected["layers"], seed)
    judge.close(sub.call("network", kind=kind, x=x, settings=settings, weights=weights)["output"],
                ref.call("network", kind=kind, x=x, settings=settings, weights=weights)["output"],
                f"{what}: output with the grader's weights", rtol=1e-3, atol=1e-4)


@Q2.check(points=1)
def other_latent_and_map_sizes(sub, ref):
    """Encoder(latent_dim=5, image_size=48): layers, parameters and codes with the grader's weights"""
    compare_network(sub, ref, "encoder", "Encoder(latent_dim=5, image_size=48)", 220, randn(221, 3, 4, 48, 48),
                    {"latent_dim": 5, "image_size": 48})


@Q2.check(points=1)
def other_input_channels(sub, ref):
    """Encoder(latent_dim=8, in_channels=5, image_size=64): layers, parameters and codes"""
    compare_network(sub, ref, "encoder", "Encoder(latent_dim=8, in_channels=5, image_size=64)", 230,
                    randn(231, 2, 5, 64, 64), {"latent_dim": 8, "in_channels": 5, "image_size": 64})


@Q3.check(points=1)
def other_latent_and_map_sizes(sub, ref):
    """Decoder(latent_dim=5, image_size=48): layers, parameters and class scores with the grader's weights"""
    compare_network(sub, ref, "decoder", "Decoder(latent_dim=5, image_size=48)", 320, randn(321, 3, 5),
                    {"latent_dim": 5, "image_size": 48})


@Q3.check(points=1)
def other_classes(sub, ref):
    """Decoder(latent_dim=2, n_classes=5, image_size=64): layers, parameters and class scores"""
    compare_network(sub, ref, "decoder", "Decoder(latent_dim=2, n_classes=5, image_size=64)", 330, randn(331, 2, 2),
                    {"latent_dim": 2, "n_classes": 5, "image_size": 64})


# -- the functions --------------------------------------------------------------------------------

@Q1.check(points=1)
def every_class_gets_a_channel(sub, ref):
    """a batch of maps, and 6 classes when the maps hold only labels 0..3"""
    for args, what in (({"label_map": label_maps(100, 3, 7, 5), "n_classes": 4}, "a batch of maps"),
                       ({"label_map": label_maps(101, 2, 4, 6), "n_classes": 6}, "6 classes, labels 0..3 only")):
        judge.equal(sub.call("to_onehot", **args), ref.call("to_onehot", **args), f"to_onehot of {what}")


@Q4.check(points=1)
def values_and_gradients(sub, ref):
    """cross-entropy and its gradient on random scores"""
    args = {"logits": randn(400, 3, 4, 6, 5) * 2, "label_map": label_maps(401, 3, 6, 5)}
    got, expected = sub.call("reconstruction_loss", **args), ref.call("reconstruction_loss", **args)
    judge.close(got["loss"], expected["loss"], "reconstruction_loss")
    compare_gradients(got, expected, "reconstruction_loss", ["the scores"])


def _forward_matches(got, expected, what, outputs):
    judge.close(got["loss"], expected["loss"], f"{what} (loss)", rtol=1e-4, atol=1e-6)
    for name in outputs:
        judge.close(got[name], expected[name], f"{what} ({name})", rtol=1e-4, atol=1e-5)
    compare_gradients(got, expected, what)


@Q5.check(points=1)
def matches_the_reference(sub, ref):
    """loss, class scores and gradients of the networks' parameters"""
    encoder, decoder = tiny_weights(500, codes=4, latent=4)
    check_with_or_without_helpers(sub, ref, "ae_forward_pass",
                                  lambda got, expected: _forward_matches(got, expected, "ae_forward_pass", ["logits"]),
                                  encoder_weights=encoder, decoder_weights=decoder, label_map=label_maps(501, 3, 8, 8))


@Q6.check(points=1)
def draws_and_gradients(sub, ref):
    """without noise: independent draws with mean mu and standard deviation exp(logvar / 2); gradients"""
    mu, logvar = randn(600, 1, 3) * 1.5, randn(601, 1, 3).clamp(-3, 2)
    first = sub.call("reparameterize", mu=mu, logvar=logvar, draws=4000)
    judge.distribution(first[:, 0], mu[0], torch.exp(logvar[0] / 2), "reparameterize(mu, logvar) draws")
    second = sub.call("reparameterize", mu=mu, logvar=logvar, draws=4000)
    sigma = torch.exp(logvar[0] / 2)
    judge.independent_draws((first[:, 0] - mu[0]) / sigma, (second[:, 0] - mu[0]) / sigma,
                            "reparameterize(mu, logvar): the draws of two calls")
    args = {"mu": randn(602, 4, 2), "logvar": randn(603, 4, 2), "noise": randn(604, 4, 2)}
    got, expected = sub.call("reparameterize", **args), ref.call("reparameterize", **args)
    judge.close(got["z"], expected["z"], "reparameterize(mu, logvar, noise)")
    judge.expect(got["gradients"] is not None, "reparameterize: z is detached from mu and logvar")
    for g, e, name in zip(got["gradients"], expected["gradients"], ("mu", "logvar")):
        judge.close(g, e, f"reparameterize: gradient with respect to {name}")


@Q7.check(points=1)
def matches_the_reference(sub, ref):
    """loss and gradients for random codes, with beta = 1 and a smaller beta"""
    for beta, what in ((1.0, "vae_loss (beta = 1)"), (0.25, "vae_loss (a smaller beta)")):
        args = {"logits": randn(700, 3, 4, 6, 6), "label_map": label_maps(701, 3, 6, 6), "mu": randn(702, 3, 5),
                "logvar": randn(703, 3, 5), "beta": beta}
        check_with_or_without_helpers(
            sub, ref, "vae_loss",
            lambda got, expected: (judge.close(got["loss"], expected["loss"], what),
                                   compare_gradients(got, expected, what, ["the scores", "mu", "logvar"])), **args)


@Q8.check(points=1)
def matches_the_reference(sub, ref):
    """loss, scores, mu, logvar and gradients with the noise given, beta = 0.5"""
    encoder, decoder = tiny_weights(800, codes=4, latent=2)
    check_with_or_without_helpers(
        sub, ref, "vae_forward_pass",
        lambda got, expected: _forward_matches(got, expected, "vae_forward_pass", ["mu", "logvar", "logits"]),
        encoder_weights=encoder, decoder_weights=decoder, label_map=label_maps(801, 3, 8, 8), beta=0.5,
        noise=randn(802, 3, 2))


def _blobs(seed: int, n: int, size: int = 24) -> torch.Tensor:
    """Label maps of overlapping squares (classes 1..3), some with a class missing."""
    g = generator(seed)
    maps = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        for label in range(1, 4):
            if torch.rand(1, generator=g).item() < 0.8:
                r, c = torch.randint(0, size - 8, (2,), generator=g).tolist()
                h, w = torch.randint(3, 9, (2,), generator=g).tolist()
                maps[i, r:r + h, c:c + w] = label
    return maps


@Q9.check(points=1)
def matches_the_reference(sub, ref):
    """batches of maps with overlapping classes, classes missing from one or both maps"""
    prediction, target = _blobs(900, 6), _blobs(901, 6)
    target[0] = 0  # no foreground at all
    prediction[1] = torch.where(target[1] == 2, 0, target[1])  # the myocardium missed
    for args, what in (({"prediction": prediction, "target": target, "n_classes": 4}, "a batch of maps"),
                       ({"prediction": prediction[2], "target": target[2], "n_classes": 4}, "a single map"),
                       ({"prediction": prediction.clamp(max=2), "target": target, "n_classes": 3}, "3 classes")):
        judge.close(sub.call("dice_score", **args), ref.call("dice_score", **args), f"dice_score on {what}")
