"""Questions of the `cardiac` assignment (20 points) and their public checks.

Public checks ship to students: they use closed-form facts only (the statement's parameter
count, shapes, hand-computed values), never the reference solution. The hidden checks
(hidden.py, instructor only) compare with the reference on other inputs.
"""
import math

import torch
import torch.nn.functional as F

from grading import judge
from grading.assignments.cardiac.probes import STANDINS
from grading.rubric import Question

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


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=generator(seed))


def label_maps(seed: int, *shape, n_classes: int = 4) -> torch.Tensor:
    return torch.randint(0, n_classes, shape, generator=generator(seed))


def tiny_weights(seed: int, codes: int, latent: int):
    """Weights of the probes' small encoder (8x8 maps -> `codes` values) and decoder
    (`latent` values -> 4 x 8 x 8 scores), scaled like PyTorch's initialization."""
    encoder = [randn(seed, 6, 4, 3, 3) / 6, randn(seed + 1, 6) * 0.1,
               randn(seed + 2, codes, TINY_FEATURES) / TINY_FEATURES ** 0.5, randn(seed + 3, codes) * 0.1]
    decoder = [randn(seed + 4, TINY_FEATURES, latent) / latent ** 0.5, randn(seed + 5, TINY_FEATURES) * 0.1,
               randn(seed + 6, 6, 4, 3, 3) / 6, randn(seed + 7, 4) * 0.1]
    return encoder, decoder


def expect_attached(got: dict, what: str) -> None:
    judge.expect(got["attached"], f"{what}: the loss is detached from the graph (no gradient can flow back; "
                                  "do not use .item(), .detach(), torch.no_grad() or numpy)")


@Q1.check(points=1, public=True)
def small_example(sub, ref):
    """a 2x3 map with the four classes: one channel per class, channels second"""
    label_map = torch.tensor([[[0, 1, 2], [3, 3, 0]]])
    got = sub.call("to_onehot", label_map=label_map, n_classes=4)
    expected = torch.tensor([[[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 0]],
                              [[0, 0, 1], [0, 0, 0]], [[0, 0, 0], [1, 1, 0]]]], dtype=torch.float32)
    judge.equal(got, expected, "to_onehot([[[0, 1, 2], [3, 3, 0]]]) with 4 classes")
    judge.expect(got.dtype == torch.float32, f"to_onehot returned {got.dtype}; expected float32 (the networks' input)")


@Q2.check(points=1, public=True)
def statement_parameter_count_and_output_shape(sub, ref):
    """Encoder(): 798,148 parameters, (1, 4, 256, 256) -> (1, 4)"""
    got = sub.call("network", kind="encoder", x=randn(20, 1, 4, 256, 256), settings={})
    judge.equal(got["parameters"], ENCODER_PARAMETERS, "Encoder(): number of parameters")
    judge.equal(list(got["output"].shape), [1, 4], "Encoder(): output shape for a (1, 4, 256, 256) input")


@Q3.check(points=1, public=True)
def parameter_count_and_output_shape(sub, ref):
    """Decoder(): 810,388 parameters, (1, 4) -> (1, 4, 256, 256)"""
    got = sub.call("network", kind="decoder", x=randn(30, 1, 4), settings={})
    judge.equal(list(got["output"].shape), [1, 4, 256, 256], "Decoder(): output shape for a (1, 4) code")
    judge.equal(got["parameters"], DECODER_PARAMETERS, "Decoder(): number of parameters")


@Q4.check(points=1, public=True)
def perfect_and_uniform_scores(sub, ref):
    """uniform scores give log 4; scores sure of the right class give almost 0"""
    label_map = label_maps(40, 2, 5, 5)
    uniform = sub.call("reconstruction_loss", logits=torch.zeros(2, 4, 5, 5), label_map=label_map)
    judge.close(uniform["loss"], math.log(4), "reconstruction_loss with uniform scores", rtol=1e-4)
    expect_attached(uniform, "reconstruction_loss")
    sure = sub.call("reconstruction_loss", logits=20 * F.one_hot(label_map, 4).permute(0, 3, 1, 2).float(),
                    label_map=label_map)
    judge.close(sure["loss"], 3 * math.exp(-20), "reconstruction_loss with scores sure of the right class",
                rtol=1e-3, atol=1e-7)


@Q5.check(points=1, public=True)
def returns_an_attached_loss_and_class_scores(sub, ref):
    """returns (loss attached to the graph, class scores of shape (N, 4, H, W))"""
    encoder, decoder = tiny_weights(50, codes=3, latent=3)
    # the helpers are swapped for stand-ins (probes.py): a wrong helper costs its own question only
    got = sub.call("ae_forward_pass", encoder_weights=encoder, decoder_weights=decoder,
                   label_map=label_maps(51, 2, 8, 8), standins=["to_onehot", "reconstruction_loss"])
    expect_attached(got, "ae_forward_pass")
    judge.equal(list(got["logits"].shape), [2, 4, 8, 8], "ae_forward_pass: shape of the class scores")


@Q6.check(points=1, public=True)
def given_noise(sub, ref):
    """with the noise given: z = mu + exp(logvar / 2) * noise"""
    mu, logvar, noise = randn(60, 3, 2), randn(61, 3, 2), randn(62, 3, 2)
    got = sub.call("reparameterize", mu=mu, logvar=logvar, noise=noise)
    judge.close(got["z"], mu + torch.exp(logvar / 2) * noise, "reparameterize(mu, logvar, noise)")


@Q7.check(points=1, public=True)
def prior_codes_add_nothing(sub, ref):
    """mu = 0 and logvar = 0 (the prior itself): the loss is the cross-entropy alone"""
    logits, label_map = randn(70, 2, 4, 6, 6), label_maps(71, 2, 6, 6)
    got = sub.call("vae_loss", logits=logits, label_map=label_map, mu=torch.zeros(2, 3), logvar=torch.zeros(2, 3),
                   beta=1.0, standins=["reconstruction_loss"])
    # computed here, or by calling reconstruction_loss (swapped for a stand-in: see probes.py)
    expected = [F.cross_entropy(logits, label_map).item(), STANDINS["reconstruction_loss"](logits, label_map).item()]
    judge.any_close(got["loss"], expected, "vae_loss when KL = 0")
    expect_attached(got, "vae_loss")


@Q8.check(points=1, public=True)
def returns_loss_scores_means_and_log_variances(sub, ref):
    """returns (loss attached to the graph, scores (N, 4, H, W), mu (N, L), logvar (N, L))"""
    encoder, decoder = tiny_weights(80, codes=6, latent=3)
    got = sub.call("vae_forward_pass", encoder_weights=encoder, decoder_weights=decoder,
                   label_map=label_maps(81, 2, 8, 8), beta=1.0, noise=randn(82, 2, 3),
                   standins=["to_onehot", "reparameterize", "vae_loss"])
    expect_attached(got, "vae_forward_pass")
    judge.equal(list(got["logits"].shape), [2, 4, 8, 8], "vae_forward_pass: shape of the class scores")
    judge.equal(list(got["mu"].shape), [2, 3], "vae_forward_pass: shape of mu (half of the encoder's 6 outputs)")
    judge.equal(list(got["logvar"].shape), [2, 3], "vae_forward_pass: shape of logvar")


@Q9.check(points=1, public=True)
def hand_computed_example(sub, ref):
    """a 4x4 example: right ventricle 4/7, myocardium absent from both (1), left ventricle missed (0)"""
    target = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 3], [0, 0, 0, 3], [0, 0, 0, 0]])
    prediction = torch.tensor([[1, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    judge.close(sub.call("dice_score", prediction=prediction, target=target, n_classes=4),
                torch.tensor([4 / 7, 1.0, 0.0]), "dice_score(prediction, target)")
    judge.close(sub.call("dice_score", prediction=target, target=target, n_classes=4), torch.ones(3),
                "dice_score(target, target)")
