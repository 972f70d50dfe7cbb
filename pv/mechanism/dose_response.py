"""Dose-response by symptom domain (issue 6, point 4).

The review reports tinnitus at 180-210 mg/day of baclofen resolving at 60-90 mg/day
(Loche 2014): if a domain's adverse effects are pharmacological, its disproportionality
should rise across daily-dose bands. Per drug, domain (and named PT, e.g. Tinnitus) and
dose band (drugs.parquet ``dose_band``, seeds/dose_bands.csv; baclofen oral <=30, 30-80, 80-150, >150):

- report 2x2 counts on the signal engine's reports, comparator = reports without the drug (each band is a subset analysis:
  a = reports with the drug in this band and the event, b = in this band without it,
  c = reports without the drug with the event, d = without the drug nor the event);
  expected E = (a+b)(a+c)/(a+b+c+d); counts are reports (case ids), never pair rows;
- when the signal run already holds dose-band subsets (``dose_band=<band>`` rows), those rows
  are used as they are (``band_rows_from_signals``); otherwise the counts are made here and
- the band's signal measures come from the signal engine's public table builder
  (pv.signals.table.signal_table), so they are computed exactly as every other signal row
  (no EBGM: a GPS prior is not fitted on a handful of subset cells);
- trend = Cochran-Armitage test (Armitage 1955) of the proportion a/(a+b) of the drug's
  reports carrying the event across the ordered bands (scores 1..4), one-sided for a rise.
  It compares bands within the drug, so the background (and its biases) cancels out; it
  cannot separate dose from indication (high doses are mostly AUD use) and says so.

Reports whose dose is unknown form their own row and are left out of the trend.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from pv.config import Home
from pv.signals.faers import read_inputs
from pv.signals.table import signal_table
from pv.vocab.dosing import band_scores, load_dose_bands
from pv.vocab.receptors import pt_domains

UNKNOWN_BAND = "unknown"
NAMED_PTS = ("Tinnitus",)  # PTs the review reports a dose threshold for
CAVEAT = (
    "Dose bands are reported daily doses; high bands are dominated by off-label AUD use, so a "
    "trend mixes dose with indication and reporter; hypothesis-generating only."
)


def oral_band_scores(drug: str) -> dict[str, int]:
    """Band -> trend score (1 = lowest) of the drug's oral bands (seeds/dose_bands.csv; baclofen
    <=30, 30-80, 80-150, >150 mg/day). Other routes' bands (intrathecal ug/day) and
    "unknown" get no score: they are shown but left out of the oral trend."""
    return band_scores(load_dose_bands().frame, drug)


def band_counts(home: Home, drug: str, pts: tuple[str, ...] = NAMED_PTS,
                rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per event x dose band: drug, event, level, dose_band, a, b, c, d, expected.

    Reports are the signal engine's (``pv.signals.faers.read_inputs``, its defaults: suspect
    roles PS or SS, flagged duplicates out, background = cases with such a drug and a
    reaction); events are the receptor-map domains plus the named PTs.
    """
    domains = pt_domains(rmap).select("pt", pl.col("domain").alias("event"))
    inputs = read_inputs(home, strata=(), domain_table=domains)
    named = inputs.events["pt"].filter(pl.col("event").str.to_lowercase().is_in([p.lower() for p in pts]))
    with_event = pl.concat([
        inputs.events["domain"].with_columns(pl.lit("domain").alias("level")),
        named.with_columns(pl.lit("pt").alias("level")),
    ]).rename({"id": "caseid"}).unique()
    exposed = (
        inputs.drugs.filter(pl.col("drug") == drug.lower())
        .select(pl.col("id").alias("caseid"), pl.col("dose_band").fill_null(UNKNOWN_BAND))
        .unique()
    )
    n_all = inputs.universe.height
    n_drug = exposed["caseid"].n_unique()
    per_event = with_event.group_by("event", "level").agg(
        pl.len().alias("n_event"),
        pl.col("caseid").is_in(exposed["caseid"].unique().implode()).sum().alias("n_event_exposed"),
    )
    band_sizes = exposed.group_by("dose_band").agg(pl.len().alias("n_band"))
    a = with_event.join(exposed, on="caseid").group_by("event", "level", "dose_band").agg(pl.len().alias("a"))
    grid = per_event.join(band_sizes, how="cross").join(a, on=["event", "level", "dose_band"], how="left")
    return grid.with_columns(
        pl.lit(drug.lower()).alias("drug"),
        pl.col("a").fill_null(0),
    ).with_columns(
        (pl.col("n_band") - pl.col("a")).alias("b"),
        (pl.col("n_event") - pl.col("n_event_exposed")).alias("c"),
        (pl.lit(n_all - n_drug) - (pl.col("n_event") - pl.col("n_event_exposed"))).alias("d"),
    ).with_columns(
        ((pl.col("a") + pl.col("b")) * (pl.col("a") + pl.col("c"))
         / (pl.col("a") + pl.col("b") + pl.col("c") + pl.col("d"))).alias("expected"),
        (pl.col("a") / pl.col("n_band")).alias("proportion"),
        pl.col("dose_band").replace_strict(oral_band_scores(drug), default=None,
                                           return_dtype=pl.Int64).alias("band_score"),
    ).select(
        "drug", "event", "level", "dose_band", "band_score", "a", "b", "c", "d", "expected", "proportion",
    ).sort("level", "event", "band_score", nulls_last=True)


def band_rows_from_signals(signals: pl.DataFrame, drug: str, pts: tuple[str, ...] = NAMED_PTS) -> pl.DataFrame:
    """The signal engine's own dose-band rows (subset ``dose_band=<band>``) in the band layout.

    Domain rows, plus the named PTs' rows; ``band_score`` and ``proportion`` = a/(a+b) added,
    so ``trends`` reads them exactly as it reads ``band_counts``.
    """
    in_bands = signals.filter((pl.col("drug") == drug.lower()) & pl.col("subset").str.starts_with("dose_band="))
    rows = in_bands.filter(
        (pl.col("level") == "domain") | ((pl.col("level") == "pt") & pl.col("event").is_in(list(pts)))
    ).with_columns(pl.col("subset").str.strip_prefix("dose_band=").alias("dose_band"),
                   pl.col("event").str.strip_prefix("domain:"))
    # The engine writes no row for a band where the event was never reported (a = 0), but
    # that zero belongs in the trend: a + b (the drug's reports in the band) is the same for
    # every event of the band, so the missing rows are a = 0, b = that number.
    band_sizes = in_bands.group_by("subset").agg((pl.col("a") + pl.col("b")).max().alias("_n")).with_columns(
        pl.col("subset").str.strip_prefix("dose_band=").alias("dose_band"))
    grid = rows.select("drug", "event", "level").unique().join(band_sizes, how="cross")
    rows = grid.join(rows.drop("subset"), on=["drug", "event", "level", "dose_band"], how="left").with_columns(
        pl.col("a").fill_null(0), pl.col("b").fill_null(pl.col("_n")), ("dose_band=" + pl.col("dose_band")).alias("subset"),
    ).drop("_n")
    return rows.with_columns(
        pl.col("dose_band").replace_strict(oral_band_scores(drug), default=None,
                                           return_dtype=pl.Int64).alias("band_score"),
        (pl.col("a") / (pl.col("a") + pl.col("b"))).alias("proportion"),
    ).sort("level", "event", "band_score", nulls_last=True)


def band_signals(counts: pl.DataFrame) -> pl.DataFrame:
    """Signal-table rows (design.md columns, subset ``dose_band=<band>``) for the band counts.

    The measures come from the signal engine's own table builder, without a GPS prior
    (EBGM is not fitted on these few subset cells, so it is null): PRR, ROR, IC and flags.
    """
    parts = [
        signal_table(part, None, level=level, subset=f"dose_band={band}").with_columns(
            pl.lit(band).alias("dose_band"), part["band_score"], part["proportion"])
        for (level, band), part in counts.group_by("level", "dose_band", maintain_order=True)
    ]
    return pl.concat(parts).sort("level", "event", "band_score", nulls_last=True)


def cochran_armitage(a: np.ndarray, n: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Cochran-Armitage trend z and one-sided p for a proportion rising with the scores.

    T = sum s_k (a_k - n_k p), Var T = p (1 - p) [sum n_k s_k^2 - (sum n_k s_k)^2 / N],
    p = sum a_k / N (Armitage 1955); z = T / sqrt(Var T), p = P(Z >= z).
    """
    big_n = n.sum()
    p = a.sum() / big_n if big_n else np.nan
    t = float((scores * (a - n * p)).sum())
    var = p * (1 - p) * ((n * scores**2).sum() - (n * scores).sum() ** 2 / big_n) if big_n else np.nan
    if not var or not np.isfinite(var) or var <= 0:
        return float("nan"), float("nan")
    z = t / np.sqrt(var)
    return float(z), float(stats.norm.sf(z))


def trends(counts: pl.DataFrame) -> pl.DataFrame:
    """One row per drug x event: bands used, reports, Cochran-Armitage z and one-sided p."""
    rows = []
    known = counts.filter(pl.col("band_score").is_not_null() & (pl.col("a") + pl.col("b") > 0))
    for (drug, event, level), part in known.group_by("drug", "event", "level", maintain_order=True):
        part = part.sort("band_score")
        a = part["a"].to_numpy().astype(float)
        n = (part["a"] + part["b"]).to_numpy().astype(float)
        z, p = cochran_armitage(a, n, part["band_score"].to_numpy().astype(float))
        rows.append({
            "drug": drug, "event": event, "level": level, "bands": ", ".join(part["dose_band"]),
            "reports": int(n.sum()), "events": int(a.sum()),
            "proportions": ", ".join(f"{x:.3f}" for x in part["proportion"]),
            "ca_z": z, "p_trend": p,
        })
    schema = {"drug": pl.Utf8, "event": pl.Utf8, "level": pl.Utf8, "bands": pl.Utf8, "reports": pl.Int64,
              "events": pl.Int64, "proportions": pl.Utf8, "ca_z": pl.Float64, "p_trend": pl.Float64}
    return pl.DataFrame(rows, schema=schema).with_columns(
        pl.when(pl.col("p_trend").is_null() | pl.col("p_trend").is_nan()).then(pl.lit("not testable"))
        .when(pl.col("p_trend") < 0.05).then(pl.lit("rises with dose band"))
        .otherwise(pl.lit("no clear dose trend")).alias("verdict"),
        pl.lit(CAVEAT).alias("caveat"),
    ).sort("level", "event")


def dose_statement(trend: pl.DataFrame) -> str:
    """Plain-language lines for the dose-band trends."""
    lines = ["", "## Dose-response by domain (daily-dose bands)", ""]
    for r in trend.iter_rows(named=True):
        stat = "" if r["ca_z"] is None or np.isnan(r["ca_z"]) else f"; Cochran-Armitage z = {r['ca_z']:.2f}, one-sided p = {r['p_trend']:.4f}"
        lines.append(
            f"- {r['drug']}, {r['event']} ({r['level']}): {r['verdict']}; proportion of the drug's reports per band "
            f"({r['bands']}) = {r['proportions']}{stat}."
        )
    return "\n".join(lines + ["", CAVEAT, ""])
