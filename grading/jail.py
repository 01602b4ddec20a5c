"""Lock the current process into a sandbox before it runs a submission.

Three levels, strongest first (see `grading.sandbox.Launcher._choose`):

- "namespaces": new mount, PID, network, IPC and UTS namespaces (plus a user namespace when the
  grader is not root). The process then sees a fresh root made of read-only binds of the system
  and Python directories, its own /box, a small private /tmp, /dev with a few devices, and its
  own /proc. The kit checkout, the reference solutions, the hidden tests, other submissions and
  the results file are simply not in its view. There is no network and no process outside the
  sandbox to signal.
- "uid": no namespaces (e.g. a container that forbids them) but the grader is root: the child runs
  as an unprivileged user of its own, so file permissions protect the kit (the Gradescope script
  makes the kit private first; the grader tries to read every secret as that user before it
  starts) and neither root's processes nor another sandbox's can be signalled.
- "none": only resource limits. For students checking their own code.

In every case the process finally drops all privileges, joins a keyring of its own, sets
no_new_privs and resource limits.
All of this is Linux system calls through ctypes: no extra tool has to be installed.
"""
import ctypes
import os
import platform
import resource
import signal

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2

PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 24, 36, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine())
SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(platform.machine())
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}.get(platform.machine())
KEYCTL_JOIN_SESSION_KEYRING = 1

NOBODY = 65534
DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _b(path):
    return None if path is None else os.fsencode(path)


def mount(source, target, fstype=None, flags=0, data=None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {target}")


def prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl {option}")


def die_with_parent() -> None:
    """Get SIGKILL when the parent process dies (reset by credential changes: call again after)."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def become_subreaper() -> None:
    """Orphaned descendants are re-parented to this process, so none escapes the kill."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def unshare_namespaces(user_namespace: bool = False) -> None:
    """New namespaces for this process (mount, IPC, UTS, net) and for its next child (PID).

    As a normal user (or when asked), a user namespace comes first, mapping the user to root
    inside it, which is what allows the mounts that follow.
    """
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    uid, gid = os.geteuid(), os.getegid()
    user_namespace = user_namespace or uid != 0
    if user_namespace:
        flags |= CLONE_NEWUSER
    _check(_libc.unshare(flags), "unshare")
    if user_namespace:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"0 {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"0 {gid} 1")


def _locked_flags(path: str) -> int:
    """Mount flags a user namespace may not clear when remounting a bind of `path`."""
    st_flags = os.statvfs(path).f_flag
    flags = 0
    for st_bit, ms_bit in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                           (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
                           (os.ST_RELATIME, MS_RELATIME)):
        if st_flags & st_bit:
            flags |= ms_bit
    return flags


def _bind(source: str, target: str, readonly: bool = True) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    if readonly:
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | _locked_flags(source)
        mount(None, target, None, flags)


def _outermost(paths):
    """Existing paths, without those already inside another one (a bind of the parent shows them)."""
    real = sorted({os.path.realpath(p) for p in paths if os.path.exists(p)})
    kept = []
    for path in real:
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def build_root(new_root: str, readonly_paths, box_dir: str, tmp_megabytes: int) -> None:
    """Make `new_root` the root of a minimal filesystem view and switch to it (pivot_root)."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates back to the host
    mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=755")
    # Private /tmp and /dev first: binds below them (a venv in /tmp) then stay visible on top.
    os.makedirs(new_root + "/tmp")
    mount("tmpfs", new_root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_megabytes}m,mode=1777")
    os.makedirs(new_root + "/dev")
    mount("tmpfs", new_root + "/dev", "tmpfs", MS_NOSUID, "size=64k,mode=755")
    for device in DEVICES:
        if os.path.exists("/dev/" + device):
            _bind("/dev/" + device, f"{new_root}/dev/{device}", readonly=False)
    os.makedirs(new_root + "/dev/shm")
    mount("tmpfs", new_root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_megabytes}m,mode=1777")
    os.makedirs(new_root + "/proc")
    try:  # our own PID namespace's /proc; some containers forbid it, and Python works without
        mount("proc", new_root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass
    for path in _outermost(readonly_paths):
        _bind(path, new_root + path)
    for path in readonly_paths:  # merged-/usr systems: /bin, /lib64 ... are links into /usr
        if os.path.islink(path) and not os.path.lexists(new_root + path):
            os.makedirs(os.path.dirname(new_root + path), exist_ok=True)
            os.symlink(os.readlink(path), new_root + path)
    _bind(box_dir, new_root + "/box")

    os.makedirs(new_root + "/.old_root")
    _check(_libc.syscall(SYS_PIVOT_ROOT, _b(new_root), _b(new_root + "/.old_root")), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old_root", MNT_DETACH), "umount old root")
    os.rmdir("/.old_root")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> None:
    for capability in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            break  # EINVAL: past the last capability this kernel knows
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.syscall(SYS_CAPSET, ctypes.byref(header), ctypes.byref(data)), "capset")


def join_new_keyring() -> None:
    """A fresh anonymous session keyring: no key of the grader's session is reachable."""
    if SYS_KEYCTL is not None:
        _libc.syscall(SYS_KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None)


def drop_privileges(isolation: str, uid: int = NOBODY) -> None:
    """Give up every privilege this process has, for good.

    Real root (the "uid" level, or "namespaces" run by root) becomes `uid` (the sandbox's own
    user) with no groups. Root of a user namespace (namespaces run by a normal user) drops every
    capability instead: it has no other uid to become. Then a keyring of its own, and
    no_new_privs, so no set-uid program can give anything back.
    """
    if isolation == "uid" or (isolation == "namespaces" and not in_user_namespace()):
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    elif isolation == "namespaces":
        _drop_capabilities()
    join_new_keyring()
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    die_with_parent()


def in_user_namespace() -> bool:
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def set_limits(data_bytes: int, file_bytes: int, cpu_seconds: int, processes) -> None:
    """Resource limits for the sandbox. `data_bytes` bounds the heap (RLIMIT_DATA counts every
    private writable mapping: malloc, numpy and torch tensors alike)."""
    limits = {resource.RLIMIT_DATA: data_bytes, resource.RLIMIT_FSIZE: file_bytes,
              resource.RLIMIT_CPU: cpu_seconds, resource.RLIMIT_CORE: 0, resource.RLIMIT_NOFILE: 256}
    if processes is not None:
        limits[resource.RLIMIT_NPROC] = processes
    for kind, value in limits.items():
        soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")  # under memory pressure, the kernel kills the submission first
    except OSError:
        pass
