"""Drug names as reporters write them (rules drug-normalise, drug-map, single-word,
learned-names; issue 10 item 2), on the distinct-value tables the build applies to rows."""

from __future__ import annotations

import polars as pl

from pv.cases.drugs import with_ingredients
from pv.vocab.drugnames import learned_names, load_drug_dictionary, normalise_names


def _map(rows: list[tuple[str | None, str | None]], dictionary: pl.DataFrame | None = None) -> list[tuple]:
    frame = pl.DataFrame(rows, schema={"drugname": pl.Utf8, "prod_ai": pl.Utf8}, orient="row")
    out = with_ingredients(frame, load_drug_dictionary().frame if dictionary is None else dictionary)
    return [(r["ingredient"], r["mapped"]) for r in out.iter_rows(named=True)]


def test_accents_brackets_and_words_of_strength_form_route_release_salt_maker():
    names = ["BACLOF\xc8NE", "LIORESAL [BACLOFEN]", "BACLOFEN 10MG PO TID", "BACLOFEN ITB", "BACLOFEN MYLAN",
             "NALTREXONE ER", "ACAMPROSATE CALCIUM DR", "BACLOFEN 500 \u039cG/ML", "BACLOFEN {GENERIC} Q8H",
             "OXIBATO DE SODIO", "VITAMIN A"]
    assert normalise_names(names) == ["baclofene", "lioresal", "baclofen", "baclofen", "baclofen", "naltrexone",
                                      "acamprosate", "baclofen", "baclofen", "oxibato", "vitamin a"]


def test_legacy_strings_map_to_their_ingredient():
    got = _map([(s, None) for s in (
        "BACLOF\xc8NE", "BACLOFENO", "BACLOFENUM", "ZZBRAND [BACLOFEN]", "LIORESAL [BACLOFEN]",
        "BACLOFEN MYLAN XYZ", "NALTREXONA", "ACAMPROSATE CALCIUM DR 333MG", "PR\xc9GABALINE", "OXIBATO DE SODIO")])
    assert got == [(["baclofen"], True)] * 6 + [(["naltrexone"], True), (["acamprosate"], True), (["pregabalin"], True),
                                                 (["sodium oxybate"], True)]


def test_two_ingredients_in_a_name_are_never_guessed():
    got = _map([("BACLOFEN/TIZANIDINE", None), ("NALTREXONE OR ACAMPROSATE", None), ("MUSCLE RELAXANT NOS", None)])
    assert got == [(["baclofen tizanidine"], False), (["naltrexone or acamprosate"], False),
                   (["muscle relaxant nos"], False)]


def test_multi_ingredient_prod_ai_counts_for_each_ingredient():
    # real 2026Q2 row: ADDERALL, four salts of two ingredients
    got = _map([("ADDERALL", "AMPHETAMINE ASPARTATE\\AMPHETAMINE SULFATE\\DEXTROAMPHETAMINE SACCHARATE\\"
                             "DEXTROAMPHETAMINE SULFATE"),
                ("CONTRAVE", "BUPROPION HYDROCHLORIDE\\NALTREXONE HYDROCHLORIDE"),
                ("CONTRAVE", None)])  # no prod_ai: the dictionary's combination entry
    assert got == [(["amphetamine", "dextroamphetamine"], True), (["bupropion", "naltrexone"], True),
                   (["bupropion", "naltrexone"], True)]


def test_learned_names_need_rows_and_agreement():
    pairs = pl.DataFrame({
        "drugname": ["EXELON", "EXELON 1.5 MG", "KONOVA", "KONOVA", "RARELY", "BACLOFEN"],
        "prod_ai": ["RIVASTIGMINE TARTRATE", "RIVASTIGMINE", "IBUPROFEN", "FAPEPRAZOLE", "X", "BACLOFEN"],
        "n": [5, 2, 5, 5, 2, 9]}, schema_overrides={"n": pl.UInt32})
    dictionary = load_drug_dictionary().frame
    learned = learned_names(pairs, dictionary)
    # EXELON: 7 rows agree; KONOVA: two ingredients 50/50; RARELY: 2 rows; baclofen: seeded already
    assert learned.rows() == [("exelon", "rivastigmine")]
    got = _map([("EXELON", None), ("KONOVA", None)], pl.concat([dictionary, learned]))
    assert got == [(["rivastigmine"], True), (["konova"], False)]
