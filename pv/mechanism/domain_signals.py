"""Domain-level signal rows computed from cases/ when a signals run has none (fallback).

Domain-level signals belong to the signal engine (``pvmon signals``, level = domain, fed by
``pv.vocab.receptors.pt_domains``). When no signals run carries them (no run yet, or a run
without the domain level), the mechanism stage computes them here with the engine's public
functions only, so the reports counted are exactly the engine's:

- inputs by ``pv.signals.faers.read_inputs`` with the engine's defaults (suspect roles PS or
  SS, cases flagged as duplicates left out, background = cases with a drug in those roles
  and a reaction, domain events from the receptor map);
- report counts by ``pv.signals.counts.report_counts``, without strata;
- measures by ``pv.signals.table.signal_table`` without a GPS prior: PRR, ROR, IC with exact
  bounds; EBGM stays null (no prior is fitted here), so the density test's headline measure
  is IC for these rows, and the statement says where the rows came from.
"""

from __future__ import annotations

import polars as pl

from pv.config import Home
from pv.signals.counts import report_counts
from pv.signals.faers import read_inputs
from pv.signals.table import signal_table
from pv.vocab.receptors import pt_domains

SOURCE = ("computed from cases/ by pv.mechanism.domain_signals (the engine's inputs and report counts, "
          "unstratified, no GPS prior: IC, PRR, ROR; no EBGM)")


def domain_signal_rows(home: Home, drugs: list[str], rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """Signal-table rows (level = domain, subset = all) for ``drugs`` from the case tables."""
    domains = pt_domains(rmap).select("pt", pl.col("domain").alias("event"))
    inputs = read_inputs(home, strata=(), domain_table=domains)
    watched = inputs.drugs.filter(pl.col("drug").is_in([d.lower() for d in drugs])).select("id", "drug")
    counts = report_counts(watched.lazy(), inputs.events["domain"].lazy(), inputs.universe.lazy())
    return signal_table(counts.two_by_two(), None, level="domain", subset="all")
