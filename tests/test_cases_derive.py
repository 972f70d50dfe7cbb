"""Derivation rules on genuine free-text values (as they occur in ../shared/data/faers-real)
and on the documented code lists (faers-format.md)."""

from __future__ import annotations

import polars as pl
import pytest

from pv.cases import derive
from pv.cases.dose import daily_dose_mg
from pv.cases.drugs import indication_classes
from pv.vocab.lookups import load_countries, load_indication_terms

# dose_vbm strings copied from the real DRUG files (2026Q2, 2020Q3, 2012Q4), expected mg/day.
REAL_DOSE_TEXT = {
    "20 MG, DAILY": 20.0, "40 MG, DAILY": 40.0, "100 MG, 2X/DAY": 200.0, "200 MG, 2X/DAY": 400.0,
    "20 MG, 1X/DAY": 20.0, "500 Mg TID": 1500.0, "500mg TID": 1500.0, "1.5 MG, BID": 3.0,
    "3.0 MG, ONCE/DIALY": 3.0,  # FDA's typo; "ONCE" reads as one dose a day
    "20 milligram": None,  # amount without frequency: ambiguous
    "UNK UNK": None, "UNK": None,
}
# Free text as the issue lists it, plus intrathecal and ambiguous forms.
OTHER_DOSE_TEXT = {
    "10 MG, TID": 30.0, "20MG 3X/DAY": 60.0, "500 MCG/DAY": 0.5, "1 G BID": 2000.0, "50 MG Q6H": 200.0,
    "10 MG TWICE A DAY": 20.0, "10 mg every 8 hours": 30.0, "5 MG PRN": None, "10 mg/kg daily": None,
    "10 MG TID 2X/DAY": None, "10 MG OR 20 MG DAILY": None,
}


def _dose(rows: list[dict]) -> list:
    cols = ("dose_vbm", "dose_amt", "dose_unit", "dose_freq")
    frame = pl.DataFrame([{c: r.get(c) for c in cols} for r in rows], schema={c: pl.Utf8 for c in cols})
    return frame.select(daily_dose_mg(frame).alias("d"))["d"].to_list()


@pytest.mark.parametrize("table", [REAL_DOSE_TEXT, OTHER_DOSE_TEXT])
def test_free_text_daily_dose(table):
    got = _dose([{"dose_vbm": t} for t in table])
    assert got == pytest.approx(list(table.values()))


def test_structured_dose_beats_text_and_is_never_mixed():
    rows = [  # real 2026Q2 rows: structured amount x unit x frequency
        {"dose_amt": "180", "dose_unit": "UG", "dose_freq": "/WK"},
        {"dose_amt": "1200", "dose_unit": "MG", "dose_freq": "QD"},
        {"dose_amt": "1500", "dose_unit": "MG", "dose_freq": "QD", "dose_vbm": "500 Mg TID"},
        {"dose_amt": "500", "dose_unit": "MG", "dose_vbm": "UNK"},  # no frequency, text unusable
        {"dose_amt": "30", "dose_unit": "MG", "dose_freq": "TID"},
        {"dose_amt": "2", "dose_unit": "G", "dose_freq": "BID"},
    ]
    assert _dose(rows) == pytest.approx([0.18 / 7, 1200.0, 1500.0, None, 90.0, 4000.0])


def test_dose_band_edges():
    frame = pl.DataFrame({"daily_dose_mg": [None, 30.0, 30.5, 80.0, 80.1, 150.0, 151.0]})
    assert frame.select(derive.dose_band().alias("b"))["b"].to_list() == [
        "unknown", "<=30", "30-80", "30-80", "80-150", "80-150", ">150"]


def test_route_classes_real_values():
    routes = ["Oral", "ORAL", "Intrathecal", "INTRATHECAL", "Topical", "Subcutaneous", "TRANSPLACENTAL",
              "UNKNOWN", None]
    frame = pl.DataFrame({"route": routes}, schema={"route": pl.Utf8})
    assert frame.select(derive.route_class(frame))["route"].to_list() == [
        "oral", "oral", "intrathecal", "intrathecal", "other", "other", "other", "unknown", "unknown"]


def test_age_units_and_junk():
    ages = [("66", "YR"), ("5", "DEC"), ("6", "MON"), ("26", "WK"), ("10", "DY"), ("48", "HR"), ("U", "YR"),
            ("-3", "YR"), ("130", "YR"), ("40", None), ("2,5", "YR")]
    frame = pl.DataFrame({"age": [a for a, _ in ages], "age_cod": [c for _, c in ages]})
    got = frame.select(derive.age_years(frame).alias("y"))["y"].to_list()
    assert got == pytest.approx([66, 50, 0.5, 26 * 7 / 365.25, 10 / 365.25, 48 / 8766, None, None, None, None, 2.5])
    bands = frame.with_columns(derive.age_years(frame).alias("age_years")).select(derive.age_band())
    assert bands.to_series().to_list()[:3] == ["65-74", "45-64", "<2"]


def test_event_dates_with_precision():
    raw = ["20001006", "200801", "2008", "10120101", "20261231", "20130230", None, "2008XX"]
    frame = pl.DataFrame({"event_dt": raw, "quarter": ["2012Q4"] * len(raw)})
    got = frame.select(derive.event_date_fields(frame))
    assert got["event_dt_precision"].to_list() == ["day", "month", "year", "invalid", "invalid", "invalid", None,
                                                    "invalid"]
    assert [str(d) if d else None for d in got["event_date"]] == ["2000-10-06", "2008-01-01", "2008-01-01",
                                                                   None, None, None, None, None]


def test_countries_legacy_names_and_codes():
    frame = pl.DataFrame({
        "occr_country": [None, None, "EU", None, "CA", None],
        "reporter_country": ["JAPAN", "KOREA, REPUBLIC OF", "US", "COUNTRY NOT SPECIFIED", "US", "ATLANTIS"],
    })
    got = frame.select(derive.country(frame, load_countries().frame).alias("c"))["c"].to_list()
    assert got == ["JP", "KR", "EU", None, "CA", None]


def test_sex_codes():
    frame = pl.DataFrame({"sex": ["M", "F", "UNK", "NS", None, " f "]})
    assert frame.select(derive.sex(frame))["sex"].to_list() == ["M", "F", None, None, None, "F"]


def test_indication_classes_real_terms():
    terms = load_indication_terms().frame.select(
        pl.col("indi_pt").str.to_lowercase().alias("_k"), "indication_class")
    indi = pl.DataFrame({  # real 2026Q2 INDI rows for case 10021835 + AUD / spasticity rows
        "primaryid": [100218353] * 5 + [7, 7, 8, 9],
        "drug_seq": [1, 1, 1, 2, 3, 1, 1, 1, 1],
        "indi_pt": ["Bipolar disorder", "Attention deficit hyperactivity disorder", "Schizophrenia",
                    "Attention deficit hyperactivity disorder", "Product used for unknown indication",
                    "Muscle spasticity", "ALCOHOLISM", "MULTIPLE SCLEROSIS", "Alcohol use disorder"],
    })
    got = {(r["primaryid"], r["drug_seq"]): r["indication_class"]
           for r in indication_classes(indi, terms).iter_rows(named=True)}
    assert got == {(100218353, 1): "other", (100218353, 2): "other", (100218353, 3): "unknown",
                   (7, 1): "aud", (8, 1): "spasticity", (9, 1): "aud"}
