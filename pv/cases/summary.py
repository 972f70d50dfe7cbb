"""Human-readable views of ``cases/``: the dedup funnel and the unmapped drug names."""

from __future__ import annotations

import polars as pl

from pv.cases.dedup import STAGES
from pv.config import Home
from pv.errors import PvError


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


def funnel_sections(home: Home) -> list:
    """The funnel as a ``pvmon status`` section (pv/lake/status.py SECTIONS)."""
    from pv.lake.status import Section

    table = read_funnel(home)
    if table is None:
        return [Section("Cases: not built yet (run `pvmon cases`)", [])]
    wide = table.pivot(on="stage", index="quarter", values="count", maintain_order=True)
    return [Section("Cases: dedup funnel (read -> latest version -> minus deleted -> minus flagged duplicates)",
                    wide.select("quarter", *STAGES).to_dicts())]


def unmapped_names(home: Home, top: int = 50) -> pl.DataFrame:
    """Most frequent drug names the dictionary did not map (rule drug-map), for growing it."""
    path = home.cases / "drugs.parquet"
    if not path.is_file():
        raise PvError(f"{path}: not found (run `pvmon cases` first)")
    return (
        pl.scan_parquet(path).filter(~pl.col("mapped"))
        .group_by("ingredient").agg(pl.len().alias("rows"), pl.col("caseid").n_unique().alias("cases"),
                                    pl.col("drugname").mode().sort().first().alias("example"))
        .sort(["rows", "ingredient"], descending=[True, False]).head(top).collect()
    )
