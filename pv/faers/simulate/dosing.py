"""Focal-drug dose fields as FDA's files carry them, and what each must become (``dose``
rows of ground_truth.csv).

Messes planted (issue 10, item 3): single doses coded ``1X`` (ingested overdose amounts:
"30 TABLETS, 1X", "300 MG, 1X", dose_freq 1X); tablet counts times a strength written in the
drug name ("BACLOFEN 10MG" + "2 TABLETS TID", or dose_unit DF) or in the text ("2 TABLETS OF
10 MG"); micrograms in every spelling the era's bytes allow (MCG, UG, microgram; µg from
2012Q4; Greek μg and the upper-cased "ΜG" in the UTF-8 DRUG files of 2020 on); FDA's
frequency codes and words (QD BID TID QID Q6H Q8H Q12H, x/day, TIMES A DAY); intrathecal
products (GABLOFEN, LIORESAL INTRATHECAL, BACLOFEN INTRATHECAL) with a blank route, and
intrathecal doses under a plain name with a blank route (route unknown; their ug/day are
below the oral bands' floor). Expected values are computed here from the planted numbers
and seeds/dose_bands.csv (its (lower, upper] chains), not by pvmon's parser.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pv.faers.simulate import layout
from pv.vocab.dosing import load_dose_bands

FREQS = (("QD", 1), ("BID", 2), ("TID", 3), ("QID", 4))
FREQ_WORDS = {"QD": ("DAILY", "QD", "1x/day", "once a day"), "BID": ("BID", "2x/day", "TWICE A DAY", "Q12H"),
              "TID": ("TID", "3x/day", "THREE TIMES A DAY", "Q8H"), "QID": ("QID", "4x/day", "Q6H", "FOUR TIMES A DAY")}
IT_PRODUCTS = ("GABLOFEN", "LIORESAL INTRATHECAL", "BACLOFEN INTRATHECAL")
SINGLE_SHARE = 0.06  # oral focal rows written as one ingested amount, 1X
TABLETS_OF_SHARE = 0.08  # oral rows written "N TABLETS OF S MG"
IT_BLANK_ROUTE = 0.5  # intrathecal product named, route left blank
IT_PLAIN_BLANK_ROUTE = 0.15  # plain name (BACLOFEN, LIORESAL), route left blank: route unknown


def micro_spellings(year: int, q: int) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Microgram spellings the era's DRUG bytes can carry (legacy text is upper-cased later),
    with weights that make the rare ones common enough to be tested in one quarter."""
    out = {"UG": 1.0, "ug": 1.0, "MCG": 1.0, "mcg": 1.0, "microgram": 1.0}
    if layout.era(year, q) != "laers":
        out["\u00b5g"] = 3.0  # micro sign, one Latin-1 byte
    if layout.utf8("DRUG", year, q):
        out.update({"\u03bcg": 4.0, "\u039cG": 4.0})  # Greek mu; and as an upper-casing sender writes it
    return tuple(out), tuple(out.values())


def _strength(names: np.ndarray) -> np.ndarray:
    """mg per unit written in a focal name ("BACLOFEN 10MG" -> 10), else 0."""
    s = pl.Series(names.astype(str)).str.extract(r"(\d+(?:\.\d+)?)\s*MG\b", 1).cast(pl.Float64).fill_null(0.0)
    return s.to_numpy()


def focal_dose_text(rng, extra, attrs: dict, ingredient: str, year: int, q: int) -> dict:
    """dose_amt/dose_unit/dose_freq/dose_vbm/route for focal rows, the true daily dose (mg) and
    what pvmon must read from them: ``t_daily``, ``t_single`` (NaN = none), ``t_route``.

    ``rng`` (the quarter's generator) gives exactly the draws it gave before the messes were
    added, so every other table of the quarter is unchanged; ``extra`` gives the rest."""
    n = len(attrs["daily"])
    it = attrs["route"] == "intrathecal"
    oral_like = ~it & (attrs["route"] != "other")
    w = np.array([0.2, 0.25, 0.45, 0.1])
    fi = np.searchsorted(np.cumsum(w / w.sum()), rng.random(n), side="right").clip(0, 3)
    mult = np.array([m for _, m in FREQS])[fi]
    freq = np.array([c for c, _ in FREQS], dtype=object)[fi]
    step = 5.0 if ingredient == "baclofen" else 1.0
    strength = np.where(oral_like, _strength(attrs["name"]), 0.0)
    step = np.where(strength > 0, strength, step)
    amt = np.maximum(step, np.round(attrs["daily"] / mult / step) * step)
    daily = amt * mult
    if ingredient == "naltrexone":
        im = attrs["route"] == "other"
        amt = np.where(im, 380.0, amt)
        freq = np.where(im, "QM", freq)
        daily = np.where(im, 380 / 30.4375, daily)  # QM: one dose per average month
    ug = np.round(attrs["daily"] * 1000 / 10) * 10
    amt = np.where(it, np.maximum(ug, 10), amt)
    freq = np.where(it, "QD", freq)
    daily = np.where(it, amt / 1000.0, daily)
    unit = np.where(it, "UG", "MG").astype(object)
    amt_s = np.array([f"{a:g}" for a in amt], dtype=object)
    word = np.array([FREQ_WORDS[fr][i] if fr in FREQ_WORDS else fr
                     for fr, i in zip(freq, rng.integers(0, 4, n))], dtype=object)
    style = rng.integers(0, 5, n)
    spellings, weights = micro_spellings(year, q)
    micro = np.array(spellings, dtype=object)[extra.choice(len(spellings), n, p=np.array(weights) / sum(weights))]
    vbm = np.where(style == 0, amt_s + " " + np.where(it, micro, unit) + ", " + word,
          np.where(style == 1, amt_s + " " + np.where(it, micro, "mg") + " " + word,
          np.where(style == 2, amt_s + " " + np.where(it, micro, "milligram"),
          np.where(style == 3, amt_s + unit + " " + freq, "UNK"))))
    unknown = style == 4  # dose not recoverable from text; structured fields blank too
    structured = ~unknown
    # tablet counts: a strength in the name -> always counts (structured DF or text); else some "N TABLETS OF S MG"
    count = np.where(strength > 0, amt / np.where(strength > 0, strength, 1), 0)
    named = (strength > 0) & ~unknown
    as_df = named & (extra.random(n) < 0.5)
    cnt_s = np.array([f"{c:g}" for c in count], dtype=object)
    vbm = np.where(named, np.where(as_df, cnt_s + " DF, " + word, cnt_s + " TABLETS " + word), vbm)
    structured = np.where(named, as_df, structured)
    of = oral_like & (strength == 0) & ~unknown & (extra.random(n) < TABLETS_OF_SHARE)
    per = np.where(amt % 2 == 0, 2, 1)
    vbm = np.where(of, per.astype(str).astype(object) + " TABLETS OF " + np.array([f"{a / p:g}" for a, p in zip(amt, per)],
                                                                                   dtype=object) + " MG " + word, vbm)
    structured = structured & ~of
    # single ingested amounts, 1X: no mg/day, the amount is kept as the single dose
    single = oral_like & ~unknown & (extra.random(n) < SINGLE_SHARE)
    n_tabs = extra.integers(10, 61, n).astype(float)
    s_amt = np.where(strength > 0, n_tabs * strength, np.round(daily * extra.uniform(3, 15, n) / step) * step)
    s_kind = extra.integers(0, 2, n)
    s_text = np.where(strength > 0, np.array([f"{c:g}" for c in n_tabs], dtype=object) + " TABLETS, 1X",
                      np.array([f"{a:g}" for a in s_amt], dtype=object) + " MG, 1X")
    vbm = np.where(single, s_text, vbm)
    s_structured = single & (strength == 0) & (s_kind == 1)
    structured = np.where(single, s_structured, structured)
    amt_s = np.where(single, np.array([f"{a:g}" for a in s_amt], dtype=object), np.where(named, cnt_s, amt_s))
    unit = np.where(named & ~single, "DF", unit)
    freq = np.where(single, "1X", freq)
    # style 2 ("N milligram", no frequency) is readable only through its structured fields,
    # which legacy DRUG files lack
    plain2 = (style == 2) & ~named & ~of & ~single
    t_daily = np.where(single | unknown | plain2 & (layout.era(year, q) == "laers"), np.nan, daily)
    t_single = np.where(single, s_amt, np.nan)
    # routes: intrathecal products sometimes without a route; plain intrathecal names too (route unknown)
    product = np.isin(attrs["name"], IT_PRODUCTS)
    blank = it & np.where(product, extra.random(n) < IT_BLANK_ROUTE, extra.random(n) < IT_PLAIN_BLANK_ROUTE)
    route = np.select([blank, it, attrs["route"] == "oral", attrs["route"] == "other"],
                      ["", "Intrathecal", "Oral", "Intramuscular"], "")
    t_route = np.where(it & (~blank | product), "intrathecal",
                       np.where(blank | (attrs["route"] == "unknown"), "unknown", attrs["route"]))
    return dict(amt=np.where(structured, amt_s, ""), unit=np.where(structured, unit, ""),
                freq=np.where(structured, freq, ""), vbm=vbm, daily=daily, route=route,
                t_daily=t_daily, t_single=t_single, t_route=t_route.astype(object))


def expected_bands(ingredient: str, route_class: np.ndarray, daily: np.ndarray) -> np.ndarray:
    """seeds/dose_bands.csv's band for each (route class, mg/day); NaN dose -> "unknown"."""
    bands = load_dose_bands().frame.filter(pl.col("drug") == ingredient)
    out = np.full(len(daily), "unknown", dtype=object)
    for (route,), chain in bands.group_by("route_class"):
        rows = (route_class == route) & ~np.isnan(daily)
        floor = chain["floor_mg"][0]
        if floor is not None:
            rows &= daily > floor
        upper = chain["upper_mg"].fill_null(np.inf).to_numpy()
        idx = np.searchsorted(upper, daily[rows], side="left")  # (lower, upper]
        out[rows] = chain["band"].to_numpy()[idx.clip(0, len(upper) - 1)]
    return out


def truth_text(ingredient: str, dose: dict) -> np.ndarray:
    """One text per focal row: ``drug|daily|single|route|band`` (read back by ``dose_rows``)."""
    band = expected_bands(ingredient, dose["t_route"], dose["t_daily"])
    fmt = np.vectorize(lambda v: "" if np.isnan(v) else repr(float(v)), otypes=[object])
    return (ingredient + "|" + fmt(dose["t_daily"]) + "|" + fmt(dose["t_single"]) + "|" + dose["t_route"]
            + "|" + band).astype(object)


def dose_rows(drug: pl.DataFrame, quarter: str) -> pl.DataFrame:
    """ground_truth ``dose`` rows from the DRUG frame's ``_dose_truth`` column (keys assigned)."""
    parts = pl.col("_dose_truth").str.split("|")
    return drug.filter(pl.col("_dose_truth").is_not_null()).select(
        kind=pl.lit("dose"), quarter=pl.lit(quarter), table=pl.lit("DRUG"), caseid="caseid", primaryid="primaryid",
        drug=parts.list.get(0), value=parts.list.get(1),
        subset=pl.lit("dose_band=") + parts.list.get(4),
        detail=pl.format("drug_seq={}; route_class={}; single_dose_mg={}", "drug_seq", parts.list.get(3),
                         parts.list.get(2)),
    )
