"""Questions of the `trainer` assignment (35 points) and their public checks.

Public checks ship to students: they use the statement's examples and closed-form facts only,
never the reference solution. The hidden checks (hidden.py, instructor only) add the comparisons
with the reference on other inputs.
"""
import torch

from grading import judge
from grading.rubric import Question

Q1 = Question("Q1", "gradient_norm", points=3)
Q2 = Question("Q2", "jacobian_norm", points=2)
Q3 = Question("Q3", "create_activation_function", points=1)
Q4 = Question("Q4", "create_mlp", points=5)
Q5 = Question("Q5", "create_cnn", points=5)
Q6 = Question("Q6", "normalize", points=2)
Q7 = Question("Q7", "one_hot", points=2)
Q8 = Question("Q8", "compute_loss_and_accuracy", points=4)
Q9 = Question("Q9", "compute_gradient_norm", points=2)
Q10 = Question("Q10", "training_step", points=6, timeout=60)
Q11 = Question("Q11", "evaluate", points=3)
QUESTIONS = [Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8, Q9, Q10, Q11]

DEFAULT_MLP = {"n_channels": (16, 32, 48), "kernel_sizes": (3, 3, 3), "strides": (1, 1, 1),
               "paddings": (0, 0, 0), "dense_hiddens": (256, 256)}


def randn(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def linear_weights(seed: int, *sizes):
    """(W, b) pairs for Linear layers sizes[0] -> sizes[1] -> ..., scaled like PyTorch's init."""
    weights = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        weights += [randn(seed + i, fan_out, fan_in) / fan_in ** 0.5, randn(seed + 100 + i, fan_out) * 0.1]
    return weights


def one_hot_rows(labels, n_classes: int) -> torch.Tensor:
    rows = torch.zeros(len(labels), n_classes)
    rows[torch.arange(len(labels)), labels] = 1.0
    return rows


def layer_line(layer: dict) -> str:
    details = ", ".join(f"{k}={v}" for k, v in layer.items() if k not in ("layer", "output_shape"))
    return f"{layer['layer']}({details})"


def expect_layers(got: list, expected: list, what: str) -> None:
    """The called layers, in order, are `expected` (each a dict of the facts that must match).

    Flatten layers are not required (`x.flatten(1)` in a forward is as good), nor a final Softmax
    module (a functional softmax is as good; the checks on the output catch a missing one).
    """
    got = [layer for layer in got if layer["layer"] != "Flatten"]
    expected = [layer for layer in expected if layer["layer"] != "Flatten"]
    if expected[-1]["layer"] == "Softmax" and (not got or got[-1]["layer"] != "Softmax"):
        expected = expected[:-1]
    names = [layer_line(layer) for layer in got]
    for i, want in enumerate(expected):
        judge.expect(i < len(got), f"{what}: only {len(got)} layers are called ({', '.join(names)}); "
                                   f"layer {i + 1} should be {layer_line(want)}")
        facts = {k: got[i].get(k) for k in want}
        judge.expect(facts == want, f"{what}: layer {i + 1} is {names[i]}; expected {layer_line(want)}")
    judge.expect(len(got) == len(expected), f"{what}: {len(got)} layers are called, expected {len(expected)} "
                                            f"(extra: {', '.join(names[len(expected):])})")


def mlp_layers(input_dim, hiddens, n_classes, activation="ReLU"):
    layers, width = [{"layer": "Flatten"}], input_dim
    for hidden in hiddens:
        layers += [{"layer": "Linear", "in_features": width, "out_features": hidden}, {"layer": activation}]
        width = hidden
    return layers + [{"layer": "Linear", "in_features": width, "out_features": n_classes}, {"layer": "Softmax"}]


@Q1.check(points=1, public=True)
def gradient_of_a_sum_of_products(sub, ref):
    """f(x, y) = sum(x * y): the gradient is (y, x)"""
    x, y = randn(1, 4, 3), randn(2, 4, 3)
    got = sub.call("gradient_norm", function="sum_of_products", tensors=[x, y])
    judge.close(got, torch.cat([x.flatten(), y.flatten()]).double().norm().item(), "gradient_norm(f, x, y)")


@Q2.check(points=1, public=True)
def jacobian_of_a_linear_map(sub, ref):
    """f(x) = A x: the Jacobian is A"""
    matrix = randn(3, 4, 6)
    got = sub.call("jacobian_norm", function="linear", tensor=randn(4, 6), matrix=matrix)
    judge.close(got, matrix.double().norm().item(), "jacobian_norm(x -> A x, x)")


@Q3.check(points=1, public=True)
def the_three_activations(sub, ref):
    """relu, tanh and sigmoid modules compute their functions"""
    x = torch.linspace(-4, 4, 17)
    for name, expected in (("relu", x.clamp(min=0)), ("tanh", torch.tanh(x)), ("sigmoid", torch.sigmoid(x))):
        judge.close(sub.call("activation", name=name, x=x), expected, f"create_activation_function({name!r})")


@Q4.check(points=2, public=True)
def default_mlp_structure(sub, ref):
    """default configuration: layers in order, probabilities out"""
    x = randn(5, 6, 1, 28, 28)
    got = sub.call("network", kind="mlp", input_shape=(1, 28, 28), config=DEFAULT_MLP, n_classes=10,
                   activation="relu", x=x)
    expect_layers(got["layers"], mlp_layers(784, (256, 256), 10), "create_mlp")
    judge.close(got["output"].sum(dim=1), torch.ones(6), "create_mlp: each row of the output (must sum to 1)")
    judge.equal(got["parameters"], 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10, "create_mlp: parameter count")


@Q5.check(points=2, public=True)
def default_cnn_structure(sub, ref):
    """default configuration: conv/pool layers in order, then the dense part"""
    x = randn(6, 4, 1, 28, 28)
    got = sub.call("network", kind="cnn", input_shape=(1, 28, 28), config=DEFAULT_MLP, n_classes=10,
                   activation="relu", x=x)
    expected = []
    for i, (c_in, c_out) in enumerate(((1, 16), (16, 32), (32, 48))):
        expected += [{"layer": "Conv2d", "in_channels": c_in, "out_channels": c_out, "kernel_size": [3, 3],
                      "stride": [1, 1], "padding": [0, 0]}, {"layer": "ReLU"}]
        expected.append({"layer": "MaxPool2d", "kernel_size": 2} if i < 2
                        else {"layer": "AdaptiveMaxPool2d", "output_size": [4, 4]})
    expected += mlp_layers(48 * 4 * 4, (256, 256), 10)
    expect_layers(got["layers"], expected, "create_cnn")
    judge.close(got["output"].sum(dim=1), torch.ones(4), "create_cnn: each row of the output (must sum to 1)")


@Q6.check(points=1, public=True)
def training_set_is_standardized(sub, ref):
    """the normalized training images have mean 0 and standard deviation 1 per pixel"""
    X = randn(7, 40, 1, 5, 5) * torch.linspace(1, 50, 25).view(1, 1, 5, 5) + 100
    y = torch.arange(40) % 10
    got = sub.call("normalize", train=(X, y), valid=(X[:10], y[:10]), test=(X[:5], y[:5]))
    X_train = got[0][0]
    judge.expect(tuple(X_train.shape) == (40, 1, 5, 5), f"normalize: train X has shape {tuple(X_train.shape)}")
    judge.close(X_train.mean(dim=0), torch.zeros(1, 5, 5), "normalize: per-pixel mean of train X", atol=1e-3)
    std = X_train.std(dim=0)
    judge.expect(torch.allclose(std, torch.ones_like(std), atol=0.02),
                 f"normalize: per-pixel standard deviation of train X should be 1, got {std.min():.3f}..{std.max():.3f}")
    judge.equal(got[0][1], y, "normalize: train labels (must be returned unchanged)")


@Q7.check(points=1, public=True)
def statement_example(sub, ref):
    """one_hot([1, 0, 3, 4]) with 5 classes (the statement's example)"""
    got = sub.call("one_hot", y=torch.tensor([1, 0, 3, 4]), n_classes=5)
    judge.equal(got, torch.tensor([[0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1.]]),
                "one_hot([1, 0, 3, 4])")


@Q8.check(points=1, public=True)
def returns_an_attached_loss_and_a_float(sub, ref):
    """returns (loss tensor attached to the graph, accuracy in [0, 1])"""
    got = sub.call("loss_and_accuracy", weights=linear_weights(11, 12, 8, 3), X=randn(12, 5, 12),
                   y=one_hot_rows([0, 1, 2, 1, 0], 3))
    judge.expect(got["attached"], "compute_loss_and_accuracy: the loss is detached from the graph "
                                  "(no gradient can flow back; do not use .item(), .detach() or torch.no_grad())")
    judge.expect(got["loss"] > 0, f"compute_loss_and_accuracy: a cross-entropy is positive, got {got['loss']:.4g}")
    judge.expect(0 <= got["accuracy"] <= 1, f"compute_loss_and_accuracy: accuracy {got['accuracy']} is not in [0, 1]")


@Q9.check(points=1, public=True)
def returns_a_positive_float(sub, ref):
    """returns a positive float after a backward pass"""
    weights = linear_weights(21, 4, 3, 2)
    X, weighting = randn(22, 6, 4), randn(23, 6, 2)
    got = sub.call("network_gradient_norm", weights=weights, X=X, weighting=weighting)
    judge.expect(isinstance(got, float) and got > 0, f"compute_gradient_norm returned {got!r}; expected a positive float")


@Q10.check(points=1, public=True)
def a_step_changes_the_parameters(sub, ref):
    """returns a positive number and changes the network's parameters"""
    weights = linear_weights(31, 12, 8, 3)
    got = sub.call("training_step", weights=weights, X=randn(32, 6, 12), y=one_hot_rows([0, 1, 2, 0, 1, 2], 3),
                   lr=0.01, steps=1, standins=["compute_loss_and_accuracy", "compute_gradient_norm"])
    judge.expect(got["returned"][0] > 0, f"training_step returned {got['returned'][0]}; expected the gradient norm")
    changed = any(not torch.equal(after, before) for after, before in zip(got["parameters"][0], weights))
    judge.expect(changed, "training_step did not change the network's parameters (optimizer.step()?)")


@Q11.check(points=1, public=True)
def returns_a_loss_and_an_accuracy(sub, ref):
    """returns two numbers (loss, accuracy) for integer labels"""
    got = sub.call("evaluate", weights=linear_weights(41, 12, 8, 3), X=randn(42, 7, 12),
                   y=torch.tensor([0, 1, 2, 2, 1, 0, 0]), standins=["one_hot", "compute_loss_and_accuracy"])
    judge.expect(all(isinstance(got[key], float) for key in ("loss", "accuracy")),
                 f"evaluate returned {got}; expected (loss, accuracy)")
