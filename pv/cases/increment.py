"""The nightly increment of ``cases/`` (issue 16): quarters added since the last build update
only the cases they touch, and the result equals a full build row for row (rule
``incremental-cases``; tested in tests/test_increment.py against a full rebuild).

Why it is exact: every table is built quarter by quarter from the quarter's own records
(pv.cases.build.build_quarter), and a quarter added after all the built ones changes the
older quarters in three ways only, all confined to the *touched* caseids (those the new
quarters publish a version of or name on a deleted-case list):

- a touched case's current record can stop being current (a better version arrived, or the
  case was deleted): its rows move from the current tables to ``history/`` with their
  ``valid_to`` (rule time-as-received); rows of older quarters are never added;
- the funnel's latest-version count moves from the old record's quarter to the new one;
- duplicate flags (rule dup-flag) are recomputed over all surviving cases (cheap: only the
  candidates sharing a demographic hash are compared, from the tables themselves).

The new quarters themselves are built exactly as a full build builds them. Everything that
reaches every row makes the increment fall back to a full build, with the reason in
the log: a different code version, seeds, MedDRA or duplicate setting; an
older quarter added, changed or removed (a repaired or re-ingested quarter has another
source hash); a PT spelling (rule pt-spelling) or a learned drug name (rule learned-names)
of an older row that the new quarters change. To check those two without rescanning the
history, ``increment/`` keeps the distinct drug-name and PT-text counts of the store, the
spelling and learned tables the build used, and the surviving cases' demographic hashes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import polars as pl

from pv.atomic import atomic_dir
from pv.cases import dedup, duplicates, history, tables as tb
from pv.config import Home

log = logging.getLogger("pv.cases.increment")

STATE = "increment"
TABLES = ("cases", "drugs", "reactions", "indications")


@dataclass
class Update:
    """An increment's outcome: the funnel when it was applied, else why a full build is needed."""

    funnel: pl.DataFrame | None = None
    reason: str | None = None
    done: str | None = None  # what was applied


def tell(what: str, say: Callable[[str], None] | None = None) -> None:
    """How cases/ was built, to the log and to ``say`` (the command line)."""
    log.info("cases: %s", what)
    if say:
        say(f"cases: {what}")


def write_state(tmp: Path, survivors: pl.DataFrame, drug_names: pl.DataFrame, pt_texts: pl.DataFrame,
                pts: pl.DataFrame, learned: pl.DataFrame) -> None:
    """What the next increment needs from this build, in ``<cases>/increment/``."""
    folder = tmp / STATE
    folder.mkdir()
    survivors.select("caseid", pl.col("quarter").cast(pl.String), "_dkey").sort("caseid").write_parquet(
        folder / "keys.parquet")  # quarter as text: the full build holds it as an Enum, the increment as text
    drug_names.write_parquet(folder / "drug_names.parquet")
    pt_texts.write_parquet(folder / "pt_texts.parquet")
    pts.sort("pt_source").write_parquet(folder / "pts.parquet")
    learned.write_parquet(folder / "learned.parquet")


def build_id(cases: Path) -> str | None:
    """Which build cases/ holds: its build.json's sha256 (None: no build). The increment's parent and
    the signal state it may advance (pv.signals.increment) name a build by it."""
    built = cases / "build.json"
    return hashlib.sha256(built.read_bytes()).hexdigest() if built.is_file() else None


def write_parent(tmp: Path, cases: Path, added: list[str]) -> None:
    """``increment/parent.json``: the build this increment updated (``build_id``) and the quarters it
    added; pv.signals.increment counts by deltas only from that build's signal state. A full build
    writes none."""
    parent = {"build": build_id(cases), "added": added}
    (tmp / STATE / "parent.json").write_text(json.dumps(parent, sort_keys=True) + "\n")


def parent(cases: Path) -> dict | None:
    """What ``write_parent`` wrote for the current build, or None (a full build)."""
    path = cases / STATE / "parent.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _summed(old: pl.DataFrame, new: list[pl.DataFrame], keys: list[str]) -> pl.DataFrame:
    return (pl.concat([old, *new]).group_by(keys).agg(pl.col("n").sum())
            .sort(keys, nulls_last=True))


def _int_caseids(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.select(pl.col("caseid").str.strip_chars().cast(pl.Int64, strict=False)).drop_nulls()


def _counts(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    return frame.lazy().group_by("quarter").agg(pl.len().cast(pl.Int64).alias("count")).collect()


def _stage(funnel: pl.DataFrame, stage: str) -> pl.DataFrame:
    return funnel.filter((pl.col("stage") == stage) & (pl.col("quarter") != "total")).select("quarter", "count")


def _plus(*parts: tuple[int, pl.DataFrame]) -> pl.DataFrame:
    """Per-quarter sum of signed count tables."""
    return (pl.concat([p.with_columns(pl.col("count") * sign) for sign, p in parts])
            .group_by("quarter").agg(pl.col("count").sum()).filter(pl.col("count") != 0))


def update_cases(home: Home) -> Update:
    """Apply the quarters staged since the last build to ``cases/``; or say why it cannot."""
    from pv.cases import build as b
    from pv.lake.ingest import committed_sources
    from pv.signals.provenance import code_version

    state, built = home.cases / STATE, home.cases / "build.json"
    if not built.is_file() or not (state / "keys.parquet").is_file() or not tb.folder(home.cases, "cases").is_dir():
        return Update(reason="no previous build to update")
    meta = json.loads(built.read_text())
    quarters, sources = b.require_demo(home), committed_sources(home)
    old_q = meta.get("quarters", [])
    new_q = quarters[len(old_q):]
    vocab = b.Vocab.load()
    if quarters[:len(old_q)] != old_q:
        return Update(reason="a quarter older than the last build's was added or removed")
    if {q: sources.get(q) for q in old_q} != {q: meta.get("sources", {}).get(q) for q in old_q}:
        return Update(reason="a built quarter's source changed (re-ingested or repaired)")
    if not new_q:
        return Update(reason="no quarter added since the last build")
    if meta.get("drop_duplicates") or meta.get("code") != code_version():
        return Update(reason="the last build used another code version or setting")
    if meta.get("seeds") != vocab.versions or meta.get("meddra") != (vocab.meddra is not None):
        return Update(reason="the seeds (or MedDRA) changed since the last build")

    # rule learned-names: the old rows must map as before
    old_names = pl.read_parquet(state / "drug_names.parquet")
    drug_names = _summed(old_names, [b.drug_name_counts(home, q) for q in new_q], ["drugname", "prod_ai"])
    old_learned, learned = pl.read_parquet(state / "learned.parquet"), b.learned_from(drug_names, vocab)
    if not old_learned.equals(learned):
        from pv.cases.drugs import ingredient_table

        pairs = old_names.select("drugname", "prod_ai")
        before = ingredient_table(pairs, b.with_learned(vocab, old_learned).dictionary)
        after = ingredient_table(pairs, b.with_learned(vocab, learned).dictionary)
        order = ["drugname", "prod_ai"]
        if not before.sort(order, nulls_last=True).equals(after.sort(order, nulls_last=True)):
            return Update(reason="a learned drug name changes how an older drug row maps")
    vocab = b.with_learned(vocab, learned)
    # rule pt-spelling: every older PT text keeps its spelling
    pt_texts = _summed(pl.read_parquet(state / "pt_texts.parquet"), [b.pt_text_counts(home, q) for q in new_q],
                       ["pt_source"])
    pts, old_pts = b.store_pts(pt_texts, vocab).sort("pt_source"), pl.read_parquet(state / "pts.parquet")
    kept = old_pts.join(pts, on="pt_source", how="left", suffix="_new")
    if not (kept["pt"] == kept["pt_new"]).fill_null(False).all():
        return Update(reason="the new quarters change the spelling of an older PT")

    with_new = lambda table: [b.scan_table(home, table, ["caseid"], q) for q in new_q]  # noqa: E731
    touched = pl.concat([_int_caseids(f) for f in [*with_new("demo"), *with_new("deleted")]]).unique().collect()
    with atomic_dir(home.cases) as tmp:
        funnel, keys = _apply(home, tmp, quarters, new_q, touched, vocab, pts)
        write_state(tmp, keys, drug_names, pt_texts, pts, learned)
        write_parent(tmp, home.cases, new_q)
    return Update(funnel=funnel, done=f"increment: {', '.join(new_q)} added, {touched.height} caseids touched")


KEY = ["quarter", "primaryid"]  # one record (a caseid has one record per quarter)


def _link_tables(old: Path, tmp: Path) -> None:
    """Every quarter file of the last build, hard-linked into ``tmp``: a quarter is rewritten only
    when its rows change (every write replaces a file, never writes into one)."""
    for name in TABLES:
        for past in (False, True):
            if past and name not in history.TABLES:
                continue
            tb.folder(tmp, name, past).mkdir(parents=True, exist_ok=True)
            for f in tb.files(old, name, past):
                os.link(f, tb.folder(tmp, name, past) / f.name)


def _touched_demo(home: Home, touched: pl.DataFrame) -> pl.DataFrame:
    """Every staged DEMO row of the touched caseids (their keys, as keys_and_history holds them),
    read only from the quarters that hold one."""
    from pv.cases import build as b

    ids = touched.lazy()
    where = (b.scan_table(home, "demo", ["caseid", "quarter"]).pipe(_int_caseids_of)
             .join(ids, on="caseid", how="semi").select("quarter").unique().collect(engine="streaming"))
    scans = [b.scan_table(home, "demo", [*b.KEY_COLUMNS, *duplicates.RAW_FIELDS], q)
             for q in sorted(where["quarter"].to_list())]
    schema = {c: (pl.Int64 if c == "source_line" else pl.Utf8) for c in [*b.KEY_COLUMNS, *duplicates.RAW_FIELDS]}
    demo = pl.concat(scans) if scans else pl.LazyFrame(schema=schema)
    return (dedup.with_keys(demo).join(ids, on="caseid", how="semi").pipe(duplicates.with_demographic_hash)
            .select(*b.KEY_COLUMNS, "_is_faers", "_fda_key", "_dkey").collect())


def _int_caseids_of(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.with_columns(pl.col("caseid").str.strip_chars().cast(pl.Int64, strict=False))


def _apply(home: Home, tmp: Path, quarters: list[str], new_q: list[str], touched: pl.DataFrame, vocab,
           pts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Write the updated tables, funnel and build.json into ``tmp``; return the funnel and the
    touched caseids' surviving keys."""
    from pv.cases import build as b

    old = home.cases
    demo = _touched_demo(home, touched)
    deleted = b.scan_table(home, "deleted", ["caseid", "quarter"]).collect()
    is_old = ~pl.col("quarter").is_in(new_q)
    old_demo = demo.filter(is_old)
    ranked, old_ranked = dedup.ranked(demo, ("_dkey",)), dedup.ranked(old_demo, ("_dkey",))  # one sort each
    records = history.records_of(ranked, deleted.lazy())
    old_records = history.records_of(old_ranked, deleted.filter(is_old).lazy())
    latest, old_latest = dedup.latest_of(ranked), dedup.latest_of(old_ranked)
    gone = dedup.deleted_caseids(deleted.lazy()).collect()
    survivors = latest.join(gone, on="caseid", how="anti", maintain_order="left").select(
        "caseid", "primaryid", "quarter", "source_line", "_dkey")
    past = history.past(records)
    # the touched cases' records current until now that are current no more: to history/
    moved = (old_records.filter(pl.col("valid_to").is_null()).select(KEY)
             .join(records.select(*KEY, "valid_to"), on=KEY, how="inner").filter(pl.col("valid_to").is_not_null()))
    redo = sorted(set(moved["quarter"].to_list()))
    _link_tables(old, tmp)
    counts = {q: _drug_counts(old, q) for q in redo}
    for q in redo:
        _move(old, tmp, q, moved.filter(pl.col("quarter") == q))
    for q in new_q:
        built = b.build_quarter(home, q, survivors.filter(pl.col("quarter") == q),
                                past.filter(pl.col("quarter") == q), vocab, pts)
        for name in TABLES:
            _writer(old, tmp, name).write(q, built.current[name])
            if name in built.past:
                _writer(old, tmp, name, past=True).write(q, built.past[name])
    was = json.loads((old / "build.json").read_text())
    drug_rows, unmapped = was["drug_rows"], was["drug_rows_unmapped"]
    for q in [*redo, *new_q]:
        now = _drug_counts(tmp, q)
        before = counts.get(q, (0, 0))
        drug_rows, unmapped = drug_rows + now[0] - before[0], unmapped + now[1] - before[1]

    old_keys = pl.read_parquet(old / STATE / "keys.parquet")
    keys = pl.concat([old_keys.join(touched, on="caseid", how="anti"), survivors.select("caseid", "quarter", "_dkey")])
    case_counts = _flag_cases(old, tmp, new_q, redo, touched, old_keys, keys)
    del old_keys

    funnel_was = pl.read_parquet(old / "funnel.parquet")
    read = pl.concat([_stage(funnel_was, "reports_read"),
                      *[_counts(b.scan_table(home, "demo", ["quarter"], q)) for q in new_q]]).sort("quarter")
    rewritten = pl.col("quarter").is_in(list(case_counts))
    fresh = pl.DataFrame([(q, *n) for q, n in case_counts.items()], orient="row",
                         schema={"quarter": pl.String, "after_deleted": pl.Int64, "after_dup_flag": pl.Int64})
    funnel = dedup.funnel(read, {
        "latest_version": _plus((1, _stage(funnel_was, "latest_version")), (-1, _counts(old_latest)),
                                (1, _counts(latest))),
        **{stage: pl.concat([_stage(funnel_was, stage).filter(~rewritten),
                             fresh.select("quarter", pl.col(stage).alias("count"))])
           for stage in ("after_deleted", "after_dup_flag")},
    })
    funnel.write_parquet(tmp / "funnel.parquet")
    b.write_meta(tmp, home, quarters, vocab, False, drug_rows, unmapped)
    return funnel, keys


def _drug_counts(root: Path, q: str) -> tuple[int, int]:
    """(DRUG rows, unmapped DRUG rows) of quarter ``q``'s drugs (rule drug-map, counted in build.json)."""
    rows = pl.read_parquet(tb.quarter_file(root, "drugs", q), columns=["ingredient_part", "mapped"]).filter(
        pl.col("ingredient_part") == 0)
    return rows.height, int((~rows["mapped"]).sum())


def _writer(old: Path, tmp: Path, name: str, past: bool = False) -> tb.QuarterWriter:
    """A writer of table ``name`` in ``tmp`` with the last build's schema (cases: before the flags)."""
    from pv.cases import build as b

    schema = tb.schema_of(old, name, past)
    if name == "cases" and not past:
        return tb.QuarterWriter(tb.folder(tmp, b.UNFLAGGED),
                                None if schema is None else {c: schema[c] for c in b.CASE_COLUMNS})
    return tb.QuarterWriter(tb.folder(tmp, name, past), schema)


def _move(old: Path, tmp: Path, q: str, moved: pl.DataFrame) -> None:
    """Quarter ``q`` of every table without the ``moved`` records, which join its history/ rows
    (with their valid_to, in history.ORDER: where a full build puts them)."""
    for name in TABLES:
        here = pl.read_parquet(tb.quarter_file(old, name, q))
        if name == "cases":
            here = here.drop("dup_flag", "dup_of")
        _writer(old, tmp, name).write(q, here.join(moved.select(KEY), on=KEY, how="anti", maintain_order="left"))
        if name in history.TABLES:
            went = here.join(moved, on=KEY, how="inner", maintain_order="left")
            had = tb.quarter_file(old, name, q, past=True)
            before = pl.concat([pl.read_parquet(had), went]) if had.is_file() else went
            if before.height:
                _writer(old, tmp, name, past=True).write(q, before.sort(history.in_order(before), maintain_order=True))


def _flag_cases(old: Path, tmp: Path, new_q: list[str], redo: list[str], touched: pl.DataFrame,
                old_keys: pl.DataFrame, keys: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """Rule dup-flag after the update, as a full build computes it, recomputed only for the cases
    sharing a demographic hash with a touched case (no other group can change); cases.parquet is
    written for the new and rewritten quarters and those where a flag changed. Returns
    quarter -> (cases, cases not flagged) of the quarters written."""
    from pv.cases import build as b

    hashes = pl.concat([old_keys.join(touched, on="caseid", how="semi").select("_dkey"),
                        keys.join(touched, on="caseid", how="semi").select("_dkey")]).drop_nulls().unique()
    group, old_group = (k.join(hashes, on="_dkey", how="semi") for k in (keys, old_keys))
    cand = group.join(duplicates.candidates(group), on="caseid", how="semi")
    flags = _duplicate_flags(tmp, cand)
    # the groups' members as they were flagged and as they are now: a quarter with a change is rewritten
    was = pl.concat([pl.read_parquet(tb.quarter_file(old, "cases", q), columns=["caseid", "dup_of"])
                     .join(old_group, on="caseid", how="semi")
                     for q in sorted(set(old_group["quarter"].to_list()) - set(new_q))]
                    or [pl.DataFrame(schema={"caseid": pl.Int64, "dup_of": pl.Int64})])
    now = group.select("caseid", "quarter").join(flags, on="caseid", how="left")
    changed = now.join(was, on="caseid", how="left", suffix="_was").filter(
        pl.col("dup_of").ne_missing(pl.col("dup_of_was")))
    members = pl.concat([group.select("caseid"), old_group.select("caseid")]).unique()
    out = tb.QuarterWriter(tb.folder(tmp, "cases"), tb.schema_of(old, "cases"))
    counts = {}
    for q in sorted(set(redo) | set(new_q) | set(changed["quarter"].to_list())):
        fresh = tb.quarter_file(tmp, b.UNFLAGGED, q)
        prior = tb.quarter_file(old, "cases", q)
        kept = (pl.read_parquet(prior, columns=["caseid", "dup_of"]).drop_nulls("dup_of")
                .join(members, on="caseid", how="anti") if q not in new_q else flags.clear())
        rows = b.flagged(pl.read_parquet(fresh) if fresh.is_file() else pl.read_parquet(prior).drop("dup_flag", "dup_of"),
                         pl.concat([kept, flags]))
        out.write(q, rows)
        counts[q] = (rows.height, int((~rows["dup_flag"]).sum()))
        if fresh.is_file():
            fresh.unlink()
    if tb.folder(tmp, b.UNFLAGGED).is_dir():
        tb.folder(tmp, b.UNFLAGGED).rmdir()
    return counts


def _duplicate_flags(tmp: Path, cand: pl.DataFrame) -> pl.DataFrame:
    """Rule dup-flag among the candidates ``cand`` (caseid, quarter, _dkey), as the full build
    computes it: their demographic fields, drug sets (current rows) and reaction sets (the rows of
    the quarter the case survives in, past versions of that quarter included), read only from the
    quarters that hold a candidate."""
    from pv.cases import build as b

    ids = pl.col("caseid").is_in(cand["caseid"].implode())  # a filter the Parquet reader applies first
    parts = {"cases": [], "drugs": [], "reactions": []}
    for q in sorted(set(cand["quarter"].to_list())):
        unflagged = tb.quarter_file(tmp, b.UNFLAGGED, q)
        cases = pl.scan_parquet(unflagged if unflagged.is_file() else tb.quarter_file(tmp, "cases", q))
        parts["cases"].append(cases.filter(ids).select("caseid", *duplicates.RAW_FIELDS))
        parts["drugs"].append(pl.scan_parquet(tb.quarter_file(tmp, "drugs", q)).filter(ids).select("caseid", "drugname"))
        parts["reactions"].append(pl.scan_parquet(tb.quarter_file(tmp, "reactions", q)).filter(ids).select("caseid", "pt"))
        past = tb.quarter_file(tmp, "reactions", q, past=True)
        if past.is_file():  # past versions of the same quarter as the case's surviving record
            parts["reactions"].append(pl.scan_parquet(past).filter(ids).select("caseid", "pt"))
    if not parts["cases"]:
        return pl.DataFrame(schema={"caseid": pl.Int64, "dup_of": pl.Int64})
    return duplicates.duplicate_flags(
        pl.concat(parts["cases"]), duplicates.drug_set(pl.concat(parts["drugs"])),
        duplicates.reaction_set(pl.concat(parts["reactions"]))).collect()
