"""The instructor's view of a class (`batch --report`), on a synthetic class graded for real.

The class is built from the `trainer` reference: every honest student writes each answer in one
of three styles (the reference's or one of two rewrites below), so that two honest students
share about a third of their code, as students writing the same short functions do; some
students plant one plausible bug; one student hands in a near-copy of another's file (renamed
variables, reordered functions, as a notebook); three hand in the blank starter (.py, .ipynb,
.zip); one file hangs at import and one kills the grader's child at import.
"""
import json
import random
import re
import shutil
import subprocess
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from conftest import reference_source, replace_solution, starter_source
from grading import assignments, grader, similarity
from grading.class_report import failure_template, write_report
from grading.runner import Limits
from grading.submission import notebook_to_source

# Short limits: the hanging file costs its import limit, every other file well under a second.
LIMITS = Limits(import_seconds=6, time_scale=0.25, memory_megabytes=512)

# Two rewrites of each answer, as differently written as students write them (all correct).
STYLES = {
    "gradient_norm": ["""
        value = function(*tensor_list)
        value.backward()
        squares = 0.0
        for t in tensor_list:
            squares = squares + (t.grad ** 2).sum()
        return squares.sqrt().item()
        """, """
        grads = torch.autograd.grad(function(*tensor_list), tensor_list)
        flat = torch.cat([g.reshape(-1) for g in grads])
        return torch.linalg.norm(flat).item()
        """],
    "jacobian_norm": ["""
        J = torch.autograd.functional.jacobian(function, input_tensor)
        return torch.sqrt((J ** 2).sum()).item()
        """, """
        return torch.linalg.norm(torch.autograd.functional.jacobian(function, input_tensor).flatten()).item()
        """],
    "create_mlp": ["""
        modules = [torch.nn.Flatten()]
        sizes = [input_dim] + list(net_config.dense_hiddens)
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            modules.append(torch.nn.Linear(fan_in, fan_out))
            modules.append(activation)
        modules.append(torch.nn.Linear(sizes[-1], n_classes))
        modules.append(torch.nn.Softmax(dim=-1))
        return torch.nn.Sequential(*modules)
        """, """
        net = torch.nn.Sequential()
        net.add_module("flatten", torch.nn.Flatten())
        width = input_dim
        for i, h in enumerate(net_config.dense_hiddens):
            net.add_module(f"fc{i}", torch.nn.Linear(width, h))
            net.add_module(f"act{i}", activation)
            width = h
        net.add_module("out", torch.nn.Linear(width, n_classes))
        net.add_module("softmax", torch.nn.Softmax(dim=1))
        return net
        """, """
        widths = (input_dim, *net_config.dense_hiddens)
        hidden_layers = []
        for k in range(len(net_config.dense_hiddens)):
            hidden_layers += [torch.nn.Linear(widths[k], widths[k + 1]), activation]
        head = [torch.nn.Linear(widths[-1], n_classes), torch.nn.Softmax(dim=1)]
        return torch.nn.Sequential(torch.nn.Flatten(), *hidden_layers, *head)
        """, """
        from collections import OrderedDict
        parts = OrderedDict(flat=torch.nn.Flatten())
        previous = input_dim
        for number, size in enumerate(net_config.dense_hiddens, start=1):
            parts[f"linear{number}"] = torch.nn.Linear(previous, size)
            parts[f"activation{number}"] = activation
            previous = size
        parts["classifier"] = torch.nn.Linear(previous, n_classes)
        parts["softmax"] = torch.nn.Softmax(dim=1)
        return torch.nn.Sequential(parts)
        """],
    "create_cnn": ["""
        blocks = []
        c = in_channels
        last = len(net_config.n_channels) - 1
        for i in range(last + 1):
            blocks.append(torch.nn.Conv2d(c, net_config.n_channels[i], net_config.kernel_sizes[i],
                                          net_config.strides[i], net_config.paddings[i]))
            blocks.append(activation)
            if i == last:
                blocks.append(torch.nn.AdaptiveMaxPool2d((4, 4)))
            else:
                blocks.append(torch.nn.MaxPool2d(2))
            c = net_config.n_channels[i]
        blocks.append(torch.nn.Flatten())
        features = c * 16
        for h in net_config.dense_hiddens:
            blocks.extend([torch.nn.Linear(features, h), activation])
            features = h
        blocks.extend([torch.nn.Linear(features, n_classes), torch.nn.Softmax(dim=1)])
        return torch.nn.Sequential(*blocks)
        """, """
        net = torch.nn.Sequential()
        previous = in_channels
        specs = list(zip(net_config.n_channels, net_config.kernel_sizes, net_config.strides, net_config.paddings))
        for index, (channels, kernel, stride, pad) in enumerate(specs):
            net.add_module(f"conv{index}", torch.nn.Conv2d(previous, channels, kernel_size=kernel,
                                                           stride=stride, padding=pad))
            net.add_module(f"act{index}", activation)
            pool = torch.nn.AdaptiveMaxPool2d((4, 4)) if index == len(specs) - 1 else torch.nn.MaxPool2d(kernel_size=2)
            net.add_module(f"pool{index}", pool)
            previous = channels
        net.add_module("flatten", torch.nn.Flatten())
        width = previous * 4 * 4
        for index, hidden in enumerate(net_config.dense_hiddens):
            net.add_module(f"fc{index}", torch.nn.Linear(width, hidden))
            net.add_module(f"dense_act{index}", activation)
            width = hidden
        net.add_module("head", torch.nn.Linear(width, n_classes))
        net.add_module("probabilities", torch.nn.Softmax(dim=-1))
        return net
        """, """
        def conv_block(c_in, c_out, k, s, p, pool):
            return [torch.nn.Conv2d(c_in, c_out, kernel_size=k, stride=s, padding=p), activation, pool]

        n = len(net_config.n_channels)
        inputs = (in_channels,) + tuple(net_config.n_channels[:-1])
        pools = [torch.nn.MaxPool2d(kernel_size=2) for _ in range(n - 1)] + [torch.nn.AdaptiveMaxPool2d((4, 4))]
        convolutional = sum((conv_block(*args) for args in zip(inputs, net_config.n_channels, net_config.kernel_sizes,
                                                               net_config.strides, net_config.paddings, pools)), [])
        dense, size = [], net_config.n_channels[-1] * 16
        for units in net_config.dense_hiddens:
            dense.append(torch.nn.Linear(size, units))
            dense.append(activation)
            size = units
        return torch.nn.Sequential(*convolutional, torch.nn.Flatten(), *dense,
                                   torch.nn.Linear(size, n_classes), torch.nn.Softmax(dim=1))
        """, """
        model = []
        depth = len(net_config.n_channels)
        current = in_channels
        j = 0
        while j < depth:
            model.append(torch.nn.Conv2d(in_channels=current, out_channels=net_config.n_channels[j],
                                         kernel_size=net_config.kernel_sizes[j], stride=net_config.strides[j],
                                         padding=net_config.paddings[j]))
            model.append(activation)
            if j < depth - 1:
                model.append(torch.nn.MaxPool2d(kernel_size=2))
            current = net_config.n_channels[j]
            j += 1
        model += [torch.nn.AdaptiveMaxPool2d((4, 4)), torch.nn.Flatten()]
        all_sizes = [current * 4 * 4] + list(net_config.dense_hiddens)
        for a, b in zip(all_sizes, all_sizes[1:]):
            model += [torch.nn.Linear(a, b), activation]
        model += [torch.nn.Linear(all_sizes[-1], n_classes), torch.nn.Softmax(dim=1)]
        return torch.nn.Sequential(*model)
        """],
    "create_activation_function": ["""
        if activation_str == "relu":
            return torch.nn.ReLU()
        elif activation_str == "tanh":
            return torch.nn.Tanh()
        elif activation_str == "sigmoid":
            return torch.nn.Sigmoid()
        raise ValueError("unknown activation")
        """, """
        return {"relu": torch.nn.ReLU(), "tanh": torch.nn.Tanh(), "sigmoid": torch.nn.Sigmoid()}[activation_str]
        """],
    "one_hot": ["""
        out = torch.zeros(y.shape[0], self.n_classes, device=y.device)
        out[torch.arange(y.shape[0]), y] = 1
        return out
        """, """
        return torch.eye(self.n_classes, device=y.device)[y]
        """],
    "compute_loss_and_accuracy": ["""
        probs = torch.clamp(self.network(X), min=self.epsilon, max=1 - self.epsilon)
        loss = torch.mean(-torch.sum(y * torch.log(probs), dim=1))
        accuracy = torch.sum(torch.argmax(probs, 1) == torch.argmax(y, 1)).item() / X.shape[0]
        return loss, accuracy
        """, """
        predictions = self.network(X)
        predictions = torch.clamp(predictions, self.epsilon, 1 - self.epsilon)
        ce = -(torch.log(predictions) * y).sum(dim=-1)
        correct = predictions.argmax(-1).eq(y.argmax(-1)).float()
        return ce.mean(), float(correct.mean())
        """, """
        n = X.shape[0]
        output = self.network(X)
        log_p = torch.log(torch.clip(output, self.epsilon, 1.0 - self.epsilon))
        loss = torch.sum(-y * log_p) / n
        hits = 0
        for predicted, truth in zip(output.argmax(dim=1).tolist(), y.argmax(dim=1).tolist()):
            hits += int(predicted == truth)
        return loss, hits / n
        """],
    "compute_gradient_norm": ["""
        total = 0.0
        for p in network.parameters():
            if p.grad is not None:
                total += p.grad.pow(2).sum().item()
        return total ** 0.5
        """, """
        norms = [p.grad.norm() for p in network.parameters() if p.grad is not None]
        return torch.norm(torch.stack(norms)).item()
        """],
    "training_step": ["""
        loss, accuracy = self.compute_loss_and_accuracy(X_batch, y_batch)
        self.optimizer.zero_grad()
        loss.backward()
        grad_norm = self.compute_gradient_norm(self.network)
        self.optimizer.step()
        return grad_norm
        """, """
        self.network.zero_grad()
        outputs = self.compute_loss_and_accuracy(X_batch, y_batch)
        outputs[0].backward()
        g = Trainer.compute_gradient_norm(self.network)
        self.optimizer.step()
        return g
        """],
    "evaluate": ["""
        self.network.eval()
        with torch.no_grad():
            result = self.compute_loss_and_accuracy(X, self.one_hot(y))
        return result
        """, """
        with torch.inference_mode():
            y_oh = self.one_hot(y)
            loss, acc = self.compute_loss_and_accuracy(X, y_oh)
        return loss, acc
        """],
    "normalize": ["""
        X_train = train[0]
        mu, sigma = X_train.mean(0), X_train.std(0)
        return tuple(((x - mu) / sigma, t) for x, t in (train, valid, test))
        """, """
        mean = torch.mean(train[0], dim=0, keepdim=True)
        std = torch.std(train[0], dim=0, keepdim=True)
        normalized = []
        for X, y in (train, valid, test):
            normalized.append(((X - mean) / std, y))
        return normalized[0], normalized[1], normalized[2]
        """],
    "test_equivariance": ["""
        with torch.no_grad():
            out = model(test_im)
            gaps = {"shift": (shift(out) - model(shift(test_im))).abs().max().item(),
                    "rotation": (rotation(out) - model(rotation(test_im))).abs().max().item()}
        plt.imshow(out[0])
        plt.show()
        return gaps
        """, """
        f = model(test_im).detach()
        shift_error = torch.max(torch.abs(shift(f) - model(shift(test_im)).detach()))
        rotation_error = torch.max(torch.abs(rotation(f) - model(rotation(test_im)).detach()))
        print("shift", shift_error, "rotation", rotation_error)
        return {"shift": float(shift_error), "rotation": float(rotation_error)}
        """],
}

# One plausible bug per question, each replacing one answer; `{n}` takes a per-student number,
# so the same mistake gives messages with different numbers (the report must count it once).
BUGS = {
    "Q1": ("gradient_norm", """
        grads = torch.autograd.grad(function(*tensor_list), tensor_list)
        return float(sum(g.norm() for g in grads))
        """),
    "Q2": ("jacobian_norm", "return float(torch.autograd.functional.jacobian(function, input_tensor).abs().sum())"),
    "Q3": ("create_activation_function",
           'return {"relu": torch.nn.ReLU(), "tanh": torch.nn.Hardtanh(), '
           '"sigmoid": torch.nn.Sigmoid()}[activation_str]'),
    "Q4": ("create_mlp", """
        layers = [torch.nn.Flatten()]
        for hidden in net_config.dense_hiddens:
            layers += [torch.nn.Linear(input_dim, hidden), activation]
            input_dim = hidden
        return torch.nn.Sequential(*layers, torch.nn.Linear(input_dim, n_classes))
        """),
    "Q5": ("create_cnn", """
        layers, channels = [], in_channels
        for out_channels, kernel, stride, padding in zip(net_config.n_channels, net_config.kernel_sizes,
                                                         net_config.strides, net_config.paddings):
            layers += [torch.nn.Conv2d(channels, out_channels, kernel, stride, padding), torch.nn.MaxPool2d(2)]
            channels = out_channels
        layers[-1] = torch.nn.AdaptiveMaxPool2d((4, 4))
        layers.append(torch.nn.Flatten())
        width = channels * 16
        for hidden in net_config.dense_hiddens:
            layers += [torch.nn.Linear(width, hidden), activation]
            width = hidden
        return torch.nn.Sequential(*layers, torch.nn.Linear(width, n_classes), torch.nn.Softmax(dim=1))
        """),
    "Q6": ("normalize", """
        mean, std = train[0].mean(), train[0].std() + {n}
        return tuple(((X - mean) / std, y) for X, y in (train, valid, test))
        """),
    "Q7": ("one_hot", "return torch.nn.functional.one_hot(y, {n}).float()"),
    "Q8": ("compute_loss_and_accuracy", """
        probabilities = self.network(X).clamp(self.epsilon, 1 - self.epsilon)
        loss = -(y * torch.log(probabilities)).sum() / {n}
        accuracy = (probabilities.argmax(dim=1) == y.argmax(dim=1)).float().mean().item()
        return loss, accuracy
        """),
    "Q9": ("compute_gradient_norm",
           "return float(sum(p.grad.norm() for p in network.parameters() if p.grad is not None))"),
    "Q10": ("training_step", """
        loss, _ = self.compute_loss_and_accuracy(X_batch, y_batch)
        loss.backward()
        norm = self.compute_gradient_norm(self.network)
        self.optimizer.step()
        return norm
        """),
    "Q11": ("evaluate", """
        loss, accuracy = self.compute_loss_and_accuracy(X, self.one_hot(y))
        return loss, accuracy * {n}
        """),
}
# How many students plant each bug, and the numbers they put in it.
BUGGED = {"Q1": 2, "Q2": 1, "Q3": 2, "Q4": 3, "Q5": 2, "Q6": 3, "Q7": 2, "Q8": 4, "Q9": 2, "Q10": 3, "Q11": 2}
NUMBERS = {"Q6": (1, 2, 5), "Q7": (10, 12), "Q8": (32, 64, 100, 128), "Q11": (100, 10)}
N_CORRECT = 6  # honest students with full marks


# Habits that change a whole file's answers (and their tokens): how a student spells torch.nn.
HABITS = ({}, {"torch.nn.functional.": "F.", "torch.nn.": "nn."}, {"torch.nn.": "nn."})
HABIT_IMPORTS = "import torch.nn.functional as F\nfrom torch import nn\n"


def honest_source(seed: int) -> str:
    """The reference with each answer in one of three styles and one spelling habit, drawn by `seed`."""
    source, draw = reference_source("trainer"), random.Random(seed)
    for function, rewrites in STYLES.items():
        style = draw.randrange(len(rewrites) + 1)
        if style:
            source = replace_solution(source, function, rewrites[style - 1])
    habit = HABITS[draw.randrange(len(HABITS))]

    def spell(region):
        answer = region.group(2)
        for long, short in habit.items():
            answer = answer.replace(long, short)
        return region.group(1) + answer + region.group(3)
    source = re.sub(r"(### BEGIN SOLUTION\n)(.*?)(### END SOLUTION)", spell, source, flags=re.S)
    return source.replace("import torch\n", "import torch\n" + HABIT_IMPORTS, 1) if habit else source


def with_bug(source: str, question: str, number) -> str:
    function, body = BUGS[question]
    return replace_solution(source, function, body.replace("{n}", str(number)))


# -- the near-copy: other variable names, functions in another order -------------------------------

RENAMES = {"grads": "all_grads", "layers": "module_list", "probabilities": "p_clamped", "activations": "table",
           "hidden": "width_out", "jacobian": "jac", "mean": "mu_train", "std": "sigma_train", "norm": "g_norm",
           "modules": "parts", "sizes": "dims", "net": "model_seq", "probs": "p", "total": "acc_sq",
           "squares": "sq_sum", "flat": "all_flat", "out": "encoded", "blocks": "stack", "features": "n_feat"}


def _rename(source: str) -> str:
    """Rename local variables: a name not after a dot (attributes and methods keep theirs)."""
    for old, new in RENAMES.items():
        source = re.sub(rf"(?<![\w.]){old}\b", new, source)
    return source


def _block(lines, name: str):
    """(start, end) of the function or method `name`, its decorators included."""
    start = next(i for i, line in enumerate(lines) if re.match(rf"\s*def {name}\(", line))
    indent = len(lines[start]) - len(lines[start].lstrip())
    while lines[start - 1].strip().startswith("@"):
        start -= 1
    end = start + 1
    while end < len(lines) and not (lines[end].strip() and len(lines[end]) - len(lines[end].lstrip()) <= indent):
        end += 1
    while not lines[end - 1].strip():  # the blank lines after it stay where they are
        end -= 1
    return start, end


def _swap(source: str, first: str, second: str) -> str:
    """`source` with the functions `first` and `second` (first before second) exchanged."""
    lines = source.splitlines()
    (a, b), (c, d) = _block(lines, first), _block(lines, second)
    return "\n".join(lines[:a] + lines[c:d] + lines[b:c] + lines[a:b] + lines[d:]) + "\n"


def near_copy(source: str) -> str:
    copied = _swap(_rename(source), "gradient_norm", "jacobian_norm")
    return _swap(copied, "create_cnn", "create_activation_function")


# -- the class on disk -------------------------------------------------------------------------------

@dataclass
class Student:
    name: str
    source: str
    bug: Optional[str] = None   # the question whose answer has a planted bug
    form: str = "py"            # "py", "ipynb" or "zip"
    copy_of: Optional[str] = None


def as_notebook(source: str) -> str:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# My homework"},
             {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": "%matplotlib inline\n!pip install tqdm"},
             {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def write_submission(folder: Path, student: Student) -> Path:
    if student.form == "ipynb":
        path = folder / f"{student.name}.ipynb"
        path.write_text(as_notebook(student.source))
    elif student.form == "zip":
        path = folder / f"{student.name}.zip"
        with zipfile.ZipFile(path, "w") as bundle:
            bundle.writestr("homework/trainer_solution.py", student.source)
            bundle.writestr("homework/notes.txt", "see the notebook")
    else:
        path = folder / f"{student.name}.py"
        path.write_text(student.source)
    return path


def hostile_starter() -> str:
    """The starter whose one_hot raises an error with HTML in its message."""
    source = starter_source("trainer")
    stub = source.index("raise NotImplementedError()", source.index("def one_hot("))
    return source[:stub] + "raise ValueError('<script>alert(1)</script>')" + source[stub + 27:]


def synthetic_class():
    """The students, in the order of their names."""
    students, seed = [], 0
    for question, count in BUGGED.items():
        for k in range(count):
            seed += 1
            number = NUMBERS.get(question, (0,))[k % len(NUMBERS.get(question, (0,)))]
            students.append(Student(f"s{seed:02d}_{question.lower()}", with_bug(honest_source(seed), question, number),
                                    question, "zip" if seed % 9 == 0 else "py"))
    for k in range(N_CORRECT):
        seed += 1
        students.append(Student(f"s{seed:02d}_correct", honest_source(seed), form="ipynb" if k == 0 else "py"))
    original = students[17]  # a Q8 bug: the copy makes the same mistake
    students.append(Student("zz_copycat", near_copy(original.source), original.bug, "ipynb", original.name))
    students += [Student(f"starter_{form}", starter_source("trainer"), form=form) for form in ("py", "ipynb", "zip")]
    students.append(Student("hangs_at_import", starter_source("trainer") + "\nwhile True:\n    pass\n"))
    students.append(Student("exits_at_import", "import os\nos._exit(3)\n"))
    students.append(Student("<img src=x onerror=alert(1)>", hostile_starter()))
    return sorted(students, key=lambda s: s.name)


# -- the tests -----------------------------------------------------------------------------------------

NOT_GRADED = {"hangs_at_import", "exits_at_import"}
BLANK = {"starter_py", "starter_ipynb", "starter_zip", "<img src=x onerror=alert(1)>"}  # zero everywhere


@pytest.fixture(scope="module")
def graded(tmp_path_factory, launcher):
    """The class graded for real (two at a time, as `batch` does) and its report written."""
    folder = tmp_path_factory.mktemp("class")
    students = synthetic_class()
    paths = [write_submission(folder, student) for student in students]
    assignment = assignments.load("trainer")
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda path: grader.grade(assignment, path, launcher, LIMITS), paths))
    rows = [(student.name, report, "") for student, report in zip(students, reports)]
    page = folder / "class.html"
    report = write_report(page, assignment, rows, paths)
    return students, rows, paths, report, page


def test_counts_the_planted_bugs_of_each_question(graded):
    students, _, _, report, _ = graded
    for statistics in report.statistics:
        number = statistics.name.split()[0]
        planted = sum(student.bug == number for student in students)
        assert statistics.partial + statistics.zero == planted + len(BLANK), statistics
        assert statistics.graded == len(students) - len(NOT_GRADED)


def test_the_same_mistake_with_other_numbers_counts_once(graded):
    students, _, _, report, _ = graded
    q8 = next(s for s in report.statistics if s.name.startswith("Q8 "))
    top = q8.mistakes[0]
    bugged = {student.name for student in students if student.bug == "Q8"}
    assert {s.name for s in top.students} == bugged
    messages = {m for s in top.students for q in s.report.questions for m in q.messages
                if q.name.startswith("Q8 ") and failure_template(m) == top.template}
    assert len(messages) > 1, "the bugged students' messages should differ in their numbers"


def test_failure_templates():
    assert failure_template("values: got 0.5, expected 0.25") == failure_template("values: got -3e-05, expected 1")
    assert failure_template("create_cnn: layer 2 is MaxPool2d(kernel_size=2)") == \
        "create_cnn: layer # is MaxPool2d(kernel_size=#)"
    assert failure_template("one_hot([1, 0, 3]): got [[0.0, 1.0], [1.0, 0.0]]") == "one_hot([#…]): got [#…]"
    assert failure_template("create_activation_function('tanh'): the network's output") == \
        "create_activation_function('…'): the network's output"


def test_lists_what_could_not_be_graded_and_the_slowest(graded):
    _, _, _, report, page = graded
    not_graded = {s.name: s.problem for s in report.students if not s.graded}
    assert set(not_graded) == NOT_GRADED
    assert "timed out" in not_graded["hangs_at_import"] and not_graded["exits_at_import"]
    text = page.read_text()
    slowest = text[text.index('id="slowest"'):text.index('id="similarity"')]
    assert re.search(r'<a href="#student-\d+">([^<]*)</a>', slowest).group(1) == "hangs_at_import"


def test_flags_exactly_the_copied_pair(graded):
    students, _, _, report, page = graded
    copy = next(student for student in students if student.copy_of)
    assert report.similar_names() == [(copy.copy_of, copy.name)]
    pair = report.pairs[0]
    assert min(pair.scores) > 0.95, pair.scores
    assert all(any(shared for _, shared in view) for view in pair.views)
    assert report.compared == len(students)  # .py files, notebooks and zips alike


def test_similarity_alone_leaves_out_the_given_code():
    given = similarity.given_code(assignments.load("trainer"))
    original = honest_source(101)
    sources = {"starter": starter_source("trainer"), "starter again": starter_source("trainer"),
               "notebook of the starter": notebook_to_source(as_notebook(starter_source("trainer"))).decode(),
               "original": original, "renamed": _rename(original),
               "reordered": _swap(original, "create_cnn", "create_activation_function"), "other": honest_source(202)}
    pairs = similarity.similar_pairs(sources, given, threshold=0.01)
    assert not [p for p in pairs if "starter" in p.first and "starter" in p.second]
    scores = {(p.first, p.second): p.score for p in pairs}
    assert scores[("original", "renamed")] > 0.99 and scores[("original", "reordered")] > 0.99
    assert scores.get(("original", "other"), 0) < similarity.DEFAULT_THRESHOLD


def test_every_name_and_message_is_escaped_and_linked(graded):
    _, _, _, _, page = graded
    text = page.read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text and "<img src=x" not in text
    assert "default-src 'none'" in text  # no script could run even if escaping failed
    anchors = set(re.findall(r'id="(student-\d+)"', text))
    assert set(re.findall(r'href="#(student-\d+)"', text)) <= anchors and len(anchors) == len(graded[0])


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_the_page_renders_in_a_browser(graded, tmp_path):
    page = graded[4]
    command = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000"]
    shot = tmp_path / "class.png"
    subprocess.run(command + [f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    dom = subprocess.run(command + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert 'id="questions"' in dom and "Q10 training_step" in dom and "<script" not in dom


def test_a_class_of_300_is_reported_well_within_its_grading_time(graded, tmp_path):
    """300 submissions (distinct files, the graded reports reused): grading takes ~0.3 s each."""
    _, rows, _, _, _ = graded
    paths, big_rows = [], []
    for i in range(300):
        path = tmp_path / f"student{i:03d}.py"
        path.write_text(honest_source(1000 + i))
        paths.append(path)
        name, report, problem = rows[i % len(rows)]
        big_rows.append((f"{name} {i}", report, problem))
    started = time.perf_counter()
    report = write_report(tmp_path / "class.html", assignments.load("trainer"), big_rows, paths)
    seconds = time.perf_counter() - started
    print(f"class report for 300 submissions: {seconds:.1f} s ({len(report.pairs)} similar pairs)")
    assert seconds < 0.3 * 300, seconds
