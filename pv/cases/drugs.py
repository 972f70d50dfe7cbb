"""Case-drug rows: ingredient (rule ``drug-map``), route class, daily and single dose, dose
band, indication class and time to onset, for one quarter's surviving DRUG rows."""

from __future__ import annotations

import polars as pl

from pv.cases import derive
from pv.cases.distinct import Memo
from pv.cases.dose import with_doses
from pv.cases.derive import replace_from, via_distinct
from pv.vocab.dosing import load_dose_bands
from pv.vocab.drugnames import inside_name, outside_name, prod_ai_ingredients, single_word_hits

# The raw dose fields stay in staged/drug, linked by (quarter, source_line): re-writing them
# here would double the write cost of the largest table for no analysis.
COLUMNS = (
    "caseid", "primaryid", "quarter", "drug_seq", "role_cod", "drugname", "prod_ai", "ingredient", "ingredient_part",
    "mapped",
    "route", "route_class", "daily_dose_mg", "single_dose_mg", "dose_band", "indication_class", "onset_days",
    "source_line",
)
INDICATION_RANK = {"aud": 0, "spasticity": 1, "other": 2, "unknown": 3}


def _ingredients(e: pl.Expr) -> pl.Expr:
    """An ingredient text (``a\\b`` for a combination) as a list of ingredients."""
    return e.str.split("\\")


def ingredient_table(frame: pl.DataFrame, dictionary: pl.DataFrame) -> pl.DataFrame:
    """Per distinct (drugname, prod_ai): ``ingredients`` (a list: one entry per ingredient of
    a multi-ingredient product) and ``mapped`` (rule ``drug-map``). Built on the distinct
    values only (a quarter's 1.6M rows carry a few 100k names), then joined to the rows."""
    by_ai = prod_ai_ingredients(frame.select(pl.col("prod_ai").unique().drop_nulls()), dictionary).select(
        "prod_ai", _ingredients(pl.col("ingredient")).alias("ai_ingredients"))
    names = frame.select(pl.col("drugname").unique().drop_nulls()).with_columns(
        outside_name(pl.col("drugname")).alias("outside"), inside_name(pl.col("drugname")).alias("inside"))
    keys = pl.concat([names.select(pl.col("outside").alias("key")), names.select(pl.col("inside").alias("key"))])
    words = single_word_hits(keys, dictionary)
    by_name = (
        names.join(dictionary.rename({"key": "outside", "ingredient": "hit_out"}), on="outside", how="left")
        .join(dictionary.rename({"key": "inside", "ingredient": "hit_in"}), on="inside", how="left")
        .join(words.rename({"key": "outside", "ingredient": "word_out"}), on="outside", how="left")
        .join(words.rename({"key": "inside", "ingredient": "word_in"}), on="inside", how="left")
        .select("drugname", pl.coalesce("hit_out", "hit_in", "word_out", "word_in").alias("name_ingredient"),
                pl.coalesce("outside", "inside").alias("name_key"))
    )
    return (
        frame.select("drugname", "prod_ai").unique()
        .join(by_ai, on="prod_ai", how="left", nulls_equal=False)
        .join(by_name, on="drugname", how="left", nulls_equal=False)
        .select(
            "drugname", "prod_ai",
            pl.coalesce("ai_ingredients", _ingredients(pl.col("name_ingredient")), pl.concat_list("name_key"))
            .alias("ingredient"),
            (pl.col("ai_ingredients").is_not_null() | pl.col("name_ingredient").is_not_null()).alias("mapped"),
        )
    )


def with_ingredients(rows: pl.DataFrame, dictionary: pl.DataFrame, memo: Memo | None = None) -> pl.DataFrame:
    """``rows`` + ``ingredient`` (a list, exploded by ``drug_rows``) and ``mapped``; ``memo``
    (pv.cases.distinct, made for this ``dictionary``) keeps the table of the pairs already mapped."""
    table = (memo or Memo()).table("ingredients", rows, ["drugname", "prod_ai"],
                                   lambda pairs: ingredient_table(pairs, dictionary), nulls=True)
    return rows.join(table, on=["drugname", "prod_ai"], how="left", nulls_equal=True, maintain_order="left").with_columns(
        pl.col("mapped").fill_null(False))


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
              bands: pl.DataFrame | None = None, memo: Memo | None = None) -> pl.DataFrame:
    """Derived case-drug fields for surviving DRUG rows (with caseid and ``_event_day``).

    Route class, doses and bands: pv/cases/derive.py (``route-class``, ``dose-band``, with
    the seeds of pv/vocab/dosing.py) and pv/cases/dose.py.

    Onset (rule ``onset``): event date minus the drug's earliest THER start, in days, only
    when both have day precision and the event is not before the start.

    ``memo`` (pv.cases.distinct): the build's tables of names and dose texts already parsed.
    """
    per_drug = indications.join(starts, on=["primaryid", "drug_seq"], how="full", coalesce=True)
    out = (
        with_ingredients(rows, dictionary, memo).with_columns(
            derive.upper_code(rows, "role_cod").alias("role_cod"),
            derive.route_class(rows, products).alias("route_class"),
        )
        .pipe(with_doses, memo)
        .join(per_drug, on=["primaryid", "drug_seq"], how="left", maintain_order="left")
        .with_columns(
            pl.col("indication_class").fill_null("unknown"),
            pl.when(pl.col("_event_day") >= pl.col("_start"))
            .then((pl.col("_event_day") - pl.col("_start")).dt.total_days()).alias("onset_days"),
        )
    )
    # rule drug-map: one row per ingredient; ingredient_part 0 marks the source drug row
    out = out.with_columns(pl.int_ranges(pl.col("ingredient").list.len().fill_null(1)).alias("ingredient_part"))
    out = out.explode(["ingredient", "ingredient_part"]).with_columns(pl.col("ingredient_part").fill_null(0).cast(pl.Int8))
    if bands is None:
        bands = load_dose_bands().frame
    return out.with_columns(derive.dose_band(out, bands)).select(COLUMNS)
