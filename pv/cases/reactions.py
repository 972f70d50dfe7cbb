"""Case-reaction rows in canonical MedDRA spelling (rules ``pt-rename``, ``pt-spelling``)."""

from __future__ import annotations

import polars as pl

from pv.cases.derive import replace_from
from pv.vocab.pts import canonical_pts


def reaction_rows(rows: pl.DataFrame, meddra: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per surviving case and canonical PT.

    Two source rows naming the same PT (also after a rename: Convulsion + Seizure) are one
    case-reaction; the first source row's wording is kept as ``pt_source``. With a licensed
    MedDRA hierarchy (pv/vocab/meddra.py) each PT also gets its hlt, hlgt and soc.
    """
    rows = rows.rename({"pt": "pt_source"})
    table = canonical_pts(rows.drop_nulls("pt_source").group_by("pt_source").agg(pl.len().alias("n")).lazy()).collect()
    out = (
        rows.with_columns(replace_from(table, "pt_source", "pt").alias("pt"))
        .filter(pl.col("pt").is_not_null())
        .unique(subset=["caseid", "pt"], keep="first", maintain_order=True)
        .select("caseid", "primaryid", "quarter", "pt", "pt_source", "source_line")
    )
    if meddra is None:
        return out
    levels = table.select("pt").unique().with_columns(pl.col("pt").str.to_lowercase().alias("key")).join(
        meddra, on="key", how="left")
    return out.with_columns(replace_from(levels, "pt", level).alias(level) for level in ("hlt", "hlgt", "soc"))
