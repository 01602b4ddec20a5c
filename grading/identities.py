"""The sandboxes' own users (parent side, as root): one per sandbox graded at the same time.

A user is drawn from a reserved range and held, across grader processes too, by a lock file.
While it runs a submission, no other sandbox has that user, so it cannot signal the other
sandboxes' processes, read their files or share their keyrings. When the submission is done,
`Pool.release` kills every process of the user, checks that none is left, deletes every file it
left in the shared temporary folders and clears its keyrings; only then may the user serve
another submission. A user with processes that cannot be killed is never reused.
"""
import ctypes
import fcntl
import os
import shutil
import signal
import threading
import time
from pathlib import Path

FIRST_UID = 1_850_000          # far above any real account; the gid is the same number
COUNT = 256
LOCKS = Path("/run/kit-grading") if os.path.isdir("/run") else Path("/tmp/kit-grading")
SHARED_TEMPORARY = ("/tmp", "/var/tmp", "/dev/shm")
KEYCTL_CLEAR, KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = 7, -4, -5
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)


class IdentityError(RuntimeError):
    """No sandbox user is free, or one could not be cleaned up."""


def _as_user(uid: int, action) -> int:
    """Run `action()` (returning a small int) in a forked process that became `uid` for good."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 255
        try:
            os.close(read)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            code = action()
            os.write(write, code.to_bytes(8, "little"))
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return int.from_bytes(data, "little") if len(data) == 8 else -1


def readable_as(uid: int, paths) -> list:
    """The paths among `paths` that `uid` can open (files) or list (folders)."""
    paths = list(paths)

    def probe() -> int:
        found = 0
        for i, path in enumerate(paths[:31]):
            try:
                if os.path.isdir(path):
                    os.listdir(path)
                else:
                    os.close(os.open(path, os.O_RDONLY))
                found |= 1 << i
            except OSError:
                pass
        return found

    if len(paths) > 31:
        return readable_as(uid, paths[:31]) + readable_as(uid, paths[31:])
    mask = _as_user(uid, probe)
    if mask < 0:
        raise IdentityError(f"could not test what user {uid} can read")
    return [path for i, path in enumerate(paths) if mask >> i & 1]


def processes_of(uid: int) -> list:
    """PIDs of live processes whose real or effective user is `uid` (zombies are already dead:
    they only wait for their parent to read their status)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        if str(uid) in fields.get("Uid", "").split()[:2] and not fields.get("State", "").strip().startswith("Z"):
            found.append(int(entry))
    return found


def kill_all(uid: int, seconds: float = 5.0) -> bool:
    """SIGKILL every process of `uid` until none is left (True) or `seconds` pass (False)."""
    deadline = time.monotonic() + seconds
    while True:
        pids = processes_of(uid)
        if not pids:
            return True
        if time.monotonic() > deadline:
            return False
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def remove_files_of(uid: int, folders=SHARED_TEMPORARY) -> None:
    """Delete what `uid` left in the shared temporary folders. Only folders it owns or may write
    to (sticky, world-writable) are searched: nothing of anyone else is touched."""
    for folder in folders:
        for root, dirs, files in os.walk(folder, topdown=True):
            for name in list(dirs) + files:
                path = os.path.join(root, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if info.st_uid == uid:
                    if name in dirs:
                        dirs.remove(name)
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        _unlink(path)
                elif name in dirs and not info.st_mode & 0o002:
                    dirs.remove(name)  # not writable by the sandbox user: nothing of it below


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def clear_keyrings(uid: int) -> None:
    """Empty the user's persistent keyrings (a key left there would reach its next submission)."""
    if SYS_KEYCTL is None:
        return
    libc = ctypes.CDLL(None, use_errno=True)

    def clear() -> int:
        for keyring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
            libc.syscall(SYS_KEYCTL, KEYCTL_CLEAR, keyring)
        return 0

    _as_user(uid, clear)


class Pool:
    """Sandbox users, each held by one sandbox at a time (lock files across grader processes)."""

    def __init__(self, first: int = FIRST_UID, count: int = COUNT):
        self.first, self.count = first, count
        self._held = {}
        self._lock = threading.Lock()
        LOCKS.mkdir(mode=0o700, parents=True, exist_ok=True)

    def reserve(self) -> int:
        with self._lock:
            for uid in range(self.first, self.first + self.count):
                if uid in self._held:
                    continue
                descriptor = os.open(LOCKS / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(descriptor)
                    continue
                self._held[uid] = descriptor
                self._clean(uid)  # a grader that died may have left something behind
                return uid
        raise IdentityError(f"all {self.count} sandbox users are busy")

    def release(self, uid: int) -> None:
        with self._lock:
            descriptor = self._held[uid]
        self._clean(uid)  # raises if it cannot: the user then stays held, never reused
        with self._lock:
            del self._held[uid]
        os.close(descriptor)

    def _clean(self, uid: int) -> None:
        if not kill_all(uid):
            raise IdentityError(f"processes of sandbox user {uid} survive SIGKILL")
        remove_files_of(uid)
        clear_keyrings(uid)
