"""Seed loading: shipped seeds validate; duplicates/conflicts name file and line; PV_SEEDS overrides."""

from __future__ import annotations

import pytest

from pv.errors import PvError
from pv.vocab.drugnames import load_drug_dictionary, normalise_names
from pv.vocab.lookups import load_countries, load_indication_terms, load_watchlist
from pv.vocab.pts import load_event_groups, load_pt_renames


def test_shipped_seeds_load():
    groups = load_event_groups().frame
    by = {(g, s): n for g, s, n in groups.group_by("group", "scope").len().iter_rows()}
    # domain.md: 10 narrow + 24 broad overdose, 5 + 29 withdrawal, 7 pump, 14 abuse, 4 suicide
    assert by == {("overdose", "narrow"): 10, ("overdose", "broad"): 24, ("withdrawal", "narrow"): 5,
                  ("withdrawal", "broad"): 29, ("pump", "narrow"): 7, ("abuse", "narrow"): 14,
                  ("suicide", "narrow"): 4}
    renames = dict(load_pt_renames().frame.iter_rows())
    assert renames["Convulsion"] == "Seizure" and renames["Multi-organ failure"] == "Multiple organ dysfunction syndrome"
    assert load_watchlist().frame.filter(load_watchlist().frame["role"] == "target")["drug"].to_list() == ["baclofen"]
    assert dict(load_countries().frame.iter_rows())["UNITED KINGDOM"] == "GB"
    assert dict(load_indication_terms().frame.iter_rows())["Alcoholism"] == "aud"


def test_drug_names_normalise_to_dictionary_keys():
    names = ["BACLOFEN 10MG TABLETS", "Lioresal Intrathecal", "GABLOFEN 50 MCG/ML INJECTION", "baclofen.",
             "ATORVASTATIN CALCIUM.", "BACLOFEN (BACLOFEN)", "OZOBAX DS", "2.5 MG TAB"]
    assert normalise_names(names) == ["baclofen", "lioresal", "gablofen", "baclofen", "atorvastatin",
                                      "baclofen", "ozobax ds", None]
    dic = dict(load_drug_dictionary().frame.iter_rows())
    assert {dic[k] for k in ("baclofen", "lioresal", "gablofen", "ozobax ds", "fleqsuvy", "bacfen")} == {"baclofen"}
    assert dic["oxybate"] == "sodium oxybate" and dic["campral"] == "acamprosate"


def _seed(folder, name, body):
    (folder / f"{name}.csv").write_text(f"# version: test-1\n{body}")


def test_user_override_extends_and_replaces(tmp_path, monkeypatch):
    _seed(tmp_path, "drug_dictionary", "variant,ingredient\nBACLOFEM 25 MG,baclofen\nxyrem,oxybate test\n")
    monkeypatch.setenv("PV_SEEDS", str(tmp_path))
    seed = load_drug_dictionary()
    dic = dict(seed.frame.iter_rows())
    assert dic["baclofem"] == "baclofen" and dic["xyrem"] == "oxybate test" and dic["lioresal"] == "baclofen"
    assert seed.version == "2026.12.1+user:test-1"


@pytest.mark.parametrize("body, message", [
    ("variant,ingredient\nbaclofen,baclofen\nBACLOFEN 10 MG,baclofen\n", "line 4: duplicate entry for baclofen (first at line 3)"),
    ("variant,ingredient\nbaclofen,baclofen\nBaclofen tablets,tizanidine\n", "line 4: conflicting entry for baclofen"),
    ("variant,ingredient\nbaclofen,\n", "line 3: empty ingredient"),
])
def test_bad_user_dictionary_is_a_clear_error(tmp_path, monkeypatch, body, message):
    _seed(tmp_path, "drug_dictionary", body)
    monkeypatch.setenv("PV_SEEDS", str(tmp_path))
    with pytest.raises(PvError) as err:
        load_drug_dictionary()
    assert str(tmp_path / "drug_dictionary.csv") in str(err.value) and message in str(err.value)


def test_rename_chain_and_unknown_group_are_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("PV_SEEDS", str(tmp_path))
    _seed(tmp_path, "pt_renames", "old_pt,current_pt\nSeizure,Fit\n")
    with pytest.raises(PvError, match="chain"):
        load_pt_renames()
    _seed(tmp_path, "event_groups", "group,scope,pt\nsleep,narrow,Somnolence\n")
    with pytest.raises(PvError, match="unknown group/scope sleep/narrow"):
        load_event_groups()


def test_seed_without_version_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "watchlist.csv").write_text("drug,role,group\nbaclofen,target,x\n")
    monkeypatch.setenv("PV_SEEDS", str(tmp_path))
    with pytest.raises(PvError, match="no '# version"):
        load_watchlist()
