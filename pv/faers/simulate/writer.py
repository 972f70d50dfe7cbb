"""Lay one quarter's tables out as FDA's zip: headers, `$` rows, line endings, bytes.

The only content change made here is joining two DRUG records onto one physical line (the
``two_records`` quirk); every other value arrives final from ``quarter.py``. Members are
streamed into the zip in chunks so a 2M-row table never exists as one Python string.
"""

from __future__ import annotations

import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

from pv.atomic import atomic_path
from pv.errors import PvError
from pv.faers.extract import simulated_marker
from pv.faers.layouts import TABLES, current_name, header_for
from pv.faers.simulate import layout
from pv.faers.simulate.quarter import QuarterData

CHUNK = 200_000
COMPRESS_LEVEL = 1  # fastest deflate: the zips stay the size of FDA's (~70 MB for 400k reports)
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


def _deflate(chunks) -> tuple[bytes, int, int]:
    """Raw-deflate a stream of byte chunks: (compressed bytes, crc32, uncompressed size)."""
    comp = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -15)
    out, crc, size = [], 0, 0
    for b in chunks:
        crc = zlib.crc32(b, crc)
        size += len(b)
        out.append(comp.compress(b))
    out.append(comp.flush())
    return b"".join(out), crc, size


def _table_member(qd: QuarterData, table: str) -> tuple[str, bytes, int, int, list[dict]]:
    y, q = qd.year, qd.q
    rows, _, truth = table_lines(qd, table)
    term = layout.line_ending(table, y, q)
    encode = str.encode if layout.utf8(table, y, q) else _encode

    def chunks():
        yield (b"\xef\xbb\xbf" if layout.has_bom(table, y, q) else b"") + encode(layout.header_line(table, y, q) + term)
        for off in range(0, len(rows), CHUNK):
            yield encode(rows.slice(off, CHUNK).str.join(term)[0] + term)

    data, crc, size = _deflate(chunks())
    return layout.member_name(table, y, q), data, crc, size, truth


def _dos_time(dt: tuple[int, ...]) -> tuple[int, int]:
    y, mo, d, h, mi, s = dt
    return (h << 11) | (mi << 5) | (s // 2), ((y - 1980) << 9) | (mo << 5) | d


def _write_members(fh, members: list[tuple[str, bytes, int, int]], dt: tuple[int, ...]) -> None:
    """A plain (non-zip64) deflate zip, as zipfile would write it, from pre-compressed members
    (so the members can be compressed in parallel threads)."""
    t, d = _dos_time(dt)
    central, offset = [], 0
    for name, data, crc, size in members:
        if size >= 0xFFFFFFFF or offset >= 0xFFFFFFFF:
            raise PvError(f"{name}: member too large for a plain zip ({size} bytes)")
        nb = name.encode("ascii")
        head = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, t, d, crc, len(data), size, len(nb), 0)
        fh.write(head + nb)
        fh.write(data)
        central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 0x0314, 20, 0, 8, t, d, crc, len(data),
                                   size, len(nb), 0, 0, 0, 0, 0o644 << 16, offset) + nb)
        offset += len(head) + len(nb) + len(data)
    cd = b"".join(central)
    fh.write(cd)
    comment = simulated_marker([(name, crc, size, len(data)) for name, data, crc, size in members])
    fh.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(cd), offset,
                         len(comment)) + comment)


def write_zip(qd: QuarterData, out_dir: Path, deleted: dict[str, np.ndarray], threads: int = 2) -> tuple[Path, list[dict]]:
    """Write the quarter's zip atomically; return its path and the broken-line truth rows."""
    y, q = qd.year, qd.q
    target = Path(out_dir) / layout.zip_name(y, q)
    legacy = layout.era(y, q) == "laers"
    folder = layout.member_name("DEMO", y, q).split("/")[0]
    small = [(f"{folder}/ASC_NTS.{'DOC' if legacy else 'pdf'}", PLACEHOLDER_PDF)]
    if not legacy:
        small.append(("Readme.pdf", PLACEHOLDER_PDF))
    with ThreadPoolExecutor(threads) as pool:  # polars and zlib release the GIL
        tables = list(pool.map(lambda t: _table_member(qd, t), TABLES))
    deleted_bytes = []
    for member, ids in deleted.items():
        lead = " \n" if layout.deleted_starts_with_space(member, y, q) else ""
        deleted_bytes.append((member, (lead + "".join(f"{c}\n" for c in ids.tolist())).encode("ascii")))
    members = [(n, *_deflate([b])) for n, b in small]
    members += [(n, data, crc, size) for n, data, crc, size, _ in tables]
    members += [(n, *_deflate([b])) for n, b in deleted_bytes]
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            _write_members(fh, members, _release_time(y, q))
    truth = [t for *_, tr in tables for t in tr]
    for t in truth:
        t["quarter"] = f"{y}Q{q}"
    return target, truth
