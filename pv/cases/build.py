"""``pvmon cases``: staged lake files -> deduplicated case tables in ``cases/``.

Reads only ``staged/<table>/quarter=*/`` (CONTRACTS.md "Lake"). DEMO is deduplicated once
over all quarters (pv/cases/dedup.py); child tables are then built quarter by quarter,
because a child row belongs to the (quarter, primaryid) of its DEMO row: memory stays
bounded by one quarter whatever the history length. Everything is written into a temporary
folder that replaces ``cases/`` atomically; outputs are sorted, so a re-run on the same
input gives identical files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pv.atomic import atomic_dir
from pv.cases import dedup, derive, duplicates
from pv.cases.dose import with_daily_dose
from pv.cases.staged import require_demo, scan_table
from pv.config import Home
from pv.vocab.drugnames import load_drug_dictionary, map_drug_names
from pv.vocab.lookups import load_countries, load_indication_terms
from pv.vocab.pts import canonical_pts, load_event_groups

DEMO_COLUMNS = [
    "primaryid", "caseid", "caseversion", "i_f_code", "event_dt", "mfr_dt", "init_fda_dt", "fda_dt",
    "rept_cod", "mfr_num", "mfr_sndr", "age", "age_cod", "sex", "wt", "wt_cod", "occp_cod",
    "reporter_country", "occr_country", "quarter", "era", "source_file", "source_line",
]
DRUG_COLUMNS = [
    "primaryid", "drug_seq", "role_cod", "drugname", "prod_ai", "val_vbm", "route", "dose_vbm",
    "dose_amt", "dose_unit", "dose_form", "dose_freq", "source_line",
]
OUTPUTS = ("cases", "drugs", "reactions", "indications", "funnel")


@dataclass(frozen=True)
class Vocab:
    """Every seed the build uses, loaded (and validated) once."""

    dictionary: pl.DataFrame
    countries: pl.DataFrame
    indications: pl.DataFrame
    pump_pts: pl.DataFrame
    versions: dict[str, str]

    @classmethod
    def load(cls) -> "Vocab":
        dictionary, countries, indications, groups = (
            load_drug_dictionary(), load_countries(), load_indication_terms(), load_event_groups())
        pump = groups.frame.filter(pl.col("group") == "pump").select(pl.col("pt").str.to_lowercase().alias("_k"))
        return cls(
            dictionary=dictionary.frame, countries=countries.frame,
            indications=indications.frame.select(
                pl.col("indi_pt").str.to_lowercase().alias("_k"), "indication_class"),
            pump_pts=pump.unique(),
            versions={s.name: s.version for s in (dictionary, countries, indications, groups)},
        )


def _pid() -> pl.Expr:
    return pl.col("primaryid").str.strip_chars().cast(pl.Int64, strict=False)


def _seq(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().cast(pl.Int64, strict=False)


def build_case_rows(survivors: pl.LazyFrame, outc: pl.LazyFrame, countries: pl.DataFrame) -> pl.LazyFrame:
    """Derived case fields (pv/cases/derive.py) for the surviving DEMO rows."""
    outcomes = derive.outcome_flags(outc.with_columns(_pid()))
    flags = [*derive.OUTCOMES.values(), "serious"]
    lf = derive.with_country(survivors, countries).with_columns(
        derive.age_years().alias("age_years"),
        derive.sex().alias("sex"),
        *derive.event_date_fields(),
        derive.report_year(),
        pl.col("rept_cod").str.strip_chars().str.to_uppercase(),
        pl.col("occp_cod").str.strip_chars().str.to_uppercase().alias("reporter"),
    ).with_columns(derive.age_band().alias("age_band"))
    return lf.join(outcomes, on=["quarter", "primaryid"], how="left").with_columns(
        pl.col(f).fill_null(False) for f in flags
    )


def build_drug_rows(drug: pl.LazyFrame, keys: pl.LazyFrame, indi: pl.LazyFrame, ther: pl.LazyFrame,
                    vocab: Vocab) -> pl.LazyFrame:
    """One row per surviving DRUG row with ingredient, route class, dose, indication, onset."""
    rows = drug.with_columns(_pid(), _seq("drug_seq").alias("drug_seq")).join(keys, on=["quarter", "primaryid"])
    names = map_drug_names(rows.select("drugname", "prod_ai").unique(), vocab.dictionary)
    indication = (
        indi.with_columns(_pid(), _seq("indi_drug_seq").alias("drug_seq"),
                          pl.col("indi_pt").str.strip_chars().str.to_lowercase().alias("_k"))
        .filter(pl.col("_k").is_not_null() & (pl.col("_k") != ""))
        .join(vocab.indications.lazy(), on="_k", how="left")
        .with_columns(pl.col("indication_class").fill_null("other"))
        .group_by("quarter", "primaryid", "drug_seq")
        .agg(  # rule ``indication-class``: aud > spasticity > other > unknown per drug
            pl.when(pl.col("indication_class") == "aud").then(0)
            .when(pl.col("indication_class") == "spasticity").then(1)
            .when(pl.col("indication_class") == "other").then(2).otherwise(3).min().alias("_rank"))
        .with_columns(pl.col("_rank").replace_strict(
            {0: "aud", 1: "spasticity", 2: "other", 3: "unknown"}, return_dtype=pl.Utf8).alias("indication_class"))
        .drop("_rank")
    )
    starts = (  # rule ``onset``: earliest day-precision THER start of that drug
        ther.with_columns(_pid(), _seq("dsg_drug_seq").alias("drug_seq"), derive.day_date("start_dt").alias("_start"))
        .group_by("quarter", "primaryid", "drug_seq").agg(pl.col("_start").min())
    )
    return (
        with_daily_dose(rows)
        .join(names, on=["drugname", "prod_ai"], how="left", nulls_equal=True)
        .join(indication, on=["quarter", "primaryid", "drug_seq"], how="left")
        .join(starts, on=["quarter", "primaryid", "drug_seq"], how="left")
        .with_columns(
            pl.col("role_cod").str.strip_chars().str.to_uppercase(),
            derive.route_class().alias("route_class"),
            derive.dose_band().alias("dose_band"),
            pl.col("indication_class").fill_null("unknown"),
            pl.when(pl.col("_event_day") >= pl.col("_start"))
            .then((pl.col("_event_day") - pl.col("_start")).dt.total_days()).alias("onset_days"),
        )
        .select(
            "caseid", "primaryid", "quarter", "drug_seq", "role_cod", "drugname", "prod_ai", "ingredient",
            "mapped", "val_vbm", "route", "route_class", "dose_vbm", "dose_amt", "dose_unit", "dose_form",
            "dose_freq", "daily_dose_mg", "dose_band", "indication_class", "onset_days", "source_line",
        )
        .sort("caseid", "drug_seq", "source_line", nulls_last=True)
    )


def build_reaction_rows(reac: pl.LazyFrame, keys: pl.LazyFrame) -> pl.LazyFrame:
    """One row per surviving case and canonical PT (rules pt-rename, pt-spelling).

    Two source rows naming the same PT (also after a rename: Convulsion + Seizure) are
    one case-reaction; the first source row's wording is kept as ``pt_source``.
    """
    rows = reac.with_columns(_pid()).rename({"pt": "pt_source"}).join(keys, on=["quarter", "primaryid"])
    spelled = canonical_pts(rows.group_by("pt_source").agg(pl.len().alias("n")))
    return (
        rows.join(spelled.select("pt_source", "pt"), on="pt_source", how="left")
        .filter(pl.col("pt").is_not_null())
        .sort("caseid", "pt", "source_line")
        .unique(subset=["caseid", "pt"], keep="first", maintain_order=True)
        .select("caseid", "primaryid", "quarter", "pt", "pt_source", "source_line")
    )


def build_indication_rows(indi: pl.LazyFrame, keys: pl.LazyFrame) -> pl.LazyFrame:
    return (
        indi.with_columns(_pid(), _seq("indi_drug_seq").alias("drug_seq"), pl.col("indi_pt").str.strip_chars())
        .join(keys, on=["quarter", "primaryid"])
        .filter(pl.col("indi_pt").is_not_null() & (pl.col("indi_pt") != ""))
        .select("caseid", "primaryid", "quarter", "drug_seq", "indi_pt", "source_line")
        .sort("caseid", "drug_seq", "source_line", nulls_last=True)
    )


def _concat(parts: list[Path], target: Path) -> None:
    pl.scan_parquet([str(p) for p in parts]).sink_parquet(target)


def build_cases(home: Home, drop_duplicates: bool = False) -> pl.DataFrame:
    """Build ``cases/`` from every staged quarter; returns the funnel."""
    quarters = require_demo(home)
    vocab = Vocab.load()
    demo = dedup.with_keys(scan_table(home, "demo", DEMO_COLUMNS))
    read = demo.group_by("quarter").agg(pl.len().cast(pl.Int64).alias("count")).sort("quarter").collect()
    latest = dedup.latest_versions(demo).collect()
    deleted = dedup.deleted_caseids(scan_table(home, "deleted", ["caseid"])).collect()
    survivors = latest.join(deleted, on="caseid", how="anti")
    outc = scan_table(home, "outc", ["primaryid", "outc_cod", "quarter"])
    cases = build_case_rows(survivors.lazy(), outc, vocab.countries).collect()
    keys = cases.select("caseid", "primaryid", "quarter", derive.day_date("event_dt").alias("_event_day"))

    with atomic_dir(home.cases) as tmp:
        parts: dict[str, list[Path]] = {"drugs": [], "reactions": [], "indications": []}
        (tmp / "parts").mkdir()
        for q in quarters:
            qkeys = keys.filter(pl.col("quarter") == q).lazy()
            indi = scan_table(home, "indi", ["primaryid", "indi_drug_seq", "indi_pt", "quarter", "source_line"], q)
            ther = scan_table(home, "ther", ["primaryid", "dsg_drug_seq", "start_dt", "quarter"], q)
            frames = {
                "drugs": build_drug_rows(scan_table(home, "drug", [*DRUG_COLUMNS, "quarter"], q),
                                         qkeys, indi, ther, vocab),
                "reactions": build_reaction_rows(
                    scan_table(home, "reac", ["primaryid", "pt", "quarter", "source_line"], q), qkeys),
                "indications": build_indication_rows(indi, qkeys),
            }
            for name, lf in frames.items():
                path = tmp / "parts" / f"{name}-{q}.parquet"
                lf.collect().write_parquet(path)
                parts[name].append(path)
        for name, files in parts.items():
            _concat(files, tmp / f"{name}.parquet")

        drugs = pl.scan_parquet(tmp / "drugs.parquet")
        reactions = pl.scan_parquet(tmp / "reactions.parquet")
        flags = duplicates.duplicate_flags(
            cases.lazy(),
            duplicates.item_sets(drugs, "ingredient", "drug_set"),
            duplicates.item_sets(reactions, "pt", "reaction_set"),
        )
        pump = (
            reactions.with_columns(pl.col("pt").str.to_lowercase().alias("_k"))
            .join(vocab.pump_pts.lazy(), on="_k", how="semi").select("caseid").unique()
            .with_columns(pl.lit(True).alias("pump_problem"))
        )
        cases = (
            cases.lazy().join(flags, on="caseid", how="left").join(pump, on="caseid", how="left")
            .with_columns(pl.col("pump_problem").fill_null(False))
            .select(
                "caseid", "primaryid", "caseversion", "quarter", "era", "i_f_code", "fda_dt", "init_fda_dt",
                "mfr_dt", "event_dt", "event_date", "event_dt_precision", "age", "age_cod", "age_years",
                "age_band", "sex", "wt", "wt_cod", "country", "reporter_country", "occr_country", "serious",
                *derive.OUTCOMES.values(), "rept_cod", "reporter", "mfr_num", "mfr_sndr",
                pl.col("report_year").cast(pl.Int32), "dup_flag", "dup_of", "pump_problem",
                "source_file", "source_line",
            )
            .sort("caseid")
            .collect()
        )
        stages = {
            "latest_version": latest.group_by("quarter").agg(pl.len().cast(pl.Int64).alias("count")),
            "after_deleted": cases.group_by("quarter").agg(pl.len().cast(pl.Int64).alias("count")),
            "after_dup_flag": cases.filter(~pl.col("dup_flag")).group_by("quarter")
            .agg(pl.len().cast(pl.Int64).alias("count")),
        }
        table = dedup.funnel(read, stages)
        if drop_duplicates:
            flagged = cases.filter(pl.col("dup_flag")).select("caseid")
            cases = cases.filter(~pl.col("dup_flag"))
            for name in parts:
                kept = pl.scan_parquet(tmp / f"{name}.parquet").join(flagged.lazy(), on="caseid", how="anti")
                kept.sink_parquet(tmp / f"{name}.filtered.parquet")
                (tmp / f"{name}.filtered.parquet").replace(tmp / f"{name}.parquet")
        cases.write_parquet(tmp / "cases.parquet")
        table.write_parquet(tmp / "funnel.parquet")
        for p in (tmp / "parts").iterdir():
            p.unlink()
        (tmp / "parts").rmdir()
        meta = {"drop_duplicates": drop_duplicates, "quarters": quarters, "seeds": vocab.versions}
        (tmp / "build.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return table
