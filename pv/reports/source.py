"""Where the store's extracts came from, in the words a report prints.

The manifest records per staged quarter whether its zip came from ``pvmon simulate`` (the
simulator marks its zips; ingest copies the mark into the manifest: pv.lake.status
``data_origin``). A report on simulated data must say so loudly, on the cover and on every
page; a store mixing simulated and FDA quarters is called MIXED and flagged the same way.
"""

from __future__ import annotations

import polars as pl

from pv.lake.status import DataOrigin

SIMULATED, FDA, MIXED, UNKNOWN, EMPTY = "SIMULATED", "FDA", "MIXED", "UNKNOWN", "EMPTY"


def describe(origin: DataOrigin) -> str:
    """The report's one-line data source (cover, XLSX about sheet, provenance)."""
    if origin.label == SIMULATED:
        return ("SIMULATED FAERS-shaped extracts (pvmon simulate) with planted signals: NOT FDA data, "
                "not for regulatory decisions")
    if origin.label == MIXED:
        return (f"MIXED: {len(origin.simulated)} SIMULATED quarter(s) "
                f"({', '.join(origin.simulated)}) with {len(origin.fda)} FDA FAERS quarter(s): "
                "the numbers mix simulated and real reports, not for regulatory decisions")
    if origin.label == UNKNOWN:
        return (f"NOT RECORDED for {len(origin.unknown)} quarter(s) ({', '.join(origin.unknown)}), "
                "ingested by an older pvmon: they may be simulated; re-ingest them to record their origin")
    if origin.label == FDA:
        return "FDA FAERS quarterly ASCII extracts (public data; sha256 of each zip in the appendix)"
    return "no staged quarter"


ORIGIN_COLUMN = "data_origin"


def with_origin(tables: dict[str, pl.DataFrame], label: str) -> dict[str, pl.DataFrame]:
    """Every non-empty export table with a first column ``data_origin`` holding the store's ``label``
    (DataOrigin.label: SIMULATED, FDA, MIXED, UNKNOWN) on every row: a CSV file or a sheet copied out of the report,
    even a single row of it, still says whether its numbers are simulated. Always present, so the
    columns of an export do not depend on the data."""
    column = pl.lit(label, dtype=pl.String).alias(ORIGIN_COLUMN)
    return {name: frame.select(column, pl.all()) if frame.width else frame for name, frame in tables.items()}


def with_row_origin(frame: pl.DataFrame, origin: DataOrigin) -> pl.DataFrame:
    """A row listing (with a ``quarter`` column) with a first column ``data_origin``: each row's own
    quarter's origin (SIMULATED, FDA or "not recorded"), exact even in a MIXED store."""
    of = {q: origin.of(q) for q in frame["quarter"].unique().to_list()}
    return frame.select(pl.col("quarter").replace_strict(of, return_dtype=pl.String).alias(ORIGIN_COLUMN), pl.all())
