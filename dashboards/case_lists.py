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

Files: ``listing.html`` + ``listing.js`` (one static viewer, plain JS: pages, sort, filter, CSV
export, panels) and per listing ``cases/<hash>.js`` (``pvListing({...})``: the counts, the size of
each page, which pages hold each subset's cases, the panels over all its cases) and
``cases/<hash>-<page>.js`` (``pvListingPage(...)``: one page of rows, rule ``listing-pages``), each
loaded on demand by a script tag, which works from file:// with no server and no network.
File names are hashes of the key (``data_file``): safe whatever the drug or PT is called.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dashboards import reuse
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
#: rule ``listing-pages`` (issue 16: every page <= 2 MB at full FAERS scale, where one listing holds
#: 123,180 cases): a listing's rows are written in pages of at most PAGE_ROWS rows, a new page begun
#: past each PAGE_BYTES of text (a page file stays under ~1 MB), loaded one at a time by the viewer
PAGE_ROWS = 500
PAGE_BYTES = 900_000
#: the most listing rows (summed ``a``) whose text is held at once (write_case_lists' chunks)
CHUNK_ROWS = 100_000


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


@dataclass
class _Read:
    """What the listings of a run read from cases/, once, kept to the listed cases (and, for the
    'other reports' panel, the watched drugs' reports): each drug's listings are then made from it."""
    listed: pl.DataFrame  # (drug, level, event, caseid) of every listing
    facts: faers.FaersInputs  # the signal engine's reading of the drugs' reports
    cases: pl.DataFrame  # cases.parquet columns of the listed cases and the drugs' reports
    drug_rows: pl.DataFrame  # every drug row of the listed cases (any role), drug name lower-cased
    indications: pl.DataFrame
    reactions: pl.DataFrame  # (caseid, pt) of the listed cases, distinct


def _read(inputs: Inputs, rows: pl.DataFrame) -> _Read:
    listed, facts = _listed(inputs, rows)
    home, ids = inputs.home, listed.select("caseid").unique()
    report_cols = [c for c, kind in faers.SUBSETS.values() if kind == "report"]
    cases = (tables.scan(home.cases, "cases")
             .select("caseid", "primaryid", pl.col("caseversion").alias("version"), "quarter",
                     pl.col("age_years").round(1).alias("age"), "sex", "country", "reporter", "serious", *OUTCOMES,
                     *(c for c in report_cols if c not in ("sex",)))
             .join(pl.concat([ids, facts.drugs.select(pl.col("id").alias("caseid"))]).unique().lazy(),
                   on="caseid", how="semi").collect(engine=STREAMING))
    drug_rows = tables.scan(home.cases, "drugs")
    names = drug_rows.collect_schema().names()
    cols = ["caseid", "drug_seq", "role_cod", "ingredient", "route", "daily_dose_mg", "onset_days",
            *(c for c, kind in faers.SUBSETS.values() if kind == "drug"), *([SINGLE_DOSE] if SINGLE_DOSE in names else [])]
    drug_rows = (drug_rows.select(cols).with_columns(drug=pl.col("ingredient").str.to_lowercase(),
                                                     role_cod=pl.col("role_cod").str.to_uppercase())
                 .join(ids.lazy(), on="caseid", how="semi").collect(engine=STREAMING))
    indications = (tables.scan(home.cases, "indications").select("caseid", "drug_seq", "indi_pt")
                   .join(ids.lazy(), on="caseid", how="semi").collect(engine=STREAMING))
    reactions = (tables.scan(home.cases, "reactions").select("caseid", "pt").drop_nulls()
                 .join(ids.lazy(), on="caseid", how="semi").unique().collect(engine=STREAMING))
    return _Read(listed, facts, cases, drug_rows, indications, reactions)


def _drug_facts(read: _Read, roles: str, listed: pl.DataFrame) -> pl.DataFrame:
    """Per (drug, caseid) of the listed cases: role, route, dose, indication, onset, drug subsets,
    co-suspect and co-reported drugs."""
    rows = read.drug_rows.join(listed.select("caseid").unique(), on="caseid", how="semi")
    keep = faers.ROLES[roles]
    mine = rows.join(listed.select("drug", "caseid").unique(), on=["drug", "caseid"], how="semi")
    if keep is not None:
        mine = mine.filter(pl.col("role_cod").is_in(list(keep)))
    mine = mine.join(read.indications, on=["caseid", "drug_seq"], how="left")
    dose = pl.concat_str(pl.col("daily_dose_mg").round(1).cast(pl.Utf8), pl.lit(" mg/day"))
    if SINGLE_DOSE in rows.columns:
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


def _matching(read: _Read, listed: pl.DataFrame) -> pl.DataFrame:
    """Per listed (drug, level, event, caseid): the case's PTs matching the event ("" when none)."""
    pts = (read.reactions.join(listed.select("caseid").unique(), on="caseid", how="semi")
           .with_columns(_k=pl.col("pt").str.to_lowercase()))
    maps = {"group": faers.default_group_map(), "domain": faers.default_domain_map()}
    keys = listed.select(*KEYS, "caseid")
    matched = [keys.filter(pl.col("level") == "pt").with_columns(_k=pl.col("event").str.to_lowercase())
               .join(pts, on=["caseid", "_k"])]
    for level, table in maps.items():
        mapping = table.select(pl.col("pt").str.to_lowercase().alias("_k"), "event").unique()
        matched.append(keys.filter(pl.col("level") == level).join(mapping, on="event").join(pts, on=["caseid", "_k"]))
    hits = (pl.concat([m.select(*KEYS, "caseid", "pt") for m in matched])
            .group_by(*KEYS, "caseid").agg(matching_pts=_joined(pl.col("pt"))))
    return keys.join(hits, on=[*KEYS, "caseid"], how="left").with_columns(pl.col("matching_pts").fill_null(""))


def _drug_cases(inputs: Inputs, read: _Read, listed: pl.DataFrame) -> pl.DataFrame:
    """Per (drug, caseid) of ``listed``: every listing column but matching_pts. They are the same in
    every listing of the drug the case is in (a case is in ~10 of them), so they are made once."""
    pairs = listed.select("drug", "caseid").unique()
    reactions = read.reactions.join(pairs.select("caseid").unique(), on="caseid", how="semi")
    every = reactions.group_by("caseid").agg(pts=_joined(pl.col("pt")))
    report_subsets = pl.concat_list([pl.concat_str(pl.lit(f"{name}="), pl.col(column))
                                     for name, (column, kind) in faers.SUBSETS.items() if kind == "report"])
    return (pairs.join(read.cases, on="caseid", how="left")
            .join(_drug_facts(read, inputs.run.get("options", {}).get("roles", "ps+ss"), pairs),
                  on=["drug", "caseid"], how="left")
            .join(every, on="caseid", how="left")
            .with_columns(subsets=pl.concat_list(pl.col("drug_subsets").fill_null([]), report_subsets.list.drop_nulls())))


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
    read = _read(inputs, rows)
    drugs = rows["drug"].unique().to_list()
    listed = read.listed.filter(pl.col("drug").is_in(drugs))
    out = (_matching(read, listed).join(_drug_cases(inputs, read, listed), on=["drug", "caseid"], how="left")
           .sort([*KEYS, "quarter", "caseid"]))
    return out, _per_drug(read, drugs)


def _per_drug(read: _Read, drugs: list[str]) -> pl.DataFrame:
    """Per drug of ``drugs``: its reports and their outcome counts (the 'drug's other reports' panel)."""
    return (read.facts.drugs.select(pl.col("id").alias("caseid"), "drug").unique()
            .filter(pl.col("drug").is_in(drugs))
            .join(read.cases.select("caseid", "serious", *OUTCOMES), on="caseid", how="left")
            .group_by("drug").agg(n=pl.len(), **{o: pl.col(o).fill_null(False).sum() for o in ["serious", *OUTCOMES]}))


def _inert(text: pl.Expr) -> pl.Expr:
    """JSON text made safe inside a script element: "</" never closes it, U+2028/9 never end a line."""
    return (text.str.replace_all("</", "<\\/", literal=True).str.replace_all("\u2028", "\\u2028", literal=True)
            .str.replace_all("\u2029", "\\u2029", literal=True))


def _json(column: str) -> pl.Expr:
    """Each value of ``column`` as JSON text, encoded by polars (no Python loop over rows)."""
    return pl.struct(column).struct.json_encode().str.strip_prefix(json.dumps({column: 0}, separators=(",", ":"))[:-2]).str.strip_suffix("}")


def _script(payload: dict, raw: str = "") -> str:
    """``pvListing(<json>);`` safe inside a script element ("</" never closes it); ``raw``: more
    members, already JSON and made inert, appended to the object."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    text = text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return "pvListing(" + (text[:-1] + "," + raw + "}" if raw else text) + ");\n"


def _paged(listed: pl.DataFrame) -> pl.DataFrame:
    """Per listed row (in listing order, its inert JSON text in ``_row``): its page. A page holds at most
    PAGE_ROWS rows and starts a new one past each PAGE_BYTES of the listing's text, so a page file
    stays near PAGE_BYTES (rule ``listing-pages``)."""
    out = listed.select(*KEYS, "subsets", "_row").with_columns(_n=pl.col("_row").str.len_bytes() + 1)
    at = pl.int_range(pl.len()).over(KEYS)
    before = (pl.col("_n").cum_sum() - pl.col("_n")).over(KEYS)
    bucket = pl.max_horizontal(at // PAGE_ROWS, before // PAGE_BYTES)
    return out.with_columns(page=(bucket.rank("dense").over(KEYS) - 1).cast(pl.Int32)).drop("_n")


#: the listing viewer's panels, as it labels them: (label, lower, upper) bins of onset days and age years
ONSET_BINS = [("0 (same day)", 0, 0), ("1-7 days", 1, 7), ("8-30 days", 8, 30), ("31-90 days", 31, 90),
              ("91-365 days", 91, 365), (">365 days", 366, None)]
AGE_BINS = [("age <18", 0, 18), ("age 18-44", 18, 45), ("age 45-64", 45, 65), ("age 65-74", 65, 75), ("age >=75", 75, None)]
TOP_CO_REPORTED = 10


def _binned(column: str, bins, unknown: str, inclusive: bool) -> pl.Expr:
    label = pl.when(pl.col(column).is_null()).then(pl.lit(unknown))
    for name, low, high in bins:
        upper = True if high is None else (pl.col(column) <= high if inclusive else pl.col(column) < high)
        label = label.when((pl.col(column) >= low) & upper).then(pl.lit(name))
    return label.otherwise(None)


def _panels(listed: pl.DataFrame) -> dict[tuple[str, str, str], str]:
    """Per listing, its panels over ALL its cases, for the whole listing ("") and each subset, as JSON
    text ``{"<subset>": {"outcomes": [{"l":..,"n":..}], "onset", "age", "sex", "quarter", "co"}}``: the
    viewer shows one page of cases at a time, so it cannot count them itself. "co" holds the listing's
    TOP_CO_REPORTED most co-reported drugs, counted in the whole listing or in the subset. Rows, listings
    and labels are integers or categories here: a subset row is (row, listing, subset), not a copy of the row."""
    names = listed.select(KEYS).unique(maintain_order=True).with_row_index("_k")
    cat = pl.Categorical
    rows = listed.join(names, on=KEYS, how="left", maintain_order="left").select(
        "_k", pl.int_range(pl.len(), dtype=pl.UInt32).alias("_r"), "subsets", "co_reported",
        *(pl.col(o).fill_null(False) for o in ["serious", *OUTCOMES]),
        onset=_binned("onset_days", ONSET_BINS, "unknown", True).cast(cat),
        age=_binned("age", AGE_BINS, "age unknown", False).cast(cat),
        sex=pl.concat_str(pl.lit("sex "), pl.col("sex").fill_null("unknown")).cast(cat), quarter=pl.col("quarter").cast(cat))
    member = pl.concat([rows.select("_r", "_k", _s=pl.lit("").cast(cat)),
                        rows.select("_r", "_k", _s="subsets").explode("_s").drop_nulls("_s").with_columns(pl.col("_s").cast(cat))])
    keys = ["_k", "_s"]
    long = member.join(rows.drop("_k", "subsets", "co_reported"), on="_r")
    outcomes = (long.group_by(keys).agg(pl.col(o).sum() for o in ["serious", *OUTCOMES])
                .unpivot(index=keys, variable_name="l", value_name="n"))
    co = (rows.select("_r", "_k", l=pl.col("co_reported").str.split("; ")).explode("l")
          .filter(pl.col("l").is_not_null() & (pl.col("l") != "")).with_columns(pl.col("l").cast(cat)))
    top = (co.group_by("_k", "l").len().sort("_k", "len", pl.col("l").cast(pl.String), descending=[False, True, False])
           .group_by("_k", maintain_order=True).head(TOP_CO_REPORTED))
    parts = {"outcomes": outcomes, **{c: long.group_by(*keys, l=c).len("n") for c in ("onset", "age", "sex", "quarter")},
             "co": (co.join(top.select("_k", "l"), on=["_k", "l"], how="semi").join(member, on=["_r", "_k"])
                    .group_by(*keys, "l").len("n"))}
    frame = outcomes.select(keys).unique()
    for name, part in parts.items():
        part = part.filter(pl.col("l").is_not_null()).with_columns(pl.col("l").cast(pl.String), pl.col("n").cast(pl.Int64))
        part = part.sort([*keys, "n", "l"], descending=[False, False, True, False]) if name == "co" else part.sort([*keys, "l"])
        frame = frame.join(part.group_by(keys, maintain_order=True).agg(pl.struct("l", "n").alias(name)),
                           on=keys, how="left")
    member = pl.concat_str(_json("_s"), pl.lit(":"), pl.struct(*parts).struct.json_encode())
    text = (frame.with_columns(pl.col("_s").cast(pl.String)).sort(keys).group_by("_k", maintain_order=True)
            .agg(_inert(member).str.join(",")).join(names, on="_k"))
    return {(d, lv, e): "{" + t + "}" for d, lv, e, t in text.select(*KEYS, "_s").iter_rows()}


def write_case_lists(inputs: Inputs, site: Path, drugs: list[str] | None = None) -> dict[tuple[str, str, str], CaseList]:
    """Write the paged listing of every watched signal (of ``drugs``, default all), drug by drug (memory
    follows one drug's listings); return the lists by (drug, level, event). A drug's listings depend on
    that drug alone (one publish piece each)."""
    rows = wanted(inputs, drugs)
    out: dict[tuple[str, str, str], CaseList] = {}
    if rows.height == 0:
        return out
    (site / "cases").mkdir(exist_ok=True)
    read = _read(inputs, rows)
    head, tail = _row_parts()
    for (drug,), of_drug in rows.partition_by("drug", as_dict=True, maintain_order=True).items():
        listed = read.listed.filter(pl.col("drug") == drug)
        cases = _drug_cases(inputs, read, listed).select(
            "drug", "caseid", "quarter", "subsets", "co_reported", "serious", *OUTCOMES, "onset_days", "age", "sex",
            _head=head, _tail=tail)
        per_drug = _per_drug(read, [drug])
        for chunk in _chunks(of_drug):
            mine = listed.join(chunk.select(KEYS), on=KEYS, how="semi")
            rows_of = (_matching(read, mine).join(cases, on=["drug", "caseid"], how="left")
                       .with_columns(_row=pl.concat_str(pl.lit("["), "_head", pl.lit(","), _inert(_json("matching_pts")),
                                                        pl.lit(","), "_tail", pl.lit("]")))
                       .drop("_head", "_tail", "matching_pts").sort([*KEYS, "quarter", "caseid"]))
            out |= _write_drug(inputs, site, drug, chunk, rows_of, per_drug)
    return out


def _row_parts() -> tuple[pl.Expr, pl.Expr]:
    """A listing row is ``[<head>,<matching_pts>,<tail>]``: the columns before and after the one column
    that depends on the listing, as inert JSON text of one (drug, case)."""
    keys = [c for c, _ in COLUMNS]
    at = keys.index("matching_pts")
    return tuple(_inert(pl.concat_str([_json(k) for k in part], separator=",")) for part in (keys[:at], keys[at + 1:]))


def _chunks(rows: pl.DataFrame) -> list[pl.DataFrame]:
    """One drug's listings (rows of ``wanted``) in runs of at most CHUNK_ROWS cases (one listing at least,
    by ``a``): memory follows a chunk's listing rows, not the drug's (a listing depends on its key alone)."""
    run = (pl.col("a").cum_sum() - pl.col("a")) // CHUNK_ROWS
    return rows.with_columns(_c=run).partition_by("_c", maintain_order=True, include_key=False)


def _write_drug(inputs: Inputs, site: Path, drug: str, rows: pl.DataFrame, listed: pl.DataFrame,
                per_drug: pl.DataFrame) -> dict[tuple[str, str, str], CaseList]:
    """One drug's listings: ``cases/<hash>.js`` (what the viewer needs up front: counts, page sizes,
    which pages hold each subset, panels) and ``cases/<hash>-<page>.js`` (the rows of one page)."""
    total = per_drug.row(0, named=True)
    subset_a = {(lv, e, s): a for lv, e, s, a in inputs.signals.filter(pl.col("drug") == drug, pl.col("subset") != "all")
                .select("level", "event", "subset", "a").iter_rows()}
    counted = {(r.pop("drug"), r.pop("level"), r.pop("event")): r for r in listed.group_by(KEYS).agg(
        n=pl.len(), **{k: pl.col(k).fill_null(False).sum() for k in ["serious", *OUTCOMES]}).iter_rows(named=True)}
    paged = _paged(listed)
    pages: dict[tuple, list[int]] = {}
    for d, lv, e, n in paged.group_by(*KEYS, "page").len().sort([*KEYS, "page"]).select(*KEYS, "len").iter_rows():
        pages.setdefault((d, lv, e), []).append(n)
    subset_pages: dict[tuple, dict[str, list]] = {}
    for d, lv, e, s, page, n in (paged.select(*KEYS, "page", "subsets").explode("subsets").drop_nulls("subsets")
                                 .group_by(*KEYS, "subsets", "page").len().sort([*KEYS, "subsets", "page"]).iter_rows()):
        subset_pages.setdefault((d, lv, e), {}).setdefault(s, []).append([page, n])
    panels = _panels(listed)
    by_page = paged.group_by(*KEYS, "page", maintain_order=True).agg(pl.col("_row").str.join(","))
    out: dict[tuple[str, str, str], CaseList] = {}
    listed_keys = {}
    for _drug, level, event, a in rows.iter_rows():
        key = (drug, level, event)
        n = counted.get(key, {}).get("n", 0)
        if n != a:
            out[key] = CaseList(None, n, {})
            continue
        name = listed_keys[key] = data_file(*key)
        subsets = {s: sum(c for _, c in found) for s, found in subset_pages.get(key, {}).items()}
        other = {k: total[k] - int(counted[key][k]) for k in ["serious", *OUTCOMES]}
        payload = {"drug": drug, "level": level, "event": event, "a": a, "columns": [list(c) for c in COLUMNS],
                   "pages": pages[key], "subset_pages": subset_pages.get(key, {}),
                   "subset_a": {s: subset_a.get((level, event, s)) for s in subsets},
                   "other": {"n": total["n"] - a, **other}, "rule": inputs.rule,
                   "simulated": inputs.origin.label != "FDA", "data": inputs.origin.label, "run_id": inputs.run_id}
        reuse.write_text(site / "cases" / f"{name}.js", _script(payload, '"panels":' + panels[key]))
        matching = {s: c for s, c in subsets.items() if subset_a.get((level, event, s)) == c}
        out[key] = CaseList(f"{LISTING_PAGE}#{name}", a, matching)
    for d, lv, e, page, text in by_page.iter_rows():
        if (name := listed_keys.get((d, lv, e))) is not None:
            reuse.write_text(site / "cases" / f"{name}-{page}.js", f'pvListingPage("{name}",{page},[{text}]);\n')
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
