"""Read one FAERS table file (any era) into rows under the current column names.

The era and layout of a file are detected from its header line, never from the file
name or the quarter: FDA's headers are the only reliable witness (2012Q4 ships with
typos and a BOM, legacy files are upper case). Every era is mapped to the current names
(``layouts.current_name``); source columns with no current counterpart keep their own
lower-case name, so no source value is dropped. Values are kept as text exactly as
written, except that an empty field becomes null, one trailing ``\\r`` is removed and the
trailing legacy ``$`` is dropped.

Streaming and speed: a file is read as a stream of byte chunks (``Source``: the bytes, or
a function that opens the inflating zip member anew), cut into slices of ``SLICE_BYTES`` of
text at newlines, so memory stays flat whatever the file's size (rule ``member_bounds``;
a line longer than ``MAX_LINE_BYTES`` refuses the file). The common case is a slice whose
every line has the expected field count. That is proved without a Python loop: numpy
counts the slice's ``$`` and newlines, which must equal lines x separators-per-line;
polars then parses the slice with ``$`` as separator and a fixed schema (so a line with too
many fields raises, and with none above, none is below). Slices are handed on as they are
parsed (``TableRead.parts``), so the Parquet writer encodes one slice while the next is
inflated and parsed. Only a slice that fails the check has each line's field count
computed (``str.count_matches``) and its few bad lines handed to the Python repair rules
below; a slice never ends on a short line (the first half of a ``split_record``), so a
broken record is judged whole. Two file-wide rules can be proved wrong only late: a slice
that is not UTF-8 after UTF-8 slices were handed on (``latin1_fallback``), or a row without
the trailing ``$`` after slices read under ``rows_trailing_dollar``; then the reader says
"start again" (a ``None`` part) and reads the file again from the top under the rule.

Decoding rule ``latin1_fallback``: a file is parsed as UTF-8; if any byte sequence is not
valid UTF-8 the whole file is decoded as Latin-1 instead (faers-format.md: 2012Q3 legacy
DRUG is Latin-1, drug19q3 has undecodable bytes). Latin-1 maps every byte, so no file can
make the reader crash. The encoding used is recorded per file in the manifest. Only the
runs of non-ASCII bytes are looked at (a UTF-8 sequence never contains an ASCII byte, so
the text is valid UTF-8 exactly when each run is): FDA's files are ASCII but for a few
hundred bytes, and transcoding only those runs saves a pass over the whole file.

Line-accounting: every physical data line (header excluded) ends in exactly one of
``clean`` (staged as is), ``repaired`` (consumed by a repair rule; the rows it yields are
staged), ``quarantined`` (with line number, reason and raw bytes) or ``blank`` (only in
deleted-case lists: the lone-space first line FDA writes). ``lines_read`` is their sum.

Repair rules (each one unambiguous by construction; anything else is quarantined):

- ``two_records``: two records written on one line without the newline between them
  (FDA DRUG11Q2 line 322967, DRUG11Q3 line 247896, DRUG11Q4 line 446738). In files whose
  rows end with a ``$`` (legacy, 2012Q4) the line has 2n separators and the first record
  ends at the n-th one; the split is accepted when the second record starts with a
  numeric id, like the first. Without the trailing ``$`` the last value of the first
  record and the primaryid of the second are glued into one field; the split is made
  only where the second record's primaryid is its own caseid followed by 1-4 version
  digits (primaryid = caseid || caseversion, faers-format.md "Keys") and that position is
  unique. Both records are staged with the line's number.
- ``split_record``: a record broken in two by a newline inside a value (legacy DEMO): two
  consecutive lines that are both short and whose separator counts add up to exactly
  one record's are joined, the value keeping its newline (``\\n``). The row carries the
  first line's number; both lines count as repaired.
- ``rows_trailing_dollar`` (a reading rule, the lines count as clean): a file whose header
  has no trailing ``$`` but whose every row
  ends with one (one separator more per line than the header, on every line, and the last
  field always empty) is read as a trailing-``$`` file, like legacy and 2012Q4 files: the
  convention is the file's, not the era's (FDA's 2012Q4 header ends with ``$``, the
  simulator's FAERS rows do not), so it is recognised from the rows themselves.
- ``missing_trailing_dollar``: in a file whose rows end with ``$``, a line with every
  value but without that last ``$`` (and not the first half of a ``split_record``) is
  complete and unambiguous: staged, counted as repaired.
- A line with more separators than a record (for instance a ``$`` inside a value:
  DEMO12Q1 mfr_num ``JP-CUBIST-$E2B0000000182``) cannot be split without guessing which
  value owns the ``$``: quarantined with reason ``too many fields``.
- Any other line with a wrong field count, and empty lines inside a table: quarantined.
"""

from __future__ import annotations

import bisect
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator, Union

import numpy as np
import polars as pl

from pv.errors import PvError
from pv.faers import layouts

BOM = b"\xef\xbb\xbf"
DELETED = "DELETED"

# Table files: DEMO04Q1.TXT, demo12q4.txt, DEMO18Q1_new.txt (and the test heads' DEMO20Q3-10.txt).
TABLE_FILE_RE = re.compile(r"^(demo|drug|reac|outc|rpsr|ther|indi)(\d\d)q([1-4])[^/]*\.txt$", re.I)
# Deleted-case lists: ADR19Q1DeletedCases.txt, 21Q1DeletedCases.txt, DELETE26Q2.txt, AllDeletedCases.txt.
DELETED_FILE_RE = re.compile(r"delete.*\.txt$", re.I)
QUARTER_IN_NAME_RE = re.compile(r"(\d\d)q([1-4])", re.I)

STAGED_EXTRA = ("quarter", "era", "source_file", "source_line")


def classify_member(name: str) -> tuple[str, str | None] | None:
    """(table, quarter) of an extract member by its base name, or None to ignore it."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    m = TABLE_FILE_RE.match(base)
    if m:
        return m.group(1).upper(), f"20{m.group(2)}Q{m.group(3)}"
    if DELETED_FILE_RE.search(base):
        q = QUARTER_IN_NAME_RE.search(base)
        return DELETED, (f"20{q.group(1)}Q{q.group(2)}" if q else None)
    return None


def _norm(name: str) -> str:
    return layouts.FAERS_EARLY_TYPOS.get(name, name).strip().lower()


def _known_headers() -> dict[tuple[str, ...], list[tuple[str, str]]]:
    """Normalised header -> [(table, era)] for every layout FDA has shipped (OUTC, RPSR,
    THER and INDI kept one header from 2012Q4 on, so they match two eras)."""
    known: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    for table in layouts.TABLES:
        variants = {
            "laers": [layouts.LAERS[table]] + ([layouts.LAERS[table][:-1]] if table == "DEMO" else []),
            "faers_early": [layouts.FAERS_EARLY[table]],
            "faers": [layouts.CURRENT[table]],
        }
        for era, headers in variants.items():
            for header in headers:
                known.setdefault(tuple(_norm(c) for c in header), []).append((table, era))
    return known


KNOWN_HEADERS = _known_headers()


def staged_columns(table: str, source_names: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Output columns of ``table``: every current column, then extra source columns."""
    current = list(layouts.CURRENT[table])
    extra = [c for c in source_names if c not in current]
    return current + extra + list(STAGED_EXTRA)


@dataclass
class Header:
    table: str
    era: str
    names: list[str]  # current-era names, in source order
    trailing: bool  # data rows end with one extra empty field (a trailing `$`)


def detect_header(line: bytes, table_hint: str, where: str, quarter: str | None = None) -> Header:
    """Era and layout of a table file from its first line; PvError if unknown.

    When one header fits two eras (same layout), the extract's quarter names the era."""
    if line.startswith(BOM):
        line = line[len(BOM):]
    if line.endswith(b"\r"):
        line = line[:-1]
    text = line.decode("latin-1")
    if not text.strip():
        raise PvError(f"{where}: empty header line")
    if "$" not in text:
        seen = [name for sep, name in (("\t", "tab"), (",", "','"), ("|", "'|'"), (";", "';'")) if sep in text]
        found = f" (found {seen[0]})" if seen else ""
        raise PvError(f"{where}: wrong delimiter{found}: FAERS files are '$'-separated")
    names = text.split("$")
    trailing_header = names[-1] == ""
    if trailing_header:
        names = names[:-1]
    hits = KNOWN_HEADERS.get(tuple(_norm(n) for n in names))
    if hits is None:
        raise PvError(f"{where}: unknown header {text[:80]!r}")
    table, era = hits[-1]
    if quarter is not None and len(hits) > 1:
        by_quarter = layouts.era_of_quarter(*layouts.parse_quarter(quarter))
        era = next((e for _, e in hits if e == by_quarter), era)
    if table != table_hint:
        raise PvError(f"{where}: header is a {table} header but the file name says {table_hint}")
    return Header(
        table=table,
        era=era,
        names=[layouts.current_name(table, n) for n in names],
        trailing=era == "laers" or trailing_header,
    )


@dataclass
class TableRead:
    """One source file read: staged rows, quarantined lines and the line accounting.

    From ``open_table`` the rows come as ``parts``, produced while they are consumed; the
    counts and ``quarantine`` are final once ``parts`` is exhausted. A ``None`` part means
    the parts before it are void (the reader starts again on the slow path)."""

    table: str
    quarter: str
    source_file: str
    era: str | None
    encoding: str
    frame: pl.DataFrame
    quarantine: pl.DataFrame
    lines_read: int = 0
    lines_clean: int = 0
    lines_repaired: int = 0
    lines_quarantined: int = 0
    lines_blank: int = 0
    rows_staged: int = 0
    repairs: list[tuple[int, str, int]] = field(default_factory=list)  # (line, rule, rows)
    parts: Iterator[pl.DataFrame | None] = field(default_factory=lambda: iter(()))

    def balanced(self) -> bool:
        return self.lines_read == (
            self.lines_clean + self.lines_repaired + self.lines_quarantined + self.lines_blank
        )


QUARANTINE_SCHEMA = {
    "quarter": pl.String,
    "table": pl.String,
    "source_file": pl.String,
    "line": pl.Int64,
    "reason": pl.String,
    "raw": pl.Binary,
}


SLICE_BYTES = 16 << 20  # text parsed and handed on at a time (under glibc's 32 MB mmap ceiling: reused, not faulted in anew)
RUN_LIMIT = 100_000  # more runs of non-ASCII bytes than this: whole-text decode instead
ASCII_BLOCK = 1 << 16  # bytes screened at a time for non-ASCII bytes


def _read_fields(body: bytes, width: int, ragged: bool, first_line: int = 2) -> pl.DataFrame:
    """Fields f0..f{width-1} and ``source_line`` (``body``'s first line is ``first_line``):
    the line number is made by the parser, chunk by chunk, so adding it copies nothing.
    The parser drops a BOM that starts its input: one that starts a data line is put back."""
    bom = body.startswith(BOM)
    fields = pl.read_csv(
        (body[len(BOM):] or b"\n") if bom else body,  # a lone BOM is still a line
        row_index_name="source_line",
        row_index_offset=first_line,
        has_header=False,
        separator="$",
        quote_char=None,
        schema={f"f{i}": pl.String for i in range(width)},
        truncate_ragged_lines=ragged,
        extra_columns="ignore" if ragged else "raise",
        missing_columns="insert" if ragged else "raise",
        raise_if_empty=False,
        encoding="utf8",
    ).with_columns(pl.col("source_line").cast(pl.Int64))
    if bom:
        fields = fields.with_columns(pl.when(pl.col("source_line") == first_line)
                                     .then(pl.lit("\ufeff") + pl.col("f0").fill_null(""))
                                     .otherwise(pl.col("f0")).alias("f0"))
    return fields


def _read_lines(body: bytes) -> pl.Series:
    """Every physical line of ``body`` as text (one trailing \\r removed), in order."""
    sep = next((chr(b) for b in range(1, 32) if b not in (9, 10, 13) and bytes([b]) not in body), None)
    if sep is None:  # every control byte occurs: split in Python (never seen in FDA files)
        lines = body.decode("utf-8").split("\n")
        if body.endswith(b"\n"):
            lines.pop()
        return pl.Series("line", [ln[:-1] if ln.endswith("\r") else ln for ln in lines], pl.String)
    bom = body.startswith(BOM)  # dropped by the parser: put back on the first line
    frame = pl.read_csv(
        (body[len(BOM):] or b"\n") if bom else body, has_header=False, separator=sep, quote_char=None,
        schema={"line": pl.String}, raise_if_empty=False, encoding="utf8",
    )
    lines = frame["line"].fill_null("")
    return lines.scatter(0, "\ufeff" + lines[0]) if bom and lines.len() else lines


def _high_runs(data: bytes) -> list[tuple[int, int]] | None:
    """[lo, hi) of every run of non-ASCII bytes; None if there are more
    than RUN_LIMIT (then a whole-text decode is cheaper than a loop over the runs). Blocks
    are screened with ``bytes.isascii`` (memory speed); numpy looks inside the few others."""
    found = []
    for lo in range(0, len(data), ASCII_BLOCK):
        block = data[lo:lo + ASCII_BLOCK]
        if not block.isascii():
            found.append(np.flatnonzero(np.frombuffer(block, np.uint8) >= 0x80) + lo)
    if not found:
        return []
    at = np.concatenate(found)
    cut = np.flatnonzero(np.diff(at) != 1) + 1
    if cut.size >= RUN_LIMIT:
        return None
    lo = at[np.concatenate(([0], cut))]
    hi = at[np.concatenate((cut - 1, [at.size - 1]))] + 1
    return list(zip(lo.tolist(), hi.tolist()))


@dataclass
class _Encoding:
    """How a file's bytes become the UTF-8 text the parser reads (rule ``latin1_fallback``)."""

    name: str  # utf-8 | latin-1
    runs: list[tuple[int, int]] | None  # Latin-1: the non-ASCII runs (None: all of it)

    def text(self, data: bytes, lo: int, hi: int) -> bytes:
        """UTF-8 text of ``data[lo:hi]``; [lo, hi) never cuts a run (it ends at a newline)."""
        if self.name == "utf-8":
            return data[lo:hi]
        if self.runs is None:
            return data[lo:hi].decode("latin-1").encode("utf-8")
        view, pieces = memoryview(data), []
        first = bisect.bisect_left(self.runs, (lo, lo))
        for r_lo, r_hi in self.runs[first:bisect.bisect_left(self.runs, (hi, hi), first)]:
            pieces += [view[lo:r_lo], data[r_lo:r_hi].decode("latin-1").encode("utf-8")]
            lo = r_hi
        pieces.append(view[lo:hi])
        return b"".join(pieces)


def _encoding(data: bytes) -> _Encoding:
    """UTF-8 when ``data`` is valid UTF-8, else Latin-1 (rule ``latin1_fallback``)."""
    if data.isascii():  # the common case, checked at memory speed
        return _Encoding("utf-8", [])
    runs = _high_runs(data)
    try:
        if runs is None:
            str(data, "utf-8")
        else:
            for lo, hi in runs:
                data[lo:hi].decode("utf-8")
        return _Encoding("utf-8", [])
    except UnicodeDecodeError:
        return _Encoding("latin-1", runs)


@dataclass
class _Slice:
    first_line: int  # physical line number of its first line
    lines: int


# A source is the file's bytes, or a function that opens it anew as a stream of byte
# chunks (``pv.faers.extract.Extract.opener``): a restart reads it again from the top.
Source = Union[bytes, Callable[[], Iterator[bytes]]]
MAX_LINE_BYTES = 16 << 20  # a longer line refuses the file (FAERS lines are a few kB): memory stays bounded
KEEP_TOGETHER = 64  # at most this many short lines carried over a slice boundary (rule split_record)
DELETED_MAX_BYTES = 512 << 20  # deleted-case lists are read whole (FDA's all-history list is ~3 MB)
# Rule ``broken_lines_cap``: quarantined and repaired lines are kept in memory until the file
# ends; FDA's files have a handful each (faers-format.md), so a file with more than this many
# is not a FAERS table (or is hostile) and is refused whole, with one line, memory bounded.
# Tested: tests/test_faers_reader.py (test_a_file_of_broken_lines_is_refused_...).
BROKEN_LINES_MAX = 200_000


def _chunks(source: Source) -> Iterator[bytes]:
    return iter((source,)) if isinstance(source, (bytes, bytearray)) else source()


def _whole(source: Source, limit: int, where: str) -> bytes:
    """All of a small file's bytes (deleted-case lists), refusing more than ``limit``."""
    out, size = [], 0
    for chunk in _chunks(source):
        size += len(chunk)
        if size > limit:
            raise PvError(f"{where}: more than {limit} bytes (a deleted-case list is a few MB)")
        out.append(chunk)
    return b"".join(out)


def _fill(chunks: Iterator[bytes], buf: bytearray) -> bool:
    """Append the next chunk to ``buf``; False at the end of the stream."""
    for chunk in chunks:
        if chunk:
            buf += chunk
            return True
    return False


def _check_line_length(buf: bytearray, where: str) -> None:
    if len(buf) - (buf.rfind(b"\n") + 1) > MAX_LINE_BYTES:
        raise PvError(f"{where}: a line longer than {MAX_LINE_BYTES} bytes (not a FAERS table)")


def _header_line(chunks: Iterator[bytes], buf: bytearray, where: str) -> bytes:
    """Take the first line (without its newline) off the stream; the rest stays in ``buf``."""
    more = True
    while (nl := buf.find(b"\n")) < 0 and more:
        _check_line_length(buf, where)
        more = _fill(chunks, buf)
    if nl < 0:
        nl = len(buf)
    line = bytes(buf[:nl])
    del buf[:nl + 1]
    if not line.strip():  # an empty file, or an empty first line
        rest = bool(buf.strip())
        while not rest and _fill(chunks, buf):
            rest = bool(buf.strip())
            del buf[:-1]
        if not rest:
            raise PvError(f"{where}: empty file")
    return line


def _cut(buf: bytearray, size: int, short: Callable[[bytes], bool], final: bool = False) -> int:
    """Where to end the next slice: after the first newline at or past ``size - 1``, moved on
    while the slice's last line is short (it may be the first half of a ``split_record``,
    whose second half must be in the same slice) or the next line starts with a BOM (the
    parser drops a BOM that starts its input, not one inside it); -1 if ``buf`` does not
    hold that yet (``final``: nothing more will come)."""
    nl = buf.find(b"\n", size - 1)
    for _ in range(KEEP_TOGETHER):
        if nl < 0:
            break
        after = bytes(buf[nl + 1:nl + 1 + len(BOM)])
        if not final and len(after) < len(BOM) and BOM.startswith(after):
            return -1
        if not short(buf[buf.rfind(b"\n", 0, nl) + 1:nl]) and after != BOM:
            break
        nl = buf.find(b"\n", nl + 1)
    return nl + 1 if nl >= 0 else -1


def _body_slices(chunks: Iterator[bytes], buf: bytearray, size: int, short: Callable[[bytes], bool],
                 where: str) -> Iterator[bytes]:
    """The body as slices of about ``size`` bytes ending at newlines (the last one may not),
    from a stream: no more than a slice and a line is ever buffered."""
    more = True
    while True:
        while more and (len(buf) < size or (cut := _cut(buf, size, short)) < 0):
            _check_line_length(buf, where)
            more = _fill(chunks, buf)
        if not more:
            cut = _cut(buf, size, short, final=True) if len(buf) >= size else -1
            if cut < 0:
                if buf:
                    yield bytes(buf)
                return
        yield bytes(memoryview(buf)[:cut])
        del buf[:cut]


class _Counter:
    """(lines, `$` separators) of a slice, counted by numpy into one reused scratch buffer
    (no Python loop over lines, no slice-sized array allocated per count)."""

    def __init__(self) -> None:
        self.scratch = np.empty(0, bool)

    def __call__(self, raw: bytes) -> tuple[int, int]:
        arr = np.frombuffer(raw, np.uint8)
        if len(arr) > len(self.scratch):
            self.scratch = np.empty(len(arr), bool)
        hit = self.scratch[:len(arr)]
        lines = int(np.count_nonzero(np.equal(arr, 10, out=hit))) + (0 if raw.endswith(b"\n") else 1)
        return lines, int(np.count_nonzero(np.equal(arr, 36, out=hit)))


def read_table(data: Source, table: str, quarter: str, source_file: str) -> TableRead:
    """Parse one table file (header + `$`-separated rows) into staged rows and quarantine,
    all in memory (``frame``)."""
    read = open_table(data, table, quarter, source_file)
    frames: list[pl.DataFrame] = []
    for part in read.parts:
        if part is None:
            frames.clear()
        else:
            frames.append(part)
    if frames:
        read.frame = pl.concat(frames)
    return read


@dataclass
class _Plan:
    """What a reading pass assumes; a pass that finds it wrong starts again with a new one."""

    latin1: bool = False  # rule latin1_fallback, once a slice proved the file is not UTF-8
    trailing: bool | None = None  # rule rows_trailing_dollar: None while the rows may all end in `$`


def open_table(source: Source, table: str, quarter: str, source_file: str) -> TableRead:
    """Start reading one table file: header and era now, the rows as ``parts`` (lazily),
    streamed from ``source`` slice by slice."""
    if table == DELETED:
        read = read_deleted(_whole(source, DELETED_MAX_BYTES, source_file), quarter, source_file)
        read.parts = iter([read.frame])
        return read
    chunks, buf = _chunks(source), bytearray()
    header = detect_header(_header_line(chunks, buf, source_file), table, source_file, quarter)
    result = TableRead(
        table=table, quarter=quarter, source_file=source_file, era=header.era,
        encoding="utf-8", frame=pl.DataFrame(), quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
    )

    def parts() -> Iterator[pl.DataFrame | None]:
        nonlocal chunks, buf
        plan = _Plan(trailing=False if header.trailing else None)
        while True:
            plan = yield from _read_pass(result, chunks, buf, header, plan)
            if plan is None:
                return
            yield None  # the parts so far are void: read again from the top
            chunks, buf = _chunks(source), bytearray()
            _header_line(chunks, buf, source_file)

    result.parts = parts()
    return result


def _read_pass(result: TableRead, chunks: Iterator[bytes], buf: bytearray, header: Header, plan: _Plan):
    """Read the body once under ``plan``, yielding each slice's rows; returns None when done,
    or the plan to start again with. A slice whose every line has the right field count is
    parsed as is (fast path); any other slice goes line by line through the repair rules."""
    for name in ("lines_read", "lines_clean", "lines_repaired", "lines_quarantined", "lines_blank", "rows_staged"):
        setattr(result, name, 0)
    result.repairs = []
    quarantined: list[pl.DataFrame] = []
    n = len(header.names)
    seps = n if header.trailing else n - 1  # separators per clean line
    trail = Header(header.table, header.era, header.names, trailing=True)
    trailing, latin1, utf8_seen, trailing_seen = plan.trailing, plan.latin1, False, False
    line, count = 2, _Counter()
    for raw in _body_slices(chunks, buf, SLICE_BYTES, lambda ln: ln.count(b"$") < seps, result.source_file):
        lines, dollars = count(raw)
        if raw.isascii():
            text = raw
        elif latin1:
            text = _Encoding("latin-1", _high_runs(raw)).text(raw, 0, len(raw))
        else:
            encoding = _encoding(raw)
            if encoding.name == "utf-8":
                text, utf8_seen = raw, True
            elif utf8_seen:  # earlier slices were handed on as UTF-8: read them again as Latin-1
                return _Plan(latin1=True, trailing=plan.trailing)
            else:
                text, latin1 = encoding.text(raw, 0, len(raw)), True
        s = _Slice(line, lines)
        fields, used = None, header
        if trailing is None and dollars == (seps + 1) * lines:  # rule rows_trailing_dollar (so far)
            fields = _clean_slice(text, s, trail, seps + 1)
            if fields is not None:
                used, trailing_seen = trail, True
        if fields is None and trailing is None:
            if trailing_seen:
                return _Plan(latin1=latin1, trailing=False)
            trailing, used = False, header
        if fields is None and dollars == seps * lines:
            fields = _clean_slice(text, s, header, seps)
        if fields is not None:
            result.lines_clean += lines
            frame = _finish(fields, [], used, result.quarter, result.source_file)
        else:
            good, repaired, bad = _slow_path(result, text, raw, header, seps + 1, line, lines)
            frame = _finish(good, repaired, header, result.quarter, result.source_file)
            if bad is not None:
                quarantined.append(bad)
        result.lines_read += lines
        result.rows_staged += frame.height
        line += lines
        if result.lines_quarantined + result.lines_repaired > BROKEN_LINES_MAX:
            raise PvError(f"{result.source_file}: more than {BROKEN_LINES_MAX} broken lines by line {line - 1} "
                          "(not a FAERS table?)")
        yield frame
    if line == 2:  # a header-only file still has its columns
        yield _finish(_read_fields(b"", n, False), [], header, result.quarter, result.source_file)
    result.encoding = "latin-1" if latin1 else "utf-8"
    if quarantined:
        result.quarantine = pl.concat(quarantined)
    assert result.balanced(), "line accounting does not balance"
    return None


def _clean_slice(body: bytes, s: _Slice, header: Header, seps: int) -> pl.DataFrame | None:
    """The slice's fields, or None if a line has a wrong field count after all."""
    n = len(header.names)
    try:
        fields = _read_fields(body, seps + 1, ragged=False, first_line=s.first_line)
    except pl.exceptions.PolarsError:  # a line with too many fields
        return None
    if fields.height != s.lines or (
        header.trailing and fields.get_column(f"f{seps}").null_count() != fields.height
    ):
        return None
    return fields.select([f"f{i}" for i in range(n)] + ["source_line"])


def read_ahead(parts: Iterator, depth: int = 1) -> Iterator:
    """``parts`` produced in a helper thread ``depth`` items ahead of the consumer, so
    parsing the next slice overlaps with writing this one (both release the GIL)."""
    done = object()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = [pool.submit(next, parts, done) for _ in range(depth)]
        while True:
            item = pending.pop(0).result()
            if item is done:
                return
            pending.append(pool.submit(next, parts, done))
            yield item


def _slow_path(result: TableRead, text_body: bytes, raw_body: bytes, header: Header, width: int,
               first_line: int, n_lines: int):
    """Per-line field counts of one slice; clean lines staged, the rest through the repair
    rules. Returns (clean rows, repaired rows, quarantined lines or None)."""
    n = len(header.names)
    seps = width - 1
    lines = _read_lines(text_body)
    if lines.len() != n_lines:
        raise PvError(f"{result.source_file}: could not split the file into lines")
    counts = lines.str.count_matches("$", literal=True)
    ok = counts == seps
    if header.trailing:
        ok = ok & lines.str.ends_with("$")
    fields = _read_fields(text_body, width, ragged=True, first_line=first_line)
    good = (
        fields.filter(ok)
        .select([f"f{i}" for i in range(n)] + ["source_line"])
    )
    result.lines_clean += good.height
    bad_idx = (~ok).arg_true().to_list()
    bad_text = lines.gather(bad_idx).to_list()
    bad_count = counts.gather(bad_idx).to_list()
    raw_lines = raw_body.split(b"\n")
    repaired: list[tuple[int, list[str]]] = []
    quarantined: list[tuple[int, str, bytes]] = []
    by_index = {i: (t, c) for i, t, c in zip(bad_idx, bad_text, bad_count)}
    consumed: set[int] = set()
    for i in bad_idx:
        if i in consumed:
            continue
        text, count = by_index[i]
        line_no = i + first_line
        rows, rule, used = _repair(i, text, count, by_index, header, seps)
        if rows:
            consumed.update(used)
            repaired.extend((line_no, r) for r in rows)
            result.lines_repaired += len(used)
            result.repairs.append((line_no, rule, len(rows)))
        else:
            raw = raw_lines[i]
            quarantined.append((line_no, rule, raw))
            result.lines_quarantined += 1
    bad = None
    if quarantined:
        bad = pl.DataFrame(
            {
                "quarter": [result.quarter] * len(quarantined),
                "table": [result.table.lower()] * len(quarantined),
                "source_file": [result.source_file] * len(quarantined),
                "line": [q[0] for q in quarantined],
                "reason": [q[1] for q in quarantined],
                "raw": [q[2] for q in quarantined],
            },
            schema=QUARANTINE_SCHEMA,
        )
    return good, repaired, bad


def _is_id(value: str) -> bool:
    return value.isdigit()


def _repair(i, text, count, bad, header: Header, seps: int):
    """Apply the repair rules to bad line ``i``: (rows, rule-or-reason, lines used)."""
    n = len(header.names)
    if not text.strip():
        return [], "empty line", {i}
    if count < seps:
        nxt = bad.get(i + 1)
        if nxt is not None and nxt[1] < seps and count + nxt[1] == seps:
            joined = text + "\n" + nxt[0]
            if not header.trailing or joined.endswith("$"):
                return [joined.split("$")[:n]], "split_record", {i, i + 1}
        if header.trailing and count == seps - 1 and not text.endswith("$"):
            return [text.split("$")], "missing_trailing_dollar", {i}
        return [], f"too few fields ({count + 1}, expected {seps + 1})", {i}
    if count == seps:  # right count, but a trailing-`$` file whose last field is not empty
        return [], "last field not empty (a '$' inside a value?)", {i}
    parts = text.split("$")
    if header.trailing and count == 2 * seps and text.endswith("$"):
        first, second = parts[:n], parts[n:2 * n]
        if _is_id(first[0]) and _is_id(second[0]):
            return [first, second], "two_records", {i}
    if not header.trailing and count == 2 * seps and "caseid" in header.names:
        glued = parts[n - 1]
        second_caseid = parts[n]
        cuts = [
            m.start() for m in re.finditer(re.escape(second_caseid), glued)
            if second_caseid and re.fullmatch(r"\d{1,4}", glued[m.end():])
        ]
        if len(cuts) == 1 and _is_id(parts[0]) and _is_id(second_caseid):
            cut = cuts[0]
            first = parts[: n - 1] + [glued[:cut]]
            second = [glued[cut:]] + parts[n:]
            return [first, second], "two_records", {i}
    return [], f"too many fields ({count + 1}, expected {seps + 1})", {i}


def _finish(good: pl.DataFrame, repaired_rows, header: Header, quarter: str, source_file: str) -> pl.DataFrame:
    """Rename to current names, add the missing current columns and the provenance columns."""
    n = len(header.names)
    src = [f"f{i}" for i in range(n)]
    if repaired_rows:
        extra = pl.DataFrame(
            {
                **{c: [(r[k] if r[k] != "" else None) for _, r in repaired_rows] for k, c in enumerate(src)},
                "source_line": [line for line, _ in repaired_rows],
            },
            schema={**{c: pl.String for c in src}, "source_line": pl.Int64},
        )
        good = pl.concat([good, extra]).sort("source_line", maintain_order=True)
    good = good.rename(dict(zip(src, header.names)))
    columns = staged_columns(header.table, header.names)
    return good.select(
        [
            pl.col(c) if c in header.names else pl.lit(None, pl.String).alias(c)
            for c in columns if c not in STAGED_EXTRA
        ]
        + [
            # one value per file: an Enum costs nothing per row (the lake writes it as text)
            pl.lit(quarter, pl.Enum([quarter])).alias("quarter"),
            pl.lit(header.era, pl.Enum([header.era])).alias("era"),
            pl.lit(source_file, pl.Enum([source_file])).alias("source_file"),
            pl.col("source_line"),
        ]
    )


DELETED_SCHEMA = {"caseid": pl.String, "quarter": pl.String, "source_file": pl.String, "source_line": pl.Int64}


def read_deleted(data: bytes, quarter: str, source_file: str) -> TableRead:
    """A deleted-case list: no header, one caseid per line (rule ``deleted_blank_line``:
    whitespace-only lines, like the lone space FDA writes first, are counted as blank)."""
    if data.startswith(BOM):
        data = data[len(BOM):]
    encoding = _encoding(data)
    lines = _read_lines(encoding.text(data, 0, len(data)))
    stripped = lines.str.strip_chars()
    frame = pl.DataFrame({"raw_text": lines, "caseid": stripped}).with_columns(
        source_line=pl.int_range(1, lines.len() + 1, dtype=pl.Int64)
    )
    blank = frame["caseid"] == ""
    is_id = frame["caseid"].str.contains(r"^\d+$")
    good = frame.filter(is_id)
    bad = frame.filter(~is_id & ~blank)
    raw_lines = data.split(b"\n")
    quarantine = pl.DataFrame(
        {
            "quarter": [quarter] * bad.height,
            "table": ["deleted"] * bad.height,
            "source_file": [source_file] * bad.height,
            "line": bad["source_line"],
            "reason": ["not a caseid"] * bad.height,
            "raw": [raw_lines[i - 1] for i in bad["source_line"].to_list()],
        },
        schema=QUARANTINE_SCHEMA,
    )
    staged = good.select(
        "caseid",
        pl.lit(quarter, pl.String).alias("quarter"),
        pl.lit(source_file, pl.String).alias("source_file"),
        "source_line",
    )
    return TableRead(
        table=DELETED, quarter=quarter, source_file=source_file, era=None, encoding=encoding.name,
        frame=staged, quarantine=quarantine, lines_read=lines.len(), lines_clean=good.height,
        lines_quarantined=bad.height, lines_blank=int(blank.sum()), rows_staged=staged.height,
    )
