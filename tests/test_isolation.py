"""Students never meet: what one submission leaves behind or does while it is graded never reaches
another, at both sandbox levels (namespaces here; uid through the CLI with a private kit).

Student A leaves tokens everywhere a process can (/tmp, /dev/shm, /var/tmp, its user and session
keyrings, a process that outlives its grading); student B, graded next or at the same time,
looks for them and for A's submission; student C is honest and must keep full marks.
"""
import os
import subprocess
import sys
import time

import pytest
from test_hostile import PRINT_INPUTS
from test_sandbox import READABLE_PYTHON, _private_kit_copy

from conftest import reference_source, replace_solution

TOKEN = f"kit-token-{os.getpid()}"  # (one per test process: xdist runs the two tests at once)

KEYCTL = """
import ctypes as _ctypes
_libc = _ctypes.CDLL(None, use_errno=True)
_ADD_KEY, _KEYCTL, _SEARCH = 248, 250, 10
_USER, _SESSION = -4, -3
"""

LEAVER = KEYCTL + f"""
import os, subprocess, sys, time
for _folder in ("/tmp", "/dev/shm", "/var/tmp", os.environ.get("TMPDIR", "/tmp")):
    try:
        with open(os.path.join(_folder, "{TOKEN}"), "w") as _f:
            _f.write("{TOKEN}")
        os.chmod(os.path.join(_folder, "{TOKEN}"), 0o666)
    except OSError:
        pass
for _keyring in (_USER, _SESSION):
    _libc.syscall(_ADD_KEY, b"user", b"{TOKEN}", b"{TOKEN}", 15, _keyring)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{TOKEN}"], start_new_session=True)
time.sleep(float(os.environ.get("KIT_TEST_LINGER", "0")))
"""

READER = KEYCTL + f"""
import glob, os, time
time.sleep(1.0)   # (at the same time as the leaver, in a batch of two jobs)
_found = []
for _path in glob.glob("/tmp/**", recursive=True) + glob.glob("/dev/shm/*") + glob.glob("/var/tmp/*"):
    try:
        with open(_path) as _f:
            if "{TOKEN}" in _f.read(200000):
                _found.append(_path)
    except (OSError, UnicodeDecodeError):
        pass
for _keyring in (_USER, _SESSION):
    if _libc.syscall(_KEYCTL, _SEARCH, _keyring, b"user", b"{TOKEN}", 0) > 0:
        _found.append(f"key in keyring {{_keyring}}")
for _pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if b"{TOKEN}" in open(f"/proc/{{_pid}}/cmdline", "rb").read():
            _found.append(f"process {{_pid}}")
    except OSError:
        pass
print("FOUND", _found)
"""


def leftovers() -> list:
    """Processes anywhere on the machine that carry the token."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if TOKEN.encode() in f.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def test_students_never_meet_in_namespaces(grade, launcher):
    if launcher.isolation != "namespaces":
        pytest.skip("this machine does not allow namespaces")
    reference = reference_source("trainer")
    leaver = grade("trainer", reference + LEAVER)
    reader = grade("trainer", reference + READER)
    honest = grade("trainer", reference)
    assert leaver.score == reader.score == honest.score == 35
    printed = "\n".join(reader.notes)
    assert "FOUND []" in printed, printed
    assert leftovers() == []


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(READABLE_PYTHON), reason="the uid level needs root")
def test_students_never_meet_at_the_uid_level(tmp_path):
    """A batch at the uid level (graded one at a time, since /tmp is shared): the leaver lingers,
    then the reader looks."""
    kit = _private_kit_copy(tmp_path)
    students = tmp_path / "students"
    for name, extra in (("a_leaver", LEAVER), ("b_reader", READER), ("c_honest", "")):
        (students / name).mkdir(parents=True)
        (students / name / "trainer_solution.py").write_text(reference_source("trainer") + extra)
    os.chmod(students, 0o700)
    packages = [p for p in sys.path if p.endswith("site-packages")]
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(kit), *packages]), KIT_TEST_LINGER="3")
    run = subprocess.run([READABLE_PYTHON, "-m", "grading", "batch", "trainer", str(students), "--csv",
                          str(tmp_path / "grades.csv"), "--jobs", "2", "--sandbox", "uid",
                          "--results-dir", str(tmp_path / "results")],
                         cwd=kit, env=environment, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert [line.split()[-1] for line in run.stdout.splitlines()[:3]] == ["35/35"] * 3, run.stdout
    reader = (tmp_path / "results" / "b_reader.json").read_text()
    assert "FOUND []" in reader, reader
    assert leftovers() == []  # (and the grader checked that no process of each sandbox user was left)
    assert not any(TOKEN in name for folder in ("/tmp", "/dev/shm", "/var/tmp") for name in os.listdir(folder))


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(READABLE_PYTHON), reason="the uid level needs root")
def test_hostile_submissions_at_the_uid_level_score_what_they_deserve(tmp_path):
    """A few of the hostile suite's cases again, graded at the uid level through `batch`: what the
    parent verifies does not depend on the level, what the sandbox blocks must be blocked here too."""
    kit = _private_kit_copy(tmp_path)
    reference = reference_source("trainer")
    cases = {
        "kill_the_grader": (replace_solution(reference, "training_step", "import os, signal\n"
                                             "os.kill(os.getppid(), signal.SIGKILL)\nos.kill(1, signal.SIGKILL)"),
                            "29/35"),  # Q10 (6 points) only: its kills fail
        "read_the_kit": (replace_solution(reference, "gradient_norm",
                                          f"return float(len(open('{kit}/solutions/trainer_solution.py').read()))"),
                         "32/35"),
        "forge_the_pipe": (reference + "\nimport os\n"
                                       "os.write(4, b'\\x08' + b'\\x00' * 7 + b'KITW\\x00\\x00\\x00\\x00')\n", "0/35"),
        "wrong_with_prints": (replace_solution(reference, "gradient_norm", PRINT_INPUTS), "32/35"),
    }
    students = tmp_path / "students"
    for name, (source, _) in cases.items():
        (students / name).mkdir(parents=True)
        (students / name / "trainer_solution.py").write_text(source)
    packages = [p for p in sys.path if p.endswith("site-packages")]
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(kit), *packages]))
    run = subprocess.run([READABLE_PYTHON, "-m", "grading", "batch", "trainer", str(students), "--csv",
                          str(tmp_path / "grades.csv"), "--sandbox", "uid"],
                         cwd=kit, env=environment, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    scored = dict(line.split()[:2] for line in run.stdout.splitlines() if line.split()[:1] and line.split()[0] in cases)
    assert scored == {name: expected for name, (_, expected) in cases.items()}, run.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another user needs root")
def test_releasing_a_sandbox_user_kills_its_processes_and_deletes_its_files():
    """What a submission leaves under its user (a detached process, a file in /tmp) is gone
    before that user serves anyone else. (A user of its own, outside the range tests grade with.)"""
    from grading import identities
    pool = identities.Pool(first=identities.FIRST_UID + identities.COUNT - 1, count=1)
    uid = pool.reserve()
    leftover = f"/tmp/{TOKEN}-{uid}"
    pid = os.fork()
    if pid == 0:  # a detached process of that user, which leaves a file behind
        os.setsid()
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        with open(leftover, "w") as f:
            f.write(TOKEN)
        os.execv("/bin/sleep", ["sleep", "600"])
    for _ in range(100):
        if os.path.exists(leftover) and identities.processes_of(uid):
            break
        time.sleep(0.05)
    assert identities.processes_of(uid) and os.path.exists(leftover)
    pool.release(uid)
    assert identities.processes_of(uid) == [] and not os.path.exists(leftover)
    os.waitpid(pid, 0)
