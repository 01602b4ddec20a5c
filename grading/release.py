"""python -m grading release OUT_DIR: the student bundle, built from the instructor's sources.

What students get: the notebooks with answers and outputs removed (nbgrader's own preprocessors),
the solution modules with every `### BEGIN SOLUTION` ... `### END SOLUTION` region replaced by a
stub, the data code, the grader with the public checks only, and the public tests. After writing,
it checks that no marker and no solution line is left, that no hidden test is there, and that
every starter imports and scores 0 under the full (hidden) rubric without breaking the grader.
"""
import ast
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grading import assignments

KIT_ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ("# WRITE CODE HERE", "raise NotImplementedError()")
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
           "BEGIN MARK SCHEME", "END MARK SCHEME")
REPO_PLACEHOLDER = "https://github.com/YOUR-ORG/dl-course-kit"
INSTRUCTOR_ONLY = {"hidden.py", "release.py", "gradescope.py", "demo.py", "quickrun.py", "templates",
                   "class_report.py", "similarity.py", "merge.py"}
MIN_SECRET_LINE = 12  # shorter solution lines ("return x") are too common to count as leaks


# What the students' repository never tracks: datasets, training runs, caches.
STUDENT_GITIGNORE = """/data/cache/
/data/*/
/runs/
/build/
__pycache__/
*.pyc
.ipynb_checkpoints/
"""


class ReleaseError(RuntimeError):
    pass


# -- solution modules -----------------------------------------------------------------------------

def _module_level_names(region: str):
    """Names a module-level solution region assigns, so its stub can set them to None."""
    try:
        tree = ast.parse(region)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name) and name.id not in names:
                    names.append(name.id)
    return names


def strip_solutions(source: str):
    """(starter source, solution lines). Inside a function a region becomes the stub; at module
    level it becomes `# WRITE CODE HERE` and `name = None` for each name it assigned, so the
    starter still imports."""
    lines, out, secret = source.splitlines(), [], []
    region, indent = None, ""
    for number, line in enumerate(lines, 1):
        if line.strip() == BEGIN:
            if region is not None:
                raise ReleaseError(f"nested {BEGIN} at line {number}")
            region, indent = [], line[:len(line) - len(line.lstrip())]
        elif line.strip() == END:
            if region is None:
                raise ReleaseError(f"{END} without {BEGIN} at line {number}")
            if indent:
                out += [indent + stub for stub in STUB]
            else:
                out.append(STUB[0])
                out += [f"{name} = None" for name in _module_level_names("\n".join(region))]
            secret += region
            region = None
        elif region is not None:
            region.append(line)
        else:
            out.append(line)
    if region is not None:
        raise ReleaseError(f"{BEGIN} without {END}")
    return "\n".join(out) + "\n", secret


# -- notebooks ------------------------------------------------------------------------------------

def _notebook_secrets(notebook):
    """Lines a student must not see: solution regions and whole solution cells."""
    secret = []
    for cell in notebook.cells:
        lines = cell.source.splitlines()
        inside = False
        for line in lines:
            if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                inside = False
            elif inside:
                secret.append(line)
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and not any(
                "BEGIN SOLUTION" in line for line in lines):
            secret += lines
    return secret


def with_repository(text: str, repo_url: str) -> str:
    """Point clone URLs and Colab badges at the students' repository."""
    path = repo_url.rstrip("/").removesuffix(".git").split("github.com/")[-1]
    placeholder_path = REPO_PLACEHOLDER.split("github.com/")[-1]
    return text.replace(REPO_PLACEHOLDER, repo_url).replace(f"colab.research.google.com/github/{placeholder_path}",
                                                            f"colab.research.google.com/github/{path}")


def release_notebook(source: Path, target: Path, repo_url: str):
    """Strip a notebook with nbgrader's preprocessors; return its secret lines."""
    import nbformat
    from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, ClearOutput, ClearSolutions
    notebook = nbformat.read(source, as_version=4)
    secret = _notebook_secrets(notebook)
    resources = {}
    stub = {"python": "\n".join(STUB)}
    for preprocessor in (ClearSolutions(code_stub=stub, text_stub="YOUR ANSWER HERE"), ClearHiddenTests(),
                         ClearMarkScheme(), ClearOutput()):
        notebook, resources = preprocessor.preprocess(notebook, resources)
    for cell in notebook.cells:
        cell.source = with_repository(cell.source, repo_url)
    nbformat.write(notebook, target)
    return secret


# -- the bundle -----------------------------------------------------------------------------------

def _copy_tree(source: Path, target: Path, skip) -> None:
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in ("__pycache__", "cache", ".ipynb_checkpoints") or part.startswith(".")
               for part in relative.parts):
            continue
        if path.is_file() and not skip(relative):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / relative)


def _instructor_only(relative: Path) -> bool:
    """Files of grading/ students do not get (dot files, such as the grading secret, never go)."""
    manual_rubric = relative.parts[0] == "assignments" and relative.name == "manual.py"
    return relative.name in INSTRUCTOR_ONLY or relative.parts[0] in INSTRUCTOR_ONLY or manual_rubric


@dataclass
class Release:
    path: Path
    starters: dict  # assignment name -> report of its starter graded with the full rubric


def build(out_dir: Path, repo_url: str = None, check: bool = True) -> Release:
    repo_url = repo_url or REPO_PLACEHOLDER
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / ".kit-release").exists():
            raise ReleaseError(f"{out_dir} is not empty (and not an earlier release); choose a new folder")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ".kit-release").write_text("built by python -m grading release\n")
    (out_dir / ".gitignore").write_text(STUDENT_GITIGNORE)

    secrets = []
    loaded = assignments.load_all()
    (out_dir / "solutions").mkdir(exist_ok=True)
    for module in sorted((KIT_ROOT / "solutions").glob("*.py")):  # graded modules and given helpers
        starter, secret = strip_solutions(module.read_text())
        (out_dir / "solutions" / module.name).write_text(starter)
        secrets += secret
    for assignment in loaded:
        if assignment.notebook:
            (out_dir / "notebooks").mkdir(exist_ok=True)
            secrets += release_notebook(KIT_ROOT / "notebooks" / assignment.notebook,
                                        out_dir / "notebooks" / assignment.notebook, repo_url)

    _copy_tree(KIT_ROOT / "data", out_dir / "data", skip=lambda p: False)
    _copy_tree(KIT_ROOT / "grading", out_dir / "grading", skip=_instructor_only)
    (out_dir / "tests").mkdir(exist_ok=True)
    shutil.copy2(KIT_ROOT / "tests" / "test_public.py", out_dir / "tests" / "test_public.py")
    shutil.copy2(KIT_ROOT / "requirements.txt", out_dir / "requirements.txt")
    readme = (KIT_ROOT / "grading" / "templates" / "STUDENT_README.md").read_text()
    table = "\n".join(f"| {a.title} | `notebooks/{a.notebook}` | `solutions/{a.module}.py` | {a.points:g} |"
                      for a in loaded)
    (out_dir / "README.md").write_text(with_repository(readme.replace("{{ASSIGNMENTS}}", table), repo_url))

    starters = {}
    if check:
        check_release(out_dir, secrets)
        starters = check_starters(out_dir, loaded)
    print(f"release written to {out_dir}")
    return Release(out_dir, starters)


# -- checks after writing -------------------------------------------------------------------------

def _given_lines():
    """Stripped lines the students get anyway: the kit's sources outside solution regions, and the
    notebooks' given cells. A solution line that is also one of these (`fig.tight_layout()`) is
    not a secret."""
    import nbformat
    given = set()
    for path in list((KIT_ROOT / "solutions").glob("*.py")) + list((KIT_ROOT / "data").rglob("*.py")) \
            + list((KIT_ROOT / "grading").rglob("*.py")):
        if path.name == "hidden.py" or (path.name == "manual.py" and path.parent.parent.name == "assignments"):
            continue  # (instructor only: their lines are not given to students)
        starter, _ = strip_solutions(path.read_text())
        given.update(line.strip() for line in starter.splitlines())
    for path in (KIT_ROOT / "notebooks").glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            lines = cell.source.splitlines()
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                if not any("BEGIN SOLUTION" in line for line in lines):
                    continue  # a whole answer cell
                lines = strip_solutions("\n".join(line if "SOLUTION" not in line else line.strip()
                                                   for line in lines))[0].splitlines()
            given.update(line.strip() for line in lines)
    return given


def _released_text(path: Path) -> str:
    if path.suffix == ".ipynb":
        import nbformat
        notebook = nbformat.read(path, as_version=4)
        return "\n".join(cell.source for cell in notebook.cells)
    return path.read_text(errors="replace")


def check_release(out_dir: Path, secrets) -> None:
    """No marker, no solution line and no hidden test anywhere in the bundle."""
    given = _given_lines()
    secret_lines = {line.strip() for line in secrets if len(line.strip()) >= MIN_SECRET_LINE} - given
    problems = []
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(out_dir)
        if path.name == "hidden.py":
            problems.append(f"{relative}: hidden tests in the release")
        if path.suffix not in (".py", ".ipynb", ".md", ".txt"):
            continue
        text = _released_text(path)
        for marker in MARKERS:
            if marker in text:
                problems.append(f"{relative}: marker {marker!r} left")
        present = {line.strip() for line in text.splitlines()} & secret_lines
        problems += [f"{relative}: solution line left: {line!r}" for line in sorted(present)[:5]]
    if problems:
        raise ReleaseError("the release leaks:\n  " + "\n  ".join(problems))


def grade_starters(out_dir: Path, loaded, launcher) -> dict:
    """Each released starter graded with the full (hidden) rubric of the kit."""
    from grading import grader
    reports = {}
    for assignment in loaded:
        starter = out_dir / "solutions" / assignment.solution_path.name
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / starter.name
            shutil.copy(starter, copy)
            reports[assignment.name] = grader.grade(assignment, copy, launcher)
    return reports


def check_starters(out_dir: Path, loaded) -> dict:
    """Every starter imports and scores 0 without breaking the grader."""
    from grading.sandbox import Launcher
    preload = sorted({name for assignment in loaded for name in assignment.preload})
    launcher = Launcher("auto", preload, private=[out_dir.resolve()])
    try:
        reports = grade_starters(out_dir, loaded, launcher)
    finally:
        launcher.close()
    for name, report in reports.items():
        if report.import_error:
            raise ReleaseError(f"the {name} starter does not import: {report.notes}")
        if report.score != 0:
            raise ReleaseError(f"the {name} starter scores {report.score:g}, not 0")
        print(f"  {name}: the starter imports and scores 0/{report.max_score:g}")
    return reports
