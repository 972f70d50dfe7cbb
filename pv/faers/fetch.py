"""``pvmon fetch``: download FDA's quarterly ASCII zips into ``raw/``.

URLs are built from the quarter, never scraped (FDA renamed its download page and
scrapers broke): ``aers_ascii_YYYYqN.zip`` up to 2012Q3, ``faers_ascii_YYYYqN.zip``
after, with ``q`` or ``Q`` depending on the quarter, so both are tried.

A download is trusted only when complete and a zip: the body is streamed to
``raw/.<name>.part``; a cut connection is retried with exponential backoff and resumed
with an HTTP Range request (a server that ignores the Range starts over); a body larger
than ``max_bytes`` stops the download; the first bytes must be the zip magic (FDA can
answer 200 with an HTML page) and the central directory must open. Only then is the file
renamed to ``raw/<name>`` and its sha256 recorded in the manifest. The download holds only its
quarter's lock (so a backfill's mapped downloads run side by side); the store lock is taken for
the rename and the manifest row. A quarter whose zip is
already in ``raw/`` with its recorded sha256 is skipped. When the host cannot be reached
at all (no route, no DNS, connection refused, after the retries), the remaining quarters
are not tried: one error says so instead of the same wait once per quarter.

Bounded in time (rule ``download_deadline``): each quarter's download, every attempt and
backoff included, must finish within ``deadline`` seconds (default ``DEADLINE_S``, one hour:
FDA's largest zip, ~73 MB, at a slow 50 kB/s takes ~25 minutes). A server that drips one
byte at a time never trips the per-read timeout, so the deadline is checked after every
piece received; past it the download stops with one line (and its quarter lock is released).
A server that drips its status line or headers holds httpx inside one read: each attempt
runs in a helper thread that is abandoned ``GRACE_S`` after the deadline. Tested in
tests/test_fetch.py (real servers on 127.0.0.1 dripping body and headers).
The body is taken raw (``Accept-Encoding: identity``): a compressed transfer encoding could
otherwise inflate past ``max_bytes`` inside one read. Every HTTP failure, a redirect loop or
a redirect to a non-HTTP URL included, ends as a one-line ``PvError``.
"""

from __future__ import annotations

import os
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pv.atomic import _fsync_dir
from pv.config import Home
from pv.errors import PvError
from pv.faers import layouts
from pv.faers.extract import check_zip_bytes, sha256_file
from pv.lake import manifest
from pv.lake.lock import quarter_lock, store_lock
from pv.lake.store import now

FDA_BASE_URL = "https://fis.fda.gov/content/Exports"
MAX_BYTES = 400 * 1024 * 1024  # largest FDA zip so far ~73 MB
RETRIES = 5
BACKOFF_S = 1.0
DEADLINE_S = 3600.0  # one quarter's download, all attempts (rule download_deadline)
GRACE_S = 2.0  # past the deadline, before a download stuck inside one read is abandoned
RETRYABLE = (httpx.TransportError,)  # connect errors, timeouts, a body cut short


def zip_names(year: int, q: int) -> list[str]:
    """FDA's file names for a quarter, lower-case ``q`` first."""
    prefix = "aers" if (year, q) <= (2012, 3) else "faers"
    return [f"{prefix}_ascii_{year}{c}{q}.zip" for c in ("q", "Q")]


@dataclass
class FetchReport:
    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)  # the requested quarters' zips in raw/
    errors: list[PvError] = field(default_factory=list)


class _NotFound(Exception):
    pass


class _Retry(Exception):
    pass


class _Unreachable(_Retry):
    """No connection could be opened (DNS, routing, refused): retried like any failure."""


class HostUnreachable(PvError):
    """The host could not be reached after every retry."""


class _Deadline:
    """The time left for one quarter's download (rule ``download_deadline``)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def check(self, url: str, received: int) -> None:
        if time.monotonic() > self.at:
            raise PvError(f"{url}: download not finished within the {self.seconds:g}-second deadline "
                          f"({received} bytes received)")

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self.at - time.monotonic())))

    def run(self, url: str, part: Path, attempt) -> None:
        """``attempt()`` in a helper thread, abandoned at the deadline: a server that drips
        its status line or headers keeps httpx inside one read, where no check can run."""
        failed: list[BaseException] = []

        def target() -> None:
            try:
                attempt()
            except BaseException as err:  # handed to the caller's thread
                failed.append(err)

        worker = threading.Thread(target=target, name="pvmon-download", daemon=True)
        worker.start()
        worker.join(max(0.0, self.at - time.monotonic()) + GRACE_S)  # a body drip stops itself meanwhile
        if worker.is_alive():
            raise PvError(f"{url}: download not finished within the {self.seconds:g}-second deadline")
        if failed:
            raise failed[0]


def _download(client: httpx.Client, url: str, part: Path, max_bytes: int, deadline: _Deadline) -> None:
    """One attempt: resume ``part`` from its size; raise _Retry on a transient failure."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"} | ({"Range": f"bytes={have}-"} if have else {})
    try:
        with client.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 404:
                raise _NotFound(url)
            if resp.status_code == 416:  # nothing left to send: start over to be sure
                part.unlink(missing_ok=True)
                raise _Retry(f"{url}: HTTP 416")
            if resp.status_code >= 500 or resp.status_code == 429:
                raise _Retry(f"{url}: HTTP {resp.status_code}")
            if resp.status_code not in (200, 206):
                raise PvError(f"{url}: HTTP {resp.status_code}")
            mode = "ab" if resp.status_code == 206 else "wb"
            start = have if resp.status_code == 206 else 0
            length = resp.headers.get("content-length")
            if length is not None and start + int(length) > max_bytes:
                raise PvError(f"{url}: {start + int(length)} bytes, over the {max_bytes}-byte limit")
            size = start
            deadline.check(url, size)
            with open(part, mode) as fh:
                for chunk in resp.iter_raw():  # whatever arrives, so a drip meets the deadline check
                    size += len(chunk)
                    if size > max_bytes:
                        raise PvError(f"{url}: more than the {max_bytes}-byte limit")
                    fh.write(chunk)
                    deadline.check(url, size)
                fh.flush()
                os.fsync(fh.fileno())
    except httpx.ConnectError as err:
        raise _Unreachable(f"{url}: {type(err).__name__}: {err}") from err
    except httpx.TooManyRedirects as err:
        raise PvError(f"{url}: too many redirects (a redirect loop?)") from err
    except httpx.UnsupportedProtocol as err:
        raise PvError(f"{url}: redirected to a URL that is not http:// or https:// ({err})") from err
    except RETRYABLE as err:
        raise _Retry(f"{url}: {type(err).__name__}: {err}") from err
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as err:
        raise PvError(f"{url}: {type(err).__name__}: {err}") from err


def _verify(path: Path, where: str) -> None:
    with open(path, "rb") as fh:
        check_zip_bytes(fh.read(512), where)
    try:
        with zipfile.ZipFile(path):
            pass
    except (zipfile.BadZipFile, OSError) as err:
        raise PvError(f"{where}: truncated or corrupt zip ({err})") from err


def _rename(part: Path, target: Path, _url: str) -> None:
    os.replace(part, target)
    _fsync_dir(target.parent)


def fetch_quarter(client: httpx.Client, raw: Path, year: int, q: int, base_url: str,
                  max_bytes: int, retries: int, backoff: float, deadline: float = DEADLINE_S,
                  commit=_rename) -> Path:
    """Download one quarter's zip into ``raw`` (resuming) within ``deadline`` seconds; return its path.
    ``commit(part, target, url)`` moves the verified download into place."""
    last = None
    limit = _Deadline(deadline)
    for name in zip_names(year, q):
        url = f"{base_url.rstrip('/')}/{name}"
        part = raw / f".{name}.part"
        for attempt in range(retries + 1):
            try:
                limit.run(url, part, lambda: _download(client, url, part, max_bytes, limit))
                break
            except _NotFound:
                last = PvError(f"{url}: not found (HTTP 404)")
                part.unlink(missing_ok=True)
                break
            except _Retry as err:
                kind = HostUnreachable if isinstance(err, _Unreachable) else PvError
                last = kind(f"{err} (after {attempt + 1} attempts)")
                if attempt < retries:
                    limit.sleep(backoff * 2**attempt)
                    try:
                        limit.check(url, part.stat().st_size if part.exists() else 0)
                    except PvError:
                        part.unlink(missing_ok=True)
                        raise
            except PvError:
                part.unlink(missing_ok=True)
                raise
        else:
            raise last
        if not part.exists():
            continue  # 404: try the other spelling
        try:
            _verify(part, url)
        except PvError:
            part.unlink(missing_ok=True)
            raise
        target = raw / name
        commit(part, target, url)
        return target
    raise last or PvError(f"{year}Q{q}: not found")


def _already_there(con, raw: Path, year: int, q: int) -> Path | None:
    for name in zip_names(year, q):
        row = con.execute("SELECT sha256 FROM downloads WHERE name = ?", (name,)).fetchone()
        path = raw / name
        if row and path.exists() and sha256_file(path) == row[0]:
            return path
    return None


def fetch(home: Home, quarters: str, base_url: str = FDA_BASE_URL, max_bytes: int = MAX_BYTES,
          retries: int = RETRIES, backoff: float = BACKOFF_S, timeout: float = 60.0,
          deadline: float = DEADLINE_S) -> FetchReport:
    """Download every quarter of ``quarters`` ('2004Q1..2025Q3') that is not in raw/ yet."""
    try:
        wanted = layouts.quarter_range(quarters)
    except ValueError as err:
        raise PvError(f"--quarters: {err}") from err
    if not base_url.lower().startswith(("http://", "https://")):  # not worth six retries with backoff
        raise PvError(f"--base-url: {base_url!r} is not an http:// or https:// URL")
    report = FetchReport()
    home.raw.mkdir(parents=True, exist_ok=True)

    def commit(part: Path, target: Path, url: str) -> None:  # the store lock for a moment, not the download
        digest, size = sha256_file(part), part.stat().st_size
        with store_lock(home):
            _rename(part, target, url)
            con = manifest.connect(home.manifest)
            try:
                con.execute(
                    "INSERT OR REPLACE INTO downloads(name, url, sha256, bytes, fetched_at) VALUES (?,?,?,?,?)",
                    (target.name, url, digest, size, now()))
            finally:
                con.close()

    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        for i, (year, q) in enumerate(wanted):
            label = layouts.quarter_key(year, q)
            with quarter_lock(home, label):  # one download of a quarter at a time; other quarters meanwhile
                con = manifest.connect(home.manifest)
                try:
                    there = _already_there(con, home.raw, year, q)
                finally:
                    con.close()
                if there is not None:
                    report.skipped.append(f"{label} {there.name}")
                    report.paths.append(there)
                    continue
                try:
                    path = fetch_quarter(client, home.raw, year, q, base_url, max_bytes, retries, backoff, deadline,
                                         commit)
                except HostUnreachable as err:
                    report.errors.append(err)
                    if rest := wanted[i + 1:]:
                        report.errors.append(PvError(
                            f"{base_url}: unreachable; {len(rest)} more quarter(s) not tried "
                            f"({layouts.quarter_key(*rest[0])}..{layouts.quarter_key(*rest[-1])})"))
                    break
                except PvError as err:
                    report.errors.append(err)
                    continue
            report.fetched.append(f"{label} {path.name}")
            report.paths.append(path)
    return report
