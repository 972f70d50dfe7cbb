"""What changed since the previous run: signals that appeared, signals no longer flagged, and for
the rest the change in a and in the headline measure; the cases that are new or updated.

Why both directions: "new" alone hides a signal that vanished (fewer cases after a dedup fix,
a diluted ratio) — an analyst tracking a signal must see it go. Both runs are judged by THIS
run's signal rule (dashboards.inputs flags the previous table with it), so a change of rule is
not mistaken for a change in the data. The headline measure is the rule's first threshold's
measure (pv.signals.thresholds.signal_rule_headline; ROR025 for the default ``any``).

Rule ``new-and-updated-cases``: cases (latest versions, duplicates left out when the run's dedup
filter is on) received after the last quarter of the previous run's trend; "new" = version 1,
"updated" = a later version (FAERS numbers versions per case, so version > 1 means the case
existed before, possibly before the store's first quarter).
"""

from __future__ import annotations

import polars as pl
from pv.cases import tables
from markupsafe import Markup, escape

from dashboards.inputs import Inputs
from dashboards.render import Col, Html, fmt, kpis, table

KEYS = ["drug", "event", "level", "subset"]
STATUS = {"new": "new signal", "gone": "no longer flagged", "kept": "still flagged"}
MEASURE_LABEL = {"ror_lo": "ROR025", "ic025": "IC025", "eb05": "EB05", "prr": "PRR"}


def change_rows(inputs: Inputs, drug: str | None = None, all_only: bool = True) -> pl.DataFrame:
    """One row per signal flagged in either run (KEYS, status, a/measure before and now, deltas)."""
    m = inputs.headline
    scope = pl.lit(True) if drug is None else pl.col("drug") == drug
    scope = scope & (pl.col("subset") == "all") if all_only else scope  # on both sides before the join
    now = inputs.signals.filter(scope).select(*KEYS, "a", pl.col(m).alias("m"), "flagged")
    before = inputs.previous.filter(scope).select(*KEYS, "a", pl.col(m).alias("m"), "flagged")
    rows = now.join(before, on=KEYS, how="full", coalesce=True, suffix="_before")
    is_now, was = pl.col("flagged").fill_null(False), pl.col("flagged_before").fill_null(False)
    rows = rows.filter(is_now | was).with_columns(
        status=pl.when(is_now & ~was).then(pl.lit("new")).when(was & ~is_now).then(pl.lit("gone")).otherwise(pl.lit("kept")),
        a_now=pl.col("a").fill_null(0), a_before=pl.col("a_before").fill_null(0))
    order = {"new": 0, "gone": 1, "kept": 2}
    return (rows.with_columns(delta_a=pl.col("a_now") - pl.col("a_before"), delta_m=pl.col("m") - pl.col("m_before"),
                              _o=pl.col("status").replace_strict(order))
            .sort("_o", "drug", "level", "event", "subset").drop("_o"))


def case_counts(inputs: Inputs) -> tuple[int, int] | None:
    """(new, updated) cases received after the previous run's last quarter (rule above); counted
    once per publish (every page shows them)."""
    if inputs.previous_last_quarter is None:
        return None
    if "case_counts" not in inputs.memo:
        inputs.memo["case_counts"] = _case_counts(inputs)
    return inputs.memo["case_counts"]


def _case_counts(inputs: Inputs) -> tuple[int, int]:
    cases = tables.scan(inputs.home.cases, "cases").filter(pl.col("quarter") > inputs.previous_last_quarter)
    if inputs.run.get("options", {}).get("dedup", True):
        cases = cases.filter(~pl.col("dup_flag").fill_null(False))
    new, updated = cases.select(new=(pl.col("caseversion") <= 1).sum(), updated=(pl.col("caseversion") > 1).sum()).collect().row(0)
    return int(new), int(updated)


def blocks(inputs: Inputs, drug: str | None = None) -> list:
    """The 'since the previous run' KPIs and table (overview: every drug, all reports; a drug page:
    that drug, all reports and subsets)."""
    previous = inputs.run.get("previous_run")
    if inputs.previous is None:
        why = ("there is no previous run: every flagged signal counts as new" if not previous else
               f"the previous run {previous} is no longer in the store (pruned): nothing to compare with")
        return [Html("Since the previous run", Markup(f'<p class="note" id="changes-none">{escape(why)}.</p>'),
                     inputs.cite("signals"), id="changes")]
    rows = change_rows(inputs, drug, all_only=drug is None)
    count = dict(rows.group_by("status").len().iter_rows())
    cases = case_counts(inputs)
    scope = "all reports" if drug is None else "all reports and subsets"
    items = [(fmt(count.get("new", 0), "int"), f"new signals ({scope})", "kpi-changes-new"),
             (fmt(count.get("gone", 0), "int"), f"no longer flagged ({scope})", "kpi-changes-gone"),
             (fmt(count.get("kept", 0), "int"), "still flagged", "kpi-changes-kept")]
    if cases is not None:
        items += [(fmt(cases[0], "int"), f"new cases since {inputs.previous_last_quarter}", "kpi-cases-new"),
                  (fmt(cases[1], "int"), f"updated cases since {inputs.previous_last_quarter}", "kpi-cases-updated")]
    sources = ("signals", "previous") + (("cases",) if "cases" in inputs.sources else ())
    head = kpis(f"Since the previous run ({previous})", items, inputs.cite(*sources))
    label = MEASURE_LABEL.get(inputs.headline, inputs.headline)
    cols = [Col("event", "event", "text", sticky=True, group=""), Col("status", "change", "text", group=""),
            Col("drug", "drug", group=""), Col("level", "level", group=""),
            *([Col("subset", "subset", group="")] if drug is not None else []),
            Col("a_before", "a before", "int", group="counts"), Col("a_now", "a now", "int", group="counts"),
            Col("delta_a", "\u0394a", "int", group="counts"),
            Col("m_before", f"{label} before", "num", group="measures"),
            Col("m", f"{label} now", "num", group="measures"),
            Col("delta_m", f"\u0394{label}", "num", group="measures")]
    records = [dict(r, status=STATUS[r["status"]]) for r in rows.to_dicts()]
    from dashboards.drug import slug

    body = table("changes", "Signals that appeared, vanished or moved", cols, records, inputs.cite(*sources),
                 f"Both runs judged by this run's signal rule ({inputs.rule}). 'a before' is 0 where the previous "
                 f"run had no such row; {label} is the rule's headline measure.",
                 key=lambda r: "|".join(str(r[k]) for k in KEYS),
                 links={"event": lambda r: f"{slug(r['drug'])}.html#groups:{r['drug']}|{r['event']}|{r['level']}|{r['subset']}"
                        if r["level"] == "group" and r["subset"] == "all" else None},
                 row_class=lambda r: "is-new" if r["status"] == STATUS["new"] else "")
    return [head, body]
