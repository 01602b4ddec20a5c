"""Start sandboxed children (parent side): the zygote, the isolation level, one child's handle.

`Launcher` starts the fork server (`grading/zygote.py`) once, chooses the isolation level, and
asks the server for one child per submission; `Sandbox` is the handle on a running child: its
three pipes, its process tree, and a kill that leaves nothing behind. What runs inside is
`grading.child`; what it may see and do is decided by `grading.jail` at the level chosen here.

Grading fails closed: `auto` and `required` run a submission only with isolation ("namespaces",
or "uid" as root with every secret unreadable by the sandbox's users); only an explicit
`--sandbox none` runs it without.

Students never meet: as root, each sandbox graded at the same time runs as its own user, drawn
from a reserved range (`identities`); when its submission is done, every process of that user
is killed and every file it left in the shared temporary folders is deleted, and its keyrings
are cleared, before the user serves another submission.
"""
import json
import os
import signal
import site
import socket
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

from grading import identities

KIT_ROOT = Path(__file__).resolve().parent.parent
ISOLATION_LEVELS = ("auto", "required", "namespaces", "uid", "none")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")

# Only what a sandboxed child needs; the grader's own environment (tokens, paths) stays out.
CHILD_ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
                     "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                     "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "CUDA_VISIBLE_DEVICES": "",
                     "TQDM_DISABLE": "1", "PYTHONWARNINGS": "ignore"}


class SandboxError(RuntimeError):
    """The sandbox cannot be started as asked (one line, for the instructor)."""


def visible_paths(private):
    """What a namespaced child may read: system and Python directories, minus anything that
    contains a private path (the kit, the submissions folder) -- a venv inside the kit is fine,
    the kit itself is not."""
    paths = set(SYSTEM_DIRS)
    paths.update({sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))})
    paths.update(sysconfig.get_paths().values())
    paths.update(site.getsitepackages())
    paths.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    return sorted(p for p in paths
                  if p and os.path.exists(p) and not any(_contains(p, secret) for secret in private))


def package_paths():
    """The grader's package folders, for the fork server (started with -I, which ignores
    $PYTHONPATH): it imports the same torch as the grader, wherever that comes from."""
    return [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p)]


def _contains(outer, inner) -> bool:
    outer, inner = os.path.realpath(outer), os.path.realpath(inner)
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def secret_paths(private=()):
    """What no sandbox may read: the reference solutions, the hidden checks, the manual rubrics,
    the grading secret, and the private folders (submissions, results)."""
    from grading.secret import SECRET_PATH
    assignments = KIT_ROOT / "grading" / "assignments"
    paths = [KIT_ROOT / "solutions", *sorted((KIT_ROOT / "solutions").glob("*.py")),
             *sorted(assignments.glob("*/hidden.py")), *sorted(assignments.glob("*/manual.py")), SECRET_PATH]
    return [Path(p) for p in (*paths, *private) if os.path.lexists(p)]


class Launcher:
    """The fork server, the isolation level its children get, and the sandboxes' identities."""

    def __init__(self, isolation: str = "auto", preload=("torch",), private=(), user_namespace: bool = False):
        if isolation not in ISOLATION_LEVELS:
            raise SandboxError(f"unknown sandbox level {isolation!r}; use one of {', '.join(ISOLATION_LEVELS)}")
        self.requested = isolation
        self.preload = list(preload)
        self.private = [KIT_ROOT, *private]
        self.user_namespace = user_namespace  # also as root (what a normal user always gets)
        self.isolation = None
        self.warning = None
        self._lock = threading.Lock()
        self._process = None
        self._identities = None

    def start(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            environment = dict(CHILD_ENVIRONMENT)
            self._process = subprocess.Popen(
                [sys.executable, "-I", str(KIT_ROOT / "grading" / "zygote.py"), str(theirs.fileno()),
                 json.dumps(self.preload), json.dumps(package_paths())],
                pass_fds=[theirs.fileno()], env=environment, cwd="/", stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, start_new_session=True)
            theirs.close()
            self._channel = ours
            ready = json.loads(self._channel.recv(1 << 16) or b"{}")
            if not ready.get("ready"):
                raise SandboxError("the grader's fork server failed to start")
            if self.isolation is None:
                self.isolation, self.warning = self._choose(ready["namespaces"], ready["uid"] == 0)
                if self.isolation in ("namespaces", "uid") and ready["uid"] == 0 and not self._in_user_namespace():
                    self._identities = identities.Pool()

    @classmethod
    def for_own_code(cls, preload) -> "Launcher":
        """A started launcher for a student checking their own code: isolated where the machine
        allows it, otherwise without isolation (their code, their machine), never refused."""
        launcher = cls("auto", preload)
        try:
            launcher.start()
        except SandboxError:
            launcher.close()
            launcher = cls("none", preload)
            launcher.start()
        return launcher

    def _in_user_namespace(self) -> bool:
        return self.user_namespace or os.geteuid() != 0

    def _choose(self, namespaces: bool, root: bool):
        """The isolation level, and a warning to show, or SandboxError with the way to get one."""
        wanted = self.requested
        if wanted == "none":
            return "none", None
        if wanted in ("auto", "required", "namespaces") and namespaces:
            return "namespaces", None
        if wanted == "namespaces":
            raise SandboxError("this machine does not allow Linux namespaces (mount/PID/network) for the "
                               "grader's children; run the grader as root with --sandbox uid, or use a machine "
                               "that allows them")
        if not root:
            raise SandboxError("cannot isolate submissions here: this machine forbids Linux namespaces and the "
                               "grader is not root; run it as root (--sandbox uid), or where namespaces are "
                               "allowed (--sandbox none runs submissions unisolated: only for your own code)")
        self._check_uid_level()
        return "uid", None

    def _check_uid_level(self) -> None:
        """The uid level protects secrets by file permissions only: try to read each one as a
        sandbox user, and check that this user can run Python at all."""
        uid = identities.FIRST_UID
        readable = identities.readable_as(uid, secret_paths(self.private[1:]))
        if readable:
            raise SandboxError(f"cannot isolate submissions: a sandbox user can read {readable[0]}; "
                               f"make the kit private first: chmod -R go-rwx {KIT_ROOT}")
        import torch
        needed = [Path(sys.executable).resolve(), Path(os.__file__), Path(torch.__file__)]
        unreadable = [p for p in needed if p not in identities.readable_as(uid, needed)]
        if unreadable:
            raise SandboxError(f"cannot isolate submissions: the sandbox user cannot read the Python installation "
                               f"({unreadable[0]}); install Python and its packages where every user can read "
                               "them (e.g. a venv outside /root)")

    def reserve_uid(self):
        """A user of its own for one sandbox (as root), or None (not root: a user namespace)."""
        return self._identities.reserve() if self._identities is not None else None

    def release_uid(self, uid: int) -> None:
        """Kill every process of `uid`, delete its files and keys, and free it for another sandbox."""
        self._identities.release(uid)

    def spawn(self, request, max_reply_bytes: int = 64 << 20) -> "Sandbox":
        """Start one child for `request` (a protocol.SandboxRequest)."""
        self.start()
        request.isolation, request.environment = self.isolation, CHILD_ENVIRONMENT
        request.readonly, request.user_namespace = visible_paths(self.private), self.user_namespace
        for attempt in range(2):  # a fork server that died (killed, out of memory) is restarted once
            to_child_r, to_child_w = os.pipe()
            from_child_r, from_child_w = os.pipe()
            output_r, output_w = os.pipe()
            try:
                with self._lock:
                    socket.send_fds(self._channel, [request.to_json()], [to_child_r, from_child_w, output_w])
                    answer = json.loads(self._channel.recv(1 << 16) or b"{}")
            except OSError:
                answer = {}
            finally:
                for fd in (to_child_r, from_child_w, output_w):
                    os.close(fd)
            if "pid" in answer:
                return Sandbox(answer["pid"], to_child_w, from_child_r, output_r, max_reply_bytes)
            for fd in (to_child_w, from_child_r, output_r):
                os.close(fd)
            self._stop_server()
            self.start()
        raise SandboxError("the grader's fork server keeps stopping")

    def _stop_server(self) -> None:
        if self._process is not None:
            self._channel.close()
            self._process.kill()
            self._process.wait()
            self._process = None

    def close(self) -> None:
        self._stop_server()


class Sandbox:
    """A running child: pipes to talk to it, its captured output, and its whole process tree."""

    def __init__(self, pid: int, request_fd: int, reply_fd: int, output_fd: int, max_reply_bytes: int = 64 << 20,
                 output_limit: int = 64 << 10):
        from grading.wire import FrameReader
        self.pid = pid
        self.request_fd, self.reply_fd = request_fd, reply_fd
        self.replies = FrameReader(reply_fd, max_reply_bytes)
        try:
            self._pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._pidfd = None
        self.output = bytearray()
        self._output_limit = output_limit
        self._reader = threading.Thread(target=self._read_output, args=(output_fd,), daemon=True)
        self._reader.start()
        self.closed = False

    def _read_output(self, fd: int) -> None:
        """Drain the child's stdout/stderr, keeping the first `output_limit` bytes."""
        with os.fdopen(fd, "rb", buffering=0) as stream:
            while chunk := stream.read(1 << 16):
                room = self._output_limit - len(self.output)
                self.output += chunk[:max(room, 0)]

    def take_output(self) -> str:
        """The output captured since the last call (bounded), as text."""
        text = self.output.decode("utf-8", "replace")
        self.output.clear()
        return text

    def descendants(self):
        """Host PIDs of every process in the child's tree (the intermediate included)."""
        found, frontier = [], [self.pid]
        while frontier:
            pid = frontier.pop()
            found.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        frontier += [int(child) for child in f.read().split()]
            except OSError:
                continue
        return found

    def memory_bytes(self) -> int:
        """Proportional set size of the whole tree (shared pages counted once, across sharers)."""
        total = 0
        for pid in self.descendants()[1:]:
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    total += next(int(line.split()[1]) for line in f if line.startswith("Pss:")) * 1024
            except (OSError, StopIteration):
                continue
        return total

    def kill(self) -> None:
        """Kill the child and everything it started; close the pipes."""
        if self.closed:
            return
        self.closed = True
        for _ in range(3):  # a fork bomb may add processes while we walk the tree
            for pid in reversed(self.descendants()[1:]):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass
        for fd in (self.request_fd, self.reply_fd, self._pidfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._reader.join(timeout=2)
