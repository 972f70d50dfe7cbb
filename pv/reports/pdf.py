"""The PDF report for one drug, laid out with reportlab (platypus) and nothing else.

Why reportlab: it is the maintained library made for generating PDFs in Python, needs no
browser (kaleido/Chromium would), uses the PDF core fonts (nothing to embed or find on
the machine), and with ``invariant=1`` writes the same bytes for the same content.

Sections: cover (with a loud SIMULATED notice when the store holds simulated extracts),
methods and options, case counts, event-group and receptor-domain signals (the drug in
full, then against the comparators, with a forest plot), flagged PT-level signals,
subsets, the quarterly trend, the receptor-density hypothesis and dose-response,
limitations, and the provenance appendix. Numbers are printed from the signal file with
fixed rounding (``fmt``): ratios and IC to 2 decimals, counts as integers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.sax.saxutils import escape

import polars as pl
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (CondPageBreak, PageBreak, Paragraph,
                                SimpleDocTemplate, Spacer, Table, TableStyle)

from pv.reports.figures import forest, line_panels
from pv.reports.text import LIMITATIONS, MEASURES, signal_rule_text, thresholds_text

PAGE = landscape(A4)
MARGIN = 14 * mm
WIDTH = PAGE[0] - 2 * MARGIN
RED = colors.HexColor("#b00020")
HEAD_BG = colors.HexColor("#dfe4ec")
STRIPE = colors.HexColor("#f5f6f8")
DRUG_BG = colors.HexColor("#fff4cc")
FLAG_NAMES = {"flag_evans": "Evans", "flag_ror025": "ROR", "flag_ic025": "IC", "flag_eb05": "EB05"}
# the loud notice on the cover and the band on every page, per data source (pv.reports.source)
COVER_NOTICE = {
    "SIMULATED": "SIMULATED DATA: this report is built from simulated FAERS-shaped extracts with planted signals. "
                 "It is NOT FDA data",
    "MIXED": "MIXED DATA: this report counts simulated FAERS-shaped reports together with FDA ones",
    "UNKNOWN": "DATA ORIGIN NOT RECORDED: some quarters were ingested by an older pvmon and may be simulated; "
               "until they are re-ingested this report",
}
PAGE_BANNER = {
    "SIMULATED": "SIMULATED DATA - NOT FDA FAERS - NOT FOR REGULATORY DECISIONS",
    "MIXED": "MIXED STORE: CONTAINS SIMULATED DATA - NOT FOR REGULATORY DECISIONS",
    "UNKNOWN": "DATA ORIGIN NOT RECORDED - MAY CONTAIN SIMULATED DATA - NOT FOR REGULATORY DECISIONS",
}

_base = getSampleStyleSheet()
STYLES = {
    "title": ParagraphStyle("title", parent=_base["Title"], fontSize=24, leading=30, spaceAfter=6),
    "drug": ParagraphStyle("drug", parent=_base["Title"], fontSize=32, leading=38, textColor=colors.HexColor("#1f3a93")),
    "h1": ParagraphStyle("h1", parent=_base["Heading1"], fontSize=15, leading=19, spaceBefore=4, spaceAfter=6),
    "h2": ParagraphStyle("h2", parent=_base["Heading2"], fontSize=11.5, leading=14, spaceBefore=8, spaceAfter=4),
    "body": ParagraphStyle("body", parent=_base["BodyText"], fontSize=9, leading=12, spaceAfter=4),
    "small": ParagraphStyle("small", parent=_base["BodyText"], fontSize=7.5, leading=9.5, spaceAfter=3),
    "bullet": ParagraphStyle("bullet", parent=_base["BodyText"], fontSize=8.5, leading=11, leftIndent=12,
                             bulletIndent=2, spaceAfter=3),
    "cell": ParagraphStyle("cell", parent=_base["BodyText"], fontSize=7, leading=8.5),
    "sim": ParagraphStyle("sim", parent=_base["BodyText"], fontName="Helvetica-Bold", fontSize=15, leading=20,
                          textColor=colors.white, alignment=TA_CENTER),
}


def fmt(value, digits: int = 2) -> str:
    """How every number is printed: integers with thousands separators, floats rounded."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.{digits}f}"
    return str(value)


MAX_LABEL = 60  # characters of a free-text label (PT, subset) in a table; the XLSX/CSV carry the full text


def label(text: str | None) -> str:
    """A table label cut to ``MAX_LABEL`` characters (with an ellipsis), so a 300-character reaction
    name cannot push the numbers of every row off the page."""
    text = "" if text is None else str(text)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "\u2026"


def interval(point, lo, hi) -> str:
    """``point [lo, hi]``; just ``n/a`` when the measure is not published (e.g. EBGM without a usable prior)."""
    return "n/a" if point is None else f"{fmt(point)} [{fmt(lo)}, {fmt(hi)}]"


def flags_text(row: dict) -> str:
    return " ".join(name for col, name in FLAG_NAMES.items() if row.get(col)) or "-"


def _p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(text, STYLES[style])


def _table(header: list[str], rows: list[list], widths: list[float] | None = None, highlight: list[int] = (),
           font_size: float = 7, align_right_from: int = 1, left: tuple[int, ...] = ()) -> Table:
    """A striped table with a repeated header row; ``highlight`` rows get the drug's background.
    Columns from ``align_right_from`` on are right-aligned (numbers), except those in ``left``."""
    data = [header, *rows]
    t = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", font_size, font_size + 1.5),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", font_size, font_size + 1.5),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
        ("ALIGN", (align_right_from, 0), (-1, -1), "RIGHT"),
        *(("ALIGN", (c, 0), (c, -1), "LEFT") for c in left),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("TOPPADDING", (0, 0), (-1, -1), 1.2), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    for i in range(1, len(data)):
        if i - 1 in highlight:
            style.append(("BACKGROUND", (0, i), (-1, i), DRUG_BG))
            style.append(("FONT", (0, i), (-1, i), "Helvetica-Bold", font_size, font_size + 1.5))
        elif i % 2 == 0:
            style.append(("BACKGROUND", (0, i), (-1, i), STRIPE))
    t.setStyle(TableStyle(style))
    return t


SIGNAL_HEADER = ["event", "a", "b", "c", "d", "E", "PRR [95% CI]", "chi2", "ROR [95% CI]", "IC [IC025, IC975]",
                 "EBGM [EB05, EB95]", "flags", "first flagged", "new"]


def _signal_rows(frame: pl.DataFrame, label_col: str = "event") -> list[list]:
    return [[label(r[label_col]), fmt(r["a"]), fmt(r["b"]), fmt(r["c"]), fmt(r["d"]), fmt(r["expected"]),
             interval(r["prr"], r["prr_lo"], r["prr_hi"]), fmt(r["chi2"], 1), interval(r["ror"], r["ror_lo"], r["ror_hi"]),
             interval(r["ic"], r["ic025"], r["ic975"]), interval(r["ebgm"], r["eb05"], r["eb95"]),
             flags_text(r), r["first_quarter"] or "-", "NEW" if r["is_new"] else ""]
            for r in frame.iter_rows(named=True)]


def signal_table(frame: pl.DataFrame, label_col: str = "event", first_header: str = "event") -> Table:
    return _table([first_header, *SIGNAL_HEADER[1:]], _signal_rows(frame, label_col))


def comparator_table(frame: pl.DataFrame, drug: str) -> Table:
    rows, mine = [], []
    for i, r in enumerate(frame.iter_rows(named=True)):
        rows.append([label(r["event"]), label(r["drug"]), fmt(r["a"]), fmt(r["expected"]), interval(r["ror"], r["ror_lo"], r["ror_hi"]),
                     fmt(r["ic025"]), interval(r["ebgm"], r["eb05"], r["eb95"]), flags_text(r)])
        if r["drug"] == drug:
            mine.append(i)
    return _table(["event", "drug", "a", "E", "ROR [95% CI]", "IC025", "EBGM [EB05, EB95]", "flags"], rows,
                  highlight=mine, align_right_from=2)


def _forest_rows(frame: pl.DataFrame, drug: str) -> list[dict]:
    out = []
    for event in frame.filter(pl.col("drug") == drug)["event"].to_list():
        rows = frame.filter(pl.col("event") == event)
        me = rows.filter(pl.col("drug") == drug).row(0, named=True)
        out.append({"label": label(event), "point": me["ror"], "lo": me["ror_lo"], "hi": me["ror_hi"],
                    "comparators": rows.filter(pl.col("drug") != drug)["ror"].to_list()})
    return out


def _page_decor(info: dict):
    def draw(canvas, doc):
        canvas.saveState()
        w, h = PAGE
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(MARGIN, 8 * mm, f"pvmon report | {info['drug']} | signal run {info['run_id']}")
        canvas.drawRightString(w - MARGIN, 8 * mm, f"page {doc.page}")
        if info["simulated"]:
            canvas.setFillColor(RED)
            canvas.rect(0, h - 9 * mm, w, 9 * mm, stroke=0, fill=1)
            canvas.setFillColor(colors.white)
            canvas.setFont("Helvetica-Bold", 10)
            canvas.drawCentredString(w / 2, h - 6.2 * mm, info["banner"])
        canvas.restoreState()
    return draw


def _kv_table(pairs: list[tuple[str, str]], key_width: float = 150) -> Table:
    rows = [[Paragraph(f"<b>{escape(k)}</b>", STYLES["cell"]), Paragraph(escape(v), STYLES["cell"])] for k, v in pairs]
    t = Table(rows, colWidths=[key_width, WIDTH - key_width], hAlign="LEFT")
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
                           ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    return t


def _simulated_box(text: str) -> Table:
    t = Table([[Paragraph(text, STYLES["sim"])]], colWidths=[WIDTH])
    t.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), RED), ("TOPPADDING", (0, 0), (-1, -1), 8),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 10)]))
    return t


def markdown_flowables(text: str) -> list:
    """The mechanism stage's statement.md (headings, bullets, paragraphs, **bold**) as flowables."""
    out, para = [], []

    def inline(s: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escape(s))

    def flush():
        if para:
            out.append(_p(inline(" ".join(para))))
            para.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("#"):
            flush()
            out.append(_p(inline(stripped.lstrip("#").strip()), "h2"))
        elif stripped.startswith("- "):
            flush()
            out.append(Paragraph(inline(stripped[2:]), STYLES["bullet"], bulletText="\u2022"))
        else:
            para.append(stripped)
    flush()
    return out


def _cover(ctx: dict) -> list:
    rec, run = ctx["record"]["report"], ctx["run"]
    story = [Spacer(1, 6 * mm), _p("Disproportionality signal report", "title"), _p(escape(ctx["drug"]), "drug"),
             Spacer(1, 4 * mm)]
    if ctx["simulated"]:
        story += [_simulated_box(COVER_NOTICE[rec["data_source"]]
                                 + " and must not be used for any regulatory or clinical decision."),
                  Spacer(1, 4 * mm)]
    code = rec["code"]
    quarters = ctx["quarters"]
    pairs = [
        ("Drug", ctx["drug"]),
        ("Signal run", f"{rec['run_id']} (created {rec['run_created']})"),
        ("Report date", f"{(rec['run_created'] or '')[:10]} (the signal run's date; the report adds no data)"),
        ("Data source", rec["data_source_text"]),
        ("Quarters covered", f"{quarters[0]} to {quarters[-1]} ({len(quarters)} quarters)" if quarters else "none"),
        ("Cases (after deduplication)", fmt(ctx["cases_total"])),
        ("Reports in the signal background", f"{fmt(run['background']['reports'])} (reports with a drug in the "
                                             f"suspect roles and a coded reaction)"),
        ("Reports with the drug", fmt(ctx["drug_reports"])),
        ("Comparators", ", ".join(ctx["comparators"]) or "none"),
        ("Code version", f"pvmon {code['pvmon']}, commit {code['git_commit'] or 'unknown'}"
                         + (" (with local changes)" if code.get("git_dirty") else "")),
        ("Signal run code", f"pvmon {run['code']['pvmon']}, commit {run['code'].get('git_commit') or 'unknown'}"),
    ]
    story.append(_kv_table(pairs))
    flagged = ctx["tables"]["group_signals"].filter((pl.col("drug") == ctx["drug"]))
    lines = [f"<b>{escape(r['event'])}</b>: a = {fmt(r['a'])}, ROR {interval(r['ror'], r['ror_lo'], r['ror_hi'])}, "
             f"IC025 {fmt(r['ic025'])}, EB05 {fmt(r['eb05'])}; flags: {flags_text(r)}"
             + (" (NEW)" if r["is_new"] else "") for r in flagged.iter_rows(named=True) if flags_text(r) != "-"]
    story += [Spacer(1, 4 * mm), _p("Event groups meeting at least one threshold (all reports)", "h2")]
    story += [Paragraph(x, STYLES["bullet"], bulletText="\u2022") for x in lines] or [_p("None.")]
    story.append(_p("A flag is a statistical signal of disproportionate reporting, not a causal finding "
                    "(see Limitations).", "small"))
    return story


def prior_values(prior: dict) -> str:
    """The GPS prior's values; a component at its point-mass limit has no finite alpha, beta: its point."""
    return ", ".join(f"{k} = {prior[k]:.6g}" for k in ("alpha1", "beta1", "alpha2", "beta2", "p", "point1", "point2")
                     if prior.get(k) is not None)


def _methods(ctx: dict) -> list:
    run = ctx["run"]
    opt, fit = run["options"], run["gps_fit"]
    prior = run.get("gps_prior_used") or {}
    story = [PageBreak(), _p("1. Methods", "h1")]
    story += [Paragraph(m, STYLES["bullet"], bulletText="\u2022") for m in MEASURES]
    story.append(_p("Thresholds (each flag holds when its rule holds):", "h2"))
    story += [Paragraph(escape(t), STYLES["bullet"], bulletText="\u2022") for t in thresholds_text(run)]
    story.append(_p("Signal rule (what 'flagged' means in this report's headline counts and PT list): "
                    + escape(signal_rule_text(run)), "body"))
    prior_text = prior_values(prior)
    pairs = [
        ("Suspect roles", f"{opt.get('roles')} (a report 'has the drug' when it lists it in these roles)"),
        ("Deduplication filter", "cases flagged as duplicates left out" if opt.get("dedup") else
         "off: cases flagged as duplicates kept"),
        ("Strata of the expected count", ", ".join(opt.get("strata") or []) or "none (crude expected count)"),
        ("Subsets", ", ".join(opt.get("subsets") or []) or "none"),
        ("ROR threshold minimum a", str(opt.get("ror_min_a"))),
        ("Zero cells", str(run.get("zero_cell_rule"))),
        ("GPS prior fit", f"{fit.get('mode')} cells; {fit.get('message')}; converged: {fmt(fit.get('converged'))}; "
                          f"on a bound: {', '.join(fit.get('on_bound') or []) or 'none'}"),
        ("GPS prior used", prior_text or "none: EBGM not published (fit not usable)"),
        ("Prior scope", str(run.get("gps_prior_scope"))),
        ("EBGM published", fmt(run.get("ebgm_published"))),
        ("Background", f"{fmt(run['background']['reports'])} reports, {fmt(run['background']['drugs'])} drugs, "
                       f"{fmt(run['background']['strata'])} strata, {fmt(run['background']['pt_cells'])} PT cells"),
        ("Trend", "cumulative: at the end of each quarter the 2x2 table is recounted over all reports up to "
                  "that quarter; first flagged = first quarter any threshold was met; new = flagged now, "
                  f"not in the previous run ({run.get('previous_run') or 'none'})"),
    ]
    story += [_p("Options of this run (run.json)", "h2"), _kv_table(pairs)]
    return story


def _cases(ctx: dict) -> list:
    t = ctx["tables"]
    funnel = t["funnel"]
    story = [PageBreak(), _p("2. Case counts", "h1"),
             _p("Deduplication funnel: reports read -> latest version of each case -> minus deleted cases -> "
                "minus cases flagged as duplicates (cases counted in the quarter of their surviving version).")]
    story.append(_table(funnel.columns, [[fmt(v) for v in r] for r in funnel.iter_rows()], align_right_from=1,
                        highlight=[funnel.height - 1]))
    summary = ctx["line_summary"]
    if summary.height:
        story += [_p("Line accounting", "h2"),
                  _p("All FAERS tables of each quarter: lines read = clean + repaired + quarantined + blank; "
                     "rows staged counts the records kept (per-table rows in the XLSX/CSV).", "small"),
                  _table(summary.columns, [[fmt(v) for v in r] for r in summary.iter_rows()],
                         highlight=[summary.height - 1])]
    counts = t["case_counts"]
    story += [_p(f"Cases with {escape(ctx['drug'])}", "h2"),
              _p("By role: deduplicated cases with a coded reaction listing the drug in that role. Total and the other dimensions: cases "
                 f"with the drug in the run's suspect roles ({escape(str(ctx['run']['options'].get('roles')))}) "
                 "within the signal background, so the total equals a + b of the signal table. A case listing the "
                 "drug more than once can count under more than one route, indication or dose band.", "small")]
    # one narrow column group per dimension, side by side
    blocks = []
    for dim in counts["dimension"].unique(maintain_order=True).to_list():
        part = counts.filter(pl.col("dimension") == dim)
        blocks.append(_table([dim, "cases"], [[r["value"], fmt(r["cases"])] for r in part.iter_rows(named=True)],
                             widths=[66, 38]))
    grid = Table([blocks], colWidths=[108] * len(blocks), hAlign="LEFT")
    grid.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("RIGHTPADDING", (0, 0), (-1, -1), 6)]))
    story.append(grid)
    return story


def _signals_section(ctx: dict, number: int, name: str, title: str, noun: str) -> list:
    frame, drug = ctx["tables"][name], ctx["drug"]
    mine = frame.filter(pl.col("drug") == drug)
    story = [PageBreak(), _p(f"{number}. {title}", "h1"),
             _p(f"{escape(drug)}, all reports: a = reports with the drug and the {noun}, b = with the drug without "
                f"it, c = the {noun} without the drug, d = neither; E = expected a (stratified). Flags: Evans (PRR), "
                "ROR (lower 95% bound), IC (IC025), EB05."), signal_table(mine)]
    if mine.height:
        story += [Spacer(1, 4 * mm), forest(_forest_rows(frame, drug), WIDTH,
                                            f"{drug}: ROR by {noun} with 95% interval, against the comparators")]
    story += [CondPageBreak(60 * mm), _p(f"Against the comparators ({noun}s, all reports)", "h2"),
              comparator_table(frame, drug)]
    return story


def _pt_section(ctx: dict) -> list:
    frame = ctx["tables"]["pt_signals"]
    return [PageBreak(), _p("5. Flagged PT-level signals", "h1"),
            _p(f"Preferred terms for {escape(ctx['drug'])} meeting at least one threshold (all reports), "
               f"{frame.height} of {ctx['pt_total']} PTs reported with the drug; sorted by EB05, then ROR lower bound."),
            signal_table(frame, first_header="PT")]


def _subset_section(ctx: dict) -> list:
    frame = ctx["tables"]["subset_signals"].filter(pl.col("level") == "group")
    if frame.height == 0:
        return [PageBreak(), _p("6. Subsets", "h1"), _p("This run has no subsets (computed with --subsets '').")]
    rows = [[label(r["event"]), label(r["subset"]), fmt(r["a"]), fmt(r["expected"]), interval(r["ror"], r["ror_lo"], r["ror_hi"]),
             fmt(r["ic025"]), interval(r["ebgm"], r["eb05"], r["eb95"]), flags_text(r), r["first_quarter"] or "-"]
            for r in frame.iter_rows(named=True)]
    return [PageBreak(), _p("6. Subsets", "h1"),
            _p("Event groups within each subset: route, indication class and dose band are attributes of the drug "
               "row (the background stays all reports); sex and age band restrict the whole background. "
               "Receptor-domain subsets are in the XLSX/CSV (subset_signals)."),
            _table(["event", "subset", "a", "E", "ROR [95% CI]", "IC025", "EBGM [EB05, EB95]", "flags",
                    "first flagged"], rows, align_right_from=2)]


def _trend_section(ctx: dict) -> list:
    trend = ctx["tables"].get("trend")
    story = [PageBreak(), _p("7. Quarterly trend", "h1")]
    if trend is None or trend.height == 0:
        return story + [_p("This run has no trend (computed with --no-trend).")]
    groups = trend.filter(pl.col("level") == "group")
    quarters = groups["quarter"].unique().sort().to_list()
    panels = []
    for measure, title, threshold in (("ror_lo", "ROR lower 95% bound (threshold 1)", 1.0),
                                      ("ic025", "IC025 (threshold 0)", 0.0)):
        series = {}
        for event in groups["event"].unique().sort().to_list():
            by_q = dict(groups.filter(pl.col("event") == event).select("quarter", measure).iter_rows())
            series[event] = [by_q.get(q) for q in quarters]
        panels.append({"title": title, "threshold": threshold, "series": series})
    story += [_p(f"{escape(ctx['drug'])}, event groups, all reports: each point recounts all reports up to the end "
                 "of that quarter (cumulative)."), line_panels(quarters, panels, WIDTH)]
    wide = (groups.select("event", "quarter", "a").pivot(on="quarter", index="event", values="a", maintain_order=True)
            .select("event", *quarters).fill_null(0).sort("event"))  # no row yet = no report yet
    story += [_p("Cumulative a (reports with the drug and the event) by quarter", "h2"),
              _table(wide.columns, [[fmt(v) for v in r] for r in wide.iter_rows()])]
    return story


def _triage_section(ctx: dict) -> list:
    """Signal management: each triaged signal's status and its every change (pv/triage.py)."""
    frame = ctx["tables"]["signal_status"]
    story = [CondPageBreak(40 * mm), _p("Signal status and history", "h2")]
    if frame.is_empty():
        return story + [_p("No signal of this drug has been triaged (pvmon triage, pvmon serve).")]
    rows = [[escape(r["event"]), r["level"], r["status"] + (" (now)" if r["now"] else ""), escape(r["user"]),
             r["at"][:16], Paragraph(escape(r["note"]), STYLES["cell"]), fmt(r["measure"])]
            for r in frame.iter_rows(named=True)]
    return story + [_p("Every status change, newest first; a refuted or closed signal is not reported as new."),
                    _table(["event", "level", "status", "by", "when (UTC)", "comment", "ROR025 then"], rows,
                           widths=[80, 36, 62, 44, 62, None, 44], align_right_from=6)]


def _mechanism_section(ctx: dict) -> list:
    story = [PageBreak(), _p("8. Receptor-density hypothesis and dose-response", "h1")]
    if ctx["statement"] is None:
        return story + [_p("No mechanism output for this run (run `pvmon mechanism`).")]
    story.append(_p("Hypothesis-generating only: the statement below is the mechanism stage's, verbatim "
                    "(mechanism/&lt;run_id&gt;/statement.md).", "small"))
    story += markdown_flowables(ctx["statement"])
    hyp = ctx["tables"].get("hypothesis")
    if hyp is not None and hyp.height:
        primary = hyp.filter(pl.col("family") == "primary")
        drug = primary["drug"][0] if primary.height else ctx["drug"]
        rules = hyp.filter((pl.col("drug") == drug) & pl.col("family").is_in(["primary", "rank rule"]))
        story += [CondPageBreak(50 * mm), _p(f"Rank rules side by side ({escape(drug)})", "h2"),
                  _table(["rule", "status", "domains", "slope [95%]", "p (one-sided)", "q (BH)", "smallest p", "verdict"],
                         [_test_cells(r, [r["rule"], r["family"]]) for r in rules.iter_rows(named=True)], align_right_from=2)]
        if primary.height and primary["mds80"][0] is not None:
            r = primary.row(0, named=True)
            story.append(_p(f"Power: the smallest density slope this store detects with 80% power is {fmt(r['mds80'])} "
                            f"IC per rank step (x{fmt(r['mds80_ratio'])} per step); observed slope {fmt(r['slope'])}, "
                            f"power at the observed slope {r['power_at_observed']:.0%}. Conclusion: "
                            f"{escape(r['conclusion'])}.", "small"))
        contrasts = hyp.filter(pl.col("family") == "contrast").sort(pl.col("status") == "exploratory", "comparator")
        if contrasts.height:
            story += [CondPageBreak(50 * mm), _p("Between-drug contrast (drug x density interaction)", "h2"),
                      _table(["comparator", "role", "status", "domains", "slope [95%]", "p (one-sided)", "q (BH)",
                              "smallest p", "verdict"],
                             [_test_cells(r, [r["comparator"], r["comparator_role"] or "", r["status"]])
                              for r in contrasts.iter_rows(named=True)], align_right_from=3)]
    dens = ctx["tables"].get("domain_density")
    if dens is not None and dens.height:
        story += [CondPageBreak(60 * mm), _p(f"Receptor domains of {escape(ctx['drug'])} by GABA-B density", "h2"),
                  forest([{"label": f"{r['domain']} (rank {fmt(r['lowest'])}; {r['n_pts']} PTs, a={r['a']})",
                           "point": 2.0 ** r["ic"], "lo": 2.0 ** r["ic_lo"], "hi": 2.0 ** r["ic_hi"], "comparators": []}
                          for r in dens.sort("lowest", "domain", descending=[True, False]).iter_rows(named=True)],
                         WIDTH, "pooled IC of the domain's PTs as a signal ratio 2^IC (95% interval), densest first",
                         measure="2^IC"),
                  _table(["domain", "regions", "density", "ranks lowest / highest / mean / tier", "PTs", "a", "E",
                          "pooled IC [95%]"],
                         [[r["domain"], r["regions"], r["density"],
                           f"{fmt(r['lowest'])} / {fmt(r['highest'])} / {fmt(r['mean'])} / {fmt(r['tier'])}",
                           fmt(r["n_pts"]), fmt(r["a"]), fmt(r["expected"]), interval(r["ic"], r["ic_lo"], r["ic_hi"])]
                          for r in dens.iter_rows(named=True)], align_right_from=4)]
    dose = ctx["tables"].get("dose_response")
    if dose is not None and dose.height:
        story += [PageBreak(), _p("Dose-response: share of reports per daily-dose band (exact 95% intervals)", "h2"),
                  _table(["scale", "event", "band", "n", "a", "share [95%]"],
                         [[r["scale"], label(r["event"]), r["dose_band"], fmt(r["n"]), fmt(r["a"]),
                           f"{r['share']:.1%} [{r['share_lo']:.1%}, {r['share_hi']:.1%}]"]
                          for r in dose.iter_rows(named=True)], align_right_from=3)]
    trend = ctx["tables"].get("dose_trends")
    if trend is not None and trend.height:
        story += [CondPageBreak(40 * mm), _p("Exact trend tests (permutation Cochran-Armitage, BH over all)", "h2"),
                  _table(["scale", "event", "n per band", "share per band", "p (exact)", "q (BH)", "verdict"],
                         [[r["scale"], label(r["event"]), r["n_per_band"], r["shares"], fmt(r["p_trend"], 4),
                           fmt(r["q_bh"], 4), r["verdict"]] for r in trend.iter_rows(named=True)], align_right_from=4)]
    return story


def _test_cells(r: dict, lead: list[str]) -> list[str]:
    """One density-test row: leading labels, then domains, slope [interval], p, q, smallest p, verdict."""
    ci = "no interval" if r["ci_lo"] is None else f"[{fmt(r['ci_lo'])}, {fmt(r['ci_hi'])}]"
    return lead + [fmt(r["n_domains"]), "n/a" if r["slope"] is None else f"{fmt(r['slope'])} {ci}",
                   fmt(r["p"], 4), fmt(r["q_bh"], 4), fmt(r["p_min"], 4), r["verdict"]]


def _limitations() -> list:
    return [PageBreak(), _p("9. Limitations", "h1"),
            *[Paragraph(escape(x), STYLES["bullet"], bulletText="\u2022") for x in LIMITATIONS]]


def _appendix(ctx: dict) -> list:
    record = ctx["record"]
    story = [PageBreak(), _p("Appendix: provenance", "h1"),
             _p("Ingested sources (manifest pvmon.sqlite): file, size and sha256 as ingested; origin as detected.", "h2")]
    story.append(_table(["quarter", "source", "bytes", "sha256", "origin"],
                        [[s["quarter"], s["source"], fmt(s["bytes"]), s["sha256"], s["origin"]]
                         for s in record["sources"]], align_right_from=2, left=(3, 4), font_size=6.5))
    story += [_p("Stage files this report read (paths relative to the store)", "h2"),
              _table(["file", "bytes", "sha256"], [[f["path"], fmt(f["bytes"]), f["sha256"]]
                                                   for f in record["files_read"]], font_size=6.5, left=(2,))]
    seeds = record["cases_build"].get("seeds", {})
    run_seeds = record["signal_run"].get("seeds", {})
    story += [_p("Seed versions", "h2"),
              _kv_table([(f"cases: {k}", str(v)) for k, v in sorted(seeds.items())]
                        + [(f"signals: {k}", json.dumps(v, sort_keys=True)) for k, v in sorted(run_seeds.items())]
                        + [(f"mechanism: {k}", str(v)) for k, v in sorted(record.get("mechanism_seeds", {}).items())]
                        + [("MedDRA release loaded", fmt(record["cases_build"].get("meddra")))])]
    story += [_p("Signal run", "h2"), _kv_table(_run_summary(record["signal_run"]))]
    return story


def _run_summary(run: dict) -> list[tuple[str, str]]:
    """The signal run in words (the machine-readable record is signals/<run_id>/run.json beside the
    report's provenance.json): inputs by file name and hash, options, signal rule, prior fit, code."""
    fit, code = run.get("gps_fit") or {}, run.get("code") or {}
    prior = run.get("gps_prior_used") or {}
    rows = [("run", f"{run.get('run_id')} created {run.get('created')}; previous run {run.get('previous_run') or 'none'}"),
            ("machine-readable record", f"signals/{run.get('run_id')}/run.json in the store")]
    rows += [(f"input {Path(str(f.get('path', ''))).parent.name}/{Path(str(f.get('path', ''))).name}",
              f"{fmt(f.get('bytes'))} bytes, sha256 {f.get('sha256')}") for f in run.get("inputs") or []]
    options = run.get("options") or {}
    rows += [("options", "; ".join(f"{k} = {v}" for k, v in sorted(options.items()) if k != "prior")),
             ("signal rule", signal_rule_text(run)),
             ("GPS prior fit", f"{fit.get('mode')} cells; {fit.get('message')}"),
             ("GPS prior used", prior_values(prior) or "none"),
             ("code", f"pvmon {code.get('pvmon', '?')}, commit {(code.get('git_commit') or 'unknown')[:12]}"
                      + (" (with uncommitted changes)" if code.get("git_dirty") else ""))]
    return rows


def write_pdf(path: Path, ctx: dict) -> None:
    """Write the PDF for the context built by pv.reports.build (the caller makes it atomic)."""
    info = {"drug": ctx["drug"], "run_id": ctx["record"]["report"]["run_id"], "simulated": ctx["simulated"],
            "banner": PAGE_BANNER.get(ctx["record"]["report"]["data_source"], PAGE_BANNER["SIMULATED"])}
    doc = SimpleDocTemplate(
        str(path), pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 4 * mm,
        bottomMargin=MARGIN, invariant=1, title=f"pvmon report: {ctx['drug']} (run {info['run_id']})",
        author="pvmon", subject=ctx["record"]["report"]["data_source_text"], creator="pvmon (reportlab)")
    story = (_cover(ctx) + _methods(ctx) + _cases(ctx)
             + _signals_section(ctx, 3, "group_signals", "Event-group signals", "event group")
             + _signals_section(ctx, 4, "domain_signals", "Receptor-domain signals", "receptor domain")
             + _pt_section(ctx) + _subset_section(ctx) + _trend_section(ctx) + _triage_section(ctx)
             + _mechanism_section(ctx)
             + _limitations() + _appendix(ctx))
    decor = _page_decor(info)
    doc.build(story, onFirstPage=decor, onLaterPages=decor)
