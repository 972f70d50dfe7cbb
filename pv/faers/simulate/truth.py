"""The ground truth beside the zips: what a correct reader, deduplicator and signal
detector must find. Format: see the package docstring (pv/faers/simulate/__init__.py)."""

from __future__ import annotations

import polars as pl

from pv.faers.simulate import world

COLUMNS = ("kind", "quarter", "table", "file", "line", "caseid", "primaryid", "drug", "event",
           "subset", "value", "detail")
FUNNEL = ("reports_read", "latest_version", "after_deleted", "after_dup_flag")


def funnel(keys: pl.DataFrame, deleted: set[int]) -> pl.DataFrame:
    """Funnel counts by the accepted rules (faers-format.md "Deduplication"):

    reports_read   DEMO records a reader stages (quarantined lines lost, repaired ones kept);
    latest_version one report per caseid: highest caseversion (legacy blank = 0), then latest
                   fda_dt, then latest quarter, then highest primaryid;
    after_deleted  minus caseids on any deleted list;
    after_dup_flag minus reports flagged as duplicates: reports equal on event_dt, age and
                   age_cod, sex, reporter_country, set of drugnames (trimmed, upper case) and
                   set of PTs (lower case); never matched when event_dt is empty, age is not a
                   positive number, sex is not M/F, or the country is empty or COUNTRY NOT
                   SPECIFIED; in each group the smallest caseid stays unflagged. (quarter.py
                   hashes these fields into ``dup_key``, null when not matchable, so the
                   whole history's keys stay small.)
    Each case is counted in the quarter of its surviving version.
    """
    read = keys.filter(~pl.col("quarantined"))
    latest = (read.sort(["caseid_i", "version_i", "fda", "k", "primaryid_i"])
              .group_by("caseid_i", maintain_order=True).last())
    gone = pl.DataFrame({"caseid_i": sorted(deleted)}, schema={"caseid_i": pl.Int64})
    kept = latest.join(gone, on="caseid_i", how="anti", maintain_order="left")
    flagged = (kept.filter(pl.col("dup_key").is_not_null())
               .filter(pl.col("caseid_i") != pl.col("caseid_i").min().over("dup_key")))
    undup = kept.join(flagged.select("caseid_i"), on="caseid_i", how="anti")
    parts = []
    for stage, df in zip(FUNNEL, (read, latest, kept, undup)):
        parts.append(df.group_by("k").len().rename({"len": "value"}).with_columns(detail=pl.lit(stage)))
    per_q = pl.concat(parts)
    per_q = per_q.with_columns(o=pl.col("detail").replace_strict({s: i for i, s in enumerate(FUNNEL)}))
    per_q = per_q.sort(["o", "k"]).drop("o")
    per_q = per_q.with_columns(quarter=pl.format("{}Q{}", 2004 + pl.col("k") // 4, pl.col("k") % 4 + 1)).drop("k")
    totals = per_q.group_by("detail", maintain_order=True).agg(pl.col("value").sum()).with_columns(quarter=pl.lit("total"))
    out = pl.concat([per_q, totals.select(per_q.columns)])
    return out.with_columns(kind=pl.lit("funnel"), value=pl.col("value").cast(pl.Utf8))


def received_later(keys: pl.DataFrame) -> pl.DataFrame:
    """``received_later``: a follow-up version received in a later quarter than the case's first
    version here (per case and quarter, the highest version; quarantined reports left out).
    What it must become (rule time-as-received): the case counts as this version from this
    quarter until the next such row of the case (cases/history/ holds it then), or for good."""
    best = (keys.filter(~pl.col("quarantined"))
            .group_by("caseid_i", "k").agg(pl.col("version_i").max(), pl.col("primaryid_i").max())
            .with_columns(pl.col("k").min().over("caseid_i").alias("first")))
    later = best.filter(pl.col("k") > pl.col("first")).sort("k", "caseid_i")  # fixed order: same seed, same bytes
    quarter = lambda c: pl.format("{}Q{}", 2004 + pl.col(c) // 4, pl.col(c) % 4 + 1)  # noqa: E731
    return later.select(kind=pl.lit("received_later"), quarter=quarter("k"), caseid="caseid_i",
                        primaryid="primaryid_i", value="version_i", detail=pl.format("first_quarter={}", quarter("first")))


def planted(sums: pl.DataFrame) -> pl.DataFrame:
    """planted_signal rows. PT rows: mean planted RR over the drug's suspect reports in the
    subset. group:/domain: rows: expected P(any PT of the set | drug) / P(any | background),
    from the per-PT RRs assuming PTs are listed independently."""
    agg = sums.group_by(["drug", "event", "subset"]).agg(pl.col("s").sum(), pl.col("n").sum(), pl.col("bg").first())
    agg = agg.with_columns(value=(pl.col("s") / pl.col("n") / pl.col("bg")).round(4))
    dens = {f"domain:{d}": f"density_score={s}" for d, (s, _) in world.DOMAINS.items()}
    agg = agg.with_columns(detail=pl.col("event").replace_strict(dens, default=None),
                           kind=pl.lit("planted_signal"))
    agg = agg.with_columns(detail=pl.when(pl.col("detail").is_null()).then(pl.format("reports={}", pl.col("n")))
                           .otherwise(pl.format("{}; reports={}", pl.col("detail"), pl.col("n"))))
    return agg.sort(["drug", "event", "subset"]).select(
        "kind", "drug", "event", "subset", pl.col("value").cast(pl.Utf8), "detail")


def negatives() -> pl.DataFrame:
    return pl.DataFrame({"kind": "negative_control", "drug": [d for d, _ in world.NEGATIVE_CONTROLS],
                         "event": [e for _, e in world.NEGATIVE_CONTROLS], "value": "1"})


def assemble(parts: list[pl.DataFrame]) -> pl.DataFrame:
    frames = []
    for p in parts:
        p = p.with_columns([pl.col(c).cast(pl.Utf8) for c in p.columns])
        frames.append(p.select([pl.col(c) if c in p.columns else pl.lit(None, dtype=pl.Utf8).alias(c) for c in COLUMNS]))
    return pl.concat(frames)
