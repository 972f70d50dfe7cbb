"""Case-drug rows: ingredient (rule ``drug-map``), route class, daily and single dose, dose
band, indication class and time to onset, for one quarter's surviving DRUG rows."""

from __future__ import annotations

import polars as pl

from pv.cases import derive
from pv.cases.dose import with_doses
from pv.cases.derive import replace_from, via_distinct
from pv.vocab.dosing import load_dose_bands
from pv.vocab.drugnames import normalise_drug_name

# The raw dose fields stay in staged/drug, linked by (quarter, source_line): re-writing them
# here would double the write cost of the largest table for no analysis.
COLUMNS = (
    "caseid", "primaryid", "quarter", "drug_seq", "role_cod", "drugname", "prod_ai", "ingredient", "mapped",
    "route", "route_class", "daily_dose_mg", "single_dose_mg", "dose_band", "indication_class", "onset_days", "source_line",
)
INDICATION_RANK = {"aud": 0, "spasticity": 1, "other": 2, "unknown": 3}


def ingredient_tables(frame: pl.DataFrame, dictionary: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per distinct ``prod_ai``: its ingredient(s); per distinct ``drugname``: its dictionary hit
    and normalised key. Small tables, applied to the rows by lookup (rule ``drug-map``)."""
    by_ai = (
        frame.select(pl.col("prod_ai").unique().drop_nulls())
        .with_columns(pl.col("prod_ai").str.split("\\").alias("component"))
        .explode("component")
        .with_columns(normalise_drug_name(pl.col("component")).alias("key"))
        .join(dictionary, on="key", how="left")
        .with_columns(pl.coalesce("ingredient", "key").alias("component"))
        .group_by("prod_ai")
        .agg(pl.col("component").drop_nulls().unique().sort().str.join("\\").alias("ai_ingredient"))
        .with_columns(pl.when(pl.col("ai_ingredient") != "").then(pl.col("ai_ingredient")).alias("ai_ingredient"))
    )
    by_name = (
        frame.select(pl.col("drugname").unique().drop_nulls())
        .with_columns(normalise_drug_name(pl.col("drugname")).alias("name_key"))
        .join(dictionary.rename({"key": "name_key", "ingredient": "name_ingredient"}), on="name_key", how="left")
    )
    return by_ai, by_name


def ingredient_columns(frame: pl.DataFrame, dictionary: pl.DataFrame) -> list[pl.Expr]:
    """``ingredient`` and ``mapped`` for every row of ``frame`` (columns drugname, prod_ai)."""
    by_ai, by_name = ingredient_tables(frame, dictionary)
    ai = replace_from(by_ai, "prod_ai", "ai_ingredient")
    hit = replace_from(by_name, "drugname", "name_ingredient")
    key = replace_from(by_name, "drugname", "name_key")
    return [pl.coalesce(ai, hit, key).alias("ingredient"), (ai.is_not_null() | hit.is_not_null()).alias("mapped")]


def indication_classes(indi: pl.DataFrame, terms: pl.DataFrame) -> pl.DataFrame:
    """(primaryid, drug_seq) -> indication class (rule ``indication-class``).

    Each indi_pt is classed through seeds/indication_terms.csv (case-insensitive); any other
    named indication is "other". A drug with several indications takes the first of
    aud > spasticity > other > unknown, so an AUD prescription is never hidden by a
    co-reported condition; a drug without INDI rows is "unknown".
    """
    table = (
        indi.select(pl.col("indi_pt").unique().drop_nulls())
        .with_columns(pl.col("indi_pt").str.strip_chars().str.to_lowercase().alias("_k"))
        .join(terms, on="_k", how="left")
        .with_columns(
            pl.when(pl.col("_k") == "").then(None).otherwise(pl.col("indication_class").fill_null("other"))
            .replace_strict(INDICATION_RANK, default=None, return_dtype=pl.Int8).alias("_rank"))
    )
    return (
        indi.select("primaryid", "drug_seq", replace_from(table, "indi_pt", "_rank").alias("_rank"))
        .drop_nulls("_rank")
        .group_by("primaryid", "drug_seq").agg(pl.col("_rank").min())
        .with_columns(pl.col("_rank").replace_strict({v: k for k, v in INDICATION_RANK.items()},
                                                     return_dtype=pl.Utf8).alias("indication_class"))
        .drop("_rank")
    )


def therapy_starts(ther: pl.DataFrame) -> pl.DataFrame:
    """(primaryid, drug_seq) -> earliest day-precision THER start date (rule ``onset``)."""
    return (
        ther.select("primaryid", "drug_seq", via_distinct(ther, "start_dt", derive.day_date("start_dt")).alias("_start"))
        .drop_nulls("_start")
        .group_by("primaryid", "drug_seq").agg(pl.col("_start").min())
    )


def drug_rows(rows: pl.DataFrame, indications: pl.DataFrame, starts: pl.DataFrame,
              dictionary: pl.DataFrame, products: pl.DataFrame | None = None,
              bands: pl.DataFrame | None = None) -> pl.DataFrame:
    """Derived case-drug fields for surviving DRUG rows (with caseid and ``_event_day``).

    Route class, doses and bands: pv/cases/derive.py (``route-class``, ``dose-band``, with
    the seeds of pv/vocab/dosing.py) and pv/cases/dose.py.

    Onset (rule ``onset``): event date minus the drug's earliest THER start, in days, only
    when both have day precision and the event is not before the start.
    """
    per_drug = indications.join(starts, on=["primaryid", "drug_seq"], how="full", coalesce=True)
    out = (
        rows.with_columns(
            *ingredient_columns(rows, dictionary),
            derive.upper_code(rows, "role_cod").alias("role_cod"),
            derive.route_class(rows, products).alias("route_class"),
        )
        .pipe(with_doses)
        .join(per_drug, on=["primaryid", "drug_seq"], how="left", maintain_order="left")
        .with_columns(
            pl.col("indication_class").fill_null("unknown"),
            pl.when(pl.col("_event_day") >= pl.col("_start"))
            .then((pl.col("_event_day") - pl.col("_start")).dt.total_days()).alias("onset_days"),
        )
    )
    if bands is None:
        bands = load_dose_bands().frame
    return out.with_columns(derive.dose_band(out, bands)).select(COLUMNS)
