"""Downloads against a real HTTP server on 127.0.0.1: zips, 404, HTML with 200, a cut body,
a server that drips its body, redirect loops, redirects off HTTP, wrong content."""

from __future__ import annotations

import hashlib
import sqlite3
import io
import random
import re
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pv.config import Home
from pv.faers.fetch import fetch, zip_names


class FakeFDA(BaseHTTPRequestHandler):
    """Serves ``files`` (name -> bytes) with Range support; names in ``html`` answer 200
    with an HTML page; names in ``cut`` send a full Content-Length, then half the body and
    close, once."""

    files: dict[str, bytes] = {}
    html: set[str] = set()
    cut: set[str] = set()
    drip: set[str] = set()  # one byte every DRIP_S seconds, forever (while the client listens)
    drip_headers: set[str] = set()  # the same, before the headers are complete
    redirect: dict[str, str] = {}  # name -> Location
    log: list[tuple[str, str | None]] = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        self.log.append((name, self.headers.get("Range")))
        if name in self.redirect:
            self.send_response(302)
            self.send_header("Location", self.redirect[name])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if name in self.drip_headers:  # the status line, one byte at a time
            try:
                for b in b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Slow: " + b"x" * 10_000:
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                    time.sleep(DRIP_S)
            except OSError:
                pass
            self.close_connection = True
            return
        if name in self.drip:
            self.send_response(200)
            self.send_header("Content-Length", str(50 << 20))
            self.end_headers()
            try:
                for _ in range(10_000):
                    self.wfile.write(b"P")
                    self.wfile.flush()
                    time.sleep(DRIP_S)
            except OSError:  # the client hung up: what a deadline should do
                pass
            return
        if name in self.html:
            body = b"<!DOCTYPE html><html><body>Exports moved</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if name not in self.files:
            self.send_error(404)
            return
        data = self.files[name]
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if name in self.cut:
            self.cut.discard(name)
            self.wfile.write(data[start: start + (len(data) - start) // 2])
            self.wfile.flush()
            time.sleep(0.2)  # let the client write what it got before the cut
            self.connection.shutdown(2)
            self.close_connection = True
            return
        self.wfile.write(data[start:])


DRIP_S = 0.2


@pytest.fixture()
def server():
    FakeFDA.files, FakeFDA.html, FakeFDA.cut, FakeFDA.log = {}, set(), set(), []
    FakeFDA.drip, FakeFDA.drip_headers, FakeFDA.redirect = set(), set(), {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeFDA)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield FakeFDA, f"http://127.0.0.1:{httpd.server_address[1]}/content/Exports"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def a_zip(tmp_path_factory) -> bytes:
    """A simulated FDA zip (pvmon simulate), as FDA would serve it."""
    from pv.faers.simulate import simulate

    out = tmp_path_factory.mktemp("sim")
    simulate(out, "2020Q1..2020Q1", reports_per_quarter=60, seed=5, jobs=1)
    (path,) = out.glob("*.zip")
    return path.read_bytes()


def test_names_follow_fda():
    assert zip_names(2012, 3) == ["aers_ascii_2012q3.zip", "aers_ascii_2012Q3.zip"]
    assert zip_names(2012, 4) == ["faers_ascii_2012q4.zip", "faers_ascii_2012Q4.zip"]


def test_fetch_tries_both_cases_records_sha_and_skips_next_time(server, a_zip, tmp_path):
    fda, base = server
    fda.files = {"faers_ascii_2023Q4.zip": a_zip, "faers_ascii_2024q1.zip": a_zip + b""}
    home = Home(tmp_path)
    report = fetch(home, "2023Q4..2024Q1", base_url=base, backoff=0.01)
    assert report.errors == [] and len(report.fetched) == 2
    assert report.paths == [tmp_path / "raw" / "faers_ascii_2023Q4.zip", tmp_path / "raw" / "faers_ascii_2024q1.zip"]
    assert (tmp_path / "raw" / "faers_ascii_2023Q4.zip").read_bytes() == a_zip
    assert ("faers_ascii_2023q4.zip", None) in fda.log  # lower case tried first, 404
    con = sqlite3.connect(tmp_path / "pvmon.sqlite")
    assert con.execute("SELECT sha256, bytes FROM downloads WHERE name='faers_ascii_2023Q4.zip'").fetchone() == (
        hashlib.sha256(a_zip).hexdigest(), len(a_zip))
    fda.log.clear()
    again = fetch(home, "2023Q4..2024Q1", base_url=base, backoff=0.01)
    assert again.fetched == [] and len(again.skipped) == 2 and fda.log == []
    # only the requested quarters' zips are handed on (to ingest), not everything in raw/
    assert fetch(home, "2024Q1..2024Q1", base_url=base).paths == [tmp_path / "raw" / "faers_ascii_2024q1.zip"]


def test_missing_quarter_and_html_page_fail_alone(server, a_zip, tmp_path):
    fda, base = server
    fda.files = {"aers_ascii_2005q1.zip": a_zip}
    fda.html = {"faers_ascii_2013q2.zip"}
    report = fetch(Home(tmp_path), "2005Q1..2005Q2", base_url=base, backoff=0.01)
    assert [str(e) for e in report.errors] == [f"{base}/aers_ascii_2005Q2.zip: not found (HTTP 404)"]
    assert report.fetched == ["2005Q1 aers_ascii_2005q1.zip"]
    report = fetch(Home(tmp_path), "2013Q2", base_url=base, backoff=0.01)
    assert [str(e) for e in report.errors] == [f"{base}/faers_ascii_2013q2.zip: an HTML page, not a zip"]
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["aers_ascii_2005q1.zip"]


def big_zip(a_zip: bytes) -> bytes:
    """The sample zip plus 1 MB of incompressible padding, so a cut lands mid-stream."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(a_zip)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("ASCII/padding.bin", random.Random(7).randbytes(1 << 20))
    return buf.getvalue()


def test_cut_connection_is_resumed_with_a_range_request(server, a_zip, tmp_path):
    fda, base = server
    a_zip = big_zip(a_zip)
    fda.files = {"faers_ascii_2020q1.zip": a_zip}
    fda.cut = {"faers_ascii_2020q1.zip"}
    report = fetch(Home(tmp_path), "2020Q1", base_url=base, backoff=0.01)
    assert report.errors == []
    assert (tmp_path / "raw" / "faers_ascii_2020q1.zip").read_bytes() == a_zip
    from pv.lake.ingest import ingest_paths

    ingested = ingest_paths(Home(tmp_path), [tmp_path / "raw"])  # what was fetched ingests
    assert ingested.errors == [] and ingested.staged == [f"2020Q1 <- {tmp_path / 'raw' / 'faers_ascii_2020q1.zip'}"]
    (first, no_range), (second, resume) = fda.log
    assert first == second == "faers_ascii_2020q1.zip" and no_range is None
    resumed_at = int(resume.removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_at <= len(a_zip) // 2


def test_size_limit_and_exhausted_retries(server, a_zip, tmp_path):
    fda, base = server
    fda.files = {"faers_ascii_2020q2.zip": a_zip}
    report = fetch(Home(tmp_path), "2020Q2", base_url=base, max_bytes=1000, backoff=0.01)
    assert "over the 1000-byte limit" in str(report.errors[0])
    assert list((tmp_path / "raw").iterdir()) == []
    dead = "http://127.0.0.1:9/content/Exports"  # discard port: connection refused
    report = fetch(Home(tmp_path), "2020Q2", base_url=dead, retries=2, backoff=0.01)
    assert "ConnectError" in str(report.errors[0]) and "after 3 attempts" in str(report.errors[0])


def test_unreachable_host_stops_after_the_first_quarter(tmp_path):
    dead = "http://127.0.0.1:9/content/Exports"  # discard port: connection refused
    report = fetch(Home(tmp_path), "2019Q1..2020Q4", base_url=dead, retries=1, backoff=0.01)
    assert report.fetched == [] and len(report.errors) == 2
    assert "faers_ascii_2019q1.zip: ConnectError" in str(report.errors[0])
    assert str(report.errors[1]) == f"{dead}: unreachable; 7 more quarter(s) not tried (2019Q2..2020Q4)"


def test_cli_fetch_exit_status(server, a_zip, tmp_path):
    import subprocess
    import sys

    fda, base = server
    out = subprocess.run([sys.executable, "-m", "pv.cli", "fetch", "--quarters", "2019Q1", "--base-url", base,
                          "--home", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [f"pvmon: error: {base}/faers_ascii_2019Q1.zip: not found (HTTP 404)"]


def test_base_url_without_http_is_refused_before_any_request(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "pv.cli", "fetch", "--quarters", "2019Q1", "--base-url", "notaurl",
                          "--home", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.splitlines() == ["pvmon: error: --base-url: 'notaurl' is not an http:// or https:// URL"]
    assert not (tmp_path / "raw").exists()


def test_a_dripping_server_is_cut_off_at_the_deadline(server, tmp_path):
    """One byte every 0.2 s never trips the per-read timeout: the download deadline stops it,
    with one line, no partial file, and the store lock free again."""
    fda, base = server
    fda.drip = {"faers_ascii_2020q1.zip"}
    start = time.monotonic()
    report = fetch(Home(tmp_path), "2020Q1", base_url=base, backoff=0.01, deadline=1.5)
    took = time.monotonic() - start
    (error,) = map(str, report.errors)
    received = re.fullmatch(re.escape(f"{base}/faers_ascii_2020q1.zip: download not finished within the "
                                      "1.5-second deadline (") + r"(\d+) bytes received\)", error)
    assert received and 1 <= int(received.group(1)) <= 1.5 / DRIP_S + 3  # about one byte per drip
    assert took < 1.5 + 5 * DRIP_S + 2  # the deadline held (plus one read)
    assert list((tmp_path / "raw").iterdir()) == []
    from filelock import FileLock

    FileLock(tmp_path / ".pvmon.lock").acquire(timeout=0)  # released


def test_a_server_dripping_its_headers_is_cut_off_at_the_deadline(server, a_zip, tmp_path):
    """httpx sits inside one read while the headers drip: the download is abandoned at the
    deadline all the same, and the next quarter is fetched."""
    fda, base = server
    fda.drip_headers = {"faers_ascii_2020q1.zip"}
    fda.files = {"faers_ascii_2020q2.zip": a_zip}
    start = time.monotonic()
    report = fetch(Home(tmp_path), "2020Q1..2020Q2", base_url=base, backoff=0.01, deadline=1.5)
    assert time.monotonic() - start < 1.5 + 2 + 5  # deadline, grace, the second quarter
    assert [str(e) for e in report.errors] == [
        f"{base}/faers_ascii_2020q1.zip: download not finished within the 1.5-second deadline"]
    assert report.fetched == ["2020Q2 faers_ascii_2020q2.zip"]
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["faers_ascii_2020q2.zip"]


def test_redirect_loop_and_redirect_off_http_are_one_line_each(server, a_zip, tmp_path):
    fda, base = server
    fda.redirect = {"faers_ascii_2020q1.zip": f"{base}/faers_ascii_2020Q1.zip",
                    "faers_ascii_2020Q1.zip": f"{base}/faers_ascii_2020q1.zip",
                    "faers_ascii_2020q2.zip": "ftp://127.0.0.1/faers_ascii_2020q2.zip"}
    fda.files = {"faers_ascii_2020q3.zip": a_zip, "moved.zip": a_zip}
    fda.redirect["faers_ascii_2020q3.zip"] = f"{base}/moved.zip"  # a plain redirect is followed
    report = fetch(Home(tmp_path), "2020Q1..2020Q3", base_url=base, backoff=0.01)
    assert [str(e) for e in report.errors] == [
        f"{base}/faers_ascii_2020q1.zip: too many redirects (a redirect loop?)",
        f"{base}/faers_ascii_2020q2.zip: redirected to a URL that is not http:// or https:// "
        + str(report.errors[1]).split("https:// ")[1],
    ]
    assert report.fetched == ["2020Q3 faers_ascii_2020q3.zip"]
    assert (tmp_path / "raw" / "faers_ascii_2020q3.zip").read_bytes() == a_zip
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["faers_ascii_2020q3.zip"]


def test_wrong_content_is_refused_with_one_line(server, a_zip, tmp_path):
    """Not a zip (random bytes), a zip cut short (magic right, no central directory)."""
    fda, base = server
    fda.files = {"faers_ascii_2021q1.zip": random.Random(3).randbytes(5000),
                 "faers_ascii_2021q2.zip": a_zip[: len(a_zip) // 3]}
    report = fetch(Home(tmp_path), "2021Q1..2021Q2", base_url=base, backoff=0.01)
    assert str(report.errors[0]) == f"{base}/faers_ascii_2021q1.zip: not a zip file"
    assert str(report.errors[1]).startswith(f"{base}/faers_ascii_2021q2.zip: truncated or corrupt zip (")
    assert len(report.errors) == 2 and report.fetched == []
    assert list((tmp_path / "raw").iterdir()) == []


def test_cli_redirect_loop_exits_with_one_line(server, tmp_path):
    import subprocess
    import sys

    fda, base = server
    fda.redirect = {"faers_ascii_2019q1.zip": f"{base}/faers_ascii_2019q1.zip"}
    out = subprocess.run([sys.executable, "-m", "pv.cli", "fetch", "--quarters", "2019Q1", "--base-url", base,
                          "--home", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"pvmon: error: {base}/faers_ascii_2019q1.zip: too many redirects (a redirect loop?)"]


def test_the_download_runs_without_the_store_lock(server, a_zip, tmp_path):
    """A download holds only its quarter's lock (a backfill's mapped downloads run side by side, and a
    stage holding the store lock never stalls one); the store lock is taken to move the zip in."""
    import subprocess
    import sys

    from filelock import FileLock

    fda, base = server
    fda.files = {"faers_ascii_2020q1.zip": a_zip}
    held = FileLock(tmp_path / ".pvmon.lock")
    held.acquire(timeout=0)  # another stage is writing the store
    proc = subprocess.Popen([sys.executable, "-m", "pv.cli", "fetch", "--quarters", "2020Q1", "--base-url", base,
                             "--home", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    until = time.monotonic() + 60
    while not any("waiting for the store lock" in line for line in lines) and proc.poll() is None \
            and time.monotonic() < until:
        time.sleep(0.01)
    assert any("waiting for the store lock" in line for line in lines), lines
    part = tmp_path / "raw" / ".faers_ascii_2020q1.zip.part"
    assert part.read_bytes() == a_zip  # downloaded whole while another held the store lock
    assert not (tmp_path / "raw" / "faers_ascii_2020q1.zip").exists()  # it waits only to move it in
    held.release()
    assert proc.wait(timeout=60) == 0, lines
    reader.join(timeout=10)
    assert (tmp_path / "raw" / "faers_ascii_2020q1.zip").read_bytes() == a_zip and not part.exists()
    con = sqlite3.connect(tmp_path / "pvmon.sqlite")
    assert con.execute("SELECT name, sha256 FROM downloads").fetchall() == [
        ("faers_ascii_2020q1.zip", hashlib.sha256(a_zip).hexdigest())]
