"""End to end: pvmon simulate -> ingest -> cases. The dedup funnel must equal the simulator's
ground truth exactly, per quarter and in total, across the legacy->FAERS switch (FAERS beats
legacy), the deleted lists (2019Q1 with AllDeletedCases) and multi-row drugs (2024Q4+)."""

from __future__ import annotations

import polars as pl
import pytest

from sim_truth import simulated_cases

RANGES = ("2012Q2..2013Q1", "2018Q4..2019Q2", "2024Q3..2024Q4")


@pytest.fixture(scope="module", params=RANGES)
def built(request, tmp_path_factory):
    return simulated_cases(tmp_path_factory, request.param, 1500, seed=7)


def test_funnel_equals_ground_truth(built):
    home, truth = built
    expected = {(r["quarter"], r["detail"]): int(r["value"])
                for r in truth.filter(pl.col("kind") == "funnel").iter_rows(named=True)}
    got = {(r["quarter"], r["stage"]): r["count"]
           for r in pl.read_parquet(home.cases / "funnel.parquet").iter_rows(named=True)}
    assert got == expected


def test_planted_duplicates_and_deletions(built):
    home, truth = built
    cases = pl.read_parquet(home.cases / "cases.parquet")
    dups = truth.filter(pl.col("kind") == "true_duplicate").select(
        pl.col("caseid").cast(pl.Int64), pl.col("detail").cast(pl.Int64).alias("original"))
    flagged = cases.filter(pl.col("dup_flag")).select("caseid", "dup_of")
    # every flag is a planted copy pointing at its original (planted pairs with a junk age or
    # no country cannot be found by the rule; the funnel test checks their number exactly)
    assert flagged.height > 0
    assert set(flagged.rows()) <= set(dups.rows())
    deleted = truth.filter(pl.col("kind") == "deleted_case")["caseid"].cast(pl.Int64)
    assert cases.filter(pl.col("caseid").is_in(deleted.implode())).height == 0


def test_children_only_for_surviving_cases(built):
    home, _ = built
    cases = pl.read_parquet(home.cases / "cases.parquet").select("caseid", "primaryid", "quarter")
    for name in ("drugs", "reactions", "indications"):
        child = pl.read_parquet(home.cases / f"{name}.parquet")
        assert child.join(cases, on=["caseid", "primaryid", "quarter"], how="anti").height == 0, name
    drugs = pl.read_parquet(home.cases / "drugs.parquet")
    assert drugs.filter(pl.col("ingredient") == "baclofen").height > 0
