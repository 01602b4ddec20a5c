"""The assignments the kit knows: one sub-package each, found by listing this folder.

Adding an assignment means adding a package here (see `grading.rubric`); nothing else lists them.
"""
import importlib
import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent


class UnknownAssignment(KeyError):
    def __str__(self):
        return f"unknown assignment {self.args[0]!r}; known: {', '.join(names()) or 'none'}"


def names():
    return sorted(path.name for path in HERE.iterdir()
                  if (path / "__init__.py").is_file() and not path.name.startswith("_"))


def load(name: str):
    """The assignment's `Assignment`, with its hidden checks when this copy of the kit has them."""
    if name not in names():
        raise UnknownAssignment(name)
    package = importlib.import_module(f"{__name__}.{name}")
    assignment = package.ASSIGNMENT
    public = _public_checks(assignment)
    if importlib.util.find_spec(f"{__name__}.{name}.hidden") is not None:
        importlib.import_module(f"{__name__}.{name}.hidden")
        if _public_checks(assignment) != public:  # the release drops hidden.py: students would miss them
            raise ValueError(f"{name}: hidden.py declares public checks; they belong in public.py")
    assignment.validate()
    return assignment


def _public_checks(assignment) -> int:
    return sum(check.public for question in assignment.questions for check in question.checks)


def load_all():
    return [load(name) for name in names()]
