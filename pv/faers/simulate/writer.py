"""Lay one quarter's tables out as FDA's zip: headers, `$` rows, line endings, bytes.

The only content change made here is joining two DRUG records onto one physical line (the
``two_records`` quirk); every other value arrives final from ``quarter.py``. Members are
streamed into the zip in chunks so a 2M-row table never exists as one Python string.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import polars as pl

from pv.atomic import atomic_path
from pv.faers.layouts import TABLES, current_name, header_for
from pv.faers.simulate import layout
from pv.faers.simulate.quarter import QuarterData

CHUNK = 200_000
PLACEHOLDER_PDF = b"%PDF-1.4\n% simulated placeholder: see FDA's ASC_NTS for the real file\n%%EOF\n"


def _release_time(y: int, q: int) -> tuple[int, int, int, int, int, int]:
    """Fixed member timestamps (about six weeks after the quarter) keep zips byte-identical."""
    ny, nm = (y, 3 * q + 2) if q < 4 else (y + 1, 2)
    return (ny, nm, 13, 9, 20, 0)


def _rows(df: pl.DataFrame, table: str, y: int, q: int) -> pl.Series:
    cols = [current_name(table, h) for h in header_for(table, y, q)]
    exprs = [pl.col(c).fill_null("") if c in df.columns else pl.lit("") for c in cols]
    row = pl.concat_str(exprs, separator="$")
    if layout.row_trailing_dollar(y, q):
        row = row + pl.lit("$")
    return df.select(row.alias("row")).to_series()


def _encode(text: str) -> bytes:
    return text.encode("latin-1", errors="replace")


def table_lines(qd: QuarterData, table: str) -> tuple[pl.Series, np.ndarray, list[dict]]:
    """Row texts as written, the physical start line of each, and broken-line truth rows."""
    y, q = qd.year, qd.q
    df = qd.tables[table]
    rows = _rows(df, table, y, q)
    ids = df.select("caseid", "primaryid")
    member = layout.member_name(table, y, q)
    truth = []
    if table == "DRUG" and len(qd.quirks["DRUG"]["two"]):
        two = qd.quirks["DRUG"]["two"]
        arr = rows.to_numpy().astype(object)
        arr[two] = arr[two] + arr[two + 1]
        keep = np.ones(len(arr), bool)
        keep[two + 1] = False
        rows = pl.Series(arr[keep], dtype=pl.Utf8)
        start_of_orig = np.cumsum(keep) - 1  # written row index of each original record
        lines = 2 + np.arange(len(rows))
        for r in two:
            truth.append(dict(table=table, file=member, line=int(lines[start_of_orig[r]]),
                              caseid=ids["caseid"][int(r)], primaryid=ids["primaryid"][int(r)],
                              detail="two_records", value="repaired"))
        return rows, lines, truth
    extra = np.zeros(len(rows), dtype=np.int64)
    if table == "DEMO":
        split = qd.quirks["DEMO"]["split"]
        extra[split] = 1
        lines = 2 + np.arange(len(rows)) + np.concatenate([[0], np.cumsum(extra)[:-1]])
        for kind, pos, fate in (("dollar_in_value", qd.quirks["DEMO"]["dollar"], "quarantined"),
                                ("split_record", split, "repaired")):
            for r in pos:
                truth.append(dict(table=table, file=member, line=int(lines[r]), caseid=ids["caseid"][int(r)],
                                  primaryid=ids["primaryid"][int(r)], detail=kind, value=fate))
        return rows, lines, truth
    return rows, 2 + np.arange(len(rows)), truth


def write_zip(qd: QuarterData, out_dir: Path, deleted: dict[str, np.ndarray]) -> tuple[Path, list[dict]]:
    """Write the quarter's zip atomically; return its path and the broken-line truth rows."""
    y, q = qd.year, qd.q
    target = Path(out_dir) / layout.zip_name(y, q)
    dt = _release_time(y, q)
    truth: list[dict] = []

    def info(name: str) -> zipfile.ZipInfo:
        zi = zipfile.ZipInfo(name, date_time=dt)
        zi.compress_type = zipfile.ZIP_DEFLATED
        zi.external_attr = 0o644 << 16
        return zi

    with atomic_path(target) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            legacy = layout.era(y, q) == "laers"
            folder = layout.member_name("DEMO", y, q).split("/")[0]
            zf.writestr(info(f"{folder}/ASC_NTS.{'DOC' if legacy else 'pdf'}"), PLACEHOLDER_PDF)
            if not legacy:
                zf.writestr(info("Readme.pdf"), PLACEHOLDER_PDF)
            for table in TABLES:
                rows, _, t = table_lines(qd, table)
                truth += t
                term = layout.line_ending(table, y, q)
                with zf.open(info(layout.member_name(table, y, q)), "w", force_zip64=True) as fh:
                    if layout.has_bom(table, y, q):
                        fh.write(b"\xef\xbb\xbf")
                    fh.write(_encode(layout.header_line(table, y, q) + term))
                    for off in range(0, len(rows), CHUNK):
                        chunk = rows.slice(off, CHUNK)
                        fh.write(_encode(chunk.str.join(term)[0] + term))
            for member, ids in deleted.items():
                lead = " \n" if layout.deleted_starts_with_space(member, y, q) else ""
                body = lead + "".join(f"{c}\n" for c in ids.tolist())
                zf.writestr(info(member), body.encode("ascii"))
    for t in truth:
        t["quarter"] = f"{y}Q{q}"
    return target, truth
