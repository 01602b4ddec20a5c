"""Hidden checks of the `trainer` assignment (instructor only: the release leaves this file out).

They compare the submission with the reference solution on inputs the students never see: every
input is built when the check runs, from `grading.shared`, whose seeds the grader mixes with the
submission's key (so each submission gets its own). Messages say what is wrong, never the hidden
inputs or the expected values.
"""
import torch

from grading import judge
from grading.assignments.trainer.public import (
    DEFAULT_MLP,
    Q1,
    Q2,
    Q4,
    Q5,
    Q6,
    Q7,
    Q8,
    Q9,
    Q10,
    Q11,
    expect_architecture,
    expect_gradients,
    judge_evaluation,
    judge_training_step,
    linear_weights,
    loss_and_accuracy,
    one_hot_rows,
    weights_like,
)
from grading.shared import randint, randn


def compare_networks(sub, ref, what, seed, **build):
    """Same layers as the reference, and the same output once the same weights are loaded."""
    expected = ref.call("network", **build)
    # The facts that define the architecture: a softmax over dim=-1 or dim=1 of (N, K) is the same.
    architecture = [{k: v for k, v in layer.items() if k != "output_shape" and not (k == "dim" and
                                                                                   layer["layer"] == "Softmax")}
                    for layer in expected["layers"]]
    weights = weights_like(expected["layers"], seed)
    got = sub.call("network", weights=weights, **build)
    expect_architecture(got["layers"], architecture, what)
    judge.close(got["output"], ref.call("network", weights=weights, **build)["output"],
                f"{what}: output with the grader's weights")


@Q1.check(points=2)
def tensors_of_different_shapes(sub, ref):
    """several tensors of different shapes, and a single tensor"""
    for function, tensors in (("mixed_shapes", [randn(101, 3, 4), randn(102, 5), randn(103, 2, 2)]),
                              ("cubes", [randn(104, 7)])):
        args = {"function": function, "tensors": tensors}
        judge.close(sub.call("gradient_norm", **args), ref.call("gradient_norm", **args), f"gradient_norm ({function})")


@Q2.check(points=1)
def nonlinear_functions_and_matrix_inputs(sub, ref):
    """tanh, softmax, and a function of a matrix"""
    for function, tensor in (("tanh", randn(111, 2, 3)), ("softmax", randn(112, 5)), ("gram", randn(113, 2, 3))):
        args = {"function": function, "tensor": tensor}
        judge.close(sub.call("jacobian_norm", **args), ref.call("jacobian_norm", **args), f"jacobian_norm ({function})")


@Q4.check(points=3)
def matches_the_reference(sub, ref):
    """other depths, widths, activations and image sizes, with the grader's weights"""
    compare_networks(sub, ref, "create_mlp", 120, kind="mlp", input_shape=(1, 28, 28), config=DEFAULT_MLP,
                     n_classes=10, activation="relu", x=randn(121, 5, 1, 28, 28))
    config = dict(DEFAULT_MLP, dense_hiddens=(64, 32, 16))
    compare_networks(sub, ref, "create_mlp (3 hidden layers, tanh, 3x8x8 images)", 130, kind="mlp",
                     input_shape=(3, 8, 8), config=config, n_classes=7, activation="tanh", x=randn(131, 4, 3, 8, 8))
    config = dict(DEFAULT_MLP, dense_hiddens=(5,))
    compare_networks(sub, ref, "create_mlp (1 hidden layer, sigmoid)", 140, kind="mlp", input_shape=(2, 3, 3),
                     config=config, n_classes=4, activation="sigmoid", x=randn(141, 3, 2, 3, 3))


@Q5.check(points=3)
def matches_the_reference(sub, ref):
    """the statement's example configuration and the default one, with the grader's weights"""
    example = {"n_channels": (16, 32), "kernel_sizes": (4, 5), "strides": (1, 2), "paddings": (1, 0),
               "dense_hiddens": (32,)}
    compare_networks(sub, ref, "create_cnn (the statement's example, sigmoid, 3x32x32 images)", 150, kind="cnn",
                     input_shape=(3, 32, 32), config=example, n_classes=5, activation="sigmoid",
                     x=randn(151, 3, 3, 32, 32))
    compare_networks(sub, ref, "create_cnn (default)", 160, kind="cnn", input_shape=(1, 28, 28), config=DEFAULT_MLP,
                     n_classes=10, activation="relu", x=randn(161, 2, 1, 28, 28))


@Q6.check(points=1)
def validation_and_test_use_training_statistics(sub, ref):
    """validation and test sets are normalized with the training set's mean and standard deviation"""
    scale = torch.linspace(1, 30, 16).view(1, 1, 4, 4)
    train = (randn(171, 30, 1, 4, 4) * scale + 50, torch.arange(30) % 10)
    valid = (randn(172, 8, 1, 4, 4) * scale * 2 + 10, torch.arange(8))
    test = (randn(173, 6, 1, 4, 4) * scale + 80, torch.arange(6))
    got = sub.call("normalize", train=train, valid=valid, test=test)
    expected = ref.call("normalize", train=train, valid=valid, test=test)
    biased = (30 / 29) ** 0.5  # dividing by the biased standard deviation is accepted too
    for i, name in enumerate(("train", "valid", "test")):
        judge.any_close(got[i][0], [expected[i][0], expected[i][0] * biased], f"normalize ({name} X)", rtol=1e-3)
        judge.equal(got[i][1], expected[i][1], f"normalize ({name} labels)")


@Q7.check(points=1)
def all_classes_even_if_absent(sub, ref):
    """ten classes when the batch holds only some of the labels"""
    args = {"y": randint(175, 0, 7, (5,)), "n_classes": 10}
    judge.equal(sub.call("one_hot", **args).double(), ref.call("one_hot", **args).double(), "one_hot with 10 classes")


def loss_case(seed: int, scale: float = 1.0) -> dict:
    weights = [w * scale for w in linear_weights(seed, 20, 16, 4)]
    return {"weights": weights, "X": randn(seed + 1, 9, 20),
            "y": one_hot_rows(randint(seed + 2, 0, 4, (9,)).tolist(), 4)}


@Q8.check(points=1)
def loss_and_accuracy_values(sub, ref):
    """cross-entropy and accuracy values"""
    case = loss_case(180)
    got, expected = sub.call("loss_and_accuracy", **case), ref.call("loss_and_accuracy", **case)
    judge.close(got["loss"], expected["loss"], "compute_loss_and_accuracy (loss)")
    judge.close(got["accuracy"], expected["accuracy"], "compute_loss_and_accuracy (accuracy)")


@Q8.check(points=1)
def loss_gradients(sub, ref):
    """gradients of the loss with respect to the network's parameters"""
    case = loss_case(185)
    got = sub.call("loss_and_accuracy", **case)
    # the gradients the reference's loss sends back, computed in the grader, never reported by a probe
    expected = ref.call("loss_and_accuracy", **case)
    judge.close(got["loss"], expected["loss"], "compute_loss_and_accuracy (loss)")
    expect_gradients(got["gradients"], loss_and_accuracy(**case)["gradients"], "compute_loss_and_accuracy")


@Q8.check(points=1)
def saturated_probabilities_are_clamped(sub, ref):
    """probabilities of exactly 0 or 1 are clamped to [epsilon, 1 - epsilon]"""
    case = loss_case(190, scale=400)
    got, expected = sub.call("loss_and_accuracy", **case), ref.call("loss_and_accuracy", **case)
    judge.close(got["loss"], expected["loss"], "compute_loss_and_accuracy with saturated probabilities (loss)",
                rtol=1e-3)


@Q9.check(points=1)
def matches_the_reference(sub, ref):
    """a two-layer network after a backward pass"""
    args = {"weights": linear_weights(195, 6, 5, 3), "X": randn(196, 8, 6), "weighting": randn(197, 8, 3)}
    judge.close(sub.call("network_gradient_norm", **args), ref.call("network_gradient_norm", **args),
                "compute_gradient_norm")


def step_case(seed: int, steps: int) -> dict:
    return {"weights": linear_weights(seed, 12, 10, 3), "X": randn(seed + 1, 8, 12),
            "y": one_hot_rows(randint(seed + 2, 0, 3, (8,)).tolist(), 3), "lr": 0.01, "steps": steps}


@Q10.check(points=3)
def first_step_matches(sub, ref):
    """one Adam step: the returned gradient norm and the updated parameters"""
    judge_training_step(sub, step_case(200, 1))


@Q10.check(points=2)
def second_step_starts_from_fresh_gradients(sub, ref):
    """a second step on the same batch (gradients reset between steps)"""
    judge_training_step(sub, step_case(205, 2))


@Q11.check(points=2)
def matches_the_reference(sub, ref):
    """loss and accuracy for integer labels"""
    judge_evaluation(sub, {"weights": linear_weights(210, 12, 10, 4), "X": randn(211, 10, 12),
                           "y": randint(212, 0, 4, (10,))})
