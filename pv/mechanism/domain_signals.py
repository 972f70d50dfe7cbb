"""Domain-level signal rows computed from cases/ when a signals run has none (fallback).

Domain-level signals belong to the signal engine (``level = domain``, fed by
``pv.vocab.receptors.pt_domains``). Until a signals run carries them, the mechanism stage
computes them here with the engine's public functions only, so the numbers are defined
exactly as the engine defines them:

- reports, not pairs (``pv.signals.counts.report_counts``): a = reports naming the drug as
  suspect (role PS or SS) and any PT of the domain; the universe is every surviving case;
- measures by ``pv.signals.table.signal_table`` without a GPS prior: PRR, ROR, IC with
  exact bounds; EBGM stays null (no prior is fitted here), so the density test's headline
  measure is IC for these rows, and the statement says where the rows came from.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pv.errors import PvError
from pv.signals.counts import report_counts
from pv.signals.table import signal_table
from pv.vocab.receptors import pt_domains

SUSPECT_ROLES = ("PS", "SS")
SOURCE = "computed from cases/ by pv.mechanism.domain_signals (report counts, no GPS prior: IC, PRR, ROR; no EBGM)"


def _scan(path: Path) -> pl.LazyFrame:
    if not path.is_file():
        raise PvError(f"{path}: not found (run `pvmon cases` first)")
    return pl.scan_parquet(path)


def domain_signal_rows(cases_dir: Path, drugs: list[str], rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """Signal-table rows (level = domain, subset = all) for ``drugs`` from the case tables."""
    drug_rows = (
        _scan(cases_dir / "drugs.parquet")
        .filter(pl.col("role_cod").is_in(SUSPECT_ROLES) & pl.col("ingredient").is_in([d.lower() for d in drugs]))
        .select(pl.col("caseid").alias("id"), pl.col("ingredient").alias("drug"))
    )
    event_rows = (
        _scan(cases_dir / "reactions.parquet")
        .select(pl.col("caseid").alias("id"), pl.col("pt").str.to_lowercase().alias("_key"))
        .join(pt_domains(rmap).lazy().select(pl.col("pt").str.to_lowercase().alias("_key"), pl.col("domain").alias("event")),
              on="_key")
        .select("id", "event")
    )
    universe = _scan(cases_dir / "cases.parquet").select(pl.col("caseid").alias("id"))
    counts = report_counts(drug_rows, event_rows, universe)
    return signal_table(counts.two_by_two(), None, level="domain", subset="all")
