"""The signal engine's inputs of only the reports of a few drugs, read in memory that follows them.

The dose-response tables (pv/mechanism/dose_response.py) and the case listings
(dashboards/case_lists.py) need the engine's reading rules (``pv.signals.faers``: suspect roles,
dedup filter, background = a drug in the roles and a reaction) for the reports of the watched
drugs only. ``read_inputs(of_drugs=...)`` reads the same rows, but it deduplicates every
reaction row of the store before keeping the drugs' reports, and its in-memory collect reads
each projected column of the whole table before the semi-join: at FAERS's full size that held
several GB for some ten thousand reports. Here each scan is semi-joined to the drugs' report ids
first and runs in polars' streaming engine, so memory follows the drugs' reports, not the store.
The rules are the engine's own helpers (faers ``_scan``, ``_suspects``, ``_background``,
``_levels``); tests/test_mechanism_dose_response.py checks the result equals
``read_inputs(of_drugs=...)`` row for row.
"""

from __future__ import annotations

import polars as pl

from pv.config import Home
from pv.errors import PvError
from pv.signals import faers


def drug_inputs(home: Home, drugs: list[str], roles: str = "ps+ss", dedup: bool = True) -> faers.FaersInputs:
    """``read_inputs(home, roles, dedup, strata=(), of_drugs=drugs)``: the background reports with
    one of ``drugs`` (lower case) in ``roles``, their suspect drug rows and their events per level
    (empty frames when the drugs have no such report)."""
    if roles not in faers.ROLES:
        raise PvError(f"signals: unknown roles {roles!r} (ps | ps+ss | any)")
    report_cols = sorted(c for c, kind in faers.SUBSETS.values() if kind == "report")
    drug_cols = [c for c, kind in faers.SUBSETS.values() if kind == "drug"]
    suspects = faers._suspects(faers._scan(home, "drugs", ["caseid", "role_cod", "ingredient", *drug_cols]), roles,
                               drug_cols, [pl.col("caseid").alias("id")])
    ids = (suspects.filter(pl.col("drug").is_in(list(drugs))).select("id").unique()
           .collect(engine="streaming").lazy())
    cases = faers._scan(home, "cases", ["caseid", "quarter", "dup_flag", *report_cols]).rename({"caseid": "id"})
    if dedup:
        cases = cases.filter(~pl.col("dup_flag").fill_null(False))
    reactions = (faers._scan(home, "reactions", ["caseid", "pt"]).filter(pl.col("pt").is_not_null())
                 .select(pl.col("caseid").alias("id"), pl.col("pt").alias("event")))
    cases, rows, reactions = pl.collect_all(
        [cases.join(ids, on="id", how="semi"), suspects.join(ids, on="id", how="semi"),
         reactions.join(ids, on="id", how="semi").unique()], engine="streaming")
    universe, rows, reactions = faers._background(cases, rows, reactions)  # none: empty frames, not an error
    sources = [str(home.cases / f"{n}.parquet") for n in ("cases", "drugs", "reactions")]
    return faers.FaersInputs(universe, rows, faers._levels(reactions, None, None), sources)
