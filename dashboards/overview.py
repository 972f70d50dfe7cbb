"""The overview (index.html): which run, on what data, how many real cases, what is new.

Answers first "is there a new signal?" (new signals table, watchlist heatmap), then "can I
trust the numbers?" (data source with the SIMULATED banner, quarters, the dedup funnel from
cases/funnel.parquet and the manifest's line accounting).
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from markupsafe import Markup, escape

from dashboards import changes
from dashboards import drug as drug_page
from dashboards.case_lists import CASES_COLUMN, attach_case_links
from dashboards.inputs import Inputs
from dashboards.render import Col, Html, Page, figure, fmt, kpis, table
from dashboards.signal_rows import FLAGGED, columns, flagged_first, new_row_class, ror_heatmap, row_key

FUNNEL_LABELS = {
    "reports_read": "reports read (DEMO rows staged)",
    "latest_version": "latest version per case",
    "after_deleted": "minus FDA-deleted cases",
    "after_dup_flag": "minus flagged duplicates",
}


def funnel_order(funnel: pl.DataFrame) -> list[str]:
    return funnel.filter(pl.col("quarter") == "total")["stage"].to_list()


def facts(inputs: Inputs) -> Html:
    quarters = sorted(q["quarter"] for q in inputs.quarters)
    run = inputs.run
    source = {"SIMULATED": "SIMULATED extracts (pvmon simulate), not FDA data",
              "MIXED": f"MIXED: simulated quarters {', '.join(inputs.origin.simulated)} and FDA quarters "
                       f"{', '.join(inputs.origin.fda)}",
              "UNKNOWN": f"NOT RECORDED for {', '.join(inputs.origin.unknown)} (ingested by an older pvmon)",
              "FDA": "FDA FAERS quarterly extracts (see Sources)"}.get(inputs.origin.label, inputs.origin.label)
    rows = [
        ("signals run", inputs.run_id),
        ("created", run.get("created", "?")),
        ("previous run", run.get("previous_run") or "none (every flagged signal counts as new)"),
        ("data source", source),
        ("quarters covered", f"{quarters[0]} .. {quarters[-1]} ({len(quarters)} quarters)"),
        ("background", f"{fmt(run.get('background', {}).get('reports'), 'int')} reports with a suspect drug and "
                       f"a reaction; {fmt(run.get('background', {}).get('drugs'), 'int')} drugs"),
        ("suspect roles / dedup", f"{run.get('options', {}).get('roles')} / "
                                  f"{'flagged duplicates left out' if run.get('options', {}).get('dedup') else 'kept'}"),
        ("EBGM", "published (GPS prior: " + str(run.get("gps_fit", {}).get("message")) + ")"
         if run.get("ebgm_published") else "not published (no usable GPS prior)"),
        ("signal rule", f"{inputs.rule}: flagged when {inputs.rule_meaning} (pvmon signals --signal-rule)"),
        ("thresholds", "; ".join(f"{k}: {v}" for k, v in sorted(run.get("thresholds", {}).items()))),
        ("absent from the data", ", ".join(run.get("drugs", {}).get("absent", [])) or "none"),
    ]
    html = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return Html("Run and data", Markup(f'<dl class="facts" id="facts">{html}</dl>'), inputs.cite("run", "manifest"))


def glance(inputs: Inputs) -> Html:
    total = dict(inputs.funnel.filter(pl.col("quarter") == "total").select("stage", "count").iter_rows())
    order = funnel_order(inputs.funnel)
    all_rows = inputs.signals.filter(pl.col("subset") == "all")
    items = [
        (fmt(total.get(order[0]), "int"), "reports read", "kpi-read"),
        (fmt(total.get(order[-1]), "int"), "cases after deduplication", "kpi-cases"),
        (fmt(all_rows.filter(pl.col("is_new").fill_null(False)).height, "int"), "new signals (all reports)", "kpi-new"),
        (fmt(all_rows.filter(FLAGGED).height, "int"), f"flagged signals (all reports; rule {inputs.rule})",
         "kpi-flagged"),
    ]
    return kpis("At a glance", items, inputs.cite("funnel", "signals"))


def funnel_figure(inputs: Inputs):
    order = funnel_order(inputs.funnel)
    total = dict(inputs.funnel.filter(pl.col("quarter") == "total").select("stage", "count").iter_rows())
    counts = [total[s] for s in order]
    # bars, not a plotly funnel trace: the page then needs only the cartesian bundle (rule plotly-bundle)
    fig = go.Figure(go.Bar(y=[FUNNEL_LABELS.get(s, s) for s in order], x=counts, orientation="h",
                           text=[f"{n:,} ({n / counts[0]:.1%})" if counts[0] else f"{n:,}" for n in counts],
                           textposition="auto", marker=dict(color="#1f4e79")))
    fig.update_yaxes(autorange="reversed")  # the first stage on top, as the cases flow
    return figure("funnel", "Deduplication funnel (all quarters)", fig, inputs.cite("funnel"),
                  "Cases are counted in the quarter of their surviving version.", height=320)


def funnel_table(inputs: Inputs):
    order = funnel_order(inputs.funnel)
    wide = inputs.funnel.pivot(on="stage", index="quarter", values="count")
    wide = wide.with_columns(_t=pl.col("quarter") == "total").sort("_t", "quarter").drop("_t")
    cols = [Col("quarter", "quarter")] + [Col(s, FUNNEL_LABELS.get(s, s), "int") for s in order]
    return table("funnel-table", "Deduplication funnel per quarter", cols, wide.to_dicts(), inputs.cite("funnel"),
                 key=lambda r: r["quarter"], )


def accounting_table(inputs: Inputs):
    per_quarter = (inputs.accounting.group_by("quarter")
                   .agg(pl.col("files", "lines_read", "clean", "repaired", "quarantined", "blank", "rows_staged").sum())
                   .sort("quarter"))
    cols = [Col("quarter", "quarter"), Col("files", "files", "int"), Col("lines_read", "lines read", "int"),
            Col("clean", "clean", "int"), Col("repaired", "repaired", "int"),
            Col("quarantined", "quarantined", "int"), Col("blank", "blank", "int"),
            Col("rows_staged", "rows staged", "int")]
    return table("accounting-summary", "Ingest line accounting per quarter (all tables)", cols, per_quarter.to_dicts(),
                 inputs.cite("manifest"), "lines read = clean + repaired + quarantined + blank, per file, checked by "
                 "the manifest. Per table and the quarantine reasons: Data quality page.",
                 key=lambda r: r["quarter"], filter=False)


def new_signals(inputs: Inputs, case_lists: dict):
    rows = inputs.signals.filter(pl.col("is_new").fill_null(False), pl.col("subset") == "all")
    level_rank = {"group": 0, "domain": 1, "pt": 2}
    rows = flagged_first(rows).with_columns(_l=pl.col("level").replace_strict(level_rank, default=3))
    rows = rows.sort("_l", maintain_order=True).drop("_l")
    records = rows.to_dicts()
    links = attach_case_links(records, case_lists)
    lead = [Col("event", "event", sticky=True), Col("drug", "drug"), Col("level", "level"), CASES_COLUMN]
    n_subsets = inputs.signals.filter(pl.col("is_new").fill_null(False), pl.col("subset") != "all").height
    return table("new-signals", "New signals (all reports): flagged now, not in the previous run", columns(lead),
                 records, inputs.cite("signals"),
                 f"Event groups first, then receptor domains, then PTs; within each, strongest first. "
                 f"{n_subsets:,} further new signals within subsets are on the drug pages.",
                 key=row_key, links={"drug": lambda r: drug_page.slug(r["drug"]) + ".html", **links},
                 row_class=new_row_class, first_quarter=inputs.first_quarter)


def watchlist_heatmap(inputs: Inputs):
    rows = inputs.signals.filter(pl.col("level") == "group", pl.col("subset") == "all",
                                 pl.col("drug").is_in(inputs.drugs))
    events = rows["event"].unique().sort().to_list()
    fig = ror_heatmap(rows, "drug", "event", inputs.drugs, events, mark_new=True,
                      link=lambda r: f"{drug_page.slug(r['drug'])}.html#groups:{row_key(r)}")
    fig.update_yaxes(autorange="reversed")
    return figure("watchlist", "Watchlist at a glance: event groups (all reports)", fig, inputs.cite("signals"),
                  "Colour: ROR lower 95% bound; number: a; * = a threshold flagged; 'new' = not flagged in the "
                  "previous run; 0 = no report. Click a cell to open its row on the drug page.",
                  height=140 + 34 * len(inputs.drugs))


def watchlist_table(inputs: Inputs):
    rows = inputs.signals.filter(pl.col("subset") == "all", pl.col("drug").is_in(inputs.drugs))
    stats = rows.group_by("drug").agg(
        reports=(pl.col("a") + pl.col("b")).filter(pl.col("level") == "pt").max(),
        groups_flagged=FLAGGED.filter(pl.col("level") == "group").sum(),
        domains_flagged=FLAGGED.filter(pl.col("level") == "domain").sum(),
        pts_flagged=FLAGGED.filter(pl.col("level") == "pt").sum(),
        new=pl.col("is_new").fill_null(False).sum(),
    )
    order = {d: i for i, d in enumerate(inputs.drugs)}
    records = sorted(stats.to_dicts(), key=lambda r: order[r["drug"]])
    for r in records:
        r["role"] = inputs.roles.get(r["drug"], "")
    cols = [Col("drug", "drug"), Col("role", "role"), Col("reports", "reports with the drug", "int"),
            Col("groups_flagged", "event groups flagged", "int"), Col("domains_flagged", "domains flagged", "int"),
            Col("pts_flagged", "PTs flagged", "int"), Col("new", "new signals", "int")]
    return table("watchlist-table", "Watchlist", cols, records, inputs.cite("signals"),
                 key=lambda r: r["drug"], links={"drug": lambda r: drug_page.slug(r["drug"]) + ".html"}, filter=False)


def sources_table(inputs: Inputs):
    records = [dict(q, data=inputs.origin.of(q["quarter"])) for q in inputs.quarters]
    cols = [Col("quarter", "quarter"), Col("data", "data"), Col("source", "source file"), Col("sha256", "sha256"),
            Col("bytes", "bytes", "int"), Col("committed_at", "staged at")]
    return table("sources", "Sources: the extract behind each quarter", cols, records, inputs.cite("manifest"),
                 key=lambda r: r["quarter"], filter=False)


def page(inputs: Inputs, case_lists: dict) -> Page:
    out = Page("index", "Overview", "Overview",
               "Is there a new signal, how strong, on how many real cases, and where does every number come from.")
    out.blocks += [facts(inputs), glance(inputs), *changes.blocks(inputs), new_signals(inputs, case_lists),
                   watchlist_heatmap(inputs),
                   watchlist_table(inputs), funnel_figure(inputs), funnel_table(inputs), accounting_table(inputs),
                   sources_table(inputs)]
    return out
