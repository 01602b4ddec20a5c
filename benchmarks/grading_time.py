"""Grading time and memory per submission, on one CPU core. Writes benchmarks/results/grading_time.json.

    python benchmarks/grading_time.py [--assignment trainer] [--repeats 5]

Three measurements, in the same run:
- cold: the whole `python -m grading grade` command pinned to one core (taskset), as Gradescope runs
  it for one submission: interpreter, fork server, reference, sandbox, every check;
- warm: one more submission through a running grader (what `batch` pays per student);
- baseline: what a grader without the fork server pays per submission, a fresh interpreter
  importing the assignment's libraries, plus the warm checks; the speed-up is baseline / warm.
Peak memory is the largest resident set of any one process of the cold command's tree.
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT_ROOT))

import torch  # noqa: E402

from benchmarks.results_file import write_result  # noqa: E402
from grading import assignments, grader  # noqa: E402
from grading.sandbox import Launcher  # noqa: E402


def one_core(command):
    return (["taskset", "-c", "0"] if shutil.which("taskset") else []) + command


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default="trainer")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    assignment = assignments.load(args.assignment)

    with tempfile.TemporaryDirectory() as folder:
        submission = Path(folder) / "submission.py"
        shutil.copy(assignment.solution_path, submission)

        started = time.monotonic()
        cold = subprocess.run(one_core([sys.executable, "-m", "grading", "grade", assignment.name, str(submission)]),
                              cwd=KIT_ROOT, capture_output=True, text=True)
        cold_seconds = time.monotonic() - started
        peak_megabytes = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        assert cold.returncode == 0, cold.stderr

        imports = "; ".join(f"import {name}" for name in assignment.preload)
        started = time.monotonic()
        subprocess.run(one_core([sys.executable, "-c", imports]), check=True)
        fresh_interpreter_seconds = time.monotonic() - started

        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        launcher = Launcher("auto", assignment.preload)
        started = time.monotonic()
        launcher.start()
        server_start_seconds = time.monotonic() - started
        grader.grade(assignment, submission, launcher)  # the reference's expected values, once
        warm = []
        for _ in range(args.repeats):
            started = time.monotonic()
            report = grader.grade(assignment, submission, launcher)
            warm.append(time.monotonic() - started)
        launcher.close()

    warm_seconds = sorted(warm)[len(warm) // 2]
    result = {
        "assignment": assignment.name, "score": report.score, "max_score": report.max_score,
        "isolation": report.isolation, "cpu_cores": 1,
        "cold_command_seconds": round(cold_seconds, 2),
        "cold_target_seconds": 20, "cold_within_target": cold_seconds < 20,
        "fork_server_start_seconds": round(server_start_seconds, 2),
        "warm_seconds_per_submission": round(warm_seconds, 3),
        "baseline_fresh_interpreter_seconds_per_submission": round(fresh_interpreter_seconds + warm_seconds, 2),
        "speedup_of_fork_server": round((fresh_interpreter_seconds + warm_seconds) / warm_seconds, 1),
        "peak_process_memory_megabytes": round(peak_megabytes),
        "torch_build": "cuda" if torch.version.cuda else "cpu",  # Gradescope's zip installs the CPU build
    }
    write_result("grading_time", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
