"""Reading a simulator's ground_truth.csv in tests."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def funnel_totals(sim: Path) -> dict[str, int]:
    """The ground truth's total funnel: stage -> count, in the file's order."""
    truth = pl.read_csv(sim / "ground_truth.csv", infer_schema_length=0).filter(
        (pl.col("kind") == "funnel") & (pl.col("quarter") == "total"))
    return dict(zip(truth["detail"], truth["value"].cast(pl.Int64)))
