"""Which report of each case was current at the end of each quarter (rule ``time-as-received``).

A trend must count, at each quarter q, what FDA had published by the end of q: for each
caseid the best version received by q (rule latest-version of pv.cases.dedup, applied to
the quarters up to q), unless a deleted-case list published by q names it. So an analyst
running pvmon at the end of q would have seen exactly those reports.

A case's *records* are the versions that were that best version at some quarter: each is
current from its own ``quarter`` until ``valid_to`` (exclusive): the quarter a better
version arrives or the first deleted list naming the case is published; null = current
today. The records current today are the surviving cases (``cases.parquet``); the others
go to ``cases/history/`` with their drugs and reactions (same columns, plus ``valid_to``),
so pv.signals.cumulative can recount every quarter as it was. A version that arrived late
but ranks below one already received (a lower caseversion re-published) never becomes
current, exactly as in a store holding only the quarters up to then.

Evidence: follow-up versions are published quarters after the first (faers-format.md
"Keys"); deleted lists apply from the quarter they are published (2019Q1 on). Enforced in
pv/cases/build.py; tested in tests/test_signals_history.py (trend at q = a store holding
only the quarters up to q).
"""

from __future__ import annotations

import polars as pl

from pv.cases.dedup import ranked

HISTORY = "history"
#: the tables whose past records history/ keeps (a past version's indications are not counted)
TABLES = ("cases", "drugs", "reactions")
#: history/ rows are in this order within each quarter, so rows moved there later (pv.cases.increment)
#: land where a full build puts them
ORDER = ("primaryid", "source_line", "ingredient_part")
#: records_of(): a case's rank stays below this, and so does the number of cases
STRIDE = 1 << 31


def records_of(ranked_: pl.DataFrame, deleted: pl.LazyFrame) -> pl.DataFrame:
    """caseid, primaryid, quarter, source_line, valid_to of every record of every case, from the
    DEMO rows (typed keys of dedup.with_keys) as pv.cases.dedup.ranked sorts and ranks them;
    ``deleted``: (caseid, quarter) of every deleted-list entry.

    A case with one DEMO row (most cases) has one record. For the others, the rows are sorted
    by caseid, so "within a case" needs no window (``over``): a case starts where caseid
    changes, and a running minimum per case is one running minimum over ``_pos - case number
    x STRIDE`` (later cases' keys are smaller than every earlier case's). At FAERS's size
    (22.5M DEMO rows) this takes a fraction of the time and memory of three windows over 17M
    cases. ``quarter`` may be text or an Enum of the quarters (the deleted lists' quarters are
    cast to its type)."""
    if ranked_.height >= STRIDE:
        raise ValueError(f"{ranked_.height} DEMO rows: more than records_of() can rank ({STRIDE})")
    quarter = ranked_.schema["quarter"]
    caseid = pl.col("caseid")
    starts = (caseid != caseid.shift(1)).fill_null(True)  # first row of a case
    gone = (deleted.select(caseid.str.strip_chars().cast(pl.Int64, strict=False), pl.col("quarter").cast(quarter))
            .drop_nulls().group_by("caseid").agg(pl.col("quarter").min().alias("_deleted")))
    key = pl.col("_pos") - starts.cast(pl.Int64).cum_sum() * STRIDE
    columns = ["caseid", "primaryid", "source_line", "quarter"]
    alone = ranked_.select(~((caseid == caseid.shift(1)) | (caseid == caseid.shift(-1))).fill_null(False)).to_series()
    single = ranked_.select(columns).filter(alone).lazy().with_columns(pl.lit(None, quarter).alias("_next"))
    several = (
        ranked_.select(*columns, "_pos").filter(~alone).lazy()
        .unique(subset=["caseid", "quarter"], keep="first", maintain_order=True)  # the best of each quarter
        .sort("caseid", "quarter")
        .filter(starts | (key < key.cum_min().shift(1)))  # better than every earlier quarter's best
        .select(*columns, pl.when(caseid.shift(-1) == caseid).then(pl.col("quarter").shift(-1)).alias("_next"))
    )
    return (
        pl.concat([single, several]).join(gone, on="caseid", how="left")
        .filter(pl.col("_deleted").is_null() | (pl.col("quarter") < pl.col("_deleted")))
        .select("caseid", "primaryid", "quarter", "source_line", pl.min_horizontal("_next", "_deleted").alias("valid_to"))
        .collect()
    )


def past(records_: pl.DataFrame) -> pl.DataFrame:
    """The records no longer current (superseded or deleted): what cases/history/ holds."""
    return records_.filter(pl.col("valid_to").is_not_null())


def split(table: pl.DataFrame, past_ids: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(current rows, past rows with valid_to) of one quarter's table, by the record's primaryid
    (a caseid's records lie in different quarters, so within a quarter primaryid tells them apart)."""
    is_past = pl.col("primaryid").is_in(past_ids["primaryid"].implode())
    before = table.filter(is_past).join(past_ids, on="primaryid", how="left", maintain_order="left")
    return table.filter(~is_past), before.sort(in_order(before), maintain_order=True)


def in_order(table: pl.DataFrame | pl.LazyFrame) -> list[str]:
    """The ORDER columns ``table`` has."""
    names = table.collect_schema().names()
    return [c for c in ORDER if c in names]
