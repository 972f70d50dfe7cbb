"""The mechanism page: does a domain's signal rise with its GABA-B receptor density?

From ``mechanism/<run_id>/``: the plain-language statement (statement.md, shown as
written), domain strength (EBGM with its 90% interval) against the density rank per drug
(domains.parquet), the density test per drug (hypothesis.parquet) and the dose-response
by daily-dose band (dose_response.parquet, dose_trends.parquet).
"""

from __future__ import annotations

import re

import plotly.graph_objects as go
import polars as pl
from markupsafe import Markup, escape

from dashboards.inputs import Inputs
from dashboards.render import COMPARATOR_COLOUR, PALETTE, TARGET_COLOUR, Col, Html, Page, figure, table


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


def hypothesis_drugs(inputs: Inputs) -> list[str]:
    return inputs.hypothesis.filter(pl.col("role") == "hypothesis")["drug"].unique().sort().to_list()


def density_figure(inputs: Inputs):
    domains = inputs.domains
    focus = set(hypothesis_drugs(inputs))
    order = [d for d in inputs.drugs if d in set(domains["drug"])] + sorted(set(domains["drug"]) - set(inputs.drugs))
    fig = go.Figure()
    for k, drug in enumerate(order):
        sub = domains.filter(pl.col("drug") == drug).sort("density_rank", "ebgm")
        shown = drug in focus
        # labels of domains sharing a rank alternate sides so they do not overprint
        sides = sub.select(side=pl.int_range(pl.len()).over("density_rank") % 2)["side"].to_list() if sub.height else []
        fig.add_trace(go.Scatter(
            x=sub["density_rank"].to_list(), y=sub["ebgm"].to_list(), mode="markers+text" if shown else "markers",
            name=drug, text=sub["domain"].to_list(), textfont=dict(size=10),
            textposition=["middle left" if s else "middle right" for s in sides],
            visible=True if shown else "legendonly",
            marker=dict(size=11 if shown else 8,
                        color=TARGET_COLOUR if shown else PALETTE[k % len(PALETTE)]),
            error_y=dict(type="data", symmetric=False, array=(sub["eb95"] - sub["ebgm"]).to_list(),
                         arrayminus=(sub["ebgm"] - sub["eb05"]).to_list(),
                         color=TARGET_COLOUR if shown else COMPARATOR_COLOUR, thickness=1),
            customdata=sub.select("domain", "region", "density", "a").rows(),
            hovertemplate="%{customdata[0]} (%{customdata[1]}, density %{customdata[2]})<br>"
                          "EBGM %{y:.2f}, a=%{customdata[3]}<extra>" + drug + "</extra>"))
    fig.add_hline(y=1, line=dict(color="#34495e", dash="dot", width=1))
    ranks = domains["density_rank"].drop_nulls()
    fig.update_xaxes(title_text="GABA-B receptor density rank of the domain's region (higher = denser)", dtick=1,
                     range=[ranks.min() - 0.6, ranks.max() + 0.6] if ranks.len() else None)
    fig.update_yaxes(type="log", title_text="domain EBGM (EB05-EB95)")
    return figure("density", "Domain signal vs receptor density rank", fig, inputs.cite("domains"),
                  "The hypothesis drug is shown; click a comparator in the legend to add it. "
                  "Respiratory has no density rank and is left out of the test.", height=560)


def hypothesis_table(inputs: Inputs):
    rows = inputs.hypothesis.filter(pl.col("headline"))
    focus = hypothesis_drugs(inputs)
    rows = rows.with_columns(_f=~pl.col("drug").is_in(focus)).sort("_f", "q_bh", nulls_last=True).drop("_f")
    cols = [Col("drug", "drug"), Col("role", "role"), Col("mechanism", "mechanism"), Col("measure", "measure"),
            Col("n_domains", "domains", "int"), Col("rho", "Spearman rho", "num"), Col("ci_lo", "rho 2.5%", "num"),
            Col("ci_hi", "rho 97.5%", "num"), Col("p_perm", "p (permutation)", "p"), Col("q_bh", "q (BH)", "p"),
            Col("verdict", "verdict")]
    present = [c for c in cols if c.key in rows.columns]
    return table("hypothesis", "Density test per drug (headline measure)", present, rows.to_dicts(),
                 inputs.cite("hypothesis"), "One-sided test that domain strength rises with density; "
                 "negative and positive controls alongside.", key=lambda r: r["drug"])


def domain_table(inputs: Inputs):
    focus = hypothesis_drugs(inputs)
    rows = inputs.domains.with_columns(_f=~pl.col("drug").is_in(focus)).sort("_f", "drug", "density_rank",
                                                                               descending=[False, False, True]).drop("_f")
    cols = [Col("drug", "drug"), Col("domain", "domain"), Col("region", "region"), Col("density", "density"),
            Col("density_rank", "density rank", "int"), Col("a", "a", "int"), Col("expected", "E", "num"),
            Col("ebgm", "EBGM", "num"), Col("eb05", "EB05", "num"), Col("eb95", "EB95", "num"),
            Col("ic", "IC", "num"), Col("ic025", "IC025", "num")]
    present = [c for c in cols if c.key in rows.columns]
    return table("domains", "Domain strengths and density", present, rows.to_dicts(), inputs.cite("domains"),
                 key=lambda r: f"{r['drug']}|{r['domain']}")


def dose_figure(inputs: Inputs):
    dose = inputs.dose_response
    if dose is None or dose.height == 0:
        return None
    fig = go.Figure()
    for k, ((drug, event), sub) in enumerate(dose.filter(pl.col("band_score").is_not_null()).sort("band_score").group_by(["drug", "event"], maintain_order=True)):
        fig.add_trace(go.Scatter(x=sub["dose_band"].to_list(), y=sub["proportion"].to_list(), mode="lines+markers",
                                 name=f"{event}" if dose["drug"].n_unique() == 1 else f"{drug}: {event}",
                                 line=dict(color=PALETTE[k % len(PALETTE)]), customdata=sub.select("a").rows(),
                                 hovertemplate="%{x} mg/day: %{y:.3f} of the drug's reports (a=%{customdata[0]})"
                                               f"<extra>{event}</extra>"))
    fig.update_xaxes(type="category", title_text="reported daily dose band (mg/day)")
    fig.update_yaxes(title_text="share of the drug's reports in the band with the event", tickformat=".0%")
    return figure("dose", "Dose-response: share of reports with each domain, by daily-dose band", fig,
                  inputs.cite("dose_response"), "Hypothesis drug(s) only: the bands are baclofen's mg/day bands.",
                  height=480)


def dose_table(inputs: Inputs):
    if inputs.dose_trends is None:
        return None
    cols = [Col("drug", "drug"), Col("event", "domain / PT"), Col("level", "level"), Col("bands", "bands"),
            Col("proportions", "share per band"), Col("ca_z", "Cochran-Armitage z", "num"),
            Col("p_trend", "p (one-sided)", "p"), Col("verdict", "verdict")]
    present = [c for c in cols if c.key in inputs.dose_trends.columns]
    return table("dose-trends", "Dose trend test", present, inputs.dose_trends.sort("p_trend").to_dicts(),
                 inputs.cite("dose_trends"), key=lambda r: f"{r['drug']}|{r['event']}", filter=False)


def page(inputs: Inputs) -> Page:
    out = Page("mechanism", "Mechanism: receptor density vs signal strength", "Mechanism",
               "Does the disproportionality of each symptom domain rise with the GABA-B receptor density of its "
               "brain region? Hypothesis-generating, not evidence of mechanism.")
    out.blocks.append(Html("What the data say", markdown(inputs.statement), inputs.cite("statement")))
    out.blocks += [density_figure(inputs), hypothesis_table(inputs), domain_table(inputs)]
    out.blocks += [b for b in (dose_figure(inputs), dose_table(inputs)) if b is not None]
    return out
