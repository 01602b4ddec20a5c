"""Every notebook's set-up cell is the one notebooks/setup_cell.py generates, and it installs
what that notebook imports beyond Colab's packages, and nothing another notebook needs."""
import ast
import re
import sys
from pathlib import Path

import nbformat
import pytest

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT_ROOT / "notebooks"))

import setup_cell  # noqa: E402

# what a Colab runtime has (the imports the kit uses among them)
COLAB = {"torch", "torchvision", "numpy", "scipy", "matplotlib", "PIL", "tqdm", "IPython", "ipywidgets",
         "google", "nbformat", "requests", "pandas", "sklearn", "papermill"}
# pip name -> the name the notebook's code imports (None: needed by a library, not imported: pycocotools
# by torchvision's CocoCaptions, torch-fidelity by torchmetrics' FID, ipywidgets by tqdm's bars, fpdf2
# and markdown-it-py by the report cell)
IMPORT_NAMES = {"nibabel": "nibabel", "pycocotools": None, "pycocoevalcap": "pycocoevalcap", "einops": "einops",
                "torchmetrics": "torchmetrics", "torch-fidelity": None, "ipywidgets": None, "fpdf2": None,
                "markdown-it-py": None}
KIT = {"data", "grading", "solutions", "benchmarks", "runs"} | {p.stem for p in (KIT_ROOT / "solutions").glob("*.py")}


def imports_of(source: str) -> set:
    source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def notebook_imports(name: str) -> set:
    """Top-level packages imported by the notebook's cells (the set-up cell aside), the solution
    modules it imports and the data modules those reach."""
    notebook = nbformat.read(KIT_ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    first = setup_cell.setup_cell_index(notebook)
    seen, found = set(), set()
    pending = [cell.source for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and i != first]
    while pending:
        for imported in imports_of(pending.pop()):
            found.add(imported.split(".")[0])
            for path in (KIT_ROOT / "solutions" / f"{imported}.py", KIT_ROOT / (imported.replace(".", "/") + ".py")):
                if path.is_file() and path not in seen and path.parent.name in ("solutions", "data"):
                    seen.add(path)
                    pending.append(path.read_text())
    return found


@pytest.mark.parametrize("name", sorted(setup_cell.EXTRAS))
def test_the_set_up_cell_is_generated_and_installs_what_the_notebook_imports(name):
    notebook = nbformat.read(KIT_ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    cell = notebook.cells[setup_cell.setup_cell_index(notebook)]
    assert cell.source == setup_cell.cell_source(name), "run: python notebooks/setup_cell.py"
    packages = setup_cell.packages(name)
    installed = {IMPORT_NAMES[re.split(r"[<>=]", spec)[0]] for spec in packages} - {None}
    imported = notebook_imports(name) - set(sys.stdlib_module_names) - KIT - COLAB
    assert imported <= installed, f"{name} imports {sorted(imported - installed)} but does not install it"
    assert installed <= imported, f"{name} installs {sorted(installed - imported)} that it never imports"
    assert "requirements.txt\"]" not in cell.source  # not every extra of every notebook


def test_every_notebook_has_its_extras_declared():
    assert set(setup_cell.EXTRAS) == {p.stem for p in (KIT_ROOT / "notebooks").glob("*.ipynb")}


def test_the_set_up_cell_pulls_on_a_re_run_and_explains_a_failed_clone():
    source = setup_cell.cell_source("ddpm_svhn")
    assert '"pull", "--ff-only"' in source and "token" in source and "kit.zip" in source
    compile(source.replace("%", "#"), "setup", "exec")
