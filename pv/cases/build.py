"""``pvmon cases``: staged lake files -> deduplicated case tables in ``cases/``.

Reads only ``staged/<table>/quarter=*/`` (CONTRACTS.md "Lake"). DEMO is deduplicated once
over all quarters (pv/cases/dedup.py); child tables are then built quarter by quarter,
because a child row belongs to the (quarter, primaryid) of its DEMO row: memory stays
bounded by one quarter whatever the history length. Everything is written into a temporary
folder that replaces ``cases/`` atomically; outputs are sorted, so a re-run on the same
input gives identical files.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import polars as pl

from pv.atomic import atomic_dir
from pv.cases import dedup, derive, duplicates, history, increment, tables as tb
from pv.cases.distinct import Memo
from pv.cases.drugs import drug_rows, indication_classes, therapy_starts
from pv.cases.reactions import reaction_rows, spelled
from pv.cases.staged import quarters_of, require_demo, scan_table
from pv.config import Home
from pv.lake.ingest import committed_sources
from pv.lake.integrity import require_intact
from pv.lake.store import settled
from pv.vocab.dosing import load_dose_bands, load_route_products
from pv.vocab.drugnames import learned_names, load_drug_dictionary
from pv.vocab.meddra import hierarchy
from pv.vocab.lookups import load_countries, load_indication_terms
from pv.vocab.pts import load_event_groups, pt_counts, pt_table

DEMO_COLUMNS = [
    "primaryid", "caseid", "caseversion", "i_f_code", "event_dt", "mfr_dt", "init_fda_dt", "fda_dt",
    "rept_cod", "mfr_num", "mfr_sndr", "age", "age_cod", "sex", "wt", "wt_cod", "occp_cod",
    "reporter_country", "occr_country", "quarter", "era", "source_file", "source_line",
]
DRUG_COLUMNS = [  # what pv.cases.drugs reads (val_vbm and dose_form stay in staged/ unread)
    "primaryid", "drug_seq", "role_cod", "drugname", "prod_ai", "route", "dose_vbm",
    "dose_amt", "dose_unit", "dose_freq", "source_line",
]
OUTPUTS = ("cases", "drugs", "reactions", "indications", "funnel")


@dataclass(frozen=True)
class Vocab:
    """Every seed the build uses, loaded (and validated) once."""

    dictionary: pl.DataFrame
    countries: pl.DataFrame
    indications: pl.DataFrame
    pump_pts: pl.DataFrame
    meddra: pl.DataFrame | None
    versions: dict[str, str]
    learned: int = 0  # dictionary keys learned from the store's prod_ai rows
    route_products: pl.DataFrame | None = None
    dose_bands: pl.DataFrame | None = None

    @classmethod
    def load(cls) -> "Vocab":
        dictionary, countries, indications, groups = (
            load_drug_dictionary(), load_countries(), load_indication_terms(), load_event_groups())
        pump = groups.frame.filter(pl.col("group") == "pump").select(pl.col("pt").str.to_lowercase().alias("_k"))
        products, bands = load_route_products(), load_dose_bands()
        return cls(
            route_products=products.frame, dose_bands=bands.frame,
            dictionary=dictionary.frame, countries=countries.frame,
            indications=indications.frame.select(
                pl.col("indi_pt").str.to_lowercase().alias("_k"), "indication_class"),
            pump_pts=pump.unique(),
            meddra=hierarchy(),
            versions={s.name: s.version for s in (dictionary, countries, indications, groups, products, bands)},
        )


def _pid() -> pl.Expr:
    return pl.col("primaryid").str.strip_chars().cast(pl.Int64, strict=False)


def _seq(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().cast(pl.Int64, strict=False).alias("drug_seq")


def case_rows(survivors: pl.DataFrame, outcomes: pl.DataFrame, countries: pl.DataFrame) -> pl.DataFrame:
    """Derived case fields (pv/cases/derive.py) for the surviving DEMO rows."""
    flags = [*derive.OUTCOMES.values(), "serious"]
    return (
        survivors.with_columns(
            derive.age_years(survivors).alias("age_years"),
            derive.sex(survivors).alias("sex"),
            derive.country(survivors, countries).alias("country"),
            *derive.event_date_fields(survivors),
            derive.report_year(survivors),
            derive.upper_code(survivors, "rept_cod").alias("rept_cod"),
            derive.upper_code(survivors, "occp_cod").alias("reporter"),
        )
        .with_columns(derive.age_band().alias("age_band"))
        .join(outcomes, on=["quarter", "primaryid"], how="left", maintain_order="left")
        .with_columns(pl.col(f).fill_null(False) for f in flags)
    )


def drug_name_counts(home: Home, quarter: str | None = None) -> pl.DataFrame:
    """(drugname, prod_ai, n): the distinct pairs of the staged DRUG rows (every quarter, or one)
    and their row counts, counted in the streaming engine (what rule learned-names reads)."""
    return (scan_table(home, "drug", ["drugname", "prod_ai"], quarter)
            .group_by("drugname", "prod_ai").agg(pl.len().cast(pl.Int64).alias("n"))
            .collect(engine="streaming").sort("drugname", "prod_ai", nulls_last=True))


def learned_from(pairs: pl.DataFrame, vocab: Vocab) -> pl.DataFrame:
    """The dictionary keys the store's prod_ai rows teach (rule learned-names), from ``drug_name_counts``."""
    usable = pairs.filter(pl.col("prod_ai").is_not_null() & (pl.col("prod_ai").str.strip_chars() != "")
                          & pl.col("drugname").is_not_null())
    return learned_names(usable, vocab.dictionary)


def with_learned(vocab: Vocab, learned: pl.DataFrame) -> Vocab:
    """``vocab`` whose dictionary also holds the ``learned`` names."""
    return replace(vocab, dictionary=pl.concat([vocab.dictionary, learned]), learned=learned.height)


def pt_text_counts(home: Home, quarter: str | None = None) -> pl.DataFrame:
    """Every staged REAC and INDI PT text (every quarter, or one) and its row count (rule pt-spelling)."""
    return pt_counts([scan_table(home, "reac", ["pt"], quarter), scan_table(home, "indi", ["indi_pt"], quarter)])


def store_pts(counts: pl.DataFrame, vocab: Vocab) -> pl.DataFrame:
    """The store's one spelling per PT (rule pt-spelling) from ``pt_text_counts``."""
    return pt_table(counts, [] if vocab.meddra is None else vocab.meddra["pt"].to_list())


def quarter_tables(home: Home, q: str, keys: pl.LazyFrame, vocab: Vocab, pts: pl.DataFrame,
                   memo: Memo | None = None) -> dict[str, pl.DataFrame]:
    """drugs, reactions and indications of the surviving cases of quarter ``q``.

    ``keys`` (primaryid -> caseid, _event_day) are the quarter's surviving DEMO rows: a child
    row belongs to the DEMO row of its own quarter (rule children-by-quarter). ``pts`` is the
    store's PT spelling (``store_pts``), the same for reactions and indications; ``memo``: the
    build's drug-name and dose-text tables (pv.cases.distinct), made for ``vocab``."""
    def staged(table: str, columns: list[str]) -> pl.DataFrame:
        lf = scan_table(home, table, [*columns, "quarter"], q).with_columns(_pid())
        return lf.join(keys, on="primaryid", maintain_order="left").collect()

    indi = staged("indi", ["primaryid", "indi_drug_seq", "indi_pt", "source_line"]).with_columns(
        _seq("indi_drug_seq"), pl.col("indi_pt").str.strip_chars())
    ther = staged("ther", ["primaryid", "dsg_drug_seq", "start_dt"]).with_columns(_seq("dsg_drug_seq"))
    drug = staged("drug", DRUG_COLUMNS).with_columns(_seq("drug_seq"))
    return {
        "drugs": drug_rows(drug, indication_classes(indi, vocab.indications), therapy_starts(ther), vocab.dictionary,
                           vocab.route_products, vocab.dose_bands, memo),
        "reactions": reaction_rows(staged("reac", ["primaryid", "pt", "source_line"]), pts, vocab.meddra),
        "indications": indi.with_columns(spelled("indi_pt", pts).alias("indi_pt")).filter(pl.col("indi_pt").is_not_null())
        .select("caseid", "primaryid", "quarter", "drug_seq", "indi_pt", "source_line"),
    }


UNFLAGGED = ".cases-unflagged"  # cases/ rows before rule dup-flag, while building


def flagged(cases: pl.DataFrame, flags: pl.DataFrame) -> pl.DataFrame:
    """Case rows with rule dup-flag's columns from ``flags`` (caseid -> dup_of of each flagged case)."""
    return (cases.join(flags, on="caseid", how="left", maintain_order="left")
            .with_columns(pl.col("dup_of").is_not_null().alias("dup_flag"))
            .select(*CASE_COLUMNS[:-3], "dup_flag", "dup_of", *CASE_COLUMNS[-3:]))


def write_flagged(tmp: Path, quarters: list[str], flags: pl.DataFrame, drop_duplicates: bool) -> None:
    """cases.parquet from the unflagged rows, quarter by quarter; with ``drop_duplicates`` the flagged
    cases leave every table."""
    out = tb.QuarterWriter(tb.folder(tmp, "cases"))
    for q in quarters:
        path = tb.quarter_file(tmp, UNFLAGGED, q)
        rows = flagged(pl.read_parquet(path), flags)
        out.write(q, rows.filter(~pl.col("dup_flag")) if drop_duplicates else rows)
        path.unlink()
        if drop_duplicates:
            for name in ("drugs", "reactions", "indications"):
                table = tb.QuarterWriter(tb.folder(tmp, name))
                table.write(q, pl.read_parquet(tb.quarter_file(tmp, name, q)).join(
                    flags, on="caseid", how="anti", maintain_order="left"))
    tb.folder(tmp, UNFLAGGED).rmdir()


KEY_COLUMNS = ["primaryid", "caseid", "caseversion", "fda_dt", "quarter", "era", "source_line"]
CASE_COLUMNS = (
    "caseid", "primaryid", "caseversion", "quarter", "era", "i_f_code", "fda_dt", "init_fda_dt", "mfr_dt",
    "event_dt", "event_date", "event_dt_precision", "age", "age_cod", "age_years", "age_band", "sex", "wt",
    "wt_cod", "country", "reporter_country", "occr_country", "serious", *derive.OUTCOMES.values(), "rept_cod",
    "reporter", "mfr_num", "mfr_sndr", "report_year", "pump_problem", "source_file", "source_line",
)


def _counts(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.group_by("quarter").agg(pl.len().cast(pl.Int64).alias("count")).with_columns(
        pl.col("quarter").cast(pl.Utf8))


def surviving_keys(home: Home) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(reports read per quarter, latest versions per quarter, surviving DEMO keys)."""
    return keys_and_history(home)[:3]


def quarter_type(home: Home) -> pl.Enum:
    """The staged quarters (DEMO's and the deleted lists') as one Enum: 1 byte a row instead of a
    text, and it sorts and compares as the text does (the categories are in text order)."""
    return pl.Enum(sorted({*quarters_of(home, "demo"), *quarters_of(home, "deleted")}))


def keys_and_history(home: Home) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(reports read per quarter, latest versions per quarter, surviving DEMO keys, past records:
    the versions current at an earlier quarter, pv.cases.history). ``quarter`` and ``valid_to``
    of the keys and records are ``quarter_type``; the counts' quarter is text.

    Only typed keys and a 64-bit hash of the duplicate rule's demographic fields are held for the
    whole history (about 50 bytes a report; read in the streaming engine, so the text columns
    they come from are never held whole), and they are sorted once for both rule latest-version
    and the history records (pv.cases.dedup.ranked); the wide DEMO rows are read later, one
    quarter at a time.
    """
    demo = dedup.with_keys(
        scan_table(home, "demo", [*KEY_COLUMNS, *duplicates.RAW_FIELDS]).pipe(duplicates.with_demographic_hash)
    ).select("caseid", "primaryid", "caseversion", "_fda_key", "_is_faers", "source_line", "_dkey",
             pl.col("quarter").cast(quarter_type(home))).collect(engine="streaming")
    read = _counts(demo).sort("quarter")
    ranked = dedup.ranked(demo, ("_dkey",))
    del demo
    latest = dedup.latest_of(ranked)
    past = history.past(history.records_of(ranked, scan_table(home, "deleted", ["caseid", "quarter"])))
    del ranked
    deleted = dedup.deleted_caseids(scan_table(home, "deleted", ["caseid"])).collect()
    survivors = latest.join(deleted, on="caseid", how="anti", maintain_order="left")
    return read, _counts(latest), survivors, past


def quarter_cases(home: Home, q: str, survivors: pl.DataFrame, vocab: Vocab) -> pl.DataFrame:
    """Derived case rows of the surviving DEMO rows of quarter ``q`` (pump_problem added later)."""
    rows = (
        scan_table(home, "demo", [*DEMO_COLUMNS], q)
        .with_columns(_pid(), pl.col("caseversion").str.strip_chars().cast(pl.Int64, strict=False).fill_null(0))
        .drop("caseid")  # the surviving key's integer caseid replaces the text one
        .join(survivors.lazy().select("caseid", "primaryid", "source_line"), on=["primaryid", "source_line"],
              maintain_order="left")
        .collect()
    )
    outcomes = derive.outcome_flags(
        scan_table(home, "outc", ["primaryid", "outc_cod", "quarter"], q).with_columns(_pid())).collect()
    return case_rows(rows, outcomes, vocab.countries)


@dataclass
class QuarterBuild:
    """One quarter's output: the current rows of every table, the past records' rows (for
    cases/history/, with valid_to), the current case rows and the quarter's reactions before
    the split (the duplicate rule's reaction sets read those)."""

    current: dict[str, pl.DataFrame]
    past: dict[str, pl.DataFrame]
    cases: pl.DataFrame
    reactions: pl.LazyFrame


def build_quarter(home: Home, q: str, qsurv: pl.DataFrame, qpast: pl.DataFrame, vocab: Vocab,
                  pts: pl.DataFrame, memo: Memo | None = None) -> QuarterBuild:
    """Every table of quarter ``q`` for its surviving DEMO rows ``qsurv`` and its past records
    ``qpast`` (caseid, primaryid, quarter, source_line, valid_to; pv.cases.history); ``memo``
    (pv.cases.distinct) carries the values already parsed from one quarter to the next."""
    cases = quarter_cases(home, q, pl.concat([qsurv.select(qpast.columns[:-1]), qpast.drop("valid_to")]), vocab)
    keys = cases.lazy().select(
        "caseid", "primaryid", derive.via_distinct(cases, "event_dt", derive.day_date("event_dt")).alias("_event_day"))
    tables = quarter_tables(home, q, keys, vocab, pts, memo)
    reactions = tables["reactions"].lazy()
    pumped = (reactions.with_columns(pl.col("pt").str.to_lowercase().alias("_k"))
              .join(vocab.pump_pts.lazy(), on="_k", how="semi").select("caseid").unique().collect())
    tables["cases"] = cases.with_columns(
        pl.col("caseid").is_in(pumped["caseid"].implode()).alias("pump_problem"),
        pl.col("report_year").cast(pl.Int32),
    ).select(CASE_COLUMNS)
    past_ids = qpast.select("primaryid", "valid_to")
    past = {}
    for name in ("cases", "drugs", "reactions", "indications"):  # rule time-as-received: past records to history/
        tables[name], before = history.split(tables[name], past_ids)
        if name in history.TABLES and before.height:
            past[name] = before
    cases = cases.filter(~pl.col("primaryid").is_in(past_ids["primaryid"].implode()))
    return QuarterBuild(tables, past, cases, reactions)


def _by_quarter(keys: pl.DataFrame, quarters: list[str]) -> Iterator[pl.DataFrame]:
    """``keys``' rows of each of ``quarters`` in turn (empty where none), with ``quarter`` and
    ``valid_to`` as text: split in one pass, not one filter of the whole frame per quarter."""
    text = [pl.col(c).cast(pl.Utf8) for c in ("quarter", "valid_to") if c in keys.columns]
    parts = {k[0]: v for k, v in keys.partition_by("quarter", as_dict=True).items()}
    empty = keys.clear()
    del keys  # held only as its parts from here
    for q in quarters:
        yield parts.pop(q, empty).with_columns(text)


def build_cases(home: Home, drop_duplicates: bool = False, full: bool = False,
                say: Callable[[str], None] | None = None) -> pl.DataFrame:
    """Build ``cases/`` from one committed state of staged/ (ingest waits meanwhile): by updating
    the previous build with the quarters added since (pv.cases.increment) when it can, else
    (or with ``full``) from every staged quarter. Both give the same files. ``say`` hears which."""
    with settled(home):
        require_intact(home)  # rule store_integrity: never build on a damaged store
        reason = "asked for" if full else "duplicates dropped" if drop_duplicates else None
        if reason is None:
            update = increment.update_cases(home)
            if update.funnel is not None:
                increment.tell(update.done, say)
                return update.funnel
            reason = update.reason
        increment.tell(f"full build: {reason}", say)
        return _build_cases(home, drop_duplicates)


def _build_cases(home: Home, drop_duplicates: bool = False) -> pl.DataFrame:
    """Build ``cases/`` from every staged quarter; returns the funnel.

    Memory: the whole history is held only as DEMO keys (about 60 bytes a report); every
    table is then built and written one quarter at a time, so 25M reports stay well inside
    a laptop's memory.
    """
    quarters = require_demo(home)
    vocab = Vocab.load()
    drug_names = drug_name_counts(home)
    learned = learned_from(drug_names, vocab)
    vocab = with_learned(vocab, learned)
    read, latest_counts, survivors, past = keys_and_history(home)
    pt_texts = pt_text_counts(home)
    pts = store_pts(pt_texts, vocab)

    with atomic_dir(home.cases) as tmp:
        names = ("cases", "drugs", "reactions", "indications")
        writers = {n: tb.QuarterWriter(tb.folder(tmp, n if n != "cases" else UNFLAGGED)) for n in names}
        (tmp / history.HISTORY).mkdir()
        past_writers = {n: tb.QuarterWriter(tb.folder(tmp, n, past=True)) for n in history.TABLES}
        drug_sets, reaction_sets, demographics, pending = [], [], [], []
        drug_rows_n = unmapped_n = 0
        background = ThreadPoolExecutor(max_workers=1)  # writes overlap the next quarter's build
        memo = Memo()  # each distinct drug name and dose text parsed once for all quarters
        try:
            keys = _by_quarter(survivors.select("caseid", "primaryid", "quarter", "source_line",
                                                duplicates.is_candidate().alias("_dup")), quarters)
            for q, qsurv, qpast in zip(quarters, keys, _by_quarter(past, quarters)):  # _dup: rule dup-flag's candidates
                built = build_quarter(home, q, qsurv, qpast, vocab, pts, memo)
                tables, cases, reactions = built.current, built.cases, built.reactions
                for name, before in built.past.items():
                    pending.append(background.submit(past_writers[name].write, q, before))
                for name in names:
                    pending.append(background.submit(writers[name].write, q, tables[name]))
                source_rows = tables["drugs"].filter(pl.col("ingredient_part") == 0)  # one per DRUG row
                drug_rows_n += source_rows.height
                unmapped_n += int((~source_rows["mapped"]).sum())
                qdup = qsurv.filter(pl.col("_dup")).select("caseid").lazy()
                demographics.append(cases.lazy().join(qdup, on="caseid", how="semi").select(
                    "caseid", *duplicates.RAW_FIELDS).collect())
                drug_sets.append(duplicates.drug_set(tables["drugs"].lazy().join(qdup, on="caseid", how="semi"))
                                 .collect())
                reaction_sets.append(duplicates.reaction_set(reactions.join(qdup, on="caseid", how="semi")).collect())
                del tables, cases, reactions
                if len(pending) > 8:  # at most two quarters queued for writing
                    pending.pop(0).result()
        finally:
            background.shutdown(wait=True)
        for job in pending:
            job.result()  # re-raise a failed write

        flags = duplicates.duplicate_flags(
            pl.concat(demographics).lazy(), pl.concat(drug_sets).lazy(), pl.concat(reaction_sets).lazy()).collect()
        write_flagged(tmp, quarters, flags, drop_duplicates)
        stages = {
            "latest_version": latest_counts,
            "after_deleted": _counts(survivors),
            "after_dup_flag": _counts(survivors.join(flags, on="caseid", how="anti")),
        }
        table = dedup.funnel(read, stages)
        table.write_parquet(tmp / "funnel.parquet")
        write_meta(tmp, home, quarters, vocab, drop_duplicates, drug_rows_n, unmapped_n)
        increment.write_state(tmp, survivors, drug_names, pt_texts, pts, learned)
    return table


def write_meta(tmp: Path, home: Home, quarters: list[str], vocab: Vocab, drop_duplicates: bool, drug_rows_n: int,
               unmapped_n: int) -> None:
    """cases/build.json: what the build read (quarters and their sources, seeds, code) and counted."""
    from pv.signals.provenance import code_version

    meta = {"drop_duplicates": drop_duplicates, "quarters": quarters, "seeds": vocab.versions,
            "sources": committed_sources(home),  # what `pipeline.needs_run` compares with
            "meddra": vocab.meddra is not None, "learned_names": vocab.learned, "code": code_version(),
            "drug_rows": drug_rows_n, "drug_rows_unmapped": unmapped_n}  # rule drug-map: counted
    (tmp / "build.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
