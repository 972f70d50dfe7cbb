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

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import polars as pl

from pv.atomic import atomic_dir
from pv.cases import dedup, duplicates, history
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
    survivors.select("caseid", "_dkey").sort("caseid").write_parquet(folder / "keys.parquet")
    drug_names.write_parquet(folder / "drug_names.parquet")
    pt_texts.write_parquet(folder / "pt_texts.parquet")
    pts.sort("pt_source").write_parquet(folder / "pts.parquet")
    learned.write_parquet(folder / "learned.parquet")


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
    if not built.is_file() or not (state / "keys.parquet").is_file():
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
        funnel, survivors = _apply(home, tmp, quarters, new_q, touched, vocab, pts)
        keys = pl.concat([pl.read_parquet(state / "keys.parquet").join(touched, on="caseid", how="anti"),
                          survivors.select("caseid", "_dkey")])
        write_state(tmp, keys, drug_names, pt_texts, pts, learned)
    return Update(funnel=funnel, done=f"increment: {', '.join(new_q)} added, {touched.height} caseids touched")


KEY = ["quarter", "primaryid"]  # one record (a caseid has one record per quarter)


def _apply(home: Home, tmp: Path, quarters: list[str], new_q: list[str], touched: pl.DataFrame, vocab,
           pts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Write the updated tables, funnel and build.json into ``tmp``; return the funnel and the
    touched caseids' surviving keys."""
    from pv.cases import build as b

    old = home.cases
    demo = (dedup.with_keys(b.scan_table(home, "demo", [*b.KEY_COLUMNS, *duplicates.RAW_FIELDS]))
            .join(touched.lazy(), on="caseid", how="semi").pipe(duplicates.with_demographic_hash)
            .select(*b.KEY_COLUMNS, "_is_faers", "_fda_key", "_dkey").collect())
    deleted = b.scan_table(home, "deleted", ["caseid", "quarter"]).collect()
    is_old = ~pl.col("quarter").is_in(new_q)
    old_demo = demo.filter(is_old)
    records = history.records(demo, deleted.lazy())
    old_records = history.records(old_demo, deleted.filter(is_old).lazy())
    latest, old_latest = dedup.latest_versions(demo), dedup.latest_versions(old_demo)
    gone = dedup.deleted_caseids(deleted.lazy()).collect()
    survivors = latest.join(gone, on="caseid", how="anti", maintain_order="left").select(
        "caseid", "primaryid", "quarter", "source_line", "_dkey")
    past = history.past(records)
    # the touched cases' records current until now that are current no more: to history/
    moved = (old_records.filter(pl.col("valid_to").is_null()).select(KEY)
             .join(records.select(*KEY, "valid_to"), on=KEY, how="inner").filter(pl.col("valid_to").is_not_null()))
    built = [b.build_quarter(home, q, survivors.filter(pl.col("quarter") == q), past.filter(pl.col("quarter") == q),
                             vocab, pts) for q in new_q]

    (tmp / history.HISTORY).mkdir()
    for name in TABLES:
        _rewrite(old, tmp, name, quarters, moved, dict(zip(new_q, built)))

    flags = _duplicate_flags(tmp, pl.concat([
        pl.read_parquet(old / STATE / "keys.parquet").join(touched, on="caseid", how="anti"),
        survivors.select("caseid", "_dkey")]))
    unflagged = tmp / ".cases-unflagged.parquet"
    (pl.scan_parquet(unflagged).join(flags.lazy(), on="caseid", how="left", maintain_order="left")
     .with_columns(pl.col("dup_of").is_not_null().alias("dup_flag"))
     .select(*b.CASE_COLUMNS[:-3], "dup_flag", "dup_of", *b.CASE_COLUMNS[-3:])
     .sink_parquet(tmp / "cases.parquet"))
    unflagged.unlink()

    was = pl.read_parquet(old / "funnel.parquet")
    read = pl.concat([_stage(was, "reports_read"),
                      *[_counts(b.scan_table(home, "demo", ["quarter"], q)) for q in new_q]]).sort("quarter")
    cases = pl.scan_parquet(tmp / "cases.parquet")
    funnel = dedup.funnel(read, {
        "latest_version": _plus((1, _stage(was, "latest_version")), (-1, _counts(old_latest)), (1, _counts(latest))),
        "after_deleted": _counts(cases),
        "after_dup_flag": _counts(cases.filter(~pl.col("dup_flag"))),
    })
    funnel.write_parquet(tmp / "funnel.parquet")
    rows = (pl.scan_parquet(tmp / "drugs.parquet").filter(pl.col("ingredient_part") == 0)
            .select(pl.len(), (~pl.col("mapped")).sum()).collect().row(0))
    b.write_meta(tmp, home, quarters, vocab, False, int(rows[0]), int(rows[1] or 0))
    return funnel, survivors


def _rewrite(old: Path, tmp: Path, name: str, quarters: list[str], moved: pl.DataFrame, built: dict) -> None:
    """One table and its history/ written as a full build writes them (one row group per quarter,
    history/ in history.ORDER within each quarter), so the files are the same byte for byte: the
    older quarters' rows minus the ``moved`` records, which go to history/ with their valid_to,
    then the ``built`` new quarters."""
    from pv.cases.build import _TableWriter

    current = pl.scan_parquet(old / f"{name}.parquet")
    if name == "cases":
        current = current.drop("dup_flag", "dup_of")
    past_file = old / history.HISTORY / f"{name}.parquet"
    keep_past = name in history.TABLES
    past = pl.scan_parquet(past_file) if keep_past and past_file.is_file() else None
    now = _TableWriter(tmp / (".cases-unflagged.parquet" if name == "cases" else f"{name}.parquet"))
    then = _TableWriter(tmp / history.HISTORY / f"{name}.parquet")
    try:
        for q in quarters:
            if q in built:
                rows, before = built[q].current[name], built[q].past.get(name)
            else:
                here = current.filter(pl.col("quarter") == q).collect()
                rows = here.join(moved.select(KEY), on=KEY, how="anti", maintain_order="left")
                before = None
                if keep_past:
                    went = here.join(moved, on=KEY, how="inner", maintain_order="left")
                    parts = [*([past.filter(pl.col("quarter") == q).collect()] if past is not None else []), went]
                    before = pl.concat(parts) if went.height else parts[0]
                    before = before.sort(history.in_order(before), maintain_order=True)
            now.write(rows)
            if keep_past and before is not None and before.height:
                then.write(before)
    finally:
        now.close()
        then.close()


def _duplicate_flags(tmp: Path, keys: pl.DataFrame) -> pl.DataFrame:
    """Rule dup-flag over the updated tables, as the full build computes it: the candidates'
    demographic fields, drug sets (current rows) and reaction sets (the rows of the quarter the
    case survives in, past versions of that quarter included)."""
    cand = duplicates.candidates(keys).lazy()
    cases = pl.scan_parquet(tmp / ".cases-unflagged.parquet").join(cand, on="caseid", how="semi")
    reactions = [pl.scan_parquet(tmp / "reactions.parquet").join(cand, on="caseid", how="semi").select("caseid", "pt")]
    past = tmp / history.HISTORY / "reactions.parquet"
    if past.is_file():
        reactions.append(pl.scan_parquet(past).join(cases.select("caseid", "quarter"), on=["caseid", "quarter"],
                                                    how="semi").select("caseid", "pt"))
    return duplicates.duplicate_flags(
        cases.select("caseid", *duplicates.RAW_FIELDS),
        duplicates.drug_set(pl.scan_parquet(tmp / "drugs.parquet").join(cand, on="caseid", how="semi")),
        duplicates.reaction_set(pl.concat(reactions))).collect()
