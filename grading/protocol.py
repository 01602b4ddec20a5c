"""What the grader and its sandboxed child say to each other (both sides import this file).

1. The grader asks the fork server for a sandbox with a `SandboxRequest` (JSON on a socket).
2. The child, once locked in, sends `{"event": HELLO, "isolation": ..., "uid": ...}`, imports the
   submission and sends `{"event": IMPORTED, "seconds": ...}` or `{"event": IMPORT_FAILED,
   "error": ...}`; a sandbox whose set-up failed sends `{"event": FAILED, "error": ...}` instead.
3. Then each call is `{"probe": name, "args": {...}, "seed": int}` from the grader, answered by
   `{"ok": True, "value": ...}` or `{"ok": False, "error": ...}`.

Messages after step 1 are `grading.wire` frames on two pipes. Only the standard library, numpy
and torch are imported here: the fork server preloads this module.
"""
import json
import random
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch

HELLO, IMPORTED, IMPORT_FAILED, FAILED = "hello", "imported", "import_failed", "failed"


@dataclass
class SandboxRequest:
    """Everything the fork server needs to build one sandbox."""
    module: str                      # the name the submission is imported under
    box: str                         # host folder holding submission.py, probes.py and data
    root: str                        # an empty host folder: the mount point of the new root
    workdir: str                     # the child's working folder (its $HOME and $TMPDIR)
    isolation: str = "none"          # "namespaces", "uid" or "none" (see grading.jail)
    uid: int = 65534                 # the sandbox's own user (as root): one per concurrent sandbox
    environment: dict = field(default_factory=dict)
    readonly: list = field(default_factory=list)    # host paths bound read-only into the new root
    user_namespace: bool = False
    seed: int = 0                    # of the generators while the submission is imported
    tmp_megabytes: int = 64
    memory_megabytes: int = 1024
    file_megabytes: int = 64
    cpu_seconds: int = 960
    processes: int = 256

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "SandboxRequest":
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in json.loads(data).items() if key in known})


def reset_random_state(seed: int = 0) -> None:
    """The same generators' state before every call, on both sides: a score cannot depend on
    the order in which calls are made, and a given seed always draws the same numbers."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)
    torch.set_grad_enabled(True)
