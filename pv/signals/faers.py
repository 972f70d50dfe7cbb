"""The FAERS inputs of a signal run, read from the cases stage's files (CONTRACTS.md "Cases").

Rules (each a named decision with its default):
- ``suspect-roles`` (default ``ps+ss``): which drug rows make a report "a report with the
  drug": ``ps`` = primary suspect only, ``ps+ss`` = primary or secondary suspect, ``any`` =
  also concomitant and interacting. Concomitant drugs are not suspected of the event.
- ``dedup-filter`` (default on): cases the cases stage flagged as duplicates
  (``dup_flag``) are left out; off keeps them (the number then moves: report both).
- ``background``: the reports counted (N) are the surviving cases with at least one
  reaction and at least one drug row in the chosen roles, for ALL drugs, so the
  background is complete whatever drugs are reported.
- ``event-levels``: PT (reactions.pt, canonical spelling from the cases stage); event group
  (seeds/event_groups.csv: ``<group>_narrow`` = the narrow list, ``<group>_broad`` =
  narrow + broad rows, groups overdose, withdrawal, abuse, suicide; the pump list is case
  context, not an outcome); receptor domain (seeds/receptor_map.csv, effect rows). PT
  matching is case-insensitive. A report "has" a group or domain when any of its PTs is in it.
The PT→group and PT→domain mappings are plain two-column tables (pt, event), so a user's
licensed MedDRA (SMQs) can stand in for the seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pv.config import Home
from pv.errors import PvError
from pv.signals.counts import distinct_pairs
from pv.cases import tables

ROLES = {"ps": ("PS",), "ps+ss": ("PS", "SS"), "any": None}
OUTCOME_GROUPS = ("overdose", "withdrawal", "abuse", "suicide")

#: subset name -> (column, "drug" attribute of the drug row | "report" attribute of the case)
SUBSETS = {
    "route": ("route_class", "drug"),
    "indication": ("indication_class", "drug"),
    "dose_band": ("dose_band", "drug"),
    "sex": ("sex", "report"),
    "age_band": ("age_band", "report"),
}
DEFAULT_STRATA = ("sex", "age_band", "report_year")


def subset_values(name: str, column: str, kind: str, watched: pl.DataFrame,
                  universe: pl.DataFrame) -> list[tuple[str, object]]:
    """(label, value) per value of subset ``name`` (SUBSETS: column, kind), sorted: drug subsets take their
    values from the watched drugs' rows, report subsets from the background (one list for table and trend)."""
    source = watched if kind == "drug" else universe
    return [(f"{name}={v}", v) for v in source[column].drop_nulls().unique().sort().to_list()]


def group_map(groups: pl.DataFrame, outcome_groups=OUTCOME_GROUPS) -> pl.DataFrame:
    """(pt, event) rows: narrow lists as ``<g>_narrow``, narrow + broad as ``<g>_broad``."""
    groups = groups.filter(pl.col("group").is_in(list(outcome_groups)))
    narrow = groups.filter(pl.col("scope") == "narrow")
    with_broad = groups.filter(pl.col("scope") == "broad")["group"].unique().to_list()
    return pl.concat([
        narrow.select("pt", (pl.col("group") + "_narrow").alias("event")),
        groups.filter(pl.col("group").is_in(with_broad)).select("pt", (pl.col("group") + "_broad").alias("event")),
    ]).unique()


def default_group_map() -> pl.DataFrame:
    from pv.vocab.pts import load_event_groups

    return group_map(load_event_groups().frame)


def default_domain_map() -> pl.DataFrame:
    from pv.vocab.receptors import pt_domains

    return pt_domains().select("pt", pl.col("domain").alias("event"))


def watchlist_drugs() -> list[str]:
    from pv.vocab.lookups import load_watchlist

    return load_watchlist().frame["drug"].to_list()


@dataclass
class PastRecords:
    """Versions current at an earlier quarter (cases/history/, rule time-as-received): each counts
    from its ``quarter`` until ``valid_to`` (exclusive), so the trend sees each quarter as it was.
    ``id`` is negative (-1, -2, ...), never a caseid of the current cases."""

    universe: pl.DataFrame  # id, quarter, valid_to, strata and report-subset columns
    drugs: pl.DataFrame  # id, drug, drug-level subset columns
    events: dict[str, pl.DataFrame]  # level -> (id, event)


@dataclass
class FaersInputs:
    """The collected case-level tables one signal run counts from."""

    universe: pl.DataFrame  # id, quarter, strata columns, report-level subset columns
    drugs: pl.DataFrame  # id, drug, drug-level subset columns (chosen roles only)
    events: dict[str, pl.DataFrame]  # level -> (id, event)
    sources: list[str]
    past: PastRecords | None = None


def _scan(home: Home, name: str, columns: list[str]) -> pl.LazyFrame:
    path = tables.folder(home.cases, name)
    if not tables.exists(home.cases, name):
        raise PvError(f"{path}: missing (run `pvmon cases` first)")
    frame = tables.scan(home.cases, name)
    missing = [c for c in columns if c not in frame.collect_schema().names()]
    if missing:
        raise PvError(f"{path}: no column {', '.join(missing)} (cases contract)")
    return frame.select(columns)


def _suspects(drugs: pl.LazyFrame, roles: str, drug_cols: list[str], keys: list[str], coded: bool = False
              ) -> pl.LazyFrame:
    """Drug rows in the chosen roles with a mapped ingredient (rule suspect-roles); ``coded``: the
    drug and its subset columns as Categorical (see read_inputs)."""
    if ROLES[roles] is not None:
        drugs = drugs.filter(pl.col("role_cod").str.to_uppercase().is_in(list(ROLES[roles])))
    named = [pl.col("ingredient").str.to_lowercase().alias("drug"), *(pl.col(c) for c in drug_cols)]
    return drugs.filter(pl.col("ingredient").is_not_null()).select(
        *keys, *(c.cast(pl.Categorical) if coded else c for c in named))


def _event_kind(home: Home, coded: bool) -> pl.Enum | None:
    """The PT column's Enum (sorted names of the current and past reactions), or None when not ``coded``."""
    if not coded:
        return None
    names = pl.concat([tables.scan(home.cases, "reactions", past).select("pt") for past in (False, True)
                       if tables.exists(home.cases, "reactions", past)])
    return pl.Enum(names.drop_nulls().unique().collect(engine="streaming")["pt"].sort())


def _pt(kind: pl.Enum | None) -> pl.Expr:
    return (pl.col("pt") if kind is None else pl.col("pt").cast(kind)).alias("event")


def _engine(batches: bool) -> str:
    """``batches``: the tables are read in batches (polars' streaming engine), for a coded read (each
    batch's names coded as it comes, never the whole file's strings at once) and for a few drugs' reports
    (each scan semi-joined to them as it is read); row order kept, as the default engine does."""
    return "streaming" if batches else "auto"


def _distinct(rows, coded: bool):
    """Each (id, event) row once (a report naming a PT twice counts once); coded, by one integer key a
    row (pv.signals.counts.distinct_pairs)."""
    if not coded:
        return rows.unique()
    return distinct_pairs(rows, pl.col("event").to_physical(), len(rows.collect_schema()["event"].categories))


def _background(cases: pl.DataFrame, drugs: pl.DataFrame, reactions: pl.DataFrame):
    """Rule background: reports with a drug in the roles and a reaction; their drug and reaction rows."""
    universe = cases.join(drugs.select("id"), on="id", how="semi").join(reactions.select("id"), on="id", how="semi")
    ids = universe.select("id")
    return universe, drugs.join(ids, on="id", how="semi"), reactions.join(ids, on="id", how="semi")


def _levels(reactions: pl.DataFrame, group_table, domain_table, coded: bool = False) -> dict[str, pl.DataFrame]:
    """(id, event) per level: PT -> group / domain on the distinct PTs (case-insensitive), then one join;
    ``coded``: the group and domain as an Enum of the mapping's sorted names."""
    levels = {"pt": reactions}
    pts = reactions.select("event").unique().with_columns(
        pl.col("event").cast(pl.String).str.to_lowercase().alias("_k"))
    for level, table in (("group", group_table if group_table is not None else default_group_map()),
                         ("domain", domain_table if domain_table is not None else default_domain_map())):
        mapping = table.select(pl.col("pt").str.to_lowercase().alias("_k"), pl.col("event").alias("_to")).unique()
        to = pts.join(mapping, on="_k").select("event", "_to")
        if coded:
            to = to.with_columns(pl.col("_to").cast(pl.Enum(mapping["_to"].unique().sort())))
        levels[level] = _distinct(reactions.join(to, on="event").select("id", pl.col("_to").alias("event")), coded)
    return levels


def read_inputs(home: Home, roles: str = "ps+ss", dedup: bool = True, strata=DEFAULT_STRATA,
                group_table: pl.DataFrame | None = None, domain_table: pl.DataFrame | None = None,
                of_drugs: list[str] | None = None, coded: bool = False) -> FaersInputs:
    """Universe, suspect drug rows and per-level event rows, per the rules above.

    ``coded``: the PT as an Enum of the sorted PT names (current and past tables), the drug
    and its subset columns as Categorical: a few bytes a row instead of a string, for a run
    that holds every row (pv.signals.counts.coded_rows gives the names back as strings).

    ``of_drugs``: only the reports with one of these drugs in the roles (what a case listing and
    the dose-response tables need). Each scan is semi-joined to those reports before the rows are
    made distinct and is read in batches, so memory follows the drugs' reports, not the store. A
    report's place in the background depends only on its own rows, so each kept report has exactly
    its rows of the full read; no past records are read; drugs no case names give empty frames."""
    if roles not in ROLES:
        raise PvError(f"signals: unknown roles {roles!r} (ps | ps+ss | any)")
    report_cols = sorted({*strata, *(c for c, kind in SUBSETS.values() if kind == "report")})
    cases = _scan(home, "cases", ["caseid", "quarter", "dup_flag", *report_cols])
    if dedup:
        cases = cases.filter(~pl.col("dup_flag").fill_null(False))
    drug_cols = [c for c, kind in SUBSETS.values() if kind == "drug"]
    drugs = _suspects(_scan(home, "drugs", ["caseid", "role_cod", "ingredient", *drug_cols]), roles, drug_cols,
                      [pl.col("caseid").alias("id")], coded)
    reactions = _scan(home, "reactions", ["caseid", "pt"])
    kind = _event_kind(home, coded)
    reactions = reactions.filter(pl.col("pt").is_not_null()).select(pl.col("caseid").alias("id"), _pt(kind))
    if of_drugs is not None:  # each scan semi-joined to the drugs' reports before anything is made distinct
        ids = drugs.filter(pl.col("drug").is_in(list(of_drugs))).select("id").unique().collect(engine="streaming")
        cases = cases.join(ids.lazy().rename({"id": "caseid"}), on="caseid", how="semi")
        drugs, reactions = (frame.join(ids.lazy(), on="id", how="semi") for frame in (drugs, reactions))
    reactions = _distinct(reactions, coded)
    # each file is read once; the joins below run on the collected frames (a lazy plan that
    # uses a scan several times would read and deduplicate it once per use)
    cases, drugs, reactions = pl.collect_all([cases.rename({"caseid": "id"}), drugs, reactions],
                                             engine=_engine(coded or of_drugs is not None))
    universe, drugs, reactions = _background(cases, drugs, reactions)
    if universe.height == 0 and of_drugs is None:
        raise PvError(f"{home.cases}: no case with both a drug in roles {roles} and a reaction")
    sources = [str(tables.folder(home.cases, n)) for n in ("cases", "drugs", "reactions")]
    past = None if of_drugs is not None else _past_records(home, roles, report_cols, drug_cols, group_table,
                                                             domain_table, coded, kind)
    if past is not None:
        sources += [str(tables.folder(home.cases, n, past=True)) for n in ("cases", "drugs", "reactions")]
    return FaersInputs(universe, drugs, _levels(reactions, group_table, domain_table, coded), sources, past)


def keep_drugs(inputs: FaersInputs, names: list[str]) -> None:
    """Only the drug rows of ``names`` (current and past), named by strings again: what a run holds once
    the prior, which needs every drug, is fitted."""
    def kept(rows: pl.DataFrame) -> pl.DataFrame:
        return rows.filter(pl.col("drug").cast(pl.String).is_in(names)).with_columns(
            pl.col(c).cast(pl.String) for c in rows.columns if rows[c].dtype == pl.Categorical)

    inputs.drugs = kept(inputs.drugs)
    if inputs.past is not None:
        inputs.past.drugs = kept(inputs.past.drugs)


def _past_records(home: Home, roles, report_cols, drug_cols, group_table, domain_table, coded: bool = False,
                  kind: pl.Enum | None = None) -> PastRecords | None:
    """cases/history/ read like the current tables (no duplicate filter: the flag is the current
    build's, and a past version was never flagged), or None when the store has none."""
    if not tables.exists(home.cases, "cases", past=True):
        return None
    key = ["primaryid", "quarter"]
    cases = tables.scan(home.cases, "cases", past=True).select(*key, "valid_to", *report_cols)
    drugs, reactions = (tables.scan(home.cases, n, past=True) if tables.exists(home.cases, n, past=True) else None
                        for n in ("drugs", "reactions"))
    if drugs is None or reactions is None:
        return None
    drugs = _suspects(drugs.select(*key, "role_cod", "ingredient", *drug_cols), roles, drug_cols, key, coded)
    reactions = reactions.filter(pl.col("pt").is_not_null()).select(*key, _pt(kind))
    reactions = reactions if coded else reactions.unique()  # coded: made distinct once, by id below
    cases, drugs, reactions = pl.collect_all([cases, drugs, reactions], engine=_engine(coded))
    cases = cases.with_columns((-pl.int_range(1, pl.len() + 1, dtype=pl.Int64)).alias("id"))
    ids = cases.select(*key, "id")
    drugs = drugs.join(ids, on=key).drop(key)
    reactions = _distinct(reactions.join(ids, on=key).select("id", "event"), coded)
    universe, drugs, reactions = _background(cases.drop("primaryid"), drugs, reactions)
    return PastRecords(universe, drugs, _levels(reactions, group_table, domain_table, coded))
