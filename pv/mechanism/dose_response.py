"""Dose-response by symptom domain, fit for small counts (issues 6 and 14, point 5).

If a domain's adverse effects are pharmacological, the share of a drug's reports carrying it
should rise with the daily dose. Per hypothesis drug, on the signal engine's reports
(``pv.signals.faers.read_inputs`` of the drug's reports: suspect roles PS/SS, flagged duplicates out):

- Scales: oral mg/day bands (<=30, 30-80, 80-150, >150; bands are (lo, hi]) and, separately,
  intrathecal ug/day bands (<=100, 100-300, 300-600, >600): an intrathecal microgram is not an oral
  milligram, so the two are never pooled. The bands are computed here from drugs.parquet
  ``daily_dose_mg`` and ``route_class`` (a report naming the drug on several rows takes its
  largest daily dose on that route); reports with another route or no daily dose are left out and
  counted (``excluded``).
- Per event (receptor-map domains and Tinnitus) x band: n reports, a with the event, the share
  a / n and its exact Clopper-Pearson 95% interval (always holds the share, also at a = 0).
- Trend: the Cochran-Armitage statistic T = sum(score * a) with its exact permutation
  distribution given the margins (the event's reports spread over the bands as a multivariate
  hypergeometric draw), ``DRAWS`` seeded Monte-Carlo draws, one-sided p = (1 + hits) / (1 + draws):
  valid at any count, where the normal approximation is not. q = Benjamini-Hochberg over every
  trend test of the drug (domains and Tinnitus, both scales).
- The source review's tinnitus claim as stated (reported at 180-210 mg/day, resolving at
  60-90 mg/day; Loche 2014): oral reports at 180-210 vs at 60-90 mg/day, one-sided Fisher exact
  test that tinnitus is more often reported at the higher dose.
It compares bands within the drug, so the background cancels out; it cannot separate dose from
indication (high oral doses are mostly AUD use) and says so.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from pv.config import Home
from pv.signals.faers import read_inputs
from pv.vocab.receptors import pt_domains
from pv.cases import tables

SCALES = {  # route class -> (scale label, band edges in mg/day, band labels)
    "oral": ("oral mg/day", (30.0, 80.0, 150.0), ("<=30", "30-80", "80-150", ">150")),
    "intrathecal": ("intrathecal ug/day", (0.1, 0.3, 0.6), ("<=100", "100-300", "300-600", ">600")),
}
NAMED_PTS = ("Tinnitus",)  # PTs the review reports a dose threshold for
TINNITUS_HIGH, TINNITUS_LOW = (180.0, 210.0), (60.0, 90.0)
DRAWS = 19_999
ALPHA = 0.05
CAVEAT = (
    "Dose bands are reported daily doses; high oral bands are dominated by off-label AUD use, so a "
    "trend mixes dose with indication and reporter; hypothesis-generating only."
)


def exposed_reports(home: Home, drug: str) -> tuple[pl.DataFrame, dict[str, int]]:
    """One row per report x route class of the drug with a daily dose: caseid, route_class, mg/day.

    Also the counts of the drug's reports left out (no daily dose, or a route with no scale).
    """
    universe = read_inputs(home, strata=(), of_drugs=[drug.lower()]).universe.select(pl.col("id").alias("caseid"))
    rows = (tables.scan(home.cases, "drugs")
            .filter((pl.col("ingredient").str.to_lowercase() == drug.lower())
                    & pl.col("role_cod").str.to_uppercase().is_in(["PS", "SS"]))
            .select("caseid", "route_class", "daily_dose_mg")
            .join(universe.lazy(), on="caseid", how="semi").collect(engine="streaming"))
    scaled = rows.filter(pl.col("route_class").is_in(list(SCALES)) & pl.col("daily_dose_mg").is_not_null()
                         & (pl.col("daily_dose_mg") > 0))
    per_report = scaled.group_by("caseid", "route_class").agg(pl.col("daily_dose_mg").max())
    all_reports = rows["caseid"].n_unique()
    excluded = {"reports": all_reports, "with_scaled_dose": per_report["caseid"].n_unique(),
                "no_dose_or_other_route": all_reports - per_report["caseid"].n_unique()}
    return per_report, excluded


def event_reports(home: Home, caseids: pl.DataFrame | None = None, pts: tuple[str, ...] = NAMED_PTS,
                  rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """(caseid, event, level) for every report (or only those of ``caseids``) with a receptor-map
    domain or a named PT."""
    reactions = tables.scan(home.cases, "reactions").select(
        "caseid", pl.col("pt").str.to_lowercase().alias("_k"))
    if caseids is not None:  # a drug's reports: the scan keeps only theirs (memory follows the drug)
        reactions = reactions.join(caseids.lazy().select("caseid"), on="caseid", how="semi")
    return _events(reactions.unique().collect(engine="streaming"), pts, rmap)


def present_events(home: Home, pts: tuple[str, ...] = NAMED_PTS, rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """(event, level) carried by some report of the store: each drug's band table lists every one
    (a = 0 where none of its reports has it), read from the distinct PTs only."""
    distinct = (tables.scan(home.cases, "reactions").select(pl.col("pt").str.to_lowercase().alias("_k"))
                .unique().collect(engine="streaming").with_columns(caseid=pl.lit(0)))
    return _events(distinct, pts, rmap).select("event", "level").unique()


def _events(reactions: pl.DataFrame, pts: tuple[str, ...], rmap: pl.DataFrame | None) -> pl.DataFrame:
    """(caseid, event, level) of distinct (caseid, lower-case PT) rows: their domains and named PTs."""
    domains = pt_domains(rmap).select(pl.col("pt").str.to_lowercase().alias("_k"), pl.col("domain").alias("event"))
    by_domain = reactions.join(domains, on="_k").select("caseid", "event", pl.lit("domain").alias("level"))
    named = {p.lower(): p for p in pts}
    by_pt = reactions.filter(pl.col("_k").is_in(list(named))).select(
        "caseid", pl.col("_k").replace_strict(named).alias("event"), pl.lit("pt").alias("level"))
    return pl.concat([by_domain, by_pt]).unique()


def clopper_pearson(a: np.ndarray, n: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial interval for a/n (0 and 1 at the edges)."""
    a, n = np.asarray(a, dtype=float), np.asarray(n, dtype=float)
    tail = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        lo = np.where(a > 0, stats.beta.ppf(tail, a, n - a + 1), 0.0)
        hi = np.where(a < n, stats.beta.ppf(1 - tail, a + 1, n - a), 1.0)
    return lo, hi


def band_table(exposed: pl.DataFrame, events: pl.DataFrame, drug: str, present: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per scale x event x band: n, a, share and its exact interval; the events listed are ``present``'s
    (default: those of ``events``)."""
    parts = []
    for route, (scale, edges, labels) in SCALES.items():
        mine = exposed.filter(pl.col("route_class") == route)
        if mine.height == 0:
            continue
        index = np.searchsorted(np.array(edges), mine["daily_dose_mg"].to_numpy(), side="left")  # bands are (lo, hi]
        banded = mine.with_columns(pl.Series("dose_band", np.array(labels)[index]))
        sizes = banded.group_by("dose_band").agg(pl.len().alias("n"))
        hits = banded.join(events, on="caseid").group_by("event", "level", "dose_band").agg(pl.len().alias("a"))
        grid = (events if present is None else present).select("event", "level").unique().join(sizes, how="cross")
        parts.append(grid.join(hits, on=["event", "level", "dose_band"], how="left").with_columns(
            pl.lit(drug.lower()).alias("drug"), pl.lit(scale).alias("scale"), pl.col("a").fill_null(0),
            pl.col("dose_band").replace_strict({b: i for i, b in enumerate(labels, 1)}, return_dtype=pl.Int64)
            .alias("band_score")))
    if not parts:
        return pl.DataFrame(schema={"drug": pl.Utf8, "scale": pl.Utf8, "event": pl.Utf8, "level": pl.Utf8,
                                    "dose_band": pl.Utf8, "band_score": pl.Int64, "n": pl.Int64, "a": pl.Int64,
                                    "share": pl.Float64, "share_lo": pl.Float64, "share_hi": pl.Float64})
    table = pl.concat(parts, how="diagonal_relaxed").with_columns(pl.col("n").cast(pl.Int64), pl.col("a").cast(pl.Int64))
    lo, hi = clopper_pearson(table["a"].to_numpy(), table["n"].to_numpy())
    return table.with_columns((pl.col("a") / pl.col("n")).alias("share"), pl.Series("share_lo", lo),
                              pl.Series("share_hi", hi)).select(
        "drug", "scale", "event", "level", "dose_band", "band_score", "n", "a", "share", "share_lo", "share_hi",
    ).sort("scale", "level", "event", "band_score")


def exact_trend(a: np.ndarray, n: np.ndarray, scores: np.ndarray, rng: np.random.Generator) -> float | None:
    """One-sided Monte-Carlo permutation p of the Cochran-Armitage statistic given the margins."""
    a, n = np.asarray(a, dtype=np.int64), np.asarray(n, dtype=np.int64)
    if a.sum() == 0 or a.sum() == n.sum() or (n > 0).sum() < 2:
        return None
    observed = float(scores @ a)
    draws = rng.multivariate_hypergeometric(n, int(a.sum()), size=DRAWS)
    hits = int((draws @ scores >= observed - 1e-9).sum())
    return (1 + hits) / (1 + DRAWS)


def trends(bands: pl.DataFrame, seed: int = 20261206) -> pl.DataFrame:
    """Per scale x event: reports, events, shares per band, exact trend p and BH q over all of them."""
    rows = []
    for (drug, scale, event, level), part in bands.group_by("drug", "scale", "event", "level", maintain_order=True):
        part = part.sort("band_score")
        rng = np.random.default_rng([seed, len(rows)])
        p = exact_trend(part["a"].to_numpy(), part["n"].to_numpy(), part["band_score"].to_numpy().astype(float), rng)
        rows.append({"drug": drug, "scale": scale, "event": event, "level": level,
                     "bands": ", ".join(part["dose_band"]), "n_per_band": ", ".join(str(x) for x in part["n"]),
                     "reports": int(part["n"].sum()), "events": int(part["a"].sum()),
                     "shares": ", ".join(f"{x:.3f}" for x in part["share"]), "p_trend": p})
    schema = {"drug": pl.Utf8, "scale": pl.Utf8, "event": pl.Utf8, "level": pl.Utf8, "bands": pl.Utf8,
              "n_per_band": pl.Utf8, "reports": pl.Int64, "events": pl.Int64, "shares": pl.Utf8, "p_trend": pl.Float64}
    table = pl.DataFrame(rows, schema=schema)
    tested = table["p_trend"].is_not_null().to_numpy()
    q = np.full(table.height, np.nan)
    if tested.any():
        p = table["p_trend"].to_numpy()[tested]
        q[tested] = np.maximum(stats.false_discovery_control(p), p)
    return table.with_columns(pl.Series("q_bh", q).fill_nan(None)).with_columns(
        pl.when(pl.col("p_trend").is_null()).then(pl.lit("not testable (no event, or one band)"))
        .when(pl.col("q_bh") < ALPHA).then(pl.lit("rises with dose (q < 0.05)"))
        .when(pl.col("p_trend") < ALPHA).then(pl.lit("p < 0.05 but not after BH (exploratory)"))
        .otherwise(pl.lit("no dose trend shown")).alias("verdict"),
    ).sort("scale", "level", "event")


def tinnitus_claim(exposed: pl.DataFrame, events: pl.DataFrame, drug: str) -> dict:
    """The review's claim as stated: tinnitus more often at 180-210 than at 60-90 mg/day (oral)."""
    oral = exposed.filter(pl.col("route_class") == "oral")
    tinnitus = events.filter((pl.col("level") == "pt") & (pl.col("event") == "Tinnitus"))["caseid"].implode()
    out = {"drug": drug.lower()}
    for name, (lo, hi) in (("high", TINNITUS_HIGH), ("low", TINNITUS_LOW)):
        group = oral.filter(pl.col("daily_dose_mg").is_between(lo, hi))
        n, a = group.height, int(group["caseid"].is_in(tinnitus).sum())
        (share_lo,), (share_hi,) = clopper_pearson(np.array([a]), np.array([n])) if n else ((None,), (None,))
        out |= {f"{name}_range": f"{lo:g}-{hi:g} mg/day", f"{name}_n": n, f"{name}_a": a,
                f"{name}_share": a / n if n else None, f"{name}_lo": share_lo, f"{name}_hi": share_hi}
    if out["high_n"] and out["low_n"]:
        table = [[out["high_a"], out["high_n"] - out["high_a"]], [out["low_a"], out["low_n"] - out["low_a"]]]
        out["p"] = float(stats.fisher_exact(table, alternative="greater").pvalue)
    else:
        out["p"] = None
    return out


def _interval_text(a: int, n: int, share: float | None, lo: float | None, hi: float | None) -> str:
    if not n:
        return "no reports"
    return f"{a}/{n} = {share:.1%} (95% {lo:.1%} to {hi:.1%})"


def dose_statement(trend: pl.DataFrame, claim: list[dict], excluded: dict[str, dict]) -> str:
    lines = ["", "## Dose-response (oral mg/day and intrathecal ug/day, never pooled)", ""]
    for r in trend.iter_rows(named=True):
        p = "" if r["p_trend"] is None else f"; exact trend p = {r['p_trend']:.4f}, BH q = {r['q_bh']:.4f}"
        lines.append(f"- {r['drug']}, {r['event']} ({r['level']}, {r['scale']}): {r['verdict']}; share of reports "
                     f"per band ({r['bands']}; n = {r['n_per_band']}) = {r['shares']}{p}.")
    for c in claim:
        verdict = ("not testable (no reports in one of the ranges)" if c["p"] is None else
                   ("supported (p < 0.05)" if c["p"] < ALPHA else "not supported by these reports"))
        p = "n/a" if c["p"] is None else f"{c['p']:.4f}"
        high, low = (_interval_text(*(c[f"{k}_{f}"] for f in ("a", "n", "share", "lo", "hi"))) for k in ("high", "low"))
        lines += ["", f"Tinnitus claim of the source review, as stated ({c['drug']}, oral): {c['high_range']}: {high}; "
                      f"{c['low_range']}: {low}; one-sided Fisher exact p = {p}: {verdict}."]
    for drug, ex in excluded.items():
        lines.append(f"\n{drug}: {ex['reports']} suspect reports, {ex['with_scaled_dose']} with an oral or intrathecal "
                     f"daily dose; {ex['no_dose_or_other_route']} left out (no daily dose or another route).")
    return "\n".join(lines + ["", CAVEAT, ""])


def dose_outputs(home: Home, drugs: list[str], seed: int = 20261206) -> tuple[pl.DataFrame, pl.DataFrame, str] | None:
    """Band table, trend table (with the tinnitus claim's numbers in the statement) for ``drugs``."""
    if not drugs:
        return None
    present = present_events(home)
    bands, claims, excluded = [], [], {}
    for drug in drugs:
        exposed, excluded[drug] = exposed_reports(home, drug)
        events = event_reports(home, exposed.select("caseid").unique())
        bands.append(band_table(exposed, events, drug, present))
        claims.append(tinnitus_claim(exposed, events, drug))
    band_rows = pl.concat(bands)
    trend = trends(band_rows, seed)
    return band_rows, trend, dose_statement(trend, claims, excluded)
