"""The PDF's figures, drawn as vector graphics with reportlab.graphics.

Why not plotly + kaleido: kaleido needs a Chromium, and the report must render offline on
a machine without a browser. These drawings are plain PDF vector paths (sharp at any zoom,
a few kB, byte-reproducible).

- ``forest``: one row per event, the drug's ratio with its 95% interval on a log axis, the
  comparators' point estimates as grey dots on the same row, a dashed line at 1;
- ``line_panels``: one line per event over ordered x labels (quarters for the cumulative
  trend, daily-dose bands for dose-response), a dashed threshold line when the measure has
  one, one panel per measure.
"""

from __future__ import annotations

import math

from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors

FONT, BOLD = "Helvetica", "Helvetica-Bold"
DRUG_COLOR = colors.HexColor("#1f3a93")
GREY = colors.HexColor("#9a9a9a")
PALETTE = [colors.HexColor(c) for c in ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                                        "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")]
LOG_TICKS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500)


def _log_range(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.5, 2.0)
    lo, hi = min(lo, 0.5), max(hi, 2.0)
    return math.log10(lo) - 0.05, math.log10(hi) + 0.05


def forest(rows: list[dict], width: float, title: str, measure: str = "ROR") -> Drawing:
    """rows: label, point, lo, hi (the drug) and comparators (list of point estimates)."""
    row_h, top, bottom, label_w, right = 14, 22, 28, 170, 12
    height = top + bottom + row_h * max(len(rows), 1)
    d = Drawing(width, height)
    d.add(String(0, height - 12, title, fontName=BOLD, fontSize=9))
    values = [v for r in rows for v in (r["point"], r["lo"], r["hi"], *r["comparators"])]
    x0, x1 = _log_range(values)
    plot_l, plot_r = label_w, width - right
    xs = lambda v: plot_l + (math.log10(v) - x0) / (x1 - x0) * (plot_r - plot_l)  # noqa: E731
    clip = lambda v: min(max(v, 10 ** x0), 10 ** x1)  # noqa: E731
    y_axis = bottom - 4
    d.add(Line(plot_l, y_axis, plot_r, y_axis, strokeColor=colors.black, strokeWidth=0.5))
    for t in LOG_TICKS:
        if x0 <= math.log10(t) <= x1:
            d.add(Line(xs(t), y_axis, xs(t), y_axis - 3, strokeWidth=0.5))
            d.add(String(xs(t), y_axis - 12, f"{t:g}", fontName=FONT, fontSize=7, textAnchor="middle"))
    d.add(String((plot_l + plot_r) / 2, 0, f"{measure} (log scale); bar = 95% interval of the drug; "
                 "grey dots = comparators", fontName=FONT, fontSize=7, textAnchor="middle"))
    one = xs(1)
    d.add(Line(one, y_axis, one, height - top + 4, strokeColor=GREY, strokeWidth=0.6, strokeDashArray=[3, 2]))
    for k, r in enumerate(rows):
        y = height - top - row_h * (k + 0.5)
        if k % 2 == 0:
            d.add(Rect(plot_l, y - row_h / 2, plot_r - plot_l, row_h, fillColor=colors.HexColor("#f3f3f3"),
                       strokeColor=None))
        d.add(String(plot_l - 6, y - 3, r["label"], fontName=FONT, fontSize=7.5, textAnchor="end"))
        for c in r["comparators"]:
            if c is not None and c > 0:
                d.add(Circle(xs(clip(c)), y, 1.8, fillColor=GREY, strokeColor=None))
        if r["point"] is not None and r["point"] > 0:
            if r["lo"] is not None and r["hi"] is not None and r["lo"] > 0:
                d.add(Line(xs(clip(r["lo"])), y, xs(clip(r["hi"])), y, strokeColor=DRUG_COLOR, strokeWidth=1.2))
            p = xs(clip(r["point"]))
            d.add(Rect(p - 3, y - 3, 6, 6, fillColor=DRUG_COLOR, strokeColor=None))
    return d


def line_panels(quarters: list[str], panels: list[dict], width: float, height: float = 210) -> Drawing:
    """panels: title, threshold (or None), series {event: [value or None per x label]}; one legend below."""
    d = Drawing(width, height)
    events = sorted({e for p in panels for e in p["series"]})
    color = {e: PALETTE[i % len(PALETTE)] for i, e in enumerate(events)}
    legend_rows = math.ceil(len(events) / 4)
    legend_h = 12 * legend_rows + 4
    gap = 30
    panel_w = (width - gap * (len(panels) - 1)) / max(len(panels), 1)
    for n, panel in enumerate(panels):
        left = n * (panel_w + gap) + 34
        right = n * (panel_w + gap) + panel_w - 4
        bottom, top = legend_h + 24, height - 16
        values = [v for s in panel["series"].values() for v in s if v is not None and math.isfinite(v)]
        if panel["threshold"] is not None:
            values.append(panel["threshold"])
        lo, hi = min(values), max(values)
        pad = (hi - lo) * 0.08 or 0.5
        lo, hi = lo - pad, hi + pad
        ys = lambda v: bottom + (v - lo) / (hi - lo) * (top - bottom)  # noqa: E731
        xs = lambda i: left + (i / max(len(quarters) - 1, 1)) * (right - left)  # noqa: E731
        d.add(String(left, height - 10, panel["title"], fontName=BOLD, fontSize=8.5))
        d.add(Rect(left, bottom, right - left, top - bottom, fillColor=None, strokeColor=colors.black,
                   strokeWidth=0.5))
        for t in _nice_ticks(lo, hi):
            d.add(Line(left - 3, ys(t), left, ys(t), strokeWidth=0.5))
            d.add(String(left - 5, ys(t) - 2.5, f"{t:g}", fontName=FONT, fontSize=6.5, textAnchor="end"))
        step = max(1, math.ceil(len(quarters) / 8))
        for i, q in enumerate(quarters):
            if i % step == 0 or i == len(quarters) - 1:
                d.add(Line(xs(i), bottom, xs(i), bottom - 3, strokeWidth=0.5))
                d.add(String(xs(i), bottom - 11, q, fontName=FONT, fontSize=6.5, textAnchor="middle"))
        if panel["threshold"] is not None:
            d.add(Line(left, ys(panel["threshold"]), right, ys(panel["threshold"]), strokeColor=colors.black,
                       strokeWidth=0.7, strokeDashArray=[4, 2]))
        for event, series in panel["series"].items():
            points = [(xs(i), ys(v)) for i, v in enumerate(series) if v is not None and math.isfinite(v)]
            if len(points) > 1:
                d.add(PolyLine([c for p in points for c in p], strokeColor=color[event], strokeWidth=1.1))
            for x, y in points:
                d.add(Circle(x, y, 1.4, fillColor=color[event], strokeColor=None))
    col_w = width / 4
    for i, e in enumerate(events):
        x, y = (i % 4) * col_w + 34, legend_h - 10 - 12 * (i // 4)
        d.add(Line(x, y + 2.5, x + 14, y + 2.5, strokeColor=color[e], strokeWidth=1.5))
        d.add(String(x + 18, y, e, fontName=FONT, fontSize=7))
    return d


def _nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    raw = (hi - lo) / target
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    return [round(start + k * step, 10) for k in range(int((hi - start) / step) + 1)]
