"""Rule pt-spelling: one spelling per PT for the whole store (issue 10 item 1)."""

from __future__ import annotations

import polars as pl

from pv.cases.reactions import spelled
from pv.vocab.pts import store_pt_table


def _table(*columns: list[str], meddra: list[str] = ()) -> dict[str, str]:
    sources = [pl.LazyFrame({"pt": c}) for c in columns]
    return dict(store_pt_table(sources, meddra).iter_rows())


def test_spelling_is_chosen_over_every_quarter_not_per_quarter():
    legacy = ["ELECTROCARDIOGRAM QT PROLONGED", "ELECTROCARDIOGRAM QT PROLONGED", "CONVULSION", "HIV INFECTION"]
    faers = ["Electrocardiogram QT prolonged", "Seizure"]
    indi = ["HIV infection", " HIV INFECTION "]
    table = _table(legacy, faers, indi)
    # the FAERS quarter's MedDRA case wins for the legacy rows too, however many they are
    assert table["ELECTROCARDIOGRAM QT PROLONGED"] == table["Electrocardiogram QT prolonged"] \
        == "Electrocardiogram QT prolonged"
    assert table["CONVULSION"] == "Seizure"  # pt-rename, then the seeds' spelling
    assert table["HIV INFECTION"] == table["HIV infection"] == "HIV infection"  # REAC and INDI share it
    # a legacy-only store: capitalised, unless a licensed MedDRA names the PT
    assert _table(legacy)["ELECTROCARDIOGRAM QT PROLONGED"] == "Electrocardiogram qt prolonged"
    meddra = _table(legacy, meddra=["Electrocardiogram QT prolonged"])
    assert meddra["ELECTROCARDIOGRAM QT PROLONGED"] == "Electrocardiogram QT prolonged"


def test_rows_are_spelled_by_lookup_and_unknown_text_is_kept():
    pts = store_pt_table([pl.LazyFrame({"pt": ["HIV INFECTION", "HIV infection"]})])
    rows = pl.DataFrame({"indi_pt": [" HIV INFECTION", "HIV infection", "", None]})
    out = rows.select(spelled("indi_pt", pts))["indi_pt"].to_list()
    assert out == ["HIV infection", "HIV infection", None, None]
    assert pl.DataFrame({"pt": ["Never staged"]}).select(spelled("pt", pts))["pt"].to_list() == ["Never staged"]
