"""``pvmon stats``: the signal engine on any long table of reports, or a table of counts.

Users bring VAERS, CAERS or their own database as CSV or Parquet:
- one row per report × drug × event (``--id``): report-based counts (pv.signals.counts);
- or one row per drug × event with a count (``--count``): margins are sums of counts, as
  PhViD and vigipy count.
The output has the signal table's columns (CSV or Parquet by the file's extension) and a
``<out>.run.json`` beside it with inputs, options, the prior fit and the code version.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import polars as pl

from pv.atomic import atomic_path
from pv.errors import PvError
from pv.inert import write_csv
from pv.signals import counts as counting
from pv.signals.frequentist import ZERO_CELL_RULE
from pv.signals.prior import PriorSettings
from pv.signals.provenance import code_version, file_fingerprint, utc_now, write_run_json
from pv.signals.table import compute
from pv.signals.thresholds import PRESETS


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith((".parquet", ".pq"))


def scan_table(path: Path) -> pl.LazyFrame:
    """Lazy scan of a CSV (optionally .gz) or Parquet file, by extension."""
    if not path.is_file():
        raise PvError(f"{path}: no such file")
    if _is_parquet(path):
        return pl.scan_parquet(path)
    if path.name.lower().endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        sep = "\t" if path.name.lower().endswith(".tsv") else ","
        return pl.scan_csv(path, separator=sep, infer_schema_length=10000)
    raise PvError(f"{path}: unknown file type (expected .csv, .csv.gz, .tsv or .parquet)")


def _check_columns(path: Path, frame: pl.LazyFrame, wanted: list[str]) -> None:
    try:
        present = set(frame.collect_schema().names())
    except Exception as err:  # polars raises many error types for unreadable files
        raise PvError(f"{path}: cannot read ({type(err).__name__}: {err})") from None
    missing = [c for c in wanted if c not in present]
    if missing:
        raise PvError(f"{path}: no column {', '.join(missing)} (has {', '.join(sorted(present))})")


def write_table(frame: pl.DataFrame, out: Path) -> None:
    """Write CSV or Parquet (by extension) atomically."""
    with atomic_path(out) as tmp:
        if _is_parquet(out):
            frame.write_parquet(tmp)
        else:
            write_csv(frame, tmp)


def run_stats(input_path: Path, *, id_col: str | None, drug_col: str, event_col: str,
              count_col: str | None = None, strata: list[str] | None = None, out: Path | None = None,
              settings: PriorSettings | None = None, ror_min_a: int = 3) -> dict:
    """Count, fit, measure, flag; write the table (or CSV to stdout) and its run.json."""
    started = time.perf_counter()
    settings = settings or PriorSettings()
    strata = [s for s in (strata or []) if s]
    if (id_col is None) == (count_col is None):
        raise PvError("stats: give exactly one of --id (reports) or --count (drug × event counts)")
    if out is not None and not (_is_parquet(Path(out)) or Path(out).name.lower().endswith(".csv")):
        raise PvError(f"{out}: --out must end in .csv or .parquet (the format follows the extension)")
    input_path = Path(input_path)
    frame = scan_table(input_path)
    key = id_col if count_col is None else count_col
    _check_columns(input_path, frame, [key, drug_col, event_col, *strata])
    try:
        if count_col is None:
            table = counting.long_table_counts(frame, id_col, drug_col, event_col, strata)
        else:
            table = counting.pair_counts(frame, drug_col, event_col, count_col, strata)
    except pl.exceptions.PolarsError as err:
        raise PvError(f"{input_path}: cannot count ({type(err).__name__}: {err})") from None
    signals, report = compute(table, settings, ror_min_a=ror_min_a)
    record = {
        "kind": "pvmon stats",
        "created": utc_now(),
        "inputs": [file_fingerprint(input_path)],
        "options": {"id": id_col, "drug": drug_col, "event": event_col, "count": count_col, "strata": strata,
                    "counting": table.basis, "prior": settings.to_dict(), "ror_min_a": ror_min_a},
        "counts": {"cells": len(table.cells), "drugs": len(table.drug_names), "events": len(table.event_names),
                   "total": float(table.totals.sum()), "strata": len(table.totals)},
        "gps_fit": report.to_dict(),
        "ebgm_published": bool(signals["ebgm"].is_not_null().any()),
        "zero_cell_rule": ZERO_CELL_RULE,
        "thresholds": PRESETS,
        "code": code_version(),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if out is None:
        write_csv(signals, sys.stdout)
    else:
        out = Path(out)
        write_table(signals, out)
        write_run_json(out.with_name(out.name + ".run.json"), record)
    return record
