"""Dose-response by domain: exact counts per oral mg/day band, intrathecal apart, exact trend tests."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from mechanism_fixtures import INTRATHECAL_REPORTS, TINNITUS_PER_BAND, UNKNOWN_DOSE_REPORTS, write_dose_cases
from pv.config import Home
from pv.mechanism.dose_response import (
    band_table, clopper_pearson, dose_outputs, event_reports, exact_trend, exposed_reports, tinnitus_claim, trends,
)


def test_bands_are_exact_counts_with_intervals_and_intrathecal_apart(tmp_path):
    write_dose_cases(tmp_path / "cases")
    home = Home.at(tmp_path)
    exposed, excluded = exposed_reports(home, "Baclofen")
    assert excluded == {"reports": 4 * 200 + INTRATHECAL_REPORTS + UNKNOWN_DOSE_REPORTS,
                        "with_scaled_dose": 4 * 200 + INTRATHECAL_REPORTS,
                        "no_dose_or_other_route": UNKNOWN_DOSE_REPORTS}
    bands = band_table(exposed, event_reports(home), "baclofen")
    tinnitus = bands.filter((pl.col("event") == "Tinnitus") & (pl.col("scale") == "oral mg/day"))
    assert tinnitus["dose_band"].to_list() == list(TINNITUS_PER_BAND)
    assert tinnitus["a"].to_list() == list(TINNITUS_PER_BAND.values()) and tinnitus["n"].to_list() == [200] * 4
    it = bands.filter((pl.col("event") == "motor_tone") & (pl.col("scale") == "intrathecal ug/day"))
    assert it.select("dose_band", "n", "a").rows() == [("100-300", INTRATHECAL_REPORTS, 10)]
    assert (bands["share_lo"] <= bands["share"]).all() and (bands["share"] <= bands["share_hi"]).all()
    lo, hi = clopper_pearson(np.array([4, 0]), np.array([200, 200]))
    assert np.allclose([lo[0], hi[0]], stats.binomtest(4, 200).proportion_ci(method="exact"))
    assert lo[1] == 0 and np.isclose(hi[1], stats.binomtest(0, 200).proportion_ci(method="exact").high)


def test_exact_trend_finds_the_rise_and_bh_q_is_at_least_p(tmp_path):
    write_dose_cases(tmp_path / "cases")
    bands, trend, text = dose_outputs(Home.at(tmp_path), ["baclofen"])
    row = trend.filter((pl.col("event") == "Tinnitus") & (pl.col("scale") == "oral mg/day")).row(0, named=True)
    assert row["n_per_band"] == "200, 200, 200, 200" and row["events"] == sum(TINNITUS_PER_BAND.values())
    assert row["p_trend"] < 0.001 and row["verdict"] == "rises with dose (q < 0.05)"
    tested = trend.filter(pl.col("p_trend").is_not_null())
    assert ((tested["q_bh"] >= tested["p_trend"]) & (tested["q_bh"] <= 1) & (tested["p_trend"] > 0)).all()
    assert "intrathecal ug/day" in text and "never pooled" in text


def test_exact_trend_is_calibrated_under_no_trend():
    rng = np.random.default_rng(4)
    n = np.array([12, 9, 6, 3])  # small counts: where the normal approximation fails
    ps = [exact_trend(rng.binomial(n, 0.2), n, np.arange(1.0, 5.0), rng) for _ in range(300)]
    ps = [p for p in ps if p is not None]
    assert np.mean(np.array(ps) < 0.05) <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / len(ps))


def test_tinnitus_claim_tested_as_stated(tmp_path):
    write_dose_cases(tmp_path / "cases")
    home = Home.at(tmp_path)
    exposed, _ = exposed_reports(home, "baclofen")
    claim = tinnitus_claim(exposed, event_reports(home), "baclofen")
    # 200 reports at 200 mg/day (30 with Tinnitus) vs 200 at 60 mg/day (6 with Tinnitus)
    assert (claim["high_n"], claim["high_a"], claim["low_n"], claim["low_a"]) == (200, 30, 200, 6)
    assert claim["p"] == stats.fisher_exact([[30, 170], [6, 194]], alternative="greater").pvalue
    assert claim["high_lo"] <= claim["high_share"] <= claim["high_hi"]


def test_trends_table_from_band_rows():
    bands = pl.DataFrame({
        "drug": "baclofen", "scale": "oral mg/day", "event": "sensory", "level": "domain",
        "dose_band": ["<=30", "30-80", "80-150", ">150"], "band_score": [1, 2, 3, 4], "n": [10, 10, 10, 10],
        "a": [0, 0, 0, 0], "share": [0.0] * 4, "share_lo": [0.0] * 4, "share_hi": [0.3] * 4,
    })
    row = trends(bands).row(0, named=True)
    assert row["p_trend"] is None and row["verdict"].startswith("not testable")
