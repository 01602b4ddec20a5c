"""Run one submission in a sandbox and call its probes, with limits (parent side).

`SubmissionRunner.call(probe, args, timeout)` returns the plain value the probe returned inside
the sandbox, or raises `SubmissionFailure` with a one-line message for the student: the
submission raised, hung, crashed, exited, printed too much, used too much memory, or sent back
something unreadable. After a hang or a crash the child is killed and the next call starts a
fresh one (re-importing the submission), so one bad function costs only its own checks.
"""
import os
import select
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from grading import wire
from grading.sandbox import Sandbox

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Limits:
    import_seconds: float = 60.0      # importing the submission (module-level code included)
    call_seconds: float = 30.0        # default for one probe call; checks may ask for more
    total_seconds: float = 900.0      # the whole submission
    memory_megabytes: int = 1024      # heap of the submission's process, above the libraries
    tmp_megabytes: int = 64           # its private /tmp
    file_megabytes: int = 64          # any file it writes
    reply_megabytes: int = 64         # one reply from the child
    output_kilobytes: int = 64        # captured stdout/stderr kept per child
    processes: int = 256              # as root: processes of the sandbox user
    time_scale: float = 1.0           # multiplies every check's time limit (tests use less)


class SubmissionFailure(Exception):
    """The submission did not produce a value; the message is for the student."""


class SubmissionRunner:
    """One submission, its box on disk and (lazily) its sandboxed child."""

    def __init__(self, launcher, assignment, source: bytes, limits: Limits = Limits()):
        self.launcher, self.assignment, self.limits = launcher, assignment, limits
        self.workdir = Path(tempfile.mkdtemp(prefix="kit-grade-"))
        self.box = self.workdir / "box"
        self.box.mkdir()
        (self.box / "submission.py").write_bytes(source)
        shutil.copy(assignment.probes_path, self.box / "probes.py")
        assignment.prepare_box(self.box)
        (self.workdir / "root").mkdir()
        (self.workdir / "work").mkdir()
        for path in (self.workdir, self.box, *self.box.rglob("*"), self.workdir / "work"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        self._sandbox = None
        self.import_error = None
        self.import_seconds = None
        self.output = []
        self.started = time.monotonic()

    # -- lifecycle ---------------------------------------------------------------------------

    def _start(self) -> Sandbox:
        request = {"module": self.assignment.module, "box": str(self.box), "root": str(self.workdir / "root"),
                   "workdir": str(self.workdir / "work"), "tmp_megabytes": self.limits.tmp_megabytes,
                   "memory_megabytes": self.limits.memory_megabytes, "file_megabytes": self.limits.file_megabytes,
                   "cpu_seconds": int(self.limits.total_seconds) + 60, "processes": self.limits.processes}
        if self.launcher.isolation == "uid" or self.launcher.isolation is None:
            self.launcher.start()
        if self.launcher.isolation == "uid":
            os.chown(self.workdir / "work", 65534, 65534)
        sandbox = self.launcher.spawn(request)
        try:
            hello = self._receive(sandbox, 30.0, "starting the sandbox")
            if hello.get("event") != "hello":
                raise SubmissionFailure(f"the sandbox failed to start: {hello.get('error', hello)}")
            self.isolation = hello["isolation"]
            event = self._receive(sandbox, self.limits.import_seconds, "importing your file")
        except SubmissionFailure as failure:
            sandbox.kill()
            self._keep_output(sandbox)
            self.import_error = f"importing your file failed: {failure}"
            raise SubmissionFailure(self.import_error) from None
        if event.get("event") != "imported":
            sandbox.kill()
            self._keep_output(sandbox)
            problem = event.get("error") if event.get("event") == "import_failed" else \
                "your code wrote to the grader's pipe"
            self.import_error = f"importing your file failed: {problem}"
            raise SubmissionFailure(self.import_error)
        self.import_seconds = event.get("seconds")
        self._keep_output(sandbox)
        return sandbox

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.kill()
            self._keep_output(self._sandbox)
            self._sandbox = None
        shutil.rmtree(self.workdir, ignore_errors=True)

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
        try:
            wire.send(sandbox.request_fd, {"probe": probe, "args": args})
            seconds = (timeout or self.limits.call_seconds) * self.limits.time_scale
            reply = self._receive(sandbox, seconds, "this check")
        except (SubmissionFailure, OSError) as failure:
            self._sandbox = None
            sandbox.kill()
            self._keep_output(sandbox)
            message = str(failure) if isinstance(failure, SubmissionFailure) else "your code closed the grader's pipe"
            raise SubmissionFailure(message) from None
        self._keep_output(sandbox)
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise SubmissionFailure("the sandbox sent back something that is not a reply")
        if not reply["ok"]:
            raise SubmissionFailure(str(reply.get("error", "failed")))
        return reply.get("value")

    def _receive(self, sandbox: Sandbox, timeout: float, doing: str):
        """One framed message from the child, within `timeout`, watching memory meanwhile."""
        deadline = time.monotonic() + timeout
        buffer = bytearray()
        needed = 8
        limit = self.limits.reply_megabytes << 20
        memory_limit = (self.limits.memory_megabytes << 20) * 2
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SubmissionFailure(f"timed out after {timeout:.0f} s while {doing} "
                                        "(an infinite loop, or much too slow?)")
            ready, _, _ = select.select([sandbox.reply_fd], [], [], min(remaining, POLL_SECONDS))
            if not ready:
                if sandbox.memory_bytes() > memory_limit:
                    raise SubmissionFailure(f"used more than {memory_limit >> 20} MB of memory while {doing}")
                continue
            chunk = os.read(sandbox.reply_fd, 1 << 20)
            if not chunk:
                raise SubmissionFailure(f"your code ended the grading process while {doing} "
                                        "(os._exit, a crash, or a killed process)")
            buffer += chunk
            if needed == 8 and len(buffer) >= 8:
                (length,) = struct.unpack("<Q", buffer[:8])
                if length > limit:
                    raise SubmissionFailure(f"sent back {length >> 20} MB; the limit is {limit >> 20} MB")
                needed = 8 + length
            if len(buffer) >= needed > 8:
                try:
                    return wire.decode(bytes(buffer[8:needed]))
                except wire.WireError as error:
                    raise SubmissionFailure(f"sent back a malformed reply ({error})") from None
