"""Zip bombs, made for real in the test: a 3 GiB member of zeros deflated to ~3 MB (with
ISA-L, ~1 s), honest and lying about its size. Ingest must refuse each with one line, and
its peak memory (``/usr/bin/time -v`` of the ``pvmon ingest`` process) must stay far below
the member's size: the member is streamed, never inflated whole."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from isal import isal_zlib

from extract_fixture import member_name, table_bytes
from pv.faers import layouts

GIB = 1 << 30
BOMB = 3 * GIB
RSS_BOUND_KB = 1_000_000  # ~1 GB: whole-member inflation would need > 3 GiB


def _deflate(pieces) -> tuple[bytes, int, int]:
    comp, out, crc, size = isal_zlib.compressobj(1, isal_zlib.DEFLATED, -15), [], 0, 0
    for b in pieces:
        crc, size = isal_zlib.crc32(b, crc), size + len(b)
        out.append(comp.compress(b))
    out.append(comp.flush())
    return b"".join(out), crc, size


def _zeros(n: int, block: int = 64 << 20):
    zeros = bytes(block)
    for off in range(0, n, block):
        yield zeros[: min(block, n - off)]


def write_members(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> Path:
    """A plain deflate zip of pre-compressed members (name, data, crc, real size, declared size)."""
    central, offset = [], 0
    with open(path, "wb") as fh:
        for name, data, crc, _, declared in members:
            nb = name.encode()
            head = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x5021, crc, len(data), declared, len(nb), 0)
            fh.write(head + nb + data)
            central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x5021, crc, len(data),
                                       declared, len(nb), 0, 0, 0, 0, 0, offset) + nb)
            offset += len(head) + len(nb) + len(data)
        cd = b"".join(central)
        fh.write(cd + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(cd), offset, 0))
    return path


def _rows(n: int, block: int = 64 << 20):
    """``n`` bytes of one well-formed DEMO row repeated (a bomb the reader would parse)."""
    row = table_bytes("DEMO", 2020, 1, 1).split(b"\n")[1] + b"\n"
    text = row * (block // len(row))
    left = n
    while left > 0:
        yield text[:left]
        left -= len(text)


@pytest.fixture(scope="module")
def bomb_member() -> tuple[bytes, int, int]:
    """DEMO's header, then 3 GiB of zeros, deflated: ~3 MB."""
    header = "$".join(layouts.header_for("DEMO", 2020, 1)).encode() + b"\n"
    return _deflate([header, *_zeros(BOMB)])


@pytest.fixture(scope="module")
def row_bomb_member() -> tuple[bytes, int, int]:
    """DEMO's header, then ~3 GiB of one valid row repeated, deflated."""
    header = "$".join(layouts.header_for("DEMO", 2020, 1)).encode() + b"\n"
    return _deflate([header, *_rows(BOMB)])


def bomb_zip(path: Path, member: tuple[bytes, int, int], lie: bool = False) -> Path:
    members = []
    for table in layouts.TABLES:
        if table == "DEMO":
            data, crc, size = member
            members.append((member_name(table, 2020, 1), data, crc, size, 50_000 if lie else size))
        else:
            data, crc, size = _deflate([table_bytes(table, 2020, 1, 5)])
            members.append((member_name(table, 2020, 1), data, crc, size, size))
    return write_members(path, members)


def ingest_measured(*args) -> tuple[subprocess.CompletedProcess, int]:
    """``pvmon ingest`` under /usr/bin/time -v: (result, peak RSS in kB)."""
    out = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "pv.cli", "ingest", *map(str, args)],
                         capture_output=True, text=True)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    out.stderr = "\n".join(ln for ln in out.stderr.splitlines() if ln.startswith("pvmon:"))
    return out, rss


def test_a_3gib_bomb_is_refused_by_its_ratio_with_one_line(tmp_path, bomb_member):
    data, _, size = bomb_member
    assert size == BOMB + len("$".join(layouts.header_for("DEMO", 2020, 1))) + 1 and len(data) < 4_000_000
    z = bomb_zip(tmp_path / "faers_ascii_2020q1.zip", bomb_member)
    out, rss = ingest_measured(z, "--home", tmp_path / "home")
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"pvmon: error: faers_ascii_2020q1.zip!ASCII/DEMO20Q1.txt: compression ratio over 100:1 ({len(data)} bytes "
        f"unpack to more than {size}; a zip bomb?) (limit --max-ratio)"]
    assert rss < RSS_BOUND_KB
    assert not list((tmp_path / "home").glob("staged/*/*"))


def test_a_bomb_that_lies_about_its_size_is_stopped_while_inflating(tmp_path, row_bomb_member):
    """The central directory says 50 kB: the inflate itself stops at 20x the compressed size
    (valid rows, parsed and staged as they come until then; nothing of it is committed)."""
    data, _, size = row_bomb_member
    assert size > BOMB and size / len(data) > 100
    z = bomb_zip(tmp_path / "faers_ascii_2020q1.zip", row_bomb_member, lie=True)
    out, rss = ingest_measured(z, "--home", tmp_path / "home", "--max-ratio", "20")
    assert out.returncode == 1
    (line,) = out.stderr.splitlines()
    stopped = re.fullmatch(r"pvmon: error: faers_ascii_2020q1.zip!ASCII/DEMO20Q1.txt: compression ratio over "
                           rf"20:1 \({len(data)} bytes unpack to more than (\d+); a zip bomb\?\) \(limit --max-ratio\)",
                           line)
    assert stopped and 20 * len(data) < int(stopped.group(1)) <= 20 * len(data) + (4 << 20)
    assert rss < RSS_BOUND_KB
    assert not list((tmp_path / "home").glob("staged/*/*")) and not list((tmp_path / "home").glob(".txn/*"))


def test_a_bomb_let_through_the_ratio_is_still_read_in_bounded_memory(tmp_path, bomb_member):
    """With --max-ratio raised, the 3 GiB member is streamed: its one endless line is refused
    by the reader after 16 MB, memory flat; with --max-member-bytes lowered, the size limit
    speaks first."""
    z = bomb_zip(tmp_path / "faers_ascii_2020q1.zip", bomb_member)
    out, rss = ingest_measured(z, "--home", tmp_path / "home", "--max-ratio", "5000")
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "pvmon: error: faers_ascii_2020q1.zip!ASCII/DEMO20Q1.txt: a line longer than 16777216 bytes "
        "(not a FAERS table)"]
    assert rss < RSS_BOUND_KB
    out, rss = ingest_measured(z, "--home", tmp_path / "home", "--max-ratio", "5000", "--max-member-bytes", GIB)
    assert out.stderr.splitlines() == [
        f"pvmon: error: faers_ascii_2020q1.zip!ASCII/DEMO20Q1.txt: unpacks to more than {GIB} bytes "
        "(limit --max-member-bytes)"]
    assert out.returncode == 1 and rss < RSS_BOUND_KB
