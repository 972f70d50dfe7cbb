"""What a regulator report reads: the files other stages wrote into the store, never their code.

- ``signals/<run_id>/``: signals.parquet, trend.parquet, run.json (the run to report);
- ``mechanism/<run_id>/``: statement.md, hypothesis.parquet, domains.parquet,
  dose_trends.parquet / dose_response.parquet (optional: a run without them is reported
  without that section, and the report says so);
- ``cases/``: funnel.parquet, build.json, cases.parquet + drugs.parquet (case counts);
- ``pvmon.sqlite``: the sources ingested with their sha256 and the line accounting.

A missing required file is a one-line ``PvError`` naming it. The signal and trend files are
scanned with a filter (the drug's rows, plus every drug's group and domain rows for the
comparison), so a full-history run is not loaded whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pv.config import Home
from pv.errors import PvError
from pv.lake import manifest

SIGNAL_FILES = ("signals.parquet", "run.json")


def _require(path: Path, hint: str) -> Path:
    if not path.is_file():
        raise PvError(f"{path}: missing ({hint})")
    return path


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as err:
        raise PvError(f"{path}: cannot read ({str(err).splitlines()[0]})") from err


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PvError(f"{path}: cannot read ({err})") from err


def latest_run(home: Home) -> Path:
    """The newest complete signals run (the same one ``pvmon status`` and the dashboards show)."""
    from pv.signals.summary import latest_run as newest

    run = newest(home)
    if run is None:
        raise PvError(f"{home.signals}: no signals run (run `pvmon signals` first)")
    return run


@dataclass
class ReportInputs:
    """Everything one report is built from, as read from the store."""

    home: Home
    run_dir: Path
    run: dict  # run.json
    drug: str  # as the run spells it
    drugs: list[str]  # every drug of the run
    signals: pl.DataFrame  # the drug's rows + all drugs' group/domain rows for all reports
    trend: pl.DataFrame | None  # the drug's rows for all reports
    mechanism_dir: Path | None
    statement: str | None
    hypothesis: pl.DataFrame | None
    domains: pl.DataFrame | None
    dose_trends: pl.DataFrame | None
    dose_response: pl.DataFrame | None
    funnel: pl.DataFrame
    build: dict  # cases/build.json
    sources: list[dict]  # manifest quarters: quarter, source, sha256, bytes, committed_at
    line_accounting: pl.DataFrame

    @property
    def run_id(self) -> str:
        return self.run_dir.name


def _manifest_rows(home: Home) -> tuple[list[dict], list[dict]]:
    path = _require(home.manifest, "nothing ingested: run `pvmon ingest` first")
    con = manifest.connect(path)
    try:
        sources = manifest.rows(con, "SELECT quarter, source, source_sha256 AS sha256, source_bytes AS bytes, "
                                     "committed_at FROM quarters ORDER BY quarter")
        accounting = manifest.rows(
            con, "SELECT quarter, table_name, SUM(lines_read) AS lines_read, SUM(lines_clean) AS lines_clean, "
                 "SUM(lines_repaired) AS lines_repaired, SUM(lines_quarantined) AS lines_quarantined, "
                 "SUM(lines_blank) AS lines_blank, SUM(rows_staged) AS rows_staged "
                 "FROM files GROUP BY quarter, table_name ORDER BY quarter, table_name")
    finally:
        con.close()
    return sources, accounting


def _optional(path: Path) -> pl.DataFrame | None:
    return _read_parquet(path) if path.is_file() else None


def _collect(frame: pl.LazyFrame, path: Path) -> pl.DataFrame:
    try:
        return frame.collect()
    except (OSError, pl.exceptions.PolarsError) as err:
        raise PvError(f"{path}: cannot read ({str(err).splitlines()[0]})") from err


def _scan(path: Path, keep: pl.Expr) -> pl.DataFrame:
    return _collect(pl.scan_parquet(path).filter(keep), path)


def read_inputs(home: Home, drug: str, run: str | None = None) -> ReportInputs:
    """Read the run ``run`` (a run id or folder; default the newest) for ``drug`` and what it rests on;
    a drug the run does not hold is a one-line error listing the ones it does."""
    if run is None:
        run_dir = latest_run(home)
    else:
        run_dir = Path(run) if Path(run).is_dir() else home.signals / run
        if not run_dir.is_dir():
            raise PvError(f"{run_dir}: no such signals run")
    for name in SIGNAL_FILES:
        _require(run_dir / name, "an incomplete signals run: re-run `pvmon signals`")
    signals_path = run_dir / "signals.parquet"
    drugs = _collect(pl.scan_parquet(signals_path).select(pl.col("drug").unique()), signals_path)["drug"].sort().to_list()
    name = drug.strip().lower()
    if name not in drugs:
        empty = json.loads((run_dir / "run.json").read_text()).get("empty") if (run_dir / "run.json").is_file() else None
        raise PvError(f"{signals_path}: no drug {drug!r} in run {run_dir.name} "
                      + (f"({empty})" if empty else f"(drugs: {', '.join(drugs)})"))
    mine = pl.col("drug") == name
    trend_path = run_dir / "trend.parquet"
    mech = home.root / "mechanism" / run_dir.name
    have_mech = (mech / "statement.md").is_file()
    funnel = _read_parquet(_require(home.cases / "funnel.parquet", "run `pvmon cases` first"))
    build = _read_json(_require(home.cases / "build.json", "run `pvmon cases` first"))
    sources, accounting = _manifest_rows(home)
    return ReportInputs(
        home=home, run_dir=run_dir, run=_read_json(run_dir / "run.json"),
        drug=name, drugs=drugs,
        signals=_scan(signals_path, mine | (pl.col("level").is_in(["group", "domain"]) & (pl.col("subset") == "all"))),
        trend=_scan(trend_path, mine & (pl.col("subset") == "all")) if trend_path.is_file() else None,
        mechanism_dir=mech if have_mech else None,
        statement=(mech / "statement.md").read_text(encoding="utf-8") if have_mech else None,
        hypothesis=_optional(mech / "hypothesis.parquet") if have_mech else None,
        domains=_optional(mech / "domains.parquet") if have_mech else None,
        dose_trends=_optional(mech / "dose_trends.parquet") if have_mech else None,
        dose_response=_optional(mech / "dose_response.parquet") if have_mech else None,
        funnel=funnel, build=build, sources=sources,
        line_accounting=pl.DataFrame(accounting, infer_schema_length=None) if accounting else pl.DataFrame(),
    )
