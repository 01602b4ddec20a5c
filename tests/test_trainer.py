"""The `trainer` rubric's cases (run by tests/test_rubrics.py for every assignment), and the tests
of this rubric alone: a file written for the original course runs its import-time code, and a
file that forges what the probes report, instead of writing the function, earns nothing."""
import pytest

from conftest import KIT_ROOT, reference_source, replace_solution, scores

# (question, function whose solution region is replaced, wrong body)
WRONG_VARIANTS = [
    ("Q1", "gradient_norm", """
        grads = torch.autograd.grad(function(*tensor_list), tensor_list)
        return float(sum(grad.norm() for grad in grads))  # sum of norms, not the norm of all
        """),
    ("Q2", "jacobian_norm", """
        return float(function(input_tensor).norm())  # the output's norm, not the Jacobian's
        """),
    ("Q3", "create_activation_function", """
        return {"relu": torch.nn.ReLU(), "tanh": torch.nn.Sigmoid(), "sigmoid": torch.nn.Sigmoid()}[activation_str]
        """),
    ("Q4", "create_mlp", """
        layers = [torch.nn.Flatten()]
        in_features = input_dim
        for hidden in net_config.dense_hiddens:  # no activation between the layers
            layers.append(torch.nn.Linear(in_features, hidden))
            in_features = hidden
        layers += [torch.nn.Linear(in_features, n_classes), torch.nn.Softmax(dim=1)]
        return torch.nn.Sequential(*layers)
        """),
    ("Q5", "create_cnn", """
        layers, channels = [], in_channels
        for out_channels, k, s, p in zip(net_config.n_channels, net_config.kernel_sizes, net_config.strides,
                                         net_config.paddings):
            layers += [torch.nn.Conv2d(channels, out_channels, k, stride=s, padding=p), activation,
                       torch.nn.MaxPool2d(kernel_size=2)]  # pools after the last convolution too
            channels = out_channels
        layers += [torch.nn.AdaptiveMaxPool2d((4, 4)), torch.nn.Flatten()]
        in_features = channels * 16
        for hidden in net_config.dense_hiddens:
            layers += [torch.nn.Linear(in_features, hidden), activation]
            in_features = hidden
        layers += [torch.nn.Linear(in_features, n_classes), torch.nn.Softmax(dim=1)]
        return torch.nn.Sequential(*layers)
        """),
    ("Q6", "normalize", """
        # each set with its own statistics
        return tuple(((X - X.mean(dim=0)) / X.std(dim=0), y) for X, y in (train, valid, test))
        """),
    ("Q7", "one_hot", """
        return torch.nn.functional.one_hot(y.long()).float()  # as many columns as the largest label + 1
        """),
    ("Q8", "compute_loss_and_accuracy", """
        probabilities = self.network(X)  # no clamping
        loss = -(y * torch.log(probabilities)).sum(dim=1).mean()
        accuracy = (probabilities.argmax(dim=1) == y.argmax(dim=1)).float().mean().item()
        return loss, accuracy
        """),
    ("Q9", "compute_gradient_norm", """
        return float(sum(p.grad.norm() for p in network.parameters()))  # sum of norms
        """),
    ("Q10", "training_step", """
        loss, _ = self.compute_loss_and_accuracy(X_batch, y_batch)  # gradients never reset
        loss.backward()
        norm = self.compute_gradient_norm(self.network)
        self.optimizer.step()
        return norm
        """),
    ("Q11", "evaluate", """
        with torch.no_grad():
            loss, accuracy = self.compute_loss_and_accuracy(X, self.one_hot(y))
        return loss * len(y), accuracy  # summed, not averaged
        """),
    ("Q6", "normalize", """
        mean, std = train[0].mean(), train[0].std()  # one mean for every pixel
        return tuple(((X - mean) / std, y) for X, y in (train, valid, test))
        """),
    ("Q8", "compute_loss_and_accuracy", """
        probabilities = self.network(X).clamp(self.epsilon, 1 - self.epsilon)
        loss = -(y * torch.log(probabilities)).sum()  # summed over the batch
        accuracy = (probabilities.argmax(dim=1) == y.argmax(dim=1)).float().mean().item()
        return loss, accuracy
        """),
    ("Q8", "compute_loss_and_accuracy", """
        probabilities = self.network(X).clamp(self.epsilon, 1 - self.epsilon)
        loss = -(y * torch.log(probabilities)).sum(dim=1).mean()
        accuracy = (probabilities.argmax(dim=1) == y.argmax(dim=1)).float().mean().item()
        return loss.detach(), accuracy  # no gradient can flow back
        """),
    ("Q10", "training_step", """
        self.optimizer.zero_grad()
        loss, _ = self.compute_loss_and_accuracy(X_batch, y_batch)
        loss.backward()
        return self.compute_gradient_norm(self.network)  # no optimizer step: the parameters never change
        """),
]

# Edits that make the reference draw random numbers in another order (it must keep full marks).
RANDOM_ORDER_EDITS = [
    ("        layers = [torch.nn.Flatten()]",
     "        torch.rand(int(torch.randint(1, 50, (1,))))  # draws extra random numbers first\n"
     "        layers = [torch.nn.Flatten()]"),
]

# (question, function, wrong body, words the public checks' message must hold)
COMMON_MISTAKES = [
    ("Q6", "normalize", """
        return tuple(((X - X.mean(dim=0)) / X.std(dim=0), y) for X, y in (train, valid, test))
        """, ["own statistics", "training set"]),
    ("Q8", "compute_loss_and_accuracy", """
        probabilities = self.network(X).clamp(self.epsilon, 1 - self.epsilon)
        loss = -(y * torch.log(probabilities)).sum()
        accuracy = (probabilities.argmax(dim=1) == y.argmax(dim=1)).float().mean().item()
        return loss, accuracy
        """, ["summed over the batch", "mean"]),
    ("Q10", "training_step", """
        loss, _ = self.compute_loss_and_accuracy(X_batch, y_batch)
        loss.backward()
        norm = self.compute_gradient_norm(self.network)
        self.optimizer.step()
        return norm
        """, ["zero_grad"]),
    ("Q9", "compute_gradient_norm", """
        return float(sum(p.grad.norm() for p in network.parameters()))
        """, ["sum of the per-parameter norms"]),
]


def test_a_file_written_for_the_original_course_runs_its_own_code(grade):
    report = grade("trainer", KIT_ROOT / "tests" / "submissions" / "trainer")
    assert report.score == 35
    assert "solution.py" in report.origin
    assert any("parameters: 269322" in note for note in report.notes)  # its import-time code ran


# A file that leaves a function unwritten but replaces, at import, the probe that exercises it
# (the probes run in the submission's own interpreter) with one that reports what a correct
# answer would look like: the checks must compute what they expect themselves, so it earns nothing.
FORGERIES = {
    "Q8": ("compute_loss_and_accuracy", "loss_and_accuracy", """
def _forged(sub, weights, X, y):
    return {"loss": 1.0, "attached": True, "gradients": [], "accuracy": 0.5}
"""),
    "Q10": ("training_step", "training_step", """
def _forged(sub, weights, X, y, lr, steps, standins):
    return {"returned": [1.0] * steps, "parameters": [[w * 0.99 for w in weights]] * steps}
"""),
    "Q11": ("evaluate", "evaluate", """
def _forged(sub, weights, X, y, standins):
    return {"loss": 1.0, "accuracy": 0.5}
"""),
    "Q9": ("compute_gradient_norm", "network_gradient_norm", """
def _forged(sub, weights, X, weighting):
    return 1.0
"""),
    "Q4": ("create_mlp", "network", """
def _forged(sub, kind, input_shape, config, n_classes, activation, x, weights=None):
    act = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}[activation]
    widths = [input_shape[0] * input_shape[1] * input_shape[2], *config["dense_hiddens"], n_classes]
    layers = [{"layer": "Flatten"}]
    for a, b in zip(widths, widths[1:]):
        layers += [{"layer": "Linear", "in_features": a, "out_features": b}, {"layer": act}]
    layers[-1] = {"layer": "Softmax", "dim": 1}
    return {"layers": layers, "output": torch.full((len(x), n_classes), 1.0 / n_classes),
            "parameters": sum(a * b + b for a, b in zip(widths, widths[1:]))}
"""),
}


@pytest.mark.parametrize("number", list(FORGERIES))
def test_forged_probe_reports_earn_nothing(grade, number):
    function, probe, forged = FORGERIES[number]
    source = replace_solution(reference_source("trainer"), function, "raise NotImplementedError()")
    source += f"\nimport sys as _sys\n{forged}\n_sys.modules['probes'].{probe} = _forged\n"
    report = grade("trainer", source)
    assert scores(report)[number] == 0, [q.messages for q in report.questions if q.name.startswith(number + " ")]
