"""python -m grading merge grades.csv manual.csv [--out final.csv]: autograded and manual scores, by student.

grades.csv is `batch`'s gradebook: `student`, one column per autograded question, `total`,
`problem` (and possibly the empty manual columns `batch` adds). manual.csv holds the manual scores,
either that gradebook with its manual columns filled in by hand, or the scores exported from
Gradescope. Its score columns are recognised by their header, which ends with the maximum:
`vae-3a (2 pts)` (the kit's) or `1: 3(a) Wall-clock time (2.0 pts)` (Gradescope's). Students are
matched on `student`, or on Gradescope's `SID`, `Email` or `Name`, whichever matches grades.csv.

Every value must be there and be a number within its maximum: a blank, a word, a student missing
from either file or present twice is a one-line error naming the file, the line and the column,
never a silent zero.
"""
import csv
import re
import sys
from pathlib import Path

SCORE_HEADER = re.compile(r"^(?:\d+(?:\.\d+)*:\s*)?(?P<name>.+?)\s*\((?P<max>\d+(?:\.\d+)?)\s*pts?\)$")
STUDENT_KEYS = ("student", "SID", "Email", "Name")
GRADEBOOK_FIXED = ("student", "total", "problem")


class MergeError(ValueError):
    """A problem with the input, in one line naming where it is."""


def _read(path) -> tuple:
    """(header, rows) of a CSV file; each row a dict with its line number under '__line__'."""
    path = Path(path)
    if not path.is_file():
        raise MergeError(f"no such file: {path}")
    with open(path, newline="", encoding="utf-8-sig") as f:  # Excel and Gradescope may add a BOM
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise MergeError(f"{path.name}: empty file, no header line")
        rows = []
        for row in reader:
            if None in row:
                raise MergeError(f"{path.name} line {reader.line_num}: more values than columns in the header")
            row["__line__"] = reader.line_num
            rows.append(row)
    return [name.strip() for name in reader.fieldnames], rows


def _number(text, file: str, row: dict, column: str, maximum=None) -> float:
    where = f"{file} line {row['__line__']}, column '{column}'"
    value = (text or "").strip()
    if not value:
        raise MergeError(f"{where}: no value (write 0 for no points)")
    try:
        number = float(value)
    except ValueError:
        raise MergeError(f"{where}: {value!r} is not a number") from None
    if number != number or number < 0 or (maximum is not None and number > maximum + 1e-9):
        raise MergeError(f"{where}: {value} is outside 0..{maximum:g}" if maximum is not None
                         else f"{where}: {value} is not a valid score")
    return number


def score_columns(header) -> dict:
    """{column: maximum} of the columns whose header ends with '(P pts)'."""
    return {name: float(m.group("max")) for name in header if (m := SCORE_HEADER.match(name))}


def _by_student(file: str, rows, key: str) -> dict:
    found = {}
    for row in rows:
        student = (row.get(key) or "").strip()
        if not student:
            raise MergeError(f"{file} line {row['__line__']}: no {key}")
        if student in found:
            raise MergeError(f"{file} line {row['__line__']}: {key} '{student}' appears twice "
                             f"(also line {found[student]['__line__']})")
        found[student] = row
    return found


def _student_key(file: str, header, rows, students) -> str:
    """The manual file's column that names students: the one whose values match grades.csv best."""
    present = [key for key in STUDENT_KEYS if key in header]
    if not present:
        raise MergeError(f"{file}: no student column (one of {', '.join(STUDENT_KEYS)})")
    matches = {key: sum((row.get(key) or "").strip() in students for row in rows) for key in present}
    best = max(present, key=lambda key: matches[key])
    if matches[best] == 0:
        raise MergeError(f"{file}: no {' or '.join(present)} value matches a student of grades.csv")
    return best


def merge(grades_csv, manual_csv, out_csv) -> list:
    """Write out_csv: per student the autograded columns and total, the manual columns and total, and
    the final total. Returns the rows written (dicts). Raises MergeError on any bad input."""
    grades_file, manual_file = Path(grades_csv).name, Path(manual_csv).name
    grades_header, grades_rows = _read(grades_csv)
    if "student" not in grades_header or "total" not in grades_header:
        raise MergeError(f"{grades_file}: not a gradebook of `batch` (no 'student' and 'total' columns)")
    auto_columns = [c for c in grades_header if c not in GRADEBOOK_FIXED and c not in score_columns(grades_header)]
    graded = _by_student(grades_file, grades_rows, "student")

    manual_header, manual_rows = _read(manual_csv)
    manual_columns = score_columns(manual_header)
    if not manual_columns:
        raise MergeError(f"{manual_file}: no score column (a header ending with '(P pts)', e.g. 'vae-3a (2 pts)')")
    key = _student_key(manual_file, manual_header, manual_rows, set(graded))
    manual = _by_student(manual_file, manual_rows, key)
    for student, row in manual.items():
        if student not in graded:
            raise MergeError(f"{manual_file} line {row['__line__']}: {key} '{student}' is not in {grades_file}")

    merged = []
    for student, row in graded.items():
        if student not in manual:
            raise MergeError(f"{manual_file}: no row for student '{student}' ({grades_file} line {row['__line__']})")
        out = {"student": student}
        for column in auto_columns:
            out[column] = _number(row.get(column), grades_file, row, column)
        out["autograded"] = _number(row.get("total"), grades_file, row, "total")
        for column, maximum in manual_columns.items():
            out[column] = _number(manual[student].get(column), manual_file, manual[student], column, maximum)
        out["manual"] = sum(out[column] for column in manual_columns)
        out["total"] = out["autograded"] + out["manual"]
        out["problem"] = (row.get("problem") or "").strip()
        merged.append(out)
    _write(out_csv, ["student", *auto_columns, "autograded", *manual_columns, "manual", "total", "problem"], merged)
    return merged


def _write(path, header, rows) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow([f"{row[c]:g}" if isinstance(row[c], float) else row[c] for c in header])


def command(grades_csv: str, manual_csv: str, out_csv: str = None) -> int:
    """`python -m grading merge`: 0 when final.csv was written, 2 with a one-line error otherwise."""
    out_csv = out_csv or str(Path(grades_csv).with_name(Path(grades_csv).stem + "-final.csv"))
    try:
        rows = merge(grades_csv, manual_csv, out_csv)
    except MergeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{len(rows)} students merged into {out_csv}")
    return 0


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(prog="python -m grading.merge", description=__doc__.splitlines()[0])
    parser.add_argument("grades_csv")
    parser.add_argument("manual_csv")
    parser.add_argument("--out", help="the merged gradebook (default: GRADES-final.csv beside grades.csv)")
    args = parser.parse_args()
    sys.exit(command(args.grades_csv, args.manual_csv, args.out))
