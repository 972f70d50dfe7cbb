"""Inert output: text that came from data can never act where pvmon writes it.

FAERS text is free text a stranger typed (drug names, reactions, narratives' leftovers), so
every place pvmon writes data-derived text treats it as hostile. One module, one rule per
kind of sink (rule ``inert-output``, default on, not switchable; tested in tests/test_inert.py
on a simulated store planted with hostile names, ``simulate(..., hostile=True)``):

- **CSV** (``csv_safe``, ``write_csv``): the OWASP CSV-injection rule. A text cell starting
  with ``= + - @`` TAB or CR is prefixed with a single quote, so a spreadsheet shows it as
  text instead of running it (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``). A text cell that
  is a plain number (``-2``, ``+1.5e3``) is left alone (a number cannot run), and numeric
  columns are untouched: ``-2`` in a count column stays the number -2. Text cells are written
  quoted, so a spreadsheet splitting on ``;`` (some locales) cannot cut a cell in two.
- **XLSX** (``WORKBOOK_OPTIONS``, ``protect_text_cells``): every text cell is written as a
  string cell, never a formula or a hyperlink; a cell that would read as a formula also gets
  Excel's quote prefix, so editing it in Excel keeps it text. The value itself is unchanged.
- **HTML**: Jinja2 autoescape (dashboards/render.py) and markupsafe ``escape`` for the few
  blocks built by hand; nothing here.
- **Terminal** (``printable``, ``inert_terminal``): ANSI/VT escape sequences, other C0 and C1
  control characters and the Unicode bidi overrides are stripped from everything pvmon prints
  (stdout and stderr are wrapped once at start-up), so a PT cannot recolour, retitle or rewrite
  the terminal; rich markup and emoji codes in data are printed literally (``rich_console``).
  The one exception is pvmon's own progress bar (``progress_console``), which prints no data.
- **File names** (``safe_name``): names derived from data use ``[a-z0-9]`` and one separator,
  at most ``MAX_NAME`` characters; a longer name is cut and ends with a hash of the full text,
  so a 300-character reaction name gives a short, stable, distinct file name.
"""

from __future__ import annotations

import hashlib
import io
import re
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # polars is imported where used: the CLI imports this module at start-up
    import polars as pl

# --- CSV ------------------------------------------------------------------------------

FORMULA_START = r"^[=+\-@\t\r]"
PLAIN_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"


def formula_like(e: pl.Expr) -> pl.Expr:
    """True where a text cell would start a spreadsheet formula (and is not a plain number)."""
    return e.str.contains(FORMULA_START) & ~e.str.contains(PLAIN_NUMBER)


def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every formula-like text cell prefixed by ``'`` (OWASP); other columns as they are."""
    import polars as pl

    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.when(formula_like(pl.col(c))).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c) for c in text)


def write_csv(frame: pl.DataFrame, target: str | Path | IO) -> None:
    """Write ``frame`` as CSV (header, comma, UTF-8, nulls empty) with text cells made inert."""
    csv_safe(frame).write_csv(target, quote_style="non_numeric")


# --- XLSX -----------------------------------------------------------------------------

# xlsxwriter's defaults turn a string starting with "=" into a formula and "http://..." into a link.
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def protect_text_cells(workbook, sheet, frame: pl.DataFrame, first_row: int = 1) -> int:
    """Give the formula-like text cells of ``frame`` (written from ``first_row``, column 0 on)
    Excel's quote prefix, so editing such a cell keeps it text; return how many were marked."""
    import polars as pl

    quoted = workbook.add_format({"quote_prefix": True})
    marked = 0
    for j, (name, dtype) in enumerate(frame.schema.items()):
        if dtype != pl.String:
            continue
        hits = frame.with_row_index("_i").filter(formula_like(pl.col(name))).select("_i", name)
        for i, value in hits.iter_rows():  # only the few formula-like cells
            sheet.write_string(first_row + i, j, value, quoted)
            marked += 1
    return marked


# --- terminal -------------------------------------------------------------------------

ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI (colours, cursor moves, erase)
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|$)"  # OSC (window title, hyperlinks), DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]"  # other two-byte escapes (charset switches, reset)
    r"|\x9b[0-?]*[ -/]*[@-~]",  # 8-bit CSI
    re.DOTALL)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # keeps TAB and LF


def printable(text: str) -> str:
    """``text`` without escape sequences, C0/C1 controls (TAB and newline kept) or bidi overrides."""
    return CONTROL.sub("", ESCAPE_SEQUENCE.sub("", text))


class InertStream(io.TextIOBase):
    """A text stream that passes everything written through ``printable``."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", "utf-8")

    @property
    def errors(self):
        return getattr(self.stream, "errors", "strict")


def inert_terminal() -> None:
    """Wrap ``sys.stdout`` and ``sys.stderr`` (once) so nothing printed can drive the terminal."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, InertStream):
            setattr(sys, name, InertStream(stream))


def rich_console(**options):
    """A rich Console that prints data literally: no markup (``[bold]``), emoji codes or highlighting."""
    from rich.console import Console

    return Console(markup=False, emoji=False, highlight=False, **options)


def progress_console():
    """A rich Console on the unfiltered stdout, for pvmon's own live displays (progress bars redraw
    with carriage returns and cursor moves): give it fixed words and counts only, never data."""
    from rich.console import Console

    out = sys.stdout.stream if isinstance(sys.stdout, InertStream) else sys.stdout
    return Console(file=out, markup=False, emoji=False, highlight=False)


# --- file names -----------------------------------------------------------------------

MAX_NAME = 80  # characters of a name derived from data (file systems allow 255 bytes per name)
HASH_CHARS = 10


def safe_name(text: str, sep: str = "-", empty: str = "x", limit: int = MAX_NAME) -> str:
    """A file-name-safe form of ``text``: lower-case ``[a-z0-9]`` runs joined by ``sep``; longer than
    ``limit``, it is cut and ends with ``sep`` + the first ``HASH_CHARS`` hex digits of sha256(text)."""
    name = re.sub(r"[^a-z0-9]+", sep, text.lower()).strip(sep) or empty
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]
    return name[: limit - HASH_CHARS - len(sep)].rstrip(sep) + sep + digest
