"""Reading a simulator's ground_truth.csv in tests."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def funnel_totals(sim: Path) -> dict[str, int]:
    """The ground truth's total funnel: stage -> count, in the file's order."""
    truth = pl.read_csv(sim / "ground_truth.csv", infer_schema_length=0).filter(
        (pl.col("kind") == "funnel") & (pl.col("quarter") == "total"))
    return dict(zip(truth["detail"], truth["value"].cast(pl.Int64)))


def simulated_cases(tmp_path_factory, quarters: str, reports_per_quarter: int, seed: int):
    """simulate -> ingest -> cases in fresh folders; (home, ground truth read as text)."""
    from pv.cases.build import build_cases
    from pv.config import Home
    from pv.faers.simulate import simulate
    from pv.lake.ingest import ingest_paths

    src = tmp_path_factory.mktemp("sim")
    simulate(src, quarters, reports_per_quarter=reports_per_quarter, seed=seed)
    home = Home(tmp_path_factory.mktemp("home"))
    report = ingest_paths(home, [src])
    assert report.errors == [] and report.staged
    build_cases(home)
    return home, pl.read_csv(src / "ground_truth.csv", infer_schema=False)
