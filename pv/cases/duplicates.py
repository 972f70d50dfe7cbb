"""Rule-based duplicate flags (rule ``dup-flag``; faers-format.md "Deduplication" step 4).

Two surviving cases are duplicates when they are the same report sent twice (AEOLUS-style):
equal on event date (raw text), age (raw text with its unit), sex (M or F only),
reporter_country (raw, as sent: legacy names and codes alike), the set of drug names
(trimmed, upper case) and the set of reaction PTs (canonical spelling, compared in lower
case). A case with any of these empty is never matched: empty fields say nothing about
identity, and neither do an age that is not a positive number, a missing age unit or
"COUNTRY NOT SPECIFIED". In each group the smallest caseid stays unflagged; the others get ``dup_flag``
and ``dup_of`` (the kept caseid). Default: flag only; ``pvmon cases --drop-duplicates``
removes them. Raw fields rather than derived ones, because a duplicate is the same
*report*, not merely the same clinical picture (the team's simulator plants and counts
duplicates by exactly these fields).
"""

from __future__ import annotations

import polars as pl

RAW_FIELDS = ("event_dt", "age", "age_cod", "sex", "reporter_country")
DEMOGRAPHIC = ("event_dt", "_age", "_sex", "_country")
MATCH_FIELDS = (*DEMOGRAPHIC, "drug_set", "reaction_set")


def _keys() -> list[pl.Expr]:
    """The demographic match fields from the raw DEMO columns (null = never matched)."""
    def text(c: str) -> pl.Expr:
        t = pl.col(c).str.strip_chars()
        return pl.when(t != "").then(t)

    age_ok = (text("age").cast(pl.Float64, strict=False) > 0) & text("age_cod").is_not_null()
    country = text("reporter_country").str.to_uppercase()
    sex = text("sex").str.to_uppercase()
    return [
        text("event_dt").alias("event_dt"),
        pl.when(age_ok).then(pl.concat_str(text("age"), pl.lit(" "), text("age_cod"))).alias("_age"),
        pl.when(sex.is_in(["M", "F"])).then(sex).alias("_sex"),
        pl.when(country != "COUNTRY NOT SPECIFIED").then(country).alias("_country"),
    ]


def _complete(fields) -> pl.Expr:
    return pl.all_horizontal([pl.col(c).is_not_null() for c in fields])


def with_demographic_hash(demo: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``_dkey``: a 64-bit hash of the complete demographic fields (null if any is empty).

    Held for every report instead of the fields themselves; equal hashes only nominate
    candidates, which are then compared on the real values (a collision cannot flag).
    """
    keys = [k.alias(f"_k{i}") for i, k in enumerate(_keys())]
    names = [f"_k{i}" for i in range(len(keys))]
    return demo.with_columns(keys).with_columns(
        pl.when(_complete(names)).then(pl.struct(names).hash(seed=20261129)).alias("_dkey")
    ).drop(names)


def candidates(survivors: pl.DataFrame) -> pl.DataFrame:
    """caseids whose complete demographic key is shared with another surviving case.

    Only these can be duplicates, so drug and reaction sets are built for them alone (a
    small fraction of all cases: the rule stays exact and cheap).
    """
    return survivors.lazy().filter(is_candidate()).select("caseid").collect()


def is_candidate() -> pl.Expr:
    """Per surviving case (``_dkey``): is it one of the ``candidates``."""
    return pl.col("_dkey").is_not_null() & (pl.len().over("_dkey") > 1)


def item_sets(lf: pl.LazyFrame, expr: pl.Expr, name: str) -> pl.LazyFrame:
    """caseid -> the sorted distinct values of ``expr`` joined by '|' (null when none)."""
    return (
        lf.select("caseid", expr.alias("_item")).drop_nulls().filter(pl.col("_item") != "").unique()
        .group_by("caseid").agg(pl.col("_item").sort().str.join("|").alias(name))
    )


def drug_set(drugs: pl.LazyFrame) -> pl.LazyFrame:
    return item_sets(drugs, pl.col("drugname").str.strip_chars().str.to_uppercase(), "drug_set")


def reaction_set(reactions: pl.LazyFrame) -> pl.LazyFrame:
    return item_sets(reactions, pl.col("pt").str.to_lowercase(), "reaction_set")


def duplicate_flags(cases: pl.LazyFrame, drug_sets: pl.LazyFrame, reaction_sets: pl.LazyFrame) -> pl.LazyFrame:
    """caseid -> dup_of (the kept caseid) for every flagged case (``cases``: caseid + RAW_FIELDS)."""
    return (
        cases.select("caseid", *_keys())
        .join(drug_sets, on="caseid", how="inner")
        .join(reaction_sets, on="caseid", how="inner")
        .filter(_complete(MATCH_FIELDS))
        .with_columns(pl.col("caseid").min().over(list(MATCH_FIELDS)).alias("dup_of"))
        .filter(pl.col("dup_of") != pl.col("caseid"))
        .select("caseid", "dup_of")
    )
