"""How an assignment declares its rubric: questions, their points, and the checks that award them.

An assignment is a package `grading/assignments/<name>/` with three files:

- `__init__.py` defines `ASSIGNMENT = Assignment(...)` (module name, notebook, data for the box);
- `public.py` defines the questions and their *public* checks (shipped to students: they may
  only use closed-form expectations, never the reference solution);
- `hidden.py` (instructor only, removed by the release) adds checks that compare the submission
  with the reference solution.
- `probes.py` holds the functions that run inside the sandbox (see `grading.probing`).

A check is a function `check(sub, ref)` that asks the submission for values with
`sub.call("probe", **args)` (run in the sandbox), computes what to expect, in closed form or
with `ref.call(...)` (the same probe run on the reference, in the grader), and raises
`CheckFailed` with a message for the student when they differ. Each check carries points; a
question's score is the sum of its passed checks. Example::

    Q7 = Question("Q7", "one_hot", points=2)

    @Q7.check(points=1, public=True)
    def statement_example(sub, ref):
        got = sub.call("one_hot", y=torch.tensor([1, 0, 3, 4]), n_classes=5)
        judge.equal(got, torch.eye(5)[[1, 0, 3, 4]], "one_hot([1, 0, 3, 4]) with 5 classes")

Rules a new assignment must follow (some are enforced, all are relied upon):

1. A probe runs inside the sandbox, in the submission's own interpreter. It may import only the
   standard library, torch, numpy, the assignment's `preload` libraries, and the grading modules
   the fork server preloads: `grading.probing`, `grading.shared`, `grading.protocol`,
   `grading.rubric` and `grading.wire` (the kit itself is not in the sandbox's view). It returns
   plain values only (see `grading.wire`). Whatever it returns is a claim: a file can replace the
   probe, so a check recomputes or verifies in the grader every value that decides a point.
2. The first line of a check's docstring is the name students see in their feedback.
3. `public=True` belongs in `public.py` only: the release drops `hidden.py`, so a public check
   declared there would never reach students (`grading.assignments.load` refuses it).
4. Hidden checks build their inputs with `grading.shared`'s `randn`/`rand`/`randint`/`generator`
   when they run (never at import time): the seeds are then mixed with the submission's key.
   Their messages never show a hidden input or its expected value (`grading.judge` takes care of
   its own messages; a check's own f-strings must too).
5. A point is earned by behaviour: each check must fail for a constant, zeros, the input echoed
   back or an attached constant of the right type (`tests/test_typed_garbage.py`).
6. A solution region inside a function becomes `raise NotImplementedError()` in the starter; a
   module-level region becomes `name = None` for each name it assigns, so the starter imports
   (probes must report a None as "not implemented yet", not crash).
"""
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Tuple

KIT_ROOT = Path(__file__).resolve().parent.parent


class CheckFailed(Exception):
    """A check's verdict: the submission's behaviour is wrong; the message says how."""


class SubmissionFailure(Exception):
    """The submission did not produce a value (it raised, hung, crashed...); the message is for
    the student. Raised by `sub.call`."""


class GraderBug(RuntimeError):
    """The reference or a check itself failed: an instructor problem, never the student's.
    Raised by `ref.call`."""


@dataclass
class Check:
    function: Callable
    points: float
    public: bool
    timeout: Optional[float] = None

    @property
    def name(self) -> str:
        doc = (self.function.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else self.function.__name__.replace("_", " ")


class Question:
    """A graded question: a number like "Q4", the function it is about, its points, its checks."""

    def __init__(self, number: str, title: str, points: float, timeout: float = 30.0):
        self.number, self.title, self.points, self.timeout = number, title, points, timeout
        self.checks = []

    @property
    def name(self) -> str:
        return f"{self.number} {self.title}"

    def check(self, points: float, public: bool = False, timeout: float = None):
        """Decorator adding a check worth `points` to this question."""
        def register(function):
            self.checks.append(Check(function, points, public, timeout or self.timeout))
            return function
        return register

    def __repr__(self):
        return f"Question({self.name!r}, points={self.points})"


ASSIGNMENTS_DIR = KIT_ROOT / "grading" / "assignments"
DEFAULT_PRELOAD = ("torch", "torchvision", "numpy", "matplotlib.pyplot", "tqdm.auto")


@dataclass
class Assignment:
    """One assignment. Only `name`, `title`, `questions` and `notebook` are required; the rest
    follows the kit's layout unless the assignment says otherwise."""
    name: str                               # also its package's name in grading/assignments/
    title: str
    questions: list
    notebook: Optional[str] = None          # in notebooks/
    module: Optional[str] = None            # the module students complete, in solutions/: <name>_solution
    probes_path: Optional[Path] = None      # copied into every sandbox: the package's probes.py
    aliases: Tuple[str, ...] = ()           # other file names accepted in a folder or zip
    preload: Tuple[str, ...] = DEFAULT_PRELOAD  # imported once by the fork server
    box_files: Optional[Callable[[Path], None]] = None   # writes data the sandbox may need
    quick_figures: int = 1                  # figures its notebook must draw in quick mode (tested)
    _reference: object = field(default=None, repr=False)

    def __post_init__(self):
        self.module = self.module or f"{self.name}_solution"
        self.probes_path = self.probes_path or ASSIGNMENTS_DIR / self.name / "probes.py"

    @property
    def points(self) -> float:
        return sum(question.points for question in self.questions)

    @property
    def solution_path(self) -> Path:
        return KIT_ROOT / "solutions" / f"{self.module}.py"

    @property
    def file_names(self) -> Tuple[str, ...]:
        return (f"{self.module}.py", *self.aliases)

    def has_hidden_checks(self) -> bool:
        return any(not check.public for question in self.questions for check in question.checks)

    def prepare_box(self, box: Path) -> None:
        if self.box_files is not None:
            self.box_files(box)

    def reference(self):
        """The reference solution module, imported once in the grader (never in a sandbox)."""
        if self._reference is None:
            import matplotlib
            if "matplotlib.pyplot" not in sys.modules:
                matplotlib.use("Agg")  # the grader never shows the figures a module may draw
            name = f"_kit_reference_{self.module}"
            spec = importlib.util.spec_from_file_location(name, self.solution_path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            self._reference = module
        return self._reference

    def validate(self) -> None:
        """Every question's checks add up to its points (with hidden checks loaded)."""
        for question in self.questions:
            total = sum(check.points for check in question.checks)
            complete = self.has_hidden_checks()
            if (complete and abs(total - question.points) > 1e-9) or total > question.points + 1e-9:
                raise ValueError(f"{self.name} {question.name}: checks are worth {total}, "
                                 f"the question {question.points}")
