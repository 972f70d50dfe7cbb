"""Page model and rendering: tables as data, figures as Plotly divs, one Jinja2 template.

Why a model: every number shown is formatted in one place (``fmt``) and carries its exact
value in ``data-v`` (for sorting, and so a test can compare the page with the file), and
every table and figure carries the citation of the file it came from. Figures get fixed
div ids and plotly.js is referenced as one file beside the pages, so publishing the same
store twice writes the same bytes and the pages open from disk with no network.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

PLOTLY_JS = "plotly.min.js"  # plotly.py's full bundle: every trace type
# Rule ``plotly-bundle`` (issue 16: every page <= 2 s): a page whose figures use only the trace types of
# plotly.js's official cartesian bundle (dashboards/vendor, MIT, 1.5 MB instead of 4.8 MB; the same
# plotly.js version as plotly.py's, tested) loads that bundle instead: the browser parses a third of the
# code before it draws. A page with another trace type (the quality page's funnel) loads the full one.
# Tested in tests/test_dashboards.py (each page's bundle; every page draws in Chromium).
PLOTLY_CARTESIAN_JS = "plotly-cartesian.min.js"
VENDORED = {PLOTLY_CARTESIAN_JS: Path(__file__).parent / "vendor" / PLOTLY_CARTESIAN_JS}
CARTESIAN_TRACES = frozenset({"bar", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour",
                              "image", "pie", "scatter", "scatterternary", "violin"})
# Rule ``page-weight`` (issue 16: every page <= 2 MB and <= 2 s at full FAERS scale): a table shows
# its first INLINE_ROWS rows (new and flagged ones come first) and keeps the rest in
# tables/<page>-<table>[-<n>].js pieces (each under ~1 MB) beside the page, appended when the reader sorts, filters, asks for
# them or follows a link to one of them. Tested in tests/test_dashboards.py.
INLINE_ROWS = 200
#: the most characters of row markup in one tables/*.js piece (~1 MB once written as a JS string)
PIECE_CHARS = 850_000
MORE_ROWS = "tables"
TEMPLATES = Path(__file__).parent / "templates"

# Colours used on every page: the target drug stands out, comparators recede.
TARGET_COLOUR = "#c0392b"
COMPARATOR_COLOUR = "#7f8c8d"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#393b79", "#637939"]


def fmt(value, kind: str) -> str:
    """How one value reads on a page: ints with thousands separators, measures to 2 decimals,
    p-values to 4, flags as a tick; missing as an en dash (never a made-up zero)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "num":
        return f"{value:.2f}".replace("-0.00", "0.00")
    if kind == "p":
        return f"{value:.4f}"
    if kind == "flag":
        return "\u2713" if value else ""
    if kind == "bool":
        return "yes" if value else "no"
    return str(value)


def sort_value(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return repr(value) if isinstance(value, float) else str(value)


@dataclass
class Col:
    key: str
    label: str
    kind: str = "text"  # text | int | num | p | flag | bool
    help: str = ""
    group: str = ""  # column group shown above the header (counts / measures / flags / since)
    sticky: bool = False  # stays at the left edge while the table scrolls sideways (the event)


@dataclass
class Cell:
    text: str
    value: str
    cls: str = ""
    href: str | None = None


@dataclass
class Table:
    id: str
    title: str
    columns: list[Col]
    rows: list[list[Cell]]
    source: str
    note: str = ""
    row_keys: list[str] = field(default_factory=list)  # data-key of each row (drug|event|level|subset)
    filter: bool = True
    inline: int = INLINE_ROWS  # rows written into the page; the rest load on demand (more_rows_src)

    @property
    def groups(self) -> list[tuple[str, int]]:
        """(group label, columns spanned) runs for the grouped header row; [] when no column has a group."""
        if not any(c.group for c in self.columns):
            return []
        runs: list[list] = []
        for c in self.columns:
            if runs and runs[-1][0] == c.group:
                runs[-1][1] += 1
            else:
                runs.append([c.group, 1])
        return [(g, n) for g, n in runs]


def table(id: str, title: str, columns: list[Col], records: list[dict], source: str, note: str = "",
          key=None, links: dict[str, callable] | None = None, row_class=None, filter: bool = True,
          first_quarter: str | None = None) -> Table:
    """A Table from dict records; ``links`` maps a column to a function giving the cell's href.
    A ``quarter`` column equal to ``first_quarter`` (the data's first) reads "from the first quarter
    of data (...)": the cumulative trend starts there, so the threshold may have been met before."""
    rows, keys = [], []
    for r in records:
        cells = []
        for c in columns:
            v = r.get(c.key)
            href = links[c.key](r) if links and c.key in links else None
            cls = f"k-{c.kind}" + (" flagged" if c.kind == "flag" and v else "") + (" sticky" if c.sticky else "")
            text = (f"from the first quarter of data ({v})" if c.kind == "quarter" and v is not None
                    and v == first_quarter else fmt(v, c.kind))
            cells.append(Cell(text, sort_value(v), cls, href))
        if row_class:
            cells[0].cls += " " + row_class(r)
        rows.append(cells)
        keys.append(key(r) if key else "")
    return Table(id, title, columns, rows, source, note, keys, filter)


@dataclass
class Figure:
    id: str
    title: str
    html: Markup
    source: str
    note: str = ""
    traces: frozenset[str] = frozenset()  # the figure's trace types (which plotly.js bundle draws it)


def figure(id: str, title: str, fig: go.Figure, source: str, note: str = "", height: int | None = None) -> Figure:
    margin = {k: v if (v := getattr(fig.layout.margin, k)) is not None else default  # a page's own margin wins
              for k, default in dict(l=60, r=20, t=50, b=50).items()}
    fig.update_layout(template="plotly_white", margin=margin, autosize=True,
                      font=dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=12))
    if height:
        fig.update_layout(height=height)
    # the figure as inert JSON beside an empty div; the page draws it once plotly.min.js has loaded
    # after the page was read (rule ``page-weight``: the 4.8 MB library never delays the tables).
    # "<" is written as \u003c so no text in a figure can end the script element.
    spec = fig.to_json().replace("<", "\\u003c")
    html = (f'<div id="fig-{id}" class="pv-figure"></div>'
            f'<script type="application/json" data-figure="fig-{id}">{spec}</script>')
    return Figure(id, title, Markup(html), source, note, frozenset(trace.type for trace in fig.data))


@dataclass
class Html:
    """A block of trusted HTML built by a page module (already escaped where needed)."""

    title: str
    html: Markup
    source: str = ""
    note: str = ""
    id: str = ""


@dataclass
class Page:
    slug: str  # file name without .html
    title: str
    nav: str  # label in the navigation bar
    lead: str  # one sentence: what this page answers
    blocks: list = field(default_factory=list)  # Table | Figure | Html, in order
    downloads: list[tuple[str, str]] = field(default_factory=list)  # (label, relative href)
    scripts: list[str] = field(default_factory=lambda: [PLOTLY_JS])  # loaded after the page is read, to draw its figures


def row_lines(b: Table, start: int, stop: int) -> list[str]:
    """Rows ``start``..``stop`` of table ``b``, one ``<tr>`` line each (the page holds the first
    ones, tables/<page>-<id>*.js the rest): every attribute and text escaped as the template's
    autoescape does (markupsafe), built as plain strings: a signal table's remaining rows are millions of cells."""
    tid, cols = escape(b.id), [escape(c.key) for c in b.columns]
    out = []
    for i in range(start, min(stop, len(b.rows))):
        key = b.row_keys[i] if i < len(b.row_keys) else ""
        attrs = f' data-key="{escape(key)}" id="{tid}:{escape(key)}"' if key else ""
        cells = "".join(
            f'<td class="{escape(cell.cls)}" data-col="{col}" data-v="{escape(cell.value)}">'
            + (f'<a href="{escape(cell.href)}">{escape(cell.text)}</a>' if cell.href else f"{escape(cell.text)}")
            + "</td>" for cell, col in zip(b.rows[i], cols))
        out.append(f"      <tr{attrs}>{cells}</tr>\n")
    return out


def rows_html(b: Table, start: int, stop: int) -> Markup:
    return Markup("".join(row_lines(b, start, stop)))


def more_rows_pieces(b: Table) -> list[str]:
    """The markup of the rows of ``b`` beyond its first ones, cut into pieces of at most
    PIECE_CHARS characters (one row at least): each piece is one file of rule ``page-weight``."""
    pieces, piece, size = [], [], 0
    for line in row_lines(b, b.inline, len(b.rows)):
        if piece and size + len(line) > PIECE_CHARS:
            pieces.append("".join(piece))
            piece, size = [], 0
        piece.append(line)
        size += len(line)
    return pieces + (["".join(piece)] if piece else [])


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.tests["table"] = lambda b: isinstance(b, Table)
    env.tests["figure"] = lambda b: isinstance(b, Figure)
    env.globals["rows_html"] = rows_html
    return env


def more_rows_src(page: Page, table: Table, piece: int = 0) -> str:
    """Where piece ``piece`` of the rows of ``table`` beyond the first ones lives, relative to the page."""
    return f"{MORE_ROWS}/{page.slug}-{table.id}{f'-{piece + 1}' if piece else ''}.js"


def scripts(page: Page) -> list[str]:
    """The scripts the page loads to draw its figures, with plotly.js as the smallest bundle that draws
    every trace type on the page (rule ``plotly-bundle``)."""
    traces = frozenset().union(*(b.traces for b in page.blocks if isinstance(b, Figure)))
    plotly = PLOTLY_CARTESIAN_JS if traces <= CARTESIAN_TRACES else PLOTLY_JS
    return [plotly if src == PLOTLY_JS else src for src in page.scripts]


def render(env: Environment, page: Page, context: dict) -> dict[str, str]:
    """The page's HTML under ``<slug>.html`` and, for each long table, its remaining rows as scripts
    (``more_rows_src``, each under ~1 MB) that append, as the same escaped markup, to ``window.pvRows``;
    the table's ``data-more`` lists them in order."""
    files, srcs = {}, {}
    for b in page.blocks:
        if isinstance(b, Table) and len(b.rows) > b.inline:
            for i, markup in enumerate(more_rows_pieces(b)):
                srcs.setdefault(b.id, []).append(more_rows_src(page, b, i))
                files[srcs[b.id][-1]] = (f"window.pvRows = window.pvRows || {{}};\n"
                                         f"window.pvRows[{json.dumps(b.id)}] = {json.dumps(markup)};\n")
    files[f"{page.slug}.html"] = env.get_template("page.html.j2").render(
        page=page, scripts=scripts(page), more_rows_src=lambda _page, b: " ".join(srcs[b.id]), **context)
    return files


def kpis(title: str, items: list[tuple[str, str, str]], source: str) -> Html:
    """A row of big numbers: (value text, label, element id)."""
    from markupsafe import escape

    html = "".join(f'<div class="kpi" id="{escape(i)}"><div class="v">{escape(v)}</div>'
                   f'<div class="l">{escape(label)}</div></div>' for v, label, i in items)
    return Html(title, Markup(f'<div class="kpis">{html}</div>'), source)
