"""python -m grading gradescope ASSIGNMENT OUT.zip: a Gradescope autograder for one assignment.

Gradescope unpacks the zip into /autograder/source, runs `setup.sh` once when it builds the image
(CPU-only torch wheels: the CUDA build would not fit its 768 MB machines), then `run_autograder`
for every submission, which runs the same grader as `python -m grading grade` and writes
/autograder/results/results.json.
"""
import stat
import zipfile
from pathlib import Path

from grading import manual, secret

KIT_ROOT = Path(__file__).resolve().parent.parent

SETUP = """#!/usr/bin/env bash
# Run once by Gradescope, as root, when it builds the autograder image.
set -euo pipefail
apt-get update -q
apt-get install -y -q python3 python3-pip python3-venv util-linux
python3 -m venv /autograder/venv
# CPU-only wheels: importing them takes about 210 MB instead of 650 MB for the CUDA build.
/autograder/venv/bin/pip install -q --index-url https://download.pytorch.org/whl/cpu torch torchvision
/autograder/venv/bin/pip install -q -r /autograder/source/requirements.txt
"""

RUN = """#!/usr/bin/env bash
# Run by Gradescope for every submission, as root. AUTOGRADER_ROOT and AUTOGRADER_PYTHON exist
# so that the kit's tests can run this script outside Gradescope.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
# The reference solutions and hidden tests stay private even where namespaces are not allowed:
# the submission runs as an unprivileged user, who cannot read a root-only folder.
chmod -R go-rwx "$ROOT/source" "$ROOT/results"
cd "$ROOT/source"
"$PYTHON" -m grading grade {assignment} "$ROOT/submission" --results "$RESULTS" \\
    --sandbox required --memory-mb {memory_mb} --time-limit {time_limit}
status=$?
if [ ! -s "$RESULTS" ]; then
  cat > "$RESULTS" <<EOF
{{"score": 0, "tests": [],
 "output": "The autograder could not run (status $status). Your instructor can see the log; please tell them."}}
EOF
fi
exit 0
"""


def _kit_files():
    """The instructor's kit minus notebooks, tests and caches: what grading needs."""
    for folder in ("grading", "solutions", "data"):
        for path in sorted((KIT_ROOT / folder).rglob("*")):
            parts = path.relative_to(KIT_ROOT).parts
            if path.is_file() and not any(p in ("__pycache__", "cache") or p.startswith(".") for p in parts):
                yield path, Path(*parts)
    yield KIT_ROOT / "requirements.txt", Path("requirements.txt")


def _add_script(bundle: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    bundle.writestr(info, text)


def build(assignment, out_zip: Path, memory_mb: int = 400, time_limit: int = 600) -> Path:
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    grading_secret = secret.instructor_secret()  # the same hidden inputs on Gradescope as here
    with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("grading/" + secret.SECRET_PATH.name, grading_secret + b"\n")
        bundle.writestr("README.txt", manual.gradescope_readme(assignment.name))  # the manual questions, in order
        _add_script(bundle, "setup.sh", SETUP)
        _add_script(bundle, "run_autograder", RUN.format(assignment=assignment.name, memory_mb=memory_mb,
                                                         time_limit=time_limit))
        for path, name in _kit_files():
            bundle.write(path, str(name))
    return out_zip
