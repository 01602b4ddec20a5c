"""What students hand in: a .py of any name, a notebook, a folder or a zip."""
import json
import stat
import zipfile

import pytest

from conftest import reference_source
from grading import submission

NAMES = ("trainer_solution.py", "solution.py")


def notebook(cells) -> str:
    return json.dumps({"cells": [{"cell_type": kind, "source": source, "metadata": {}} for kind, source in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_a_py_file_of_any_name(tmp_path):
    path = tmp_path / "my homework (final) v2.py"
    path.write_text("x = 1\n")
    assert submission.load(path, NAMES).source == b"x = 1\n"


def test_a_notebook_keeps_code_and_drops_magics_shell_and_markdown(tmp_path):
    path = tmp_path / "work.ipynb"
    path.write_text(notebook([("markdown", "# title"),
                              ("code", ["%load_ext autoreload\n", "x = 1\n", "!pip install foo"]),
                              ("code", "%%bash\necho hi"), ("code", "  %time y = 2\ny = 3")]))
    source = submission.load(path, NAMES).source.decode()
    assert "x = 1" in source and "y = 3" in source
    assert "%" not in source and "pip" not in source and "echo" not in source and "# title" not in source
    compile(source, "nb", "exec")


def test_a_broken_notebook_is_reported(tmp_path):
    path = tmp_path / "work.ipynb"
    path.write_text("{not json")
    with pytest.raises(submission.NoSubmission, match="notebook could not be read"):
        submission.load(path, NAMES)


def test_a_folder_prefers_the_assignment_file_name(tmp_path):
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    (tmp_path / "helper.py").write_text("helper = 1\n")
    (tmp_path / "nested" / "deeper" / "solution.py").write_text("answer = 1\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "trainer_solution.py").write_text("stale = 1\n")
    found = submission.load(tmp_path, NAMES)
    assert found.source == b"answer = 1\n" and "solution.py" in found.origin


def test_a_folder_with_several_candidates_says_which_name_to_use(tmp_path):
    (tmp_path / "a.py").write_text("")
    (tmp_path / "b.py").write_text("")
    with pytest.raises(submission.NoSubmission, match="several .py files.*trainer_solution.py"):
        submission.load(tmp_path, NAMES)


def test_a_zip_is_extracted_safely(tmp_path):
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("hw3/trainer_solution.py", reference_source("trainer"))
        bundle.writestr("../../escape.py", "evil = 1\n")
        bundle.writestr("/abs.py", "evil = 1\n")
        link = zipfile.ZipInfo("hw3/link.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        bundle.writestr(link, "/etc/passwd")
    found = submission.load(archive, NAMES)
    assert found.source.decode() == reference_source("trainer")
    assert not (tmp_path.parent / "escape.py").exists()


def test_not_a_zip_and_nothing_to_grade(tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_text("not a zip")
    with pytest.raises(submission.NoSubmission, match="not a valid zip"):
        submission.load(fake, NAMES)
    (tmp_path / "empty").mkdir()
    with pytest.raises(submission.NoSubmission, match="no .py or .ipynb"):
        submission.load(tmp_path / "empty", NAMES)
    with pytest.raises(FileNotFoundError):
        submission.load(tmp_path / "missing.py", NAMES)


def test_a_notebook_submission_is_graded(grade, tmp_path):
    cells = [("code", "%matplotlib inline"), ("code", reference_source("trainer"))]
    report = grade("trainer", notebook(cells), file_name="homework.ipynb")
    assert report.score == 35


def test_an_unusable_submission_gets_zero_and_a_message(grade, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("I did not finish")
    report = grade("trainer", path)
    assert report.score == 0
    assert "hand in a .py file" in report.notes[0]
