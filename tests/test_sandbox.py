"""The sandbox levels: what a submission's process can see and do at each one."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import KIT_ROOT, TEST_LIMITS, reference_source, replace_solution
from grading import assignments, grader
from grading import sandbox
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
        assert "UID 65534" in output


def test_choosing_the_level(monkeypatch):
    launcher = Launcher("auto")
    monkeypatch.setattr(sandbox, "readable_by_others", lambda path: True)
    assert launcher._choose(namespaces=True, root=True) == ("namespaces", None)
    level, warning = launcher._choose(namespaces=False, root=True)
    assert level == "none" and "WITHOUT isolation" in warning
    with pytest.raises(SandboxError, match="chmod"):
        Launcher("required")._choose(namespaces=False, root=True)
    with pytest.raises(SandboxError, match="root"):
        Launcher("uid")._choose(namespaces=False, root=False)
    monkeypatch.setattr(sandbox, "readable_by_others", lambda path: False)
    assert Launcher("required")._choose(namespaces=False, root=True) == ("uid", None)
    assert Launcher("none")._choose(namespaces=True, root=True) == ("none", None)
    with pytest.raises(SandboxError):
        Launcher("bogus")


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


def _grade_with_cli(kit, submission, *options, user=()):
    environment = dict(os.environ, PYTHONPATH=str(kit))
    command = [*user, sys.executable, "-m", "grading", "grade", "trainer", str(submission), *options]
    return subprocess.run(command, cwd=kit, env=environment, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid level needs root")
def test_uid_level_protects_a_private_kit(tmp_path):
    """Where namespaces are forbidden (some containers), root drops the child to nobody."""
    kit = _private_kit_copy(tmp_path)
    submission = tmp_path / "submission.py"
    submission.write_text(replace_solution(reference_source("trainer"), "gradient_norm",
                                           READ_THE_KIT.format(kit=kit)) + "\nimport os\nprint('UID', os.getuid())\n")
    run = _grade_with_cli(kit, submission, "--sandbox", "uid")
    assert run.returncode == 0, run.stderr
    assert "Total                             32/35" in run.stdout
    assert "PermissionError" in run.stdout and "UID 65534" in run.stdout


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
