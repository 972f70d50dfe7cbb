"""One memo of parsed drug names and dose texts for a whole build (pv.cases.distinct): the rows of
every quarter get what a table of their own quarter's values gives, and each value is parsed once."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from pv.cases.distinct import Memo
from pv.cases.drugs import drug_rows
from pv.vocab.dosing import load_dose_bands, load_route_products
from pv.vocab.drugnames import load_drug_dictionary

NO_PER_DRUG = pl.DataFrame(schema={"primaryid": pl.Int64, "drug_seq": pl.Int64, "indication_class": pl.Utf8})
NO_STARTS = pl.DataFrame(schema={"primaryid": pl.Int64, "drug_seq": pl.Int64, "_start": pl.Date})


def _quarter(names: list[tuple[str | None, str | None, str | None]], first: int) -> pl.DataFrame:
    n = len(names)
    return pl.DataFrame({
        "caseid": range(first, first + n), "primaryid": range(first, first + n), "quarter": ["2020Q1"] * n,
        "drug_seq": [1] * n, "role_cod": ["ps"] * n, "drugname": [d for d, _, _ in names],
        "prod_ai": [a for _, a, _ in names], "val_vbm": ["1"] * n, "route": ["ORAL", None] * (n // 2) + ["ORAL"] * (n % 2),
        "dose_vbm": [v for _, _, v in names], "dose_amt": ["10", None] * (n // 2) + ["5"] * (n % 2),
        "dose_unit": ["MG"] * n, "dose_freq": ["TID", "1X"] * (n // 2) + [None] * (n % 2),
        "source_line": range(n), "_event_day": [None] * n,
    }, schema_overrides={"_event_day": pl.Date, **{c: pl.Utf8 for c in ("drugname", "prod_ai", "route", "dose_vbm",
                                                                         "dose_amt", "dose_freq")}})


def test_a_memo_shared_by_quarters_gives_each_quarter_its_own_result_and_parses_each_value_once():
    dictionary, products, bands = load_drug_dictionary().frame, load_route_products().frame, load_dose_bands().frame
    q1 = _quarter([("BACLOFEN 10MG", None, "10 MG, TID"), ("LIORESAL [BACLOFEN]", None, None),
                   ("CONTRAVE", "BUPROPION HYDROCHLORIDE\\NALTREXONE HYDROCHLORIDE", "1 DF, 2X/DAY"),
                   (None, None, "UNK")], 1)
    q2 = _quarter([("BACLOFEN 10MG", None, "2 TABLETS, 3 TIMES A DAY"), ("ZZUNKNOWN", None, "10 MG, TID"),
                   ("CONTRAVE", None, "500 MCG/DAY")], 100)
    memo = Memo()
    shared = [drug_rows(q, NO_PER_DRUG, NO_STARTS, dictionary, products, bands, memo) for q in (q1, q2)]
    alone = [drug_rows(q, NO_PER_DRUG, NO_STARTS, dictionary, products, bands) for q in (q1, q2)]
    for got, want in zip(shared, alone):
        assert_frame_equal(got, want, check_exact=True)
    assert shared[1].filter(pl.col("ingredient_part") == 0)["daily_dose_mg"].to_list() == [30.0, 30.0, 0.5]
    # every distinct value once: "BACLOFEN 10MG" and "10 MG, TID" were parsed for q1 and reused
    texts = memo.table("dose text", q2, ["dose_vbm"], lambda v: v)
    assert sorted(texts["dose_vbm"].to_list()) == sorted(["10 MG, TID", "1 DF, 2X/DAY", "UNK",
                                                          "2 TABLETS, 3 TIMES A DAY", "500 MCG/DAY"])
    pairs = memo.table("ingredients", q2, ["drugname", "prod_ai"], lambda v: v, nulls=True)
    assert pairs.height == 6  # q1's four pairs (the null name too) and q2's two new ones
