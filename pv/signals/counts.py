"""Report-based 2×2 counts and margins (methods.md: count REPORTS, not pair rows).

Two ways in, one result (``CountTable``):

- ``report_counts``: from reports. a = distinct reports naming the drug and the event;
  n_i. = distinct reports naming the drug; n_.j = distinct reports naming the event;
  n.. = distinct reports in the universe. A report naming a drug twice or a PT twice
  counts once. With strata, every margin is also split by the report's stratum.
- ``pair_counts``: from a table of drug × event counts (PhViD / vigipy convention):
  a = the count, margins are sums of counts.

Then b = n_i. − a, c = n_.j − a, d = n.. − a − b − c.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from pv.errors import PvError
from pv.signals.strata import expected_counts

STRATUM = "_stratum"


@dataclass
class CountTable:
    """Observed cells plus the per-stratum margins they were counted against."""

    cells: pl.DataFrame  # drug, event, a, n_drug, n_event, n_total, expected
    drug_names: pl.Series
    event_names: pl.Series
    drug_margins: np.ndarray  # drugs × strata
    event_margins: np.ndarray  # events × strata
    totals: np.ndarray  # strata
    basis: str  # "reports" or "pairs"
    strata: list[str] = field(default_factory=list)

    def two_by_two(self) -> pl.DataFrame:
        """The cells with b, c, d added."""
        return self.cells.with_columns(
            b=pl.col("n_drug") - pl.col("a"),
            c=pl.col("n_event") - pl.col("a"),
        ).with_columns(d=pl.col("n_total") - pl.col("a") - pl.col("b") - pl.col("c"))


def stratum_codes(frame: pl.LazyFrame, strata: list[str]) -> pl.LazyFrame:
    """Add ``_stratum``: a dense 0-based code of the strata columns' combination (null is a level)."""
    if not strata:
        return frame.with_columns(pl.lit(0, dtype=pl.Int64).alias(STRATUM))
    return frame.with_columns(
        (pl.struct([pl.col(s).cast(pl.Utf8) for s in strata]).rank("dense") - 1).cast(pl.Int64).alias(STRATUM)
    )


def _dense(long: pl.DataFrame, names: pl.Series, key: str, n_strata: int) -> np.ndarray:
    """Scatter (key, stratum, n) rows into a names × strata matrix."""
    index = pl.DataFrame({key: names, "_row": np.arange(len(names))})
    rows = long.join(index, on=key, how="inner")
    out = np.zeros((len(names), n_strata), dtype=np.float64)
    np.add.at(out, (rows["_row"].to_numpy(), rows[STRATUM].to_numpy()), rows["n"].to_numpy().astype(np.float64))
    return out


def assemble(cells: pl.DataFrame, drug_long: pl.DataFrame, event_long: pl.DataFrame,
             total_long: pl.DataFrame, basis: str, strata: list[str]) -> CountTable:
    """Margins as matrices, margins joined to the cells, and the (stratified) expected counts."""
    n_strata = int(total_long[STRATUM].max()) + 1 if len(total_long) else 1
    drug_names = drug_long["drug"].unique().sort()
    event_names = event_long["event"].unique().sort()
    drug_m = _dense(drug_long, drug_names, "drug", n_strata)
    event_m = _dense(event_long, event_names, "event", n_strata)
    totals = np.zeros(n_strata)
    np.add.at(totals, total_long[STRATUM].to_numpy(), total_long["n"].to_numpy().astype(np.float64))
    drug_idx = pl.DataFrame({"drug": drug_names, "_i": np.arange(len(drug_names))})
    event_idx = pl.DataFrame({"event": event_names, "_j": np.arange(len(event_names))})
    cells = cells.join(drug_idx, on="drug", how="inner").join(event_idx, on="event", how="inner")
    i = cells["_i"].to_numpy()
    j = cells["_j"].to_numpy()
    cells = cells.drop("_i", "_j").with_columns(
        n_drug=pl.Series(drug_m.sum(axis=1)[i].round().astype(np.int64)),
        n_event=pl.Series(event_m.sum(axis=1)[j].round().astype(np.int64)),
        n_total=pl.lit(int(round(totals.sum())), dtype=pl.Int64),
        expected=pl.Series(expected_counts(i, j, drug_m, event_m, totals)),
    )
    return CountTable(cells, drug_names, event_names, drug_m, event_m, totals, basis, list(strata))


def report_counts(drug_rows: pl.LazyFrame, event_rows: pl.LazyFrame, universe: pl.LazyFrame,
                  strata: list[str] | None = None) -> CountTable:
    """Distinct-report counts from drug_rows (id, drug), event_rows (id, event) and the
    universe (id [, strata...]): one row per report in the background.

    a counts the reports whose drug set holds the drug and whose event set holds the
    event (the per-report cross product), so a, b, c, d are always consistent (d >= 0).
    """
    strata = list(strata or [])
    universe = stratum_codes(universe.select("id", *strata).unique(subset="id", keep="first"), strata)
    ids = universe.select("id", STRATUM)
    drugs = drug_rows.select("id", "drug").unique().join(ids.select("id"), on="id")
    events = event_rows.select("id", "event").unique().join(ids.select("id"), on="id")
    cells = drugs.join(events, on="id").group_by("drug", "event").agg(a=pl.len().cast(pl.Int64))
    drug_long = drugs.join(ids, on="id").group_by("drug", STRATUM).agg(n=pl.len())
    event_long = events.join(ids, on="id").group_by("event", STRATUM).agg(n=pl.len())
    total_long = ids.group_by(STRATUM).agg(n=pl.len())
    cells, drug_long, event_long, total_long = pl.collect_all([cells, drug_long, event_long, total_long])
    return assemble(cells, drug_long, event_long, total_long, "reports", strata)


def long_table_counts(long: pl.LazyFrame, id_col: str, drug_col: str, event_col: str,
                      strata: list[str] | None = None) -> CountTable:
    """Counts from one long table (one row per report × drug × event), e.g. VAERS or CAERS.

    Each report's drug set and event set are taken from its rows, so a table that lists
    only some drug × event combinations of a report is read as the full cross product."""
    strata = list(strata or [])
    triples = long.select(pl.col(id_col).alias("id"), pl.col(drug_col).cast(pl.Utf8).alias("drug"),
                          pl.col(event_col).cast(pl.Utf8).alias("event"), *strata)
    triples = triples.drop_nulls(["id", "drug", "event"])
    return report_counts(triples.select("id", "drug"), triples.select("id", "event"),
                         triples.select("id", *strata), strata)


def pair_counts(table: pl.LazyFrame, drug_col: str, event_col: str, count_col: str,
                strata: list[str] | None = None) -> CountTable:
    """Counts from a drug × event count table: margins are sums of counts (PhViD, vigipy)."""
    strata = list(strata or [])
    rows = stratum_codes(
        table.select(pl.col(drug_col).cast(pl.Utf8).alias("drug"), pl.col(event_col).cast(pl.Utf8).alias("event"),
                     pl.col(count_col).cast(pl.Int64).alias("n"), *strata).drop_nulls(["drug", "event", "n"]),
        strata).filter(pl.col("n") > 0)
    cells = rows.group_by("drug", "event").agg(a=pl.col("n").sum())
    drug_long = rows.group_by("drug", STRATUM).agg(pl.col("n").sum())
    event_long = rows.group_by("event", STRATUM).agg(pl.col("n").sum())
    total_long = rows.group_by(STRATUM).agg(pl.col("n").sum())
    cells, drug_long, event_long, total_long = pl.collect_all([cells, drug_long, event_long, total_long])
    if len(cells) == 0:
        raise PvError("pair counts: no positive counts")
    return assemble(cells, drug_long, event_long, total_long, "pairs", strata)
