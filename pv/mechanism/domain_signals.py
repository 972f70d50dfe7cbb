"""PT-level signal rows of the receptor map's PTs, computed from cases/ when a signals run has none.

The density test reads PT-level rows (level = pt, all reports) of the signal engine
(``pvmon signals``). When no signals run carries them for a drug (no run yet, or a drug outside
the run's watchlist), the mechanism stage computes them here with the engine's public functions
only, so the reports counted are exactly the engine's:

- inputs by ``pv.signals.faers.read_inputs`` with the engine's defaults (suspect roles PS or
  SS, cases flagged as duplicates left out, background = cases with a drug in those roles
  and a reaction);
- report counts by ``pv.signals.counts.report_counts``, without strata, for the map's PTs;
- measures by ``pv.signals.table.signal_table`` without a GPS prior: PRR, ROR, IC with exact
  bounds (the test uses a and E only).
"""

from __future__ import annotations

import polars as pl

from pv.config import Home
from pv.signals import faers
from pv.signals.counts import report_counts
from pv.signals.faers import read_inputs
from pv.signals.table import signal_table
from pv.vocab.receptors import pt_domains

SOURCE = ("computed from cases/ by pv.mechanism.domain_signals (the engine's inputs and report counts, "
          "unstratified, no GPS prior)")


def suspected(home: Home, drugs: list[str]) -> list[str]:
    """The ones of ``drugs`` (lower case) that some drug row names in the engine's default roles."""
    rows = faers._suspects(faers._scan(home, "drugs", ["caseid", "role_cod", "ingredient"]), "ps+ss", [], ["caseid"])
    found = set(rows.filter(pl.col("drug").is_in(drugs)).select(pl.col("drug").unique()).collect(engine="streaming")["drug"])
    return [d for d in drugs if d in found]


def pt_signal_rows(home: Home, drugs: list[str], rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """Signal-table rows (level = pt, subset = all) of the map's PTs for ``drugs``, from the case tables.

    A drug no case names (a watched drug FAERS never reported) has no row: when none of ``drugs``
    is named, the result is empty without reading the whole background."""
    drugs = suspected(home, [d.lower() for d in drugs])
    if not drugs:
        return pl.DataFrame()
    keys = pt_domains(rmap).select(pl.col("pt").str.to_lowercase()).to_series().implode()
    inputs = read_inputs(home, strata=())
    watched = inputs.drugs.filter(pl.col("drug").is_in(drugs)).select("id", "drug")
    events = inputs.events["pt"].filter(pl.col("event").str.to_lowercase().is_in(keys))
    counts = report_counts(watched.lazy(), events.lazy(), inputs.universe.lazy())
    return signal_table(counts.two_by_two(), None, level="pt", subset="all")
