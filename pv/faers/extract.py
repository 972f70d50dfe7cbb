"""Find FAERS quarterly extracts in what a user points at: zips, folders, loose files.

An *extract* is one quarter's set of table files (plus its deleted-case lists), from one
FDA zip or from a folder of extracted files. It is the unit the lake replaces atomically.
Files are recognised by name (faers-format.md, "Inside the zip"); everything else in a
zip (PDFs, STAT/SIZE files, Thumbs.db) is ignored. A bad zip is rejected whole, before
anything is read, with a one-line reason: a folder may hold good and bad zips side by side
and the good ones must still go in.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from isal import isal_zlib

from pv.errors import PvError
from pv.faers import layouts
from pv.faers.reader import DELETED, classify_member

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Rule ``simulated_marker``: `pvmon simulate` writes SIMULATED_COMMENT and a digest of the
# zip's member list (names, CRC-32s, sizes) as the archive comment (FDA's zips carry none),
# so a store always knows which quarters are simulated, even after the zips are moved. The
# digest is keyed with MARKER_KEY (a constant, not a secret: it tells pvmon's own marker from
# an accident, not from a forger). A comment that starts like the marker but does not verify
# (a zip cut short loses the end of its comment first) is refused: a damaged simulated zip
# must never pass as FDA data. The bare marker of older pvmon still reads as simulated.
# Tested: tests/test_ingest_integrity.py (test_a_truncated_or_tampered_simulated_zip_...).
SIMULATED_COMMENT = b"pvmon simulated FAERS extract: not FDA data"
MARKER_KEY = b"pvmon simulated-extract marker v1"
MARKER_CLAIM = b"pvmon"  # any comment starting so claims to be the marker


@dataclass(frozen=True)
class Member:
    table: str  # DEMO ... INDI, or DELETED
    name: str  # path inside the zip, or the file's path
    source_file: str  # provenance written on every staged row: "zip!member" or the path


@dataclass(frozen=True)
class Limits:
    """Rule ``member_bounds``: what one extract member may unpack to, so a zip bomb (3 GiB of
    zeros in a 3 MB zip) is refused with one line instead of exhausting memory or disk.

    FDA's largest members so far are a few hundred MB of text (2025 DRUG ~200 MB) and their
    deflate ratio is ~4-10:1 (text of codes and names); 8 GiB and 100:1 leave room for
    decades of growth while a bomb (ratio ~1000:1) is refused after ``ratio_floor`` bytes.
    The ratio is not applied below ``ratio_floor`` (a tiny member of blanks may compress
    well). Users change them with ``pvmon ingest --max-member-bytes / --max-ratio``.
    Tested: tests/test_ingest_bounds.py (real 3 GiB zip bombs, honest and lying, peak RSS)."""

    max_member_bytes: int = 8 << 30
    max_ratio: float = 100.0
    ratio_floor: int = 16 << 20

    def allowed(self, compressed: int) -> int:
        return min(self.max_member_bytes, max(int(self.max_ratio * compressed), self.ratio_floor))

    def refuse(self, where: str, size: int, compressed: int | None) -> PvError:
        if size > self.max_member_bytes or compressed is None:
            return PvError(f"{where}: unpacks to more than {self.max_member_bytes} bytes "
                           f"(limit --max-member-bytes)")
        return PvError(f"{where}: compression ratio over {self.max_ratio:g}:1 ({compressed} bytes unpack to "
                       f"more than {size}; a zip bomb?) (limit --max-ratio)")


INFLATE_IN = 1 << 20  # compressed bytes read at a time
INFLATE_OUT = 4 << 20  # text handed on at a time (the reader cuts it into slices)


@dataclass(frozen=True)
class Extract:
    quarter: str
    source: str  # the zip or folder, for people
    source_sha256: str  # identity: the same bytes are never ingested twice
    source_bytes: int
    members: tuple[Member, ...]
    zip_path: Path | None = None
    simulated: bool = False  # written by `pvmon simulate` (see SIMULATED_COMMENT)
    limits: Limits = Limits()

    def opener(self, member: Member) -> Callable[[], Iterator[bytes]]:
        """A function that streams the member's bytes (inflated, bounded by ``limits``)."""
        return lambda: self.stream(member)

    def stream(self, member: Member) -> Iterator[bytes]:
        """The member's bytes in pieces: memory stays flat whatever the member's size."""
        if self.zip_path is None:
            yield from _read_file(Path(member.name), self.limits, member.source_file)
            return
        try:
            with zipfile.ZipFile(self.zip_path) as zf:
                info = zf.getinfo(member.name)
            if info.file_size > self.limits.allowed(info.compress_size):
                raise self.limits.refuse(member.source_file, info.file_size, info.compress_size)
            if info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 0x1:
                yield from _inflate(self.zip_path, info, self.limits, member.source_file)
            else:
                yield from _unpack(self.zip_path, info, self.limits, member.source_file)
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError,
                isal_zlib.IsalError) as err:
            raise PvError(f"{member.source_file}: corrupt zip member ({err})") from err


def _read_file(path: Path, limits: Limits, where: str) -> Iterator[bytes]:
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(INFLATE_OUT):
            size += len(chunk)
            if size > limits.max_member_bytes:
                raise limits.refuse(where, size, None)
            yield chunk


def _unpack(path: Path, info: zipfile.ZipInfo, limits: Limits, where: str) -> Iterator[bytes]:
    """A member zipfile must unpack (stored, bzip2, lzma), streamed and bounded."""
    allowed, size = limits.allowed(info.compress_size), 0
    with zipfile.ZipFile(path) as zf, zf.open(info) as fh:
        while chunk := fh.read(INFLATE_OUT):
            size += len(chunk)
            if size > allowed:
                raise limits.refuse(where, size, info.compress_size)
            yield chunk


def _inflate(path: Path, info: zipfile.ZipInfo, limits: Limits, where: str) -> Iterator[bytes]:
    """Inflate one deflated member with ISA-L (~2.5x faster than zlib on FDA's zips, and
    it releases the GIL), a piece at a time: never more than ``INFLATE_OUT`` bytes of output
    per call, stopped as soon as the output passes the member's limit; size and CRC-32
    checked at the end as zipfile would."""
    allowed = limits.allowed(info.compress_size)
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile("bad local file header")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        inflater = isal_zlib.decompressobj(-15)
        left, size, crc = info.compress_size, 0, 0
        while left and not inflater.eof:
            piece = fh.read(min(INFLATE_IN, left))
            if not piece:
                raise zipfile.BadZipFile("member data cut short")
            left -= len(piece)
            while piece:
                out = inflater.decompress(piece, INFLATE_OUT)
                piece = inflater.unconsumed_tail
                size += len(out)
                if size > allowed:
                    raise limits.refuse(where, size, info.compress_size)
                crc = isal_zlib.crc32(out, crc)
                if out:
                    yield out
                if inflater.eof:
                    break
    if not inflater.eof or size != info.file_size or crc != info.CRC:
        raise zipfile.BadZipFile("bad CRC-32 or size")


def simulated_marker(entries: list[tuple[str, int, int, int]]) -> bytes:
    """The archive comment of a simulated zip: marker and keyed digest of (name, crc, size,
    compressed size) of every member, in order."""
    text = "".join(f"{name}\0{crc}\0{size}\0{csize}\n" for name, crc, size, csize in entries).encode()
    return SIMULATED_COMMENT + b"; digest " + hmac.new(MARKER_KEY, text, "sha256").hexdigest().encode()


def is_simulated(zf: zipfile.ZipFile, where: str) -> bool:
    """Rule ``simulated_marker``: True for a verified marker, False for no marker; PvError for
    a comment that claims to be the marker and fails the check."""
    comment = zf.comment
    if not comment.startswith(MARKER_CLAIM) and not (comment and MARKER_CLAIM.startswith(comment)):
        return False
    if comment == SIMULATED_COMMENT:
        return True  # written by pvmon before the digest
    entries = [(i.filename, i.CRC, i.file_size, i.compress_size) for i in zf.infolist()]
    if not hmac.compare_digest(comment, simulated_marker(entries)):
        raise PvError(f"{where}: its comment claims a pvmon simulated extract but the marker does not verify "
                      "(a damaged or truncated simulated zip?)")
    return True


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def check_zip_bytes(head: bytes, where: str) -> None:
    """Reject what is not a zip by its first bytes (FDA can answer 200 with an HTML page)."""
    if not head:
        raise PvError(f"{where}: empty file")
    if head.startswith(ZIP_MAGIC):
        return
    if b"<html" in head.lower() or b"<!doctype" in head.lower():
        raise PvError(f"{where}: an HTML page, not a zip")
    raise PvError(f"{where}: not a zip file")


def _unsafe(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":")


def _pick(table: str, members: list[Member], where: str) -> Member:
    """One file per table; 2018Q1's ``_new`` file wins over an older twin."""
    if len(members) == 1:
        return members[0]
    newer = [m for m in members if "_new" in m.name.lower()]
    if len(newer) == 1:
        return newer[0]
    raise PvError(f"{where}: several {table} files ({', '.join(sorted(m.name for m in members))})")


def _assemble(quarter_members: dict[str, list[tuple[str, Member]]], undated: list[Member], where: str):
    """Group members by quarter, check every table is present."""
    if not quarter_members:
        raise PvError(f"{where}: no FAERS table files found")
    if undated and len(quarter_members) != 1:
        raise PvError(f"{where}: a deleted-case list without a quarter among several quarters")
    out = {}
    for quarter, items in quarter_members.items():
        by_table: dict[str, list[Member]] = defaultdict(list)
        for table, m in items:
            by_table[table].append(m)
        missing = [t for t in layouts.TABLES if t not in by_table]
        if missing:
            raise PvError(f"{where}: {quarter} is missing tables {', '.join(missing)}")
        chosen = [_pick(t, by_table[t], where) for t in layouts.TABLES]
        deleted = sorted(by_table.get(DELETED, []) + (undated if len(quarter_members) == 1 else []),
                         key=lambda m: m.name)
        out[quarter] = tuple(chosen + deleted)
    return out


def open_zip(path: Path, limits: Limits = Limits()) -> Extract:
    """Check a zip and list its FAERS members; PvError with the reason if unusable."""
    where = path.name
    with open(path, "rb") as fh:
        check_zip_bytes(fh.read(512), where)
    try:
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
            simulated = is_simulated(zf, where)
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise PvError(f"{where}: truncated or corrupt zip ({err})") from err
    unsafe = [n for n in names if _unsafe(n)]
    if unsafe:
        raise PvError(f"{where}: unsafe member path {unsafe[0]!r}")
    groups: dict[str, list[tuple[str, Member]]] = defaultdict(list)
    undated: list[Member] = []
    for name in names:
        kind = classify_member(name)
        if kind is None:
            continue
        table, quarter = kind
        member = Member(table, name, f"{path.name}!{name}")
        if table == DELETED:
            undated.append(member)  # a list belongs to the quarter it ships with
        else:
            groups[quarter].append((table, member))
    if len(groups) > 1:
        raise PvError(f"{where}: tables of several quarters ({', '.join(sorted(groups))})")
    (quarter, members), = _assemble(groups, undated, where).items()
    return Extract(quarter, str(path), sha256_file(path), path.stat().st_size, members, zip_path=path,
                   simulated=simulated, limits=limits)


def _loose_extracts(folder: Path, files: list[Path], limits: Limits) -> list[Extract]:
    groups: dict[str, list[tuple[str, Member]]] = defaultdict(list)
    undated: list[Member] = []
    for f in files:
        kind = classify_member(f.name)
        if kind is None:
            continue
        table, quarter = kind
        member = Member(table, str(f), str(f))
        if table == DELETED and quarter is None:
            undated.append(member)
        else:
            groups[quarter].append((table, member))
    if not groups and not undated:
        return []
    out = []
    for quarter, members in _assemble(groups, undated, str(folder)).items():
        h = hashlib.sha256()
        size = 0
        for m in members:
            p = Path(m.name)
            h.update(f"{p.relative_to(folder)}\0{sha256_file(p)}\n".encode())
            size += p.stat().st_size
        out.append(Extract(quarter, str(folder), h.hexdigest(), size, members, limits=limits))
    return out


def discover(paths: list[Path], limits: Limits = Limits()) -> tuple[list[Extract], list[PvError]]:
    """Every extract under ``paths`` (zips, folders of zips, extracted folders), and the
    one-line errors of the ones that cannot be used."""
    extracts: list[Extract] = []
    errors: list[PvError] = []
    for path in map(Path, paths):
        try:
            if not path.exists():
                raise PvError(f"{path}: no such file or folder")
            if path.is_file():
                extracts.append(open_zip(path, limits))
                continue
            files = sorted(p for p in path.rglob("*") if p.is_file())
            zips = [p for p in files if p.suffix.lower() == ".zip"]
            for z in zips:
                try:
                    extracts.append(open_zip(z, limits))
                except PvError as err:
                    errors.append(err)
            loose = _loose_extracts(path, [p for p in files if p.suffix.lower() == ".txt"], limits)
            if not zips and not loose:
                raise PvError(f"{path}: no FAERS extract found")
            extracts.extend(loose)
        except PvError as err:
            errors.append(err)
    return extracts, errors
