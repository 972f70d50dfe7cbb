"""What a nightly signals increment may rely on (issue 16, rule prefix-stable of pv.signals.cumulative):
adding a quarter leaves every older quarter's trend rows unchanged to the last bit, counts, expected
counts and every measure that does not depend on the GPS prior (the prior is refitted on the new
counts, so EBGM, EB05 and their flag move with it). Checked night after night on simulated quarters
that carry follow-up versions and deleted-case lists naming cases built before."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from pv import pipeline
from pv.cases.build import build_cases
from pv.config import Home
from pv.signals.trend import KEYS
from test_increment import DRUGS, FIRST, sim, zips  # noqa: F401  (sim: the simulated quarters, a fixture)

ADDED = ["2019Q2", "2019Q3", "2019Q4", "2020Q1"]
#: trend columns that depend on the counts alone (the prior's: ebgm, eb05, flag_eb05)
PRIOR_FREE = ["a", "b", "c", "d", "expected", "prr", "prr_lo", "chi2", "ror", "ror_lo", "ic", "ic025",
              "flag_evans", "flag_ror025", "flag_ic025"]


def test_a_new_quarter_leaves_every_older_trend_row_unchanged(sim, tmp_path):
    truth = pl.read_csv(sim / "ground_truth.csv", infer_schema=False)
    home = Home.at(tmp_path / "pvdata")
    pipeline.ingest_stage(home, zips(sim, FIRST))
    build_cases(home)
    before = pl.read_parquet(Path(pipeline.signals_stage(home, DRUGS)) / "trend.parquet")
    for added in ADDED:
        cases = set(pl.read_parquet(home.cases / "cases.parquet")["caseid"].to_list())
        pipeline.ingest_stage(home, zips(sim, [added]))
        build_cases(home)
        after = pl.read_parquet(Path(pipeline.signals_stage(home, DRUGS)) / "trend.parquet")
        assert after["quarter"].max() == added
        older = after.filter(pl.col("quarter") < added)
        assert older.height == before.height > 0
        assert_frame_equal(older.select(*KEYS, "quarter", *PRIOR_FREE), before.select(*KEYS, "quarter", *PRIOR_FREE),
                           check_exact=True)
        # the quarter carried what moves counts at it: deleted lists and follow-ups of cases built before
        deleted, later = ({int(c) for c in truth.filter((pl.col("kind") == kind) & (pl.col("quarter") == added))
                           ["caseid"]} for kind in ("deleted_case", "received_later"))
        assert deleted & cases and later & cases, added
        before = after
