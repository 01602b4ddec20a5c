"""The fork server: import torch & co once, then fork one sandboxed child per submission.

Importing torch and torchvision takes seconds; forking a process that already has them takes
milliseconds. The grader starts this server once (`grading.sandbox.Launcher`) with a clean
environment and only the libraries to preload: it never imports the reference solutions or the
hidden tests, so its memory holds nothing a child must not see. The server is single-threaded
(BLAS thread pools are disabled by the environment it gets), which keeps fork safe.

For each request it forks an *intermediate* process that unshares the namespaces and forks the
*init* of the new PID namespace; init builds the filesystem view, sets limits, drops privileges
and runs `grading.child.serve`. Killing the intermediate kills init (parent-death signal) and, with
it, every process of the namespace.

Protocol on the socket (SOCK_SEQPACKET): the server sends {"ready": ...}; then each request is a
`grading.protocol.SandboxRequest` as JSON with three file descriptors attached (request pipe,
reply pipe, output pipe), and the server answers {"pid": intermediate_pid}.
"""
import importlib
import json
import os
import signal
import socket
import sys

# What a probe may import inside the sandbox, besides the libraries the assignment preloads: the
# kit is not in the sandbox's view, so these must be loaded here, before the fork.
PROBE_MODULES = ("grading.probing", "grading.shared", "grading.rubric", "grading.protocol", "grading.wire")


def _reap(*_):
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _namespaces_work(jail) -> bool:
    """Can this machine give a child its own namespaces and mounts? Tried in a throwaway child."""
    pid = os.fork()
    if pid == 0:
        try:
            jail.unshare_namespaces()
            jail.mount(None, "/", None, jail.MS_REC | jail.MS_PRIVATE)
            jail.mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m")
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _kill_descendants() -> None:
    """SIGKILL every process below this one (orphans included: we are a subreaper)."""
    for _ in range(3):
        try:
            with open(f"/proc/self/task/{os.getpid()}/children") as f:
                children = [int(pid) for pid in f.read().split()]
        except OSError:
            return
        if not children:
            return
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap()


def _run_init(request, request_fd, reply_fd, out_fd, jail, child) -> int:
    """PID 1 of the sandbox: build the view, drop privileges, serve the grader."""
    jail.die_with_parent()
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.dup2(request_fd, 3)
    os.dup2(reply_fd, 4)
    os.closerange(5, 65536)

    isolation, uid = request.isolation, request.uid
    box, workdir = request.box, request.workdir
    if isolation == "namespaces":
        jail.build_root(request.root, request.readonly, box, request.tmp_megabytes)
        box, workdir = "/box", "/tmp/work"
        os.makedirs(workdir, mode=0o700)
        if os.getuid() == 0 and not jail.in_user_namespace():
            os.chown(workdir, uid, uid)
    os.chdir(workdir)
    os.environ.clear()
    # (at the uid level, $TMPDIR is the sandbox's own folder: the host's /tmp is shared)
    os.environ.update(request.environment, HOME=workdir, TMPDIR=workdir,
                      MPLCONFIGDIR=os.path.join(workdir, ".matplotlib"))
    if os.path.isdir(os.path.join(box, "data")) and not os.path.exists("data"):
        os.symlink(os.path.join(box, "data"), "data")  # for files that load './data' at import

    with open("/proc/self/status") as f:
        baseline = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmData:"))
    processes = request.processes if isolation != "none" and os.getuid() == 0 else None
    jail.set_limits(data_bytes=baseline + request.memory_megabytes * 2**20,
                    file_bytes=request.file_megabytes * 2**20,
                    cpu_seconds=request.cpu_seconds, processes=processes)
    jail.drop_privileges(isolation, uid)
    return child.serve(3, 4, request.module, box, isolation, request.seed)


def _run_sandbox(request, fds, jail, wire, child, FAILED) -> int:
    """The intermediate process: new namespaces, then fork init and wait for it."""
    request_fd, reply_fd, out_fd = fds
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    jail.die_with_parent()
    jail.become_subreaper()
    if request.isolation == "namespaces":
        try:
            jail.unshare_namespaces(request.user_namespace)
        except OSError as error:
            wire.send(reply_fd, {"event": FAILED, "error": f"cannot create namespaces: {error}"})
            return 3
    init = os.fork()
    if init == 0:
        code = 70
        try:
            code = _run_init(request, request_fd, reply_fd, out_fd, jail, child)
        except BaseException as error:
            try:
                wire.send(4, {"event": FAILED, "error": f"sandbox set-up failed: {error!r}"})
            except BaseException:
                pass
        finally:
            os._exit(code if isinstance(code, int) else 0)
    for fd in fds:
        os.close(fd)
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == init:
            break
    _kill_descendants()
    return os.waitstatus_to_exitcode(status) & 0xFF


def main() -> None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path += [path for path in json.loads(sys.argv[3]) if path not in sys.path]
    from grading import child, jail, protocol, wire  # noqa: E402  (needs the path above)
    for name in PROBE_MODULES:
        importlib.import_module(name)

    channel = socket.socket(fileno=int(sys.argv[1]))
    jail.die_with_parent()
    for name in json.loads(sys.argv[2]):
        try:
            importlib.import_module(name)
        except Exception:  # a missing optional library: the submission will say so
            pass
    if "matplotlib" in sys.modules:
        import matplotlib.pyplot  # noqa: F401  (font cache loaded once, here)
    channel.send(json.dumps({"ready": True, "namespaces": _namespaces_work(jail), "uid": os.geteuid()}).encode())
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, 1 << 20, 3)
        except ConnectionError:
            return
        if not message:
            return
        request = protocol.SandboxRequest.from_json(message)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            channel.close()
            code = 70
            try:
                code = _run_sandbox(request, fds, jail, wire, child, protocol.FAILED)
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        channel.send(json.dumps({"pid": pid}).encode())


if __name__ == "__main__":
    main()
