"""Annotation of reaction rows and signal rows with the receptor map (issue 6, point 1)."""

from __future__ import annotations

import polars as pl

from pv.mechanism.annotate import annotate_reactions, annotate_signals
from pv.vocab.receptors import RECEPTOR_MAP, load_receptor_map


def test_reactions_keep_their_rows_and_unmapped_pts_say_so():
    reactions = pl.DataFrame({
        "caseid": [1, 1, 2, 3, 3],
        "pt": ["TINNITUS", "Confusional state", "Nausea", "Apnoea", "Muscle spasticity"],
    })
    out = annotate_reactions(reactions)
    assert out.height == 5 and out["caseid"].to_list() == [1, 1, 2, 3, 3]
    row = out.row(0, named=True)
    assert row["domain"] == ["sensory"] and row["density"] == ["high"] and row["density_rank"] == [4]
    assert row["density_grade"] == ["D"] and row["link_grade"] == ["I"]
    assert "Loche 2014" in row["source"][0] and "180-210 mg/day" in row["evidence"][0]
    assert out["mechanism_status"].to_list() == ["mapped", "mapped", "no mapping", "mapped", "mapped"]
    assert out.row(2, named=True)["domain"] is None
    assert out.row(3, named=True)["density"] == ["not_ranked"]
    assert out.row(4, named=True)["role"] == ["paradoxical"]
    lazy = annotate_reactions(reactions.lazy())
    assert isinstance(lazy, pl.LazyFrame) and lazy.collect().equals(out)


def test_pt_in_two_domains_gets_both_without_duplicating_the_reaction(tmp_path):
    text = RECEPTOR_MAP.read_text(encoding="utf-8").splitlines()
    arousal = next(line for line in text if line.startswith("Somnolence,"))
    extra = arousal.replace("Somnolence", "Confusional state", 1)
    path = tmp_path / "receptor_map.csv"
    path.write_text("\n".join(text + [extra]) + "\n", encoding="utf-8")
    rmap = load_receptor_map(path)
    out = annotate_reactions(pl.DataFrame({"caseid": [7], "pt": ["confusional state"]}), rmap)
    assert out.height == 1
    assert out["domain"].to_list() == [["memory_cognition", "arousal_sedation"]]
    assert out["density_rank"].to_list() == [[3, 3]]


def test_signal_rows_pt_domain_and_group():
    signals = pl.DataFrame({
        "drug": ["baclofen"] * 5,
        "event": ["Tinnitus", "domain:sensory", "respiratory", "overdose", "Cerebrospinal fluid leakage"],
        "level": ["pt", "domain", "domain", "group", "pt"],
    })
    out = annotate_signals(signals)
    assert out.height == 5
    assert out["mechanism_status"].to_list() == [
        "mapped", "mapped", "mapped", "not annotated (group-level row)", "no mapping",
    ]
    assert out["domain"].to_list()[:3] == [["sensory"], ["sensory"], ["respiratory"]]
    assert out["density_rank"].to_list()[2] == [None]
    # A domain's link grade is D only when every PT of it is linked on documented evidence.
    assert out["link_grade"].to_list()[1] == ["I"]
