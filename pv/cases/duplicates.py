"""Rule-based duplicate flags (rule ``dup-flag``; faers-format.md "Deduplication" step 4).

Two surviving cases are duplicates when they agree on event date (raw text), age in years,
sex, country, the set of drug ingredients (all roles) and the set of reaction PTs
(AEOLUS-style). A case with any of these fields empty is never matched: empty fields say
nothing about identity. In each group of identical cases the first received (earliest
quarter, then lowest caseid) stays unflagged; the others get ``dup_flag`` and ``dup_of``
(the kept caseid). Default: flag only; ``pvmon cases --drop-duplicates`` removes them.
"""

from __future__ import annotations

import polars as pl

MATCH_FIELDS = ("event_dt", "age_years", "sex", "country", "drug_set", "reaction_set")


DEMOGRAPHIC = ("event_dt", "age_years", "sex", "country")


def _complete(fields) -> pl.Expr:
    return pl.all_horizontal(
        [pl.col(c).is_not_null() & (pl.col(c).cast(pl.Utf8).str.strip_chars() != "") for c in fields]
    )


def candidates(cases: pl.DataFrame) -> pl.DataFrame:
    """caseids whose complete demographic key is shared with another case.

    Only these can be duplicates, so drug and reaction sets are built for them alone (a
    small fraction of all cases: the rule stays exact and cheap).
    """
    return (
        cases.lazy().select("caseid", *DEMOGRAPHIC)
        .with_columns(pl.col("age_years").round(4))
        .filter(_complete(DEMOGRAPHIC))
        .filter(pl.len().over(list(DEMOGRAPHIC)) > 1)
        .select("caseid")
        .collect()
    )


def item_sets(lf: pl.LazyFrame, column: str, name: str) -> pl.LazyFrame:
    """caseid -> the sorted distinct values of ``column`` joined by '|' (null when none)."""
    return (
        lf.select("caseid", column).drop_nulls().unique()
        .group_by("caseid").agg(pl.col(column).sort().str.join("|").alias(name))
    )


def duplicate_flags(cases: pl.LazyFrame, drug_sets: pl.LazyFrame, reaction_sets: pl.LazyFrame) -> pl.LazyFrame:
    """caseid -> dup_of (the kept caseid, null when not a duplicate) for the flagged cases."""
    keyed = (
        cases.select("caseid", "quarter", "event_dt", pl.col("age_years").round(4), "sex", "country")
        .join(drug_sets, on="caseid", how="inner")
        .join(reaction_sets, on="caseid", how="inner")
    )
    return (
        keyed.filter(_complete(MATCH_FIELDS))
        .sort("quarter", "caseid")
        .with_columns(pl.col("caseid").first().over(list(MATCH_FIELDS)).alias("dup_of"))
        .filter(pl.col("dup_of") != pl.col("caseid"))
        .select("caseid", "dup_of")
    )
