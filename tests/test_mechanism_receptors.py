"""The receptor map seed: shipped content, and every validation rule on a broken copy."""

from __future__ import annotations

import polars as pl
import pytest

from pv.errors import PvError
from pv.mechanism.hypothesis import domain_ranks
from pv.vocab.receptors import (
    DOMAIN_REGIONS, RECEPTOR_MAP, domain_density, load_domain_regions, load_mechanism_plan, load_mechanism_roles,
    load_pt_spellings, load_receptor_map, pt_domains,
)


def test_shipped_map_is_valid_and_complete():
    rmap = load_receptor_map()
    # domain.md's table: 9 domains, 56 PTs plus the paradoxical Muscle spasticity row.
    assert rmap["domain"].n_unique() == 9
    assert rmap.height == 57
    for column in ("density_grade", "link_grade", "source", "evidence", "version"):
        assert rmap[column].null_count() == 0
    assert set(rmap["density_grade"]) | set(rmap["link_grade"]) <= {"D", "I"}
    # British MedDRA spellings, not American ones.
    pts = set(rmap["pt"])
    assert {"Paraesthesia", "Hypoaesthesia", "Apnoea", "Vision blurred", "Generalised tonic-clonic seizure"} <= pts
    assert not {"Paresthesia", "Apnea", "Hypoesthesia"} & pts
    assert pts <= load_pt_spellings()


def test_density_table_and_pt_domain_loader():
    dens = domain_density().sort("domain")
    by = dict(zip(dens["domain"], dens["density_rank"]))
    assert by["sensory"] == 4 and by["coordination"] == 4 and by["memory_cognition"] == 3
    assert by["respiratory"] is None and by["autonomic_thermoregulation"] == 2
    table = pt_domains()
    assert table.columns == ["pt", "domain"]
    assert table.height == 56  # the paradoxical row is not counted in a domain signal
    assert table.filter(pl.col("pt") == "Muscle spasticity").height == 0
    assert table.filter(pl.col("pt") == "Tinnitus")["domain"].to_list() == ["sensory"]


def test_roles_seed():
    roles = load_mechanism_roles()
    role = dict(zip(roles["drug"], roles["role"]))
    assert role["baclofen"] == "hypothesis"
    assert role["naltrexone"] == role["acamprosate"] == "negative_control"
    assert role["sodium oxybate"] == role["phenibut"] == "positive_control"  # the other GABA-B agonists
    assert role["gabapentin"] == role["pregabalin"] == role["clonazepam"] == "gabaergic_comparator"


def test_domain_regions_and_plan_seeds():
    ranks = domain_ranks().sort("domain")
    by = {r["domain"]: r for r in ranks.iter_rows(named=True)}
    assert (by["arousal_sedation"]["lowest"], by["arousal_sedation"]["highest"]) == (3, 4)
    assert (by["reward_mood"]["lowest"], by["reward_mood"]["highest"], round(by["reward_mood"]["mean"], 3)) == (3, 4, 3.333)
    assert by["autonomic_thermoregulation"]["tier"] == 2 and by["sensory"]["tier"] == 3
    assert "respiratory" not in by
    plan = load_mechanism_plan()
    assert plan["primary_rank_rule"]["value"] == "lowest" and "conservative" in plan["primary_rank_rule"]["reason"]
    assert (plan["primary_drug"]["value"], plan["alpha"]["value"]) == ("baclofen", "0.05")


def test_domain_regions_must_agree_with_the_map(tmp_path):
    text = DOMAIN_REGIONS.read_text().replace("memory_cognition,hippocampus,high,3", "memory_cognition,hippocampus,high,4")
    bad = tmp_path / "domain_regions.csv"
    bad.write_text(text)
    with pytest.raises(PvError, match="lowest region rank 4 differs from the receptor map's density_rank 3"):
        load_domain_regions(bad)


def _with_line_edited(tmp_path, prefix, edit):
    """A copy of the shipped map with the line starting ``prefix`` passed through ``edit``."""
    lines = RECEPTOR_MAP.read_text(encoding="utf-8").splitlines()
    n = next(i for i, line in enumerate(lines, 1) if line.startswith(prefix))
    lines[n - 1] = edit(lines[n - 1])
    path = tmp_path / "receptor_map.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, n


def test_duplicate_pt_domain_names_file_and_line(tmp_path):
    lines = RECEPTOR_MAP.read_text(encoding="utf-8").splitlines()
    tinnitus = next(line for line in lines if line.startswith("Tinnitus,"))
    path = tmp_path / "receptor_map.csv"
    path.write_text("\n".join(lines + [tinnitus.replace("Tinnitus", "TINNITUS", 1)]) + "\n", encoding="utf-8")
    with pytest.raises(PvError, match=rf"{path}: line {len(lines) + 1}: duplicate \(pt, domain\) = \(TINNITUS, sensory\)"):
        load_receptor_map(path)


@pytest.mark.parametrize(
    "prefix,old,new,reason",
    [
        ("Diplopia,", ",high,4,", ",high,3,",
         "region 'thalamus incl. medial/lateral geniculate relays' given a second density"),
        ("Paraesthesia,", "Paraesthesia", "Paresthesia",
         r"PT 'Paresthesia' is not a MedDRA PT spelling \(MedDRA spells it 'Paraesthesia'\)"),
        ("Tinnitus,", ",high,4,D,I,effect,", ",high,4,,I,effect,", "empty density_grade"),
        ("Tinnitus,", ",high,4,D,I,effect,", ",high,4,D,X,effect,", "link_grade 'X' is not D or I"),
        ("Tinnitus,", ",high,4,D,I,effect,", ",high,2,D,I,effect,", "density_rank 2 does not fit density 'high'"),
        ("Tinnitus,", ",high,4,D,I,effect,", ",very high,4,D,I,effect,", "density 'very high' is not one of"),
        ("Amnesia,", ",2026.11.1", ",", "empty version"),
    ],
)
def test_row_rules_name_file_and_line(tmp_path, prefix, old, new, reason):
    path, n = _with_line_edited(tmp_path, prefix, lambda line: line.replace(old, new, 1))
    with pytest.raises(PvError, match=rf"{path}: line {n}: {reason}"):
        load_receptor_map(path)


def test_missing_source_is_rejected(tmp_path):
    def drop_source(line):
        row = line.split(",")
        return ",".join(row[:-2] + ["", row[-1]])

    path, n = _with_line_edited(tmp_path, "Amnesia,", drop_source)
    with pytest.raises(PvError, match=rf"line {n}: empty source"):
        load_receptor_map(path)


def test_user_map_in_pv_seeds_replaces_the_shipped_one(tmp_path, monkeypatch):
    lines = RECEPTOR_MAP.read_text(encoding="utf-8").splitlines()
    ataxia = next(line for line in lines if line.startswith("Ataxia,"))
    (tmp_path / "receptor_map.csv").write_text(
        "\n".join(lines + [ataxia.replace("Ataxia", "Nystagmus", 1)]) + "\n", encoding="utf-8")
    monkeypatch.setenv("PV_SEEDS", str(tmp_path))
    with pytest.raises(PvError, match=r"PT 'Nystagmus' is not a MedDRA PT spelling"):
        load_receptor_map()
    (tmp_path / "meddra_pt_spellings.csv").write_text("# user spellings\n# version: 1\npt\nNystagmus\n")
    rmap = load_receptor_map()
    assert rmap.height == 58
    assert rmap.filter(pl.col("pt") == "Nystagmus")["domain"].to_list() == ["coordination"]
