"""Turn what a student handed in into the Python source to grade.

Accepted: a `.py` file of any name; a notebook (`.ipynb`, format 4 or 3: its code cells, with
IPython magics and shell lines dropped); a folder or a `.zip` holding one of those (the
assignment's own file name first, then any single `.py`, then any single notebook). Zips are
extracted with limits, and no path may leave the extraction folder. A `.py` exported from a
notebook that does not compile only because of IPython lines (`!pip install ...`) has them
replaced by `pass`, and the student is told which.

Whatever the bytes, the result is a Submission or a NoSubmission that says why: never a traceback.
"""
import json
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
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
    notes: list = field(default_factory=list)   # what was changed, for the student


# Cell magics whose body is Python run as it is (%%time times it): the body is kept.
PYTHON_CELL_MAGICS = {"time", "capture", "prun"}
IPYTHON_LINE = re.compile(r"^\s*(!|%)")


def _text(value) -> str:
    """A cell's source: a string, or a list of strings (anything else is not a notebook's)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    raise NoSubmission("the notebook could not be read (a cell's source is not text)")


def _code_cells(notebook) -> list:
    """The code cells' sources, from format 4 (cells) or format 3 (worksheets, `input`)."""
    if not isinstance(notebook, dict):
        raise NoSubmission("the notebook could not be read (not a notebook's JSON)")
    if "cells" in notebook:
        cells, key = notebook["cells"], "source"
    elif isinstance(notebook.get("worksheets"), list) and notebook["worksheets"]:
        cells, key = [cell for sheet in notebook["worksheets"] if isinstance(sheet, dict)
                      for cell in (sheet.get("cells") if isinstance(sheet.get("cells"), list) else [])], "input"
    else:
        raise NoSubmission("the notebook could not be read (it has no cells)")
    if not isinstance(cells, list):
        raise NoSubmission("the notebook could not be read (its cells are not a list)")
    return [_text(cell.get(key, "")) for cell in cells if isinstance(cell, dict) and cell.get("cell_type") == "code"]


def _without_ipython_lines(source: str):
    """(source, numbers of the lines removed): each `!shell` or `%magic` line becomes an empty
    line, or `pass` when it is the first line of a block (an `if` around `!pip install`)."""
    lines, replaced = source.splitlines(), []
    previous = ""
    for number, line in enumerate(lines, 1):
        if IPYTHON_LINE.match(line):
            opens_block = previous.rstrip().endswith(":")
            lines[number - 1] = line[:len(line) - len(line.lstrip())] + "pass" if opens_block else ""
            replaced.append(number)
        elif line.strip() and not line.lstrip().startswith("#"):
            previous = line
    return "\n".join(lines), replaced


def notebook_to_source(text: str) -> bytes:
    """The code cells of a notebook as one module. Magics (%, %%) and shell lines (!) are not
    Python: a line magic or shell line becomes `pass`; a cell magic drops its cell, unless it only
    times or captures Python (%%time), whose body is kept."""
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError):
        raise NoSubmission("the notebook could not be read (not valid .ipynb JSON)") from None
    blocks = []
    for source in _code_cells(notebook):
        stripped = source.lstrip()
        if stripped.startswith("%%"):
            magic, _, body = stripped.partition("\n")
            if (magic[2:].split() or [""])[0] not in PYTHON_CELL_MAGICS:
                continue
            source = body
        blocks.append(_without_ipython_lines(source)[0])
    return ("\n\n".join(blocks) + "\n").encode()


def python_source(data: bytes, origin: str) -> Submission:
    """A .py file's bytes; if they do not compile only because of IPython lines (a file exported
    from a notebook with `!pip install` left in), those lines are replaced and the student told."""
    try:
        compile(data, origin, "exec")
        return Submission(data, origin)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    text = data.decode("utf-8", "replace")
    fixed, replaced = _without_ipython_lines(text)
    if not replaced:
        return Submission(data, origin)  # a real syntax error: the import will report its line
    try:
        compile(fixed, origin, "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return Submission(data, origin)
    shown = ", ".join(map(str, replaced[:10])) + (" ..." if len(replaced) > 10 else "")
    return Submission(fixed.encode(), origin, [f"IPython lines (! or %) are not Python: line(s) {shown} of your "
                                               "file were ignored; remove them before you hand it in"])


def _read_file(path: Path, origin: str) -> Submission:
    if path.stat().st_size > MAX_SOURCE_BYTES:
        raise NoSubmission(f"{origin} is larger than {MAX_SOURCE_BYTES >> 20} MB")
    if path.suffix == ".ipynb":
        return Submission(notebook_to_source(path.read_text(errors="replace")), origin)
    return python_source(path.read_bytes(), origin)


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


# What reading a hostile zip can raise: corrupt streams, encryption, unknown compression,
# undecodable or over-long names, a file where a folder must go...
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError,
              ValueError, UnicodeError)


def _extract(archive: Path, into: Path) -> list:
    """Extract what can be extracted; return one line per member that could not be."""
    skipped = []
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            if len(members) > MAX_ZIP_FILES or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise NoSubmission(f"{archive.name} is too large to grade")
            for member in members:
                try:
                    _extract_member(bundle, member, into)
                except ZIP_ERRORS as error:
                    skipped.append(f"{member.filename[:80]!r}: {type(error).__name__}")
    except ZIP_ERRORS as error:
        raise NoSubmission(f"{archive.name} is not a valid zip file ({type(error).__name__})") from None
    return skipped


def _extract_member(bundle: zipfile.ZipFile, member: zipfile.ZipInfo, into: Path) -> None:
    target = (into / member.filename).resolve()
    if not str(target).startswith(str(into.resolve()) + "/") or member.is_dir():
        return  # absolute paths and '..' are skipped, never followed
    if (member.external_attr >> 16) & 0o170000 == 0o120000:
        return  # symbolic links are never followed
    data = bundle.read(member)  # (checks the CRC: a corrupt member raises here, before any write)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def load(path, file_names) -> Submission:
    """The submission at `path` (file, folder or zip). Raises FileNotFoundError if absent and
    NoSubmission if nothing in it can be graded."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if path.is_dir():
        return _pick(path, file_names, f"folder {path.name}")
    if not path.is_file():
        raise NoSubmission(f"{path.name} is not a regular file")
    if path.suffix == ".zip":
        with tempfile.TemporaryDirectory(prefix="kit-zip-") as folder:
            skipped = _extract(path, Path(folder))
            try:
                picked = _pick(Path(folder), file_names, path.name)
            except NoSubmission as problem:
                raise NoSubmission(f"{problem}" + (f" (unreadable: {', '.join(skipped[:3])})" if skipped else "")) \
                    from None
            picked.notes += [f"{path.name}: could not extract {', '.join(skipped[:5])}"] if skipped else []
            return picked
    if path.suffix in (".py", ".ipynb"):
        return _read_file(path, path.name)
    raise NoSubmission(f"{path.name}: hand in a .py file, a notebook, or a .zip of one")
