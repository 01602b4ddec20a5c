"""The instructor's grading secret, and the per-submission key derived from it (grader side).

Hidden inputs and the sandbox's random seeds derive from `submission_key(source)`: an HMAC of the
submission's bytes under a secret that only the instructor's copy of the kit holds. The same file
therefore always gets the same inputs and the same score; any other file, even one differing by a
comment, gets other inputs, so a file cannot learn its hidden inputs from a previous submission's
feedback, nor recognise them in advance.

The secret is generated on first use into `grading/.grading-secret` (git-ignored, mode 0600),
or read from $KIT_GRADING_SECRET, so that every grader of a course can share one. It lives in the
kit, which no sandbox can see; the release leaves it out, and the Gradescope zip carries it.
"""
import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_PATH = Path(__file__).resolve().parent / ".grading-secret"
ENVIRONMENT_VARIABLE = "KIT_GRADING_SECRET"


def instructor_secret(path: Path = SECRET_PATH) -> bytes:
    """The secret: $KIT_GRADING_SECRET, else the file, created (atomically, 0600) if absent."""
    if os.environ.get(ENVIRONMENT_VARIABLE):
        return os.environ[ENVIRONMENT_VARIABLE].encode()
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    value = secrets.token_hex(32).encode()
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as f:
        f.write(value + b"\n")
    try:
        os.link(temporary, path)  # fails if another grader created it meanwhile: theirs wins
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
    return path.read_bytes().strip()


def submission_key(source: bytes, secret: bytes = None) -> bytes:
    """32 bytes that only this secret and these exact bytes give."""
    return hmac.new(secret or instructor_secret(), source, hashlib.sha256).digest()


def call_seed(key: bytes, number: int) -> int:
    """The seed of the sandbox's generators before the `number`-th call of a submission: fixed
    for a file, unknown to it, and different from call to call (so two calls draw independently)."""
    digest = hashlib.blake2b(number.to_bytes(8, "little"), key=key, digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2 ** 63 - 1)
