"""The signal table as the pages show it: the design.md columns, one formatting, one order.

Why shared: the overview's new-signal list and every drug page show the same row the same
way (a, b, c, d, the four measures with their 95% intervals, the flags, since when), so
an analyst comparing two pages compares equal text.
"""

from __future__ import annotations

import polars as pl

from dashboards.inputs import FLAG_COLUMNS
from dashboards.render import Col

ANY_FLAG = pl.any_horizontal([pl.col(c).fill_null(False) for c in FLAG_COLUMNS])

COUNTS = [
    Col("a", "a", "int", "reports with the drug and the event"),
    Col("b", "b", "int", "reports with the drug, without the event"),
    Col("c", "c", "int", "reports with the event, without the drug"),
    Col("d", "d", "int", "reports with neither"),
    Col("expected", "E", "num", "expected a (stratified by sex, age band, report year when strata are on)"),
]
MEASURES = [
    Col("prr", "PRR", "num"), Col("prr_lo", "PRR lo", "num", "95% lower bound"), Col("prr_hi", "PRR hi", "num"),
    Col("chi2", "\u03c7\u00b2", "num", "Yates-corrected chi-square"),
    Col("ror", "ROR", "num"), Col("ror_lo", "ROR025", "num", "ROR lower 95% bound"), Col("ror_hi", "ROR975", "num"),
    Col("ic", "IC", "num"), Col("ic025", "IC025", "num"), Col("ic975", "IC975", "num"),
    Col("ebgm", "EBGM", "num"), Col("eb05", "EB05", "num"), Col("eb95", "EB95", "num"),
]
FLAGS = [
    Col("flag_evans", "Evans", "flag", "PRR >= 2, chi2 >= 4, a >= 3"),
    Col("flag_ror025", "ROR025>1", "flag", "ROR lower bound > 1 and a >= 3"),
    Col("flag_ic025", "IC025>0", "flag"),
    Col("flag_eb05", "EB05>=2", "flag"),
]
SINCE = [
    Col("first_quarter", "first flagged", "text", "first quarter any threshold was met (cumulative trend)"),
    Col("is_new", "new", "bool", "flagged now, not flagged in the previous run"),
]


SINCE_EACH = [Col(f"first_quarter_{name}", f"first {label}", "text", f"first quarter the {label} threshold was met")
              for name, label in (("evans", "Evans"), ("ror025", "ROR025"), ("ic025", "IC025"), ("eb05", "EB05"))]


def columns(lead: list[Col], since_each: bool = False) -> list[Col]:
    """The full signal row after the identifying columns ``lead`` (with the first quarter of
    each threshold when ``since_each``)."""
    return [*lead, *COUNTS, *MEASURES, *FLAGS, *SINCE, *(SINCE_EACH if since_each else [])]


def row_key(r: dict) -> str:
    return f"{r['drug']}|{r['event']}|{r['level']}|{r['subset']}"


def flagged_first(frame: pl.DataFrame) -> pl.DataFrame:
    """New signals first, then flagged ones, then by strength (ROR lower bound), then name."""
    return frame.with_columns(_f=ANY_FLAG).sort(
        ["is_new", "_f", "ror_lo", "event"], descending=[True, True, True, False], nulls_last=True).drop("_f")


def new_row_class(r: dict) -> str:
    return "is-new" if r.get("is_new") else ""


# Light ends so the numbers printed on the cells stay readable: blue below 1, red above.
HEAT = [[0.0, "#4f8fc4"], [0.35, "#bcd7ec"], [0.5, "#f7f7f7"], [0.65, "#f4c0a6"], [1.0, "#d6604d"]]


def ror_heatmap(rows: pl.DataFrame, y: str, x: str, ys: list[str], xs: list[str], mark_new: bool = False):
    """A Plotly heatmap of signal rows: colour = log2 of the ROR lower 95% bound (clipped to
    +-3, red above 1), text = a, '*' when any threshold flagged ('new' when is_new)."""
    import math

    import plotly.graph_objects as go

    from dashboards.render import fmt

    grid = {(r[y], r[x]): r for r in rows.iter_rows(named=True)}
    z, text, hover = [], [], []
    for yv in ys:
        zr, tr, hr = [], [], []
        for xv in xs:
            r = grid.get((yv, xv))
            lo = None if r is None else r["ror_lo"]
            zr.append(None if lo is None or lo <= 0 else max(-3.0, min(3.0, math.log2(lo))))
            flagged = r is not None and any(r[c] for c in FLAG_COLUMNS)
            new = mark_new and r is not None and bool(r["is_new"])
            tr.append("" if r is None else f"{r['a']}{'*' if flagged else ''}{' new' if new else ''}")
            hr.append("no report" if r is None else
                      f"{yv}, {xv}<br>a={r['a']} ROR {fmt(r['ror'], 'num')} ({fmt(r['ror_lo'], 'num')}-"
                      f"{fmt(r['ror_hi'], 'num')}) IC025 {fmt(r['ic025'], 'num')} EB05 {fmt(r['eb05'], 'num')}"
                      f"{' flagged' if flagged else ''}")
        z.append(zr)
        text.append(tr)
        hover.append(hr)
    return go.Figure(go.Heatmap(z=z, x=xs, y=ys, text=text, texttemplate="%{text}", hovertext=hover,
                                hoverinfo="text", zmin=-3, zmax=3, zmid=0, colorscale=HEAT, xgap=1, ygap=1,
                                colorbar=dict(title="ROR025", tickvals=[-3, -1, 0, 1, 3],
                                              ticktext=["\u22640.125", "0.5", "1", "2", "\u22658"])))
