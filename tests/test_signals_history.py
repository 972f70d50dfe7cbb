"""Time as it happened (issue 10, rule time-as-received): the trend at quarter q counts what a
store holding only the quarters up to q counts, on simulated extracts with follow-up versions
received quarters after the first and deleted-case lists."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from pv.cases.build import build_cases
from pv.config import Home
from pv.faers.simulate import simulate
from pv.pipeline import ingest_stage
from pv.signals.faers import read_inputs, watchlist_drugs
from pv.signals.run import SignalOptions, run_signals

#: what ``pvmon signals`` reports by default (the watchlist), and two frequent background drugs
DRUGS = [*watchlist_drugs(), "aspirin", "tramadol"]
#: legacy -> FAERS across 2012 (issue 10's window), and the first quarters with deleted lists
WINDOWS = {"2011Q4..2014Q4": (450, 3), "2018Q3..2019Q3": (700, 5)}
COUNTS = ["a", "b", "c", "d"]


def options():
    return SignalOptions(drugs=DRUGS)  # pvmon signals' defaults otherwise (subsets, strata, roles, prior)


@pytest.fixture(scope="module", params=list(WINDOWS))
def store(request, tmp_path_factory):
    per, seed = WINDOWS[request.param]
    root = tmp_path_factory.mktemp("history")
    simulate(root / "zips", request.param, per, seed)
    home = Home.at(root / "full")
    ingest_stage(home, sorted((root / "zips").glob("*.zip")))
    build_cases(home)
    run = run_signals(home, options(), run_id="full")
    truth = pl.read_csv(root / "zips" / "ground_truth.csv", infer_schema_length=0)
    return root, home, run, truth


def up_to(full: Home, quarter: str, root: Path) -> Home:
    """A store holding only the staged quarters up to ``quarter`` (hard links to the full store's files)."""
    home = Home.at(root)
    for table in full.staged.iterdir():
        for part in table.glob("quarter=*"):
            if part.name.split("=", 1)[1] <= quarter:
                shutil.copytree(part, home.staged / table.name / part.name, copy_function=os.link)
    return home


def all_reports(frame: pl.DataFrame) -> pl.DataFrame:
    # PT spellings may be chosen per store (legacy upper case vs MedDRA case): compare case-insensitively
    return (frame.filter(subset="all").with_columns(pl.col("event").str.to_lowercase())
            .select("drug", "event", "level", *COUNTS, "expected"))


def test_late_follow_ups_count_from_the_quarter_they_were_received(store):
    _, home, _, truth = store
    later = truth.filter(kind="received_later").select(pl.col("caseid").cast(pl.Int64), "quarter")
    deleted = truth.filter(kind="deleted_case").select(pl.col("caseid").cast(pl.Int64), pl.col("quarter").alias("gone"))
    later = later.join(deleted, on="caseid", how="left").filter(
        pl.col("gone").is_null() | (pl.col("quarter") < pl.col("gone"))).drop("gone")
    assert later.height > 50
    past = pl.read_parquet(home.cases / "history" / "cases.parquet")
    current = pl.read_parquet(home.cases / "cases.parquet")
    records = pl.concat([past.select("caseid", "quarter", "valid_to"),
                         current.select("caseid", "quarter", pl.lit(None, dtype=pl.Utf8).alias("valid_to"))])
    # every planted late follow-up starts a record in the quarter it was received ...
    assert later.join(records, on=["caseid", "quarter"], how="anti").height == 0
    # ... and the version before it stops counting exactly then
    ended = past.join(later.rename({"quarter": "valid_to"}), on=["caseid", "valid_to"], how="semi")
    assert ended.height >= later.join(records.group_by("caseid").agg(pl.col("quarter").min()),
                                      on=["caseid", "quarter"], how="anti").height
    # a record ends when the case is superseded or deleted, never before it starts
    assert (past["quarter"] < past["valid_to"]).all()
    # the current records are exactly the surviving cases (no case counted twice at the end)
    assert current["caseid"].n_unique() == current.height
    assert past.join(current, on=["caseid", "quarter"], how="semi").height == 0


def test_trend_at_each_quarter_equals_a_store_holding_only_the_quarters_up_to_it(store, tmp_path):
    root, home, run, _ = store
    trend = pl.read_parquet(run / "trend.parquet")
    quarters = sorted(p.name.split("=", 1)[1] for p in (home.staged / "demo").glob("quarter=*"))
    assert trend["quarter"].unique().sort().to_list() == quarters
    moved = 0
    for q in quarters:
        then = up_to(home, q, tmp_path / q)
        build_cases(then)
        table = pl.read_parquet(run_signals(then, options(), run_id="then") / "signals.parquet")
        expected = all_reports(table)
        got = all_reports(trend.filter(quarter=q))
        both = expected.join(got, on=["drug", "event", "level"], how="full", coalesce=True, suffix="_trend")
        assert both.height == expected.height == got.height, q  # the same cells ...
        for col in COUNTS:  # ... with the same report counts
            assert (both[col] == both[f"{col}_trend"]).all(), (q, col)
        assert ((both["expected"] - both["expected_trend"]).abs() <= 1e-9 * both["expected"]).all(), q
        # the background then, against the old rule (each surviving case counted from the quarter of
        # its final version): follow-ups and deletions change what was known at some quarters
        n = got.select((pl.col("a") + pl.col("b") + pl.col("c") + pl.col("d")).max()).item()
        assert n == read_inputs(then).universe.height
        moved += n != read_inputs(home).universe.filter(pl.col("quarter") <= q).height
    assert moved > 0
