"""The report's provenance: what it was built from, so every number traces back to files.

One JSON-able record: the report's own identity (drug, run id, code version, data
source and per-source origin), the signal run's ``run.json`` whole, the ingested sources
with their sha256 from the manifest, ``cases/build.json`` (seed versions), and the
sha256 of every stage file the report read. No wall-clock time is recorded (the run's
creation time stands for the date), so the same inputs give the same record.
"""

from __future__ import annotations

import json

import polars as pl

from pv.reports.inputs import ReportInputs
from pv.lake.status import DataOrigin
from pv.reports.source import describe
from pv.signals.provenance import code_version, file_fingerprint


def stage_files(inputs: ReportInputs) -> list:
    """The stage files the report read (paths relative to the store)."""
    cases = inputs.home.cases
    paths = [cases / n for n in ("funnel.parquet", "build.json", "cases.parquet", "drugs.parquet",
                                 "reactions.parquet")]
    paths += [inputs.run_dir / n for n in ("run.json", "signals.parquet", "trend.parquet")]
    if inputs.mechanism_dir is not None:
        paths += sorted(p for p in inputs.mechanism_dir.iterdir()
                        if p.name in ("statement.md", "hypothesis.parquet", "domains.parquet", "dose_trends.parquet",
                                      "dose_response.parquet", "annotated_signals.parquet"))
    return [p for p in paths if p.is_file() or p.is_dir()]  # a case table is a folder (pv.cases.tables)


def mechanism_seeds(inputs: ReportInputs) -> dict:
    """The receptor-map version the mechanism stage annotated with (the signal run records its own in
    run.json `seeds`; the two differ only if the map changed between the stages)."""
    path = None if inputs.mechanism_dir is None else inputs.mechanism_dir / "annotated_signals.parquet"
    if path is None or not path.is_file() or "receptor_map_version" not in pl.read_parquet_schema(path):
        return {}
    versions = pl.scan_parquet(path).select(pl.col("receptor_map_version").drop_nulls().unique()).collect()
    return {"receptor_map": ", ".join(sorted(versions["receptor_map_version"].to_list()))}


def provenance(inputs: ReportInputs, drug: str, source: DataOrigin) -> dict:
    root = inputs.home.root
    files = []
    for path in stage_files(inputs):
        record = file_fingerprint(path)
        record["path"] = str(path.relative_to(root))
        files.append(record)
    return {
        "report": {
            "kind": "pvmon report", "drug": drug, "run_id": inputs.run_id, "run_created": inputs.run.get("created"),
            "code": code_version(), "data_source": source.label, "data_source_text": describe(source),
            "store": str(root),
        },
        "sources": [{**s, "origin": source.of(s["quarter"])} for s in inputs.sources],
        "cases_build": inputs.build,
        "files_read": files,
        "mechanism_seeds": mechanism_seeds(inputs),
        "signal_run": inputs.run,
    }


def flatten(record, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, JSON value) rows of a nested record, for the provenance sheet (top-level
    sections in the record's order, the report first; keys inside them sorted)."""
    if isinstance(record, dict):
        keys = sorted(record) if prefix else list(record)
        return [row for k in keys for row in flatten(record[k], f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(record, list) and record and any(isinstance(x, (dict, list)) for x in record):
        return [row for i, x in enumerate(record) for row in flatten(x, f"{prefix}[{i}]")]
    return [(prefix, json.dumps(record, sort_keys=True, default=str))]


def to_json(record: dict) -> str:
    return json.dumps(record, indent=2, sort_keys=True, default=str) + "\n"
