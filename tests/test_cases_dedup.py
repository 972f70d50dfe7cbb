"""Deduplication and the funnel on contract-shaped staged fixtures with planted versions,
deletions, legacy continuations and duplicates (expected counts worked out by hand below)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pv.cases.build import build_cases
from pv.config import Home
from staged_fixtures import write_staged


def demo(pid, cid, ver, fda_dt, **kw):
    return {"primaryid": pid, "caseid": cid, "caseversion": ver, "fda_dt": fda_dt, **kw}


SAME = dict(event_dt="20200105", age="40", age_cod="YR", sex="F", reporter_country="FR")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("home")
    # 2012Q2 legacy: case 100 (continued in FAERS), 200 (legacy FOLL_SEQ 5 but FAERS wins),
    # 300 in two legacy quarters with the same version -> later fda_dt wins (2012Q3).
    write_staged(home, "demo", "2012Q2", [
        demo("5550001", "100", "", "20120401", reporter_country="JAPAN", age="5", age_cod="DEC"),
        demo("5550002", "200", "5", "20120402", reporter_country="COUNTRY NOT SPECIFIED"),
        demo("5550003", "300", "", "20120403", reporter_country="UNITED KINGDOM", gndr_cod="M"),
    ])
    write_staged(home, "drug", "2012Q2", [
        {"primaryid": "5550001", "drug_seq": "1001", "role_cod": "PS", "drugname": "LIORESAL", "route": "ORAL"},
        {"primaryid": "5550003", "drug_seq": "1003", "role_cod": "PS", "drugname": "BACLOFEN 10MG TABLETS",
         "route": "INTRATHECAL", "dose_vbm": "20MG 3X/DAY"},
    ])
    write_staged(home, "reac", "2012Q2", [
        {"primaryid": "5550001", "pt": "CONVULSION"}, {"primaryid": "5550003", "pt": "SOMNOLENCE"},
    ])
    write_staged(home, "demo", "2012Q3", [
        demo("5550013", "300", "", "20120901", reporter_country="UNITED KINGDOM", age="6", age_cod="MON"),
    ])
    write_staged(home, "drug", "2012Q3", [
        {"primaryid": "5550013", "drug_seq": "2001", "role_cod": "PS", "drugname": "BACLOFENE",
         "route": "INTRATHECAL", "dose_vbm": "500 MCG/DAY"},
    ])
    write_staged(home, "reac", "2012Q3", [
        {"primaryid": "5550013", "pt": "UNDERDOSE"}, {"primaryid": "5550013", "pt": "MUSCLE SPASTICITY"},
    ])
    write_staged(home, "outc", "2012Q3", [{"primaryid": "5550013", "outc_cod": "HO"}])
    # 2013Q1 FAERS early: 100 v1 and 200 v1 beat their legacy versions; 400 v2 and v10 (10 > 2
    # as integers); 500 will be deleted by a later list.
    write_staged(home, "demo", "2013Q1", [
        demo("1001", "100", "1", "20130110", occr_country="JP", sex="NS"),
        demo("2001", "200", "1", "20130111", occr_country="US", sex="M"),
        demo("4002", "400", "2", "20130112", occr_country="US"),
        demo("40010", "400", "10", "20130105", occr_country="US", event_dt="201212"),
        demo("5001", "500", "1", "20130113", occr_country="DE"),
    ])
    write_staged(home, "drug", "2013Q1", [
        {"primaryid": "1001", "caseid": "100", "drug_seq": "1", "role_cod": "PS", "drugname": "Lioresal Intrathecal",
         "route": "Intrathecal", "dose_amt": "400", "dose_unit": "MCG", "dose_freq": "QD"},
        {"primaryid": "4002", "caseid": "400", "drug_seq": "1", "role_cod": "PS", "drugname": "ASPIRIN"},
        {"primaryid": "40010", "caseid": "400", "drug_seq": "1", "role_cod": "PS", "drugname": "KEMSTRO",
         "dose_amt": "30", "dose_unit": "MG", "dose_freq": "TID", "route": "ORAL"},
        {"primaryid": "5001", "caseid": "500", "drug_seq": "1", "role_cod": "PS", "drugname": "BACLOFEN"},
    ])
    write_staged(home, "indi", "2013Q1", [
        {"primaryid": "40010", "caseid": "400", "indi_drug_seq": "1", "indi_pt": "Alcoholism"},
        {"primaryid": "40010", "caseid": "400", "indi_drug_seq": "1", "indi_pt": "Insomnia"},
        {"primaryid": "1001", "caseid": "100", "indi_drug_seq": "1", "indi_pt": "Multiple sclerosis"},
    ])
    write_staged(home, "ther", "2013Q1", [
        {"primaryid": "40010", "caseid": "400", "dsg_drug_seq": "1", "start_dt": "20121120"},
    ])
    write_staged(home, "reac", "2013Q1", [
        {"primaryid": "40010", "caseid": "400", "pt": "Seizure"},
        {"primaryid": "40010", "caseid": "400", "pt": "Convulsion"},
    ])
    # 2020Q1: 700 v6 and v7 in the same quarter; 600/601 identical -> 601 flagged;
    # 602 same but no age (never matched); 603 same but another reaction.
    write_staged(home, "demo", "2020Q1", [
        demo("7006", "700", "6", "20200201", occr_country="US"),
        demo("7007", "700", "7", "20200201", occr_country="US"),
        demo("6001", "600", "1", "20200301", **SAME),
        demo("6011", "601", "1", "20200302", **SAME),
        demo("6021", "602", "1", "20200303", **{**SAME, "age": None}),
        demo("6031", "603", "1", "20200304", **SAME),
    ])
    drugs, reacs = [], []
    for pid in ("6001", "6011", "6021", "6031"):
        drugs.append({"primaryid": pid, "drug_seq": "1", "role_cod": "PS", "drugname": "BACLOFEN"})
        drugs.append({"primaryid": pid, "drug_seq": "2", "role_cod": "C", "drugname": "NALTREXONE"})
        reacs.append({"primaryid": pid, "pt": "Somnolence" if pid != "6031" else "Coma"})
    write_staged(home, "drug", "2020Q1", drugs)
    write_staged(home, "reac", "2020Q1", reacs)
    write_staged(home, "deleted", "2020Q1", [{"caseid": " "}, {"caseid": "500"}])
    write_staged(home, "deleted", "2012Q3", [{"caseid": "999"}])
    build_cases(Home(home))
    return home / "cases"


def test_funnel_per_quarter_and_total(built):
    funnel = pl.read_parquet(built / "funnel.parquet")
    got = {(r["quarter"], r["stage"]): r["count"] for r in funnel.iter_rows(named=True)}
    expected = {
        # read: 3, 1, 5, 6 = 15. Latest versions (quarter of the surviving version):
        # 2012Q2: none (100, 200 -> FAERS; 300 -> 2012Q3); 2012Q3: 300; 2013Q1: 100, 200, 400, 500;
        # 2020Q1: 700, 600, 601, 602, 603. Deleted: 500. Flagged: 601.
        "2012Q2": (3, 0, 0, 0), "2012Q3": (1, 1, 1, 1), "2013Q1": (5, 4, 3, 3),
        "2020Q1": (6, 5, 5, 4), "total": (15, 10, 9, 8),
    }
    stages = ("reports_read", "latest_version", "after_deleted", "after_dup_flag")
    assert got == {(q, s): n for q, counts in expected.items() for s, n in zip(stages, counts)}


def test_surviving_versions(built):
    cases = pl.read_parquet(built / "cases.parquet")
    kept = dict(zip(cases["caseid"], cases["primaryid"]))
    assert kept == {100: 1001, 200: 2001, 300: 5550013, 400: 40010, 600: 6001, 601: 6011, 602: 6021,
                    603: 6031, 700: 7007}
    assert cases["caseid"].n_unique() == cases.height == 9  # one row per case, in quarter order
    assert dict(zip(cases["caseid"], cases["dup_flag"]))[601] is True
    assert cases.filter(pl.col("dup_flag"))["dup_of"].to_list() == [600]


def test_children_follow_surviving_quarter_and_primaryid(built):
    drugs = pl.read_parquet(built / "drugs.parquet")
    assert sorted(zip(drugs["caseid"], drugs["drugname"])) == sorted(
        [(100, "Lioresal Intrathecal"), (300, "BACLOFENE"), (400, "KEMSTRO")]
        + [(c, n) for c in (600, 601, 602, 603) for n in ("BACLOFEN", "NALTREXONE")]
    )
    reac = pl.read_parquet(built / "reactions.parquet")
    # CONVULSION (legacy 2012Q2 version of 100) is superseded; Seizure + Convulsion of 400 are one.
    assert reac.filter(pl.col("caseid") == 400)[["pt", "pt_source"]].rows() == [("Seizure", "Seizure")]
    assert reac.filter(pl.col("caseid") == 300)["pt"].sort().to_list() == ["Muscle spasticity", "Underdose"]


def test_derived_case_fields(built):
    c = pl.read_parquet(built / "cases.parquet").sort("caseid")
    row = {r["caseid"]: r for r in c.iter_rows(named=True)}
    assert row[300]["age_years"] == pytest.approx(0.5) and row[300]["age_band"] == "<2"
    assert row[300]["country"] == "GB" and row[300]["hospitalization"] and row[300]["serious"]
    assert row[300]["pump_problem"] is True and row[400]["pump_problem"] is False
    assert row[100]["sex"] is None and row[200]["sex"] == "M" and row[100]["country"] == "JP"
    assert row[400]["event_dt_precision"] == "month" and str(row[400]["event_date"]) == "2012-12-01"
    assert row[600]["report_year"] == 2020 and row[600]["country"] == "FR"
    assert not row[600]["serious"] and not row[600]["death"]


def test_derived_drug_fields(built):
    d = pl.read_parquet(built / "drugs.parquet")
    by = {(r["caseid"], r["drug_seq"]): r for r in d.iter_rows(named=True)}
    it = by[(100, 1)]
    assert (it["ingredient"], it["mapped"], it["route_class"], it["daily_dose_mg"], it["dose_band"],
            it["indication_class"]) == ("baclofen", True, "intrathecal", pytest.approx(0.4), "IT<=1000ug", "spasticity")
    oral = by[(400, 1)]
    assert (oral["ingredient"], oral["route_class"], oral["daily_dose_mg"], oral["dose_band"],
            oral["indication_class"], oral["onset_days"]) == ("baclofen", "oral", 90.0, "80-150", "aud", None)
    legacy = by[(300, 2001)]
    assert (legacy["ingredient"], legacy["daily_dose_mg"], legacy["indication_class"]) == (
        "baclofen", pytest.approx(0.5), "unknown")
    assert by[(600, 2)]["ingredient"] == "naltrexone" and by[(600, 2)]["route_class"] == "unknown"


def test_rebuild_is_identical(built, tmp_path):
    before = {p.relative_to(built): p.read_bytes() for p in built.rglob("*") if p.is_file()}
    build_cases(Home(built.parent))
    after = {p.relative_to(built): p.read_bytes() for p in built.rglob("*") if p.is_file()}
    assert before == after


def test_drop_duplicates_filters_every_table(built, tmp_path):
    import shutil

    home = tmp_path / "h"
    shutil.copytree(built.parent / "staged", home / "staged")
    build_cases(Home(home), drop_duplicates=True)
    cases = pl.read_parquet(home / "cases" / "cases.parquet")
    assert 601 not in cases["caseid"].to_list() and cases.height == 8
    assert 601 not in pl.read_parquet(home / "cases" / "drugs.parquet")["caseid"].to_list()


def test_licensed_meddra_hierarchy_when_given(built, tmp_path, monkeypatch):
    """With $PV_MEDDRA (a MedDRA ASCII folder) reactions gain hlt/hlgt/soc; codes here are made up."""
    import shutil

    (tmp_path / "meddra").mkdir()
    (tmp_path / "meddra" / "mdhier.asc").write_text(
        "1$11$111$1111$Seizure$Seizures NEC$Seizures (incl subtypes)$Nervous system disorders$Nerv$$1111$Y$\n"
        "1$12$112$1112$Seizure$Other HLT$Other HLGT$Other SOC$Oth$$1112$N$\n"
        "2$21$211$1111$Somnolence$Disturbances in consciousness NEC$Neurological disorders NEC$"
        "Nervous system disorders$Nerv$$1111$Y$\n")
    monkeypatch.setenv("PV_MEDDRA", str(tmp_path / "meddra"))
    home = tmp_path / "h"
    shutil.copytree(built.parent / "staged", home / "staged")
    build_cases(Home(home))
    reac = pl.read_parquet(home / "cases" / "reactions.parquet")
    levels = {r["pt"]: (r["hlt"], r["soc"]) for r in reac.iter_rows(named=True)}
    assert levels["Seizure"] == ("Seizures NEC", "Nervous system disorders")
    assert levels["Somnolence"][1] == "Nervous system disorders" and levels["Underdose"] == (None, None)


def test_onset_days_rule(tmp_path):
    """Rule ``onset``: event day minus the drug's earliest THER start, only with day precision on
    both and the event not before the start (one drug per case, each case one branch)."""
    write_staged(tmp_path, "demo", "2021Q1", [
        demo("11", "1", "1", "20210110", event_dt="20210115"),  # two starts: the earlier one counts
        demo("21", "2", "1", "20210110", event_dt="20210115"),  # start after the event
        demo("31", "3", "1", "20210110", event_dt="202101"),    # event known to the month only
        demo("41", "4", "1", "20210110", event_dt="20210115"),  # start known to the month only
        demo("51", "5", "1", "20210110", event_dt="20210115"),  # same day: onset 0
    ])
    write_staged(tmp_path, "drug", "2021Q1", [
        {"primaryid": p, "caseid": c, "drug_seq": "1", "role_cod": "PS", "drugname": "BACLOFEN"}
        for p, c in (("11", "1"), ("21", "2"), ("31", "3"), ("41", "4"), ("51", "5"))
    ])
    write_staged(tmp_path, "ther", "2021Q1", [
        {"primaryid": "11", "caseid": "1", "dsg_drug_seq": "1", "start_dt": "20210105"},
        {"primaryid": "11", "caseid": "1", "dsg_drug_seq": "1", "start_dt": "20201226"},
        {"primaryid": "21", "caseid": "2", "dsg_drug_seq": "1", "start_dt": "20210120"},
        {"primaryid": "31", "caseid": "3", "dsg_drug_seq": "1", "start_dt": "20210101"},
        {"primaryid": "41", "caseid": "4", "dsg_drug_seq": "1", "start_dt": "202101"},
        {"primaryid": "51", "caseid": "5", "dsg_drug_seq": "1", "start_dt": "20210115"},
    ])
    build_cases(Home.at(tmp_path))
    drugs = pl.read_parquet(tmp_path / "cases" / "drugs.parquet").sort("caseid")
    assert drugs.select("caseid", "onset_days").rows() == [(1, 20), (2, None), (3, None), (4, None), (5, 0)]
