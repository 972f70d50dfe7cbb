"""Doses as FDA codes them, end to end: simulate -> ingest -> cases -> drugs.parquet, and the
signal table's dose-band subsets, against the simulator's ``dose`` ground-truth rows
(pv/faers/simulate/dosing.py: 1X single amounts, tablet counts, every microgram spelling,
intrathecal products with a blank route, per-drug bands).

Ranges: issue 10's window 2011Q4..2014Q4 (legacy upper-case text without structured dose
fields, Latin-1, to 2012Q3; FAERS without prod_ai and with µg from 2012Q4; prod_ai from
2014Q3) and 2020Q1 (UTF-8 DRUG file: Greek μg and "ΜG").
"""

from __future__ import annotations

import polars as pl
import pytest

from pv.cases.build import build_cases
from pv.cases.dose import with_doses
from pv.cases.staged import scan_table
from pv.config import Home
from pv.faers.simulate import simulate
from pv.lake.ingest import ingest_paths
from pv.signals.run import SignalOptions, run_signals

RANGES = {"2011Q4..2014Q4": 1500, "2020Q1..2020Q1": 3000}  # quarters -> reports per quarter


@pytest.fixture(scope="module", params=list(RANGES))
def built(request, tmp_path_factory):
    src = tmp_path_factory.mktemp("sim")
    simulate(src, request.param, reports_per_quarter=RANGES[request.param], seed=3, jobs=1)
    home = Home(tmp_path_factory.mktemp("home"))
    report = ingest_paths(home, [src])
    assert report.errors == [] and report.staged
    build_cases(home)
    truth = pl.read_csv(src / "ground_truth.csv", infer_schema=False).filter(pl.col("kind") == "dose")
    truth = truth.select(
        "quarter", pl.col("primaryid").cast(pl.Int64), pl.col("caseid").cast(pl.Int64),
        pl.col("detail").str.extract(r"drug_seq=(\d+)").cast(pl.Int64).alias("drug_seq"),
        pl.col("drug").alias("t_drug"), pl.col("value").cast(pl.Float64, strict=False).alias("t_daily"),
        pl.col("detail").str.extract(r"single_dose_mg=([\d.]*)").cast(pl.Float64, strict=False).alias("t_single"),
        pl.col("detail").str.extract(r"route_class=(\w+)").alias("t_route"),
        pl.col("subset").str.strip_prefix("dose_band=").alias("t_band"),
    )
    drugs = pl.read_parquet(home.cases / "drugs.parquet").join(  # the raw dose fields stay in staged/drug
        scan_table(home, "drug", ["dose_vbm", "dose_amt", "dose_unit", "dose_freq", "source_line", "quarter", "primaryid",
                                 "drug_seq"]).collect().with_columns(pl.col("primaryid", "drug_seq").cast(pl.Int64)),
        on=["quarter", "source_line", "primaryid", "drug_seq"], how="left")  # a repaired line holds two records
    rows = truth.join(drugs, on=["quarter", "primaryid", "drug_seq"], how="inner")
    # a combination product (CONTRAVE: bupropion\naltrexone) is one row per ingredient (rule drug-map):
    # the planted dose belongs to the planted ingredient's row
    parts = pl.len().over("quarter", "primaryid", "drug_seq")
    return request.param, home, truth, rows.filter((parts == 1) | (pl.col("ingredient") == pl.col("t_drug")))


def _same(a: str, b: str) -> pl.Expr:
    both_null = pl.col(a).is_null() & pl.col(b).is_null()
    close = ((pl.col(a) - pl.col(b)).abs() <= 1e-9 * pl.col(b).abs().clip(1.0)).fill_null(False)
    return both_null | close


def test_every_planted_dose_reads_as_planted(built):
    quarters, home, truth, rows = built
    # every planted row of a surviving report (rule latest-version) is found once, mapped to its
    # planted ingredient, in every quarter of the range
    cases = pl.read_parquet(home.cases / "cases.parquet", columns=["quarter", "primaryid"])
    surviving = truth.join(cases, on=["quarter", "primaryid"], how="semi")
    assert rows.height == surviving.height > 100 and (rows["ingredient"] == rows["t_drug"]).all()
    lo, hi = quarters.split("..")
    assert rows["quarter"].unique().sort().to_list() == cases["quarter"].unique().sort().to_list()
    for got, want in (("daily_dose_mg", "t_daily"), ("single_dose_mg", "t_single")):
        bad = rows.filter(~_same(got, want))
        assert bad.height == 0, bad.select("drugname", "dose_vbm", "dose_amt", "dose_unit", "dose_freq", got, want)
    assert (rows["route_class"] == rows["t_route"]).all()
    assert (rows["dose_band"] == rows["t_band"]).all()
    # the messes are really there (so the equalities above test them)
    text = rows["dose_vbm"].fill_null("")
    assert rows["single_dose_mg"].is_not_null().sum() >= 5
    assert (text.str.contains(r"TABLETS") & rows["daily_dose_mg"].is_not_null()).sum() >= 5
    it_blank = rows.filter((pl.col("route").fill_null("") == "") & (pl.col("route_class") == "intrathecal"))
    assert it_blank.height >= 5 and it_blank["drugname"].str.to_uppercase().str.contains("GABLOFEN|INTRATHECAL").all()
    plain_it = rows.filter((pl.col("route_class") == "unknown") & pl.col("daily_dose_mg").lt(2.5)
                           & (pl.col("ingredient") == "baclofen"))
    assert plain_it.height >= 1 and (plain_it["dose_band"] == "unknown").all()  # ug/day never in "<=30"
    micro = {"\u00b5": "2012Q4", "\u03bc": "2020Q1", "\u039c": "2020Q1"}
    for sign, first in micro.items():
        if lo <= first <= hi:
            assert text.str.contains(sign).sum() >= 1, sign
            # the simulator writes these texts beside structured UG fields: read the text alone too
            # (many FDA rows carry only dose_vbm; upper-casing the text gives "ΜG", which the old rule missed)
            alone = with_doses(rows.filter(text.str.contains(sign)).select(
                "drugname", "dose_vbm", "t_daily",
                *(pl.lit(None, dtype=pl.Utf8).alias(c) for c in ("dose_amt", "dose_unit", "dose_freq")))).select(
                "daily_dose_mg", "t_daily").drop_nulls()
            assert alone.height >= 1 and alone.select(_same("daily_dose_mg", "t_daily").all()).item(), (sign, alone)
    bands = set(rows.filter(pl.col("ingredient") == "baclofen")["dose_band"])
    assert {"IT<=1000ug", "<=30", "30-80"} <= bands
    assert not (rows.filter(pl.col("route_class") == "intrathecal")["dose_band"].is_in(["<=30", "30-80", "80-150", ">150"])).any()
    assert set(rows.filter(pl.col("ingredient") == "gabapentin")["dose_band"]) <= {"<=3600", ">3600", "unknown"}


def test_signal_dose_band_subsets_count_the_planted_bands(built):
    _, home, truth, rows = built
    run = run_signals(home, SignalOptions(drugs=["baclofen", "gabapentin"], subsets=("dose_band",)))
    signals = pl.read_parquet(run / "signals.parquet").filter(pl.col("subset").str.starts_with("dose_band="))
    got = {(d, s): n for d, s, n in signals.group_by("drug", "subset").agg((pl.col("a") + pl.col("b")).max()).iter_rows()}
    # expected: the signal engine's reports (suspect PS/SS, not flagged duplicates, with a reaction) by PLANTED band
    cases = pl.read_parquet(home.cases / "cases.parquet").filter(~pl.col("dup_flag")).select("caseid")
    reacting = pl.read_parquet(home.cases / "reactions.parquet").select("caseid").unique()
    suspect = rows.filter(pl.col("role_cod").is_in(["PS", "SS"]) & pl.col("t_drug").is_in(["baclofen", "gabapentin"]))
    suspect = suspect.join(cases, on="caseid", how="semi").join(reacting, on="caseid", how="semi")
    want = {(d, f"dose_band={b}"): n for d, b, n in suspect.group_by("t_drug", "t_band").agg(pl.col("caseid").n_unique()).iter_rows()}
    assert want and got == want
