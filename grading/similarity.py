"""Which submissions share more code than independent work does, beyond the code students were given.

Built on copydetect (the winnowing fingerprints of Schleimer, Wilkerson and Aiken, as in MOSS):
its tokenizer replaces every name by one letter and drops comments and whitespace, so renamed
variables, reformatting and reordered functions do not hide a copy; k-grams of the given code
(the released starter and notebook) are removed as boilerplate, so two blank starters match
nothing.

Scores are copydetect's: the fraction of a file's own code (its non-boilerplate tokens) that lies
in stretches also found in the other file. Three additions keep the scores meaningful, a class
of 300 fast, and the numbers stable:

- each run of lines a submission shares verbatim with the given code (docstrings, signatures,
  the loops around the answers) becomes one marker line, and fingerprints across a marker are
  dropped: otherwise every answer's first tokens would match everybody's through the signature
  before them. It also makes tokenizing, copydetect's slow step (~70 ms for a whole `trainer`
  file), several times faster. Lines with a triple quote stay, so no string is cut open.
- every k-gram is a fingerprint (window 1, copydetect's default), which makes scores
  deterministic (winnowing would select by Python's per-process string hashes);
- all pairs are scored at once from a sparse matrix of fingerprints, counting exactly what
  copydetect's `compare_files` counts; `compare_files` itself (a few ms a pair, minutes for the
  45,000 pairs of 300 students) runs on the flagged pairs only, for the shared regions.
"""
import io
import re
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np

NOISE_TOKENS = 25          # copydetect's default: shorter shared stretches of tokens are chance
DEFAULT_THRESHOLD = 0.9    # see `similar_pairs` for the measurements behind it
MIN_SHARED_TOKENS = 100    # a pair must also share this many tokens (about five lines of code)
CONTEXT_LINES = 2          # lines shown around each shared region
MARKER = "0x5eed"          # the number that stands for a run of given lines (see `own_code`)


@dataclass
class Pair:
    """Two submissions that share more than the threshold, and where."""
    first: str
    second: str
    scores: Tuple[float, float]     # the fraction of each one's own code found in the other
    shared_tokens: int
    views: Tuple[list, list]        # each file as [(text, shared: bool), ...], long unshared parts cut

    @property
    def score(self) -> float:
        return max(self.scores)


def given_code(assignment) -> str:
    """What every student starts from: the released starter module and the code cells of the
    released notebook (solution regions stubbed, as `grading.release` does)."""
    from grading.release import ReleaseError, strip_solutions
    from grading.submission import NoSubmission, notebook_to_source
    parts = [strip_solutions(assignment.solution_path.read_text())[0]]
    notebook = assignment.solution_path.parent.parent / "notebooks" / (assignment.notebook or "")
    if assignment.notebook and notebook.is_file():
        try:
            parts.append(strip_solutions(notebook_to_source(notebook.read_text()).decode())[0])
        except (ReleaseError, NoSubmission):
            pass  # an unreadable notebook: the starter alone is the boilerplate
    return "\n".join(parts)


def own_code(source: str, given_lines: set) -> Tuple[str, list]:
    """`source` with each run of lines it shares with the given code replaced by a MARKER line,
    and what each marker stands for, in order, for display.

    Lines with a triple quote are kept, so that no string literal is cut open. Fingerprints
    across a marker are dropped (see `_fingerprint`): an answer's first tokens must not match
    everybody's through the signature before them.
    """
    kept, labels, run = [], [], []
    for line in source.splitlines() + ["end"]:  # a last own line closes the last run; dropped below
        if not line.strip():
            continue  # blank lines neither end a run nor count
        if line.strip() in given_lines and '"""' not in line and "'''" not in line:
            run.append(line)
            continue
        if run:
            kept.append(MARKER)
            labels.append(_label(run))
            run = []
        kept.append(line)
    return "\n".join(kept[:-1]) + "\n", labels


def _label(lines) -> str:
    """What a run of given lines is shown as: its last signature, if any."""
    signatures = [line.split("(")[0] + "(...)" for line in lines if line.lstrip().startswith(("def ", "class "))]
    return signatures[-1] if signatures else "    [given code]"


def _fingerprint(code: str, boilerplate=None):
    """copydetect's fingerprint of `code`, without the k-grams that overlap a marker (the
    tokenizer keeps a number as it is, so markers are easy to find in its output)."""
    from copydetect import CodeFingerprint
    from copydetect.utils import get_token_coverage
    fingerprint = CodeFingerprint("submission.py", NOISE_TOKENS, 1, boilerplate, language="python",
                                  fp=io.StringIO(code))
    text = fingerprint.filtered_code
    crossing = set()
    for found in re.finditer(MARKER, text):
        crossing.update(range(found.start() - NOISE_TOKENS + 1, found.end()))
    fingerprint.hash_idx = {value: kept for value, starts in fingerprint.hash_idx.items()
                            if (kept := [start for start in starts if start not in crossing])}
    fingerprint.hashes = set(fingerprint.hash_idx)
    fingerprint.token_coverage = get_token_coverage(fingerprint.hash_idx, NOISE_TOKENS, len(text))
    return fingerprint


def _positions(fingerprint) -> Tuple[np.ndarray, np.ndarray]:
    """(start of each k-gram left after boilerplate, its hash), in order of position."""
    starts = [(start, value) for value, found in fingerprint.hash_idx.items() for start in found]
    starts.sort()
    return (np.array([s for s, _ in starts], dtype=np.int64), np.array([v for _, v in starts], dtype=np.int64))


def _covered_fractions(fingerprints) -> Tuple[np.ndarray, np.ndarray]:
    """(fraction[a, b] of a's own tokens inside stretches also in b, shared tokens[a, b]), exactly
    as copydetect's `compare_files` counts them, for all pairs at once."""
    from scipy.sparse import csc_matrix
    positions = [_positions(f) for f in fingerprints]
    all_hashes = np.concatenate([hashes for _, hashes in positions] + [np.zeros(0, np.int64)])
    vocabulary, columns = np.unique(all_hashes, return_inverse=True)
    rows = np.repeat(np.arange(len(positions)), [len(hashes) for _, hashes in positions])
    present = csc_matrix((np.ones(len(rows), bool), (rows, columns)), shape=(len(positions), len(vocabulary)))
    n = len(fingerprints)
    fractions, shared = np.zeros((n, n)), np.zeros((n, n), dtype=np.int64)
    offset = 0
    for a, (starts, hashes) in enumerate(positions):
        mine = columns[offset:offset + len(hashes)]
        offset += len(hashes)
        if not len(starts):
            continue
        found = present[:, mine].tocsr()      # found[b, i]: a's k-gram i is also in b
        found.sort_indices()
        other = np.repeat(np.arange(n), np.diff(found.indptr))
        start = starts[found.indices]
        # The union of the found k-grams [start, start + k) of each b: each adds the tokens up to
        # the next one's start, at most k.
        added = np.full(len(start), NOISE_TOKENS)
        same = other[1:] == other[:-1]
        added[:-1][same] = np.minimum(np.diff(start)[same], NOISE_TOKENS)
        shared[a] = np.bincount(other, weights=added, minlength=n).astype(np.int64)
        fractions[a] = shared[a] / fingerprints[a].token_coverage
    np.fill_diagonal(fractions, 0)
    np.fill_diagonal(shared, 0)
    return fractions, shared


def _view(text: str, slices, labels: list) -> list:
    """`text` as [(part, shared)], markers shown as what they stand for, unshared stretches cut to
    CONTEXT_LINES lines at each end."""
    parts, position = [], 0
    for start, end in sorted(zip(slices[0].tolist(), slices[1].tolist())):
        if start > position:
            parts.append((text[position:start], False))
        parts.append((text[max(start, position):end], True))
        position = max(position, end)
    parts.append((text[position:], False))
    shown, markers_before = [], 0
    for part, shared in parts:
        shown.append((_unmark(part, labels, markers_before), shared))
        markers_before += part.count(MARKER)
    shown = [(part, shared) for part, shared in shown if part]
    return [(part if shared else _cut(part, first=i == 0, last=i == len(shown) - 1), shared)
            for i, (part, shared) in enumerate(shown)]


def _unmark(text: str, labels: list, first: int) -> str:
    """`text` with its markers (the first one the `first`-th of the file) shown as their labels."""
    numbers = iter(range(first, first + text.count(MARKER)))
    return re.sub(MARKER, lambda _: labels[next(numbers)], text)


def _cut(text: str, first: bool, last: bool) -> str:
    """Long unshared text cut to the lines next to the shared regions around it."""
    lines = text.split("\n")
    head = 0 if first else CONTEXT_LINES + 1
    tail = 0 if last else CONTEXT_LINES + 1
    if len(lines) <= head + tail + 1:
        return text
    return "\n".join(lines[:head] + ["    [...]"] + lines[len(lines) - tail:])


def similar_pairs(sources: Dict[str, str], boilerplate: str, threshold: float = DEFAULT_THRESHOLD) -> List[Pair]:
    """Pairs of `sources` (name -> Python source) whose score, the larger of the two fractions of
    own code shared, is at least `threshold`, and which share at least MIN_SHARED_TOKENS tokens
    (a one-line answer everybody writes the same way is no evidence). Best first.

    The default, 0.9, from measurements on `trainer` (tests/test_class_report.py):
    - a whole-file copy with renamed variables and reordered functions scores 1.0;
    - two independent public solutions of the original course's homework score 0.26, and 0.14
      at most against the synthetic students below;
    - a pessimistic synthetic class, where every answer is one of three to five fixed styles (so
      honest students often hand in token-identical functions): among 40 students the highest
      honest pair scores 0.84; among 300, the 99th percentile is 0.80, the 99.9th 0.90.
    So 0.9 lists disguised whole-file copies and almost never independent work, even where
    answers are short and alike. A copy that was partly rewritten scores lower: lower the
    threshold (`--similarity-threshold 0.6`) to look for those, and read each pair: a score is a
    lead, not a verdict.
    """
    from copydetect.detector import compare_files
    given_lines = {line.strip() for line in boilerplate.splitlines() if line.strip()}
    boilerplate_hashes = np.array(sorted(_fingerprint(own_code(boilerplate, given_lines)[0]).hashes), dtype=np.int64)
    names = list(sources)
    reduced = [own_code(sources[name], given_lines) for name in names]
    fingerprints = [_fingerprint(code, boilerplate_hashes) for code, _ in reduced]
    fractions, shared = _covered_fractions(fingerprints)
    pairs = []
    for a, b in zip(*np.nonzero(np.triu(np.maximum(fractions, fractions.T) >= threshold))):
        if max(shared[a, b], shared[b, a]) < MIN_SHARED_TOKENS:
            continue
        _, scores, slices = compare_files(fingerprints[a], fingerprints[b])
        views = (_view(reduced[a][0], slices[0], reduced[a][1]), _view(reduced[b][0], slices[1], reduced[b][1]))
        pairs.append(Pair(names[a], names[b], (float(scores[0]), float(scores[1])),
                          int(max(shared[a, b], shared[b, a])), views))
    return sorted(pairs, key=lambda pair: -pair.score)
