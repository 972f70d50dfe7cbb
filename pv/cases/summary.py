"""Human-readable views of ``cases/``: the dedup funnel and the unmapped drug names."""

from __future__ import annotations

import polars as pl

from pv.cases.dedup import STAGES
from pv.config import Home
from pv.errors import PvError
from pv.faers.layouts import era_of_quarter, parse_quarter
from pv.cases import tables


def read_funnel(home: Home) -> pl.DataFrame | None:
    path = home.cases / "funnel.parquet"
    return pl.read_parquet(path) if path.is_file() else None


def funnel_lines(home: Home) -> list[str]:
    """The funnel as aligned text lines (one row per quarter, then total), for ``pvmon status``."""
    table = read_funnel(home)
    if table is None:
        return ["cases: not built (run `pvmon cases`)"]
    wide = table.pivot(on="stage", index="quarter", values="count", maintain_order=True)
    header = ["quarter", *STAGES]
    rows = [[str(r[c]) for c in header] for r in wide.iter_rows(named=True)]
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    fmt = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return ["cases funnel (reports read -> latest version -> minus deleted -> minus flagged duplicates):",
            fmt(header), *[fmt(r) for r in rows]]


def funnel_sections(home: Home, detail: bool = False) -> list:
    """The funnel as a ``pvmon status`` section (pv/lake/status.py SECTIONS): the total, or with
    ``detail`` every quarter too."""
    from pv.lake.status import Section

    table = read_funnel(home)
    if table is None:
        return [Section("Cases: not built yet (run `pvmon cases`)", [])]
    wide = table.pivot(on="stage", index="quarter", values="count", maintain_order=True)
    if not detail:
        wide = wide.filter(pl.col("quarter") == "total")
    return [Section("Cases: dedup funnel (read -> latest version -> minus deleted -> minus flagged duplicates)"
                    + ("" if detail else "; per quarter: pvmon status --all"),
                    wide.select("quarter", *STAGES).to_dicts())]


def _drugs(home: Home) -> pl.LazyFrame:
    if not tables.exists(home.cases, "drugs"):
        raise PvError(f"{tables.folder(home.cases, 'drugs')}: not found (run `pvmon cases` first)")
    return tables.scan(home.cases, "drugs")


def unmapped_share(home: Home) -> pl.DataFrame:
    """Per era (laers 2004-2012Q3, faers_early 2012Q4-2014Q2 without prod_ai, faers): drug
    rows (one per source DRUG row, ``ingredient_part == 0``), unmapped rows and their share
    (rule drug-map). The legacy eras have no prod_ai, so their share is the dictionary's reach."""
    per_quarter = (_drugs(home).filter(pl.col("ingredient_part") == 0).group_by("quarter")
                   .agg(pl.len().alias("rows"), (~pl.col("mapped")).sum().alias("unmapped")).collect())
    eras = {q: era_of_quarter(*parse_quarter(q)) for q in per_quarter["quarter"]}
    order = {e: i for i, e in enumerate(("laers", "faers_early", "faers"))}
    return (
        per_quarter.with_columns(pl.col("quarter").replace_strict(eras, return_dtype=pl.Utf8).alias("era"))
        .group_by("era").agg(pl.col("quarter").min().alias("first"), pl.col("quarter").max().alias("last"),
                             pl.col("rows").sum(), pl.col("unmapped").sum().cast(pl.Int64))
        .with_columns((pl.col("unmapped") / pl.col("rows")).alias("unmapped_share"))
        .sort(pl.col("era").replace_strict(order, return_dtype=pl.Int8))
    )


def unmapped_names(home: Home, top: int = 50) -> pl.DataFrame:
    """Most frequent drug names the dictionary did not map (rule drug-map), for growing it."""
    return (
        _drugs(home).filter(~pl.col("mapped"))
        .group_by("ingredient").agg(pl.len().alias("rows"), pl.col("caseid").n_unique().alias("cases"),
                                    pl.col("drugname").mode().sort().first().alias("example"))
        .sort(["rows", "ingredient"], descending=[True, False]).head(top).collect()
    )
