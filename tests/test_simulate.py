"""The FAERS simulator, checked on its bytes with plain Python (no pvmon reader code).

Headers are written out here by hand from faers-format.md, not computed from layouts.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from pv.faers.simulate import simulate

LEGACY = {
    "DEMO": "ISR$CASE$I_F_COD$FOLL_SEQ$IMAGE$EVENT_DT$MFR_DT$FDA_DT$REPT_COD$MFR_NUM$MFR_SNDR$AGE$AGE_COD$"
            "GNDR_COD$E_SUB$WT$WT_COD$REPT_DT$OCCP_COD$DEATH_DT$TO_MFR$CONFID$REPORTER_COUNTRY",
    "DRUG": "ISR$DRUG_SEQ$ROLE_COD$DRUGNAME$VAL_VBM$ROUTE$DOSE_VBM$DECHAL$RECHAL$LOT_NUM$EXP_DT$NDA_NUM",
    "REAC": "ISR$PT", "OUTC": "ISR$OUTC_COD", "RPSR": "ISR$RPSR_COD",
    "THER": "ISR$DRUG_SEQ$START_DT$END_DT$DUR$DUR_COD", "INDI": "ISR$DRUG_SEQ$INDI_PT",
}
EARLY = {
    "DEMO": "primaryid$caseid$caseversion$i_f_code$event_dt$mfr_dt$init_fda_dt$fda_dt$rept_cod$mfr_num$mfr_sndr$"
            "age$age_cod$gndr_cod$e_sub$wt$wt_cod$rept_dt$to_mfr$occp_cod$reporter_country$occr_country",
    "DRUG": "primaryid$caseid$drug_seq$role_cod$drugname$val_vbm$route$dose_vbm$cum_dose_chr$cum_dose_unit$"
            "dechal$rechal$lot_num$exp_dt$nda_num$dose_amt$dose_unit$dose_form$dose_freq",
    "REAC": "primaryid$caseid$pt", "OUTC": "primaryid$caseid$outc_cod", "RPSR": "primaryid$caseid$rpsr_cod",
    "THER": "primaryid$caseid$dsg_drug_seq$start_dt$end_dt$dur$dur_cod",
    "INDI": "primaryid$caseid$indi_drug_seq$indi_pt",
}
CURRENT = {
    "DEMO": "primaryid$caseid$caseversion$i_f_code$event_dt$mfr_dt$init_fda_dt$fda_dt$rept_cod$auth_num$mfr_num$"
            "mfr_sndr$lit_ref$age$age_cod$age_grp$sex$e_sub$wt$wt_cod$rept_dt$to_mfr$occp_cod$reporter_country$"
            "occr_country",
    "DRUG": "primaryid$caseid$drug_seq$role_cod$drugname$prod_ai$val_vbm$route$dose_vbm$cum_dose_chr$"
            "cum_dose_unit$dechal$rechal$lot_num$exp_dt$nda_num$dose_amt$dose_unit$dose_form$dose_freq",
    "REAC": "primaryid$caseid$pt$drug_rec_act", "OUTC": "primaryid$caseid$outc_cod",
    "RPSR": "primaryid$caseid$rpsr_cod", "THER": "primaryid$caseid$dsg_drug_seq$start_dt$end_dt$dur$dur_cod",
    "INDI": "primaryid$caseid$indi_drug_seq$indi_pt",
}
TABLES = ("DEMO", "DRUG", "REAC", "OUTC", "RPSR", "THER", "INDI")
MEMBER = re.compile(r"(^|/)(DEMO|DRUG|REAC|OUTC|RPSR|THER|INDI)\d\dq\d(_new)?\.txt$", re.I)

RUNS = {  # name -> (quarters, reports per quarter): together they cover every era and quirk
    "legacy": ("2005Q2..2005Q3", 300),
    "eras": ("2011Q4..2013Q1", 300),
    "deleted": ("2018Q1..2019Q2", 250),
    "recent": ("2024Q3..2025Q3", 300),
}


@pytest.fixture(scope="module")
def sims(tmp_path_factory) -> dict[str, Path]:
    out = {}
    for name, (quarters, n) in RUNS.items():
        d = tmp_path_factory.mktemp(name)
        simulate(d, quarters, n, seed=11, jobs=1)
        out[name] = d
    return out


def era(y: int, q: int) -> str:
    return "laers" if (y, q) <= (2012, 3) else "faers_early" if (y, q) <= (2014, 2) else "faers"


def members(zpath: Path) -> dict[str, tuple[str, bytes]]:
    """table -> (member path, raw bytes) of one zip."""
    out = {}
    with zipfile.ZipFile(zpath) as zf:
        for name in zf.namelist():
            m = MEMBER.search(name)
            if m:
                out[m.group(2).upper()] = (name, zf.read(name))
    return out


def lines(raw: bytes) -> list[str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    text = raw.decode("latin-1")
    assert text.endswith("\n")
    return [ln[:-1] if ln.endswith("\r") else ln for ln in text[:-1].split("\n")]


def zips(d: Path) -> list[tuple[int, int, Path]]:
    out = []
    for p in sorted(d.glob("*.zip")):
        m = re.match(r"f?aers_ascii_(\d{4})[qQ]([1-4])\.zip$", p.name)
        assert m, p.name
        out.append((int(m.group(1)), int(m.group(2)), p))
    return out


def truth(d: Path) -> list[dict]:
    with open(d / "ground_truth.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["kind", "quarter", "table", "file", "line", "caseid", "primaryid", "drug", "event",
                             "subset", "value", "detail"]
    return rows


def expected_header(table: str, y: int, q: int) -> str:
    e = era(y, q)
    if e == "laers":
        h = LEGACY[table]
        return h.removesuffix("$REPORTER_COUNTRY") if table == "DEMO" and (y, q) < (2005, 3) else h
    if e == "faers_early":
        h = EARLY[table]
        if (y, q) == (2012, 4):
            h = h.replace("$rept_dt", "$ rept_dt").replace("lot_num", "lot_nbr").replace("outc_cod", "outc_code")
        if (y, q) == (2013, 1):
            h = h.replace("$rept_dt", "$ rept_dt")
        return h
    return CURRENT[table]


def read_table(d: Path) -> tuple[dict, dict]:
    """Records of every table: {(quarter, table): [fields]} repaired as the ground truth says,
    plus the broken-line truth by (file, line)."""
    broken = {(t["file"], int(t["line"])): t for t in truth(d) if t["kind"] == "broken_line"}
    recs = {}
    for y, q, z in zips(d):
        for table, (name, raw) in members(z).items():
            n = len(expected_header(table, y, q).split("$")) + (1 if era(y, q) == "laers" else 0)
            ls = lines(raw)
            out, i = [], 1
            while i < len(ls):
                f = ls[i].split("$")
                b = broken.get((name, i + 1))
                if b is None:
                    assert len(f) == n, (name, i + 1, len(f), n)
                    out.append(f)
                elif b["detail"] == "two_records":
                    assert len(f) == 2 * n - 1
                    out += [f[: n - 1] + [""], f[n - 1:]]
                elif b["detail"] == "dollar_in_value":
                    assert len(f) == n + 1 and b["value"] == "quarantined"
                    recs.setdefault((f"{y}Q{q}", "QUARANTINED"), set()).add(f[0])
                    assert "$" in ls[i].split("$", 10)[-1] and b["caseid"] == ls[i].split("$")[1]
                elif b["detail"] == "split_record":
                    g = ls[i + 1].split("$")
                    assert len(f) < n and len(g) < n and len(f) + len(g) - 1 == n
                    out.append(f[:-1] + [f[-1] + "\n" + g[0]] + g[1:])
                    i += 1
                else:
                    raise AssertionError(b)
                i += 1
            if era(y, q) == "laers":
                assert all(r[-1] == "" for r in out)
                out = [r[:-1] for r in out]
            recs[(f"{y}Q{q}", table)] = out
    return recs, broken


def test_headers_exact_per_era(sims):
    seen = set()
    for d in sims.values():
        for y, q, z in zips(d):
            ms = members(z)
            assert sorted(ms) == sorted(TABLES)
            for table, (name, raw) in ms.items():
                assert raw.startswith(b"\xef\xbb\xbf") == ((y, q) == (2012, 4) and table == "DRUG"), name
                assert lines(raw)[0] == expected_header(table, y, q), name
                seen.add(era(y, q))
            if (y, q) == (2018, 1):
                assert all(n.endswith("_new.txt") for n, _ in ms.values())
            if (y, q) == (2012, 4):
                assert all(n.startswith("ascii/") and n == n.lower() for n, _ in ms.values())
    assert seen == {"laers", "faers_early", "faers"}
    names = {z.name for d in sims.values() for _, _, z in zips(d)}
    assert {"aers_ascii_2005q2.zip", "faers_ascii_2012Q4.zip", "faers_ascii_2013q1.zip"} <= names


def test_every_line_has_the_era_field_count_or_is_listed_broken(sims):
    kinds = Counter()
    for d in sims.values():
        _, broken = read_table(d)  # asserts each unlisted line's field count
        kinds.update(b["detail"] for b in broken.values())
        for (file, line), b in broken.items():
            assert b["table"] in ("DEMO", "DRUG") and line >= 2
    assert kinds["two_records"] >= 2 and kinds["split_record"] >= 2 and kinds["dollar_in_value"] >= 4


def test_keys_consistent_across_the_seven_tables(sims):
    for d in sims.values():
        recs, _ = read_table(d)
        quarters = {qq for qq, _ in recs}
        assert all((qq, "QUARANTINED") in recs for qq in quarters)
        for qq in quarters:
            y, q = int(qq[:4]), int(qq[5])
            legacy = era(y, q) == "laers"
            demo = recs[(qq, "DEMO")]
            pids = {r[0] for r in demo}
            assert len(pids) == len(demo)
            lost = recs[(qq, "QUARANTINED")]
            assert not lost & pids
            if not legacy:  # primaryid = caseid and caseversion written together
                assert all(r[0] == r[1] + r[2] for r in demo)
            drug_keys = {(r[0], r[1 if legacy else 2]) for r in recs[(qq, "DRUG")]}
            for table in TABLES[1:]:
                rows = recs[(qq, table)]
                assert rows, (qq, table)
                assert {r[0] for r in rows} <= pids | lost, (qq, table)
                if not legacy:
                    case_of = {r[0]: r[1] for r in demo}
                    assert all(case_of[r[0]] == r[1] for r in rows if r[0] not in lost)
            for table in ("THER", "INDI"):
                seq = 1 if legacy else 2
                assert {(r[0], r[seq]) for r in recs[(qq, table)]} <= drug_keys, (qq, table)
            if (y, q) >= (2024, 4):  # one drug over several rows
                c = Counter((r[0], r[2]) for r in recs[(qq, "DRUG")])
                assert max(c.values()) > 1


def positive(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


def _funnel_from_bytes(d: Path) -> dict[tuple[str, str], int]:
    """faers-format.md dedup rules 1-2 plus the AEOLUS duplicate flag, recomputed here."""
    recs, _ = read_table(d)
    deleted = set()
    for _, _, z in zips(d):
        with zipfile.ZipFile(z) as zf:
            for n in zf.namelist():
                if n.lower().startswith("deleted/"):
                    deleted |= {x.strip() for x in zf.read(n).decode().split("\n") if x.strip()}
    reports = []
    for (qq, table), rows in recs.items():
        if table != "DEMO":
            continue
        legacy = era(int(qq[:4]), int(qq[5])) == "laers"
        drugs, pts = defaultdict(set), defaultdict(set)
        for r in recs[(qq, "DRUG")]:
            drugs[r[0]].add(r[3 if legacy else 4].strip().upper())
        for r in recs[(qq, "REAC")]:
            pts[r[0]].add(r[1 if legacy else 2].lower())
        for r in rows:
            if legacy:
                rec = dict(pid=r[0], case=r[1], ver=int(r[3] or 0), fda=r[7], ev=r[5], age=(r[11], r[12]),
                           sex=r[13], ctry=r[22] if len(r) > 22 else "")
            else:
                early = len(r) == 22
                a = 11 if early else 13
                rec = dict(pid=r[0], case=r[1], ver=int(r[2]), fda=r[7], ev=r[4], age=(r[a], r[a + 1]),
                           sex=r[13 if early else 16], ctry=r[20 if early else 23])
            rec.update(q=qq, drugs=frozenset(drugs[r[0]]), pts=frozenset(pts[r[0]]))
            reports.append(rec)
    best = {}
    for r in reports:
        k = (r["ver"], r["fda"], r["q"], int(r["pid"]))
        if r["case"] not in best or k > best[r["case"]][0]:
            best[r["case"]] = (k, r)
    latest = [r for _, r in best.values()]
    kept = [r for r in latest if r["case"] not in deleted]
    groups = defaultdict(list)
    for r in kept:
        if (r["ev"] and positive(r["age"][0]) and r["age"][1] and r["sex"] in ("M", "F")
                and r["ctry"] not in ("", "COUNTRY NOT SPECIFIED") and r["drugs"] and r["pts"]):
            groups[(r["ev"], r["age"], r["sex"], r["ctry"], r["drugs"], r["pts"])].append(int(r["case"]))
    flagged = {str(c) for g in groups.values() for c in sorted(g)[1:]}
    undup = [r for r in kept if r["case"] not in flagged]
    out = Counter()
    for stage, rs in (("reports_read", reports), ("latest_version", latest), ("after_deleted", kept),
                      ("after_dup_flag", undup)):
        for r in rs:
            out[(r["q"], stage)] += 1
            out[("total", stage)] += 1
    return out


def test_funnel_truth_matches_an_independent_dedup(sims):
    for name, d in sims.items():
        expect = {(t["quarter"], t["detail"]): int(t["value"]) for t in truth(d) if t["kind"] == "funnel"}
        got = _funnel_from_bytes(d)
        assert expect == dict(got), name
        assert expect[("total", "reports_read")] > expect[("total", "latest_version")], name


def test_versions_deletions_and_duplicates_are_planted(sims):
    # follow-ups in later quarters, two versions in one quarter, legacy cases continued in FAERS
    recs, _ = read_table(sims["eras"])
    versions = defaultdict(list)
    for (qq, table), rows in recs.items():
        if table == "DEMO":
            legacy = era(int(qq[:4]), int(qq[5])) == "laers"
            for r in rows:
                versions[r[1]].append((qq, 0 if legacy else int(r[2])))
    multi = [v for v in versions.values() if len({qq for qq, _ in v}) > 1]
    assert len(multi) > 20
    assert any(len(v) > len({qq for qq, _ in v}) for v in versions.values())  # two in one quarter
    assert any(any(ver == 0 for _, ver in v) and any(ver > 0 for _, ver in v) for v in versions.values())
    # deleted lists (from 2019Q1, a lone space line in some) and ground truth agree
    d = sims["deleted"]
    t = truth(d)
    listed = {}
    for y, q, z in zips(d):
        with zipfile.ZipFile(z) as zf:
            for n in zf.namelist():
                if n.lower().startswith("deleted/"):
                    assert (y, q) >= (2019, 1)
                    body = zf.read(n).decode("ascii").split("\n")
                    assert body[-1] == "" and all(x == " " or x.isdigit() for x in body[:-1])
                    for c in body[:-1]:
                        listed.setdefault(c, n)
    assert " " in listed and any(n.endswith("AllDeletedCases.txt") for n in listed.values())
    assert {r["caseid"] for r in t if r["kind"] == "deleted_case"} == set(listed) - {" "}
    # true duplicates: the copy repeats the original's patient, event, drugs and reactions
    for name, d in sims.items():
        recs, _ = read_table(d)
        dups = [(r["quarter"], r["caseid"], r["detail"]) for r in truth(d) if r["kind"] == "true_duplicate"]
        assert dups, name
        for qq, copy, orig in dups:
            legacy = era(int(qq[:4]), int(qq[5])) == "laers"
            demo = {r[1]: r for r in recs[(qq, "DEMO")]}
            a, b = demo[copy], demo[orig]
            cols = (5, 11, 12, 13) if legacy else ((4, 11, 12, 13) if len(a) == 22 else (4, 13, 14, 16))
            assert [a[i] for i in cols] == [b[i] for i in cols] and a[0] != b[0]
            for table, col in (("DRUG", 3 if legacy else 4), ("REAC", 1 if legacy else 2)):
                sets = defaultdict(set)
                for r in recs[(qq, table)]:
                    sets[r[0]].add(r[col])
                assert sets[a[0]] == sets[b[0]] and sets[a[0]]


def test_byte_quirks_of_the_eras(sims):
    endings, latin1, tabs, backspace = set(), False, False, False
    for d in sims.values():
        for y, q, z in zips(d):
            for table, (name, raw) in members(z).items():
                first = raw.split(b"\n", 1)[0]
                endings.add("CRLF" if first.endswith(b"\r") else "LF")
                latin1 |= bool(re.search(rb"[\xc0-\xff]", raw))
                tabs |= b"\t" in raw and (y, q) >= (2025, 3)
                backspace |= b"\x08" in raw and era(y, q) == "laers"
                if era(y, q) == "laers":
                    assert raw.upper() == raw or table in ("DEMO",), name  # legacy text upper case
    assert endings == {"CRLF", "LF"} and latin1
    recs, _ = read_table(sims["legacy"])
    countries = {r[22] for r in recs[("2005Q3", "DEMO")]}
    assert "UNITED STATES" in countries and "US" not in countries
    recs, _ = read_table(sims["recent"])
    demo = recs[("2025Q1", "DEMO")]
    assert {r[14] for r in demo} >= {"YR", "MON", "DY", "DEC"}
    # junk ages ("U") are rare (~1 in 300 reports): look over the run's five quarters
    assert "U" in {r[13] for (q, table), rows in recs.items() if table == "DEMO" for r in rows}
    assert {r[16] for r in demo} <= {"M", "F", ""}
    drug = recs[("2025Q1", "DRUG")]
    assert {r[3] for r in drug} == {"PS", "SS", "C", "I"}
    assert any(r[7] == "Intrathecal" and "BACLOFEN" in r[5] for r in drug)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d, seed, jobs in ((a, 5, 1), (b, 5, 2), (c, 6, 1)):  # b: quarters in parallel processes
        simulate(d, "2012Q3..2012Q4", 200, seed=seed, jobs=jobs)
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted(p.name for p in b.iterdir()) == sorted(p.name for p in c.iterdir())
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert (a / "aers_ascii_2012q3.zip").read_bytes() != (c / "aers_ascii_2012q3.zip").read_bytes()
    assert (a / "ground_truth.csv").read_bytes() != (c / "ground_truth.csv").read_bytes()


def test_planted_signals_are_detectable_and_negatives_are_not(tmp_path):
    simulate(tmp_path, "2023Q1..2023Q2", 8000, seed=3, jobs=1)
    t = truth(tmp_path)
    recs, _ = read_table(tmp_path)
    drug_pids, pt_sets, n = defaultdict(set), {}, 0
    for (qq, table), rows in recs.items():
        if table != "DEMO":
            continue
        for r in recs[(qq, "DRUG")]:
            if r[3] in ("PS", "SS"):
                drug_pids[r[5].lower()].add((qq, r[0]))
        for r in rows:
            n += 1
            pt_sets[(qq, r[0])] = set()
        for r in recs[(qq, "REAC")]:
            pt_sets.setdefault((qq, r[0]), set()).add(r[2])

    def prr(dname, pts):  # reports listing any of pts: drug vs all other reports
        hit = lambda pid: bool(pts & pt_sets[pid])  # noqa: E731
        a = sum(hit(p) for p in drug_pids[dname])
        c = sum(hit(p) for p in pt_sets) - a
        return (a / len(drug_pids[dname])) / (c / (n - len(drug_pids[dname])))

    planted = {(r["drug"], r["event"]): float(r["value"]) for r in t
               if r["kind"] == "planted_signal" and r["subset"] == "" and not r["event"].startswith(("group:", "domain:"))}
    assert planted[("baclofen", "Tinnitus")] == 6.0 and planted[("baclofen", "Overdose")] > 2.0
    sensory = {"Tinnitus", "Paraesthesia", "Hypoaesthesia", "Hyperaesthesia", "Sensory disturbance", "Vision blurred",
               "Visual impairment", "Visual disturbance", "Diplopia", "Dysgeusia", "Photophobia", "Hypoacusis",
               "Paraesthesia oral"}
    assert prr("baclofen", sensory) > 3.0
    assert prr("baclofen", {"Cerebrospinal fluid leakage"}) > 8.0
    negatives = {r["event"] for r in t if r["kind"] == "negative_control" and r["drug"] == "baclofen"}
    assert len(negatives) >= 3 and prr("baclofen", negatives) < 1.6
    dom = {(r["drug"], r["event"]): float(r["value"]) for r in t if r["kind"] == "planted_signal"
           and r["subset"] == "" and r["event"].startswith("domain:")}
    assert dom[("baclofen", "domain:sensory")] > dom[("baclofen", "domain:autonomic_thermoregulation")] > 1.0
    bands = {r["subset"]: float(r["value"]) for r in t if r["kind"] == "planted_signal"
             and r["drug"] == "baclofen" and r["event"] == "Overdose" and r["subset"].startswith("dose_band")}
    assert bands["dose_band=<=30"] < bands["dose_band=30-80"] < bands["dose_band=80-150"] < bands["dose_band=>150"]


def test_cli_writes_and_rejects_bad_options(tmp_path):
    out = tmp_path / "sim"
    run = subprocess.run([sys.executable, "-m", "pv.cli", "simulate", "--out", str(out), "--quarters",
                          "2023Q1..2023Q1", "--reports-per-quarter", "150"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["faers_ascii_2023q1.zip", "ground_truth.csv"]
    bad = subprocess.run([sys.executable, "-m", "pv.cli", "simulate", "--out", str(out), "--quarters", "2023Q5"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and bad.stderr.startswith("pvmon: error: --quarters") and "Traceback" not in bad.stderr
