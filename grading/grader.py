"""Grade one submission: run every check of the rubric, judge in this process, build the report."""
import contextlib
import importlib.util
import sys
import threading
import time
from collections import OrderedDict

from grading import secret, shared, wire
from grading import submission as submissions
from grading.protocol import reset_random_state
from grading.results import QuestionResult, Report
from grading.rubric import CheckFailed, GraderBug, SubmissionFailure
from grading.runner import Limits, SubmissionRunner

REFERENCE_CACHE_ENTRIES = 512  # hidden inputs differ per submission: keep the recent ones only


class SubmissionProxy:
    """What a check sees of the submission: probe calls run in the sandbox."""

    def __init__(self, runner: SubmissionRunner, timeout: float):
        self._runner, self._timeout = runner, timeout

    def call(self, probe: str, **args):
        return self._runner.call(probe, args, self._timeout)


class ReferenceProxy:
    """The same probes run on the reference solution in the grader, cached by arguments (the
    expected values of a batch are computed once) and serialized, since probes patch classes."""

    _instances = {}
    _instances_lock = threading.Lock()

    def __init__(self, assignment):
        self.module = assignment.reference()
        name = f"_kit_probes_{assignment.name}"
        spec = importlib.util.spec_from_file_location(name, assignment.probes_path)
        self.probes = importlib.util.module_from_spec(spec)
        sys.modules[name] = self.probes
        spec.loader.exec_module(self.probes)
        self._cache = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def of(cls, assignment) -> "ReferenceProxy":
        with cls._instances_lock:
            if assignment.name not in cls._instances:
                cls._instances[assignment.name] = cls(assignment)
            return cls._instances[assignment.name]

    def call(self, probe: str, **args):
        encoded = wire.encode(args)
        key = (probe, encoded)
        with self._lock:
            if key not in self._cache:
                reset_random_state()
                try:
                    value = getattr(self.probes, probe)(self.module, **wire.decode(encoded))
                    self._cache[key] = wire.encode(value)
                except Exception as error:
                    raise GraderBug(f"probe {probe!r} failed on the reference solution: {error!r}") from error
                if len(self._cache) > REFERENCE_CACHE_ENTRIES:
                    self._cache.popitem(last=False)
            self._cache.move_to_end(key)
            return wire.decode(self._cache[key])


def _run_checks(assignment, runner, reference, key: bytes):
    results = []
    for question in assignment.questions:
        checks = [c for c in question.checks if c.public or reference is not None]
        score, messages, passed = 0.0, [], 0
        for check in checks:
            # hidden checks draw their inputs from the submission's key, and never show them
            inputs = contextlib.nullcontext() if check.public else shared.hidden_inputs(key)
            try:
                with inputs:
                    check.function(SubmissionProxy(runner, check.timeout), reference)
                score += check.points
                passed += 1
            except (CheckFailed, SubmissionFailure) as failure:
                if runner.import_error:  # one cause for every check: say it once
                    message = f"importing your file failed: {runner.import_error}"
                    if message not in messages:
                        messages.append(message)
                elif not any(message.endswith(f": {failure}") for message in messages):
                    messages.append(f"{check.name}: {failure}")
            except GraderBug:
                raise
            except Exception as error:  # the submission's value broke the check's expectations
                messages.append(f"{check.name}: your result could not be judged "
                                f"({type(error).__name__}: {error})")
        results.append(QuestionResult(question.name, score, sum(c.points for c in checks), messages,
                                      passed, len(checks), question.points))
    return results


def grade(assignment, path, launcher, limits: Limits = Limits(), hidden: bool = True) -> Report:
    """Grade the submission at `path` (file, folder, zip). A missing path raises
    FileNotFoundError; anything else, even an unreadable submission, gives a report."""
    started = time.monotonic()
    use_reference = hidden and assignment.has_hidden_checks()
    reference = ReferenceProxy.of(assignment) if use_reference else None
    mode = "full" if use_reference else "public"
    try:
        handed_in = submissions.load(path, assignment.file_names)
    except submissions.NoSubmission as problem:
        questions = [QuestionResult(q.name, 0.0, q.points if use_reference else
                                    sum(c.points for c in q.checks if c.public), [str(problem)], 0, 0, q.points)
                     for q in assignment.questions]
        return Report(assignment.name, str(path), questions, time.monotonic() - started, mode,
                      notes=[f"Nothing gradable: {problem}"])

    key = secret.submission_key(handed_in.source)
    with SubmissionRunner(launcher, assignment, handed_in.source, limits, key) as runner:
        questions = _run_checks(assignment, runner, reference, key)
    notes = list(handed_in.notes)
    if launcher.warning:
        notes.append(launcher.warning)
    printed = "".join(runner.output)
    if printed.strip():
        shown = printed[:2000] + ("\n[... more output not shown]" if len(printed) > 2000 else "")
        notes.append("Your code printed:\n" + shown)
    return Report(assignment.name, handed_in.origin, questions, time.monotonic() - started, mode,
                  isolation=launcher.isolation or "", notes=notes, import_error=runner.import_error)
