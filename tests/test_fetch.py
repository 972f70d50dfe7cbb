"""Downloads against a real HTTP server on 127.0.0.1: zips, 404, HTML with 200, a cut body."""

from __future__ import annotations

import hashlib
import sqlite3
import io
import random
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
    log: list[tuple[str, str | None]] = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        self.log.append((name, self.headers.get("Range")))
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


@pytest.fixture()
def server():
    FakeFDA.files, FakeFDA.html, FakeFDA.cut, FakeFDA.log = {}, set(), set(), []
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
