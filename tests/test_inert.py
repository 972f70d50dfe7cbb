"""Inert everywhere (issue 11 item 4): hostile names planted in a simulated store flow through
the real pipeline (`pvmon run` as a subprocess) and every export is read back the way its
reader would: XLSX with openpyxl, CSV with the csv module, pages in headless Chromium, the
terminal through a pty and captured output.

The store: `simulate(..., hostile=True)` (pv/faers/simulate/hostile.py) gives five baclofen
reports per quarter extra reactions named as spreadsheet formulas, HTML/script, terminal
escape sequences, rich markup, a path and a 300-character free text, plus two extra suspect
drugs (a 300-character free-text name and one with escapes/script/formula). `pvmon run`
reports on baclofen and on the long-named drug (`--drug`).
"""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from openpyxl.utils.escape import unescape

from pv.faers.simulate import simulate
from pv.faers.simulate.hostile import HOSTILE_DRUGNAMES, HOSTILE_PTS, LONG_DRUGNAME, REPORTS
from dashboards.case_lists import data_file
from pv.inert import MAX_NAME, csv_safe, printable, safe_name
from pv.vocab.drugnames import normalise_names

QUARTERS = ("2024Q1", "2024Q2")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
SAFE_FILE = re.compile(r"^[a-z0-9._-]+$")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def pvmon(*args: str, home: Path | None, check: bool = True) -> subprocess.CompletedProcess:
    home_opt = [] if home is None else ["--home", str(home)]
    out = subprocess.run([sys.executable, "-m", "pv.cli", *args, *home_opt], capture_output=True,
                         text=True, errors="surrogateescape")
    if check:
        assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("inert")
    sim = root / "sim"
    simulate(sim, f"{QUARTERS[0]}..{QUARTERS[-1]}", 2000, seed=3, hostile=True)
    home = root / "pvdata"
    long_drug = normalise_names([LONG_DRUGNAME])[0]
    run = pvmon("run", str(sim), "--drug", "baclofen", "--drug", long_drug, home=home)
    reactions = pl.read_parquet(home / "cases" / "reactions.parquet")
    events = reactions.filter(pl.col("pt_source").is_in(list(HOSTILE_PTS)))["pt"].unique().sort().to_list()
    [run_dir] = [p for p in (home / "signals").iterdir() if not p.name.startswith(".")]  # .versions: pv.atomic
    return {"home": home, "sim": sim, "run": run, "long_drug": long_drug, "events": events,
            "signals": pl.read_parquet(run_dir / "signals.parquet"), "reports": home / "reports" / run_dir.name,
            "truth": pl.read_csv(sim / "ground_truth.csv", infer_schema_length=0)}


def test_every_hostile_name_reaches_the_signal_table_flagged(store):
    assert len(store["events"]) == len(HOSTILE_PTS)  # every planted name survived ingest and cases
    rows = store["signals"].filter(pl.col("drug") == "baclofen", pl.col("level") == "pt", pl.col("subset") == "all",
                                   pl.col("event").is_in(store["events"]))
    assert rows.height == len(HOSTILE_PTS)
    assert rows["a"].to_list() == [REPORTS * len(QUARTERS)] * len(HOSTILE_PTS)
    assert rows["c"].to_list() == [0] * len(HOSTILE_PTS)
    assert rows["flag_ic025"].all()  # flagged, so case lists, pages and reports carry them
    truth = store["truth"].filter(pl.col("kind") == "hostile_name")
    assert truth.height == len(QUARTERS) * REPORTS * (len(HOSTILE_PTS) + len(HOSTILE_DRUGNAMES))


def test_the_run_publishes_and_reports_with_bounded_safe_file_names(store):
    home, long_drug = store["home"], store["long_drug"]
    assert len(long_drug) > 255  # longer than any file system allows for one name
    assert "dashboards:" in store["run"].stdout and "regulator reports" in store["run"].stdout
    every = [p for p in (home / "site").rglob("*")] + [p for p in store["reports"].rglob("*")]
    for path in (p for p in every if not any(part.startswith(".") for part in p.parts)):  # pv.atomic's .versions
        assert SAFE_FILE.match(path.name) and len(path.name) <= MAX_NAME + 10, path.name
    stem = safe_name(long_drug, sep="_", empty="drug")
    assert len(stem) == MAX_NAME and stem.endswith(safe_name(long_drug)[-10:])
    assert sorted(p.name for p in store["reports"].iterdir() if not p.name.startswith(".")) == sorted(
        [f"baclofen{x}" for x in (".pdf", ".xlsx", "_csv")] + [f"{stem}{x}" for x in (".pdf", ".xlsx", "_csv")])
    assert (home / "site" / f"drug-{safe_name(long_drug)}.html").is_file()
    # a case listing per hostile PT (dashboards/case_lists.py: a hashed file name), each holding exactly the a cases
    for event in store["events"]:
        name = data_file('baclofen', 'pt', event)
        script = (home / "site" / "cases" / f"{name}.js").read_text(encoding="utf-8")
        payload = json.loads(script.removeprefix("pvListing(").rstrip().removesuffix(");"))
        rows = [row for k in range(len(payload["pages"])) for row in json.loads(
            (home / "site" / "cases" / f"{name}-{k}.js").read_text(encoding="utf-8")
            .removeprefix(f'pvListingPage("{name}",{k},').rstrip().removesuffix(");"))]
        assert payload["event"] == event and len(rows) == payload["a"] == REPORTS * len(QUARTERS), event
        assert rows[0][-4].lower() == event.lower()  # matching PTs: the hostile PT, as text


def test_safe_name_bounds_and_hashes_long_names():
    long_a, long_b = "x" * 299 + "a", "x" * 299 + "b"
    assert len(safe_name(long_a)) == MAX_NAME and safe_name(long_a) != safe_name(long_b)
    assert safe_name("Sodium oxybate") == "sodium-oxybate" and safe_name("../../etc/passwd") == "etc-passwd"
    assert safe_name("<>") == "x" and safe_name("Sodium oxybate", sep="_") == "sodium_oxybate"


def test_pdf_prints_hostile_names_as_text_next_to_their_numbers(store, poppler):
    from pv.reports.pdf import MAX_LABEL, label

    pdf = store["reports"] / "baclofen.pdf"
    text = subprocess.run([str(poppler["pdftotext"]), "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    section = text.split("5. Flagged PT-level signals", 1)[1]
    shown = [e for e in store["events"] if not CONTROL.search(e)]
    assert len(shown) >= 8 and max(len(e) for e in shown) > MAX_LABEL
    rows = store["signals"].filter(pl.col("drug") == "baclofen", pl.col("level") == "pt", pl.col("subset") == "all")
    for event in shown:  # the 300-character PT is cut, and no row loses its numbers to it
        r = rows.filter(pl.col("event") == event).row(0, named=True)
        line = next(x for x in section.splitlines() if label(event) in x)
        assert line.split(label(event), 1)[1].split()[:4] == [f"{r[k]:,}" for k in "abcd"], line


def _xlsx_cells(path: Path):
    book = openpyxl.load_workbook(path)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                yield sheet.title, cell


def test_xlsx_cells_are_literal_text_never_formulas(store):
    cells = list(_xlsx_cells(store["reports"] / "baclofen.xlsx"))
    assert [c.coordinate for _, c in cells if c.data_type == "f"] == []
    texts = {unescape(c.value) for _, c in cells if c.data_type == "s"}
    for event in store["events"]:
        assert event in texts, event  # the exact text, not escaped, not a formula
    formula_like = [c for _, c in cells if c.data_type == "s" and str(c.value).startswith(FORMULA_START)
                    and not NUMBER.match(c.value)]
    assert len(formula_like) >= 5 and all(c.quotePrefix for c in formula_like)  # stays text when edited
    # numbers stay numbers: the a column of the PT sheet and negative IC025 values are numeric cells
    book = openpyxl.load_workbook(store["reports"] / "baclofen.xlsx")
    sheet = book["pt_signals"]
    header = [c.value for c in sheet[1]]
    ic025 = [r[header.index("ic025")] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert any(isinstance(v, float) and v < 0 for v in ic025)
    assert all(v is None or isinstance(v, (int, float)) for v in ic025)


def test_xlsx_tab_and_cr_prefixed_values_stay_text(tmp_path):
    """Values the store's PT rules would trim (leading TAB/CR) still reach XLSX as text when a table
    carries them: the same writer options and quote prefix, read back with openpyxl."""
    from xlsxwriter import Workbook

    from pv.inert import WORKBOOK_OPTIONS, protect_text_cells

    values = ["\t=1+1", "\r=1+1", "=HYPERLINK(\"http://x\",\"y\")", "@A1", "+1+1", "-1+1", "http://evil.example",
              "-2"]
    frame = pl.DataFrame({"text": values, "n": [-1, -2, -3, -4, -5, -6, -7, -8]})
    with Workbook(str(tmp_path / "t.xlsx"), WORKBOOK_OPTIONS) as wb:
        frame.write_excel(wb, worksheet="t")
        assert protect_text_cells(wb, wb.get_worksheet_by_name("t"), frame) == 6
    sheet = openpyxl.load_workbook(tmp_path / "t.xlsx")["t"]
    got = [(unescape(c.value), c.data_type, d.value, d.data_type) for c, d in sheet.iter_rows(min_row=2)]
    assert got == [(v, "s", n, "n") for v, n in zip(values, frame["n"])]
    assert not sheet.cell(8, 1).hyperlink


def _assert_inert_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_START) or NUMBER.match(cell), (path.name, cell)
    return rows


def test_report_csvs_follow_the_owasp_rule(store):
    folder = store["reports"] / "baclofen_csv"
    cells = set()
    for path in folder.glob("*.csv"):
        cells |= {c for row in _assert_inert_csv(path) for c in row}
    for event in store["events"]:
        expected = "'" + event if event.startswith(FORMULA_START) else event
        assert expected in cells, event
    # a negative number in a numeric column is written as a number (unquoted), not as text
    raw = (folder / "pt_signals.csv").read_text(encoding="utf-8")
    assert re.search(r",-\d+\.\d+,", raw)
    back = pl.read_csv(folder / "pt_signals.csv")
    assert back.schema["ic025"] == pl.Float64 and back["ic025"].min() < 0


def test_site_csvs_follow_the_owasp_rule(store):
    site = store["home"] / "site"
    paths = list(site.rglob("*.csv"))
    assert (site / "quarantine.csv") in paths  # the listings export their CSV in the browser (test_dashboards)
    for path in paths:
        _assert_inert_csv(path)
    quarantine = pl.read_csv(site / "quarantine.csv")  # each line says where it came from
    assert quarantine.columns[0] == "data_origin" and quarantine.height >= len(QUARTERS)
    assert set(quarantine["data_origin"]) == {"SIMULATED"}


def test_stats_out_csv_and_stdout_are_inert(tmp_path):
    src = tmp_path / "long.csv"
    pl.DataFrame({"id": [1, 2, 3, 4, 5, 6], "drug": ["=cmd|' /C calc'!A0", "=cmd|' /C calc'!A0", "b", "b", "c", "c"],
                  "event": ["@x", "y", "y", "@x", "-1+1", "y"]}).write_csv(src)
    out = tmp_path / "signals.csv"
    pvmon("stats", str(src), "--id", "id", "--drug", "drug", "--event", "event", "--out", str(out), home=None)
    rows = _assert_inert_csv(out)
    assert {"'=cmd|' /C calc'!A0", "'@x", "'-1+1"} <= {c for r in rows for c in r}
    stdout = pvmon("stats", str(src), "--id", "id", "--drug", "drug", "--event", "event", home=None).stdout
    assert stdout == out.read_text(encoding="utf-8")


def test_csv_safe_keeps_numbers_and_other_columns():
    frame = pl.DataFrame({"t": ["=1", "-2", "-2+1", "@a", "\tb", "\rc", "ok", None], "n": [-1, 2, 3, 4, 5, 6, 7, 8]})
    out = csv_safe(frame)
    assert out["t"].to_list() == ["'=1", "-2", "'-2+1", "'@a", "'\tb", "'\rc", "ok", None]
    assert out["n"].to_list() == frame["n"].to_list()




def test_pages_show_hostile_names_as_text_and_run_no_script(store, browser):
    site = store["home"] / "site"
    page = browser.new_page()
    dialogs, errors = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script("window.__ran = [];")
    pages = sorted(site.glob("*.html"))
    assert len(pages) >= 5
    for path in pages:
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_timeout(200)
        # no element built from data: no injected <img onerror>, no script carrying the planted alert
        assert page.evaluate("document.querySelectorAll('img[onerror]').length") == 0, path.name
        assert page.evaluate("Array.from(document.scripts).filter(s => s.text.includes(\"alert('pt-\")"
                             " && !s.text.includes('Plotly')).length") == 0, path.name
    page.goto((site / "drug-baclofen.html").as_uri())
    page.wait_for_load_state("load")
    shown = page.evaluate("document.body.innerText")
    for event in ("<script>alert('pt-script')</script>", "<img src=x onerror=alert('pt-img')>",
                  "=cmd|' /C calc'!A0", "[bold red]Markup reaction[/bold red] :skull:"):
        assert event in shown, event  # printed as text, exactly
    page.close()
    assert dialogs == [] and errors == []


def _on_a_terminal(*args: str, home: Path | None) -> tuple[int, bytes]:
    """Run pvmon with stdout and stderr on a pty (rich and click see a terminal); return what it wrote."""
    leader, follower = pty.openpty()
    home_opt = [] if home is None else ["--home", str(home)]
    proc = subprocess.Popen([sys.executable, "-m", "pv.cli", *args, *home_opt], stdout=follower,
                            stderr=follower, env={**os.environ, "COLUMNS": "400", "TERM": "xterm-256color"})
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the pty
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(), b"".join(chunks)


def _assert_no_controls(text: str) -> None:
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
    assert CONTROL.findall(text.replace("\r\n", "\n")) == []


def test_explain_prints_hostile_names_without_control_characters(store):
    planted = store["truth"].filter(pl.col("kind") == "hostile_name")["caseid"].cast(pl.Int64)
    cases = pl.read_parquet(store["home"] / "cases" / "cases.parquet", columns=["caseid"])
    caseid = cases.filter(pl.col("caseid").is_in(planted.implode()))["caseid"].min()
    code, raw = _on_a_terminal("explain", "--case", str(caseid), home=store["home"])
    text = raw.decode("utf-8", "replace")
    assert code == 0, text
    _assert_no_controls(text)
    assert "Red reaction" in text and "C1 reaction" in text and "PWNED" not in text
    assert "[bold red]Markup reaction[/bold red] :skull:" in text  # markup printed, not interpreted
    assert "RED DRUG <script>alert('drug')</script> =cmd|' /C calc'!A0" in text


def test_status_and_vocab_and_errors_print_no_control_characters(store):
    home = store["home"]
    code, raw = _on_a_terminal("status", home=home)
    assert code == 0
    _assert_no_controls(raw.decode("utf-8", "replace"))
    unmapped = pvmon("vocab", "unmapped", "--top", "5", home=home).stdout
    _assert_no_controls(unmapped)
    assert "(RED DRUG <script>alert('drug')</script> =cmd|' /C calc'!A0)" in unmapped
    err = pvmon("report", "--drug", "\x1b]0;PWNED\x07\x1b[31mnope", home=home, check=False)
    assert err.returncode != 0 and err.stderr.count("\n") == 1 and err.stderr.startswith("pvmon: error: ")
    _assert_no_controls(err.stderr)
    _assert_no_controls(store["run"].stdout + store["run"].stderr)


def test_the_progress_bar_alone_keeps_its_cursor_control(tmp_path):
    """pvmon's own progress bar (no data in it) still redraws in place on a terminal."""
    code, raw = _on_a_terminal("simulate", "--out", str(tmp_path / "s"), "--quarters", "2023Q1..2023Q2",
                               "--reports-per-quarter", "200", home=None)
    assert code == 0, raw
    assert b"\r\x1b[2Ksimulate" in raw and b"wrote 2 zips" in raw


def test_printable_strips_escape_sequences_and_controls():
    assert printable("a\x1b[31mb\x1b]0;title\x07c\x1b]8;;http://x\x1b\\d\x9b2Je\rf\x00g\u202eh\ti\n") == "abcdefgh\ti\n"
