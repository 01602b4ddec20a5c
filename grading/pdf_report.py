"""python -m grading report NOTEBOOK.ipynb OUT.pdf [--code]: a student's report, one question a page.

Report items. Every written question of a notebook is a manually graded nbgrader cell: a Markdown
answer cell with `grade` and `solution` true, a `grade_id` and the statement's `points` (nbgrader's
schema 3, so that nbgrader's own tools recognise it and the release turns it into
"YOUR ANSWER HERE"). The cells around it name their item in their metadata:

    answer cell     {"kit": {"item": "<grade_id>", "title": "3(a) Wall-clock time"}}
    question cells  {"kit": {"item": "<grade_id>", "role": "question"}}                  (Markdown)
    figure cells    {"kit": {"item": "<grade_id>", "role": "figure", "caption": "..."}}  (code; the
                    item may be a list of ids when one figure serves several questions)

The PDF: a first page with the checks' warnings and the items with their pages, then every item
from a new page (Gradescope asks one click per question): title and points, the question, the
answer (Markdown rendered, LaTeX math drawn by matplotlib's mathtext), the figures with their
captions and what their cells printed, and with `code=True` the code of those cells.

Why fpdf2: a pure-Python wheel (with Pillow, fontTools and defusedxml) that needs no browser, no TeX
and no system library, so it runs offline and on Colab; it embeds TrueType fonts, and the DejaVu
fonts that matplotlib ships cover accents, Greek letters and math symbols; text stays text, so the
PDF is searchable (and the tests read it back with pypdf).
"""
import io
import json
import re
import sys
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "YOUR ANSWER HERE"
MAX_PRINTED_LINES = 20  # of a figure cell's printed output: the numbers, not a training log


# -- the notebook's report items ------------------------------------------------------------------

@dataclass
class Figure:
    cell: int                 # index of the code cell in the notebook (for "run cell N")
    caption: str
    images: list              # PNG or JPEG bytes, in the order the cell drew them
    printed: str              # what the cell printed on stdout
    source: str
    executed: datetime = None  # when the cell last finished running, when the notebook says
    required: bool = True     # role "figure": must draw an image; role "output": shows what it has


@dataclass
class Item:
    grade_id: str
    title: str
    points: float
    question: str
    answer: str
    figures: list = field(default_factory=list)


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else (source or "")


def _kit(cell) -> dict:
    meta = cell.get("metadata", {}).get("kit", {})
    return meta if isinstance(meta, dict) else {}


def _item_ids(cell) -> list:
    ids = _kit(cell).get("item", [])
    return [ids] if isinstance(ids, str) else list(ids)


def is_answer(cell) -> bool:
    """A manually graded written answer: nbgrader's Markdown `grade` + `solution` cell."""
    grader = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "markdown" and bool(grader.get("grade")) and bool(grader.get("solution"))


def _images(cell) -> list:
    import base64
    found = []
    for output in cell.get("outputs", []):
        for kind in ("image/png", "image/jpeg"):
            data = output.get("data", {}).get(kind)
            if data:
                found.append(base64.b64decode(_text(data)))
                break
    return found


def _printed(cell) -> str:
    text = "".join(_text(o.get("text")) for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")
    lines = [line for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return "\n".join(lines[-MAX_PRINTED_LINES:])


def _parse_time(value):
    """An ISO timestamp (nbclient, papermill, Jupyter) or milliseconds since 1970 (Colab)."""
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value / 1000, timezone.utc)
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def executed_at(cell):
    """When the cell last finished running, from the metadata Jupyter, papermill or Colab write."""
    meta = cell.get("metadata", {})
    for value in (meta.get("execution", {}).get("shell.execute_reply"), meta.get("papermill", {}).get("end_time"),
                  meta.get("executionInfo", {}).get("timestamp")):
        if value:
            moment = _parse_time(value)
            if moment:
                return moment
    return None


def read_items(notebook) -> list:
    """The notebook's report items, in the order of their answer cells."""
    cells = notebook["cells"]
    items = {}
    for cell in cells:
        if is_answer(cell):
            grader = cell["metadata"]["nbgrader"]
            grade_id = grader.get("grade_id", "")
            items[grade_id] = Item(grade_id, _kit(cell).get("title") or grade_id, float(grader.get("points", 0)),
                                   "", _text(cell.get("source")))
    for index, cell in enumerate(cells):
        role = _kit(cell).get("role")
        for grade_id in _item_ids(cell):
            item = items.get(grade_id)
            if item is None or is_answer(cell):
                continue
            if role == "question":
                item.question = (item.question + "\n\n" + _text(cell.get("source"))).strip()
            elif role in ("figure", "output") and cell.get("cell_type") == "code":
                item.figures.append(Figure(index, _kit(cell).get("caption", ""), _images(cell), _printed(cell),
                                           _text(cell.get("source")), executed_at(cell), role == "figure"))
    return list(items.values())


# -- checks before export -------------------------------------------------------------------------

def was_executed(notebook) -> bool:
    return any(c.get("execution_count") or c.get("outputs") for c in notebook["cells"] if c.get("cell_type") == "code")


def quick_mode(notebook) -> bool:
    """True when the run used QUICK = True: the last assignment of QUICK in the parameters cell or in
    papermill's injected-parameters cell (which comes after it) wins."""
    quick = False
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and ("parameters" in tags or "injected-parameters" in tags):
            for value in re.findall(r"^\s*QUICK\s*=\s*(\w+)", _text(cell.get("source")), re.M):
                quick = value == "True"
    return quick


def solution_module(notebook):
    """The `*_solution.py` file the notebook imports, in the kit (None when there is none)."""
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "code":
            found = re.search(r"^\s*import\s+(\w+_solution)\b", _text(cell.get("source")), re.M)
            if found:
                path = KIT_ROOT / "solutions" / f"{found.group(1)}.py"
                return path if path.exists() else None
    return None


def _clock(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def check(notebook, items, module=None) -> list:
    """One-line warnings: not executed, quick mode, figures not drawn, answers not written, stale run."""
    problems = []
    executed = was_executed(notebook)
    if not executed:
        problems.append("the notebook was not executed: no cell has an output, so the report has no figure")
    elif quick_mode(notebook):
        problems.append("the notebook ran with QUICK = True: its figures come from tiny synthetic data, "
                        "not from the real experiments; set QUICK = False and run it again")
    if not items:
        problems.append("no report item found: the notebook's answer cells lost their nbgrader metadata")
    for item in items:
        answer = item.answer.strip()
        if not answer:
            problems.append(f"{item.grade_id}: the answer cell is empty")
        elif PLACEHOLDER in answer:
            problems.append(f"{item.grade_id}: the answer cell still holds '{PLACEHOLDER}'")
        for figure in item.figures:
            if executed and figure.required and not figure.images:
                problems.append(f"{item.grade_id}: the figure '{figure.caption or 'of cell ' + str(figure.cell)}' "
                                f"was not drawn (cell {figure.cell} has no image output: run it)")
    problems += _stale(items, module)
    return problems


def _stale(items, module) -> list:
    """Figures drawn before the last edit of the solution module: the run does not show its code."""
    if module is None or not Path(module).exists():
        return []
    edited = datetime.fromtimestamp(Path(module).stat().st_mtime, timezone.utc)
    stale = [item.grade_id for item in items if any(f.executed and f.executed < edited for f in item.figures)]
    if not stale:
        return []
    return [f"stale run: {Path(module).name} was edited at {_clock(edited)}, after the figures of "
            f"{', '.join(stale)} were drawn: run the notebook again"]


# -- Markdown and math into the PDF ---------------------------------------------------------------

# $$display$$, and $inline$ math (which may span lines of a paragraph, not paragraphs)
MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$\w])\$(?=\S)((?:(?!\n\s*\n)[^$])+?)(?<=\S)\$(?!\w)", re.S)
MATH_MARK = re.compile("\ue000(\\d+)\ue001")
# LaTeX that mathtext does not know, and its closest equivalent that it does.
MATHTEXT_EQUIVALENTS = ((r"\tfrac", r"\frac"), (r"\dfrac", r"\frac"), (r"\text{", r"\mathrm{"),
                        (r"\textrm{", r"\mathrm{"), (r"\textbf{", r"\mathbf{"), (r"\Vert", r"\|"),
                        (r"\lVert", r"\|"), (r"\rVert", r"\|"), (r"\bigl", ""), (r"\bigr", ""), (r"\big", ""))
MATH_DPI = 220


def _take_math(markdown: str):
    """Markdown with every $...$ and $$...$$ replaced by a private-use marker (so that Markdown does
    not read their _ and * as emphasis), and the list of (latex, display)."""
    found = []

    def mark(match):
        display = match.group(1) is not None
        found.append((" ".join((match.group(1) if display else match.group(2)).split()), display))
        return f"\ue000{len(found) - 1}\ue001"
    return MATH.sub(mark, markdown), found


@lru_cache(maxsize=512)
def math_image(latex: str, size: float):
    """(PNG bytes, width, height, depth) in points of `latex` drawn by mathtext, or None when
    mathtext cannot read it (the caller then prints the LaTeX source)."""
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties
    from PIL import Image
    latex = re.sub(r"\\[td]?frac\s*(\w)\s*(\w)", r"\\frac{\1}{\2}", latex)  # \tfrac12: mathtext wants braces
    for old, new in MATHTEXT_EQUIVALENTS:
        latex = latex.replace(old, new)
    buffer = io.BytesIO()
    try:
        depth = mathtext.math_to_image(f"${latex}$", buffer, prop=FontProperties(size=size), dpi=MATH_DPI,
                                       format="png")
    except Exception:  # mathtext raises ValueError and parser errors of its own
        return None
    width, height = Image.open(io.BytesIO(buffer.getvalue())).size
    return buffer.getvalue(), width * 72 / MATH_DPI, height * 72 / MATH_DPI, float(depth)


def _fonts_folder() -> Path:
    import matplotlib
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _PDF:
    """An fpdf2 document with the report's fonts, footer and Markdown writer."""

    BODY, SMALL, LINE = 10, 8, 13.5  # font sizes and line height, in points
    MARGIN = 50

    def __init__(self, footer: str):
        from fpdf import FPDF

        class Document(FPDF):
            def footer(inner):
                inner.set_y(-32)
                inner.set_font("sans", "", 7.5)
                inner.set_text_color(120)
                inner.cell(0, 10, f"{footer}  ·  page {inner.page_no()}", align="C")
                inner.set_text_color(0)

        self.pdf = Document(unit="pt", format="A4")
        self.pdf.set_margins(self.MARGIN, self.MARGIN, self.MARGIN)
        self.pdf.set_auto_page_break(True, margin=48)
        fonts = _fonts_folder()
        for style, name in (("", "DejaVuSans"), ("B", "DejaVuSans-Bold"), ("I", "DejaVuSans-Oblique"),
                            ("BI", "DejaVuSans-BoldOblique")):
            self.pdf.add_font("sans", style, fonts / f"{name}.ttf")
        self.pdf.add_font("mono", "", fonts / "DejaVuSansMono.ttf")
        self.pdf.add_font("mono", "B", fonts / "DejaVuSansMono-Bold.ttf")
        self.pdf.set_font("sans", "", self.BODY)
        self.bold = self.italic = 0
        self.code = False

    @property
    def width(self) -> float:
        return self.pdf.w - self.pdf.l_margin - self.pdf.r_margin

    def font(self, size=None):
        """Apply the current inline style (bold, italic, code)."""
        if self.code:
            self.pdf.set_font("mono", "", (size or self.BODY) - 0.5)
        else:
            self.pdf.set_font("sans", ("B" if self.bold else "") + ("I" if self.italic else ""), size or self.BODY)

    def text(self, text: str):
        """Write text from the current position, word by word: fpdf2's write() would cut a word
        in two when a run starts near the end of a line."""
        if not text:
            return
        self.font()
        pdf = self.pdf
        right = pdf.w - pdf.r_margin - 2 * pdf.c_margin - 0.5  # where write() itself would wrap
        for word in re.findall(r"\S+\s*|\s+", text):
            at_line_start = pdf.x <= pdf.l_margin + 0.5
            if at_line_start and not word.strip():
                continue  # no space at the start of a line
            stripped = word.rstrip()
            if not at_line_start and pdf.x + pdf.get_string_width(stripped) > right:
                pdf.ln(self.LINE)
                stripped = stripped.lstrip()
            pdf.write(self.LINE, stripped)
            if len(word) > len(stripped) and pdf.x + pdf.get_string_width(" ") < right:
                pdf.write(self.LINE, " ")  # a space that would not fit is dropped: the line wraps here

    def inline_math(self, latex: str):
        image = math_image(latex, self.BODY)
        if image is None:
            self.code = True
            self.text(latex)
            self.code = False
            return
        png, width, height, depth = image
        scale = min(1.0, 1.9 * self.LINE / height, self.width / width)  # within two lines and the page width
        width, height, depth = width * scale, height * scale, depth * scale
        pdf = self.pdf
        if pdf.x + width > pdf.w - pdf.r_margin:
            pdf.ln(self.LINE)
        baseline = pdf.y + 0.5 * self.LINE + 0.3 * self.BODY  # where fpdf puts the text's baseline
        pdf.image(io.BytesIO(png), x=pdf.x + 1.5, y=baseline + depth - height, w=width, h=height)
        pdf.x += width + 2  # mathtext crops its images tight: a little air on each side

    def display_math(self, latex: str):
        image = math_image(latex, self.BODY + 1)
        if image is None:
            self.code_block(latex)
            return
        png, width, height, _ = image
        scale = min(1.0, self.width / width)
        self.space(height * scale + 8)
        pdf = self.pdf
        pdf.image(io.BytesIO(png), x=pdf.l_margin + (self.width - width * scale) / 2, y=pdf.y + 3,
                  w=width * scale, h=height * scale)
        pdf.set_y(pdf.y + height * scale + 8)

    def space(self, height: float):
        """A page break first when `height` does not fit below."""
        if self.pdf.y + height > self.pdf.page_break_trigger:
            self.pdf.add_page()

    def code_block(self, code: str, size=7.5):
        self.pdf.set_font("mono", "", size)
        self.pdf.set_fill_color(244, 244, 244)
        self.pdf.multi_cell(self.width, size * 1.35, code.rstrip("\n") or " ", fill=True,
                            new_x="LMARGIN", new_y="NEXT", align="L")
        self.pdf.ln(4)
        self.font()

    def markdown(self, markdown: str):
        _MarkdownWriter(self).render(markdown)

    def image(self, data: bytes, max_height: float, keep_with: float = 0):
        """An image centred at full width at most; `keep_with` points of caption and printed text
        below it go to the same page when they fit on one."""
        from PIL import Image
        width_px, height_px = Image.open(io.BytesIO(data)).size
        width = min(self.width, width_px * 0.75)  # notebook figures: about 96 pixels per inch
        height = height_px * width / width_px
        if height > max_height:
            width, height = width * max_height / height, max_height
        below = keep_with if height + keep_with < 0.9 * (self.pdf.h - 2 * self.MARGIN) else 0
        self.space(height + 4 + below)
        self.pdf.image(io.BytesIO(data), x=self.pdf.l_margin + (self.width - width) / 2, y=self.pdf.y,
                       w=width, h=height)
        self.pdf.set_y(self.pdf.y + height + 4)


class _MarkdownWriter:
    """Render Markdown (CommonMark and tables, parsed by markdown-it-py) into a _PDF."""

    INDENT = 16

    def __init__(self, doc: _PDF):
        from markdown_it import MarkdownIt
        self.doc, self.pdf = doc, doc.pdf
        self.parser = MarkdownIt("commonmark").enable("table")
        self.lists = []       # for each open list: the next number, or None for bullets
        self.bullet = None    # the marker to write before the next paragraph of a list item
        self.math = []
        self.after_display = False

    def render(self, markdown: str):
        source, self.math = _take_math(markdown)
        for token in self.parser.parse(source):
            handler = getattr(self, f"_{token.type}", None)
            if handler:
                handler(token)
        self.pdf.set_x(self.pdf.l_margin)

    # blocks
    def _heading_open(self, token):
        self.doc.space(3 * self.doc.LINE)
        self.doc.bold += 1

    def _heading_close(self, token):
        self.doc.bold -= 1
        self.pdf.ln(self.doc.LINE + 3)

    def _paragraph_open(self, token):
        if self.bullet:
            self.pdf.set_x(self.pdf.l_margin - self.INDENT + 2)
            self.doc.text(self.bullet)
            self.pdf.set_x(self.pdf.l_margin)
            self.bullet = None

    def _paragraph_close(self, token):
        if not self.after_display:
            self.pdf.ln(self.doc.LINE + (1 if token.hidden else 5))
        self.after_display = False

    def _bullet_list_open(self, token):
        self._open_list(None)

    def _ordered_list_open(self, token):
        self._open_list(int(token.attrs.get("start", 1)))

    def _open_list(self, number):
        self.lists.append(number)
        self.pdf.set_left_margin(self.pdf.l_margin + self.INDENT)

    def _bullet_list_close(self, token):
        self.lists.pop()
        self.pdf.set_left_margin(self.pdf.l_margin - self.INDENT)
        if not self.lists:
            self.pdf.ln(4)

    _ordered_list_close = _bullet_list_close

    def _list_item_open(self, token):
        number = self.lists[-1]
        self.bullet = "•" if number is None else f"{number}."
        if number is not None:
            self.lists[-1] = number + 1

    def _fence(self, token):
        self.doc.code_block(token.content)

    _code_block = _fence

    def _hr(self, token):
        self.pdf.line(self.pdf.l_margin, self.pdf.y + 4, self.pdf.w - self.pdf.r_margin, self.pdf.y + 4)
        self.pdf.ln(10)

    def _tr_close(self, token):
        self.pdf.ln(self.doc.LINE)

    def _th_open(self, token):
        self.doc.bold += 1

    def _th_close(self, token):
        self.doc.bold -= 1
        self.doc.text("   ")

    def _td_close(self, token):
        self.doc.text("   ")

    def _table_close(self, token):
        self.pdf.ln(5)

    def _html_block(self, token):
        self._inline_text(re.sub(r"<[^>]+>", "", token.content))

    # inline
    def _inline(self, token):
        alone = MATH_MARK.fullmatch(token.content.strip())
        if alone and self.math[int(alone.group(1))][1]:  # a paragraph that is one display equation
            self.doc.display_math(self.math[int(alone.group(1))][0])
            self.after_display = True  # display_math spaced it already
            return
        for child in token.children or []:
            kind = child.type
            if kind == "text":
                self._inline_text(child.content)
            elif kind in ("softbreak",):
                self.doc.text(" ")
            elif kind == "hardbreak":
                self.pdf.ln(self.doc.LINE)
            elif kind == "code_inline":
                self.doc.code = True
                self.doc.text(child.content)
                self.doc.code = False
            elif kind in ("strong_open", "strong_close"):
                self.doc.bold += 1 if kind.endswith("open") else -1
            elif kind in ("em_open", "em_close"):
                self.doc.italic += 1 if kind.endswith("open") else -1
            elif kind == "image":
                self._inline_text(f"[image: {child.content}]")
            elif kind == "html_inline":
                continue

    def _inline_text(self, text: str):
        parts = MATH_MARK.split(text)
        for position, part in enumerate(parts):
            if position % 2 == 0:
                self.doc.text(part)
            else:
                latex, display = self.math[int(part)]
                if display:
                    self.pdf.ln(self.doc.LINE)
                    self.doc.display_math(latex)
                else:
                    self.doc.inline_math(latex)


# -- the report -----------------------------------------------------------------------------------

@dataclass
class Report:
    path: Path
    pages: int
    items: list
    warnings: list
    seconds: float


def _points(value: float) -> str:
    return f"{value:g} point{'s' if value != 1 else ''}"


def _title(notebook, name: str) -> str:
    for cell in notebook["cells"]:
        found = (re.search(r"^#\s+(.+)$", _text(cell.get("source")), re.M)
                 if cell.get("cell_type") == "markdown" else None)
        if found:
            return re.sub(r"[`*_]", "", found.group(1)).strip()
    return name


def _last_run(notebook):
    moments = [m for m in (executed_at(c) for c in notebook["cells"]) if m]
    return max(moments) if moments else None


def _cover(doc: _PDF, notebook, name: str, problems: list, items: list):
    """The first page's writer: title, run, warnings, and the items with their pages."""
    def render(pdf, outline):
        pdf.set_xy(pdf.l_margin, pdf.t_margin)
        pdf.set_font("sans", "B", 16)
        pdf.multi_cell(doc.width, 20, _title(notebook, name), new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_font("sans", "", 9)
        last = _last_run(notebook)
        mode = "not executed" if not was_executed(notebook) else ("quick mode" if quick_mode(notebook) else "full run")
        pdf.multi_cell(doc.width, 13, f"Report of {name}: {mode}"
                       + (f", last cell run at {_clock(last)}" if last else "")
                       + f"; built {_clock(datetime.now(timezone.utc))} by python -m grading report.",
                       new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(8)
        pdf.set_font("sans", "B", 11)
        pdf.cell(0, 16, f"Checks: {len(problems)} warning{'s' if len(problems) != 1 else ''}",
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("sans", "", 8.5)
        pdf.set_text_color(170, 30, 30)
        for problem in problems:
            pdf.multi_cell(doc.width, 11.5, f"WARNING: {problem}", new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_text_color(0)
        if not problems:
            pdf.cell(0, 12, "None: every figure is drawn and every answer written.", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(10)
        pdf.set_font("sans", "B", 11)
        pdf.cell(0, 16, f"Questions ({_points(sum(item.points for item in items))})", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("sans", "", 9)
        for section in outline:
            pdf.cell(doc.width - 40, 13, section.name)
            pdf.cell(40, 13, f"p. {section.page_number}", align="R", new_x="LMARGIN", new_y="NEXT")
    return render


def _item_pages(doc: _PDF, item: Item, number: int, code: bool):
    """One item from the current (new) page: heading, question, answer, figures."""
    pdf = doc.pdf
    pdf.start_section(f"{item.title} ({_points(item.points)})")
    pdf.set_font("sans", "B", 14)
    pdf.multi_cell(doc.width, 18, item.title, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font("sans", "", 8.5)
    pdf.set_text_color(110)
    pdf.cell(0, 12, f"{_points(item.points)}  ·  {item.grade_id}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.ln(4)
    if item.question:
        _label(doc, "Question")
        doc.markdown(item.question)
    _label(doc, "Answer")
    doc.markdown(item.answer if item.answer.strip() else "*(empty)*")
    for k, figure in enumerate(item.figures, 1):
        _figure(doc, figure, f"Figure {number}.{k}", code)


def _label(doc: _PDF, text: str):
    doc.space(3 * doc.LINE)
    doc.pdf.set_font("sans", "B", 9)
    doc.pdf.set_text_color(40, 80, 150)
    doc.pdf.cell(0, 14, text.upper(), new_x="LMARGIN", new_y="NEXT")
    doc.pdf.set_text_color(0)
    doc.font()


def _figure(doc: _PDF, figure: Figure, name: str, code: bool):
    if not (figure.required or figure.images or figure.printed or code):
        return  # an optional output that the run did not produce
    pdf = doc.pdf
    pdf.ln(4)
    if code:
        doc.code_block(figure.source, size=6.5)
    if figure.required and not figure.images:
        doc.space(30)
        pdf.set_font("sans", "I", 9)
        pdf.set_text_color(170, 30, 30)
        pdf.multi_cell(doc.width, 12, f"{name} was not drawn: run cell {figure.cell} of the notebook.",
                       new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_text_color(0)
    below = 14 + (figure.printed.count("\n") + 2) * 6.5 * 1.35 if figure.printed else 14
    for k, image in enumerate(figure.images, 1):
        doc.image(image, max_height=0.62 * (pdf.h - 2 * doc.MARGIN), keep_with=below if k == len(figure.images) else 0)
    if figure.caption:
        pdf.set_font("sans", "I", 8.5)
        pdf.multi_cell(doc.width, 11, f"{name}. {figure.caption}", new_x="LMARGIN", new_y="NEXT", align="C")
    if figure.printed:
        pdf.ln(3)
        doc.code_block(figure.printed, size=6.5)
    pdf.ln(6)


def read_notebook(source):
    """A notebook as a plain dict, from a path, JSON text or bytes, or a dict (nbformat.NotebookNode)."""
    if isinstance(source, dict):
        return source
    text = Path(source).read_bytes() if isinstance(source, (str, Path)) else source
    notebook = json.loads(text)
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("not a Jupyter notebook (no list of cells)")
    return notebook


def build(notebook, out_pdf, code: bool = False, name: str = None, module="auto") -> Report:
    """Write the report of `notebook` (a path or a notebook dict) into `out_pdf`."""
    started = time.monotonic()
    name = name or (Path(notebook).name if isinstance(notebook, (str, Path)) else "notebook")
    notebook = read_notebook(notebook)
    items = read_items(notebook)
    problems = check(notebook, items, solution_module(notebook) if module == "auto" else module)
    doc = _PDF(name)
    doc.pdf.set_title(_title(notebook, name))
    doc.pdf.add_page()
    doc.pdf.insert_toc_placeholder(_cover(doc, notebook, name, problems, items), pages=1, allow_extra_pages=True)
    for number, item in enumerate(items, 1):
        if number > 1:
            doc.pdf.add_page()
        _item_pages(doc, item, number, code)
    out_pdf = Path(out_pdf)
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    partial = out_pdf.with_name(out_pdf.name + ".part")  # never a half-written PDF under the real name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fpdf2 notes glyphs missing from DejaVu; the text is still there
        doc.pdf.output(str(partial))
    partial.replace(out_pdf)
    return Report(out_pdf, doc.pdf.pages_count, items, problems, time.monotonic() - started)


# -- from a notebook cell, and for a whole class ---------------------------------------------------

def _open_notebook(name: str):
    """(notebook, where it came from): on Colab the open notebook itself; elsewhere the saved file
    (the one Jupyter names in JPY_SESSION_NAME or VS Code in __vsc_ipynb_file__, else notebooks/NAME)."""
    if "google.colab" in sys.modules:
        from google.colab import _message  # Colab's own channel to the page: the notebook as shown
        return _message.blocking_request("get_ipynb", request="", timeout_sec=60)["ipynb"], "the open notebook"
    import os
    main = sys.modules.get("__main__")
    candidates = [os.environ.get("JPY_SESSION_NAME"), getattr(main, "__vsc_ipynb_file__", None),
                  KIT_ROOT / "notebooks" / name]
    for candidate in candidates:
        if (candidate and str(candidate).endswith(".ipynb") and Path(candidate).name == name
                and Path(candidate).exists()):
            return read_notebook(candidate), f"the saved file {candidate}"
    raise FileNotFoundError(f"cannot find {name}: save it, or call build(path, 'report.pdf') with its path")


def report_from_notebook(name: str, out=None, code: bool = False) -> Path:
    """The notebook's last cell: build this notebook's report into build/reports/<name>.pdf, print
    the warnings, and on Colab download it."""
    notebook, origin = _open_notebook(name)
    out = Path(out) if out else KIT_ROOT / "build" / "reports" / f"{Path(name).stem}.pdf"
    report = build(notebook, out, code=code, name=name)
    print(f"read {origin}" + ("" if "open notebook" in origin else " (save the notebook first: Ctrl+S)"))
    for problem in report.warnings:
        print("WARNING:", problem)
    print(f"report: {report.path} ({report.pages} pages, {len(report.items)} questions, one per page from page 2)")
    if "google.colab" in sys.modules:
        from google.colab import files
        files.download(str(report.path))
    return report.path


@dataclass
class StudentReport:
    student: str
    pdf: Path = None          # None when no report could be built
    warnings: list = field(default_factory=list)
    error: str = ""


def _submitted_notebooks(path: Path):
    """(name, bytes) of every notebook in a submission: an .ipynb, a folder, or a .zip (read in
    memory: nothing of a student's zip is extracted to disk)."""
    if path.is_dir():
        return [(str(p.relative_to(path)), p.read_bytes()) for p in sorted(path.rglob("*.ipynb"))
                if ".ipynb_checkpoints" not in p.parts and "__MACOSX" not in p.parts]
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as bundle:
            return [(info.filename, bundle.read(info)) for info in bundle.infolist()
                    if info.filename.endswith(".ipynb") and "checkpoint" not in info.filename
                    and "__MACOSX" not in info.filename and info.file_size < 200_000_000]
    return [(path.name, path.read_bytes())] if path.suffix == ".ipynb" else []


def _best_notebook(found):
    """Of a submission's notebooks, the one with the most written answers (then the most items)."""
    best, best_score = None, None
    for name, data in found:
        try:
            notebook = read_notebook(data)
        except (ValueError, UnicodeDecodeError):
            continue
        items = read_items(notebook)
        score = (sum(bool(i.answer.strip()) and PLACEHOLDER not in i.answer for i in items), len(items))
        if best_score is None or score > best_score:
            best, best_score = (name, notebook), score
    return best


def report_of(path: Path, out_dir: Path, code: bool = False) -> StudentReport:
    """One student's report (never raises: a problem is the outcome's `error`)."""
    student = path.stem if path.is_file() else path.name
    try:
        found = _submitted_notebooks(path)
        if not found:
            return StudentReport(student, error="no .ipynb notebook in the submission")
        best = _best_notebook(found)
        if best is None:
            return StudentReport(student, error=f"no readable notebook among {', '.join(n for n, _ in found)}")
        name, notebook = best
        report = build(notebook, Path(out_dir) / f"{student}.pdf", code=code, name=Path(name).name, module=None)
        return StudentReport(student, report.path, report.warnings)
    except Exception as error:  # one broken submission never stops the class
        return StudentReport(student, error=f"{type(error).__name__}: {error}".splitlines()[0])


def build_reports(submission_paths, out_dir, code: bool = False) -> list:
    """One PDF per student in out_dir (named like the gradebook's rows), from the notebook in each
    submission (.ipynb, folder or .zip). Returns a StudentReport per submission, in order."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return [report_of(Path(path), Path(out_dir), code) for path in submission_paths]


# -- command line ----------------------------------------------------------------------------------

def command(notebook: str, out_pdf: str, code: bool = False) -> int:
    """`python -m grading report`: 0 when a PDF was written (warnings or not), 2 for a usage error."""
    if not Path(notebook).is_file():
        print(f"error: no such notebook: {notebook}", file=sys.stderr)
        return 2
    try:
        report = build(notebook, out_pdf, code=code)
    except (ValueError, UnicodeDecodeError) as error:
        print(f"error: {notebook} is not a readable notebook: {error}", file=sys.stderr)
        return 2
    for problem in report.warnings:
        print("WARNING:", problem)
    print(f"{report.path}: {report.pages} pages, {len(report.items)} questions, built in {report.seconds:.1f} s")
    return 0


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m grading.pdf_report", description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("out_pdf")
    parser.add_argument("--code", action="store_true", help="also print the code of the figure cells")
    args = parser.parse_args(argv)
    return command(args.notebook, args.out_pdf, args.code)


if __name__ == "__main__":
    sys.exit(main())
