"""Receptor-density annotation of reaction rows and signal rows (issue 6, point 1).

Each reaction (and each PT-level signal row) gets the symptom domain(s) of its PT, the
region(s), the regional GABA-B density, the evidence grades and the sources from
seeds/receptor_map.csv. A PT can sit in several domains, so the annotation columns are
lists (one element per domain, in map order): the row count never changes, so nothing is
double-counted downstream. A PT absent from the map is kept and says so in
``mechanism_status`` ("no mapping") instead of being dropped.

Matching is case-insensitive (legacy FAERS is upper case); the cases stage already turned
old PT wordings into current ones.
"""

from __future__ import annotations

from typing import TypeVar

import polars as pl

from pv.vocab.receptors import load_receptor_map

# The seed columns carried onto each annotated row (as lists, one element per domain).
CARRIED = (
    "domain", "region", "density", "density_rank", "density_grade", "link_grade", "role",
    "evidence", "source",
)
MAPPED, NOT_MAPPED, NOT_ANNOTATED = "mapped", "no mapping", "not annotated (group-level row)"

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def annotation_by_pt(rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per PT (key: lower-case PT) with list columns of its domains' annotation."""
    rmap = load_receptor_map() if rmap is None else rmap
    return rmap.group_by(pl.col("pt").str.to_lowercase().alias("_key"), maintain_order=True).agg(
        *[pl.col(c) for c in CARRIED], pl.col("version").first().alias("receptor_map_version")
    )


def annotation_by_domain(rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per domain (key: domain name) with the same list columns (one element each)."""
    rmap = load_receptor_map() if rmap is None else rmap
    by_domain = rmap.filter(pl.col("role") == "effect").group_by("domain", maintain_order=True).agg(
        pl.col("region", "density", "density_rank", "density_grade").first(),
        # A domain's link grade is D only if every one of its PTs is linked on documented evidence.
        pl.when((pl.col("link_grade") == "D").all()).then(pl.lit("D")).otherwise(pl.lit("I")).first().alias("link_grade"),
        pl.lit("effect").alias("role"),
        pl.col("evidence").first(),
        pl.col("source").unique(maintain_order=True).str.join("; ").str.split("; ").list.unique(maintain_order=True).list.join("; ").alias("source"),
        pl.col("version").first().alias("receptor_map_version"),
    )
    return by_domain.select(
        pl.col("domain").alias("_key"), *[pl.concat_list(pl.col(c)).alias(c) for c in CARRIED],
        "receptor_map_version",
    )


def _status(mapped: pl.Expr) -> pl.Expr:
    return pl.when(mapped).then(pl.lit(MAPPED)).otherwise(pl.lit(NOT_MAPPED)).alias("mechanism_status")


def annotate_reactions(reactions: Frame, rmap: pl.DataFrame | None = None) -> Frame:
    """Reaction rows (column ``pt``) with the receptor-map annotation; same rows, same order."""
    lookup = annotation_by_pt(rmap)
    lookup = lookup.lazy() if isinstance(reactions, pl.LazyFrame) else lookup
    return (
        reactions.with_columns(pl.col("pt").str.to_lowercase().alias("_key"))
        .join(lookup, on="_key", how="left", maintain_order="left")
        .with_columns(_status(pl.col("domain").is_not_null()))
        .drop("_key")
    )


def annotate_signals(signals: Frame, rmap: pl.DataFrame | None = None) -> Frame:
    """Signal-table rows with the annotation: PT rows by their PT, domain rows by their domain.

    Group rows (overdose, withdrawal...) span several domains and are marked not annotated.
    A domain row's event may be written ``sensory`` or ``domain:sensory``.
    """
    lookup = pl.concat([
        annotation_by_pt(rmap).with_columns(pl.lit("pt").alias("_level")),
        annotation_by_domain(rmap).with_columns(pl.lit("domain").alias("_level")),
    ])
    lookup = lookup.lazy() if isinstance(signals, pl.LazyFrame) else lookup
    key = (
        pl.when(pl.col("level") == "pt").then(pl.col("event").str.to_lowercase())
        .when(pl.col("level") == "domain").then(pl.col("event").str.strip_prefix("domain:"))
    )
    return (
        signals.with_columns(key.alias("_key"), pl.col("level").alias("_level"))
        .join(lookup, on=["_level", "_key"], how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("level") == "group").then(pl.lit(NOT_ANNOTATED))
            .otherwise(_status(pl.col("domain").is_not_null())).alias("mechanism_status")
        )
        .drop("_key", "_level")
    )


def annotate_reported_pts(reactions: pl.LazyFrame, rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every distinct PT of the case reactions with its report count and annotation.

    The per-reaction annotation of a whole FAERS history is this table joined on ``pt``
    (the cases stage already wrote each PT in one canonical spelling): one row per PT keeps
    the output small at full scale, and every unmapped PT is listed as such.
    """
    counted = reactions.group_by("pt").agg(pl.col("caseid").n_unique().alias("reports"))
    return annotate_reactions(counted, rmap).collect(engine="streaming").sort(["reports", "pt"], descending=[True, False])
