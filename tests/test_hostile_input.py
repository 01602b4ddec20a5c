"""Bad input gets a report, never a traceback: malformed notebooks and zips, hostile names and
messages, huge replies. Each gives "nothing gradable: <reason>" or grades what is there."""
import json
import os
import struct
import subprocess
import sys
import zipfile

import pytest

from conftest import KIT_ROOT, TEST_LIMITS, reference_source
from grading import results, submission
from grading.submission import NoSubmission

FILE_NAMES = ("trainer_solution.py",)


@pytest.mark.parametrize("text, reason", [
    ('{"cells": 3}', "not a list"),
    ('{"cells": [{"cell_type": "code", "source": [1, 2]}]}', "not text"),
    ("[" * 100_000 + "]" * 100_000, "not valid"),
    ('{"nbformat": 4}', "no cells"),
    ("[]", "not a notebook"),
])
def test_malformed_notebooks_are_nothing_gradable(tmp_path, text, reason):
    path = tmp_path / "work.ipynb"
    path.write_text(text)
    with pytest.raises(NoSubmission, match=reason):
        submission.load(path, FILE_NAMES)


def test_a_format_3_notebook_is_converted(tmp_path):
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps({"nbformat": 3, "worksheets": [{"cells": [
        {"cell_type": "markdown", "source": "# title"}, {"cell_type": "code", "input": ["x = 1\n", "y = x + 1\n"]}]}]}))
    assert "y = x + 1" in submission.load(path, FILE_NAMES).source.decode()


def test_a_time_cell_magic_keeps_its_body_and_shell_lines_become_pass(tmp_path):
    path = tmp_path / "work.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "cells": [
        {"cell_type": "code", "source": "%%time\ndef kept():\n    return 1\n"},
        {"cell_type": "code", "source": "%%bash\nrm -rf /\n"},
        {"cell_type": "code", "source": "if True:\n    !pip install thing\n    %matplotlib inline\nz = 3\n"}]}))
    source = submission.load(path, FILE_NAMES).source.decode()
    assert "def kept()" in source and "rm -rf" not in source
    compile(source, "notebook", "exec")


def test_a_py_exported_with_ipython_lines_still_grades(grade):
    source = "!pip install torchvision\n%load_ext autoreload\n" + reference_source("trainer")
    report = grade("trainer", source)
    assert report.score == 35
    assert any("line(s) 1, 2" in note for note in report.notes)


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in members:
            bundle.writestr(name, data)
    return path


def test_a_zip_with_a_file_and_a_folder_of_the_same_name_grades_what_is_there(tmp_path):
    path = _zip(tmp_path / "a.zip", [("work", b"x"), ("work/trainer_solution.py", b"x = 1\n"), ("b.py", b"y = 2\n")])
    picked = submission.load(path, FILE_NAMES)
    assert picked.source == b"y = 2\n" and "could not extract" in picked.notes[0]


def test_an_encrypted_member_is_reported(tmp_path):
    path = _zip(tmp_path / "a.zip", [("trainer_solution.py", b"x = 1\n")])
    data = bytearray(path.read_bytes())
    for offset in (6, data.rfind(b"PK\x01\x02") + 8):  # the encrypted flag, in both headers
        data[offset] |= 1
    path.write_bytes(data)
    with pytest.raises(NoSubmission, match="holds no .py"):
        submission.load(path, FILE_NAMES)


def test_an_unsupported_compression_method_is_reported(tmp_path):
    path = _zip(tmp_path / "a.zip", [("trainer_solution.py", b"x = 1\n")])
    data = bytearray(path.read_bytes())
    for offset in (8, data.rfind(b"PK\x01\x02") + 10):
        data[offset:offset + 2] = struct.pack("<H", 99)
    path.write_bytes(data)
    with pytest.raises(NoSubmission):
        submission.load(path, FILE_NAMES)


def test_a_corrupt_stream_is_reported(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("trainer_solution.py", b"x = 1\n" * 1000)
    data = bytearray(path.read_bytes())
    data[40:60] = b"\xff" * 20  # inside the deflate stream
    path.write_bytes(data)
    with pytest.raises(NoSubmission):
        submission.load(path, FILE_NAMES)


def test_over_long_and_undecodable_member_names_are_skipped(tmp_path):
    path = _zip(tmp_path / "a.zip", [("x" * 300 + "/a.py", b"x = 1\n"), ("ok/trainer_solution.py", b"y = 2\n")])
    data = path.read_bytes().replace(b"ok/trainer", b"\xff\xfe/trainer")
    (tmp_path / "b.zip").write_bytes(data)
    for archive in (path, tmp_path / "b.zip"):
        try:
            picked = submission.load(archive, FILE_NAMES)
        except NoSubmission as problem:
            assert "zip" in str(problem)
        else:
            assert picked.source in (b"y = 2\n", b"x = 1\n")


def test_a_lone_surrogate_and_terminal_escapes_in_messages_are_made_safe(grade, capsys):
    body = 'raise ValueError("\\ud800 \\x1b[2J\\x1b[31m" + "A" * 100000)'
    from conftest import replace_solution
    report = grade("trainer", replace_solution(reference_source("trainer"), "gradient_norm", body))
    text = results.table(report)
    text.encode("utf-8")  # (would raise on a lone surrogate)
    assert "\x1b" not in text and "\\x1b" in text
    assert len(json.dumps(results.gradescope(report))) < 100_000


def test_csv_cells_are_never_formulas():
    assert results.csv_cell("=HYPERLINK(\"http://x\")").startswith("'=")
    assert results.csv_cell("+1") == "'+1" and results.csv_cell("@SUM") == "'@SUM"
    assert results.csv_cell("alice") == "alice"


def test_results_are_written_through_no_symlink(tmp_path):
    target = tmp_path / "victim.txt"
    target.write_text("untouched")
    link = tmp_path / "results.json"
    link.symlink_to(target)
    results.write_safely(link, "{}")
    assert target.read_text() == "untouched" and not link.is_symlink() and link.read_text() == "{}"


def test_batch_survives_undecodable_and_hostile_folder_names(tmp_path):
    students = tmp_path / "students"
    students.mkdir()
    names = [b"\xff\xfebad", b"=cmd|'calc'!A1", b"<script>x"]
    for name in names:
        folder = os.path.join(os.fsencode(students), name)
        os.mkdir(folder)
        with open(os.path.join(folder, b"trainer_solution.py"), "w") as f:
            f.write("x = 1\n")
    csv_path = tmp_path / "grades.csv"
    run = subprocess.run([sys.executable, "-m", "grading", "batch", "trainer", str(students), "--csv", str(csv_path),
                          "--time-limit", "60"], cwd=KIT_ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    rows = csv_path.read_text().splitlines()
    assert len(rows) == 1 + len(names)
    assert any(row.startswith("'=cmd") for row in rows)


def test_a_huge_reply_costs_the_grader_little_memory(grade):
    """A 61 MB frame whose header lists 30 million numbers is refused before it becomes objects
    (decoded, it would cost the grader over a gigabyte; Gradescope has 768 MB)."""
    import resource
    flood = """
import os, struct
_header = b"[" + b"0," * 30_000_000 + b"0]"
_message = b"KITW" + struct.pack("<I", len(_header)) + _header
os.write(4, struct.pack("<Q", len(_message)) + _message)
"""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = grade("trainer", reference_source("trainer") + flood, limits=TEST_LIMITS)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert report.score == 0 and "header" in report.import_error
    assert grown < 300, f"the grader grew by {grown:.0f} MB"
