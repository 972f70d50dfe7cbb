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
from scipy import sparse

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


def _coded(frame: pl.DataFrame, column: str) -> tuple[pl.Series, np.ndarray]:
    """The column's distinct values, sorted, and each row's index into them."""
    names = frame[column].unique().sort()
    codes = frame.select(pl.col(column).cast(pl.Enum(names)).to_physical().cast(pl.Int64)).to_series()
    return names, codes.to_numpy()


def _margins(codes: np.ndarray, strata: np.ndarray, counts: np.ndarray | None, size: int, n_strata: int) -> np.ndarray:
    """(codes × strata) matrix of summed counts (None: one per row)."""
    weights = None if counts is None else counts.astype(np.float64)
    flat = np.bincount(codes.astype(np.int64) * n_strata + strata, weights=weights,
                       minlength=size * n_strata).astype(np.float64)
    return flat.reshape(size, n_strata)


def assemble(i: np.ndarray, j: np.ndarray, a: np.ndarray, drug_names: pl.Series, event_names: pl.Series,
             drug_m: np.ndarray, event_m: np.ndarray, totals: np.ndarray, basis: str, strata: list[str]) -> CountTable:
    """Cells (drug code i, event code j, count a) with their margins and (stratified) expected counts."""
    i, j = i.astype(np.int64), j.astype(np.int64)
    cells = pl.DataFrame({"drug": drug_names.gather(i), "event": event_names.gather(j), "a": a.astype(np.int64)})
    cells = cells.with_columns(
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
    event: with X the reports × drugs and Y the reports × events 0/1 matrices, the cells
    are the non-zero entries of XᵀY (one sparse product instead of a join of every drug
    row with every event row of its report), so a, b, c, d are always consistent (d >= 0).
    Names are coded to integers before the rows are deduplicated and joined (no per-row copy
    of a name), and each matrix is built and released in turn.
    """
    strata = list(strata or [])
    ids = stratum_codes(universe.select("id", *strata).unique(subset="id", keep="first"), strata)
    ids = ids.select("id", STRATUM).collect().with_row_index("_row")
    rows = ids.lazy().select("id", "_row")
    stratum = ids[STRATUM].to_numpy()
    n_reports = ids.height
    del ids
    n_strata = int(stratum.max()) + 1 if len(stratum) else 1
    drug_names, drug_report, i = coded_rows(drug_rows, "drug", rows)
    x = _indicator(drug_report, i, n_reports, len(drug_names))
    drug_m = _margins(i, stratum[drug_report], None, len(drug_names), n_strata)
    del drug_report, i
    event_names, event_report, j = coded_rows(event_rows, "event", rows)
    y = _indicator(event_report, j, n_reports, len(event_names))
    event_m = _margins(j, stratum[event_report], None, len(event_names), n_strata)
    del event_report, j
    cells = (x.T.tocsr() @ y).tocoo()
    del x, y
    return assemble(cells.row, cells.col, cells.data, drug_names, event_names, drug_m, event_m,
                    np.bincount(stratum, minlength=n_strata).astype(np.float64), "reports", strata)


def coded_rows(frame: pl.LazyFrame, column: str, rows: pl.LazyFrame, distinct: bool = False
               ) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    """(names, background row, name code) of the (id, name) rows of ``frame`` whose id is in ``rows``
    (id, _row), deduplicated unless ``distinct`` says they are already: names = the distinct names of
    those rows, sorted (as strings), codes (32-bit) index into them. The names are coded to integers before
    anything is joined (a join carries two integers per row, not a copy of the name); an Enum column
    is its own code (its categories sorted when it was built)."""
    kind = frame.collect_schema()[column]
    if isinstance(kind, pl.Enum):
        vocabulary, code = kind.categories, pl.col(column).to_physical()
    else:
        vocabulary = frame.select(pl.col(column).unique()).collect().to_series().cast(pl.String).sort()
        code = pl.col(column).cast(pl.Enum(vocabulary)).to_physical()
    coded = frame.select("id", code.alias("_c"))
    if not distinct:
        coded = distinct_pairs(coded, pl.col("_c"), len(vocabulary))
    coded = coded.join(rows, on="id").select("_row", pl.col("_c").cast(pl.Int32)).collect()
    report = coded["_row"].to_numpy()
    code = coded["_c"].to_numpy()
    del coded
    present = np.unique(code)
    names = vocabulary.gather(present).cast(pl.String).alias(column)
    return names, report, code if len(present) == len(vocabulary) else np.searchsorted(present, code).astype(np.int32)


def distinct_pairs(frame, code: pl.Expr, size: int):
    """Each (id, code) row of ``frame`` once (``code`` < ``size``). With integer ids, by one integer key
    per row (the first occurrence kept): a unique() over two columns holds several times the rows' size
    while it runs, the key's test does not."""
    if not frame.collect_schema()["id"].is_integer():
        return frame.unique()
    return frame.filter((pl.col("id").cast(pl.Int64) * size + code.cast(pl.Int64)).is_first_distinct())


def _indicator(report: np.ndarray, code: np.ndarray, n_reports: int, n_names: int) -> sparse.csr_matrix:
    """The reports × names 0/1 matrix of the (report, code) pairs (distinct)."""
    return sparse.csr_matrix((np.ones(len(code), dtype=np.int64), (report, code)), shape=(n_reports, n_names))


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
        strata).filter(pl.col("n") > 0).collect()
    if len(rows) == 0:
        raise PvError("pair counts: no positive counts")
    drug_names, i = _coded(rows, "drug")
    event_names, j = _coded(rows, "event")
    stratum = rows[STRATUM].to_numpy()
    n = rows["n"].to_numpy()
    n_strata = int(stratum.max()) + 1
    cells = pl.DataFrame({"_i": i, "_j": j, "n": n}).group_by("_i", "_j").agg(pl.col("n").sum())
    return assemble(cells["_i"].to_numpy(), cells["_j"].to_numpy(), cells["n"].to_numpy(), drug_names, event_names,
                    _margins(i, stratum, n, len(drug_names), n_strata), _margins(j, stratum, n, len(event_names), n_strata),
                    np.bincount(stratum, weights=n.astype(np.float64), minlength=n_strata), "pairs", strata)
