"""Turn what a student handed in into the Python source to grade.

Accepted: a `.py` file of any name; a notebook (`.ipynb`: its code cells, with IPython magics and
shell lines dropped); a folder or a `.zip` holding one of those (the assignment's own file name
first, then any single `.py`, then any single notebook). Zips are extracted with limits and no
path may leave the extraction folder.
"""
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

MAX_SOURCE_BYTES = 4 << 20
MAX_ZIP_FILES = 500
MAX_ZIP_BYTES = 64 << 20
IGNORED_PARTS = {"__pycache__", "__MACOSX", ".ipynb_checkpoints", ".git"}


class NoSubmission(Exception):
    """Nothing gradable in what was handed in; the message tells the student what to send."""


@dataclass
class Submission:
    source: bytes       # the Python source to import
    origin: str         # what it came from, for messages ("hw3/solution.py in submission.zip")


def notebook_to_source(text: str) -> bytes:
    """The code cells of a notebook as one module. Magics (%, %%) and shell lines (!) are
    dropped: they are not Python; a cell magic drops its whole cell."""
    try:
        notebook = json.loads(text)
        cells = notebook["cells"]
    except (ValueError, KeyError, TypeError):
        raise NoSubmission("the notebook could not be read (not valid .ipynb JSON)") from None
    blocks = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if source.lstrip().startswith("%%"):
            continue
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        blocks.append("\n".join(lines))
    return ("\n\n".join(blocks) + "\n").encode()


def _read_file(path: Path, origin: str) -> Submission:
    if path.stat().st_size > MAX_SOURCE_BYTES:
        raise NoSubmission(f"{origin} is larger than {MAX_SOURCE_BYTES >> 20} MB")
    if path.suffix == ".ipynb":
        return Submission(notebook_to_source(path.read_text(errors="replace")), origin)
    return Submission(path.read_bytes(), origin)


def _candidates(folder: Path):
    files = [p for p in sorted(folder.rglob("*"))
             if p.is_file() and not p.is_symlink() and not (set(p.relative_to(folder).parts) & IGNORED_PARTS)
             and not p.name.startswith(".")]
    return files


def _pick(folder: Path, file_names, label: str) -> Submission:
    files = _candidates(folder)
    for name in file_names:
        named = [p for p in files if p.name == name]
        if named:
            best = min(named, key=lambda p: len(p.parts))
            return _read_file(best, f"{best.relative_to(folder)} in {label}")
    for suffix in (".py", ".ipynb"):
        found = [p for p in files if p.suffix == suffix]
        if len(found) == 1:
            return _read_file(found[0], f"{found[0].relative_to(folder)} in {label}")
        if len(found) > 1:
            listed = ", ".join(str(p.relative_to(folder)) for p in found[:5])
            raise NoSubmission(f"{label} holds several {suffix} files ({listed}); "
                               f"name the one to grade {file_names[0]}")
    raise NoSubmission(f"{label} holds no .py or .ipynb file; hand in {file_names[0]}")


def _extract(archive: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            if len(members) > MAX_ZIP_FILES or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise NoSubmission(f"{archive.name} is too large to grade")
            for member in members:
                target = (into / member.filename).resolve()
                if not str(target).startswith(str(into.resolve()) + "/") or member.is_dir():
                    continue  # absolute paths and '..' are skipped, never followed
                is_link = (member.external_attr >> 16) & 0o170000 == 0o120000
                if is_link:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(bundle.read(member))
    except zipfile.BadZipFile:
        raise NoSubmission(f"{archive.name} is not a valid zip file") from None


def load(path, file_names) -> Submission:
    """The submission at `path` (file, folder or zip). Raises FileNotFoundError if absent and
    NoSubmission if nothing in it can be graded."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if path.is_dir():
        return _pick(path, file_names, f"folder {path.name}")
    if path.suffix == ".zip":
        with tempfile.TemporaryDirectory(prefix="kit-zip-") as folder:
            _extract(path, Path(folder))
            return _pick(Path(folder), file_names, path.name)
    if path.suffix in (".py", ".ipynb"):
        return _read_file(path, path.name)
    raise NoSubmission(f"{path.name}: hand in a .py file, a notebook, or a .zip of one")
