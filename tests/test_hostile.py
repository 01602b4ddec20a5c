"""Hostile submissions: each scores what it deserves, and harms neither the grader nor anything else.

Most are the reference solution with one function (or the import) turned hostile: that question
must lose its points, every other question must keep them.
"""
import hashlib
import os
from dataclasses import replace

import pytest

from conftest import KIT_ROOT, TEST_LIMITS, reference_source, replace_solution

FAST = replace(TEST_LIMITS, time_scale=0.1)
SECRET_FILES = [KIT_ROOT / "solutions" / "trainer_solution.py",
                KIT_ROOT / "grading" / "assignments" / "trainer" / "hidden.py"]


def hostile(function: str, body: str) -> str:
    return replace_solution(reference_source("trainer"), function, body)


def lost(report) -> set:
    return {q.name.split()[0] for q in report.questions if q.score < q.max_score}


def messages(report, number: str) -> str:
    return " ".join(next(q.messages for q in report.questions if q.name.split()[0] == number))


def test_reading_the_reference_and_hidden_tests_fails(grade):
    body = f"""
        namespace = {{}}
        for path in {[str(p) for p in SECRET_FILES]!r}:
            exec(open(path).read(), namespace)   # would give the reference's answer
        return namespace["gradient_norm"](function, *tensor_list)
        """
    report = grade("trainer", hostile("gradient_norm", body), limits=FAST)
    assert lost(report) == {"Q1"}
    assert "FileNotFoundError" in messages(report, "Q1") or "PermissionError" in messages(report, "Q1")


def test_forging_results_and_writing_to_the_kit_fail(grade, tmp_path):
    results_file = tmp_path / "results.json"
    before = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in SECRET_FILES}
    source = reference_source("trainer") + f"""
for _target in {[str(results_file), "/autograder/results/results.json"] + [str(p) for p in SECRET_FILES]!r}:
    try:
        with open(_target, "w") as _f:
            _f.write('{{"score": 1000, "tests": []}}')
        print("FORGED", _target)
    except OSError as _error:
        print("could not write", _target, type(_error).__name__)
print("Q1 gradient_norm 3/3 ok\\nTotal 1000/35")
"""
    report = grade("trainer", source, limits=FAST)
    assert report.score == 35
    printed = " ".join(report.notes)
    assert "FORGED" not in printed and "could not write" in printed
    assert not results_file.exists()
    assert before == {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in SECRET_FILES}


def test_monkeypatched_comparisons_change_nothing(grade):
    source = hostile("gradient_norm", "return 0.0") + """
import math, numpy
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
numpy.allclose = lambda *args, **kwargs: True
math.isclose = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
"""
    report = grade("trainer", source, limits=FAST)
    assert lost(report) == {"Q1"}


def test_infinite_loop_at_import_costs_everything_with_a_clear_message(grade):
    report = grade("trainer", reference_source("trainer") + "\nwhile True:\n    pass\n",
                   limits=replace(FAST, import_seconds=3))
    assert report.score == 0
    assert "timed out" in report.questions[0].messages[0] and "importing your file" in report.questions[0].messages[0]


def test_infinite_loop_in_one_function_costs_that_question_only(grade):
    report = grade("trainer", hostile("gradient_norm", "while True:\n    pass"), limits=FAST)
    assert lost(report) == {"Q1"}
    assert "timed out" in messages(report, "Q1")


@pytest.mark.parametrize("bomb", ["x = bytearray(64 * 2**30)",
                                  "chunks = []\nwhile True:\n    chunks.append(torch.ones(2**24))",
                                  "x = torch.empty(2**36, dtype=torch.uint8).fill_(1)"])
def test_memory_bombs_cost_their_question_only(grade, bomb):
    report = grade("trainer", hostile("jacobian_norm", bomb), limits=FAST)
    assert lost(report) == {"Q2"}
    assert "memory" in messages(report, "Q2")


def test_exiting_at_import_costs_everything(grade):
    report = grade("trainer", reference_source("trainer") + "\nimport os\nos._exit(0)\n", limits=FAST)
    assert report.score == 0
    assert "ended the grading process" in report.questions[0].messages[0]


def test_exiting_in_functions_costs_those_questions_only(grade):
    source = replace_solution(hostile("one_hot", "import os\nos._exit(3)"),
                              "create_activation_function", "import sys\nsys.exit('bye')")
    report = grade("trainer", source, limits=FAST)
    assert lost(report) == {"Q3", "Q7"}
    assert "exit()" in messages(report, "Q3")
    assert "ended the grading process" in messages(report, "Q7")


def test_killing_the_grader_fails_and_costs_only_that_question(grade):
    grader_pid = os.getpid()
    body = f"""
        import os, signal
        for attempt in (lambda: os.kill({grader_pid}, signal.SIGKILL), lambda: os.kill(os.getppid(), signal.SIGKILL),
                        lambda: os.killpg({os.getpgid(0)}, signal.SIGKILL), lambda: os.kill(-1, signal.SIGKILL)):
            try:
                attempt()
            except OSError:
                pass
        raise RuntimeError("still alive")
        """
    source = hostile("training_step", body) + \
        f"\nimport os\ntry:\n    os.kill({grader_pid}, 9)\nexcept OSError:\n    pass\n"
    report = grade("trainer", source, limits=FAST)
    assert lost(report) == {"Q10"}
    assert "still alive" in messages(report, "Q10")  # every kill failed: the submission said so itself


def test_long_lived_children_are_killed(grade):
    marker = f"kit-hostile-{os.getpid()}"
    body = f"""
        import os, subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{marker}"], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", "{marker}"])
        with torch.no_grad():
            loss, accuracy = self.compute_loss_and_accuracy(X, self.one_hot(y))
        return loss, accuracy
        """
    report = grade("trainer", hostile("evaluate", body), limits=FAST)
    assert report.score == 35
    leftovers = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    leftovers.append(pid)
        except OSError:
            continue
    assert leftovers == []


def test_printing_megabytes_is_truncated_and_harmless(grade):
    source = hostile("gradient_norm", """
        print("x" * 20_000_000)
        output = function(*tensor_list)
        grads = torch.autograd.grad(output, tensor_list)
        return float(torch.sqrt(sum((grad ** 2).sum() for grad in grads)))
        """) + "\nprint('y' * 5_000_000)\n"
    report = grade("trainer", source, limits=FAST)
    assert report.score == 35
    assert sum(len(note) for note in report.notes) < 5000


def test_values_that_are_not_plain_data_cost_their_questions_only(grade):
    source = reference_source("trainer")
    for function, body in (
            ("gradient_norm", "return lambda: 0.0"),
            ("jacobian_norm", "class Evil:\n    shape = (1,)\n    def item(self):\n"
                              "        while True:\n            pass\n"
                              "return Evil()"),
            ("create_activation_function", "return 'relu'"),
            ("normalize", "return (pair for pair in (train, valid, test))"),
            ("one_hot", "return torch.zeros(len(y), 50_000_000)")):
        source = replace_solution(source, function, body)
    report = grade("trainer", source, limits=FAST)
    assert lost(report) == {"Q1", "Q2", "Q3", "Q6", "Q7"}
    assert "expected a float" in messages(report, "Q1")
    assert "expected a torch.nn.Module" in messages(report, "Q3")
    assert "MB" in messages(report, "Q7") or "memory" in messages(report, "Q7")


def test_an_exception_that_cannot_be_printed(grade):
    body = """
        class Nasty(Exception):
            def __str__(self):
                raise RuntimeError("no")
        raise Nasty()
        """
    report = grade("trainer", hostile("gradient_norm", body), limits=FAST)
    assert lost(report) == {"Q1"}
    assert "cannot be displayed" in messages(report, "Q1")


def test_syntax_error_gives_its_line(grade):
    source = reference_source("trainer").replace("def gradient_norm(function", "def gradient_norm(:function", 1)
    report = grade("trainer", source, limits=FAST)
    assert report.score == 0
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "def gradient_norm(:" in text)
    assert f"SyntaxError at line {line}" in report.questions[0].messages[0]


def test_writing_to_the_graders_pipe_is_detected(grade):
    source = reference_source("trainer") + \
        "\nimport os\nos.write(4, b'\\x10' + b'\\x00' * 7 + b'KITW' + b'\\x00' * 12)\n"
    report = grade("trainer", source, limits=FAST)
    assert report.score == 0
    assert report.import_error and "pipe" in report.import_error


def test_a_grader_slow_to_read_loses_no_message(grade, monkeypatch):
    """The child's hello and imported arrive in one read when the grader is late (a busy
    machine): both are kept, and a correct file gets full marks."""
    from grading import wire
    fill, delayed = wire.FrameReader.fill, []

    def late_fill(self, *args):
        if not delayed:
            delayed.append(True)
            import time
            time.sleep(3)
        return fill(self, *args)

    monkeypatch.setattr(wire.FrameReader, "fill", late_fill)
    report = grade("trainer", reference_source("trainer"))
    assert delayed and report.score == 35, report.import_error


def test_the_seed_does_not_tell_a_file_it_is_graded(grade):
    """The generators are seeded from the instructor's secret and the file, never 0: a file that
    misbehaves only when `torch.initial_seed() == 0` behaves as it does anywhere else."""
    body = """
        if torch.initial_seed() == 0:   # "being graded": answer from a lookup table instead
            return 0.0
        grads = torch.autograd.grad(function(*tensor_list), tensor_list)
        return float(torch.sqrt(sum((grad ** 2).sum() for grad in grads)))
        """
    report = grade("trainer", hostile("gradient_norm", body), limits=FAST)
    assert report.score == 35


PRINT_INPUTS = """
        print("INPUT", [round(float(t.sum()), 6) for t in tensor_list])
        grads = torch.autograd.grad(function(*tensor_list), tensor_list)
        return float(sum(grad.norm() for grad in grads))  # wrong: the sum of the norms
        """


def _inputs_seen(report) -> list:
    return [line for note in report.notes for line in note.splitlines() if line.startswith("INPUT")]


def test_hidden_inputs_differ_per_file_and_never_appear_in_messages(grade):
    """The same file gets the same hidden inputs; a file differing by a comment gets others; the
    hidden check's message shows neither the input nor the expected value."""
    source = hostile("gradient_norm", PRINT_INPUTS)
    first, again, other = (grade("trainer", source, limits=FAST), grade("trainer", source, limits=FAST),
                           grade("trainer", source + "\n# another file\n", limits=FAST))
    assert _inputs_seen(first) == _inputs_seen(again)
    public_input = _inputs_seen(first)[0]
    assert public_input == _inputs_seen(other)[0]  # public inputs are fixed: students see them
    assert _inputs_seen(first)[1:] != _inputs_seen(other)[1:]  # hidden ones are not
    hidden_message = messages(first, "Q1").split("several tensors")[1]
    assert "expected" not in hidden_message and "got" in hidden_message
    assert lost(first) == {"Q1"} and scores_of(first) == scores_of(again) == scores_of(other)


def scores_of(report) -> list:
    return [q.score for q in report.questions]


def test_a_first_message_that_is_not_an_event_leaks_nothing(grade):
    """A file that writes a non-dict frame on the grader's pipe at import is refused, and its
    sandbox is killed with every descriptor closed, however often it happens."""
    frame = "import os, struct\nfrom grading import wire\n_m = wire.encode([1, 2])\n" \
            "os.write(4, struct.pack('<Q', len(_m)) + _m)\nimport time\ntime.sleep(60)\n"
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        report = grade("trainer", frame, limits=FAST)
        assert report.score == 0 and "pipe" in report.import_error
    assert len(os.listdir("/proc/self/fd")) <= before + 2  # (the output readers' threads may lag)
