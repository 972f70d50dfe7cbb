"""Does a symptom domain's signal rise with its region's GABA-B density? (issues 6 and 14)

The source text proposes that baclofen's frequent adverse effects follow GABA-B receptor density
(sensory effects: thalamus; memory: hippocampus). Translated to the data, with the analysis plan
fixed in advance in seeds/mechanism_plan.csv:

- Evidence: the PT-level signals of the receptor map's PTs (~57), not 8 domain aggregates. Per
  drug and PT: a (reports with drug and PT) and E (expected) from the signal engine's PT rows
  (all reports); a PT of the map the drug was never reported with gets a = 0 and
  E = n_drug * n_PT / N from the margins of the same table. IC = log2((a + 0.5) / (E + 0.5)).
- Unit: the domain. Its value is the precision-weighted mean of its PTs' IC (weight
  1 / trigamma(a + 0.5), the sampling variance of the log rate); the statistic is the OLS slope of
  the domain values on the domain's density rank (IC per rank step; 2^slope = signal ratio per step);
  ranks are re-assigned to domains for the p-value (pv/mechanism/permutation.py), so PTs of one
  domain move together. Interval: inversion of the permutation test (always holds the estimate).
- Rank rules for a domain with several regions (seeds/domain_regions.csv): lowest, highest, mean of
  its regions' ranks, and the density tiers alone. All run; the plan names the primary one.
- One primary hypothesis: the plan's drug, rule and measure, one-sided at the plan's alpha. Every
  other test (other rules, other drugs, contrasts) is exploratory; q = Benjamini-Hochberg over all the
  tests that ran (the primary included), so q >= p.
- Contrast (drug x density interaction): the slope of the difference between baclofen's domain values
  and a comparator's, same permutation. Pre-specified: baclofen against EACH negative control, tested
  only after the primary (fixed sequence, same alpha) and passed only if every one rejects (an
  intersection-union test: its p is the largest of theirs, valid at alpha without adjustment). Against
  the pooled negative controls it is shown too, but a pooled mean can hide one control with too few
  reports to show its own ordering, so it does not decide.
- Conclusion "consistent with the explanation" only when the primary rejects, the pre-specified
  contrasts reject and no negative control shows an ordering of its own (p < alpha).
- Power (pv/mechanism/power.py): the smallest slope this store could detect with the plan's power.

Everything here is hypothesis-generating: spontaneous reports carry reporting bias, notoriety,
confounding by indication; the density ranks are ordinal, partly inferred, and from rat brains.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import special, stats

from pv.mechanism.permutation import SlopeTest
from pv.vocab.receptors import (
    domain_density, load_domain_regions, load_mechanism_plan, load_mechanism_roles, load_receptor_map,
)

RULES = ("lowest", "highest", "mean", "tier")
RULE_WORDS = {
    "lowest": "lowest region rank", "highest": "highest region rank", "mean": "mean of region ranks",
    "tier": "density tier only (high 3, medium 2, low 1)",
}
TIER_RANK = {"high": 3, "medium": 2, "low": 1}
MIN_DOMAINS = 4
OVERALL_SUBSETS = ("", "all")  # how the signal table writes "all reports" (null too)
LN2 = float(np.log(2))
POOLED_NEGATIVE = "negative controls (pooled)"


def domain_ranks(regions: pl.DataFrame | None = None, rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per ranked domain: its regions and its rank under every rule of ``RULES``."""
    rmap = load_receptor_map() if rmap is None else rmap
    regions = load_domain_regions(rmap=rmap) if regions is None else regions
    tiers = domain_density(rmap).select("domain", "density")
    return regions.group_by("domain", maintain_order=True).agg(
        pl.col("region").str.join("; ").alias("regions"),
        pl.col("density_rank").min().cast(pl.Float64).alias("lowest"),
        pl.col("density_rank").max().cast(pl.Float64).alias("highest"),
        pl.col("density_rank").mean().alias("mean"),
    ).join(tiers, on="domain", how="left").with_columns(
        pl.col("density").replace_strict(TIER_RANK, default=None, return_dtype=pl.Float64).alias("tier"))


def pt_strengths(signals: pl.DataFrame, rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per drug x map PT (effect rows): domain, a, E, IC and its weight; a = 0 rows filled from margins."""
    rmap = load_receptor_map() if rmap is None else rmap
    rows = signals.filter(
        (pl.col("level") == "pt") & (pl.col("subset").is_null() | pl.col("subset").is_in(OVERALL_SUBSETS))
    ).with_columns(pl.col("event").str.to_lowercase().alias("_key"))
    effect = rmap.filter(pl.col("role") == "effect").select("pt", "domain", pl.col("pt").str.to_lowercase().alias("_key"))
    n_drug = rows.group_by("drug").agg((pl.col("a") + pl.col("b")).max().alias("_n_drug"))
    n_pt = rows.group_by("_key").agg((pl.col("a") + pl.col("c")).max().alias("_n_pt"),
                                     (pl.col("a") + pl.col("b") + pl.col("c") + pl.col("d")).max().alias("_n"))
    grid = n_drug.join(effect, how="cross").join(rows.select("drug", "_key", "a", "expected"), on=["drug", "_key"],
                                                 how="left")
    out = grid.join(n_pt, on="_key", how="left").with_columns(
        pl.col("a").fill_null(0),
        pl.coalesce("expected", pl.col("_n_drug") * pl.col("_n_pt") / pl.col("_n")).alias("expected"),
    ).filter(pl.col("expected").is_not_null() & (pl.col("expected") > 0))
    return out.with_columns(
        ((pl.col("a") + 0.5) / (pl.col("expected") + 0.5)).log(2).alias("ic"),
    ).select("drug", "domain", "pt", "a", "expected", "ic").sort("drug", "domain", "pt")


def ic_weight(a: np.ndarray) -> np.ndarray:
    """1 / sampling variance of IC for count a (variance of log2 of a Gamma(a + 0.5) rate)."""
    return LN2**2 / special.polygamma(1, np.asarray(a, dtype=float) + 0.5)


def domain_values(pts: pl.DataFrame) -> pl.DataFrame:
    """Per drug x domain: precision-weighted mean IC of its PTs, its standard error, PTs and reports."""
    return pts.with_columns(pl.Series("w", ic_weight(pts["a"].to_numpy()))).group_by("drug", "domain").agg(
        ((pl.col("w") * pl.col("ic")).sum() / pl.col("w").sum()).alias("ic"),
        (1 / pl.col("w").sum()).sqrt().alias("se"),
        pl.len().alias("n_pts"), pl.col("a").sum().alias("a"), pl.col("expected").sum().alias("expected"),
    ).sort("drug", "domain")


def domain_strengths(signals: pl.DataFrame, rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per drug x ranked domain: pooled IC (with a 95% normal interval from its SE) and every rule's rank."""
    rmap = load_receptor_map() if rmap is None else rmap
    values = domain_values(pt_strengths(signals, rmap))
    return values.join(domain_ranks(rmap=rmap), on="domain", how="inner").with_columns(
        (pl.col("ic") - 1.96 * pl.col("se")).alias("ic_lo"), (pl.col("ic") + 1.96 * pl.col("se")).alias("ic_hi"),
    ).sort("drug", "lowest", "domain", descending=[False, True, False])


def _test_row(values: pl.DataFrame, rule: str, alpha: float) -> dict:
    """Slope test of ``values`` (domain, ic) on the rule's rank; the fields every result row carries."""
    usable = values.filter(pl.col(rule).is_not_null() & pl.col("ic").is_finite()).sort("domain")
    out = {"n_domains": usable.height, "n_pts": int(usable["n_pts"].sum()) if "n_pts" in usable.columns else None,
           "domains_used": ", ".join(usable["domain"].to_list())}
    if usable.height < MIN_DOMAINS or usable[rule].n_unique() < 2:
        return out | {"status_note": f"not testable (fewer than {MIN_DOMAINS} ranked domains or one rank)"}
    test = SlopeTest(usable[rule].to_numpy())
    y = usable["ic"].to_numpy()
    lo, hi = test.interval(y)
    note = "" if test.p_min <= alpha else f"cannot reach p < {alpha:g}: smallest attainable p = {test.p_min:.3f}"
    return out | {"slope": test.slope(y), "ci_lo": lo, "ci_hi": hi, "p": test.p_greater(y), "p_min": test.p_min,
                  "permutation": test.method, "status_note": note}


def density_test(
    signals: pl.DataFrame,
    drugs: list[str] | None = None,
    rmap: pl.DataFrame | None = None,
    roles: pl.DataFrame | None = None,
    plan: dict | None = None,
) -> pl.DataFrame:
    """Every test the plan implies, one row each: primary, rank rules, other drugs, contrasts."""
    rmap = load_receptor_map() if rmap is None else rmap
    roles = load_mechanism_roles() if roles is None else roles
    plan = load_mechanism_plan() if plan is None else plan
    alpha, primary_drug, primary_rule = float(plan["alpha"]["value"]), plan["primary_drug"]["value"], plan["primary_rank_rule"]["value"]
    strengths = domain_strengths(signals, rmap)
    drugs = sorted(strengths["drug"].unique().to_list()) if drugs is None else [d.lower() for d in drugs]
    role_of = dict(roles.select("drug", "role").iter_rows())
    rows = []
    for drug in drugs:  # a dozen drugs x 4 rules: the loop is over tests, not data rows
        mine = strengths.filter(pl.col("drug") == drug)
        for rule in RULES:
            family = ("primary" if rule == primary_rule else "rank rule") if drug == primary_drug else "drug"
            rows.append({"family": family, "drug": drug, "comparator": None, "rule": rule} | _test_row(mine, rule, alpha))
    base = strengths.filter(pl.col("drug") == primary_drug)
    negatives = [d for d in drugs if role_of.get(d) == "negative_control"]
    others = [d for d in drugs if d != primary_drug] + ([POOLED_NEGATIVE] if negatives else [])
    for other in others if base.height else []:
        if other == POOLED_NEGATIVE:
            theirs = strengths.filter(pl.col("drug").is_in(negatives)).group_by("domain").agg(
                pl.col("ic").mean().alias("_other"), pl.len().alias("_k")).filter(pl.col("_k") == len(negatives))
        else:
            theirs = strengths.filter(pl.col("drug") == other).select("domain", pl.col("ic").alias("_other"))
        diff = base.join(theirs, on="domain", how="inner").with_columns((pl.col("ic") - pl.col("_other")).alias("ic"))
        rows.append({"family": "contrast", "drug": primary_drug, "comparator": other, "rule": primary_rule}
                    | _test_row(diff.drop("n_pts"), primary_rule, alpha) | {"n_pts": None})
    schema = {
        "family": pl.Utf8, "drug": pl.Utf8, "comparator": pl.Utf8, "rule": pl.Utf8, "n_domains": pl.Int64,
        "n_pts": pl.Int64, "slope": pl.Float64, "ci_lo": pl.Float64, "ci_hi": pl.Float64, "p": pl.Float64,
        "p_min": pl.Float64, "permutation": pl.Utf8, "status_note": pl.Utf8, "domains_used": pl.Utf8,
    }
    table = pl.DataFrame(rows, schema=schema).join(roles.select("drug", "role", "mechanism"), on="drug", how="left")
    comparator_role = roles.select(pl.col("drug").alias("comparator"), pl.col("role").alias("comparator_role"))
    table = table.join(comparator_role, on="comparator", how="left").with_columns(
        pl.col("role").fill_null("other_comparator"),
        pl.when(pl.col("comparator") == POOLED_NEGATIVE).then(pl.lit("negative_control"))
        .otherwise(pl.col("comparator_role")).alias("comparator_role"),
    )
    return _with_q_and_verdict(table, alpha, plan)


def _with_q_and_verdict(table: pl.DataFrame, alpha: float, plan: dict) -> pl.DataFrame:
    """BH q over every test that ran; the primary's verdict at alpha; the rest labelled exploratory."""
    ran = table["p"].is_not_null().to_numpy()
    q = np.full(table.height, np.nan)
    if ran.any():
        q[ran] = np.maximum(stats.false_discovery_control(table["p"].to_numpy()[ran]), table["p"].to_numpy()[ran])
    table = table.with_columns(pl.Series("q_bh", q).fill_nan(None), (2 ** pl.col("slope")).alias("ratio_per_step"))
    decisive = ((pl.col("family") == "contrast") & (pl.col("comparator") != POOLED_NEGATIVE)
                & (pl.col("comparator_role") == "negative_control"))
    status = (pl.when(pl.col("family") == "primary").then(pl.lit("primary (pre-specified)"))
              .when(decisive).then(pl.lit("pre-specified contrast (after the primary; every one must reject)"))
              .otherwise(pl.lit("exploratory")))
    verdict = (
        pl.when(pl.col("p").is_null()).then(pl.col("status_note"))
        .when(pl.col("p_min") > alpha).then(pl.col("status_note"))
        .when(pl.col("family") == "contrast").then(
            pl.when(pl.col("p") < alpha).then(pl.lit("baclofen's slope exceeds the comparator's"))
            .otherwise(pl.lit("no evidence baclofen's slope exceeds the comparator's")))
        .when(pl.col("p") < alpha).then(pl.lit(f"rises with density (p < {alpha:g})"))
        .otherwise(pl.lit("no ordering shown"))
    )
    return table.with_columns(status.alias("status"), verdict.alias("verdict")).select(
        "family", "status", "drug", "role", "mechanism", "comparator", "comparator_role", "rule", "n_domains",
        "n_pts", "slope", "ratio_per_step", "ci_lo", "ci_hi", "p", "q_bh", "p_min", "permutation", "verdict",
        "domains_used",
    )


def conclusion(table: pl.DataFrame, plan: dict | None = None) -> dict:
    """The pre-specified decision: primary, then baclofen vs each negative control, then specificity."""
    plan = load_mechanism_plan() if plan is None else plan
    alpha = float(plan["alpha"]["value"])
    primary = table.filter(pl.col("family") == "primary")
    p = primary["p"][0] if primary.height else None
    contrasts = table.filter((pl.col("family") == "contrast") & (pl.col("comparator") != POOLED_NEGATIVE)
                             & (pl.col("comparator_role") == "negative_control"))
    # intersection-union: every negative control must be beaten, so the decisive p is the largest
    pc = None if contrasts.height == 0 or contrasts["p"].null_count() else float(contrasts["p"].max())
    neg = table.filter((pl.col("family") == "drug") & (pl.col("role") == "negative_control")
                       & (pl.col("rule") == plan["primary_rank_rule"]["value"]) & (pl.col("p") < alpha))
    ordered_negatives = neg["drug"].to_list()
    if p is None:
        key = "not testable"
    elif p >= alpha:
        key = "no ordering shown"
    elif pc is None or pc >= alpha or ordered_negatives:
        key = "ordering not specific"
    else:
        key = "consistent with the explanation"
    return {"key": key, "p": p, "p_contrast": pc, "ordered_negatives": ordered_negatives, "alpha": alpha,
            "negative_controls": contrasts["comparator"].to_list()}
