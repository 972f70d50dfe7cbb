"""Text rules applied to distinct values once per build, not once per quarter (issue 16).

The drug-name, dose-text and code rules (pv.cases.drugs, pv.cases.dose) are pure functions of
a value, so they are computed on distinct values and joined back to the rows. A build runs
them quarter by quarter, and the quarters repeat most values: at scale 0.1 the 88 quarters'
DRUG rows hold 444k per-quarter distinct drug names but 7.3k distinct in the whole store
(dose texts: 204k and 47k). ``Memo`` keeps each rule's table for the whole build and derives
only the values a quarter adds, so every value is parsed once. The rows get exactly what a
per-quarter table gives them.
"""

from __future__ import annotations

from typing import Callable

import polars as pl


class Memo:
    """Per rule (``name``), the derived columns of every distinct key value seen so far in one build.

    A memo is valid for one set of seeds: make a new one when the dictionary changes (rule
    learned-names adds keys to it)."""

    def __init__(self) -> None:
        self._tables: dict[str, pl.DataFrame] = {}

    def table(self, name: str, frame: pl.DataFrame, keys: list[str], derive: Callable[[pl.DataFrame], pl.DataFrame],
              nulls: bool = False) -> pl.DataFrame:
        """The table of rule ``name`` (``keys`` + derived columns, one row set per key value) covering
        every value of ``keys`` in ``frame``. ``derive`` maps a frame of distinct, new key values
        to that table; ``nulls``: a null key is a value too (else null keys are left out and
        find nothing when joined)."""
        values = frame.select(keys).unique()
        if not nulls:
            values = values.drop_nulls()
        known = self._tables.get(name)
        if known is not None:
            values = values.join(known.select(keys), on=keys, how="anti", nulls_equal=nulls)
            if values.height == 0:
                return known
        new = derive(values)
        self._tables[name] = new if known is None else pl.concat([known, new], rechunk=False)
        return self._tables[name]


def looked_up(frame: pl.DataFrame, column: str, exprs: dict[str, pl.Expr], memo: Memo | None, name: str) -> pl.DataFrame:
    """``exprs`` (written over ``pl.col(column)``) for every row of ``frame``, computed once per
    distinct value (once per build with a ``memo``) and joined back: a frame of the derived
    columns alone, in ``frame``'s row order (a hash join: several times faster than a string
    ``replace_strict`` per output). ``name`` names the rule in the memo."""
    table = (memo or Memo()).table(name, frame, [column], lambda v: v.with_columns(**exprs))
    return frame.select(column).join(table, on=column, how="left", maintain_order="left").drop(column)
