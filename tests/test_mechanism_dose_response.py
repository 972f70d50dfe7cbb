"""Dose-response by domain: exact report counts per dose band and the trend test."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from mechanism_fixtures import (
    BACKGROUND_REPORTS, BACKGROUND_TINNITUS, TINNITUS_PER_BAND, UNKNOWN_DOSE_REPORTS, write_dose_cases,
)
from pv.config import Home
from pv.mechanism.dose_response import band_counts, band_rows_from_signals, band_signals, cochran_armitage, trends


def test_band_counts_are_exact_report_counts(tmp_path):
    write_dose_cases(tmp_path / "cases")
    counts = band_counts(Home.at(tmp_path), "Baclofen")
    exposed = 4 * 200 + UNKNOWN_DOSE_REPORTS
    # The engine's background: of the reports without suspect baclofen, every third names
    # baclofen only as concomitant and has no suspect drug at all, so it is not counted.
    others = [i for i in range(BACKGROUND_REPORTS) if i % 3]
    c = sum(1 for i in others if i < BACKGROUND_TINNITUS)  # Tinnitus reports without suspect baclofen
    n_all = exposed + len(others)
    for level, event in (("pt", "Tinnitus"), ("domain", "sensory")):
        rows = counts.filter((pl.col("event") == event) & (pl.col("level") == level))
        assert rows["dose_band"].to_list() == ["<=30", "30-80", "80-150", ">150", "unknown"]
        for band, a in TINNITUS_PER_BAND.items():
            row = rows.filter(pl.col("dose_band") == band).row(0, named=True)
            assert (row["a"], row["b"], row["c"], row["d"]) == (a, 200 - a, c, n_all - exposed - c)
            assert math.isclose(row["expected"], 200 * (a + c) / (200 + n_all - exposed))
    vertigo = counts.filter((pl.col("event") == "coordination") & (pl.col("dose_band") == "unknown")).row(0, named=True)
    assert (vertigo["a"], vertigo["b"], vertigo["c"]) == (5, UNKNOWN_DOSE_REPORTS - 5, 0)


def test_trend_rises_for_tinnitus_and_ignores_unknown_doses(tmp_path):
    write_dose_cases(tmp_path / "cases")
    table = trends(band_counts(Home.at(tmp_path), "baclofen"))
    row = table.filter((pl.col("event") == "Tinnitus") & (pl.col("level") == "pt")).row(0, named=True)
    assert row["bands"] == "<=30, 30-80, 80-150, >150" and row["reports"] == 800
    assert row["events"] == sum(TINNITUS_PER_BAND.values())
    assert row["ca_z"] > 3 and row["p_trend"] < 0.001 and row["verdict"] == "rises with dose band"
    # Coordination only occurs in reports with unknown dose: nothing to test across bands.
    coord = table.filter(pl.col("event") == "coordination").row(0, named=True)
    assert coord["events"] == 0 and coord["verdict"] == "not testable"
    assert "hypothesis-generating" in row["caveat"]


def test_cochran_armitage_equals_n_r_squared():
    # Reference: the Cochran-Armitage statistic equals sqrt(N) * Pearson r between the score
    # and the 0/1 outcome over individual reports.
    a = np.array([4.0, 6, 14, 30])
    n = np.array([200.0, 180, 220, 150])
    s = np.array([1.0, 2, 3, 4])
    scores = np.repeat(s, n.astype(int))
    outcome = np.concatenate([np.r_[np.ones(int(k)), np.zeros(int(m - k))] for k, m in zip(a, n)])
    r = np.corrcoef(scores, outcome)[0, 1]
    z, p = cochran_armitage(a, n, s)
    assert math.isclose(z, math.sqrt(n.sum()) * r, rel_tol=1e-12)
    assert math.isclose(p, 0.5 * math.erfc(z / math.sqrt(2)), rel_tol=1e-9)
    flat_z, flat_p = cochran_armitage(np.array([10.0, 10, 10, 10]), np.array([100.0] * 4), s)
    assert flat_z == 0 and flat_p == 0.5


def test_band_signal_rows_carry_the_signal_table_measures(tmp_path):
    write_dose_cases(tmp_path / "cases")
    rows = band_signals(band_counts(Home.at(tmp_path), "baclofen")).filter(
        (pl.col("event") == "Tinnitus") & (pl.col("level") == "pt"))
    assert rows["subset"].to_list() == [f"dose_band={b}" for b in ("<=30", "30-80", "80-150", ">150", "unknown")]
    top = rows.filter(pl.col("dose_band") == ">150").row(0, named=True)
    # methods.md: IC = log2((a + 0.5) / (E + 0.5)); PRR = [a/(a+b)] / [c/(c+d)].
    assert math.isclose(top["ic"], math.log2((top["a"] + 0.5) / (top["expected"] + 0.5)), rel_tol=1e-12)
    assert math.isclose(top["prr"], (top["a"] / (top["a"] + top["b"])) / (top["c"] / (top["c"] + top["d"])), rel_tol=1e-12)
    assert top["ebgm"] is None
    assert rows["ic"].to_list()[:4] == sorted(rows["ic"].to_list()[:4])


def test_signal_engine_band_rows_give_the_same_trend(tmp_path):
    # Rows shaped as the signal engine writes them (subset dose_band=<band>) are read back
    # into the band layout and give the same trend as counting from the cases.
    write_dose_cases(tmp_path / "cases")
    counted = band_counts(Home.at(tmp_path), "baclofen")
    engine_rows = band_signals(counted).drop("dose_band", "band_score", "proportion").with_columns(
        pl.when(pl.col("level") == "domain").then("domain:" + pl.col("event")).otherwise("event").alias("event"))
    engine_rows = pl.concat([engine_rows, engine_rows.with_columns(pl.lit("naltrexone").alias("drug"))])
    # The engine writes no row where a = 0; those zeros are restored from the band sizes.
    dropped = engine_rows.filter(pl.col("a") == 0)
    assert dropped.height > 0
    again = band_rows_from_signals(engine_rows.filter(pl.col("a") > 0), "baclofen")
    assert again.height == counted.height
    assert again.filter(pl.col("a") == 0).height == dropped.height // 2
    assert trends(again).equals(trends(counted))
