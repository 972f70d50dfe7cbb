"""The mechanism page: does a domain's signal rise with its GABA-B receptor density?

From ``mechanism/<run_id>/``: the plain-language statement (statement.md, shown as written);
each domain's pooled IC with its 95% interval and its PT and report counts against the primary
rule's density rank (domains.parquet); the rank rules side by side, the between-drug contrasts
and every drug's test (hypothesis.parquet); the power of the primary test against the true slope
(power.parquet); the dose-response shares per band with n and exact intervals (dose_response.parquet,
dose_trends.parquet). The scatter draws the fitted slope only when its test rejected (p < alpha),
so the picture never suggests an ordering the test did not find.
"""

from __future__ import annotations

import re

import plotly.graph_objects as go
import polars as pl
from markupsafe import Markup, escape

from dashboards.inputs import Inputs
from dashboards.render import COMPARATOR_COLOUR, PALETTE, TARGET_COLOUR, Col, Html, Page, figure, table
from pv.vocab.receptors import load_mechanism_plan


def markdown(text: str) -> Markup:
    """The small Markdown subset statement.md uses: headings, bullet lists, **bold**, paragraphs."""
    out, in_list, para = [], False, []

    def inline(s: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", str(escape(s)))

    def flush() -> None:
        if para:
            out.append(f"<p>{inline(' '.join(para))}</p>")
            para.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("- "):
            flush()
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{inline(stripped[2:])}</li>")
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        if stripped.startswith("#"):
            flush()
            level = min(4, 2 + len(stripped) - len(stripped.lstrip("#")))
            out.append(f"<h{level}>{inline(stripped.lstrip('#').strip())}</h{level}>")
        elif not stripped:
            flush()
        else:
            para.append(stripped)
    flush()
    if in_list:
        out.append("</ul>")
    return Markup('<div class="prose" id="statement">' + "\n".join(out) + "</div>")


def _plan() -> tuple[str, str, float]:
    plan = load_mechanism_plan()
    return plan["primary_drug"]["value"], plan["primary_rank_rule"]["value"], float(plan["alpha"]["value"])


def density_figure(inputs: Inputs):
    primary, rule, alpha = _plan()
    domains = inputs.domains
    tests = inputs.hypothesis.filter((pl.col("family").is_in(["primary", "drug"])) & (pl.col("rule") == rule))
    order = [primary] + [d for d in inputs.drugs if d in set(domains["drug"]) and d != primary]
    order += sorted(set(domains["drug"]) - set(order))
    fig = go.Figure()
    for k, drug in enumerate(order):
        sub = domains.filter(pl.col("drug") == drug).sort(rule, "ic")
        if sub.height == 0:
            continue
        shown = drug == primary
        colour = TARGET_COLOUR if shown else PALETTE[k % len(PALETTE)]
        test = tests.filter(pl.col("drug") == drug)
        p = test["p"][0] if test.height else None
        offset = 0.0 if shown else 0.03 * k  # comparators dodged right so they do not overprint the primary drug
        fig.add_trace(go.Scatter(
            x=(sub[rule] + offset).to_list(), y=sub["ic"].to_list(), mode="markers+text" if shown else "markers",
            name=f"{drug} (p = {p:.3f})" if p is not None else drug, legendgroup=drug,
            text=[f"{d} (n={n} PTs, a={a})" for d, n, a in sub.select("domain", "n_pts", "a").iter_rows()],
            textfont=dict(size=9), textposition="middle right",
            visible=True if shown else "legendonly", marker=dict(size=10 if shown else 7, color=colour),
            error_y=dict(type="data", symmetric=False, array=(sub["ic_hi"] - sub["ic"]).to_list(),
                         arrayminus=(sub["ic"] - sub["ic_lo"]).to_list(), color=colour, thickness=1),
            customdata=sub.select("domain", "regions", "n_pts", "a", "ic_lo", "ic_hi").rows(),
            hovertemplate="%{customdata[0]} (%{customdata[1]})<br>pooled IC %{y:.2f} [%{customdata[4]:.2f}, "
                          "%{customdata[5]:.2f}]<br>%{customdata[2]} PTs, a=%{customdata[3]}<extra>" + drug + "</extra>"))
        if test.height and p is not None and p < alpha:  # the slope is drawn only where the test found it
            x = sub[rule].to_numpy()
            slope = test["slope"][0]
            intercept = float(sub["ic"].mean() - slope * x.mean())
            xs = [float(x.min()), float(x.max())]
            fig.add_trace(go.Scatter(x=xs, y=[intercept + slope * v for v in xs], mode="lines", legendgroup=drug,
                                     showlegend=False, visible=True if shown else "legendonly",
                                     line=dict(color=colour, dash="dash", width=1.5),
                                     hovertemplate=f"fitted slope {slope:.2f} IC per rank step (p = {p:.3f})<extra></extra>"))
    fig.add_hline(y=0, line=dict(color="#34495e", dash="dot", width=1))
    fig.update_xaxes(title_text=f"GABA-B density rank of the domain (rule '{rule}', higher = denser)", dtick=1)
    fig.update_yaxes(title_text="domain signal: pooled IC of its PTs (95% interval)")
    return figure("density", "Domain signal vs receptor density rank", fig, inputs.cite("domains"),
                  f"{primary} is shown (click a comparator in the legend to add it; p is each drug's one-sided "
                  f"permutation p). A dashed slope is drawn only for a drug whose test gave p < {alpha:g}. "
                  "Respiratory has no density rank and is left out.", height=560)


def _result_cols() -> list[Col]:
    return [Col("n_domains", "domains", "int"), Col("slope", "slope (IC/rank)", "num"),
            Col("ratio_per_step", "signal x per step", "num"), Col("ci_lo", "95% low", "num"),
            Col("ci_hi", "95% high", "num"), Col("p", "p (one-sided)", "p"), Col("q_bh", "q (BH, all tests)", "p"),
            Col("p_min", "smallest attainable p", "p"), Col("verdict", "verdict")]


def rules_table(inputs: Inputs):
    primary, _, _ = _plan()
    rows = inputs.hypothesis.filter((pl.col("drug") == primary) & pl.col("family").is_in(["primary", "rank rule"]))
    cols = [Col("rule", "rank rule"), Col("family", "status")] + _result_cols()
    return table("rank-rules", f"Rank rules side by side ({primary})", cols, rows.to_dicts(), inputs.cite("hypothesis"),
                 "A domain with several regions takes the lowest, highest or mean of its regions' ranks, or only "
                 "its density tier; the primary rule is fixed in seeds/mechanism_plan.csv.", key=lambda r: r["rule"],
                 filter=False)


def contrast_table(inputs: Inputs):
    rows = inputs.hypothesis.filter(pl.col("family") == "contrast").sort(pl.col("status") == "exploratory", "comparator")
    cols = [Col("comparator", "comparator"), Col("comparator_role", "role"), Col("status", "status")] + _result_cols()
    return table("contrast", "Between-drug contrast (drug x density interaction)", cols, rows.to_dicts(),
                 inputs.cite("hypothesis"), "Slope of the hypothesis drug's domain signals minus the comparator's; "
                 "the same permutation of ranks over domains.", key=lambda r: r["comparator"], filter=False)


def hypothesis_table(inputs: Inputs):
    _, rule, _ = _plan()
    rows = inputs.hypothesis.filter(pl.col("family").is_in(["primary", "drug"]) & (pl.col("rule") == rule)).sort(
        "family", "role", "drug", descending=[True, False, False])
    cols = [Col("drug", "drug"), Col("role", "role"), Col("mechanism", "mechanism"), Col("status", "status")] + _result_cols()
    return table("hypothesis", f"Density test per drug (rule '{rule}')", cols, rows.to_dicts(), inputs.cite("hypothesis"),
                 "Only the primary row is judged at alpha; the others are exploratory.", key=lambda r: r["drug"])


def power_figure(inputs: Inputs):
    path = inputs.home.root / "mechanism" / inputs.run_id / "power.parquet"
    primary = inputs.hypothesis.filter(pl.col("family") == "primary")
    if not path.is_file() or primary.height == 0:
        return None
    curve = pl.read_parquet(path)
    row = primary.row(0, named=True)
    fig = go.Figure(go.Scatter(x=curve["slope"].to_list(), y=curve["power"].to_list(), mode="lines",
                               line=dict(color=TARGET_COLOUR), name="power",
                               hovertemplate="true slope %{x:.2f}: power %{y:.0%}<extra></extra>"))
    fig.add_hline(y=0.8, line=dict(color="#34495e", dash="dot", width=1))
    if row.get("mds80") is not None:
        fig.add_vline(x=row["mds80"], line=dict(color=TARGET_COLOUR, dash="dash", width=1),
                      annotation_text=f"80% power at {row['mds80']:.2f}", annotation_position="bottom right")
    fig.add_vline(x=row["slope"], line=dict(color=COMPARATOR_COLOUR, width=1),
                  annotation_text=f"observed {row['slope']:.2f}", annotation_position="top left")
    fig.update_xaxes(title_text="true density slope (IC per rank step)")
    fig.update_yaxes(title_text="probability the primary test gives p < alpha", range=[0, 1], tickformat=".0%")
    return figure("power", "Power of the primary test on this store", fig, inputs.cite("hypothesis"),
                  "From the store's own uncertainty: parametric bootstrap of the PT signals plus the domains' "
                  "spread around the line, bias-corrected for the uncertainty of that spread.", height=380)


def domain_table(inputs: Inputs):
    primary, rule, _ = _plan()
    rows = inputs.domains.with_columns(_f=pl.col("drug") != primary).sort("_f", "drug", rule, descending=[False, False, True]).drop("_f")
    cols = [Col("drug", "drug"), Col("domain", "domain"), Col("regions", "regions"), Col("density", "density"),
            Col("lowest", "rank lowest", "num"), Col("highest", "rank highest", "num"), Col("mean", "rank mean", "num"),
            Col("tier", "tier", "num"), Col("n_pts", "PTs", "int"), Col("a", "reports a", "int"),
            Col("expected", "E", "num"), Col("ic", "pooled IC", "num"), Col("ic_lo", "IC 95% low", "num"),
            Col("ic_hi", "IC 95% high", "num")]
    present = [c for c in cols if c.key in rows.columns]
    return table("domains", "Domain signals and density ranks", present, rows.to_dicts(), inputs.cite("domains"),
                 key=lambda r: f"{r['drug']}|{r['domain']}")


def dose_figure(inputs: Inputs):
    dose = inputs.dose_response
    if dose is None or dose.height == 0:
        return None
    fig = go.Figure()
    for k, ((scale, event), sub) in enumerate(dose.sort("band_score").group_by(["scale", "event"], maintain_order=True)):
        fig.add_trace(go.Scatter(
            x=[f"{scale}: {b}" for b in sub["dose_band"]], y=sub["share"].to_list(), mode="lines+markers",
            name=f"{event} ({scale})", line=dict(color=PALETTE[k % len(PALETTE)]),
            visible=True if event in ("Tinnitus", "sensory") else "legendonly",
            error_y=dict(type="data", symmetric=False, array=(sub["share_hi"] - sub["share"]).to_list(),
                         arrayminus=(sub["share"] - sub["share_lo"]).to_list(), thickness=1),
            customdata=sub.select("a", "n", "share_lo", "share_hi").rows(),
            hovertemplate="%{x}: %{customdata[0]}/%{customdata[1]} = %{y:.1%} (95% %{customdata[2]:.1%} to "
                          "%{customdata[3]:.1%})" f"<extra>{event}</extra>"))
    fig.update_xaxes(type="category", title_text="reported daily dose band (oral mg/day; intrathecal ug/day)")
    fig.update_yaxes(title_text="share of the drug's reports in the band with the event (exact 95%)", tickformat=".0%")
    return figure("dose", "Dose-response: share of reports with each domain, by daily-dose band", fig,
                  inputs.cite("dose_response"), "Hypothesis drug(s) only; oral and intrathecal bands are separate "
                  "scales and never pooled. Click a legend entry to add a domain.", height=480)


def dose_table(inputs: Inputs):
    if inputs.dose_trends is None:
        return None
    cols = [Col("drug", "drug"), Col("scale", "scale"), Col("event", "domain / PT"), Col("bands", "bands"),
            Col("n_per_band", "n per band"), Col("shares", "share per band"), Col("p_trend", "exact trend p", "p"),
            Col("q_bh", "q (BH)", "p"), Col("verdict", "verdict")]
    present = [c for c in cols if c.key in inputs.dose_trends.columns]
    return table("dose-trends", "Dose trend test (exact permutation Cochran-Armitage)", present,
                 inputs.dose_trends.sort("p_trend").to_dicts(), inputs.cite("dose_trends"),
                 key=lambda r: f"{r['drug']}|{r['scale']}|{r['event']}", filter=False)


def page(inputs: Inputs) -> Page:
    out = Page("mechanism", "Mechanism: receptor density vs signal strength", "Mechanism",
               "Does the disproportionality of each symptom domain rise with the GABA-B receptor density of its "
               "brain region? Hypothesis-generating, not evidence of mechanism.")
    if inputs.statement is None:
        out.blocks.append(Html("No mechanism output for this run", markdown(
            f"The mechanism stage did not run or failed for run {inputs.run_id} (its error is in the run's log); "
            "the signal pages are complete without it. Re-run it with `pvmon mechanism`, then `pvmon publish`."), ""))
        return out
    out.blocks.append(Html("What the data say", markdown(inputs.statement), inputs.cite("statement")))
    out.blocks += [b for b in (density_figure(inputs), rules_table(inputs), power_figure(inputs), contrast_table(inputs),
                               hypothesis_table(inputs), domain_table(inputs), dose_figure(inputs), dose_table(inputs))
                   if b is not None]
    return out
