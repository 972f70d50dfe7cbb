"""The reader on handmade files: every era's layout, the quirks and the repair rules."""

from __future__ import annotations

import polars as pl
import pytest

from pv.errors import PvError
from pv.faers import layouts
from pv.faers.reader import open_table, read_table


def legacy(table: str, rows: list[str], demo_cols=None) -> bytes:
    header = "$".join(layouts.LAERS[table] if demo_cols is None else demo_cols)
    return ("\n".join([header, *rows]) + "\n").encode("latin-1")


def current(table: str, rows: list[str], eol: str = "\n") -> bytes:
    return (eol.join(["$".join(layouts.CURRENT[table]), *rows]) + eol).encode()


def drug_legacy(isr: int, seq: int, name: str) -> str:
    return f"{isr}${seq}$PS${name}$1$ORAL$10 MG$Y$N$$$018499$"


def test_legacy_drug_maps_to_current_names_and_drops_trailing_dollar():
    r = read_table(legacy("DRUG", [drug_legacy(5000001, 1, "BACLOFEN"), drug_legacy(5000002, 2, "LIORESAL")]),
                   "DRUG", "2011Q2", "DRUG11Q2.TXT")
    f = r.frame
    assert r.era == "laers" and r.lines_read == r.lines_clean == 2
    assert f["primaryid"].to_list() == ["5000001", "5000002"]
    assert f["caseid"].null_count() == 2 and f["prod_ai"].null_count() == 2
    assert f["drugname"].to_list() == ["BACLOFEN", "LIORESAL"]
    assert f["nda_num"].to_list() == ["018499", "018499"]  # text, leading zero kept
    assert f.columns == list(layouts.CURRENT["DRUG"]) + ["quarter", "era", "source_file", "source_line"]


def test_legacy_demo_keeps_extra_columns_and_short_2004_layout():
    cols = layouts.LAERS["DEMO"][:-1]  # 2004Q1-2005Q2: no REPORTER_COUNTRY
    row = "4000001$40000$I$$IMG1$20040101$$20040115$EXP$M1$ACME$45$YR$M$Y$70$KG$20040110$MD$$N$N$"
    r = read_table(legacy("DEMO", [row], cols), "DEMO", "2004Q1", "DEMO04Q1.TXT")
    d = r.frame.row(0, named=True)
    assert (d["primaryid"], d["caseid"], d["sex"], d["i_f_code"], d["caseversion"]) == ("4000001", "40000", "M", "I", None)
    assert (d["image"], d["confid"], d["reporter_country"]) == ("IMG1", "N", None)
    assert r.frame.columns[-7:] == ["image", "death_dt", "confid", "quarter", "era", "source_file", "source_line"]


def test_latin1_file_falls_back_and_tabs_backspaces_survive():
    rows = [drug_legacy(1, 1, "CAF\xc9INE"), drug_legacy(2, 2, "A\tB\x08C")]
    r = read_table(legacy("DRUG", rows), "DRUG", "2012Q3", "DRUG12Q3.TXT")
    assert r.encoding == "latin-1"
    assert r.frame["drugname"].to_list() == ["CAF\u00c9INE", "A\tB\x08C"]


def test_crlf_bom_and_quotes():
    rows = ['1001$10$1$PS$"QUOTED\' #1$$1$ORAL$$$$$$$$$$$$']
    data = b"\xef\xbb\xbf" + current("DRUG", rows, eol="\r\n")
    r = read_table(data, "DRUG", "2020Q1", "DRUG20Q1.txt")
    assert r.frame["drugname"].to_list() == ['"QUOTED\' #1']
    assert r.frame["primaryid"].to_list() == ["1001"]


def test_two_records_on_one_legacy_line_are_split():
    glued = drug_legacy(7000001, 11, "ASPIRIN") + drug_legacy(7000002, 12, "BACLOFEN")
    rows = [drug_legacy(7000000, 10, "X"), glued, drug_legacy(7000003, 13, "Y")]
    r = read_table(legacy("DRUG", rows), "DRUG", "2011Q2", "DRUG11Q2.TXT")
    assert r.frame["primaryid"].to_list() == ["7000000", "7000001", "7000002", "7000003"]
    assert r.frame["source_line"].to_list() == [2, 3, 3, 4]
    assert (r.lines_read, r.lines_clean, r.lines_repaired, r.rows_staged) == (3, 2, 1, 4)
    assert r.repairs == [(3, "two_records", 2)]


def test_two_records_on_one_faers_line_split_at_the_caseid():
    a = "10004694310$100046943$1$PS$BACLOFEN$BACLOFEN$1$ORAL$$$$$$$$$10$MG$TABLET$TID"
    b = "2000003$200000$1$C$ASPIRIN$ASPIRIN$1$ORAL$$$$$$$$$$$$QD"
    r = read_table(current("DRUG", [a + b]), "DRUG", "2020Q1", "DRUG20Q1.txt")
    assert r.frame["primaryid"].to_list() == ["10004694310", "2000003"]
    assert r.frame["dose_freq"].to_list() == ["TID", "QD"]
    assert r.repairs == [(2, "two_records", 2)]


def test_dollar_in_value_is_quarantined_with_raw_bytes():
    good = "9000001$900000$1$I$$20120101$20120105$20120110$EXP$$JP-1$CUBIST$$$$$$Y$$$20120110$$MD$JP$JP"
    bad = "9000002$900001$1$I$$20120101$20120105$20120110$EXP$$JP-CUBIST-$E2B0000000182$CUBIST$$$$$$Y$$$20120110$$MD$JP$JP"
    r = read_table(current("DEMO", [good, bad]), "DEMO", "2015Q1", "DEMO15Q1.txt")
    assert r.frame["primaryid"].to_list() == ["9000001"]
    q = r.quarantine.row(0, named=True)
    assert (q["line"], q["table"], q["raw"]) == (3, "demo", bad.encode())
    assert q["reason"].startswith("too many fields")
    assert (r.lines_read, r.lines_clean, r.lines_quarantined) == (2, 1, 1)


def test_legacy_record_split_by_newline_is_joined():
    full = "4000001$40000$I$$$20040101$$20040115$EXP$M1$ACME$45$YR$M$Y$70$KG$20040110$MD$$N$N$JAPAN$"
    head, tail = full[:40], full[40:]
    rows = [full.replace("4000001", "4000000"), head, tail, "short$line$"]
    r = read_table(legacy("DEMO", rows), "DEMO", "2008Q1", "DEMO08Q1.TXT")
    assert r.frame["primaryid"].to_list() == ["4000000", "4000001"]
    joined = r.frame.row(1, named=True)
    split_at = full[:40].count("$")
    assert joined[r.frame.columns[split_at]] is not None
    assert "\n" in "".join(v for v in joined.values() if isinstance(v, str))
    assert r.repairs == [(3, "split_record", 1)]
    assert (r.lines_read, r.lines_clean, r.lines_repaired, r.lines_quarantined) == (4, 1, 2, 1)
    assert r.quarantine["line"].to_list() == [5]


def test_empty_line_inside_a_table_is_quarantined():
    r = read_table(current("OUTC", ["1$1$DE", "", "2$2$HO"]), "OUTC", "2020Q1", "OUTC20Q1.txt")
    assert r.frame["outc_cod"].to_list() == ["DE", "HO"]
    assert r.quarantine["reason"].to_list() == ["empty line"]


@pytest.mark.parametrize(
    "data,reason",
    [(b"", "empty file"),
     (b"primaryid,caseid,outc_cod\n1,1,DE\n", "wrong delimiter (found ',')"),
     (b"primaryid\tcaseid\toutc_cod\n", "wrong delimiter (found tab)"),
     (b"primaryid$caseid$outcome\n1$1$DE\n", "unknown header"),
     (b"primaryid$caseid$rpsr_cod\n1$1$FGN\n", "header is a RPSR header but the file name says OUTC")],
)
def test_bad_files_raise_one_line_errors(data, reason):
    with pytest.raises(PvError) as err:
        read_table(data, "OUTC", "2020Q1", "x.zip!OUTC20Q1.txt")
    assert str(err.value).startswith("x.zip!OUTC20Q1.txt: ") and reason in str(err.value)
    assert "\n" not in str(err.value)


def test_header_only_file_has_no_rows():
    r = read_table(current("RPSR", []), "RPSR", "2020Q1", "RPSR20Q1.txt")
    assert r.frame.height == 0 and r.lines_read == 0
    assert isinstance(r.frame, pl.DataFrame)


def test_broken_first_line_takes_the_slow_path():
    full = "4000001$40000$I$$$20040101$$20040115$EXP$M1$ACME$45$YR$M$Y$70$KG$20040110$MD$$N$N$JAPAN$"
    r = read_table(legacy("DEMO", [full[:30], full[30:], full.replace("4000001", "4000002")]),
                   "DEMO", "2008Q1", "DEMO08Q1.TXT")
    assert r.frame["primaryid"].to_list() == ["4000001", "4000002"]
    assert r.repairs == [(2, "split_record", 1)]


def test_rows_with_a_trailing_dollar_under_a_header_without_one():
    r = read_table(current("OUTC", ["1$1$DE$", "2$2$$"]), "OUTC", "2013Q2", "OUTC13Q2.txt")
    assert r.frame["outc_cod"].to_list() == ["DE", None]
    assert (r.lines_read, r.lines_clean) == (2, 2)


def test_utf8_stays_utf8_and_latin1_runs_are_transcoded_in_place():
    rows = ["1$1$D\u00c9J\u00c0 VU", "2$2$\u00e9\u00e8\u00ea"]
    r = read_table(b"\xef\xbb\xbf" + current("OUTC", rows), "OUTC", "2020Q1", "OUTC20Q1.txt")
    assert r.encoding == "utf-8" and r.frame["outc_cod"].to_list() == ["D\u00c9J\u00c0 VU", "\u00e9\u00e8\u00ea"]
    data = current("OUTC", ["1$1$\u00c9A", "2$2$OK", "3$3$\u00e9\u00e8"]).decode().encode("latin-1")
    r = read_table(data, "OUTC", "2020Q1", "OUTC20Q1.txt")
    assert r.encoding == "latin-1" and r.frame["outc_cod"].to_list() == ["\u00c9A", "OK", "\u00e9\u00e8"]


def slices_of(monkeypatch, size: int) -> None:
    from pv.faers import reader

    monkeypatch.setattr(reader, "SLICE_BYTES", size)


def test_slices_give_the_same_rows_and_line_numbers(monkeypatch):
    rows = [f"{i}${i * 10}$DE" for i in range(1, 400)]
    whole = read_table(current("OUTC", rows, eol="\r\n"), "OUTC", "2020Q1", "OUTC20Q1.txt")
    slices_of(monkeypatch, 64)
    sliced = open_table(current("OUTC", rows, eol="\r\n"), "OUTC", "2020Q1", "OUTC20Q1.txt")
    parts = list(sliced.parts)
    assert len(parts) > 10 and all(p is not None for p in parts)
    assert pl.concat(parts).equals(whole.frame)
    assert whole.frame["source_line"].to_list() == list(range(2, 401))
    assert (sliced.lines_read, sliced.lines_clean, sliced.rows_staged) == (399, 399, 399)


def test_a_late_slice_with_too_long_and_too_short_lines_goes_alone_through_the_slow_path(monkeypatch):
    rows = [f"{i}${i * 10}$DE" for i in range(1, 200)]
    rows[150] = "151$1510$D$E"  # one field too many ...
    rows[151] = "152$1520DE"  # ... and one too few: the slice's `$` count is right
    data = current("OUTC", rows)
    whole = read_table(data, "OUTC", "2020Q1", "OUTC20Q1.txt")
    slices_of(monkeypatch, 1000)
    r = open_table(data, "OUTC", "2020Q1", "OUTC20Q1.txt")
    parts = list(r.parts)
    assert len(parts) >= 3 and all(p is not None for p in parts)  # no restart: only that slice is read line by line
    staged = pl.concat(parts)
    assert staged["source_line"].to_list() == [n for n in range(2, 201) if n not in (152, 153)]
    assert r.quarantine["line"].to_list() == [152, 153]
    assert (r.lines_read, r.lines_clean, r.lines_quarantined, r.rows_staged) == (199, 197, 2, 197)
    assert whole.frame.equals(staged) and whole.quarantine.equals(r.quarantine)


def streamed(data: bytes, piece: int):
    """``data`` as a re-openable stream of ``piece``-byte chunks (as Extract.opener gives)."""
    return lambda: (data[i:i + piece] for i in range(0, len(data), piece))


def same_read(a, b) -> None:
    assert a.frame.equals(b.frame) and a.quarantine.equals(b.quarantine)
    counts = ("encoding", "lines_read", "lines_clean", "lines_repaired", "lines_quarantined", "lines_blank",
              "rows_staged", "repairs")
    assert [getattr(a, c) for c in counts] == [getattr(b, c) for c in counts]


def test_a_record_split_across_a_slice_boundary_is_kept_together(monkeypatch):
    """Rule split_record: the short first half ending a slice pulls its second half along."""
    base = "4000001$40000$I$$$20040101$$20040115$EXP$M1$ACME$45$YR$M$Y$70$KG$20040110$MD$$N$N$JAPAN$"
    rows = [base.replace("4000001", str(4000000 + i)) for i in range(1, 120)]
    full = rows[60]
    rows[60:61] = [full[:30], full[30:]]
    data = legacy("DEMO", rows)
    whole = read_table(data, "DEMO", "2008Q1", "DEMO08Q1.TXT")
    assert whole.repairs == [(62, "split_record", 1)] and whole.lines_quarantined == 0
    cut_at = data.index(full[:30].encode()) + 30 - data.index(b"\n") - 1  # the body offset of the cut
    slices_of(monkeypatch, cut_at)  # a slice would end right after the first half
    for piece in (7, 100, 1 << 20):
        same_read(whole, read_table(streamed(data, piece), "DEMO", "2008Q1", "DEMO08Q1.TXT"))


def test_utf8_early_and_an_undecodable_byte_late_start_again_as_latin1(monkeypatch):
    rows = [f"{i}${i}$D\u00c9" for i in range(1, 300)]
    data = current("OUTC", rows)
    data = data[:-20] + b"\xff" + data[-19:]  # not UTF-8, far from the start
    whole = read_table(data, "OUTC", "2020Q1", "OUTC20Q1.txt")
    assert whole.encoding == "latin-1" and whole.frame["outc_cod"][0] == "D\u00c3\u0089"
    slices_of(monkeypatch, 500)
    r = open_table(streamed(data, 333), "OUTC", "2020Q1", "OUTC20Q1.txt")
    parts = list(r.parts)
    restart = [k for k, p in enumerate(parts) if p is None]
    assert len(restart) == 1 and restart[0] > 0
    assert pl.concat(parts[restart[0] + 1:]).equals(whole.frame) and r.encoding == "latin-1"


def test_rows_with_a_trailing_dollar_until_a_late_slice_start_again(monkeypatch):
    """Rule rows_trailing_dollar holds only when every row ends in `$`: a late row without it
    voids the slices read so far and the file is read by its header."""
    rows = [f"{i}${i}$DE$" for i in range(1, 300)]
    rows[250] = "251$251$DE"
    data = current("OUTC", rows)
    whole = read_table(data, "OUTC", "2020Q1", "OUTC20Q1.txt")
    assert whole.lines_clean == 1 and whole.lines_quarantined == 298
    slices_of(monkeypatch, 400)
    r = open_table(streamed(data, 1000), "OUTC", "2020Q1", "OUTC20Q1.txt")
    parts = list(r.parts)
    assert sum(p is None for p in parts) == 1
    same_read(whole, read_table(streamed(data, 1000), "OUTC", "2020Q1", "OUTC20Q1.txt"))
    rows[250] = "251$251$DE$"  # every row: the rule applies, slice by slice
    data = current("OUTC", rows)
    r = read_table(streamed(data, 1000), "OUTC", "2020Q1", "OUTC20Q1.txt")
    assert (r.lines_clean, r.rows_staged, r.lines_quarantined) == (299, 299, 0)


def test_a_line_longer_than_the_limit_refuses_the_file(monkeypatch):
    from pv.faers import reader

    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 1000)
    data = current("OUTC", ["1$1$DE", "2$2$" + "X" * 5000, "3$3$HO"])
    with pytest.raises(PvError, match=r"^OUTC20Q1.txt: a line longer than 1000 bytes \(not a FAERS table\)$"):
        read_table(streamed(data, 64), "OUTC", "2020Q1", "OUTC20Q1.txt")


def test_a_file_of_broken_lines_is_refused_before_its_quarantine_fills_memory(monkeypatch):
    from pv.faers import reader

    monkeypatch.setattr(reader, "BROKEN_LINES_MAX", 50)
    monkeypatch.setattr(reader, "SLICE_BYTES", 64)
    data = current("OUTC", ["1$1$DE"] + ["x"] * 200)
    with pytest.raises(PvError, match=r"^OUTC20Q1.txt: more than 50 broken lines by line \d+ \(not a FAERS table\?\)$"):
        read_table(streamed(data, 10), "OUTC", "2020Q1", "OUTC20Q1.txt")
    assert read_table(current("OUTC", ["1$1$DE"] + ["x"] * 50), "OUTC", "2020Q1", "OUTC20Q1.txt").lines_quarantined == 50


def test_a_line_starting_with_a_bom_keeps_it_whatever_the_slices(monkeypatch):
    """The parser drops a BOM at the start of its input: a slice never starts on such a line
    (found by bench/fuzz_reader.py, seed 7)."""
    data = bytes.fromhex("efbbbf495352244f5554435f434f44240aefbbbf495352244f5554435f434f44240a"
                         "efbbbf495352244f5554435f434f4424")  # BOM + legacy OUTC header, then twice BOM + it again
    whole = read_table(data, "OUTC", "2008Q2", "OUTC08Q2.TXT")
    assert whole.frame["primaryid"].to_list() == ["\ufeffISR", "\ufeffISR"]
    slices_of(monkeypatch, 8)
    for piece in (1, 2, 32):
        same_read(whole, read_table(streamed(data, piece), "OUTC", "2008Q2", "OUTC08Q2.TXT"))
