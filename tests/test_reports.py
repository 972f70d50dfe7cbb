"""`pvmon report`: the regulator report (PDF, XLSX, CSV) on a simulated store.

One simulated store is built per module through the pipeline itself (simulate -> ingest ->
cases -> signals -> mechanism -> report), so the report stage is tested as wired. The
assertions compare what a reader of each file sees with the signal run's own files.
"""

from __future__ import annotations

import json
import sqlite3
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from pv import pipeline
from pv.config import Home
from pv.lake.status import data_origin
from pv.reports.build import write_report
from pv.reports.source import EMPTY, SIMULATED
from pv.signals.provenance import file_fingerprint

DRUG = "baclofen"
SIGNAL_KEYS = ["drug", "event", "level", "subset"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A small simulated store run through every stage, reports included (the pipeline's own call)."""
    home = Home.at(tmp_path_factory.mktemp("reports") / "pvdata")
    sim = pipeline.simulate_stage(home, "2024Q1..2024Q4", 3000, seed=5)
    result = pipeline.run(home, [sim])
    run_dir = Path(result.steps["signals"])
    return {"home": home, "run_dir": run_dir, "reports": Path(result.steps["report"]),
            "signals": pl.read_parquet(run_dir / "signals.parquet"), "sim": sim}


def _sha256(path: Path) -> str:
    """sha256 of a file, or of a case table's quarter files (a folder, pv.cases.tables)."""
    return file_fingerprint(path)["sha256"]


@pytest.fixture(scope="module")
def pdf_text(store, poppler):
    pdf = store["reports"] / f"{DRUG}.pdf"
    out = subprocess.run([str(poppler["pdftotext"]), "-layout", str(pdf), "-"], capture_output=True, text=True,
                         check=True)
    return out.stdout


def test_pipeline_writes_every_format_under_the_run_id(store):
    assert store["reports"] == store["home"].reports / store["run_dir"].name
    # (hidden: .versions, where the CSV folder's pointer leads; pv.atomic)
    assert sorted(p.name for p in store["reports"].iterdir() if not p.name.startswith(".")) == [
        f"{DRUG}.pdf", f"{DRUG}.xlsx", f"{DRUG}_csv"]
    assert (store["reports"] / f"{DRUG}.pdf").read_bytes().startswith(b"%PDF")


def test_pdf_prints_the_signal_table_numbers(store, pdf_text):
    rows = store["signals"].filter((pl.col("drug") == DRUG) & (pl.col("subset") == "all")
                                   & (pl.col("level") == "group"))
    section = pdf_text.split("3. Event-group signals", 1)[1].split("Against the comparators", 1)[0]
    for r in rows.iter_rows(named=True):
        line = next(x for x in section.splitlines() if x.strip().startswith(r["event"] + " "))
        cells = line.split()
        # event, a, b, c, d, E as printed (integers with thousands separators, E to 2 decimals)
        assert cells[1:6] == [f"{r['a']:,}", f"{r['b']:,}", f"{r['c']:,}", f"{r['d']:,}", f"{r['expected']:.2f}"]
        assert f"{r['ror']:.2f} [{r['ror_lo']:.2f}, {r['ror_hi']:.2f}]" in line
        assert f"[{r['eb05']:.2f}, {r['eb95']:.2f}]" in line
    broad = rows.filter(pl.col("event") == "overdose_broad").row(0, named=True)
    assert broad["flag_ror025"] and broad["a"] >= 3  # the planted signal is there to be reported
    # the cover lists it among the flagged groups with the same numbers
    cover = pdf_text.split("1. Methods", 1)[0]
    assert f"overdose_broad: a = {broad['a']:,}, ROR {broad['ror']:.2f} [{broad['ror_lo']:.2f}," in " ".join(
        cover.split())


def test_pdf_says_simulated_on_every_page_and_names_the_run(store, pdf_text, poppler, tmp_path):
    pages = pdf_text.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) > 10
    assert all("SIMULATED DATA - NOT FDA FAERS" in p for p in pages)
    assert "NOT FDA data and must not be used" in " ".join(pages[0].split())
    run_id = store["run_dir"].name
    assert all(f"signal run {run_id}" in p for p in pages)
    # the first page renders (a PNG a reviewer can look at)
    png = tmp_path / "cover"
    subprocess.run([str(poppler["pdftoppm"]), "-png", "-r", "40", "-f", "1", "-l", "1", str(store["reports"] /
                    f"{DRUG}.pdf"), str(png)], check=True)
    assert next(png.parent.glob("cover*.png")).stat().st_size > 1000


def _xlsx_sheet(path: Path, sheet: str, schema: dict) -> pl.DataFrame:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    rows = list(wb[sheet].iter_rows(values_only=True))
    header, body = list(rows[0]), rows[1:]
    return pl.DataFrame(body, schema=header, orient="row").cast(
        {k: v for k, v in schema.items() if k in header}).select(header)


def _assert_same_rows(got: pl.DataFrame, want: pl.DataFrame, float_rel: float = 0.0) -> None:
    got, want = got.sort(SIGNAL_KEYS), want.select(got.columns).sort(SIGNAL_KEYS)
    assert got.height == want.height
    floats = [c for c, t in want.schema.items() if t == pl.Float64]
    others = [c for c in want.columns if c not in floats]
    assert got.select(others).equals(want.select(others))
    for c in floats:  # xlsxwriter stores 16 significant digits
        g, w = got[c].to_numpy(), want[c].to_numpy()
        assert ((g == w) | (abs(g - w) <= float_rel * abs(w)) | (pl.Series(g).is_nan() & pl.Series(w).is_nan())
                .to_numpy()).all(), c


def _expected(signals: pl.DataFrame) -> dict[str, pl.DataFrame]:
    flagged = pl.any_horizontal([pl.col(c).fill_null(False) for c in
                                 ("flag_evans", "flag_ror025", "flag_ic025", "flag_eb05")])
    every = signals.filter(pl.col("subset") == "all")
    mine = signals.filter(pl.col("drug") == DRUG)
    return {
        "group_signals": every.filter(pl.col("level") == "group"),
        "domain_signals": every.filter(pl.col("level") == "domain"),
        "pt_signals": mine.filter((pl.col("level") == "pt") & (pl.col("subset") == "all") & flagged),
        "subset_signals": mine.filter(pl.col("level").is_in(["group", "domain"]) & (pl.col("subset") != "all")),
    }


def test_xlsx_sheets_equal_the_signal_table(store):
    path = store["reports"] / f"{DRUG}.xlsx"
    from openpyxl import load_workbook

    names = load_workbook(path, read_only=True).sheetnames
    assert names[0] == "about" and names[-1] == "provenance"
    assert {"funnel", "case_counts", "group_signals", "trend"} <= set(names)
    about = load_workbook(path, read_only=True)["about"]
    assert about["A1"].value == "SIMULATED DATA - NOT FOR REGULATORY DECISIONS"
    for sheet, want in _expected(store["signals"]).items():
        got = _xlsx_sheet(path, sheet, store["signals"].schema)
        assert got.columns == ["data_origin", *store["signals"].columns]
        assert set(got["data_origin"]) == {SIMULATED}
        _assert_same_rows(got.drop("data_origin"), want, float_rel=1e-15)


def test_csv_files_equal_the_signal_table(store):
    folder = store["reports"] / f"{DRUG}_csv"
    for name, want in _expected(store["signals"]).items():
        got = pl.read_csv(folder / f"{name}.csv", schema={"data_origin": pl.String, **store["signals"].schema})
        assert set(got["data_origin"]) == {SIMULATED}
        _assert_same_rows(got.drop("data_origin"), want)  # exact: CSV floats round-trip


def test_every_csv_and_sheet_says_simulated_with_filters_and_whole_headers(store):
    """Issue 12 item 6: a CSV file or a sheet taken out of the report still says SIMULATED."""
    from openpyxl import load_workbook

    csvs = sorted((store["reports"] / f"{DRUG}_csv").glob("*.csv"))
    assert len(csvs) >= 8
    for path in csvs:
        frame = pl.read_csv(path, infer_schema=False)
        untriaged = path.name == "signal_status.csv"  # no triage record yet in this store: header only
        assert frame.columns[0] == "data_origin" and (frame.height > 0 or untriaged), path.name
        assert set(frame["data_origin"]) == ({SIMULATED} if frame.height else set()), path.name
    book = load_workbook(store["reports"] / f"{DRUG}.xlsx")
    for sheet in book.worksheets:
        assert sheet.sheet_properties.tabColor.rgb.endswith("B00020"), sheet.title
        assert "SIMULATED DATA - NOT FOR REGULATORY DECISIONS" in sheet.oddHeader.center.text, sheet.title
        if sheet.title == "about":
            continue
        header = [c.value for c in sheet[1]]
        origins = {c.value for c in sheet["A"][1:]}
        assert header[0] == "data_origin" and (origins == {SIMULATED} or (sheet.title == "signal_status" and
                                                                         origins <= {SIMULATED})), sheet.title
        tables = list(sheet.tables.values())
        assert len(tables) == 1 and tables[0].autoFilter is not None, sheet.title
        assert sheet.freeze_panes == "A2" and all(c.font.b and c.alignment.wrap_text for c in sheet[1])
        widths = {i: d.width for d in sheet.column_dimensions.values() for i in range(d.min, d.max + 1)}
        for i, name in enumerate(header, start=1):  # every header shown whole (width in characters)
            assert widths.get(i, 0) >= len(name), (sheet.title, name, widths.get(i))


def test_provenance_hashes_are_the_manifests_and_the_files(store):
    home = store["home"]
    record = json.loads((store["reports"] / f"{DRUG}_csv" / "provenance.json").read_text())
    con = sqlite3.connect(home.manifest)
    manifest = dict(con.execute("SELECT source, source_sha256 FROM quarters").fetchall())
    con.close()
    assert {s["source"]: s["sha256"] for s in record["sources"]} == manifest
    assert manifest == {p.name: _sha256(p) for p in store["sim"].glob("*.zip")}
    assert {s["origin"] for s in record["sources"]} == {SIMULATED}
    for f in record["files_read"]:
        assert _sha256(home.root / f["path"]) == f["sha256"], f["path"]
    assert {"cases/funnel.parquet", f"signals/{store['run_dir'].name}/signals.parquet"} <= {
        f["path"] for f in record["files_read"]}
    assert record["signal_run"] == json.loads((store["run_dir"] / "run.json").read_text())
    assert record["cases_build"]["seeds"] == json.loads((home.cases / "build.json").read_text())["seeds"]
    # the XLSX provenance sheet carries the same hashes
    sheet = _xlsx_sheet(store["reports"] / f"{DRUG}.xlsx", "provenance", {})
    values = dict(sheet.select("key", "value").iter_rows())
    for i, s in enumerate(record["sources"]):
        assert json.loads(values[f"sources[{i}].sha256"]) == manifest[s["source"]]


def test_case_counts_add_up_to_the_signal_tables_drug_reports(store):
    counts = pl.read_csv(store["reports"] / f"{DRUG}_csv" / "case_counts.csv")
    row = store["signals"].filter((pl.col("drug") == DRUG) & (pl.col("level") == "group")
                                  & (pl.col("subset") == "all")).row(0, named=True)
    total = counts.filter(pl.col("dimension") == "total")["cases"].item()
    assert total == row["a"] + row["b"]
    for dim in ("sex", "age_band"):  # case attributes: every case in exactly one value
        assert counts.filter(pl.col("dimension") == dim)["cases"].sum() == total
    funnel = pl.read_csv(store["reports"] / f"{DRUG}_csv" / "funnel.csv")
    truth = pl.read_parquet(store["home"].cases / "funnel.parquet").filter(pl.col("quarter") == "total")
    assert dict(truth.select("stage", "count").iter_rows()) == {
        k: v for k, v in funnel.filter(pl.col("quarter") == "total").row(0, named=True).items() if k not in ("quarter", "data_origin")}


def test_rerun_and_out_folder_give_the_same_bytes(store, tmp_path):
    def files(folder):  # through the CSV folder's pointer, not its hidden versions (pv.atomic)
        found = {}
        for root, dirs, names in os.walk(folder, followlinks=True):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            found |= {(Path(root) / n).relative_to(folder): (Path(root) / n).read_bytes() for n in names}
        return found

    before = files(store["reports"])
    write_report(store["home"], "Baclofen")
    after = files(store["reports"])
    assert {p.parts[0] for p in after} == {f"{DRUG}.pdf", f"{DRUG}.xlsx", f"{DRUG}_csv"}
    assert after == before
    out = subprocess.run([sys.executable, "-m", "pv.cli", "report", "--drug", DRUG, "--format", "xlsx,pdf",
                          "--out", str(tmp_path / "elsewhere"), "--run", store["run_dir"].name,
                          "--home", str(store["home"].root)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == [f"{DRUG}.pdf", f"{DRUG}.xlsx"]
    for name in (f"{DRUG}.pdf", f"{DRUG}.xlsx"):
        assert (tmp_path / "elsewhere" / name).read_bytes() == before[Path(name)]
    assert not list((tmp_path / "elsewhere").glob(".*"))  # no temporary files left behind


def _cli_error(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "pv.cli", "report", *args], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pvmon: error: "), out.stderr
    return lines[0]


def test_unknown_drug_and_missing_files_are_one_line_errors(store, tmp_path):
    line = _cli_error("--drug", "nosuchdrug", "--home", str(store["home"].root))
    assert "nosuchdrug" in line and "signals.parquet" in line and DRUG in line
    assert "no signals run" in _cli_error("--drug", DRUG, "--home", str(tmp_path / "empty"))
    broken = tmp_path / "broken"
    (broken / "signals" / "R1").mkdir(parents=True)
    (broken / "signals" / "R1" / "signals.parquet").write_bytes((store["run_dir"] / "signals.parquet").read_bytes())
    assert "run.json" in _cli_error("--drug", DRUG, "--run", "R1", "--home", str(broken))
    assert "unknown format docx" in _cli_error("--drug", DRUG, "--format", "docx", "--home", str(store["home"].root))


def test_data_source_comes_from_the_manifest(store, tmp_path):
    source = data_origin(store["home"])
    assert (source.label, source.simulated, source.fda) == (
        SIMULATED, ["2024Q1", "2024Q2", "2024Q3", "2024Q4"], [])
    assert data_origin(Home.at(tmp_path)).label == EMPTY


@pytest.mark.parametrize("fda_quarters, mark, banner", [
    (["2024Q1"], 0, "MIXED STORE: CONTAINS SIMULATED DATA"),  # one quarter marked FDA in the manifest
    (["2024Q1", "2024Q2", "2024Q3", "2024Q4"], 0, None),       # all FDA: no banner at all
    (["2024Q1"], None, "DATA ORIGIN NOT RECORDED - MAY CONTAIN SIMULATED DATA"),  # ingested by an older pvmon
])
def test_banner_follows_the_manifests_origin_marks(store, tmp_path, poppler, fda_quarters, mark, banner):
    import shutil

    home = Home.at(tmp_path / "copy")
    shutil.copytree(store["home"].root, home.root, ignore=shutil.ignore_patterns("reports", "simulated", "staged"))
    con = sqlite3.connect(home.manifest)
    con.executemany("UPDATE quarters SET simulated = ? WHERE quarter = ?", [(mark, q) for q in fda_quarters])
    con.commit()
    con.close()
    pdf = write_report(home, DRUG, "pdf")["pdf"]
    text = subprocess.run([str(poppler["pdftotext"]), str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = [p for p in text.split("\f") if p.strip()]
    if banner:
        assert all(banner in p for p in pages)
    else:
        assert "SIMULATED" not in text and "FDA FAERS quarterly ASCII extracts" in " ".join(pages[0].split())
