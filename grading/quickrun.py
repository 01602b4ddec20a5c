"""Execute an instructor notebook in quick mode (papermill's `parameters` cell: QUICK = True)."""
import time
from dataclasses import dataclass
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class NotebookRun:
    notebook: str
    output: Path
    seconds: float
    figures: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def count_figures(path: Path) -> int:
    import nbformat
    notebook = nbformat.read(path, as_version=4)
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", []))


def run_quick(notebook: str, out_dir: Path, timeout: int = 1200) -> NotebookRun:
    """Run notebooks/<notebook> with QUICK = True into out_dir/<notebook>, figures included."""
    import papermill
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / notebook
    started = time.monotonic()
    error = ""
    try:
        papermill.execute_notebook(str(KIT_ROOT / "notebooks" / notebook), str(output), parameters={"QUICK": True},
                                   cwd=str(KIT_ROOT), kernel_name="python3", progress_bar=False,
                                   execution_timeout=timeout)
    except papermill.PapermillExecutionError as failure:
        error = f"cell {failure.exec_count}: {failure.ename}: {failure.evalue}"
    figures = count_figures(output) if output.exists() else 0
    return NotebookRun(notebook, output, time.monotonic() - started, figures, error)
