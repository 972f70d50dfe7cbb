"""The tables of one drug's report, as polars frames (the PDF, XLSX and CSV all show these).

Every signal table keeps the signal file's own columns and values (design.md "Signal
table"), filtered, so a number in a report is the number in ``signals.parquet``:
- ``group_signals`` / ``domain_signals``: event groups / receptor domains, all reports,
  for the drug and every comparator of the run (the other drugs it computed);
- ``pt_signals``: the drug's PT-level rows flagged by any threshold (all reports);
- ``subset_signals``: the drug's group and domain rows within each subset (route, dose
  band, indication class, sex, age band);
- ``trend``: the drug's cumulative quarter-by-quarter rows (groups, domains, flagged PTs).
Case counts come from cases/ with the run's own options (suspect roles, dedup filter,
background = cases with at least one reaction), so their total equals the signal
table's a + b.
"""

from __future__ import annotations

import re

import polars as pl

from pv.errors import PvError
from pv.reports.inputs import ReportInputs
from pv.signals.faers import ROLES
from pv.signals.thresholds import signal_rule_expr
from pv.triage import history_table
from pv.cases import tables as case_tables

FLAGS = ["flag_evans", "flag_ror025", "flag_ic025", "flag_eb05"]
#: case-count dimensions: label -> column (route, indication, dose band: drug row; sex, age band: case)
DIMENSIONS = {"route": "route_class", "indication": "indication_class", "dose_band": "dose_band",
              "sex": "sex", "age_band": "age_band"}


def band_key(value: str | None) -> tuple:
    """Sort key putting bands in their numeric order ("<2", "2-11", ..., ">=75"; "<=30", "30-80", ...,
    ">150"), other values alphabetically after them, "unknown" last."""
    if value is None or value == "unknown":
        return (2, 0.0, "")
    m = re.match(r"^(<=|<|>=|>)?(\d+(?:\.\d+)?)", value)
    if m:
        shift = {"<": -0.5, "<=": -0.25, ">": 0.25}.get(m.group(1), 0.0)
        return (0, float(m.group(2)) + shift, value)
    return (1, 0.0, value)


def natural_order(frame: pl.DataFrame, by: list[str], column: str, names: list[str] = ()) -> pl.DataFrame:
    """``frame`` sorted by ``by`` then by ``column`` in band order; ``name=value`` labels sort by the
    name's place in ``names`` (then alphabetically), then by value."""
    def key(v):
        named = re.match(r"^([a-z_]+)=(.*)$", v or "")
        if not named:
            return (0, "", band_key(v))
        name = named.group(1)
        return (list(names).index(name) if name in names else len(names), name, band_key(named.group(2)))

    values = sorted(frame[column].unique().to_list(), key=key)
    rank = pl.DataFrame({column: values, "_rank": list(range(len(values)))}, schema_overrides={column: frame.schema[column]})
    return frame.join(rank, on=column, how="left", nulls_equal=True).sort([*by, "_rank"]).drop("_rank")


def _drug_first(frame: pl.DataFrame, drug: str) -> pl.DataFrame:
    """Rows ordered by event, the reported drug first, then comparators alphabetically."""
    return frame.sort([pl.col("event"), pl.col("drug") != drug, pl.col("drug")])


def signal_tables(inputs: ReportInputs, drug: str) -> dict[str, pl.DataFrame]:
    s = inputs.signals
    every = s.filter(pl.col("subset") == "all")
    mine = s.filter(pl.col("drug") == drug)
    out = {
        "group_signals": _drug_first(every.filter(pl.col("level") == "group"), drug),
        "domain_signals": _drug_first(every.filter(pl.col("level") == "domain"), drug),
        "pt_signals": mine.filter((pl.col("level") == "pt") & (pl.col("subset") == "all")
                                  & signal_rule_expr(inputs.run.get("signal_rule", {}).get("rule")))
                          .sort(["eb05", "ror_lo", "event"], descending=[True, True, False], nulls_last=True),
        "subset_signals": natural_order(
            mine.filter(pl.col("level").is_in(["group", "domain"]) & (pl.col("subset") != "all")),
            ["level", "event"], "subset", list(inputs.run.get("options", {}).get("subsets") or [])),
    }
    if inputs.trend is not None:
        flagged_pts = out["pt_signals"]["event"].to_list()
        out["trend"] = inputs.trend.filter(
            (pl.col("drug") == drug) & (pl.col("subset") == "all")
            & (pl.col("level").is_in(["group", "domain"]) | pl.col("event").is_in(flagged_pts))
        ).sort(["level", "event", "quarter"])
    return out


def case_counts(inputs: ReportInputs, drug: str) -> pl.DataFrame:
    """Cases with the drug by suspect role, then (within the run's roles and background) by route,
    indication class, dose band, sex and age band; one row per dimension value."""
    cases_dir = inputs.home.cases
    options = inputs.run.get("options", {})
    roles = ROLES.get(options.get("roles", "ps+ss"))
    for n in ("cases", "drugs", "reactions"):
        if not case_tables.exists(cases_dir, n):
            raise PvError(f"{case_tables.folder(cases_dir, n)}: missing (run `pvmon cases` first)")
    needed = {n: [str(f) for f in case_tables.files(cases_dir, n)] for n in ("cases", "drugs", "reactions")}
    # the drug's rows first (small), so the big case and reaction tables are only semi-joined to them
    drug_rows = (pl.scan_parquet(needed["drugs"]).filter(pl.col("ingredient").str.to_lowercase() == drug)
                 .select("caseid", pl.col("role_cod").str.to_uppercase(),
                         *(c for c in DIMENSIONS.values() if c not in ("sex", "age_band"))).collect())
    ids = drug_rows.select("caseid").unique().lazy()
    with_reaction = (pl.scan_parquet(needed["reactions"]).filter(pl.col("pt").is_not_null())
                     .join(ids, on="caseid", how="semi").select("caseid").unique())
    cases = pl.scan_parquet(needed["cases"]).select("caseid", "dup_flag", "sex", "age_band")
    if options.get("dedup", True):
        cases = cases.filter(~pl.col("dup_flag").fill_null(False))
    cases = cases.join(ids, on="caseid", how="semi").join(with_reaction, on="caseid", how="semi")
    rows = drug_rows.lazy().join(cases, on="caseid", how="inner").collect()
    by_role = (rows.group_by("role_cod").agg(cases=pl.col("caseid").n_unique())
               .select(pl.lit("role (any)").alias("dimension"), pl.col("role_cod").alias("value"), "cases"))
    suspect = rows if roles is None else rows.filter(pl.col("role_cod").is_in(list(roles)))
    parts = [by_role,
             pl.DataFrame({"dimension": ["total"], "value": [f"roles {options.get('roles', 'ps+ss')}"],
                           "cases": [suspect["caseid"].n_unique()]})]
    for label, column in DIMENSIONS.items():
        parts.append(suspect.group_by(column).agg(cases=pl.col("caseid").n_unique())
                     .select(pl.lit(label).alias("dimension"), pl.col(column).fill_null("unknown").alias("value"),
                             "cases"))
    table = pl.concat(parts, how="vertical_relaxed").with_columns(pl.col("cases").cast(pl.Int64))
    dims = pl.DataFrame({"dimension": table["dimension"].unique(maintain_order=True)}).with_row_index("_dim")
    return natural_order(table.join(dims, on="dimension"), ["_dim"], "value").drop("_dim")


def funnel_wide(inputs: ReportInputs) -> pl.DataFrame:
    """The dedup funnel, one row per quarter (then total), stages in the order the cases stage ran them."""
    stages = inputs.funnel["stage"].unique(maintain_order=True).to_list()
    return inputs.funnel.pivot(on="stage", index="quarter", values="count", maintain_order=True).select(
        "quarter", *stages)


def line_summary(inputs: ReportInputs) -> pl.DataFrame:
    """Line accounting per quarter (all tables): lines read = clean + repaired + quarantined + blank."""
    acc = inputs.line_accounting
    if acc.height == 0:
        return acc
    numbers = [c for c in acc.columns if c not in ("quarter", "table_name")]
    per_q = acc.group_by("quarter").agg(pl.col(numbers).sum()).sort("quarter")
    total = acc.select(pl.lit("total").alias("quarter"), *(pl.col(c).sum() for c in numbers))
    return pl.concat([per_q, total], how="vertical_relaxed")


def mechanism_tables(inputs: ReportInputs, drug: str) -> dict[str, pl.DataFrame]:
    out = {}
    if inputs.hypothesis is not None:
        out["hypothesis"] = inputs.hypothesis.sort(["family", "drug", "comparator", "rule"], nulls_last=True)
    if inputs.domains is not None:
        out["domain_density"] = inputs.domains.filter(pl.col("drug") == drug).sort(
            ["lowest", "domain"], descending=[True, False], nulls_last=True)
    for name in ("dose_trends", "dose_response"):
        frame = getattr(inputs, name)
        if frame is not None and frame.filter(pl.col("drug") == drug).height:
            out[name] = frame.filter(pl.col("drug") == drug).sort([c for c in ("scale", "level", "event", "band_score")
                                                                   if c in frame.columns])
    return out


def report_tables(inputs: ReportInputs, drug: str) -> dict[str, pl.DataFrame]:
    """Every table of the report, in report order (the XLSX sheet and CSV file names)."""
    return {
        "funnel": funnel_wide(inputs),
        "line_accounting": inputs.line_accounting,
        "case_counts": case_counts(inputs, drug),
        **signal_tables(inputs, drug),
        **mechanism_tables(inputs, drug),
        "signal_status": history_table(inputs.home, drug),  # signal management (pv/triage.py)
        "sources": pl.DataFrame(inputs.sources, infer_schema_length=None) if inputs.sources else pl.DataFrame(),
    }
