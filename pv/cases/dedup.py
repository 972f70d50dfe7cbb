"""Deduplication of FAERS reports into cases (faers-format.md, "Deduplication").

Named rules, in the order applied:

- ``latest-version``: per caseid keep one report: FAERS era before legacy (rule
  ``faers-beats-legacy``: 82,342 AERS cases were carried into FAERS, their FAERS version is
  the living one), then highest caseversion as an integer (legacy blank FOLL_SEQ = 0), then
  latest fda_dt, latest quarter, highest primaryid (integer), and finally the staged source
  line so that re-runs pick the same row.
- ``deleted-union``: drop every caseid on any deleted-case list of any quarter (the lists
  apply to all quarters, past and future).
- ``children-by-quarter``: child rows survive when their (quarter, primaryid) survives in
  DEMO (legacy child rows have no caseid).
- ``dup-flag`` (pv/cases/duplicates.py): flag, don't delete.

The funnel counts reports read (staged DEMO rows) and the cases left after each step, per
quarter of the surviving version and in total.
"""

from __future__ import annotations

import polars as pl

STAGES = ("reports_read", "latest_version", "after_deleted", "after_dup_flag")


def _int(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().cast(pl.Int64, strict=False)


def with_keys(demo: pl.LazyFrame) -> pl.LazyFrame:
    """Typed keys: caseid, primaryid, caseversion as Int64; a sortable fda_dt."""
    return demo.with_columns(
        _int("caseid").alias("caseid"),
        _int("primaryid").alias("primaryid"),
        _int("caseversion").fill_null(0).alias("caseversion"),
        _int("fda_dt").fill_null(0).alias("_fda_key"),
        (pl.col("era") != "laers").alias("_is_faers"),
    )


#: rule latest-version's order, best first: (columns, descending per column)
VERSION_ORDER = (["_is_faers", "caseversion", "_fda_key", "quarter", "primaryid", "source_line"],
                 [True, True, True, True, True, False])


def ranked(demo: pl.DataFrame, columns: tuple[str, ...] = ()) -> pl.DataFrame:
    """Every DEMO row with a caseid (its VERSION_ORDER keys and ``columns``), sorted by caseid and
    then rule latest-version's order, with ``_pos``: the row's rank in its case (0 = the version
    ``latest_of`` keeps). One sort serves both the latest versions and the history records
    (pv.cases.history.records_of).

    Only the key columns are sorted, which keeps the sort cheap however wide DEMO is."""
    order, descending = VERSION_ORDER
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    starts = (pl.col("caseid") != pl.col("caseid").shift(1)).fill_null(True)  # first row of a case
    return (
        demo.lazy().filter(pl.col("caseid").is_not_null())
        .select("caseid", *order, *[c for c in columns if c not in ("caseid", *order)])
        .sort(["caseid", *order], descending=[False, *descending], nulls_last=True)
        .with_columns((row - pl.when(starts).then(row).forward_fill()).alias("_pos"))
        .collect()
    )


def latest_of(ranked_: pl.DataFrame) -> pl.DataFrame:
    """One report per caseid (rules latest-version, faers-beats-legacy): the rank-0 rows of ``ranked``."""
    return ranked_.filter(pl.col("_pos") == 0).select("caseid", "primaryid", "quarter", "source_line", "_dkey")


def deleted_caseids(deleted: pl.LazyFrame) -> pl.LazyFrame:
    """The union of every deleted-case list (rule deleted-union)."""
    return deleted.select(_int("caseid").alias("caseid")).drop_nulls().unique()


def funnel(read: pl.DataFrame, stages: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Long funnel table (quarter | total, stage, count) from per-quarter counts.

    ``read`` holds (quarter, count) of DEMO rows; ``stages`` maps stage -> (quarter, count).
    Every quarter read appears at every stage (0 when nothing survives there).
    """
    quarters = read.select("quarter")
    parts = [read.with_columns(pl.lit("reports_read").alias("stage"))]
    for stage, counts in stages.items():
        parts.append(
            quarters.join(counts, on="quarter", how="left")
            .with_columns(pl.col("count").fill_null(0), pl.lit(stage).alias("stage"))
        )
    per_quarter = pl.concat([p.select("quarter", "stage", pl.col("count").cast(pl.Int64)) for p in parts])
    total = per_quarter.group_by("stage").agg(pl.col("count").sum()).with_columns(pl.lit("total").alias("quarter"))
    out = pl.concat([per_quarter, total.select("quarter", "stage", "count")])
    rank = {s: i for i, s in enumerate(STAGES)}
    return (
        out.with_columns(pl.col("stage").replace_strict(rank, return_dtype=pl.Int32).alias("_r"),
                         (pl.col("quarter") == "total").alias("_t"))
        .sort("_t", "quarter", "_r").drop("_r", "_t")
    )
