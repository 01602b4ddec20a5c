"""The grader's agent inside the sandbox: import the submission, then answer probe calls.

It runs in the sandboxed process (see `grading.zygote`), talks to the grader only through two
pipes, in `grading.wire`'s plain format, and never decides anything: it calls the assignment's
probes (functions that exercise the submission and return plain values) and reports what they
returned or raised. The verdict is the grader's, in another process.
"""
import importlib.util
import os
import sys
import time
import traceback

from grading import wire
from grading.probing import Rejected
from grading.protocol import HELLO, IMPORT_FAILED, IMPORTED, reset_random_state

MAX_MESSAGE = 300


def load_module(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _short(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE] + "..."


def describe(error: BaseException, submission_path: str) -> str:
    """One line a student can act on: what went wrong and where in their file."""
    try:
        if isinstance(error, SyntaxError) and error.filename == submission_path:
            return f"SyntaxError at line {error.lineno} of your file: {error.msg}"
        frames = [frame for frame in traceback.extract_tb(error.__traceback__)
                  if frame.filename == submission_path]
        where = f" (line {frames[-1].lineno} of your file, in {frames[-1].name})" if frames else ""
        if isinstance(error, NotImplementedError):
            return f"not implemented yet: NotImplementedError{where}"
        if isinstance(error, SystemExit):
            return f"your code called exit() / sys.exit(){where}; remove it"
        if isinstance(error, KeyboardInterrupt):
            return f"your code raised KeyboardInterrupt{where}"
        message = _short(str(error))
        if isinstance(error, MemoryError) or "can't allocate memory" in message:
            return f"ran out of memory (the grader's memory limit){where}"
        return f"{type(error).__name__}: {message}{where}" if message else f"{type(error).__name__}{where}"
    except BaseException:  # a hostile exception whose __str__ raises
        return "raised an exception that cannot be displayed"


def serve(request_fd: int, reply_fd: int, module: str, box: str, isolation: str, seed: int) -> int:
    """Import `box`/submission.py as `module` and serve probe calls until the grader closes the
    pipe. Each call brings the seed of the generators (derived from the submission's key)."""
    wire.send(reply_fd, {"event": HELLO, "isolation": isolation, "uid": os.getuid()})
    probes = load_module("probes", os.path.join(box, "probes.py"))
    path = os.path.join(box, "submission.py")
    started = time.monotonic()
    reset_random_state(seed)
    try:
        submission = load_module(module, path)
    except BaseException as error:
        _flush()
        wire.send(reply_fd, {"event": IMPORT_FAILED, "error": describe(error, path)})
        return 1
    _flush()
    wire.send(reply_fd, {"event": IMPORTED, "seconds": time.monotonic() - started})

    requests = wire.FrameReader(request_fd)
    while True:
        try:
            request = requests.receive()
        except EOFError:
            return 0
        reset_random_state(request["seed"])
        try:
            value = getattr(probes, request["probe"])(submission, **request["args"])
            reply = wire.encode({"ok": True, "value": value})
        except Rejected as error:
            reply = wire.encode({"ok": False, "error": str(error)})
        except wire.WireError as error:
            reply = wire.encode({"ok": False, "error": f"returned a value the grader cannot read ({error})"})
        except BaseException as error:
            reply = wire.encode({"ok": False, "error": describe(error, path)})
        _flush()
        wire.send_encoded(reply_fd, reply)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
