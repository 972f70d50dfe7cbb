"""MedDRA preferred terms: renames, event groups and canonical spelling.

Rules (no MedDRA licence assumed; domain.md "Event groups"):

- ``pt-rename``: an old PT wording is replaced by the current one from
  seeds/pt_renames.csv, matched case-insensitively (legacy data is upper case).
- ``pt-spelling``: one spelling per PT for the whole store, chosen once over every staged
  REAC ``pt`` and INDI ``indi_pt`` (``store_pt_table``), never per quarter: legacy quarters
  are upper case ("ELECTROCARDIOGRAM QT PROLONGED"), FAERS quarters carry MedDRA's case, and
  a per-quarter choice split such a PT into two events across 2012. In order: the licensed
  MedDRA name (``$PV_MEDDRA``), else the spelling in the seeds (event groups, renames,
  indication terms, receptor map, curated PT spellings), else the most frequent mixed-case
  spelling of the term anywhere in the store, else, for an all-upper legacy string only ever
  seen upper case, first letter upper and the rest lower. Unknown PTs are kept. The user may
  extend the known spellings through ``$PV_SEEDS`` (meddra_pt_spellings.csv).
- ``event-groups``: seeds/event_groups.csv, one row per (group, scope, pt); a broad query is
  its narrow rows plus its broad rows.
"""

from __future__ import annotations

import csv

import polars as pl

from pv.errors import PvError
from pv.vocab.seeds import SHIPPED_SEEDS, Seed, load_seed, override_path

GROUPS = ("overdose", "withdrawal", "abuse", "pump", "suicide")
SCOPES = ("narrow", "broad")


def load_pt_renames() -> Seed:
    """old_pt -> current_pt; no chains (an old name that is also a target) allowed."""
    seed = load_seed("pt_renames", ("old_pt", "current_pt"), key=("old_pt",),
                     required=("old_pt", "current_pt"), normalise_key=lambda r: (r["old_pt"].lower(),))
    olds = set(seed.frame["old_pt"].str.to_lowercase())
    chained = [c for c in seed.frame["current_pt"] if c.lower() in olds]
    if chained:
        raise PvError(f"{seed.sources[-1]}: rename target {chained[0]!r} is itself renamed (chain)")
    return seed


def load_event_groups() -> Seed:
    seed = load_seed("event_groups", ("group", "scope", "pt"), key=("group", "scope", "pt"),
                     normalise_key=lambda r: (r["group"], r["pt"].lower()))
    bad = seed.frame.filter(~pl.col("group").is_in(GROUPS) | ~pl.col("scope").is_in(SCOPES))
    if bad.height:
        row = bad.row(0, named=True)
        raise PvError(f"{seed.sources[-1]}: unknown group/scope {row['group']}/{row['scope']} "
                      f"(groups: {', '.join(GROUPS)}; scopes: narrow, broad)")
    return seed


def _seed_pts(name: str) -> list[str]:
    """PT spellings from the ``pt`` column of a seed owned by another stage (mechanism's
    receptor_map.csv and meddra_pt_spellings.csv), if the file exists."""
    path = override_path(name) or SHIPPED_SEEDS / f"{name}.csv"
    if not path.is_file():
        return []
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    rows = list(csv.DictReader(lines))
    return [r["pt"].strip() for r in rows if r.get("pt")]


def known_pt_spellings(extra: list[str] = ()) -> pl.DataFrame:
    """lower-case key -> canonical spelling: ``extra`` (a licensed MedDRA's PT names) first,
    then every seed that names PTs."""
    from pv.vocab.lookups import load_indication_terms

    renames = load_pt_renames().frame
    names = (
        list(extra)
        + list(load_event_groups().frame["pt"])
        + list(renames["current_pt"])
        + list(load_indication_terms().frame["indi_pt"])
        + _seed_pts("receptor_map")
        + _seed_pts("meddra_pt_spellings")
    )
    frame = pl.DataFrame({"canonical": names}, schema={"canonical": pl.Utf8})
    return (
        frame.with_columns(pl.col("canonical").str.strip_chars())
        .with_columns(pl.col("canonical").str.to_lowercase().alias("key"))
        .unique(subset="key", keep="first", maintain_order=True)
        .select("key", "canonical")
    )


def store_pt_table(sources: list[pl.LazyFrame], meddra_names: list[str] = ()) -> pl.DataFrame:
    """(pt_source -> pt) for every distinct trimmed PT text of ``sources`` (one-column frames:
    all staged REAC pt and INDI indi_pt), spelled once for the whole store (rule pt-spelling)."""
    return pt_table(pt_counts(sources), meddra_names)


def pt_counts(sources: list[pl.LazyFrame]) -> pl.DataFrame:
    """(pt_source, n): every distinct trimmed PT text of ``sources`` and its row count.

    Only the distinct strings and their counts are held (a few 10k at full scale), so the
    100M-row scan runs in the streaming engine with bounded memory."""
    texts = [s.select(pl.first().str.strip_chars().alias("pt_source")) for s in sources]
    distinct = (pl.concat(texts).filter(pl.col("pt_source").is_not_null() & (pl.col("pt_source") != ""))
                .group_by("pt_source").agg(pl.len().alias("n")))
    return distinct.collect(engine="streaming").sort("pt_source")


def pt_table(counts: pl.DataFrame, meddra_names: list[str] = ()) -> pl.DataFrame:
    """(pt_source -> pt) from the store's PT texts and their counts (``pt_counts``)."""
    return canonical_pts(counts.lazy(), meddra_names=meddra_names).select("pt_source", "pt").collect()


def canonical_pts(distinct: pl.LazyFrame, column: str = "pt_source", meddra_names: list[str] = ()) -> pl.LazyFrame:
    """Distinct source PTs (with a count ``n``) -> + ``pt`` (rules pt-rename, pt-spelling)."""
    renames = load_pt_renames().frame.select(
        pl.col("old_pt").str.to_lowercase().alias("key"), pl.col("current_pt").alias("renamed")
    ).lazy()
    known = known_pt_spellings(list(meddra_names)).lazy()
    stripped = pl.col(column).str.strip_chars()
    base = distinct.with_columns(stripped.str.to_lowercase().alias("key"))
    data_spelling = (
        base.filter(stripped != stripped.str.to_uppercase())
        .group_by("key", stripped.alias("spelling"))
        .agg(pl.col("n").sum())
        .sort(["key", "n", "spelling"], descending=[False, True, False])
        .unique(subset="key", keep="first", maintain_order=True)
        .select("key", "spelling")
    )
    capitalised = stripped.str.slice(0, 1).str.to_uppercase() + stripped.str.slice(1).str.to_lowercase()
    return (
        base.join(renames, on="key", how="left")
        .with_columns(pl.coalesce(pl.col("renamed").str.to_lowercase(), "key").alias("key"))
        .join(known, on="key", how="left")
        .join(data_spelling, on="key", how="left")
        .with_columns(
            pl.coalesce(
                "canonical", "renamed", "spelling",
                pl.when(stripped == stripped.str.to_uppercase()).then(capitalised).otherwise(stripped),
            ).alias("pt")
        )
        .with_columns(pl.when(pl.col("pt") != "").then(pl.col("pt")).alias("pt"))
        .drop("key", "renamed", "canonical", "spelling")
    )
