"""The case line listing behind every count ``a`` of a watched signal, for the browser.

Why: an analyst who sees "baclofen, overdose_broad, a = 178" asks which cases, how bad, how
fast, in whom. The signal files hold counts, not cases, so each listing is recounted from the
cases stage's files with the signal engine's own reading rules (``pv.signals.faers.read_inputs``
of the watched drugs' reports only: suspect roles and dedup filter as
recorded in run.json, the same event groups and receptor domains) and checked against the
signal table: the listing of a cell is linked only when its number of rows equals the cell's
``a`` (for subset "all" and for every subset row), otherwise the page says "recount differs"
(e.g. cases/ rebuilt since the run).

Rule ``case-lists-scope`` (default): every (drug, level, event) of a watched drug flagged
under the run's signal rule in all reports; one data file holds all its cases, each with
the subsets it falls in, so the subset rows' listings are that file filtered.

Files: ``listing.html`` + ``listing.js`` (one static viewer, plain JS: sort, filter, CSV
export, panels) and ``cases/<hash>.js`` per listing (``pvListing({...})``: JSON rows
loaded on demand by a script tag, which works from file:// with no server and no network).
File names are hashes of the key (``data_file``): safe whatever the drug or PT is called.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dashboards.inputs import Inputs
from dashboards.render import Col
from pv.signals import faers
from pv.cases import tables

KEYS = ["drug", "level", "event"]
LISTING_PAGE = "listing.html"
LISTING_JS = "listing.js"
CASES_COLUMN = Col("cases", "case listing", "text", "one row per case counted in a: outcomes, onset, dose, PTs",
                   group="counts")
OUTCOMES = ["death", "life_threatening", "hospitalization", "disability", "congenital_anomaly",
            "required_intervention", "other_serious"]
#: the listing's columns: (key, header); the viewer shows them in this order
COLUMNS = [("caseid", "caseid"), ("version", "version"), ("primaryid", "primaryid"),
           ("quarter", "quarter received"), ("age", "age (years)"), ("sex", "sex"), ("country", "country"),
           ("reporter", "reporter type"), ("serious", "serious"),
           *((o, o.replace("_", " ")) for o in OUTCOMES),
           ("role", "drug role"), ("route", "route"), ("dose", "dose"), ("indication", "indication"),
           ("onset_days", "time to onset (days)"), ("co_suspect", "co-suspect drugs"),
           ("matching_pts", "matching PTs"), ("pts", "all PTs of the case"),
           ("co_reported", "co-reported drugs (any role)"), ("subsets", "subsets")]
#: a single-dose column the cases stage may add beside daily_dose_mg (shown when present)
SINGLE_DOSE = "single_dose_mg"
#: every read of cases/ below keeps only the listed reports (a semi-join on their caseids): in polars'
#: streaming engine the join runs as the file is read, so memory follows the listed reports, not the store
STREAMING = "streaming"


@dataclass
class CaseList:
    href: str | None  # listing page link for subset "all", relative to the site root; None: recount differs
    n: int
    subsets: dict[str, int]  # subset label -> rows of the listing in that subset


def data_file(drug: str, level: str, event: str) -> str:
    """The one place a listing's file name is made from data: a short hash, never the text."""
    return hashlib.sha256(f"{drug}|{level}|{event}".encode()).hexdigest()[:16]


def wanted(inputs: Inputs, drugs: list[str] | None = None) -> pl.DataFrame:
    """The (drug, level, event, a) to list: of ``drugs`` (default: every watched drug of the run)."""
    drugs = inputs.drugs if drugs is None else [d for d in drugs if d in inputs.drugs]
    return (inputs.signals.filter(pl.col("flagged"), pl.col("subset") == "all", pl.col("drug").is_in(drugs))
            .select(*KEYS, "a").sort(KEYS))


def _joined(values: pl.Expr, sep: str = "; ") -> pl.Expr:
    return values.drop_nulls().unique().sort().str.join(sep)


def _drug_facts(home, roles: str, listed: pl.DataFrame) -> pl.DataFrame:
    """Per (drug, caseid) of the listed cases: role, route, dose, indication, onset, drug subsets,
    co-suspect and co-reported drugs."""
    rows = tables.scan(home.cases, "drugs")
    names = rows.collect_schema().names()
    cols = ["caseid", "drug_seq", "role_cod", "ingredient", "route", "daily_dose_mg", "onset_days",
            *(c for c, kind in faers.SUBSETS.values() if kind == "drug"), *([SINGLE_DOSE] if SINGLE_DOSE in names else [])]
    ids = listed.select("caseid").unique()
    rows = (rows.select(cols).with_columns(drug=pl.col("ingredient").str.to_lowercase(),
                                           role_cod=pl.col("role_cod").str.to_uppercase())
            .join(ids.lazy(), on="caseid", how="semi").collect(engine=STREAMING))
    indications = (tables.scan(home.cases, "indications").select("caseid", "drug_seq", "indi_pt")
                   .join(ids.lazy(), on="caseid", how="semi").collect(engine=STREAMING))
    keep = faers.ROLES[roles]
    mine = rows.join(listed.select("drug", "caseid").unique(), on=["drug", "caseid"], how="semi")
    if keep is not None:
        mine = mine.filter(pl.col("role_cod").is_in(list(keep)))
    mine = mine.join(indications, on=["caseid", "drug_seq"], how="left")
    dose = pl.concat_str(pl.col("daily_dose_mg").round(1).cast(pl.Utf8), pl.lit(" mg/day"))
    if SINGLE_DOSE in names:
        dose = pl.coalesce(dose, pl.concat_str(pl.col(SINGLE_DOSE).round(1).cast(pl.Utf8), pl.lit(" mg (single)")))
    subset_labels = [pl.concat_str(pl.lit(f"{name}="), pl.col(column))
                     for name, (column, kind) in faers.SUBSETS.items() if kind == "drug"]
    facts = mine.with_columns(_dose=dose, _subsets=pl.concat_list(subset_labels)).explode("_subsets").group_by("drug", "caseid").agg(
        role=_joined(pl.col("role_cod"), ", "), route=_joined(pl.col("route"), ", "), dose=_joined(pl.col("_dose")),
        indication=_joined(pl.col("indi_pt")), onset_days=pl.col("onset_days").min(),
        drug_subsets=pl.col("_subsets").drop_nulls().unique().sort())
    others = rows.select("caseid", "role_cod", other="drug").drop_nulls("other")
    pairs = listed.select("drug", "caseid").unique().join(others, on="caseid").filter(pl.col("other") != pl.col("drug"))
    co = pairs.group_by("drug", "caseid").agg(
        co_suspect=_joined(pl.col("other").filter(pl.col("role_cod").is_in(["PS", "SS"]))),
        co_reported=_joined(pl.col("other")))
    return facts.join(co, on=["drug", "caseid"], how="left")


def _pts(home, listed: pl.DataFrame) -> pl.DataFrame:
    """Per listed (drug, level, event, caseid): all PTs of the case and the ones matching the event
    (all PTs joined once per case, not once per listing the case is in)."""
    reactions = (tables.scan(home.cases, "reactions").select("caseid", "pt").drop_nulls()
                 .join(listed.select("caseid").unique().lazy(), on="caseid", how="semi").unique().collect(engine=STREAMING))
    every = reactions.group_by("caseid").agg(pts=_joined(pl.col("pt")))
    pts = reactions.with_columns(_k=pl.col("pt").str.to_lowercase())
    maps = {"group": faers.default_group_map(), "domain": faers.default_domain_map()}
    keys = listed.select(*KEYS, "caseid")
    matched = [keys.filter(pl.col("level") == "pt").with_columns(_k=pl.col("event").str.to_lowercase())
               .join(pts, on=["caseid", "_k"])]
    for level, table in maps.items():
        mapping = table.select(pl.col("pt").str.to_lowercase().alias("_k"), "event").unique()
        matched.append(keys.filter(pl.col("level") == level).join(mapping, on="event").join(pts, on=["caseid", "_k"]))
    hits = (pl.concat([m.select(*KEYS, "caseid", "pt") for m in matched])
            .group_by(*KEYS, "caseid").agg(matching_pts=_joined(pl.col("pt"))))
    return (keys.join(hits, on=[*KEYS, "caseid"], how="left").join(every, on="caseid", how="left")
            .with_columns(pl.col("matching_pts").fill_null("")))


def _listed(inputs: Inputs, rows: pl.DataFrame):
    """(listed cases per key, the run's facts) recounted with the signal engine's reading rules."""
    options = inputs.run.get("options", {})
    facts = faers.read_inputs(inputs.home, options.get("roles", "ps+ss"), options.get("dedup", True), strata=(),
                        of_drugs=rows["drug"].unique().to_list())
    found = []
    for level in rows["level"].unique().sort():
        keys = rows.filter(pl.col("level") == level).select("drug", "event")
        drug_rows = facts.drugs.select("id", "drug").join(keys.select("drug").unique(), on="drug").unique()
        found.append(drug_rows.join(facts.events[level], on="id").join(keys, on=["drug", "event"])
                     .select("drug", pl.lit(level).alias("level"), "event", pl.col("id").alias("caseid")))
    return pl.concat(found).unique(), facts


def listing_rows(inputs: Inputs, rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One row per (drug, level, event, case) with every listing column; and per drug the
    outcome counts of all its reports (for the 'drug's other reports' panel)."""
    listed, facts = _listed(inputs, rows)
    report_cols = [c for c, kind in faers.SUBSETS.values() if kind == "report"]
    cases = (tables.scan(inputs.home.cases, "cases")
             .select("caseid", "primaryid", pl.col("caseversion").alias("version"), "quarter",
                     pl.col("age_years").round(1).alias("age"), "sex", "country", "reporter", "serious", *OUTCOMES,
                     *(c for c in report_cols if c not in ("sex",)))
             .join(pl.concat([listed.select("caseid"), facts.drugs.select(pl.col("id").alias("caseid"))]).unique().lazy(),
                   on="caseid", how="semi").collect(engine=STREAMING))
    report_subsets = pl.concat_list([pl.concat_str(pl.lit(f"{name}="), pl.col(column))
                                     for name, (column, kind) in faers.SUBSETS.items() if kind == "report"])
    out = (listed.join(cases, on="caseid", how="left")
           .join(_drug_facts(inputs.home, inputs.run.get("options", {}).get("roles", "ps+ss"), listed),
                 on=["drug", "caseid"], how="left")
           .join(_pts(inputs.home, listed), on=[*KEYS, "caseid"], how="left")
           .with_columns(subsets=pl.concat_list(pl.col("drug_subsets").fill_null([]), report_subsets.list.drop_nulls()))
           .sort([*KEYS, "quarter", "caseid"]))
    per_drug = (facts.drugs.select(pl.col("id").alias("caseid"), "drug").unique()
                .filter(pl.col("drug").is_in(rows["drug"].unique().to_list()))
                .join(cases.select("caseid", "serious", *OUTCOMES), on="caseid", how="left")
                .group_by("drug").agg(n=pl.len(), **{o: pl.col(o).fill_null(False).sum() for o in ["serious", *OUTCOMES]}))
    return out, per_drug


def _script(payload: dict) -> str:
    """``pvListing(<json>);`` safe inside a script element ("</" never closes it)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return "pvListing(" + text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + ");\n"


def write_case_lists(inputs: Inputs, site: Path, drugs: list[str] | None = None) -> dict[tuple[str, str, str], CaseList]:
    """Write ``cases/<hash>.js`` for every watched signal (of ``drugs``, default all); return the
    lists by (drug, level, event). A drug's listings depend on that drug alone (one publish piece each)."""
    rows = wanted(inputs, drugs)
    if rows.height == 0:
        return {}
    listed, per_drug = listing_rows(inputs, rows)
    totals = {r["drug"]: r for r in per_drug.iter_rows(named=True)}
    subset_a = {(d, lv, e, s): a for d, lv, e, s, a in inputs.signals.filter(pl.col("subset") != "all")
                .select("drug", "level", "event", "subset", "a").iter_rows()}
    by_key = listed.partition_by(KEYS, as_dict=True, maintain_order=True)
    # per listing, in one pass each: its cases per subset and its outcome counts
    in_subsets: dict[tuple, dict[str, int]] = {}
    for drug, level, event, subset, n in (listed.select(*KEYS, "subsets").explode("subsets").drop_nulls("subsets")
                                          .group_by(*KEYS, "subsets").len().iter_rows()):
        in_subsets.setdefault((drug, level, event), {})[subset] = n
    outcomes = {(r.pop("drug"), r.pop("level"), r.pop("event")): r for r in listed.group_by(KEYS).agg(
        pl.col(k).fill_null(False).sum() for k in ["serious", *OUTCOMES]).iter_rows(named=True)}
    keys = [c for c, _ in COLUMNS]
    out: dict[tuple[str, str, str], CaseList] = {}
    (site / "cases").mkdir(exist_ok=True)
    for drug, level, event, a in rows.iter_rows():
        frame = by_key.get((drug, level, event), listed.clear())
        subsets = in_subsets.get((drug, level, event), {})
        if frame.height != a:
            out[(drug, level, event)] = CaseList(None, frame.height, {})
            continue
        name = data_file(drug, level, event)
        total = totals[drug]
        other = {k: total[k] - int(outcomes[(drug, level, event)][k]) for k in ["serious", *OUTCOMES]}
        payload = {"drug": drug, "level": level, "event": event, "a": a, "columns": [list(c) for c in COLUMNS],
                   "rows": frame.select(keys).rows(), "subset_a": {s: subset_a.get((drug, level, event, s)) for s in subsets},
                   "other": {"n": total["n"] - a, **other}, "rule": inputs.rule,
                   "simulated": inputs.origin.label != "FDA", "data": inputs.origin.label, "run_id": inputs.run_id}
        (site / "cases" / f"{name}.js").write_text(_script(payload), encoding="utf-8")
        matching = {s: n for s, n in subsets.items() if subset_a.get((drug, level, event, s)) == n}
        out[(drug, level, event)] = CaseList(f"{LISTING_PAGE}#{name}", a, matching)
    return out


def attach_case_links(records: list[dict], case_lists: dict[tuple[str, str, str], CaseList]) -> dict:
    """Set each signal record's ``cases`` text (rows of its listing, or why there is none) and
    return the ``links`` mapping that makes it a link to the listing (the subset's, for a subset row)."""
    from urllib.parse import quote

    for r in records:
        found = case_lists.get((r["drug"], r["level"], r["event"]))
        subset = r.get("subset", "all")
        href = text = None
        if found is not None and found.href is None:
            text = f"recount {found.n:,} \u2260 a: not listed"
        elif found is not None and subset == "all":
            href, text = found.href, f"{found.n:,} cases"
        elif found is not None and r.get("a", 0) == 0:
            text = "0 cases"
        elif found is not None and subset in found.subsets:
            href, text = f"{found.href}&subset={quote(subset, safe='')}", f"{found.subsets[subset]:,} cases"
        elif found is not None:
            text = "recount \u2260 a: not listed"
        r["cases"] = text
        r["_cases_href"] = href
    return {"cases": lambda r: r["_cases_href"]}
