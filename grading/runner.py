"""Run one submission in a sandbox and call its probes, with limits (parent side).

`SubmissionRunner.call(probe, args, timeout)` returns the plain value the probe returned inside
the sandbox, or raises `SubmissionFailure` with a one-line message for the student: the
submission raised, hung, crashed, exited, printed too much, used too much memory, or sent back
something unreadable. After a hang or a crash the child is killed and the next call starts a
fresh one (re-importing the submission), so one bad function costs only its own checks.

Each call carries the seed of the child's generators, derived from the submission's key and the
call's number: the same file draws the same numbers every time, and no file can predict them.
"""
import os
import select
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from grading import secret, wire
from grading.protocol import FAILED, HELLO, IMPORT_FAILED, IMPORTED, SandboxRequest
from grading.rubric import SubmissionFailure
from grading.sandbox import Sandbox

POLL_SECONDS = 0.2
HELLO_SECONDS = 30.0


@dataclass(frozen=True)
class Limits:
    import_seconds: float = 60.0      # importing the submission (module-level code included)
    call_seconds: float = 30.0        # default for one probe call; checks may ask for more
    total_seconds: float = 900.0      # the whole submission
    memory_megabytes: int = 1024      # heap of the submission's process, above the libraries
    tmp_megabytes: int = 64           # its private /tmp
    file_megabytes: int = 64          # any file it writes
    reply_megabytes: int = 64         # one reply from the child
    processes: int = 256              # as root: processes of the sandbox user
    time_scale: float = 1.0           # multiplies every check's time limit (tests use less)


class SubmissionRunner:
    """One submission, its box on disk, its sandbox identity and (lazily) its sandboxed child."""

    def __init__(self, launcher, assignment, source: bytes, limits: Limits = Limits(), key: bytes = b""):
        self.launcher, self.assignment, self.limits, self.key = launcher, assignment, limits, key
        self.import_error = None
        self.output = []
        self.started = time.monotonic()
        self._sandbox = None
        self._calls = 0
        self.launcher.start()
        self.uid = launcher.reserve_uid()
        try:
            self.workdir = Path(tempfile.mkdtemp(prefix="kit-grade-"))
            self._write_box(source)
        except BaseException:
            self.close()
            raise

    def _write_box(self, source: bytes) -> None:
        """The box (submission, probes, data) and an empty work folder, readable by this sandbox's
        user only: no other sandbox, graded at the same time, can read this submission."""
        self.box = self.workdir / "box"
        self.box.mkdir()
        (self.box / "submission.py").write_bytes(source)
        shutil.copy(self.assignment.probes_path, self.box / "probes.py")
        self.assignment.prepare_box(self.box)
        (self.workdir / "root").mkdir()
        (self.workdir / "work").mkdir()
        owner = self.uid if self.uid is not None else os.geteuid()
        for path in (self.box, *self.box.rglob("*"), self.workdir / "work"):
            os.chmod(path, 0o700 if path.is_dir() else 0o400)
            if self.uid is not None:
                os.chown(path, owner, owner)
        os.chmod(self.workdir, 0o711)

    # -- lifecycle ---------------------------------------------------------------------------

    def _request(self) -> SandboxRequest:
        return SandboxRequest(
            module=self.assignment.module, box=str(self.box), root=str(self.workdir / "root"),
            workdir=str(self.workdir / "work"), uid=self.uid if self.uid is not None else os.geteuid(),
            seed=secret.call_seed(self.key, 0), tmp_megabytes=self.limits.tmp_megabytes,
            memory_megabytes=self.limits.memory_megabytes, file_megabytes=self.limits.file_megabytes,
            cpu_seconds=int(self.limits.total_seconds) + 60, processes=self.limits.processes)

    def _start(self) -> Sandbox:
        sandbox = self.launcher.spawn(self._request(), self.limits.reply_megabytes << 20)
        try:
            hello = self._receive(sandbox, HELLO_SECONDS, "starting the sandbox")
            if not isinstance(hello, dict) or hello.get("event") != HELLO:
                failed = isinstance(hello, dict) and hello.get("event") == FAILED
                detail = hello.get("error") if failed else "your code wrote to the grader's pipe"
                raise SubmissionFailure(f"the sandbox failed to start: {detail}")
            event = self._receive(sandbox, self.limits.import_seconds, "importing your file")
            if not isinstance(event, dict):
                raise SubmissionFailure("your code wrote to the grader's pipe")
            if event.get("event") == IMPORT_FAILED:
                raise SubmissionFailure(str(event.get("error")))
            if event.get("event") != IMPORTED:
                raise SubmissionFailure("your code wrote to the grader's pipe")
        except BaseException as failure:  # every path: no sandbox, memory or descriptor is left behind
            sandbox.kill()
            self._keep_output(sandbox)
            if not isinstance(failure, SubmissionFailure):
                raise
            self.import_error = str(failure)
            raise SubmissionFailure(self.import_error) from None
        self._keep_output(sandbox)
        return sandbox

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.kill()
            self._keep_output(self._sandbox)
            self._sandbox = None
        if getattr(self, "workdir", None) is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        if self.uid is not None:
            self.launcher.release_uid(self.uid)  # kills what is left of this identity, deletes its files
            self.uid = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _keep_output(self, sandbox) -> None:
        text = sandbox.take_output()
        if text:
            self.output.append(text)

    # -- calls -------------------------------------------------------------------------------

    def call(self, probe: str, args: dict, timeout: float = None):
        """Run `probe(submission, **args)` in the sandbox; return its value."""
        if self.import_error:
            raise SubmissionFailure(self.import_error)
        if time.monotonic() - self.started > self.limits.total_seconds:
            raise SubmissionFailure(f"the grading time budget ({self.limits.total_seconds:.0f} s) is used up")
        if self._sandbox is None:
            self._sandbox = self._start()
        sandbox = self._sandbox
        self._calls += 1
        try:
            wire.send(sandbox.request_fd, {"probe": probe, "args": args,
                                           "seed": secret.call_seed(self.key, self._calls)})
            seconds = (timeout or self.limits.call_seconds) * self.limits.time_scale
            reply = self._receive(sandbox, seconds, "this check")
        except BaseException as failure:
            self._sandbox = None
            sandbox.kill()
            self._keep_output(sandbox)
            if isinstance(failure, OSError):
                raise SubmissionFailure("your code closed the grader's pipe") from None
            if isinstance(failure, SubmissionFailure):
                raise SubmissionFailure(str(failure)) from None
            raise
        self._keep_output(sandbox)
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise SubmissionFailure("the sandbox sent back something that is not a reply")
        if not reply["ok"]:
            raise SubmissionFailure(str(reply.get("error", "failed")))
        return reply.get("value")

    def _receive(self, sandbox: Sandbox, timeout: float, doing: str):
        """The next message from the child, within `timeout`, watching its memory meanwhile. Bytes
        read beyond this message stay in the sandbox's reader for the next one."""
        deadline = time.monotonic() + timeout
        memory_limit = (self.limits.memory_megabytes << 20) * 2
        while True:
            try:
                payload = sandbox.replies.next_frame()
                if payload is not None:
                    return wire.decode(payload)
            except wire.WireError as error:
                raise SubmissionFailure(f"sent back a malformed reply while {doing} ({error}): did your code "
                                        "write to the grader's pipe?") from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SubmissionFailure(f"timed out after {timeout:.0f} s while {doing} "
                                        "(an infinite loop, or much too slow?)")
            ready, _, _ = select.select([sandbox.reply_fd], [], [], min(remaining, POLL_SECONDS))
            if not ready:
                if sandbox.memory_bytes() > memory_limit:
                    raise SubmissionFailure(f"used more than {memory_limit >> 20} MB of memory while {doing}")
                continue
            if not sandbox.replies.fill():
                raise SubmissionFailure(f"your code ended the grading process while {doing} "
                                        "(os._exit, a crash, or a killed process)")
