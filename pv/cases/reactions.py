"""Case-reaction and indication rows in the store's one PT spelling (rules ``pt-rename``,
``pt-spelling``; the spelling table is chosen once per build by pv/vocab/pts.store_pt_table)."""

from __future__ import annotations

import polars as pl

from pv.cases.derive import replace_from


def spelled(column: str, pts: pl.DataFrame) -> pl.Expr:
    """``column`` (trimmed) in the store's canonical PT spelling; unknown text stays as is."""
    trimmed = pl.col(column).str.strip_chars()
    return pl.coalesce(trimmed.replace_strict(pts["pt_source"], pts["pt"], default=None, return_dtype=pl.Utf8),
                       pl.when(trimmed != "").then(trimmed))


def reaction_rows(rows: pl.DataFrame, pts: pl.DataFrame, meddra: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per surviving case and canonical PT.

    Two source rows naming the same PT (also after a rename: Convulsion + Seizure, or
    CONVULSION in 2012Q3 and Seizure in 2013Q1) are one case-reaction; the first source row's
    wording is kept as ``pt_source``. With a licensed MedDRA hierarchy (pv/vocab/meddra.py)
    each PT also gets its hlt, hlgt and soc.
    """
    out = (
        rows.rename({"pt": "pt_source"})
        .with_columns(spelled("pt_source", pts).alias("pt"))
        .filter(pl.col("pt").is_not_null())
        .unique(subset=["caseid", "pt"], keep="first", maintain_order=True)
        .select("caseid", "primaryid", "quarter", "pt", "pt_source", "source_line")
    )
    if meddra is None:
        return out
    levels = out.select("pt").unique().with_columns(pl.col("pt").str.to_lowercase().alias("key")).join(
        meddra.select("key", "hlt", "hlgt", "soc"), on="key", how="left")
    return out.with_columns(replace_from(levels, "pt", level).alias(level) for level in ("hlt", "hlgt", "soc"))
