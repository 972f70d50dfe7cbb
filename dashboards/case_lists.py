"""The cases behind ``a``: one CSV (caseid, primaryid, quarter) per flagged watchlist signal.

Why: an analyst who sees "baclofen, overdose_broad, a = 178" must be able to pull those
178 reports. The signal files hold counts, not case ids, so the list is recounted from the
cases stage's files with the signal engine's own reading rules (``pv.signals.faers``:
suspect roles and dedup filter as recorded in the run's run.json, the same event groups
and receptor domains), and each list is checked against the row's ``a``: a list whose
length differs (e.g. cases/ rebuilt since the run) is not written and the page says so.

Rule ``case-lists-scope`` (default): rows with any threshold flag, subset "all" (subset
rows are flags only; their cases are the subset of the "all" list).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dashboards.inputs import Inputs
from dashboards.render import Col
from dashboards.signal_rows import ANY_FLAG
from pv.inert import safe_name, write_csv
from pv.signals.faers import read_inputs

KEYS = ["drug", "level", "event"]
CASES_COLUMN = Col("cases", "cases behind a", "text", "caseid, primaryid, quarter of the reports counted in a")


@dataclass
class CaseList:
    href: str | None  # relative to the site root; None when the recount did not match a
    n: int


def wanted(inputs: Inputs) -> pl.DataFrame:
    return (inputs.signals.filter(ANY_FLAG, pl.col("subset") == "all", pl.col("drug").is_in(inputs.drugs))
            .select(*KEYS, "a").sort(KEYS))


def write_case_lists(inputs: Inputs, site: Path) -> dict[tuple[str, str, str], CaseList]:
    """Write ``cases/<drug>/<level>-<event>.csv`` for every flagged row; return them by key."""
    rows = wanted(inputs)
    if rows.height == 0:
        return {}
    options = inputs.run.get("options", {})
    facts = read_inputs(inputs.home, options.get("roles", "ps+ss"), options.get("dedup", True), strata=())
    cases = pl.read_parquet(inputs.home.cases / "cases.parquet", columns=["caseid", "primaryid", "quarter"])
    found = []
    for level in rows["level"].unique().sort():
        keys = rows.filter(pl.col("level") == level).select("drug", "event")
        drug_rows = facts.drugs.select("id", "drug").join(keys.select("drug").unique(), on="drug").unique()
        found.append(drug_rows.join(facts.events[level], on="id").join(keys, on=["drug", "event"])
                     .select("drug", pl.lit(level).alias("level"), "event", pl.col("id").alias("caseid")))
    listed = (pl.concat(found).unique().join(cases, on="caseid", how="left")
              .sort([*KEYS, "quarter", "caseid"]))
    counts = dict(((d, lv, e), n) for d, lv, e, n in listed.group_by(KEYS).len().iter_rows())
    out: dict[tuple[str, str, str], CaseList] = {}
    used: set[str] = set()
    by_key = listed.partition_by(KEYS, as_dict=True, maintain_order=True)
    for drug, level, event, a in rows.iter_rows():
        key = (drug, level, event)
        if counts.get(key, 0) != a:
            out[key] = CaseList(None, counts.get(key, 0))
            continue
        name = f"cases/{safe_name(drug)}/{level}-{safe_name(event)}"
        k = 2
        while name + ".csv" in used:  # two PTs that slug alike get distinct files
            name, k = f"{name}-{k}", k + 1
        used.add(name + ".csv")
        path = site / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_csv(by_key[key].select("caseid", "primaryid", "quarter"), path)
        out[key] = CaseList(f"{name}.csv", a)
    return out


def attach_case_links(records: list[dict], case_lists: dict[tuple[str, str, str], CaseList]) -> dict:
    """Set each signal record's ``cases`` text (its list's size, or why there is none) and
    return the ``links`` mapping that makes the text a link to the CSV."""
    for r in records:
        found = case_lists.get((r["drug"], r["level"], r["event"])) if r.get("subset", "all") == "all" else None
        r["cases"] = (None if found is None else f"{found.n:,} cases (CSV)" if found.href
                      else f"recount {found.n:,} \u2260 a: not listed")
        r["_cases_href"] = None if found is None else found.href
    return {"cases": lambda r: r["_cases_href"]}
