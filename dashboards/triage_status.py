"""The signal-management section of a drug page: each triaged signal's status now and every change.

From the manifest's append-only ``triage`` table (pv/triage.py), read when the pages are built.
"""

from __future__ import annotations

from dashboards.inputs import Inputs
from dashboards.render import Col, Table, table

COLUMNS = [Col("event", "event", "text"), Col("level", "level", "text"), Col("status", "status", "text"),
           Col("now", "status now", "bool"), Col("user", "by", "text"), Col("at", "when (UTC)", "text"),
           Col("note", "comment", "text"), Col("measure", "ROR025 then", "num")]


def triage_block(inputs: Inputs, drug: str) -> Table:
    from pv.triage import history_table

    records = history_table(inputs.home, drug).to_dicts()
    return table("triage", "Signal management: status and history", COLUMNS, records,
                 f"Source: {inputs.home.manifest.name}, table triage (append-only)",
                 "Every status change of this drug's signals, newest first; 'status now' marks each signal's "
                 "current status. A refuted or closed signal is not reported as new; a closed one is reopened "
                 "when its ROR025 rises past the margin. Set with `pvmon triage` or in `pvmon serve`."
                 + ("" if records else " No signal of this drug has been triaged yet."))
