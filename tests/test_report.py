"""The report half: tagged report items in every notebook, the PDF built from a student's notebook
(read back with pypdf), its checks, one PDF per student, and the manual rubrics."""
import base64
import copy
import io
import os
import zipfile
from datetime import datetime, timezone

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image

from conftest import KIT_ROOT
from grading import assignments, manual, pdf_report, release

NOTEBOOKS = [a for a in (assignments.load(name) for name in assignments.names()) if a.notebook]


def png(seed: int) -> str:
    """A real PNG (base64), different for every seed (the PDF embeds identical images once)."""
    image = Image.new("RGB", (320, 200), (seed * 40 % 256, 90, 200 - seed * 30 % 200))
    image.putpixel((seed % 320, 7), (0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def answer_cell(grade_id, title, points, text):
    cell = new_markdown_cell(text)
    cell.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False, "task": False,
                                 "grade_id": grade_id, "points": points, "schema_version": 3}
    cell.metadata["kit"] = {"item": grade_id, "title": title}
    return cell


def tagged(cell, item, role, caption=""):
    cell.metadata["kit"] = {"item": item, "role": role, "caption": caption}
    return cell


def drawn(cell, seed, printed=""):
    cell.execution_count = seed
    cell.outputs = [new_output("display_data", data={"image/png": png(seed), "text/plain": "<Figure>"})]
    if printed:
        cell.outputs.append(new_output("stream", name="stdout", text=printed))
    return cell


def small_notebook():
    """Two items in the real format: the first with two figures, the second with none."""
    parameters = new_code_cell("QUICK = False\nEPOCHS = 3")
    parameters.metadata["tags"] = ["parameters"]
    parameters.execution_count = 1
    return new_notebook(cells=[
        new_markdown_cell("# A small assignment"),
        parameters,
        drawn(tagged(new_code_cell("plt.plot(x)"), "q-one", "figure", "The loss per epoch."), 2, "final loss 0.25"),
        drawn(tagged(new_code_cell("plt.imshow(y)"), "q-one", "figure", "Some samples."), 3),
        tagged(new_markdown_cell("**Question one.** Why does the loss fall?"), "q-one", "question"),
        answer_cell("q-one", "Q1: the loss", 2, "Because the optimizer follows the gradient downhill."),
        tagged(new_markdown_cell("**Question two.** What is a VAE?"), "q-two", "question"),
        answer_cell("q-two", "Q2: the VAE", 3, "A latent variable model trained on the ELBO."),
    ])


def pdf_text(path) -> str:
    import pypdf
    return " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(path).pages).split())


def pdf_pages(path):
    import pypdf
    return pypdf.PdfReader(path).pages


def image_count(path) -> int:
    return sum(len(page.images) for page in pdf_pages(path))


def test_small_notebook_gives_one_page_per_item_with_question_answer_and_figures(tmp_path):
    report = pdf_report.build(small_notebook(), tmp_path / "r.pdf", name="small.ipynb", module=None)
    text = pdf_text(report.path)
    assert report.warnings == []
    assert "Question one. Why does the loss fall?" in text and "follows the gradient downhill" in text
    assert "Question two. What is a VAE?" in text and "trained on the ELBO" in text
    assert "Figure 1.1. The loss per epoch." in text and "final loss 0.25" in text
    assert image_count(report.path) == 2
    assert report.pages == len(pdf_pages(report.path)) == 1 + 2  # the cover, then one page per item
    second = pdf_pages(report.path)[2].extract_text()
    assert "Q2: the VAE" in second and "Q1: the loss" not in second  # each item starts a new page
    assert "plt.plot(x)" not in text
    with_code = pdf_report.build(small_notebook(), tmp_path / "c.pdf", code=True, module=None)
    assert "plt.plot(x)" in pdf_text(with_code.path)


def test_missing_figure_and_empty_answers_are_warned_on_the_cover(tmp_path):
    notebook = small_notebook()
    notebook.cells[3].outputs = []  # the second figure was not drawn
    notebook.cells[7].source = "YOUR ANSWER HERE"
    notebook.cells[5].source = "  "
    report = pdf_report.build(notebook, tmp_path / "r.pdf", module=None)
    assert len(report.warnings) == 3
    assert any(w.startswith("q-one: the figure 'Some samples.' was not drawn") for w in report.warnings)
    assert "q-two: the answer cell still holds 'YOUR ANSWER HERE'" in report.warnings
    assert "q-one: the answer cell is empty" in report.warnings
    cover = " ".join(pdf_pages(report.path)[0].extract_text().split())
    assert "Checks: 3 warnings" in cover and "was not drawn" in cover and "YOUR ANSWER HERE" in cover
    assert image_count(report.path) == 1 and report.pages == 3  # the export still happens


def test_quick_mode_not_executed_and_stale_runs_are_warned(tmp_path):
    quick = small_notebook()
    injected = new_code_cell("# Parameters\nQUICK = True\n")
    injected.metadata["tags"] = ["injected-parameters"]  # papermill's cell comes after the parameters cell
    quick.cells.insert(2, injected)
    assert any("QUICK = True" in w for w in pdf_report.build(quick, tmp_path / "q.pdf", module=None).warnings)

    blank = small_notebook()
    for cell in blank.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    warnings = pdf_report.build(blank, tmp_path / "b.pdf", module=None).warnings
    assert warnings == ["the notebook was not executed: no cell has an output, so the report has no figure"]

    module = tmp_path / "x_solution.py"
    module.write_text("x = 1\n")
    stale = small_notebook()
    stale.cells[2].metadata["execution"] = {"shell.execute_reply": "2020-01-01T10:00:00.000000Z"}
    stale.cells[3].metadata["papermill"] = {"end_time": datetime.now(timezone.utc).isoformat()}
    os.utime(module, (datetime(2021, 1, 1).timestamp(),) * 2)
    warnings = pdf_report.build(stale, tmp_path / "s.pdf", module=module).warnings
    assert len(warnings) == 1 and warnings[0].startswith("stale run: x_solution.py was edited at")
    assert "after the figures of q-one were drawn" in warnings[0]


def test_markdown_and_math_are_rendered(tmp_path):
    notebook = small_notebook()
    notebook.cells[5].source = ("**Bold** and *italic*, `code`, a list:\n\n- first point\n- second point\n\n"
                                "inline $\\sigma^2 = \\exp(\\log \\sigma^2)$ and display:\n\n"
                                "$$\\mathrm{KL}(q \\| p) = \\frac{1}{2} \\sum_j (\\mu_j^2 + \\sigma_j^2 - 1)$$\n")
    report = pdf_report.build(notebook, tmp_path / "m.pdf", module=None)
    text = pdf_text(report.path)
    assert "Bold and italic, code, a list:" in text and "first point" in text and "$" not in text
    assert image_count(report.path) == 2 + 2  # the two figures and the two equations, drawn by mathtext


@pytest.fixture(scope="module")
def released_vae(tmp_path_factory):
    """The student version of the real vae notebook (the release's nbgrader preprocessors)."""
    target = tmp_path_factory.mktemp("student") / "vae_svhn.ipynb"
    release.release_notebook(KIT_ROOT / "notebooks" / "vae_svhn.ipynb", target, release.REPO_PLACEHOLDER)
    return nbformat.read(target, as_version=4)


def test_a_released_notebook_filled_by_a_student(released_vae, tmp_path):
    notebook = copy.deepcopy(released_vae)
    answers = [c for c in notebook.cells if pdf_report.is_answer(c)]
    assert answers and all(c.source == "YOUR ANSWER HERE" for c in answers)  # the release cleared them
    figures = [c for c in notebook.cells if c.metadata.get("kit", {}).get("role") in ("figure", "output")]
    for k, cell in enumerate(answers):
        cell.source = f"Student answer number {k}: the figure shows what I expected."
    for k, cell in enumerate(figures, 1):
        drawn(cell, k)
    report = pdf_report.build(notebook, tmp_path / "vae.pdf", name="vae_svhn.ipynb")
    assert report.warnings == []
    text = pdf_text(report.path)
    items = pdf_report.read_items(notebook)
    assert [i.grade_id for i in items] == [c.metadata.nbgrader.grade_id for c in answers]
    for k, item in enumerate(items):
        assert item.title in text and f"Student answer number {k}:" in text
        assert " ".join(item.question.replace("**", "").split())[:60] in text
    assert image_count(report.path) == len(figures)
    assert report.pages == 1 + len(items)


def test_a_released_notebook_left_blank_warns_per_item(released_vae, tmp_path):
    notebook = copy.deepcopy(released_vae)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.execution_count = 1  # executed, but no figure drawn
    report = pdf_report.build(notebook, tmp_path / "blank.pdf", module=None)
    assert "vae-3a: the answer cell still holds 'YOUR ANSWER HERE'" in report.warnings
    assert any(w.startswith("vae-3e: the figure 'Mean posterior mean") and "was not drawn" in w
               for w in report.warnings)


@pytest.mark.parametrize("assignment", NOTEBOOKS, ids=[a.name for a in NOTEBOOKS])
def test_every_notebook_tags_its_items_and_matches_its_manual_rubric(assignment):
    from nbgrader.nbgraderformat import MetadataValidator
    notebook = nbformat.read(KIT_ROOT / "notebooks" / assignment.notebook, as_version=4)
    MetadataValidator().validate_nb(notebook)  # nbgrader's own rules (schema 3)
    items = pdf_report.read_items(notebook)
    assert items and all(item.question and item.title != item.grade_id for item in items)
    assert manual.notebook_mismatches(assignment.name, notebook) == []
    assert any("report_from_notebook" in cell.source for cell in notebook.cells[-2:])
    readme = manual.gradescope_readme(assignment.name)
    positions = [readme.index(f"[{item.grade_id}]") for item in manual.items(assignment.name)]
    assert positions == sorted(positions)


def test_manual_rubric_points_and_columns():
    assert manual.total_points("vae") == 20 and manual.total_points("ddpm") == 14
    assert manual.total_points("simsiam") == 34 and manual.total_points("trainer") == 20
    assert manual.columns("vae")[0] == "vae-3a (2 pts)"
    assert manual.items("no-such-assignment") == []


def test_build_reports_handles_files_folders_zips_and_junk(tmp_path):
    submissions = tmp_path / "submissions"
    (submissions / "carol").mkdir(parents=True)
    nbformat.write(small_notebook(), submissions / "alice.ipynb")
    nbformat.write(small_notebook(), submissions / "carol" / "work.ipynb")
    with zipfile.ZipFile(submissions / "bob.zip", "w") as bundle:
        bundle.writestr("hw/notebook.ipynb", nbformat.writes(small_notebook()))
    (submissions / "dave.ipynb").write_text("{not json")
    (submissions / "erin.py").write_text("print(1)\n")
    (submissions / "frank.zip").write_bytes(b"not a zip")
    outcomes = pdf_report.build_reports(sorted(submissions.iterdir()), tmp_path / "reports")
    by_student = {o.student: o for o in outcomes}
    for student in ("alice", "bob", "carol"):
        assert by_student[student].pdf.exists() and not by_student[student].error
    assert "no readable notebook" in by_student["dave"].error
    assert by_student["erin"].error == "no .ipynb notebook in the submission"
    assert by_student["frank"].error.startswith("BadZipFile")
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["alice.pdf", "bob.pdf", "carol.pdf"]


def test_command_line(tmp_path, capsys):
    nbformat.write(small_notebook(), tmp_path / "n.ipynb")
    assert pdf_report.command(str(tmp_path / "n.ipynb"), str(tmp_path / "out.pdf")) == 0
    assert (tmp_path / "out.pdf").exists() and "3 pages, 2 questions" in capsys.readouterr().out
    assert pdf_report.command(str(tmp_path / "missing.ipynb"), str(tmp_path / "x.pdf")) == 2
    (tmp_path / "bad.ipynb").write_text("[]")
    assert pdf_report.command(str(tmp_path / "bad.ipynb"), str(tmp_path / "x.pdf")) == 2
