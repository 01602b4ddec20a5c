"""The `trainer` rubric: full marks for the reference, 0 for the starter, and every wrong variant
of a question loses that question's points and no others."""
import json

import pytest

from conftest import KIT_ROOT, assert_only_lost, reference_source, replace_solution, scores
from grading import results

WRONG_VARIANTS = {
    "Q1": ("gradient_norm", """
        grads = torch.autograd.grad(function(*tensor_list), tensor_list)
        return float(sum(grad.norm() for grad in grads))  # sum of norms, not the norm of all
        """),
    "Q2": ("jacobian_norm", """
        return float(function(input_tensor).norm())  # the output's norm, not the Jacobian's
        """),
    "Q3": ("create_activation_function", """
        return {"relu": torch.nn.ReLU(), "tanh": torch.nn.Sigmoid(), "sigmoid": torch.nn.Sigmoid()}[activation_str]
        """),
    "Q4": ("create_mlp", """
        layers = [torch.nn.Flatten()]
        in_features = input_dim
        for hidden in net_config.dense_hiddens:  # no activation between the layers
            layers.append(torch.nn.Linear(in_features, hidden))
            in_features = hidden
        layers += [torch.nn.Linear(in_features, n_classes), torch.nn.Softmax(dim=1)]
        return torch.nn.Sequential(*layers)
        """),
    "Q5": ("create_cnn", """
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
    "Q6": ("normalize", """
        # each set with its own statistics
        return tuple(((X - X.mean(dim=0)) / X.std(dim=0), y) for X, y in (train, valid, test))
        """),
    "Q7": ("one_hot", """
        return torch.nn.functional.one_hot(y.long()).float()  # as many columns as the largest label + 1
        """),
    "Q8": ("compute_loss_and_accuracy", """
        probabilities = self.network(X)  # no clamping
        loss = -(y * torch.log(probabilities)).sum(dim=1).mean()
        accuracy = (probabilities.argmax(dim=1) == y.argmax(dim=1)).float().mean().item()
        return loss, accuracy
        """),
    "Q9": ("compute_gradient_norm", """
        return float(sum(p.grad.norm() for p in network.parameters()))  # sum of norms
        """),
    "Q10": ("training_step", """
        loss, _ = self.compute_loss_and_accuracy(X_batch, y_batch)  # gradients never reset
        loss.backward()
        norm = self.compute_gradient_norm(self.network)
        self.optimizer.step()
        return norm
        """),
    "Q11": ("evaluate", """
        with torch.no_grad():
            loss, accuracy = self.compute_loss_and_accuracy(X, self.one_hot(y))
        return loss * len(y), accuracy  # summed, not averaged
        """),
}


def test_reference_scores_35_with_a_valid_results_json(grade):
    report = grade("trainer", reference_source("trainer"))
    assert (report.score, report.max_score) == (35, 35), results.table(report)
    data = json.loads(json.dumps(results.gradescope(report)))
    assert set(data) >= {"score", "execution_time", "output", "tests"}
    assert [t["name"] for t in data["tests"]][:2] == ["Q1 gradient_norm", "Q2 jacobian_norm"]
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] == "passed"
    assert report.isolation in ("namespaces", "uid", "none")


@pytest.mark.parametrize("number", sorted(WRONG_VARIANTS, key=lambda n: int(n[1:])))
def test_a_wrong_answer_loses_its_own_points_only(grade, number):
    function, body = WRONG_VARIANTS[number]
    report = grade("trainer", replace_solution(reference_source("trainer"), function, body))
    assert_only_lost(report, number)


def test_a_file_written_for_the_original_course_gets_full_marks(grade):
    report = grade("trainer", KIT_ROOT / "tests" / "submissions" / "trainer")
    assert report.score == 35, results.table(report)
    assert "solution.py" in report.origin
    assert any("parameters: 269322" in note for note in report.notes)  # its import-time code ran


def test_scores_do_not_depend_on_how_random_numbers_are_drawn(grade):
    source = reference_source("trainer").replace(
        "        layers = [torch.nn.Flatten()]",
        "        torch.rand(int(torch.randint(1, 50, (1,))))  # draws extra random numbers first\n"
        "        layers = [torch.nn.Flatten()]")
    source += "\nimport random as _r\nfor _ in range(_r.randint(1, 9)):\n    torch.randn(3)\n"
    first, second = grade("trainer", source), grade("trainer", source)
    assert first.score == 35
    assert scores(first) == scores(second)
