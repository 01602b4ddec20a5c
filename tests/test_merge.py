"""grading.merge: autograded and manual scores combined by student, every bad value a one-line error."""
import csv

import pytest

from grading.merge import MergeError, command, merge

GRADES = """student,Q1 sample,Q2 kl,total,problem,vae-3a (2 pts)
alice,1,2,3,,
bob,0.5,0,0.5,,
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_filled_gradebook_columns_are_merged_into_totals(tmp_path):
    grades = write(tmp_path, "grades.csv", GRADES)
    manual = write(tmp_path, "manual.csv", "student,vae-3a (2 pts),vae-3b (2 pts)\nbob,1,2\nalice,2,0.5\n")
    merge(grades, manual, tmp_path / "final.csv")
    rows = read(tmp_path / "final.csv")
    assert [r["student"] for r in rows] == ["alice", "bob"]
    alice = rows[0]
    assert (alice["Q1 sample"], alice["autograded"], alice["vae-3a (2 pts)"], alice["manual"], alice["total"]) == \
        ("1", "3", "2", "2.5", "5.5")
    assert list(rows[0])[-3:] == ["manual", "total", "problem"]


def test_gradescope_export_matches_students_by_sid(tmp_path):
    grades = write(tmp_path, "grades.csv", GRADES)
    export = write(tmp_path, "scores.csv",
                   "Name,SID,Email,Total Score,Max Points,Status,1: 3(a) Wall-clock time (2.0 pts),"
                   "2: 3(b) Samples (2.0 pts)\n"
                   "Alice A,alice,a@x.org,3,4,Graded,2.0,1.0\nBob B,bob,b@x.org,1,4,Graded,0.0,1.0\n")
    merge(grades, export, tmp_path / "final.csv")
    rows = read(tmp_path / "final.csv")
    assert rows[1]["1: 3(a) Wall-clock time (2.0 pts)"] == "0" and rows[1]["total"] == "1.5"


@pytest.mark.parametrize("manual, message", [
    ("student,vae-3a (2 pts)\nalice,2\nbob,\n", "manual.csv line 3, column 'vae-3a (2 pts)': no value"),
    ("student,vae-3a (2 pts)\nalice,2\nbob,two\n", "manual.csv line 3, column 'vae-3a (2 pts)': 'two' is not a number"),
    ("student,vae-3a (2 pts)\nalice,3\nbob,1\n", "manual.csv line 2, column 'vae-3a (2 pts)': 3 is outside 0..2"),
    ("student,vae-3a (2 pts)\nalice,2\n", "manual.csv: no row for student 'bob'"),
    ("student,vae-3a (2 pts)\nalice,2\nbob,1\ncarol,1\n", "manual.csv line 4: student 'carol' is not in grades.csv"),
    ("student,vae-3a (2 pts)\nalice,2\nalice,1\nbob,1\n", "manual.csv line 3: student 'alice' appears twice"),
    ("student,score\nalice,2\nbob,1\n", "manual.csv: no score column"),
    ("who,vae-3a (2 pts)\nalice,2\n", "manual.csv: no student column"),
    ("student,vae-3a (2 pts),x\nalice,2,1,9\n", "manual.csv line 2: more values than columns"),
])
def test_bad_manual_values_are_one_line_errors_naming_row_and_column(tmp_path, manual, message):
    grades = write(tmp_path, "grades.csv", GRADES)
    with pytest.raises(MergeError) as error:
        merge(grades, write(tmp_path, "manual.csv", manual), tmp_path / "final.csv")
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "final.csv").exists()


def test_bad_gradebook_values_and_files(tmp_path):
    manual = write(tmp_path, "manual.csv", "student,vae-3a (2 pts)\nalice,2\nbob,1\n")
    broken = write(tmp_path, "grades.csv", GRADES.replace("bob,0.5,0,", "bob,0.5,,"))
    with pytest.raises(MergeError, match="grades.csv line 3, column 'Q2 kl': no value"):
        merge(broken, manual, tmp_path / "final.csv")
    with pytest.raises(MergeError, match="not a gradebook"):
        merge(write(tmp_path, "other.csv", "a,b\n1,2\n"), manual, tmp_path / "final.csv")
    with pytest.raises(MergeError, match="no such file"):
        merge(tmp_path / "missing.csv", manual, tmp_path / "final.csv")


def test_command_exit_status_and_default_output(tmp_path, capsys):
    grades = write(tmp_path, "grades.csv", GRADES)
    assert command(str(grades), str(write(tmp_path, "manual.csv", "student,vae-3a (2 pts)\nalice,2\nbob,1\n"))) == 0
    assert (tmp_path / "grades-final.csv").exists()
    assert command(str(grades), str(write(tmp_path, "bad.csv", "student,vae-3a (2 pts)\nalice,x\nbob,1\n"))) == 2
    assert capsys.readouterr().err.strip().startswith("error: bad.csv line 2")
