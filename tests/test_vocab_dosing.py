"""seeds/dose_bands.csv and seeds/route_products.csv: validation and the PV_SEEDS override."""

from __future__ import annotations

import pytest

from pv.errors import PvError
from pv.vocab.dosing import band_scores, load_dose_bands, load_route_products

HEADER = "# version: mine-1\ndrug,routes,unit,lower,upper,band,source\n"


def _user(tmp_path, monkeypatch, body: str, name: str = "dose_bands.csv", header: str = HEADER):
    (tmp_path / name).write_text(header + body)
    monkeypatch.setenv("PV_SEEDS", str(tmp_path))


def test_shipped_bands_cover_the_watchlist_and_keep_routes_apart():
    bands = load_dose_bands().frame
    assert set(bands["drug"]) >= {"baclofen", "naltrexone", "acamprosate", "gabapentin", "pregabalin", "tizanidine"}
    it = bands.filter((bands["drug"] == "baclofen") & (bands["route_class"] == "intrathecal"))
    assert it["upper_mg"].to_list() == [1.0, None]  # 1000 ug/day, in mg
    assert band_scores(bands, "naltrexone") == {"<=50": 1, ">50": 2}


def test_a_user_file_replaces_a_drugs_bands_whole(tmp_path, monkeypatch):
    _user(tmp_path, monkeypatch, "baclofen,oral,mg,,80,label,x\nbaclofen,oral,mg,80,,above label,x\n")
    seed = load_dose_bands()
    assert seed.version == "2026.12.1+user:mine-1"
    assert band_scores(seed.frame, "baclofen") == {"label": 1, "above label": 2}
    assert band_scores(seed.frame, "baclofen", "intrathecal") == {}  # not listed by the user: gone with the drug
    assert band_scores(seed.frame, "naltrexone") == {"<=50": 1, ">50": 2}  # other drugs kept


@pytest.mark.parametrize("body, message", [
    ("x,oral,mg,,10,a,s\nx,oral,mg,20,,b,s\n", "does not start where"),  # gap
    ("x,oral,mg,,10,a,s\nx,oral,mg,5,,b,s\n", "does not start where"),  # overlap
    ("x,oral,kg,,10,a,s\n", "unit 'kg'"),
    ("x,nasal,mg,,10,a,s\n", "route class 'nasal'"),
    ("x,oral,mg,ten,,a,s\n", "'ten' is not a number"),
    ("x,oral,mg,10,5,a,s\n", "upper 5 is not above lower 10"),
    ("x,oral,mg,,10,a,s\nx,oral|unknown,mg,,10,b,s\n", "route class oral is in two band chains"),
    ("x,oral,mg,,10,a,s\nx,oral,mg,10,,a,s\n", "conflicting entry"),
])
def test_bad_band_rows_stop_with_file_and_line(tmp_path, monkeypatch, body, message):
    _user(tmp_path, monkeypatch, body)
    with pytest.raises(PvError, match=message) as err:
        load_dose_bands()
    assert "dose_bands.csv" in str(err.value)


def test_route_products_are_validated(tmp_path, monkeypatch):
    assert dict(load_route_products().frame.iter_rows()) == {
        "GABLOFEN": "intrathecal", "INTRATHECAL": "intrathecal", "ITB": "intrathecal"}
    _user(tmp_path, monkeypatch, "PUMP,pump,x\n", "route_products.csv", "# version: m\nterm,route_class,source\n")
    with pytest.raises(PvError, match="route_class 'pump'"):
        load_route_products()
