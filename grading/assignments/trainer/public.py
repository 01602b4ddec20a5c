"""Questions of the `trainer` assignment (35 points) and their public checks.

Public checks ship to students: they use the statement's examples and closed-form facts only,
never the reference solution. Every expected value is computed here, in the grader, from inputs
the grader chose (the grader's own copy of the statement's networks, of the probes' stand-ins and
of Adam): nothing the submission's process reports about itself is taken on trust. Where a common
mistake can be recognised, the message names it. The hidden checks (hidden.py, instructor only)
add the comparisons with the reference on other inputs.
"""
import itertools
import types

import torch

from grading import judge, shared
from grading.assignments.trainer import probes
from grading.rubric import CheckFailed, Question, SubmissionFailure
from grading.shared import randn

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
EPSILON = 1e-9  # the Trainer's self.epsilon
# The helpers a method is meant to call; the probes can swap them for stand-ins (see probes.py).
HELPERS = {"training_step": ("compute_loss_and_accuracy", "compute_gradient_norm"),
           "evaluate": ("one_hot", "compute_loss_and_accuracy")}


# -- inputs ---------------------------------------------------------------------------------------

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


def weights_like(layers, seed: int):
    """Random weights for the parameterized layers (Linear, Conv2d) of a layer list, in order."""
    weights = []
    for i, layer in enumerate(item for item in layers if item["layer"] in ("Linear", "Conv2d")):
        if layer["layer"] == "Linear":
            fan_in, shape = layer["in_features"], (layer["out_features"], layer["in_features"])
        else:
            shape = (layer["out_channels"], layer["in_channels"], *layer["kernel_size"])
            fan_in = layer["in_channels"] * layer["kernel_size"][0] * layer["kernel_size"][1]
        weights += [randn(seed + i, *shape) / fan_in ** 0.5, randn(seed + 50 + i, shape[0]) * 0.1]
    return weights


# -- the statement's networks, built here --------------------------------------------------------

ACTIVATION_LAYERS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def mlp_layers(input_dim, hiddens, n_classes, activation="ReLU"):
    layers, width = [{"layer": "Flatten"}], input_dim
    for hidden in hiddens:
        layers += [{"layer": "Linear", "in_features": width, "out_features": hidden}, {"layer": activation}]
        width = hidden
    return layers + [{"layer": "Linear", "in_features": width, "out_features": n_classes}, {"layer": "Softmax"}]


def cnn_layers(input_shape, config, n_classes, activation="ReLU"):
    channels, height, width = input_shape
    layers, n_convs = [], len(config["n_channels"])
    settings = zip(config["n_channels"], config["kernel_sizes"], config["strides"], config["paddings"])
    for i, (out_channels, kernel, stride, padding) in enumerate(settings):
        layers += [{"layer": "Conv2d", "in_channels": channels, "out_channels": out_channels,
                    "kernel_size": [kernel, kernel], "stride": [stride, stride], "padding": [padding, padding]},
                   {"layer": activation}]
        layers.append({"layer": "MaxPool2d", "kernel_size": 2} if i < n_convs - 1
                      else {"layer": "AdaptiveMaxPool2d", "output_size": [4, 4]})
        channels = out_channels
    return layers + mlp_layers(channels * 16, config["dense_hiddens"], n_classes, activation)


def statement_layers(kind, input_shape, config, n_classes, activation):
    act = ACTIVATION_LAYERS[activation]
    if kind == "mlp":
        return mlp_layers(input_shape[0] * input_shape[1] * input_shape[2], config["dense_hiddens"], n_classes, act)
    return cnn_layers(input_shape, config, n_classes, act)


def statement_output(layers, weights, x) -> torch.Tensor:
    """The output of the statement's network `layers` with `weights` loaded, computed here."""
    modules = []
    for layer in layers:
        kind = layer["layer"]
        if kind == "Linear":
            modules.append(torch.nn.Linear(layer["in_features"], layer["out_features"]))
        elif kind == "Conv2d":
            modules.append(torch.nn.Conv2d(layer["in_channels"], layer["out_channels"], layer["kernel_size"],
                                           stride=layer["stride"], padding=layer["padding"]))
        elif kind == "MaxPool2d":
            modules.append(torch.nn.MaxPool2d(kernel_size=2))
        elif kind == "AdaptiveMaxPool2d":
            modules.append(torch.nn.AdaptiveMaxPool2d((4, 4)))
        elif kind == "Flatten":
            modules.append(torch.nn.Flatten())
        elif kind == "Softmax":
            modules.append(torch.nn.Softmax(dim=1))
        else:
            modules.append(getattr(torch.nn, kind)())
    network = torch.nn.Sequential(*modules)
    with torch.no_grad():
        for parameter, value in zip(network.parameters(), weights):
            parameter.copy_(value)
        return network(x)


def expect_architecture(got: list, expected: list, what: str) -> None:
    """The called layers, in order, are `expected` (each a dict of the facts that must match).

    Flatten layers are not required (`x.flatten(1)` in a forward is as good), nor a final Softmax
    module (a functional softmax is as good; the checks on the output catch a missing one). In a
    hidden check the message names the wrong layer, not the expected one (its settings are the
    hidden case's).
    """
    got = [layer for layer in got if layer["layer"] != "Flatten"]
    expected = [layer for layer in expected if layer["layer"] != "Flatten"]
    if expected[-1]["layer"] == "Softmax" and (not got or got[-1]["layer"] != "Softmax"):
        expected = expected[:-1]
    if not shared.in_hidden_check():
        shared.expect_layers(got, expected, what)
        return
    names = [shared.layer_line(layer) for layer in got]
    for i, want in enumerate(expected):
        judge.expect(i < len(got), f"{what}: only {len(got)} layers are called ({', '.join(names) or 'none'}); "
                                   "more are expected")
        if got[i]["layer"] != want["layer"]:
            raise CheckFailed(f"{what}: layer {i + 1} is {names[i]}; expected {want['layer']} there")
        judge.expect({k: got[i].get(k) for k in want} == want,
                     f"{what}: layer {i + 1} is {names[i]}, with settings the configuration does not ask for")
    judge.expect(len(got) == len(expected), f"{what}: {len(got)} layers are called, {len(expected)} expected "
                                            f"(extra: {', '.join(names[len(expected):])})")


def judge_network(sub, what, seed, **build):
    """The statement's layers, and the statement's output once the grader's weights are loaded
    (both computed here, not reported by the submission's process)."""
    layers = statement_layers(build["kind"], build["input_shape"], build["config"], build["n_classes"],
                              build["activation"])
    weights = weights_like(layers, seed)
    got = sub.call("network", weights=weights, **build)
    expect_architecture(got["layers"], layers, what)
    output = got["output"]
    judge.close(output.sum(dim=1) if isinstance(output, torch.Tensor) and output.dim() == 2 else output,
                torch.ones(len(build["x"])), f"{what}: each row of the output (probabilities must sum to 1: "
                                             "a softmax over the classes)")
    judge.close(output, statement_output(layers, weights, build["x"]), f"{what}: output with the grader's weights")
    return got


# -- the Trainer's computations, done here --------------------------------------------------------

def grader_network(weights):
    """The probes' fixed network (Flatten, Linear, ReLU, Linear, Softmax) with `weights`."""
    return probes._fixed_network([w.clone() for w in weights])


def cross_entropy(probabilities, y):
    """The statement's loss: clamped probabilities, cross-entropy averaged over the batch."""
    return -(y * probabilities.clamp(EPSILON, 1 - EPSILON).log()).sum(dim=1).mean()


def accuracy_of(probabilities, y) -> float:
    return float((probabilities.argmax(dim=1) == y.argmax(dim=1)).float().mean())


def loss_and_accuracy(weights, X, y) -> dict:
    """What compute_loss_and_accuracy must give on the grader's network: loss, accuracy and the
    gradients of the loss with respect to the network's parameters."""
    network = grader_network(weights)
    probabilities = network(X)
    loss = cross_entropy(probabilities, y)
    gradients = torch.autograd.grad(loss, list(network.parameters()))
    return {"loss": float(loss.detach()), "accuracy": accuracy_of(probabilities.detach(), y),
            "gradients": [g.detach() for g in gradients]}


def expect_gradients(got, expected, what: str, rtol=1e-4, atol=1e-6) -> None:
    """`got` (a probe's list of gradients, None when the loss was detached) matches `expected`."""
    if got is None:
        raise CheckFailed(f"{what}: the loss is detached from the graph (no gradient can flow back; "
                          "do not use .item(), .detach() or torch.no_grad())")
    if not isinstance(got, list) or len(got) != len(expected):
        raise CheckFailed(f"{what}: expected the gradients of {len(expected)} parameters")
    for i, (gradient, wanted) in enumerate(zip(got, expected)):
        judge.close(gradient, wanted, f"{what}: gradient of the loss with respect to parameter {i}",
                    rtol=rtol, atol=atol)


def standin_trainer(network):
    """Enough of a Trainer for the probes' stand-ins (they only use self.network)."""
    return types.SimpleNamespace(network=network)


def trainer_step(weights, X, y, lr, steps, loss="real", norm="real", reset=True) -> dict:
    """What `steps` calls of training_step return and leave in the parameters, computed here with
    the statement's loss and norm ("real") or the probes' stand-ins; `reset=False` is the common
    mistake of never zeroing the gradients."""
    network = grader_network(weights)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    returned, parameters = [], []
    for _ in range(steps):
        if reset:
            optimizer.zero_grad()
        if loss == "real":
            value = cross_entropy(network(X), y)
        else:
            value = probes._standin_loss_and_accuracy(standin_trainer(network), X, y)[0]
        value.backward()
        if norm == "real":
            returned.append(float(torch.cat([p.grad.flatten() for p in network.parameters()]).norm()))
        else:
            returned.append(probes._standin_gradient_norm(network))
        optimizer.step()
        parameters.append([p.detach().clone() for p in network.parameters()])
    return {"returned": returned, "parameters": parameters}


def trainer_evaluate(weights, X, y, encode="real", loss="real") -> dict:
    """What evaluate returns on the grader's network, computed here (with the probes' stand-ins
    for one_hot or compute_loss_and_accuracy when asked)."""
    network = grader_network(weights)
    n_classes = int(weights[2].shape[0])
    with torch.no_grad():
        labels = one_hot_rows(y, n_classes) if encode == "real" else probes._standin_one_hot(None, y)
        if loss == "real":
            probabilities = network(X)
            return {"loss": float(cross_entropy(probabilities, labels)),
                    "accuracy": accuracy_of(probabilities, labels)}
        value, accuracy = probes._standin_loss_and_accuracy(standin_trainer(network), X, labels)
        return {"loss": float(value), "accuracy": float(accuracy)}


def candidates_of(method: str, compute):
    """(stand-ins swapped in the submission's run, what to expect) pairs: with every helper
    swapped, the run may match any mix of stand-ins and the statement's own computation (the
    method calls some helpers and computes the rest itself); run as it is, it must match the
    statement's computation."""
    helpers = HELPERS[method]
    swapped = []
    for used in itertools.product((True, False), repeat=len(helpers)):
        try:
            swapped.append(compute(*["standin" if u else "real" for u in used]))
        except RuntimeError:  # a mix that cannot run (a stand-in's output fed to the real loss)
            continue
    return [(list(helpers), swapped), ([], [compute(*["real"] * len(helpers))])]


def judge_with_or_without_helpers(sub, probe: str, compare, expected_for, mistakes=(), **args):
    """Like `judge.with_or_without_helpers`, with every expected value computed here by
    `expected_for(*kinds)` (a kind per helper: "standin" or "real"). `mistakes`: (explanation,
    expected_for) pairs for common mistakes, named in the message when the run matches one."""
    runs, failures = [], []
    for k, (standins, expected) in enumerate(candidates_of(probe, expected_for)):
        try:
            got = sub.call(probe, standins=standins, **args)
        except SubmissionFailure as failure:  # e.g. its own helper is not written yet
            failures.append(failure)
            continue
        try:
            judge.any_of(expected, lambda candidate: compare(got, candidate))
            return
        except CheckFailed as failure:
            runs.append((k, got))
            failures.append(failure)
    if runs:
        for explanation, mistaken_for in mistakes:
            wrong = candidates_of(probe, mistaken_for)
            for k, got in runs:
                for candidate in wrong[k][1]:
                    try:
                        compare(got, candidate)
                    except CheckFailed:
                        continue
                    raise CheckFailed(explanation)
    raise next((f for f in failures if isinstance(f, CheckFailed)), failures[0])


@Q1.check(points=1, public=True)
def gradient_of_a_sum_of_products(sub, ref):
    """f(x, y) = sum(x * y): the gradient is (y, x)"""
    x, y = randn(1, 4, 3), randn(2, 4, 3)
    got = sub.call("gradient_norm", function="sum_of_products", tensors=[x, y])
    judge.close_unless(got, torch.cat([x.flatten(), y.flatten()]).double().norm().item(), "gradient_norm(f, x, y)",
                       [(y.double().norm().item() + x.double().norm().item(),
                         "this is the sum of the norms of each tensor's gradient; the statement asks for the norm of "
                         "all the gradients together (the square root of the sum of all their squares)")])


@Q2.check(points=1, public=True)
def jacobian_of_a_linear_map(sub, ref):
    """f(x) = A x: the Jacobian is A"""
    matrix, x = randn(3, 4, 6), randn(4, 6)
    got = sub.call("jacobian_norm", function="linear", tensor=x, matrix=matrix)
    judge.close_unless(got, matrix.double().norm().item(), "jacobian_norm(x -> A x, x)",
                       [((matrix.double() @ x.double()).norm().item(),
                         "this is the norm of the output f(x), not of the Jacobian of f")])


@Q3.check(points=1, public=True)
def the_three_activations(sub, ref):
    """relu, tanh and sigmoid modules compute their functions"""
    x = torch.linspace(-4, 4, 17)
    for name, expected in (("relu", x.clamp(min=0)), ("tanh", torch.tanh(x)), ("sigmoid", torch.sigmoid(x))):
        judge.close(sub.call("activation", name=name, x=x), expected, f"create_activation_function({name!r})")


@Q4.check(points=2, public=True)
def default_mlp(sub, ref):
    """default configuration: layers in order, probabilities out, the statement's output with the grader's weights"""
    got = judge_network(sub, "create_mlp", 5, kind="mlp", input_shape=(1, 28, 28), config=DEFAULT_MLP,
                        n_classes=10, activation="relu", x=randn(6, 6, 1, 28, 28))
    judge.equal(got["parameters"], 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10, "create_mlp: parameter count")


@Q5.check(points=2, public=True)
def default_cnn(sub, ref):
    """default configuration: conv/pool layers in order, the dense part, the output with the grader's weights"""
    judge_network(sub, "create_cnn", 7, kind="cnn", input_shape=(1, 28, 28), config=DEFAULT_MLP, n_classes=10,
                  activation="relu", x=randn(8, 4, 1, 28, 28))


def standardized(X, mean, std):
    return (X - mean) / std


@Q6.check(points=1, public=True)
def every_set_with_the_training_statistics(sub, ref):
    """train X gets mean 0 and standard deviation 1 per pixel; validation and test use the training statistics"""
    scale = torch.linspace(1, 50, 25).view(1, 1, 5, 5)
    X = randn(7, 40, 1, 5, 5) * scale + 100
    X_valid, X_test = randn(9, 10, 1, 5, 5) * scale * 2 + 20, randn(10, 6, 1, 5, 5) * scale + 150
    y = torch.arange(40) % 10
    got = sub.call("normalize", train=(X, y), valid=(X_valid, y[:10]), test=(X_test, y[:6]))
    mean, std = X.mean(dim=0), X.std(dim=0)
    for i, (name, data) in enumerate((("train", X), ("valid", X_valid), ("test", X_test))):
        what = f"normalize ({name} X)"
        own = standardized(data, data.mean(dim=0), data.std(dim=0))
        mistakes = [(standardized(data, X.mean(), X.std()),
                     "one mean and one standard deviation for all the pixels; the statement asks for the "
                     "statistics of each feature (pixel), over the training images")]
        if name != "train":
            mistakes.insert(0, (own, f"the {name} set is normalized with its own statistics; every set must use "
                                     "the training set's mean and standard deviation (the model never sees the "
                                     "other sets' statistics)"))
        judge.any_of([standardized(data, mean, std), standardized(data, mean, std * (39 / 40) ** 0.5)],
                     lambda expected: judge.close_unless(got[i][0], expected, what, mistakes, rtol=1e-3, atol=1e-4))
        judge.equal(got[i][1], y[:len(data)], f"normalize ({name} labels, returned unchanged)")


@Q7.check(points=1, public=True)
def statement_example(sub, ref):
    """one_hot([1, 0, 3, 4]) with 5 classes (the statement's example)"""
    got = sub.call("one_hot", y=torch.tensor([1, 0, 3, 4]), n_classes=5)
    judge.equal(got, torch.tensor([[0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1.]]),
                "one_hot([1, 0, 3, 4])")


def judge_loss_and_accuracy(got, expected, n: int, what="compute_loss_and_accuracy"):
    judge.close_unless(got["loss"], expected["loss"], f"{what} (loss)",
                       [(expected["loss"] * n, "the loss is summed over the batch; it must be its mean (divide by the "
                                               "number of examples)")])
    judge.close(got["accuracy"], expected["accuracy"], f"{what} (accuracy, a fraction in [0, 1])")
    expect_gradients(got["gradients"], expected["gradients"], what)


@Q8.check(points=1, public=True)
def cross_entropy_accuracy_and_gradients(sub, ref):
    """the mean cross-entropy, the accuracy and the loss's gradients on the grader's network"""
    case = {"weights": linear_weights(11, 12, 8, 3), "X": randn(12, 5, 12), "y": one_hot_rows([0, 1, 2, 1, 0], 3)}
    judge_loss_and_accuracy(sub.call("loss_and_accuracy", **case), loss_and_accuracy(**case), 5)


def network_gradient_norm(weights, X, weighting) -> dict:
    network = grader_network(weights)
    (network(X) * weighting).sum().backward()
    gradients = [p.grad for p in network.parameters()]
    return {"norm": float(torch.cat([g.flatten() for g in gradients]).norm()),
            "sum_of_norms": float(sum(g.norm() for g in gradients))}


@Q9.check(points=1, public=True)
def norm_of_all_the_gradients(sub, ref):
    """the norm of every parameter's gradient together, after a backward pass"""
    case = {"weights": linear_weights(21, 4, 3, 2), "X": randn(22, 6, 4), "weighting": randn(23, 6, 2)}
    expected = network_gradient_norm(**case)
    judge.close_unless(sub.call("network_gradient_norm", **case), expected["norm"], "compute_gradient_norm",
                       [(expected["sum_of_norms"], "this is the sum of the per-parameter norms; the statement asks for "
                                                   "the norm of all the gradients flattened together")])


def judge_steps(got, expected, steps: int, what="training_step"):
    for step in range(steps):
        judge.close(got["returned"][step], expected["returned"][step],
                    f"{what} (step {step + 1}): the returned gradient norm")
        judge.expect(len(got["parameters"][step]) == len(expected["parameters"][step]),
                     f"{what}: the network has another number of parameters")
        for i, (g, e) in enumerate(zip(got["parameters"][step], expected["parameters"][step])):
            judge.close(g, e, f"{what} (step {step + 1}): parameter {i} after the step (one Adam step "
                              "with self.optimizer)", rtol=1e-3, atol=1e-6)


def judge_training_step(sub, case):
    steps = case["steps"]
    compare = lambda got, expected: judge_steps(got, expected, steps)  # noqa: E731
    judge_with_or_without_helpers(
        sub, "training_step", compare,
        lambda loss, norm: trainer_step(case["weights"], case["X"], case["y"], case["lr"], steps, loss, norm),
        mistakes=[("training_step: the gradients of the previous step are still there when the next one is "
                   "computed (they add up): call self.optimizer.zero_grad() before loss.backward()",
                   lambda loss, norm: trainer_step(case["weights"], case["X"], case["y"], case["lr"], steps, loss,
                                                   norm, reset=False))],
        **case)


@Q10.check(points=1, public=True)
def two_adam_steps(sub, ref):
    """two steps on a batch: the returned gradient norms and the parameters after each Adam step"""
    judge_training_step(sub, {"weights": linear_weights(31, 12, 8, 3), "X": randn(32, 6, 12),
                              "y": one_hot_rows([0, 1, 2, 0, 1, 2], 3), "lr": 0.01, "steps": 2})


def judge_evaluate(got, expected, n: int):
    judge.close_unless(got["loss"], expected["loss"], "evaluate (loss)",
                       [(expected["loss"] * n, "the loss is summed over the examples; it must be their mean")])
    judge.close(got["accuracy"], expected["accuracy"], "evaluate (accuracy)")


def judge_evaluation(sub, case):
    n = len(case["y"])
    judge_with_or_without_helpers(sub, "evaluate", lambda got, expected: judge_evaluate(got, expected, n),
                                  lambda encode, loss: trainer_evaluate(case["weights"], case["X"], case["y"],
                                                                        encode, loss), **case)


@Q11.check(points=1, public=True)
def loss_and_accuracy_for_integer_labels(sub, ref):
    """the mean loss and the accuracy for integer labels, on the grader's network"""
    judge_evaluation(sub, {"weights": linear_weights(41, 12, 8, 3), "X": randn(42, 7, 12),
                           "y": torch.tensor([0, 1, 2, 2, 1, 0, 0])})
