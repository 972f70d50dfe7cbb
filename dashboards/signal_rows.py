"""The signal table as the pages show it: the design.md columns, one formatting, one order.

Why shared: the overview's new-signal list and every drug page show the same row the same
way (a, b, c, d, the four measures with their 95% intervals, the flags, since when), so
an analyst comparing two pages compares equal text.
"""

from __future__ import annotations

import polars as pl

from dashboards.render import Col

#: flagged under the run's signal rule (dashboards.inputs adds the column from run.json's rule)
FLAGGED = pl.col("flagged")

COUNTS = [
    Col("a", "a", "int", "reports with the drug and the event", "counts"),
    Col("b", "b", "int", "reports with the drug, without the event", "counts"),
    Col("c", "c", "int", "reports with the event, without the drug", "counts"),
    Col("d", "d", "int", "reports with neither", "counts"),
    Col("expected", "E", "num", "expected a (stratified by sex, age band, report year when strata are on)", "counts"),
]
MEASURES = [Col(*c, group="measures") for c in (
    ("prr", "PRR", "num"), ("prr_lo", "PRR lo", "num", "95% lower bound"), ("prr_hi", "PRR hi", "num"),
    ("chi2", "\u03c7\u00b2", "num", "Yates-corrected chi-square"),
    ("ror", "ROR", "num"), ("ror_lo", "ROR025", "num", "ROR lower 95% bound"), ("ror_hi", "ROR975", "num"),
    ("ic", "IC", "num"), ("ic025", "IC025", "num"), ("ic975", "IC975", "num"),
    ("ebgm", "EBGM", "num"), ("eb05", "EB05", "num"), ("eb95", "EB95", "num"))]
FLAGS = [Col(*c, group="flags") for c in (
    ("flagged", "signal", "flag", "flagged under the signal rule shown at the top of the page"),
    ("flag_evans", "Evans", "flag", "PRR >= 2, chi2 >= 4, a >= 3"),
    ("flag_ror025", "ROR025>1", "flag", "ROR lower bound > 1 and a >= 3"),
    ("flag_ic025", "IC025>0", "flag"),
    ("flag_eb05", "EB05>=2", "flag"))]
SINCE = [
    Col("first_quarter", "first flagged", "quarter", "first quarter any threshold was met (cumulative trend)", "since"),
    Col("is_new", "new", "bool", "flagged now under the signal rule, not flagged under it in the previous run", "since"),
]


SINCE_EACH = [Col(f"first_quarter_{name}", f"first {label}", "quarter", f"first quarter the {label} threshold was met",
                  "since") for name, label in (("evans", "Evans"), ("ror025", "ROR025"), ("ic025", "IC025"),
                                               ("eb05", "EB05"))]


def columns(lead: list[Col], since_each: bool = False) -> list[Col]:
    """The full signal row after the identifying columns ``lead`` (with the first quarter of
    each threshold when ``since_each``)."""
    return [*lead, *COUNTS, *MEASURES, *FLAGS, *SINCE, *(SINCE_EACH if since_each else [])]


def row_key(r: dict) -> str:
    return f"{r['drug']}|{r['event']}|{r['level']}|{r['subset']}"


def flagged_first(frame: pl.DataFrame) -> pl.DataFrame:
    """New signals first, then flagged ones, then by strength (ROR lower bound), then name."""
    return frame.with_columns(_f=FLAGGED).sort(
        ["is_new", "_f", "ror_lo", "event"], descending=[True, True, True, False], nulls_last=True).drop("_f")


def new_row_class(r: dict) -> str:
    return "is-new" if r.get("is_new") else ""


# Light ends so the numbers printed on the cells stay readable: blue below 1, red above.
HEAT = [[0.0, "#4f8fc4"], [0.35, "#bcd7ec"], [0.5, "#f7f7f7"], [0.65, "#f4c0a6"], [1.0, "#d6604d"]]


def ror_heatmap(rows: pl.DataFrame, y: str, x: str, ys: list[str], xs: list[str], mark_new: bool = False,
                link=None):
    """A Plotly heatmap of signal rows: colour = log2 of the ROR lower 95% bound (clipped to
    +-3, red above 1), text = a (0 where no report), '*' when flagged under the signal rule
    ('new' when is_new); ``link(row)`` gives each cell's href (clicked: the page opens there)."""
    import math

    import plotly.graph_objects as go

    from dashboards.render import fmt

    grid = {(r[y], r[x]): r for r in rows.iter_rows(named=True)}
    z, text, hover, hrefs = [], [], [], []
    for yv in ys:
        zr, tr, hr, lr = [], [], [], []
        for xv in xs:
            r = grid.get((yv, xv))
            lo = None if r is None else r["ror_lo"]
            zr.append(None if lo is None or lo <= 0 else max(-3.0, min(3.0, math.log2(lo))))
            flagged = r is not None and bool(r["flagged"])
            new = mark_new and r is not None and bool(r["is_new"])
            tr.append("0" if r is None else f"{r['a']}{'*' if flagged else ''}{' new' if new else ''}")
            lr.append("" if r is None or link is None else link(r))
            hr.append("no report" if r is None else
                      f"{yv}, {xv}<br>a={r['a']} ROR {fmt(r['ror'], 'num')} ({fmt(r['ror_lo'], 'num')}-"
                      f"{fmt(r['ror_hi'], 'num')}) IC025 {fmt(r['ic025'], 'num')} EB05 {fmt(r['eb05'], 'num')}"
                      f"{' flagged' if flagged else ''}")
        z.append(zr)
        text.append(tr)
        hover.append(hr)
        hrefs.append(lr)
    return go.Figure(go.Heatmap(z=z, x=xs, y=ys, text=text, texttemplate="%{text}", hovertext=hover, customdata=hrefs,
                                hoverinfo="text", zmin=-3, zmax=3, zmid=0, colorscale=HEAT, xgap=1, ygap=1,
                                colorbar=dict(title=dict(text="ROR025", side="right"), tickvals=[-3, 0, 3],
                                              ticktext=["\u22640.125", "1", "\u22658"], thickness=14)))
