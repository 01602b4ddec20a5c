"""The student bundle: answers removed, nothing leaked, starters import and score 0, public tests run."""
import re
import subprocess
import sys

import nbformat
import pytest

from conftest import KIT_ROOT
from grading import release

REPO = "https://github.com/acme/dl-homework"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student"
    built = release.build(out, repo_url=REPO)  # also checks: no leak, starters import and score 0
    assert built.starters["trainer"].score == 0
    return out


def test_regions_become_indented_stubs_and_given_code_stays(bundle):
    starter = (bundle / "solutions" / "trainer_solution.py").read_text()
    assert "        # WRITE CODE HERE\n        raise NotImplementedError()" in starter  # a method's body
    assert "    # WRITE CODE HERE\n    raise NotImplementedError()" in starter          # a function's body
    assert "def load_dataset(datapath: str)" in starter and "X_val = X_[:2000]" in starter
    assert "clamp(self.epsilon" not in starter and "BEGIN SOLUTION" not in starter
    compile(starter, "starter", "exec")


def test_instructor_secrets_stay_out_and_students_ignore_data_and_runs(bundle):
    assert not (bundle / "grading" / ".grading-secret").exists()
    assert not list((bundle / "grading" / "assignments").glob("*/manual.py"))  # criteria summarise answers
    assert (bundle / "grading" / "manual.py").exists()  # (the loader: list -v and the report use it)
    ignored = (bundle / ".gitignore").read_text().split()
    assert "/runs/" in ignored and "/data/cache/" in ignored


def test_no_hidden_tests_no_reference_no_cache(bundle):
    files = {str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file()}
    assert not any(name.endswith("hidden.py") for name in files)
    assert "grading/assignments/trainer/public.py" in files and "tests/test_public.py" in files
    assert "data/mnist.py" in files and not any("cache" in name or "__pycache__" in name for name in files)


def test_notebooks_lose_answers_and_outputs_and_point_at_the_repository(bundle):
    student = nbformat.read(bundle / "notebooks" / "fashionmnist_trainer.ipynb", as_version=4)
    teacher = nbformat.read(KIT_ROOT / "notebooks" / "fashionmnist_trainer.ipynb", as_version=4)
    assert len(student.cells) == len(teacher.cells)
    answers = [c for c in student.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert answers and all("YOUR ANSWER HERE" in c.source or "raise NotImplementedError()" in c.source for c in answers)
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
    assert any("parameters" in c.metadata.get("tags", []) for c in student.cells)
    text = "\n".join(c.source for c in student.cells)
    assert REPO in text and "colab.research.google.com/github/acme/dl-homework" in text and "YOUR-ORG" not in text


def test_strip_solutions_at_module_level_keeps_the_module_importable():
    source = "import torch\n### BEGIN SOLUTION\nbetas = torch.ones(3)\nalphas, (a, b) = 1 - betas, (1, 2)\n" \
             "### END SOLUTION\n\ndef f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
    starter, secret = release.strip_solutions(source)
    assert "betas = None\nalphas = None\na = None\nb = None" in starter
    assert "    # WRITE CODE HERE\n    raise NotImplementedError()" in starter
    assert secret == ["betas = torch.ones(3)", "alphas, (a, b) = 1 - betas, (1, 2)", "    return 1"]
    for broken in ("### BEGIN SOLUTION\nx = 1\n", "x = 1\n### END SOLUTION\n",
                   "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n"):
        with pytest.raises(release.ReleaseError):
            release.strip_solutions(broken)


def test_a_leaked_solution_line_is_caught(bundle, tmp_path):
    leaky = tmp_path / "leaky"
    (leaky / "solutions").mkdir(parents=True)
    (leaky / "solutions" / "x.py").write_text(
        "def f():\n    return torch.nn.functional.one_hot(y.long(), self.n_classes).float()\n")
    _, secret = release.strip_solutions((KIT_ROOT / "solutions" / "trainer_solution.py").read_text())
    with pytest.raises(release.ReleaseError, match="solution line left"):
        release.check_release(leaky, secret)


def test_students_can_run_the_public_checks_in_the_bundle(bundle):
    run = subprocess.run([sys.executable, "-m", "grading", "grade", "trainer", "solutions/trainer_solution.py"],
                         cwd=bundle, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    # the score is out of the assignment's 35 points, and a line says what the hidden checks decide
    assert re.search(r"Total\s+0/35", run.stdout), run.stdout
    assert "Public checks only: they can give 13 of the 35 points" in run.stdout
    assert "the hidden checks, run when your work is graded, decide the other 22" in run.stdout
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "tests/test_public.py"], cwd=bundle,
                           capture_output=True, text=True, timeout=300)
    assert tests.returncode == 1 and "not implemented yet" in tests.stdout  # fails like a student's, no crash
    assert "Traceback" not in tests.stdout and "SubmissionFailure" not in tests.stdout  # the message alone
