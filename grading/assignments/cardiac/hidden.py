"""Hidden checks of the `cardiac` assignment (instructor only: the release leaves this file out).

They compare the submission with the reference solution on inputs the students never see.
"""
import torch

from grading import judge
from grading.assignments.cardiac.public import (Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8, Q9, expect_attached, generator,
                                                label_maps, randn, tiny_weights)

HELPERS = {"ae_forward_pass": ("to_onehot", "reconstruction_loss"),
           "vae_loss": ("reconstruction_loss",),
           "vae_forward_pass": ("to_onehot", "reparameterize", "vae_loss")}
PARAMETERIZED = ("Linear", "Conv2d", "ConvTranspose2d")


def check_with_or_without_helpers(sub, ref, probe, compare, **args):
    judge.with_or_without_helpers(sub, ref, probe, HELPERS[probe], compare, **args)


def compare_gradients(got, expected, what, names=None):
    expect_attached(got, what)
    for i, (g, e) in enumerate(zip(got["gradients"], expected["gradients"])):
        judge.close(g, e, f"{what}: gradient with respect to {names[i] if names else f'parameter {i}'}",
                    rtol=1e-3, atol=1e-6)


# -- the networks ---------------------------------------------------------------------------------

def layer_line(layer: dict) -> str:
    details = ", ".join(f"{k}={v}" for k, v in layer.items() if k != "layer")
    return f"{layer['layer']}({details})"


def parameterized_layers(layers):
    """The layers with weights, in call order, with their settings and output shapes. Activations,
    Flatten and reshapes are left to the output comparison (F.relu or .view are as good)."""
    return [layer for layer in layers if layer["layer"] in PARAMETERIZED]


def expect_same_layers(got: list, expected: list, what: str) -> None:
    got, expected = parameterized_layers(got), parameterized_layers(expected)
    for i, want in enumerate(expected):
        judge.expect(i < len(got), f"{what}: only {len(got)} layers with weights are called; "
                                   f"layer {i + 1} should be {layer_line(want)}")
        judge.expect(got[i] == want, f"{what}: layer {i + 1} with weights is {layer_line(got[i])}; "
                                     f"expected {layer_line(want)}")
    judge.expect(len(got) == len(expected), f"{what}: {len(got)} layers with weights are called, expected "
                                            f"{len(expected)}")


def weights_like(layers, seed: int):
    """Random weights for the parameterized layers of a reference trace, in call order, scaled
    so that the activations keep their size through the network."""
    weights = []
    for i, layer in enumerate(parameterized_layers(layers)):
        if layer["layer"] == "Linear":
            shape, fan_in = (layer["out_features"], layer["in_features"]), layer["in_features"]
            outputs = layer["out_features"]
        else:
            k = layer["kernel_size"]
            inputs, outputs = layer["in_channels"], layer["out_channels"]
            shape = (outputs, inputs, *k) if layer["layer"] == "Conv2d" else (inputs, outputs, *k)
            # a transposed convolution of stride s spreads each input over s*s fewer outputs
            fan_in = inputs * k[0] * k[1] / (layer["stride"][0] * layer["stride"][1] if layer["layer"] ==
                                             "ConvTranspose2d" else 1)
        weights += [randn(seed + i, *shape) * (2 / fan_in) ** 0.5, randn(seed + 50 + i, outputs) * 0.1]
    return weights


def compare_layers(sub, ref, kind, what, x, settings):
    """The same layers with weights as the reference, and as many parameters."""
    expected = ref.call("network", kind=kind, x=x, settings=settings)
    got = sub.call("network", kind=kind, x=x, settings=settings)
    expect_same_layers(got["layers"], expected["layers"], what)
    judge.equal(got["parameters"], expected["parameters"], f"{what}: number of parameters")


def compare_outputs(sub, ref, kind, what, seed, x, settings):
    """The same output as the reference once the grader's weights are loaded into both."""
    weights = weights_like(ref.call("network", kind=kind, x=x, settings=settings)["layers"], seed)
    judge.close(sub.call("network", kind=kind, x=x, settings=settings, weights=weights)["output"],
                ref.call("network", kind=kind, x=x, settings=settings, weights=weights)["output"],
                f"{what}: output with the grader's weights", rtol=1e-3, atol=1e-4)


# Small maps keep these checks cheap: the architecture is the same at every size but the Linear.
SMALL_ENCODERS = (("Encoder(latent_dim=3, image_size=32)", {"latent_dim": 3, "image_size": 32}, (3, 4, 32, 32)),
                  ("Encoder(latent_dim=8, in_channels=5, image_size=48)",
                   {"latent_dim": 8, "in_channels": 5, "image_size": 48}, (2, 5, 48, 48)))
SMALL_DECODERS = (("Decoder(latent_dim=3, image_size=32)", {"latent_dim": 3, "image_size": 32}, (3, 3)),
                  ("Decoder(latent_dim=2, n_classes=5, image_size=48)",
                   {"latent_dim": 2, "n_classes": 5, "image_size": 48}, (2, 2)))


@Q2.check(points=1)
def layers_match_the_reference(sub, ref):
    """convolutions (channels, kernel, stride, padding) and Linear, in order, at other sizes"""
    for i, (what, settings, shape) in enumerate(SMALL_ENCODERS):
        compare_layers(sub, ref, "encoder", what, randn(201 + i, *shape), settings)


@Q2.check(points=1)
def output_matches_the_reference(sub, ref):
    """the same codes as the reference with the grader's weights (activations included)"""
    for i, (what, settings, shape) in enumerate(SMALL_ENCODERS):
        compare_outputs(sub, ref, "encoder", what, 220 + 10 * i, randn(221 + i, *shape), settings)


@Q3.check(points=1)
def layers_match_the_reference(sub, ref):
    """Linear then transposed convolutions (channels, kernel, stride, padding), in order"""
    for i, (what, settings, shape) in enumerate(SMALL_DECODERS):
        compare_layers(sub, ref, "decoder", what, randn(301 + i, *shape), settings)


@Q3.check(points=1)
def output_matches_the_reference(sub, ref):
    """the same class scores as the reference with the grader's weights (activations included)"""
    for i, (what, settings, shape) in enumerate(SMALL_DECODERS):
        compare_outputs(sub, ref, "decoder", what, 320 + 10 * i, randn(321 + i, *shape), settings)


# -- the functions --------------------------------------------------------------------------------

@Q1.check(points=1)
def every_class_gets_a_channel(sub, ref):
    """a batch of maps, and 6 classes when the maps hold only labels 0..3"""
    for args in ({"label_map": label_maps(100, 3, 7, 5), "n_classes": 4},
                 {"label_map": label_maps(101, 2, 4, 6), "n_classes": 6}):
        judge.equal(sub.call("to_onehot", **args), ref.call("to_onehot", **args),
                    f"to_onehot of a {tuple(args['label_map'].shape)} batch with {args['n_classes']} classes")


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
    """without noise: draws with mean mu and standard deviation exp(logvar / 2); gradients"""
    mu, logvar = torch.tensor([[0.5, -2.0, 1.0]]), torch.tensor([[0.0, 1.0, -3.0]])
    samples = sub.call("reparameterize", mu=mu, logvar=logvar, draws=4000)
    judge.distribution(samples[:, 0], mu[0], torch.exp(logvar[0] / 2), "reparameterize(mu, logvar) draws")
    args = {"mu": randn(600, 4, 2), "logvar": randn(601, 4, 2), "noise": randn(602, 4, 2)}
    got, expected = sub.call("reparameterize", **args), ref.call("reparameterize", **args)
    judge.expect(got["gradients"] is not None, "reparameterize: z is detached from mu and logvar")
    for g, e, name in zip(got["gradients"], expected["gradients"], ("mu", "logvar")):
        judge.close(g, e, f"reparameterize: gradient with respect to {name}")


@Q7.check(points=1)
def matches_the_reference(sub, ref):
    """loss and gradients for random codes, with beta = 1 and beta = 0.25"""
    for beta in (1.0, 0.25):
        args = {"logits": randn(700, 3, 4, 6, 6), "label_map": label_maps(701, 3, 6, 6), "mu": randn(702, 3, 5),
                "logvar": randn(703, 3, 5), "beta": beta}
        check_with_or_without_helpers(
            sub, ref, "vae_loss",
            lambda got, expected: (judge.close(got["loss"], expected["loss"], f"vae_loss (beta = {beta})"),
                                   compare_gradients(got, expected, f"vae_loss (beta = {beta})",
                                                     ["the scores", "mu", "logvar"])), **args)


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
    for args in ({"prediction": prediction, "target": target, "n_classes": 4},
                 {"prediction": prediction[2], "target": target[2], "n_classes": 4},
                 {"prediction": prediction.clamp(max=2), "target": target, "n_classes": 3}):
        judge.close(sub.call("dice_score", **args), ref.call("dice_score", **args),
                    f"dice_score on maps of shape {tuple(args['prediction'].shape)} with {args['n_classes']} classes")
