"""Fuzz the FAERS reader: random and mutated table files of every era, property-based.

Inputs are drawn by hypothesis (seeded, no example database, so a seed gives the same
inputs): a real header of a random table and quarter (legacy, 2004-2005 short DEMO,
2012Q4 typos, FAERS early and current), rows whose fields mix FDA-like values with the
hostile characters of FAERS free text (``$``, CR, TAB, quotes, backspace, Latin-1 and
invalid UTF-8 bytes), a wrong field count now and then, CRLF or LF, a BOM, a missing
final newline; then byte mutations (insert, delete, flip, duplicate or join lines,
truncate); and deleted-case lists. Each input is read whole and again streamed in random
chunk sizes through small slices (the ingest path), and must satisfy:

- no exception escapes but ``PvError`` (a file refused whole, with one line);
- every physical body line is staged, repaired or quarantined with a reason:
  ``lines_read = clean + repaired + quarantined + blank`` and equals the file's lines,
  every line number is found among the staged rows, the quarantine or the repairs;
- the streamed read gives the same rows, quarantine and counts as the whole read.

``run(n, seed)`` returns ``inputs_tried``, ``rows_lost`` (lines not accounted for, over all
inputs), ``tracebacks``, ``refused`` (PvError), ``stream_differs`` and the first failures.
Usage: ``python bench/fuzz_reader.py [--n 10000] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed as hseed, settings, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pv.errors import PvError  # noqa: E402
from pv.faers import layouts, reader  # noqa: E402

QUARTERS = [(2004, 1), (2005, 4), (2008, 2), (2011, 2), (2012, 3), (2012, 4), (2013, 1), (2014, 2), (2016, 3),
            (2020, 3), (2025, 3)]
HOSTILE = ["$", "\r", "\t", "\b", '"', "'", "#", "\u00e9", "\u00c9", "\u4e2d", "\\", " ", "\x00", "\x7f"]
WORDS = ["", "", "", "PS", "SS", "C", "I", "DE", "HO", "M", "F", "UNK", "BACLOFEN", "Dizziness", "20240131", "US"]
LETTERS = list("ABCxyz019 -/.") + HOSTILE


def field(rng) -> str:
    """One value: empty, an id, an FDA-like code or name, or hostile free text."""
    kind = rng.random()
    if kind < 0.3:
        return str(rng.randrange(10 ** rng.randint(1, 12)))
    if kind < 0.75:
        return rng.choice(WORDS)
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(0, 12)))


@st.composite
def table_file(draw) -> tuple[bytes, str, str]:
    """(bytes, table, quarter): a header, rows, then byte mutations. hypothesis draws the
    shape (table, era, row count, field-count errors, line ending, encoding, mutations) and
    a seed for the values (drawing each value through hypothesis is ~50x slower)."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    y, q = draw(st.sampled_from(QUARTERS))
    if draw(st.integers(0, 19)) == 0:  # a deleted-case list
        lines = [rng.choice([str(rng.randrange(10**9)), " ", "", field(rng)]) for _ in range(draw(st.integers(0, 30)))]
        return ("\n".join(lines) + draw(st.sampled_from(["", "\n"]))).encode("utf-8"), reader.DELETED, f"{y}Q{q}"
    table = draw(st.sampled_from(layouts.TABLES))
    header = list(layouts.header_for(table, y, q))
    legacy = layouts.era_of_quarter(y, q) == "laers"
    trailing = legacy or draw(st.booleans())
    n = len(header)
    odd = draw(st.sampled_from([0.0, 0.0, 0.05, 0.3]))  # share of rows with a wrong field count
    rows = []
    for _ in range(draw(st.integers(0, 40))):
        width = rng.randint(1, 2 * n + 1) if rng.random() < odd else n
        values = [field(rng) for _ in range(width)]
        if values and rng.random() < 0.7:
            values[0] = str(rng.randrange(1, 10**11))
        rows.append("$".join(values) + ("$" if trailing else ""))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    text = eol.join(["$".join(header) + ("$" if draw(st.booleans()) else ""), *rows])
    text += eol if draw(st.integers(0, 4)) else ""
    data = text.encode(draw(st.sampled_from(["utf-8", "latin-1"])), errors="replace")
    if draw(st.integers(0, 9)) == 0:
        data = b"\xef\xbb\xbf" + data
    body = data.find(b"\n") + 1
    for _ in range(draw(st.integers(0, 4))):
        data = mutate(draw, rng, data, body if draw(st.integers(0, 9)) else 0)
    return data, table, f"{y}Q{q}"


def mutate(draw, rng, data: bytes, start: int) -> bytes:
    """One byte-level mutation at or after ``start`` (mostly the body, sometimes the header)."""
    kind = draw(st.sampled_from(["insert", "delete", "flip", "dup_line", "join_lines", "split_line", "truncate",
                                 "random"]))
    last = max(len(data) - 1, 0)
    at = rng.randint(min(start, last), last)
    if kind == "insert":
        return data[:at] + rng.randbytes(rng.randint(1, 8)) + data[at:]
    if kind == "delete":
        return data[:at] + data[at + rng.randint(1, 8):]
    if kind == "flip" and at < len(data):
        return data[:at] + bytes([data[at] ^ rng.randint(1, 255)]) + data[at + 1:]
    if kind == "dup_line":
        lines = data.split(b"\n")
        k = rng.randint(0, len(lines) - 1)
        return b"\n".join(lines[:k + 1] + lines[k:])
    if kind == "join_lines":
        nl = data.find(b"\n", at)
        return data if nl < 0 else data[:nl] + data[nl + 1:]
    if kind == "split_line":
        return data[:at] + b"\n" + data[at:]
    if kind == "truncate":
        return data[:at]
    return rng.randbytes(rng.randint(0, 200)) if kind == "random" else data


def body_lines(data: bytes, table: str) -> int:
    """Physical lines after the header, counted independently of the reader."""
    if table != reader.DELETED:
        nl = data.find(b"\n")
        data = b"" if nl < 0 else data[nl + 1:]
    elif data.startswith(reader.BOM):
        data = data[len(reader.BOM):]
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def unaccounted(r, data: bytes, table: str) -> int:
    """Body lines the read does not account for (0 when every line is somewhere)."""
    expected = body_lines(data, table)
    lost = abs(r.lines_read - expected) + (0 if r.balanced() else 1) + abs(r.frame.height - r.rows_staged)
    if table == reader.DELETED:
        return lost + abs(r.lines_clean - r.frame.height)
    first = 2
    seen = set(r.frame["source_line"].to_list()) | set(r.quarantine["line"].to_list())
    seen |= {line + 1 for line, rule, _ in r.repairs if rule == "split_record"}
    return lost + len(set(range(first, first + expected)) - seen)


def streamed(data: bytes, piece: int):
    return lambda: (data[i:i + piece] for i in range(0, len(data), piece))


def same(a, b) -> bool:
    counts = ("encoding", "lines_read", "lines_clean", "lines_repaired", "lines_quarantined", "lines_blank",
              "rows_staged", "repairs")
    return (a.frame.equals(b.frame) and a.quarantine.equals(b.quarantine)
            and all(getattr(a, c) == getattr(b, c) for c in counts))


def run(n: int, seed: int) -> dict:
    """Fuzz ``n`` inputs from ``seed``; return the sweep figures (see the module docstring)."""
    out = {"inputs_tried": 0, "rows_lost": 0, "tracebacks": 0, "refused": 0, "stream_differs": 0, "failures": []}

    def fail(kind: str, data: bytes, table: str, quarter: str, detail: str) -> None:
        if len(out["failures"]) < 5:
            out["failures"].append({"kind": kind, "table": table, "quarter": quarter, "input": data[:300].hex(),
                                    "detail": detail[-2000:]})

    @hseed(seed)
    @settings(max_examples=n, database=None, deadline=None, derandomize=False,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(table_file(), st.integers(1, 97), st.integers(8, 300))
    def check(case, piece, slice_bytes):
        data, table, quarter = case
        out["inputs_tried"] += 1
        name = f"{table}{quarter[2:4]}Q{quarter[-1]}.txt"
        try:
            whole = reader.read_table(data, table, quarter, name)
        except PvError as err:
            out["refused"] += 1
            if "\n" in str(err):
                fail("multi-line error", data, table, quarter, str(err))
            return
        except Exception:
            out["tracebacks"] += 1
            fail("traceback", data, table, quarter, traceback.format_exc())
            return
        lost = unaccounted(whole, data, table)
        if lost:
            out["rows_lost"] += lost
            fail("lines not accounted for", data, table, quarter, f"{lost} line(s)")
        saved = reader.SLICE_BYTES
        reader.SLICE_BYTES = slice_bytes
        try:
            part = reader.read_table(streamed(data, piece), table, quarter, name)
        except Exception:
            out["tracebacks"] += 1
            fail("traceback (streamed)", data, table, quarter, traceback.format_exc())
            return
        finally:
            reader.SLICE_BYTES = saved
        if not same(whole, part):
            out["stream_differs"] += 1
            fail("streamed read differs", data, table, quarter, f"piece {piece}, slice {slice_bytes}")

    check()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t = time.perf_counter()
    result = run(args.n, args.seed)
    print(json.dumps(result, indent=1))
    print(f"{result['inputs_tried']} inputs in {time.perf_counter() - t:.0f} s: rows lost {result['rows_lost']}, "
          f"tracebacks {result['tracebacks']}, refused (one line) {result['refused']}, "
          f"streamed reads differing {result['stream_differs']}")


if __name__ == "__main__":
    main()
