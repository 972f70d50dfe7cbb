"""Derivation rules on genuine free-text values (as they occur in ../shared/data/faers-real)
and on the documented code lists (faers-format.md)."""

from __future__ import annotations

import polars as pl
import pytest

from pv.cases import derive
from pv.cases.dose import with_doses
from pv.cases.drugs import indication_classes
from pv.vocab.dosing import band_scores, load_dose_bands, load_route_products
from pv.vocab.lookups import load_countries, load_indication_terms

# dose_vbm strings copied from the real DRUG files (2026Q2, 2020Q3, 2012Q4), expected mg/day.
REAL_DOSE_TEXT = {
    "20 MG, DAILY": 20.0, "40 MG, DAILY": 40.0, "100 MG, 2X/DAY": 200.0, "200 MG, 2X/DAY": 400.0,
    "20 MG, 1X/DAY": 20.0, "500 Mg TID": 1500.0, "500mg TID": 1500.0, "1.5 MG, BID": 3.0,
    "3.0 MG, ONCE/DIALY": 3.0,  # FDA's typo of DAILY: once a day
    "20 milligram": None,  # amount without frequency: ambiguous
    "UNK UNK": None, "UNK": None,
}
# Free text as the issue lists it, plus intrathecal and ambiguous forms.
OTHER_DOSE_TEXT = {
    "10 MG, TID": 30.0, "20MG 3X/DAY": 60.0, "500 MCG/DAY": 0.5, "1 G BID": 2000.0, "50 MG Q6H": 200.0,
    "10 MG TWICE A DAY": 20.0, "10 mg every 8 hours": 30.0, "5 MG PRN": None, "10 mg/kg daily": None,
    "10 MG TID 2X/DAY": None, "10 MG OR 20 MG DAILY": None,
    # every spelling of micrograms: micro sign, Greek mu, their upper case (Greek capital mu), MCG, UG
    "500 \u00b5g/day": 0.5, "500 \u03bcg DAILY": 0.5, "500 \u039cG/DAY": 0.5, "500 MCG/DAY": 0.5,
    "500 UG QD": 0.5, "250 micrograms BID": 0.5,
    # the frequencies FDA writes
    "10 MG QD": 10.0, "10 MG QID": 40.0, "10 MG Q4H": 60.0, "10 MG Q8H": 30.0, "10 MG Q12H": 20.0,
    "10 MG /DAY": 10.0, "10 MG, 3 X/DAY": 30.0, "10 MG 3 TIMES A DAY": 30.0, "10 MG FOUR TIMES DAILY": 40.0,
    "10 MG TIMES A DAY": None, "70 MG QW": 10.0, "10 MG HS": 10.0, "10 MG ONCE DAILY": 10.0,
    "10 MG ONCE A WEEK": 10 / 7,
    # single doses are not daily doses
    "10 MG, 1X": None, "300 MG ONCE": None, "1 G SINGLE DOSE": None,
}


def _doses(rows: list[dict]) -> pl.DataFrame:
    cols = ("drugname", "dose_vbm", "dose_amt", "dose_unit", "dose_freq")
    frame = pl.DataFrame([{c: r.get(c) for c in cols} for r in rows], schema={c: pl.Utf8 for c in cols})
    return with_doses(frame).select("daily_dose_mg", "single_dose_mg")


def _dose(rows: list[dict]) -> list:
    return _doses(rows)["daily_dose_mg"].to_list()


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


def test_single_doses_are_kept_apart_from_daily_doses():
    # FDA's 1X = one single dose (how ingested overdose amounts are coded): no mg/day
    rows = [
        {"dose_amt": "300", "dose_unit": "MG", "dose_freq": "1X", "dose_vbm": "300 MG, DAILY"},  # structured wins
        {"dose_vbm": "300 MG, 1X"}, {"dose_vbm": "300 MG ONCE"}, {"dose_vbm": "1 G SINGLE DOSE"},
        {"drugname": "BACLOFEN 10MG", "dose_vbm": "30 TABLETS, 1X"},
        {"drugname": "BACLOFEN 10MG", "dose_amt": "30", "dose_unit": "DF", "dose_freq": "1X"},
        {"dose_vbm": "300 MG, 1X/DAY"}, {"dose_vbm": "3.0 MG, ONCE/DIALY"}, {"dose_vbm": "300 MG, 1X PRN"},
    ]
    got = _doses(rows)
    assert got["single_dose_mg"].to_list() == pytest.approx([300.0, 300.0, 300.0, 1000.0, 300.0, 300.0,
                                                             None, None, None])
    assert got["daily_dose_mg"].to_list() == pytest.approx([None] * 6 + [300.0, 3.0, None])


def test_tablet_counts_times_strength():
    rows = [
        {"drugname": "BACLOFEN 10MG", "dose_vbm": "2 TABLETS TID"},  # 2 x 10 mg x 3 = 60 mg/day
        {"drugname": "BACLOFEN 10 MG TABLETS", "dose_vbm": "2 DF, 3X/DAY"},
        {"drugname": "BACLOFEN", "dose_vbm": "2 TABLETS OF 10 MG THREE TIMES A DAY"},
        {"drugname": "BACLOFEN", "dose_vbm": "2X10MG TID"},
        {"drugname": "BACLOFEN 10MG", "dose_amt": "2", "dose_unit": "DF", "dose_freq": "TID"},
        {"drugname": "BACLOFEN 10MG", "dose_amt": "2", "dose_unit": "TABLET", "dose_freq": "TID"},
        {"drugname": "BACLOFEN", "dose_vbm": "2 TABLETS TID"},  # no strength anywhere
        {"drugname": "BACLOFEN 5 MG/5 ML", "dose_vbm": "2 DF TID"},  # a concentration, not a strength
        {"drugname": "BACLOFEN 10MG", "dose_vbm": "10 MG TABLET, 2 TABLETS TID"},  # count or mass per dose?
        {"drugname": "BACLOFEN 10MG", "dose_vbm": "20 MG TID"},  # the written mass wins over the name
    ]
    assert _dose(rows) == pytest.approx([60.0] * 6 + [None, None, None, 60.0])


def test_dose_bands_per_drug_and_route():
    bands = load_dose_bands().frame
    rows = [  # (ingredient, route class, mg/day, expected band)
        ("baclofen", "oral", None, "unknown"), ("baclofen", "oral", 30.0, "<=30"), ("baclofen", "oral", 30.5, "30-80"),
        ("baclofen", "oral", 80.0, "30-80"), ("baclofen", "oral", 80.1, "80-150"), ("baclofen", "oral", 150.0, "80-150"),
        ("baclofen", "oral", 151.0, ">150"), ("baclofen", "unknown", 60.0, "30-80"),
        # intrathecal ug/day never in an oral mg/day band, with or without a route
        ("baclofen", "intrathecal", 0.3, "IT<=1000ug"), ("baclofen", "intrathecal", 1.2, "IT>1000ug"),
        ("baclofen", "unknown", 0.3, "unknown"), ("baclofen", "oral", 2.5, "unknown"),
        ("baclofen", "other", 20.0, "unknown"),
        # other drugs: their label maximum is the edge, not baclofen's bands
        ("naltrexone", "oral", 50.0, "<=50"), ("naltrexone", "oral", 100.0, ">50"),
        ("gabapentin", "oral", 1800.0, "<=3600"), ("gabapentin", "oral", 4800.0, ">3600"),
        ("tizanidine", "oral", 24.0, "<=36"), ("ribavirin", "oral", 1200.0, "unknown"),
    ]
    frame = pl.DataFrame(rows, schema=["ingredient", "route_class", "daily_dose_mg", "want"], orient="row")
    assert derive.dose_band(frame, bands).to_list() == frame["want"].to_list()
    assert band_scores(bands, "baclofen") == {"<=30": 1, "30-80": 2, "80-150": 3, ">150": 4}
    assert band_scores(bands, "baclofen", "intrathecal") == {"IT<=1000ug": 1, "IT>1000ug": 2}


def test_intrathecal_products_with_a_blank_route():
    names = ["GABLOFEN", "LIORESAL INTRATHECAL", "BACLOFEN ITB", "BACLOFEN INTRATHECAL", "LIORESAL", "BACLOFEN",
             "GABLOFEN", "BACLOFEN ITB"]
    routes = [None, "", "UNKNOWN", None, None, None, "Oral", "Intravenous"]
    frame = pl.DataFrame({"drugname": names, "route": routes}, schema={"drugname": pl.Utf8, "route": pl.Utf8})
    got = frame.select(derive.route_class(frame, load_route_products().frame).alias("r"))["r"].to_list()
    # a stated route is kept; only a blank or unknown one takes the product's word
    assert got == ["intrathecal"] * 4 + ["unknown", "unknown", "oral", "other"]


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


def test_case_narrative_shows_single_and_intrathecal_doses():
    from pv.mechanism.explain import _drug_line

    base = {"drug_seq": 1, "ingredient": "baclofen", "role_cod": "PS", "drugname": "BACLOFEN 10MG",
            "indication_class": "aud", "dose_band": "unknown"}
    assert ", single dose 300 mg (1X)" in _drug_line({**base, "route_class": "oral", "single_dose_mg": 300.0})
    assert ", 300 ug/day (band IT<=1000ug)" in _drug_line(
        {**base, "route_class": "intrathecal", "daily_dose_mg": 0.3, "dose_band": "IT<=1000ug"})
    assert ", 60 mg/day (band 30-80)" in _drug_line({**base, "route_class": "oral", "daily_dose_mg": 60.0,
                                                     "dose_band": "30-80"})
