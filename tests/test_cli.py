"""The command line: `python -m grading list|grade|batch` as instructors and other tools call it."""
import csv
import json
import re
import subprocess
import sys

from conftest import KIT_ROOT, reference_source, replace_solution, starter_source


def run(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "grading", *map(str, args)], cwd=KIT_ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_list_shows_assignments_and_points():
    result = run("list", "-v")
    assert result.returncode == 0
    assert "trainer" in result.stdout and "35 points" in result.stdout
    assert "Q10 training_step" in result.stdout


def test_usage_errors_exit_2_with_one_line(tmp_path):
    unknown = run("grade", "no-such-assignment", tmp_path)
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "unknown assignment" in unknown.stderr
    missing = run("grade", "trainer", tmp_path / "missing.py")
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert run("batch", "trainer", tmp_path / "nowhere", "--csv", tmp_path / "g.csv").returncode == 2
    assert run("grade").returncode == 2


def test_grade_prints_the_table_and_writes_results_json(tmp_path):
    submission = tmp_path / "anything.py"
    submission.write_text(reference_source("trainer"))
    result = run("grade", "trainer", submission, "--results", tmp_path / "r.json")
    assert result.returncode == 0, result.stderr
    assert re.search(r"Total\s+35/35", result.stdout)
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["score"] == 35 and len(data["tests"]) == 11 and data["tests"][3]["name"] == "Q4 create_mlp"


def test_batch_grades_a_folder_in_parallel_into_a_gradebook(tmp_path):
    folder = tmp_path / "submissions"
    (folder / "bob").mkdir(parents=True)
    (folder / "alice.py").write_text(reference_source("trainer"))
    (folder / "bob" / "solution.py").write_text(starter_source("trainer"))
    (folder / "carol.zip").write_text("this is not a zip")
    spy = f"""
        namespace = {{}}
        exec(open("{folder / 'alice.py'}").read(), namespace)  # another student's work
        return namespace["gradient_norm"](function, *tensor_list)
        """
    (folder / "dave.py").write_text(replace_solution(reference_source("trainer"), "gradient_norm", spy))
    result = run("batch", "trainer", folder, "--csv", tmp_path / "grades.csv", "--jobs", "2",
                 "--results-dir", tmp_path / "results")
    assert result.returncode == 0, result.stderr
    rows = {row["student"]: row for row in csv.DictReader(open(tmp_path / "grades.csv"))}
    assert list(rows["alice"])[:3] == ["student", "Q1 gradient_norm", "Q2 jacobian_norm"]
    assert rows["alice"]["total"] == "35" and rows["bob"]["total"] == "0" and rows["carol"]["total"] == "0"
    assert rows["dave"]["total"] == "32" and rows["dave"]["Q1 gradient_norm"] == "0"
    assert "zip" in json.loads((tmp_path / "results" / "carol.json").read_text())["output"]
