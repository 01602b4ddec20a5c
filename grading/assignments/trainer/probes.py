"""Probes of the `trainer` assignment: call one student function on given inputs, return plain values.

Each probe isolates the function it exercises: networks are built here, not with the student's
`create_mlp`, and the helpers a method is meant to call (`one_hot`, `compute_loss_and_accuracy`,
`compute_gradient_norm`) can be swapped for the stand-ins below, which are deliberately *not*
answers. So a wrong `one_hot` costs the one_hot question only, not `evaluate` as well.
"""
from typing import NamedTuple, Tuple

import torch

from grading.probing import (
    Rejected,
    as_float,
    as_module,
    as_tensor,
    describe_network,
    gradients_of,
    load_parameters,
    type_name,
    with_standins,
)

# The grader names a function; these are the functions it may name.
SCALAR_FUNCTIONS = {
    "sum_of_products": lambda x, y: (x * y).sum(),
    "cubes": lambda x: (x ** 3).sum(),
    "mixed_shapes": lambda a, b, c: a.sin().sum() * b.mean() + (b ** 2).sum() * c.prod() + (a.sum() * c).tanh().sum(),
}
VECTOR_FUNCTIONS = {
    "linear": lambda matrix: (lambda x: matrix @ x),
    "tanh": lambda matrix: torch.tanh,
    "softmax": lambda matrix: (lambda x: torch.softmax(x, dim=0)),
    "gram": lambda matrix: (lambda x: (x @ x.T).flatten()),
}
ACTIVATIONS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}


class _Configuration(NamedTuple):  # used if the submission's own NetworkConfiguration is broken
    n_channels: Tuple[int, ...] = (16, 32, 48)
    kernel_sizes: Tuple[int, ...] = (3, 3, 3)
    strides: Tuple[int, ...] = (1, 1, 1)
    paddings: Tuple[int, ...] = (0, 0, 0)
    dense_hiddens: Tuple[int, ...] = (256, 256)


def _configuration(sub, config: dict):
    fields = {name: tuple(value) for name, value in config.items()}
    try:
        return sub.NetworkConfiguration(**fields)
    except Exception:
        return _Configuration(**fields)


def _fixed_network(weights):
    """Flatten -> Linear -> ReLU -> Linear -> Softmax, with the given weights (W1, b1, W2, b2)."""
    hidden, inputs = weights[0].shape
    classes = weights[2].shape[0]
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(inputs, hidden), torch.nn.ReLU(),
                                  torch.nn.Linear(hidden, classes), torch.nn.Softmax(dim=1))
    load_parameters([network[1], network[3]], weights, "the grader's network")
    return network


def _trainer(sub, network=None, n_classes=10, lr=1e-3):
    """A Trainer with the attributes the given __init__ sets, without loading any data or
    calling any student code."""
    trainer = object.__new__(sub.Trainer)
    trainer.network_type, trainer.network, trainer.n_classes = "mlp", network, n_classes
    trainer.lr, trainer.batch_size, trainer.epsilon, trainer.datapath = lr, 128, 1e-9, "./data"
    trainer.device = torch.device("cpu")
    trainer.train_logs = {key: [] for key in ("train_accuracy", "validation_accuracy", "train_loss",
                                              "validation_loss", "train_gradient_norm")}
    if network is not None:
        trainer.optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    return trainer


# Stand-ins: deliberately not answers, only recognisable behaviour.

def _standin_one_hot(self, y):
    """Not a one-hot encoding: a marker the stand-in loss below uses."""
    return torch.stack([y.double(), (y.double() + 1) ** 2], dim=1)


def _standin_loss_and_accuracy(self, X, y):
    """Not the cross-entropy: a smooth function of the network's output and of `y`."""
    output = self.network(X)
    weight = 1 + y.double().sum(dim=1, keepdim=True).float() / 10
    return ((output - 0.3) ** 2 * weight).mean(), float(y.double().abs().mean())


def _standin_gradient_norm(network):
    """Not the Euclidean norm: the sum of the absolute gradients."""
    return float(sum(p.grad.abs().sum() for p in network.parameters() if p.grad is not None))


STANDINS = {"one_hot": _standin_one_hot, "compute_loss_and_accuracy": _standin_loss_and_accuracy,
            "compute_gradient_norm": staticmethod(_standin_gradient_norm)}


def _with_standins(sub, names):
    return with_standins(sub.Trainer, STANDINS, names)


# Probes, one per graded behaviour.

def gradient_norm(sub, function, tensors):
    tensors = [t.double().requires_grad_(True) for t in tensors]
    return as_float(sub.gradient_norm(SCALAR_FUNCTIONS[function], *tensors), "gradient_norm")


def jacobian_norm(sub, function, tensor, matrix=None):
    tensor = tensor.double().requires_grad_(True)
    matrix = None if matrix is None else matrix.double()
    return as_float(sub.jacobian_norm(VECTOR_FUNCTIONS[function](matrix), tensor), "jacobian_norm")


def activation(sub, name, x):
    module = as_module(sub.Trainer.create_activation_function(name), f"create_activation_function({name!r})")
    return as_tensor(module(x), f"the {name} module")


def network(sub, kind, input_shape, config, n_classes, activation, x, weights=None):
    """Build with create_mlp/create_cnn; report the called layers and the output (with the
    given weights loaded, when there are any)."""
    configuration = _configuration(sub, config)
    act = ACTIVATIONS[activation]()
    channels, height, width = input_shape
    if kind == "mlp":
        built = sub.Trainer.create_mlp(channels * height * width, configuration, n_classes, act)
    else:
        built = sub.Trainer.create_cnn(channels, configuration, n_classes, act)
    what = f"create_{kind}"
    return describe_network(as_module(built, what), x, weights, f"the network of {what}")


def normalize(sub, train, valid, test):
    result = sub.Trainer.normalize(tuple(train), tuple(valid), tuple(test))
    if not (isinstance(result, (tuple, list)) and len(result) == 3):
        raise Rejected(f"normalize returned {type_name(result)}; expected ((X, y), (X, y), (X, y))")
    pairs = []
    for name, pair in zip(("train", "valid", "test"), result):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise Rejected(f"normalize: the {name} entry is {type_name(pair)}; expected an (X, y) pair")
        pairs.append([as_tensor(pair[0], f"normalize ({name} X)"), as_tensor(pair[1], f"normalize ({name} y)")])
    return pairs


def one_hot(sub, y, n_classes):
    return as_tensor(_trainer(sub, n_classes=n_classes).one_hot(y), "one_hot")


def loss_and_accuracy(sub, weights, X, y):
    network = _fixed_network(weights)
    result = _trainer(sub, network, n_classes=y.shape[1]).compute_loss_and_accuracy(X, y)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise Rejected(f"compute_loss_and_accuracy returned {type_name(result)}; expected (loss, accuracy)")
    loss, accuracy = result
    if not isinstance(loss, torch.Tensor):
        raise Rejected(f"compute_loss_and_accuracy: the loss is {type_name(loss)}; expected a torch.Tensor")
    attached = loss.requires_grad and loss.numel() == 1
    return {"loss": as_float(loss.detach(), "compute_loss_and_accuracy (loss)"), "attached": attached,
            "gradients": gradients_of(loss, network.parameters()) if attached else None,
            "accuracy": as_float(accuracy, "compute_loss_and_accuracy (accuracy)")}


def network_gradient_norm(sub, weights, X, weighting):
    network = _fixed_network(weights)
    (network(X) * weighting).sum().backward()
    return as_float(sub.Trainer.compute_gradient_norm(network), "compute_gradient_norm")


def training_step(sub, weights, X, y, lr, steps, standins):
    network = _fixed_network(weights)
    trainer = _trainer(sub, network, n_classes=y.shape[1], lr=lr)
    returned, parameters = [], []
    with _with_standins(sub, standins):
        for _ in range(steps):
            returned.append(as_float(trainer.training_step(X, y), "training_step"))
            parameters.append([p.detach().clone() for p in network.parameters()])
    return {"returned": returned, "parameters": parameters}


def evaluate(sub, weights, X, y, standins):
    network = _fixed_network(weights)
    trainer = _trainer(sub, network, n_classes=int(weights[2].shape[0]))
    with _with_standins(sub, standins):
        result = trainer.evaluate(X, y)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise Rejected(f"evaluate returned {type_name(result)}; expected (loss, accuracy)")
    return {"loss": as_float(result[0], "evaluate (loss)"), "accuracy": as_float(result[1], "evaluate (accuracy)")}
