"""Cases built from the genuine FDA rows in ../shared/data/faers-real (three quarters, three
layouts), staged by the real reader (``pvmon ingest``)."""

from __future__ import annotations

import polars as pl
import pytest

from pv.cases.build import build_cases
from pv.cases.summary import unmapped_names, unmapped_share
from pv.config import Home
from pv.lake.ingest import ingest_paths


@pytest.fixture(scope="module")
def home(shared_data, tmp_path_factory):
    real = shared_data / "faers-real"
    home = Home(tmp_path_factory.mktemp("real"))
    report = ingest_paths(home, [real / "2026q2-sample" / "faers_real_sample_2026q2.zip",
                                 real / "2012q4-heads", real / "2020q3-heads"])
    assert not report.errors and len(report.staged) == 3
    build_cases(home)
    return home


def test_real_rows_build(home):
    funnel = pl.read_parquet(home.cases / "funnel.parquet")
    total = dict(funnel.filter(pl.col("quarter") == "total").select("stage", "count").iter_rows())
    # 9 + 10 + 25 DEMO rows, distinct caseids, none on the 2026Q2 deleted list, no rule duplicates.
    assert total == {"reports_read": 44, "latest_version": 44, "after_deleted": 44, "after_dup_flag": 44}
    cases = pl.read_parquet(home.cases / "cases.parquet")
    assert cases.height == 44 and cases["caseid"].n_unique() == 44
    # Only DRUG, REAC and INDI of the 2026Q2 sample join its DEMO rows (shared/data README).
    drugs = pl.read_parquet(home.cases / "drugs.parquet")
    assert drugs.filter(pl.col("quarter") == "2026Q2")["caseid"].n_unique() > 0


def test_real_derived_case_fields(home):
    c = {r["caseid"]: r for r in pl.read_parquet(home.cases / "cases.parquet").iter_rows(named=True)}
    # 2012Q4 demo12q4: 3567656 has reporter_country "COUNTRY NOT SPECIFIED", occr_country CA.
    assert c[3567656]["country"] == "CA" and c[3567656]["age_years"] == 86.0 and c[3567656]["sex"] == "M"
    assert c[3567656]["event_dt_precision"] == "day" and str(c[3567656]["event_date"]) == "2000-10-06"
    # 2026Q2: EU kept as a country code; age 66 YR -> band 65-74.
    assert c[10014022]["country"] == "EU" and c[10014022]["age_band"] == "65-74"
    assert c[10014022]["report_year"] == 2014  # init_fda_dt 20140317


def test_real_drug_fields(home):
    d = pl.read_parquet(home.cases / "drugs.parquet")
    rows = {(r["caseid"], r["drug_seq"]): r for r in d.iter_rows(named=True)}
    # 2026Q2 case 10014022: 180 UG /WK subcutaneous; COPEGUS 1200 MG QD oral (prod_ai RIBAVIRIN).
    assert rows[(10014022, 1)]["daily_dose_mg"] == pytest.approx(0.18 / 7)
    assert rows[(10014022, 1)]["route_class"] == "other"
    assert (rows[(10014022, 2)]["ingredient"], rows[(10014022, 2)]["daily_dose_mg"],
            rows[(10014022, 2)]["dose_band"]) == ("ribavirin", 1200.0, "unknown")  # no bands seeded for ribavirin
    # prod_ai METFORMIN HYDROCHLORIDE -> metformin (salt removed); "500 Mg TID" next to 1500 MG QD.
    assert rows[(10014022, 7)]["ingredient"] == "metformin" and rows[(10014022, 7)]["daily_dose_mg"] == 1500.0
    # no prod_ai: "Solution for injection (Insulin lispro)" -> unmapped "insulin lispro".
    assert (rows[(10014022, 6)]["ingredient"], rows[(10014022, 6)]["mapped"]) == ("insulin lispro", False)
    # 2020Q3 Pfizer free text: "100 MG, 2X/DAY" -> 200 mg/day; "UNK" -> unknown.
    assert rows[(10004820, 1)]["daily_dose_mg"] == 200.0
    assert rows[(10004823, 1)]["dose_band"] == "unknown"
    # INDI 2026Q2: Hepatitis C -> other; no INDI row -> unknown.
    assert rows[(10014022, 1)]["indication_class"] == "other"
    assert rows[(10014022, 4)]["indication_class"] == "unknown"


def test_real_reactions_and_unmapped(home):
    r = pl.read_parquet(home.cases / "reactions.parquet")
    assert r.filter(pl.col("pt") != pl.col("pt_source")).height == 0  # FAERS PTs are already canonical
    top = unmapped_names(home, 3)
    assert top["ingredient"][0] == "exelon" and top["rows"][0] == 5


def test_build_records_seed_versions_and_unmapped_count(home):
    import json

    meta = json.loads((home.cases / "build.json").read_text())
    drugs = pl.read_parquet(home.cases / "drugs.parquet")
    rows = drugs.filter(pl.col("ingredient_part") == 0)  # one per source DRUG row (rule drug-map)
    assert meta["drug_rows"] == rows.height == 45 and meta["drug_rows_unmapped"] == rows.filter(~pl.col("mapped")).height
    assert meta["drug_rows_unmapped"] > 0 and meta["seeds"]["drug_dictionary"] == "2026.12.1"


def test_real_unmapped_share_per_era(home):
    """The share of genuine drug rows mapped per era, as README.md states it: 2012Q4 (no
    prod_ai; HIV drugs and EXELON, none in the dictionary, none learned from the two
    prod_ai quarters) 0 of 10 mapped; 2020Q3 + 2026Q2 34 of 35 (prod_ai everywhere but on
    "Solution for injection (Insulin lispro)")."""
    share = unmapped_share(home).select("era", "first", "last", "rows", "unmapped").rows()
    assert share == [("faers_early", "2012Q4", "2012Q4", 10, 10), ("faers", "2020Q3", "2026Q2", 35, 1)]
