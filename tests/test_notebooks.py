"""Every instructor notebook runs end to end in quick mode, with its figures (papermill)."""
import nbformat
import pytest

from grading import assignments
from grading.quickrun import run_quick

NOTEBOOKS = [assignments.load(name) for name in assignments.names() if assignments.load(name).notebook]


@pytest.mark.parametrize("assignment", NOTEBOOKS, ids=[a.name for a in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(assignment, tmp_path):
    run = run_quick(assignment.notebook, tmp_path)
    assert run.ok, run.error
    assert run.figures >= assignment.quick_figures
    executed = nbformat.read(run.output, as_version=4)
    assert any("QUICK = True" in cell.source for cell in executed.cells)  # papermill's injected parameters
    errors = [o for c in executed.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
