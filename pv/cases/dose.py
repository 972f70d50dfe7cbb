"""Daily dose in mg per case-drug (rule ``daily-dose``).

Evidence: real DRUG rows carry both structured fields (dose_amt, dose_unit, dose_freq,
FAERS 2012Q4+) and free text (dose_vbm, every era): "20 MG, DAILY", "100 MG, 2X/DAY",
"500 Mg TID", "20 milligram", "UNK". Default:

1. structured: dose_amt x unit factor x doses per day, when all three are known;
2. else free text, only when unambiguous: exactly one amount with a mass unit and exactly
   one frequency reading ("10 MG, TID", "20MG 3X/DAY", "500 MCG/DAY"); "/KG" doses, PRN and
   two different readings give no dose;
3. never mix a structured amount with a free-text frequency (the amount may already be a
   daily total: dose_amt 1500 MG QD next to "500 Mg TID").

Units: MG 1, G/GM 1000, MCG/UG 0.001 (intrathecal doses are in mcg). Frequencies: FDA's
dose_freq codes; 1X ("once") counts as one dose that day; PRN and UNK are not computable.
The user may change these tables here; they are the whole rule.
"""

from __future__ import annotations

import polars as pl

from pv.cases.derive import via_distinct

UNIT_MG = {
    "MG": 1.0, "MILLIGRAM": 1.0, "MILLIGRAMS": 1.0, "G": 1000.0, "GM": 1000.0, "GRAM": 1000.0,
    "GRAMS": 1000.0, "MCG": 0.001, "UG": 0.001, "µG": 0.001, "MICROGRAM": 0.001,
    "MICROGRAMS": 0.001,
}
MONTH_DAYS = 30.4375
FREQ_PER_DAY = {
    "QD": 1.0, "OD": 1.0, "BID": 2.0, "TID": 3.0, "QID": 4.0, "QH": 24.0, "Q2H": 12.0,
    "Q3H": 8.0, "Q4H": 6.0, "Q6H": 4.0, "Q8H": 3.0, "Q12H": 2.0, "Q24H": 1.0, "HS": 1.0,
    "QHS": 1.0, "QOD": 0.5, "QW": 1 / 7, "BIW": 2 / 7, "TIW": 3 / 7, "QOW": 1 / 14,
    "Q3W": 1 / 21, "QM": 1 / MONTH_DAYS, "1X": 1.0, "/DAY": 1.0, "/WK": 1 / 7,
    "/MONTH": 1 / MONTH_DAYS, "/HR": 24.0, "/YR": 1 / 365.25,
}

_AMOUNT = r"(\d+(?:\.\d+)?)\s*(MILLIGRAMS|MILLIGRAM|MICROGRAMS|MICROGRAM|MCG|UG|µG|MG|GRAMS|GRAM|GM|G)\b"
_CODES = r"\b(QD|OD|BID|TID|QID|QH|Q2H|Q3H|Q4H|Q6H|Q8H|Q12H|Q24H|QHS|HS|QOD|QW|BIW|TIW|QOW|Q3W|QM)\b"
_SPECIFIC = {
    r"\bTWICE (?:A DAY|DAILY|PER DAY)\b": 2.0,
    r"\b(?:THREE|3) TIMES (?:A DAY|DAILY|PER DAY)\b": 3.0,
    r"\b(?:FOUR|4) TIMES (?:A DAY|DAILY|PER DAY)\b": 4.0,
}
_N_PER_DAY = r"(\d+)\s*X\s*(?:/|PER|A)?\s*(?:DAY|DAILY|D)\b"
_N_PER_WEEK = r"(\d+)\s*X\s*(?:/|PER|A)?\s*(?:WEEK|WK)\b"
_EVERY_N_HOURS = r"\b(?:EVERY|Q)\s*(\d+)\s*(?:HOURS|HOUR|HRS|HR|H)\b"
# Generic words, read only after the specific phrases above are removed from the text.
_GENERIC = {
    r"(?:\bDAILY\b|\bPER DAY\b|/ ?DAY\b|/D\b|\bA DAY\b|\bEVERY DAY\b|\bONCE\b|\bNIGHTLY\b|\bAT BEDTIME\b|\b1X\b)": 1.0,
    r"(?:\bWEEKLY\b|/ ?WEEK\b|/ ?WK\b|\bPER WEEK\b)": 1 / 7,
    r"(?:\bMONTHLY\b|/ ?MONTH\b)": 1 / MONTH_DAYS,
}


def _unit_factor(unit: pl.Expr) -> pl.Expr:
    return unit.str.strip_chars().str.to_uppercase().replace_strict(UNIT_MG, default=None, return_dtype=pl.Float64)


def _freq_per_day(freq: pl.Expr) -> pl.Expr:
    return freq.str.strip_chars().str.to_uppercase().replace_strict(FREQ_PER_DAY, default=None, return_dtype=pl.Float64)


def _amount(amount: pl.Expr) -> pl.Expr:
    return amount.str.strip_chars().str.replace_all(",", "").cast(pl.Float64, strict=False)


def text_daily_mg(col: str = "dose_vbm") -> pl.Expr:
    text = pl.col(col).str.to_uppercase().str.replace_all(r"(\d),(\d{3})\b", "$1$2")
    n_amounts = text.str.count_matches(_AMOUNT)
    amount = text.str.extract(_AMOUNT, 1).cast(pl.Float64, strict=False) * _unit_factor(text.str.extract(_AMOUNT, 2))
    rest = text
    for pattern in (_CODES, _N_PER_DAY, _N_PER_WEEK, _EVERY_N_HOURS, *_SPECIFIC):
        rest = rest.str.replace_all(pattern, " ")
    hours = text.str.extract(_EVERY_N_HOURS, 1).cast(pl.Float64, strict=False)
    candidates = [
        text.str.extract(_CODES, 1).replace_strict(FREQ_PER_DAY, default=None, return_dtype=pl.Float64),
        text.str.extract(_N_PER_DAY, 1).cast(pl.Float64, strict=False),
        text.str.extract(_N_PER_WEEK, 1).cast(pl.Float64, strict=False) / 7,
        pl.when(hours > 0).then(24 / hours),
        *[pl.when(text.str.contains(p)).then(pl.lit(v)) for p, v in _SPECIFIC.items()],
        *[pl.when(rest.str.contains(p)).then(pl.lit(v)) for p, v in _GENERIC.items()],
    ]
    readings = pl.concat_list(candidates).list.drop_nulls().list.unique()
    per_day = pl.when(readings.list.len() == 1).then(readings.list.first())
    blocked = text.str.contains(r"/\s*KG|\bPRN\b|AS NEEDED|\bUNK\b")
    return pl.when((n_amounts == 1) & ~blocked).then(amount * per_day)


def daily_dose_mg(frame: pl.DataFrame) -> pl.Expr:
    """The ``daily-dose`` rule as one expression over ``frame``'s rows, each text parsed once."""
    structured = (
        via_distinct(frame, "dose_amt", _amount(pl.col("dose_amt")))
        * via_distinct(frame, "dose_unit", _unit_factor(pl.col("dose_unit")))
        * via_distinct(frame, "dose_freq", _freq_per_day(pl.col("dose_freq")))
    )
    return pl.coalesce(structured, via_distinct(frame, "dose_vbm", text_daily_mg()))
