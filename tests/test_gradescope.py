"""The Gradescope autograder zip, run the way Gradescope runs it (in a folder standing for /autograder)."""
import json
import os
import subprocess
import sys
import zipfile

from conftest import reference_source, replace_solution
from grading import assignments, gradescope


def test_the_zip_grades_a_submission_into_results_json(tmp_path):
    bundle = gradescope.build(assignments.load("trainer"), tmp_path / "autograder.zip")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        archive.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "requirements.txt", "solutions/trainer_solution.py",
            "grading/assignments/trainer/hidden.py"} <= set(names)
    assert not any("__pycache__" in name or name.startswith("tests/") for name in names)
    setup = (root / "source" / "setup.sh").read_text()
    assert "download.pytorch.org/whl/cpu" in setup

    (root / "submission").mkdir()
    wrong = replace_solution(reference_source("trainer"), "one_hot", "return torch.nn.functional.one_hot(y)")
    (root / "submission" / "hw3.py").write_text(wrong)
    script = root / "source" / "run_autograder"
    os.chmod(script, 0o755)
    environment = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
    run = subprocess.run([str(script)], env=environment, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 34  # the hidden check of one_hot fails (labels up to 6 of 10 classes)
    assert [t["score"] for t in results["tests"] if t["name"] == "Q7 one_hot"] == [1]
    assert os.stat(root / "source").st_mode & 0o077 == 0  # the kit was made private first
