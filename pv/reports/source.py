"""Where the store's extracts came from, in the words a report prints.

The manifest records per staged quarter whether its zip came from ``pvmon simulate`` (the
simulator marks its zips; ingest copies the mark into the manifest: pv.lake.status
``data_origin``). A report on simulated data must say so loudly, on the cover and on every
page; a store mixing simulated and FDA quarters is called MIXED and flagged the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from pv.config import Home

SIMULATED, FDA, MIXED, UNKNOWN, EMPTY = "SIMULATED", "FDA", "MIXED", "UNKNOWN", "EMPTY"


@dataclass
class DataSource:
    kind: str  # SIMULATED | FDA | MIXED | UNKNOWN | EMPTY
    simulated_quarters: list[str]
    fda_quarters: list[str]
    unknown_quarters: list[str]

    @property
    def simulated(self) -> bool:
        """True when any quarter behind the report may be simulated (the loud notice is shown)."""
        return bool(self.simulated_quarters or self.unknown_quarters)

    def origin(self, quarter: str) -> str:
        return (SIMULATED if quarter in self.simulated_quarters else FDA if quarter in self.fda_quarters
                else "not recorded")

    def describe(self) -> str:
        if self.kind == SIMULATED:
            return ("SIMULATED FAERS-shaped extracts (pvmon simulate) with planted signals: NOT FDA data, "
                    "not for regulatory decisions")
        if self.kind == MIXED:
            return (f"MIXED: {len(self.simulated_quarters)} SIMULATED quarter(s) "
                    f"({', '.join(self.simulated_quarters)}) with {len(self.fda_quarters)} FDA FAERS quarter(s): "
                    "the numbers mix simulated and real reports, not for regulatory decisions")
        if self.kind == UNKNOWN:
            return (f"NOT RECORDED for {len(self.unknown_quarters)} quarter(s) ({', '.join(self.unknown_quarters)}), "
                    "ingested by an older pvmon: they may be simulated; re-ingest them to record their origin")
        if self.kind == FDA:
            return "FDA FAERS quarterly ASCII extracts (public data; sha256 of each zip in the appendix)"
        return "no staged quarter"


def data_source(home: Home) -> DataSource:
    """The store's data source, from the manifest's per-quarter simulated mark."""
    from pv.lake.status import data_origin

    origin = data_origin(home)
    return DataSource(origin.label, list(origin.simulated), list(origin.fda), list(origin.unknown))
