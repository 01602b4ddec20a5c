"""Questions of the `cardiac` assignment (20 points) and their public checks.

Public checks ship to students: they use closed-form facts only (the statement's parameter
count, shapes, the statement's formulas computed here on the grader's inputs), never the
reference solution. The hidden checks (hidden.py, instructor only) compare with the reference on
other inputs.

Where a student often makes a given mistake, the public check recognises it and names it (see
`judge.naming_mistakes`). The forward passes run on the probes' small networks, and the helpers
they are meant to call are swapped for the probes' stand-ins: the checks accept the stand-ins'
results as well as the statement's, so a wrong helper costs only its own question.
"""
import math

import torch
import torch.nn.functional as F

from grading import judge
from grading.assignments.cardiac.probes import STANDINS, _tiny_networks
from grading.rubric import CheckFailed, Question
from grading.shared import expect_layers, of_kinds, randint, randn

Q1 = Question("Q1", "to_onehot", points=2)
Q2 = Question("Q2", "Encoder", points=3)
Q3 = Question("Q3", "Decoder", points=3)
Q4 = Question("Q4", "reconstruction_loss", points=2)
Q5 = Question("Q5", "ae_forward_pass", points=2)
Q6 = Question("Q6", "reparameterize", points=2)
Q7 = Question("Q7", "vae_loss", points=2)
Q8 = Question("Q8", "vae_forward_pass", points=2)
Q9 = Question("Q9", "dice_score", points=2)
QUESTIONS = [Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8, Q9]

ENCODER_PARAMETERS = 798_148  # the statement's count: 256x256 one-hot maps, latent 4
DECODER_PARAMETERS = 810_388  # its mirror, as the Decoder's docstring describes it
TINY_FEATURES = 6 * 4 * 4     # the probes' small networks (probes.TINY_CHANNELS x 4 x 4)
PARAMETERIZED = ("Linear", "Conv2d", "ConvTranspose2d")


# -- inputs (built when a check runs: in a hidden check, grading.shared salts them) ---------------

def label_maps(seed: int, *shape, n_classes: int = 4) -> torch.Tensor:
    return randint(seed, 0, n_classes, shape)


def tiny_weights(seed: int, codes: int, latent: int):
    """Weights of the probes' small encoder (8x8 maps -> `codes` values) and decoder
    (`latent` values -> 4 x 8 x 8 scores), scaled like PyTorch's initialization."""
    encoder = [randn(seed, 6, 4, 3, 3) / 6, randn(seed + 1, 6) * 0.1,
               randn(seed + 2, codes, TINY_FEATURES) / TINY_FEATURES ** 0.5, randn(seed + 3, codes) * 0.1]
    decoder = [randn(seed + 4, TINY_FEATURES, latent) / latent ** 0.5, randn(seed + 5, TINY_FEATURES) * 0.1,
               randn(seed + 6, 6, 4, 3, 3) / 6, randn(seed + 7, 4) * 0.1]
    return encoder, decoder


# -- judging helpers --------------------------------------------------------------------------------

def matches(got, expected, rtol=1e-4, atol=1e-5) -> bool:
    try:
        judge.close(got, expected, "", rtol=rtol, atol=atol)
        return True
    except CheckFailed:
        return False


def expect_gradients(got: dict, expected, what: str, names) -> None:
    """The probe's gradients (of the loss, or of a weighted sum of the output) are the ones computed
    here: the result is attached to the graph, and through the right operations."""
    judge.expect(got["gradients"] is not None,
                 f"{what}: the result is detached from the graph (no gradient can flow back; do not use .item(), "
                 ".detach(), torch.no_grad() or numpy)")
    for name, g, e in zip(names, got["gradients"], expected):
        judge.close(g, e, f"{what}: gradient with respect to {name}", rtol=1e-3, atol=1e-6)


def gradients(value: torch.Tensor, tensors) -> list:
    return [g.float() for g in torch.autograd.grad(value, list(tensors))]


def leaves(*tensors):
    return [t.detach().double().clone().requires_grad_(True) for t in tensors]


def one_hot(label_map: torch.Tensor, n_classes: int = 4) -> torch.Tensor:
    return F.one_hot(label_map.long(), n_classes).permute(0, 3, 1, 2).double()


def cross_entropy(logits, label_map):
    return F.cross_entropy(logits, label_map.long())


def kl_per_map(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) of each map (summed over the latent dimensions)."""
    return -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)


def statement_vae_loss(reconstruction):
    """The docstring's vae_loss, with `reconstruction` for its reconstruction term."""
    def loss(logits, label_map, mu, logvar, beta):
        return reconstruction(logits, label_map) + beta * kl_per_map(mu, logvar).mean() / label_map[0].numel()
    return loss


def standin(name):
    """A probes' stand-in, in double precision."""
    function = STANDINS[name]
    return lambda *args: function(*args).double() if name == "to_onehot" else function(*args)


# -- Q1 to_onehot -------------------------------------------------------------------------------------

@Q1.check(points=1, public=True)
def small_example(sub, ref):
    """a 2x3 map with the four classes: one channel per class, channels second"""
    label_map = torch.tensor([[[0, 1, 2], [3, 3, 0]]])
    got = sub.call("to_onehot", label_map=label_map, n_classes=4)
    expected = torch.tensor([[[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 0]],
                              [[0, 0, 1], [0, 0, 0]], [[0, 0, 0], [1, 1, 0]]]], dtype=torch.float32)
    judge.naming_mistakes(
        got, expected,
        [("to_onehot: the channels must come second, (N, K, H, W): F.one_hot puts them last (permute them)",
          F.one_hot(label_map, 4).float())],
        lambda g, e: judge.equal(g, e, "to_onehot([[[0, 1, 2], [3, 3, 0]]]) with 4 classes"))
    judge.expect(got.dtype == torch.float32, f"to_onehot returned {got.dtype}; expected float32 (the networks' input)")


# -- Q2, Q3 the networks ------------------------------------------------------------------------------

def conv(in_channels, out_channels, stride, transposed=False):
    layer = {"layer": "ConvTranspose2d" if transposed else "Conv2d", "in_channels": in_channels,
             "out_channels": out_channels, "kernel_size": [3, 3], "stride": [stride, stride], "padding": [1, 1]}
    if transposed:
        layer["output_padding"] = [stride - 1, stride - 1]
    return layer


def encoder_layers(latent_dim: int = 4, in_channels: int = 4, image_size: int = 256) -> list:
    """The statement's encoder, layer by layer (the layers with weights, in call order)."""
    layers, channels = [], in_channels
    for width in (48, 96, 192, 48):
        layers += [conv(channels, width, 2), conv(width, width, 1)]
        channels = width
    return layers + [{"layer": "Linear", "in_features": 48 * (image_size // 16) ** 2, "out_features": latent_dim}]


def decoder_layers(latent_dim: int = 4, n_classes: int = 4, image_size: int = 256) -> list:
    layers = [{"layer": "Linear", "in_features": latent_dim, "out_features": 48 * (image_size // 16) ** 2}]
    channels = 48
    for width in (192, 96, 48, n_classes):
        layers += [conv(channels, channels, 1, transposed=True), conv(channels, width, 2, transposed=True)]
        channels = width
    return layers


def weights_like(layers, seed: int):
    """Random weights for layers with weights (in call order), scaled so that the activations keep
    their size through the network."""
    weights = []
    for i, layer in enumerate(of_kinds(layers, PARAMETERIZED)):
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


def run_encoder(x, weights, strides=(2, 1) * 4, relu=True):
    """The statement's encoder with `weights`, in closed form (`strides` and `relu` make its usual mistakes)."""
    x = x.double()
    for i, stride in enumerate(strides):
        x = F.conv2d(x, weights[2 * i].double(), weights[2 * i + 1].double(), stride=stride, padding=1)
        x = F.relu(x) if relu else x
    return F.linear(x.flatten(1), weights[16].double(), weights[17].double())


def run_decoder(z, weights, side, relu_after_linear=True, relu_at_the_end=False):
    x = F.linear(z.double(), weights[0].double(), weights[1].double())
    x = (F.relu(x) if relu_after_linear else x).view(len(z), 48, side, side)
    for i in range(8):
        stride = 1 if i % 2 == 0 else 2
        x = F.conv_transpose2d(x, weights[2 + 2 * i].double(), weights[3 + 2 * i].double(), stride=stride, padding=1,
                               output_padding=stride - 1)
        x = F.relu(x) if i < 7 or relu_at_the_end else x
    return x


SMALL = 32  # the public checks' maps: the architecture is the same at every size but the Linear


@Q2.check(points=1, public=True)
def statement_count_layers_and_output(sub, ref):
    """Encoder(): 798,148 parameters, (1, 4, 256, 256) -> (1, 4); at 32x32 the statement's layers and outputs"""
    got = sub.call("network", kind="encoder", x=randn(20, 1, 4, 256, 256), settings={})
    judge.equal(got["parameters"], ENCODER_PARAMETERS, "Encoder(): number of parameters")
    judge.equal(list(got["output"].shape), [1, 4], "Encoder(): output shape for a (1, 4, 256, 256) input")
    settings, x = {"latent_dim": 3, "image_size": SMALL}, randn(21, 2, 4, SMALL, SMALL)
    layers = encoder_layers(3, 4, SMALL)
    weights = weights_like(layers, 22)
    got = sub.call("network", kind="encoder", x=x, settings=settings, weights=weights)
    expect_layers(of_kinds(got["layers"], PARAMETERIZED), layers, "Encoder(latent_dim=3, image_size=32): the layers "
                                                                   "with weights, in call order")
    judge.naming_mistakes(
        got["output"], run_encoder(x, weights),
        [("Encoder: a ReLU must follow every convolution", run_encoder(x, weights, relu=False)),
         ("Encoder: the first convolution of each stage has stride 2, the second keeps the size",
          run_encoder(x, weights, strides=(1, 2) * 4))],
        lambda g, e: judge.close(g, e, "Encoder(latent_dim=3, image_size=32): codes with the grader's weights",
                                 rtol=1e-3, atol=1e-4))


@Q3.check(points=1, public=True)
def parameter_count_layers_and_output(sub, ref):
    """Decoder(): 810,388 parameters, (1, 4) -> (1, 4, 256, 256); at 32x32 the statement's layers and outputs"""
    got = sub.call("network", kind="decoder", x=randn(30, 1, 4), settings={})
    judge.equal(list(got["output"].shape), [1, 4, 256, 256], "Decoder(): output shape for a (1, 4) code")
    judge.equal(got["parameters"], DECODER_PARAMETERS, "Decoder(): number of parameters")
    settings, z = {"latent_dim": 3, "image_size": SMALL}, randn(31, 2, 3)
    layers = decoder_layers(3, 4, SMALL)
    weights = weights_like(layers, 32)
    got = sub.call("network", kind="decoder", x=z, settings=settings, weights=weights)
    expect_layers(of_kinds(got["layers"], PARAMETERIZED), layers, "Decoder(latent_dim=3, image_size=32): the layers "
                                                                   "with weights, in call order")
    side = SMALL // 16
    judge.naming_mistakes(
        got["output"], run_decoder(z, weights, side),
        [("Decoder: no ReLU after the last layer: its outputs are class scores, which can be negative",
          run_decoder(z, weights, side, relu_at_the_end=True)),
         ("Decoder: a ReLU follows the Linear layer", run_decoder(z, weights, side, relu_after_linear=False))],
        lambda g, e: judge.close(g, e, "Decoder(latent_dim=3, image_size=32): class scores with the grader's weights",
                                 rtol=1e-3, atol=1e-4))


# -- Q4 reconstruction_loss ---------------------------------------------------------------------------

@Q4.check(points=1, public=True)
def uniform_sure_and_random_scores(sub, ref):
    """uniform scores give log 4; scores sure of the right class almost 0; random scores: value and gradient"""
    label_map = label_maps(40, 2, 5, 5)
    uniform = sub.call("reconstruction_loss", logits=torch.zeros(2, 4, 5, 5), label_map=label_map)
    judge.close(uniform["loss"], math.log(4), "reconstruction_loss with uniform scores", rtol=1e-4)
    sure_logits = 20 * F.one_hot(label_map, 4).permute(0, 3, 1, 2).float()
    sure = sub.call("reconstruction_loss", logits=sure_logits, label_map=label_map)
    judge.naming_mistakes(
        sure["loss"], 3 * math.exp(-20),
        [("reconstruction_loss: apply the cross-entropy to the raw scores: F.cross_entropy already includes the "
          "softmax (a softmax before it counts twice)", cross_entropy(sure_logits.softmax(dim=1), label_map).item())],
        lambda g, e: judge.close(g, e, "reconstruction_loss with scores sure of the right class", rtol=1e-3,
                                 atol=1e-7))
    logits = randn(41, 2, 4, 5, 6) * 2
    label_map = label_maps(42, 2, 5, 6)
    got = sub.call("reconstruction_loss", logits=logits, label_map=label_map)
    scores, = leaves(logits)
    loss = cross_entropy(scores, label_map)
    judge.naming_mistakes(
        got["loss"], loss.item(),
        [("reconstruction_loss: the softmax must run over the classes (dim=1), not the width",
          -F.log_softmax(logits.double(), dim=-1).gather(1, label_map.unsqueeze(1)).mean().item()),
         ("reconstruction_loss: apply the cross-entropy to the raw scores, not to their softmax",
          cross_entropy(logits.double().softmax(dim=1), label_map).item())],
        lambda g, e: judge.close(g, e, "reconstruction_loss of random scores"))
    expect_gradients(got, gradients(loss, [scores]), "reconstruction_loss", ["the scores"])


# -- Q5 ae_forward_pass -------------------------------------------------------------------------------

def tiny(encoder_weights, decoder_weights):
    """The probes' small networks, in double precision."""
    encoder, decoder = _tiny_networks(encoder_weights, decoder_weights)
    return encoder.double(), decoder.double()


def ae_candidates(encoder_weights, decoder_weights, label_map):
    """What ae_forward_pass returns, calling each helper (swapped for its stand-in) or computing it inline."""
    candidates = []
    for encode in (one_hot, standin("to_onehot")):
        for reconstruction in (cross_entropy, standin("reconstruction_loss")):
            encoder, decoder = tiny(encoder_weights, decoder_weights)
            logits = decoder(encoder(encode(label_map)))
            loss = reconstruction(logits, label_map)
            candidates.append({"loss": loss.item(), "logits": logits.detach(),
                               "gradients": gradients(loss, [*encoder.parameters(), *decoder.parameters()])})
    return candidates


def expect_forward_pass(got, candidates, what, outputs) -> None:
    """`got` is one of the candidates: first its `outputs` (checked in order), then its loss, then the
    gradients of the networks' parameters (the probes' encoder has 4 parameter tensors)."""
    for name in outputs:
        found = [c for c in candidates if matches(got[name], c[name], rtol=1e-3, atol=1e-5)]
        if not found:
            judge.close(got[name], candidates[0][name], f"{what}: {name}", rtol=1e-3, atol=1e-5)
        candidates = found
    found = [c for c in candidates if matches(got["loss"], c["loss"], atol=1e-6)]
    if not found:
        judge.close(got["loss"], candidates[0]["loss"], f"{what}: the loss", atol=1e-6)
    expected = found[0]["gradients"]
    judge.expect(got["gradients"] is not None,
                 f"{what}: the loss is detached from the graph (no gradient can flow back; do not use .item(), "
                 ".detach(), torch.no_grad() or numpy)")
    if all(float(g.abs().max()) == 0 for g in got["gradients"][:4]) and any(float(e.abs().max()) > 0
                                                                           for e in expected[:4]):
        raise CheckFailed(f"{what}: no gradient reaches the encoder: do not detach its codes (nor run it under "
                          "torch.no_grad()); the loss must train both networks")
    names = ["the encoder's convolution weight", "the encoder's convolution bias", "the encoder's Linear weight",
             "the encoder's Linear bias", "the decoder's Linear weight", "the decoder's Linear bias",
             "the decoder's transposed convolution weight", "the decoder's transposed convolution bias"]
    for name, g, e in zip(names, got["gradients"], expected):
        judge.close(g, e, f"{what}: gradient of the loss with respect to {name}", rtol=1e-3, atol=1e-6)


@Q5.check(points=1, public=True)
def loss_scores_and_gradients(sub, ref):
    """returns (loss, class scores decoder(encoder(one-hot maps))) and the loss trains both networks"""
    encoder, decoder = tiny_weights(50, codes=3, latent=3)
    label_map = label_maps(51, 2, 8, 8)
    # the helpers are swapped for stand-ins (probes.py): a wrong helper costs its own question only
    got = sub.call("ae_forward_pass", encoder_weights=encoder, decoder_weights=decoder, label_map=label_map,
                   standins=["to_onehot", "reconstruction_loss"])
    judge.equal(list(got["logits"].shape), [2, 4, 8, 8], "ae_forward_pass: shape of the class scores")
    expect_forward_pass(got, ae_candidates(encoder, decoder, label_map), "ae_forward_pass", ["logits"])


# -- Q6 reparameterize --------------------------------------------------------------------------------

REPARAMETERIZE_WEIGHTING = lambda shape: torch.linspace(-1, 2, math.prod(shape)).view(shape)  # noqa: E731 (probes')


@Q6.check(points=1, public=True)
def given_noise(sub, ref):
    """with the noise given: z = mu + exp(logvar / 2) * noise, differentiable in mu and logvar"""
    mu, logvar, noise = randn(60, 3, 2), randn(61, 3, 2), randn(62, 3, 2)
    got = sub.call("reparameterize", mu=mu, logvar=logvar, noise=noise)
    again = sub.call("reparameterize", mu=mu, logvar=logvar, noise=noise)
    judge.expect(torch.equal(got["z"], again["z"]),
                 "reparameterize: two calls with the same noise give different z: use the noise given (draw your "
                 "own only when noise is None)")
    m, lv = leaves(mu, logvar)
    z = m + torch.exp(lv / 2) * noise.double()
    judge.naming_mistakes(
        got["z"], z.detach(),
        [("reparameterize: sigma is the standard deviation exp(logvar / 2), not the variance exp(logvar)",
          mu + torch.exp(logvar) * noise),
         ("reparameterize: logvar is a log-variance: sigma = exp(logvar / 2), not logvar itself",
          mu + logvar * noise)],
        lambda g, e: judge.close(g, e, "reparameterize(mu, logvar, noise)"))
    expect_gradients(got, gradients((z * REPARAMETERIZE_WEIGHTING(mu.shape)).sum(), [m, lv]), "reparameterize",
                     ["mu", "logvar"])


# -- Q7 vae_loss --------------------------------------------------------------------------------------

def vae_loss_mistakes(logits, label_map, mu, logvar, beta):
    """The usual wrong KL terms, with either reconstruction term."""
    pixels = label_map[0].numel()
    terms = -0.5 * (1 + logvar - mu ** 2 - logvar.exp())
    mistakes = []
    for reconstruction in (cross_entropy, standin("reconstruction_loss")):
        r = reconstruction(logits, label_map).item()
        mistakes += [
            ("vae_loss: sum the KL over the latent dimensions (then average it over the batch), not its mean",
             r + beta * terms.mean().item() / pixels),
            ("vae_loss: divide the KL by the number of pixels H * W (it is per map; the cross-entropy per pixel)",
             r + beta * terms.sum(dim=1).mean().item()),
            ("vae_loss: average the KL over the batch, do not sum it", r + beta * terms.sum().item() / pixels),
            ("vae_loss: the KL term has the wrong sign: KL = -1/2 sum(1 + logvar - mu^2 - exp(logvar)) >= 0",
             r - beta * terms.sum(dim=1).mean().item() / pixels)]
    return mistakes


@Q7.check(points=1, public=True)
def prior_codes_and_the_kl_term(sub, ref):
    """mu = 0, logvar = 0 (the prior) add nothing to the cross-entropy; otherwise + beta * KL / (H * W); gradients"""
    logits, label_map = randn(70, 2, 4, 6, 6), label_maps(71, 2, 6, 6)
    got = sub.call("vae_loss", logits=logits, label_map=label_map, mu=torch.zeros(2, 3), logvar=torch.zeros(2, 3),
                   beta=1.0, standins=["reconstruction_loss"])
    # computed here, or by calling reconstruction_loss (swapped for a stand-in: see probes.py)
    judge.any_close(got["loss"], [cross_entropy(logits, label_map).item(),
                                  STANDINS["reconstruction_loss"](logits, label_map).item()], "vae_loss when KL = 0")
    mu, logvar, beta = randn(72, 2, 3), randn(73, 2, 3), 0.5
    got = sub.call("vae_loss", logits=logits, label_map=label_map, mu=mu, logvar=logvar, beta=beta,
                   standins=["reconstruction_loss"])
    candidates = []
    for reconstruction in (cross_entropy, standin("reconstruction_loss")):
        inputs = leaves(logits, mu, logvar)
        loss = statement_vae_loss(reconstruction)(inputs[0], label_map, inputs[1], inputs[2], beta)
        candidates.append((loss.item(), gradients(loss, inputs)))
    found = [c for c in candidates if matches(got["loss"], c[0])]
    if not found:
        judge.naming_mistakes(got["loss"], candidates[0][0],
                              vae_loss_mistakes(logits.double(), label_map, mu.double(), logvar.double(), beta),
                              lambda g, e: judge.close(g, e, "vae_loss with beta = 0.5"))
    expect_gradients(got, found[0][1], "vae_loss", ["the scores", "mu", "logvar"])


# -- Q8 vae_forward_pass ------------------------------------------------------------------------------

VAE_HELPERS = ["to_onehot", "reparameterize", "vae_loss", "reconstruction_loss"]


def vae_candidates(encoder_weights, decoder_weights, label_map, beta, noise, sample=None, swap=False):
    """What vae_forward_pass returns, calling each helper (swapped for its stand-in) or computing it
    inline; `sample(mu, logvar)` and `swap` make its usual mistakes."""
    samplers = [lambda m, lv: m + torch.exp(lv / 2) * noise.double(),
                lambda m, lv: STANDINS["reparameterize"](m, lv, noise.double())] if sample is None else [sample]
    losses = [statement_vae_loss(cross_entropy), statement_vae_loss(standin("reconstruction_loss")),
              STANDINS["vae_loss"]]
    candidates = []
    for encode in (one_hot, standin("to_onehot")):
        for draw in samplers:
            for vae_loss in losses:
                encoder, decoder = tiny(encoder_weights, decoder_weights)
                mu, logvar = encoder(encode(label_map)).chunk(2, dim=1)
                if swap:
                    mu, logvar = logvar, mu
                logits = decoder(draw(mu, logvar))
                loss = vae_loss(logits, label_map, mu, logvar, beta)
                candidates.append({"loss": loss.item(), "logits": logits.detach(), "mu": mu.detach(),
                                   "logvar": logvar.detach(),
                                   "gradients": gradients(loss, [*encoder.parameters(), *decoder.parameters()])})
    return candidates


@Q8.check(points=1, public=True)
def codes_sample_scores_loss_and_gradients(sub, ref):
    """returns (loss, scores, mu, logvar): mu and logvar halves of the codes, the scores of the sample z; gradients"""
    encoder, decoder = tiny_weights(80, codes=6, latent=3)
    args = {"encoder_weights": encoder, "decoder_weights": decoder, "label_map": label_maps(81, 2, 8, 8),
            "beta": 1.0, "noise": randn(82, 2, 3)}
    got = sub.call("vae_forward_pass", **args, standins=VAE_HELPERS)
    judge.equal(list(got["logits"].shape), [2, 4, 8, 8], "vae_forward_pass: shape of the class scores")
    judge.equal(list(got["mu"].shape), [2, 3], "vae_forward_pass: shape of mu (half of the encoder's 6 outputs)")
    judge.equal(list(got["logvar"].shape), [2, 3], "vae_forward_pass: shape of logvar")
    again = sub.call("vae_forward_pass", **args, standins=VAE_HELPERS)
    judge.expect(torch.equal(got["logits"], again["logits"]),
                 "vae_forward_pass: two calls with the same noise give different class scores: pass noise on to "
                 "reparameterize")
    candidates = vae_candidates(**args)
    if not any(matches(got["mu"], c["mu"], rtol=1e-3) for c in candidates) and \
            any(matches(got["mu"], c["logvar"], rtol=1e-3) for c in candidates):
        raise CheckFailed("vae_forward_pass: mu and logvar are swapped: the encoder's first L outputs are the means, "
                          "the last L the log-variances")
    if not any(matches(got["logits"], c["logits"], rtol=1e-3) for c in candidates):
        for message, sample in (
                ("vae_forward_pass: decode the sample z = reparameterize(mu, logvar, noise), not mu",
                 lambda m, lv: m),
                ("vae_forward_pass: pass noise on to reparameterize (the grader gives it)",
                 lambda m, lv: STANDINS["reparameterize"](m, lv))):
            if any(matches(got["logits"], c["logits"], rtol=1e-3) for c in vae_candidates(**args, sample=sample)):
                raise CheckFailed(message)
    expect_forward_pass(got, candidates, "vae_forward_pass", ["mu", "logvar", "logits"])


# -- Q9 dice_score ------------------------------------------------------------------------------------

def dice(predicted: torch.Tensor, true: torch.Tensor) -> float:
    """The Dice coefficient of two masks, in closed form."""
    return 2 * (predicted & true).sum().item() / (predicted.sum() + true.sum()).item()


@Q9.check(points=1, public=True)
def hand_computed_example(sub, ref):
    """a 4x4 example: right ventricle 4/7, myocardium absent from both (1), left ventricle missed (0)"""
    target = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 3], [0, 0, 0, 3], [0, 0, 0, 0]])
    prediction = torch.tensor([[1, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    got = sub.call("dice_score", prediction=prediction, target=target, n_classes=4)
    judge.expect(not (isinstance(got, torch.Tensor) and torch.isnan(got).any()),
                 "dice_score: a class absent from both maps must score 1.0 (not 0 / 0 = NaN)")
    judge.naming_mistakes(
        got, torch.tensor([4 / 7, 1.0, 0.0]),
        [("dice_score: that is the IoU (Jaccard index) |P and T| / |P or T|; Dice is 2 |P and T| / (|P| + |T|)",
          torch.tensor([2 / 5, 1.0, 0.0])),
         ("dice_score: a class absent from both maps scores 1.0", torch.tensor([4 / 7, 0.0, 0.0])),
         ("dice_score: class 0 (the background) is not scored: return the K - 1 values of classes 1..K-1",
          torch.tensor([dice(prediction == 0, target == 0), 4 / 7, 1.0, 0.0]))],
        lambda g, e: judge.close(g, e, "dice_score(prediction, target)"))
    judge.close(sub.call("dice_score", prediction=target, target=target, n_classes=4), torch.ones(3),
                "dice_score(target, target)")
