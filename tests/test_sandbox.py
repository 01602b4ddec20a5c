"""The sandbox levels: what a submission's process can see and do at each one."""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import KIT_ROOT, TEST_LIMITS, reference_source, replace_solution
from grading import assignments, grader, sandbox
from grading.sandbox import Launcher, SandboxError

PEEK = """
import os, socket
print("UID", os.getuid())
print("ENV", sorted(os.environ))
print("ROOT", sorted(os.listdir("/")))
for path in {paths!r}:
    print("SEES" if os.path.exists(path) else "HIDDEN", path)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1)
    print("NETWORK yes")
except OSError:
    print("NETWORK no")
"""


def printed(report) -> str:
    return "\n".join(report.notes)


def test_the_child_sees_only_its_box(grade, launcher, tmp_path, monkeypatch):
    if launcher.isolation != "namespaces":
        pytest.skip("this machine does not allow namespaces")
    monkeypatch.setenv("KIT_TEST_SECRET", "token")
    other_student = tmp_path / "other" / "solution.py"
    other_student.parent.mkdir()
    other_student.write_text("secret = 1\n")
    paths = [str(KIT_ROOT / "solutions" / "trainer_solution.py"), str(KIT_ROOT / "grading" / "assignments"),
             str(KIT_ROOT / ".git"), str(other_student)]
    report = grade("trainer", reference_source("trainer") + PEEK.format(paths=paths))
    output = printed(report)
    assert report.score == 35
    assert "SEES" not in output
    assert "NETWORK no" in output
    assert "KIT_TEST_SECRET" not in output
    if os.geteuid() == 0:
        assert "UID 1850" in output  # a sandbox user of its own, from the reserved range


def test_choosing_the_level(monkeypatch):
    """auto never runs a submission unisolated: without namespaces it needs root and secrets the
    sandbox user cannot read, or it refuses with a line on how to get isolation."""
    monkeypatch.setattr(Launcher, "_check_uid_level", lambda self: None)
    assert Launcher("auto")._choose(namespaces=True, root=True) == ("namespaces", None)
    assert Launcher("auto")._choose(namespaces=False, root=True) == ("uid", None)
    assert Launcher("required")._choose(namespaces=False, root=True) == ("uid", None)
    assert Launcher("none")._choose(namespaces=True, root=True) == ("none", None)
    for level in ("auto", "required", "uid"):
        with pytest.raises(SandboxError, match="root"):
            Launcher(level)._choose(namespaces=False, root=False)
    with pytest.raises(SandboxError, match="namespaces"):
        Launcher("namespaces")._choose(namespaces=False, root=True)
    with pytest.raises(SandboxError):
        Launcher("bogus")


@pytest.mark.skipif(os.geteuid() != 0, reason="trying to read as another user needs root")
def test_the_uid_level_refuses_a_kit_whose_secrets_open_by_name(monkeypatch):
    """A solutions folder at 0711 hides its listing, but its files still open by their known
    names: the check tries to open each secret as the sandbox user."""
    tmp_path = Path(tempfile.mkdtemp(prefix="kit-test-"))  # (pytest's own folder is root-only)
    monkeypatch.setattr(sandbox, "KIT_ROOT", tmp_path / "kit")
    try:
        _refuses_readable_secrets(tmp_path)
    finally:
        shutil.rmtree(tmp_path)


def _refuses_readable_secrets(tmp_path):
    kit = tmp_path / "kit"
    (kit / "solutions").mkdir(parents=True)
    (kit / "solutions" / "trainer_solution.py").write_text("answer = 42\n")
    (kit / "grading" / "assignments" / "trainer").mkdir(parents=True)
    (kit / "grading" / "assignments" / "trainer" / "hidden.py").write_text("")
    for folder in (tmp_path, kit, kit / "grading", kit / "grading" / "assignments"):
        os.chmod(folder, 0o755)
    os.chmod(kit / "solutions", 0o711)
    with pytest.raises(SandboxError, match="can read .*trainer_solution.py.*chmod -R go-rwx"):
        Launcher("auto")._choose(namespaces=False, root=True)
    os.chmod(kit / "solutions" / "trainer_solution.py", 0o600)
    os.chmod(kit / "grading" / "assignments" / "trainer" / "hidden.py", 0o644)  # hidden checks readable
    with pytest.raises(SandboxError, match="hidden.py"):
        Launcher("auto")._choose(namespaces=False, root=True)


def test_visible_paths_never_include_the_kit_or_private_folders(tmp_path):
    paths = sandbox.visible_paths([KIT_ROOT, tmp_path])
    for path in paths:
        assert not sandbox._contains(path, KIT_ROOT) and not sandbox._contains(path, tmp_path)
    assert "/usr" in paths


READ_THE_KIT = """
        namespace = {{}}
        exec(open("{kit}/solutions/trainer_solution.py").read(), namespace)
        return namespace["gradient_norm"](function, *tensor_list)
        """


def _private_kit_copy(tmp_path):
    kit = tmp_path / "kit"
    for folder in ("grading", "solutions", "data"):
        shutil.copytree(KIT_ROOT / folder, kit / folder, ignore=shutil.ignore_patterns("__pycache__", "cache"))
    os.chmod(kit, 0o700)
    return kit


# The uid level runs the child as another user, who must be able to read Python: the one under
# /root here cannot be, so these tests run the grader with Debian's Python and this venv's packages.
READABLE_PYTHON = "/usr/bin/python3.11"


def _grade_with_cli(kit, submission, *options, command="grade"):
    packages = [p for p in sys.path if p.endswith("site-packages")]
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(kit), *packages]))
    arguments = [READABLE_PYTHON, "-m", "grading", command, "trainer", str(submission), *options]
    return subprocess.run(arguments, cwd=kit, env=environment, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(READABLE_PYTHON), reason="the uid level needs root")
def test_uid_level_protects_a_private_kit(tmp_path):
    """Where namespaces are forbidden (some containers), root drops the child to nobody."""
    kit = _private_kit_copy(tmp_path)
    submission = tmp_path / "submission.py"
    submission.write_text(replace_solution(reference_source("trainer"), "gradient_norm",
                                           READ_THE_KIT.format(kit=kit)) + "\nimport os\nprint('UID', os.getuid())\n")
    run = _grade_with_cli(kit, submission, "--sandbox", "uid")
    assert run.returncode == 0, run.stderr
    assert "Total" in run.stdout and "32/35" in run.stdout
    assert "PermissionError" in run.stdout and "UID 1850" in run.stdout


def test_the_user_namespace_level_hides_the_kit_too(tmp_path):
    """What a grader run by a normal user gets (forced here, even as root): a user namespace,
    the same private view, and no capabilities left."""
    launcher = Launcher("namespaces", assignments.load("trainer").preload, user_namespace=True)
    try:
        launcher.start()
    except SandboxError:
        pytest.skip("this machine does not allow namespaces")
    submission = tmp_path / "trainer_solution.py"
    peek = PEEK.format(paths=[str(KIT_ROOT / "solutions" / "trainer_solution.py"), str(KIT_ROOT / ".git")])
    submission.write_text(reference_source("trainer") + peek + CAPABILITIES)
    try:
        report = grader.grade(assignments.load("trainer"), submission, launcher, TEST_LIMITS)
    finally:
        launcher.close()
    output = printed(report)
    assert report.score == 35, output
    assert "SEES" not in output and "HIDDEN" in output and "NETWORK no" in output
    assert "CapEff:\t0000000000000000" in output


CAPABILITIES = """
print(next(line for line in open("/proc/self/status") if line.startswith("CapEff")).strip())
"""


def test_a_dead_fork_server_is_restarted(tmp_path):
    launcher = Launcher("auto", ("torch",))
    launcher.start()
    launcher._process.kill()
    launcher._process.wait()
    submission = tmp_path / "trainer_solution.py"
    submission.write_text(reference_source("trainer"))
    try:
        report = grader.grade(assignments.load("trainer"), submission, launcher, TEST_LIMITS)
    finally:
        launcher.close()
    assert report.score == 35


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.realpath(sys.executable).startswith("/root"),
                    reason="needs a Python the sandbox user cannot read")
def test_a_python_the_sandbox_user_cannot_read_is_named_at_start_up(tmp_path):
    """Not "your code wrote to the grader's pipe" for every student: one line for the instructor."""
    kit = _private_kit_copy(tmp_path)
    submission = tmp_path / "submission.py"
    submission.write_text(reference_source("trainer"))
    environment = dict(os.environ, PYTHONPATH=str(kit))
    run = subprocess.run([sys.executable, "-m", "grading", "grade", "trainer", str(submission), "--sandbox", "uid"],
                         cwd=kit, env=environment, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert "cannot read the Python installation" in run.stderr and len(run.stderr.strip().splitlines()) == 1
