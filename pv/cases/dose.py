"""Daily dose and single dose in mg per case-drug (rules ``daily-dose``, ``single-dose``,
``tablet-count``, ``microgram``).

Evidence: real DRUG rows carry structured fields (dose_amt, dose_unit, dose_freq, FAERS
2012Q4+) and free text (dose_vbm, every era): "20 MG, DAILY", "100 MG, 2X/DAY", "500 Mg TID",
"20 milligram", "1.5 MG, ONCE/DIALY", "UNK"; FDA's dose_freq codes (faers-format.md) include
``1X`` = one single dose, which is how ingested overdose amounts are coded. Default:

1. structured: dose_amt x unit x dose_freq, when all three are known;
2. else the free text, only when unambiguous: exactly one amount per dose and exactly one
   frequency reading ("10 MG, TID", "20MG 3X/DAY", "500 MCG/DAY", "3 TIMES A DAY"); "/KG"
   doses, PRN, UNK, "TIMES A DAY" without a number and two different readings give no dose;
3. never a structured amount with a free-text frequency (the amount may already be a daily
   total: dose_amt 1500 MG QD next to "500 Mg TID").

- ``single-dose``: dose_freq ``1X``, or a text whose only frequency word is 1X, ONCE, SINGLE
  or ONE TIME ("30 TABLETS, 1X"), is one dose: no mg/day (``daily_dose_mg`` null), the amount
  goes to ``single_dose_mg``. ONCE next to a period ("ONCE DAILY", "ONCE/DIALY") is daily.
- ``tablet-count``: a count of dosage forms (dose_unit DF/TABLET/CAPSULE..., text "2 TABLETS",
  "1 DF") times the strength: "2 TABLETS OF 10 MG" in the text, else one strength written in
  the drug name ("BACLOFEN 10MG"; not a concentration such as "1 MG/ML"). A count next to an
  unlinked mass amount ("10 MG TABLET, 2 TABLETS") is ambiguous: no dose.
- ``microgram``: MCG, UG, microgram(s), and µg in every spelling: U+00B5 (micro sign),
  U+03BC (Greek mu) and U+039C (Greek capital mu, what upper-casing either of them gives:
  "ΜG"). Intrathecal doses are in micrograms; the columns stay mg (0.3 = 300 µg).

Units: MG 1, G/GM 1000, micrograms 0.001. Frequencies per day: FREQ_PER_DAY (FDA's codes:
QD BID TID QID Q4H Q6H Q8H Q12H QW QM HS ...; PRN and UNK none) and the text readings below.
The user may change these tables here; they are the whole rule.
"""

from __future__ import annotations

import polars as pl

from pv.cases.distinct import Memo, looked_up as lookup


MICRO = "[\u00b5\u03bc\u039c]"  # micro sign, Greek mu, Greek capital mu -> "U" (so "µG" reads "UG")
UNIT_MG = {
    "MG": 1.0, "MILLIGRAM": 1.0, "MILLIGRAMS": 1.0, "MILLIGRAMME": 1.0, "MILLIGRAMMES": 1.0,
    "G": 1000.0, "GM": 1000.0, "GRAM": 1000.0, "GRAMS": 1000.0, "GRAMME": 1000.0, "GRAMMES": 1000.0,
    "MCG": 0.001, "MCGS": 0.001, "UG": 0.001, "MICROGRAM": 0.001, "MICROGRAMS": 0.001,
    "MICROGRAMME": 0.001, "MICROGRAMMES": 0.001,
}
FORM_UNITS = ("DF", "{DF}", "DOSAGE FORM", "DOSAGE FORMS", "TABLET", "TABLETS", "TAB", "TABS", "CAPSULE",
              "CAPSULES", "CAP", "CAPS", "PILL", "PILLS")
SINGLE_CODES = ("1X",)
MONTH_DAYS = 30.4375
FREQ_PER_DAY = {
    "QD": 1.0, "OD": 1.0, "BID": 2.0, "TID": 3.0, "QID": 4.0, "QH": 24.0, "Q2H": 12.0,
    "Q3H": 8.0, "Q4H": 6.0, "Q6H": 4.0, "Q8H": 3.0, "Q12H": 2.0, "Q24H": 1.0, "HS": 1.0,
    "QHS": 1.0, "QOD": 0.5, "QW": 1 / 7, "BIW": 2 / 7, "TIW": 3 / 7, "QOW": 1 / 14,
    "Q3W": 1 / 21, "QM": 1 / MONTH_DAYS, "/DAY": 1.0, "/WK": 1 / 7,
    "/MONTH": 1 / MONTH_DAYS, "/HR": 24.0, "/YR": 1 / 365.25,
}
NUMBER_WORDS = {"ONE": "1", "TWO": "2", "THREE": "3", "FOUR": "4", "FIVE": "5", "SIX": "6"}

_UNIT = "(" + "|".join(sorted(UNIT_MG, key=len, reverse=True)) + r")\b"
_AMOUNT = r"(\d+(?:\.\d+)?)\s*" + _UNIT
_FORM = r"(?:DOSAGE FORMS?|DF|TABLETS?|TABS?|CAPSULES?|CAPS?|PILLS?)"
_COUNT = r"(\d+(?:\.\d+)?)\s*" + _FORM + r"\b"
_COUNT_OF = r"(\d+(?:\.\d+)?)\s*(?:" + _FORM + r"\s*(?:OF|X)|X)\s*" + _AMOUNT
_CODES = r"\b(QD|OD|BID|TID|QID|QH|Q2H|Q3H|Q4H|Q6H|Q8H|Q12H|Q24H|QHS|HS|QOD|QW|BIW|TIW|QOW|Q3W|QM)\b"
_PERIOD_DAY = r"(?:DAY|DAILY|DIALY|D)\b"
_N_PER_DAY = r"(\d+)\s*X\s*(?:/|PER|A|EVERY)?\s*" + _PERIOD_DAY
_N_PER_WEEK = r"(\d+)\s*X\s*(?:/|PER|A|EVERY)?\s*(?:WEEK|WK)\b"
_EVERY_N_HOURS = r"\b(?:EVERY|Q)\s*(\d+)\s*(?:HOURS|HOUR|HRS|HR|H)\b"
_N_TIMES_DAY = r"\b(\d+|ONE|TWO|THREE|FOUR|FIVE|SIX)\s*TIMES\s*(?:A|PER|EACH|EVERY)?\s*(?:DAY|DAILY)\b"
_TWICE = r"\bTWICE\s*(?:A|PER|EACH|EVERY)?\s*(?:DAY|DAILY)\b"
# Generic words, read only after the specific phrases above are removed from the text.
_GENERIC = {
    r"\bDAILY\b|\bDIALY\b|\bPER DAY\b|/ ?DAY\b|/D\b|\bA DAY\b|\bEVERY DAY\b|\bEACH DAY\b|\bNIGHTLY\b|\bAT BEDTIME\b": 1.0,
    r"\bWEEKLY\b|/ ?WEEK\b|/ ?WK\b|\bPER WEEK\b|\bA WEEK\b|\bEVERY WEEK\b": 1 / 7,
    r"\bMONTHLY\b|/ ?MONTH\b|\bPER MONTH\b|\bA MONTH\b|\bEVERY MONTH\b": 1 / MONTH_DAYS,
}
_SINGLE = r"\b1X\b|\bONCE\b|\bSINGLE\b|\bONE TIME\b"
_BLOCKED = r"/\s*KG|\bPRN\b|AS NEEDED|\bUNK\b"


def normalised(text: pl.Expr) -> pl.Expr:
    """Upper case, every µ spelling as U, thousands commas dropped ("1,000 MG")."""
    return text.str.to_uppercase().str.replace_all(MICRO, "U").str.replace_all(r"(\d),(\d{3})\b", "$1$2")


def _mg(amount: pl.Expr, unit: pl.Expr) -> pl.Expr:
    return amount.cast(pl.Float64, strict=False) * unit.replace_strict(UNIT_MG, default=None, return_dtype=pl.Float64)


def text_readings(col: str = "dose_vbm") -> dict[str, pl.Expr]:
    """What one dose text says: ``mg`` per dose (mass written), ``count`` of dosage forms per
    dose (no mass written), ``per_day`` (one unambiguous reading), ``single`` (a single dose)."""
    text = normalised(pl.col(col))
    n_amounts, n_counts = text.str.count_matches(_AMOUNT), text.str.count_matches(_COUNT)
    linked = text.str.extract_groups(_COUNT_OF)
    mg = (
        pl.when((n_amounts == 1) & text.str.contains(_COUNT_OF) & (n_counts <= 1))
        .then(linked.struct[0].cast(pl.Float64, strict=False) * _mg(linked.struct[1], linked.struct[2]))
        .when((n_amounts == 1) & (n_counts == 0))
        .then(_mg(text.str.extract(_AMOUNT, 1), text.str.extract(_AMOUNT, 2)))
    )
    count = pl.when((n_amounts == 0) & (n_counts == 1)).then(text.str.extract(_COUNT, 1).cast(pl.Float64, strict=False))
    rest = text
    for pattern in (_CODES, _N_PER_DAY, _N_PER_WEEK, _EVERY_N_HOURS, _N_TIMES_DAY, _TWICE):
        rest = rest.str.replace_all(pattern, " ")
    hours = text.str.extract(_EVERY_N_HOURS, 1).cast(pl.Float64, strict=False)
    times = text.str.extract(_N_TIMES_DAY, 1).replace(NUMBER_WORDS).cast(pl.Float64, strict=False)
    candidates = [
        text.str.extract(_CODES, 1).replace_strict(FREQ_PER_DAY, default=None, return_dtype=pl.Float64),
        text.str.extract(_N_PER_DAY, 1).cast(pl.Float64, strict=False),
        text.str.extract(_N_PER_WEEK, 1).cast(pl.Float64, strict=False) / 7,
        pl.when(hours > 0).then(24 / hours),
        times,
        pl.when(text.str.contains(_TWICE)).then(pl.lit(2.0)),
        *[pl.when(rest.str.contains(p)).then(pl.lit(v)) for p, v in _GENERIC.items()],
    ]
    readings = pl.concat_list(candidates).list.drop_nulls().list.unique()
    blocked = text.str.contains(_BLOCKED) | rest.str.contains(r"\bTIMES\s*(?:A|PER|EACH|EVERY)?\s*(?:DAY|DAILY)\b")
    per_day = pl.when((readings.list.len() == 1) & ~blocked).then(readings.list.first())
    single = (readings.list.len() == 0) & ~blocked & rest.str.contains(_SINGLE)
    return {"mg": mg, "count": count, "per_day": per_day, "single": single}


def name_strength_mg(col: str = "drugname") -> pl.Expr:
    """The one per-unit strength written in a drug name ("BACLOFEN 10MG" -> 10); none for two
    strengths or a concentration ("1 MG/ML")."""
    text = normalised(pl.col(col))
    one = (text.str.count_matches(_AMOUNT) == 1) & ~text.str.contains(_AMOUNT + r"\s*/")
    return pl.when(one).then(_mg(text.str.extract(_AMOUNT, 1), text.str.extract(_AMOUNT, 2)))


def with_doses(frame: pl.DataFrame, memo: Memo | None = None) -> pl.DataFrame:
    """``frame`` (columns drugname, dose_vbm, dose_amt, dose_unit, dose_freq) with
    ``daily_dose_mg`` and ``single_dose_mg``. Each distinct text is parsed once (once per build
    with a ``memo``, pv.cases.distinct) and joined back; the rules then combine plain columns."""
    unit = pl.col("dose_unit").str.strip_chars().pipe(normalised)
    freq = pl.col("dose_freq").str.strip_chars().str.to_uppercase()
    looked_up = pl.concat([
        lookup(frame, "dose_vbm", {f"_t_{k}": e for k, e in text_readings().items()}, memo, "dose text"),
        lookup(frame, "drugname", {"_strength": name_strength_mg()}, memo, "name strength"),
        lookup(frame, "dose_amt", {"_amount": pl.col("dose_amt").str.strip_chars().str.replace_all(",", "")
                                   .cast(pl.Float64, strict=False)}, memo, "dose amount"),
        lookup(frame, "dose_unit", {"_unit_mg": unit.replace_strict(UNIT_MG, default=None, return_dtype=pl.Float64),
                                    "_forms": unit.is_in(FORM_UNITS)}, memo, "dose unit"),
        lookup(frame, "dose_freq", {"_per_day": freq.replace_strict(FREQ_PER_DAY, default=None, return_dtype=pl.Float64),
                                    "_one_dose": freq.is_in(SINGLE_CODES)}, memo, "dose frequency"),
    ], how="horizontal")
    amount, strength = pl.col("_amount"), pl.col("_strength")
    parts = looked_up.with_columns(
        pl.when(pl.col("_forms")).then(amount * strength).otherwise(amount * pl.col("_unit_mg")).alias("_per_dose"),
        pl.col("_one_dose").fill_null(False),
        pl.coalesce("_t_mg", pl.col("_t_count") * strength).alias("_t_dose"),
    ).with_columns(
        (pl.col("_per_dose").is_not_null() & (pl.col("_per_day").is_not_null() | pl.col("_one_dose"))).alias("_structured"))
    structured, one_dose = pl.col("_structured"), pl.col("_one_dose")
    return frame.hstack(parts.select(
        pl.when(structured).then(pl.when(~one_dose).then(pl.col("_per_dose") * pl.col("_per_day")))
        .otherwise(pl.col("_t_dose") * pl.col("_t_per_day")).alias("daily_dose_mg"),
        pl.when(structured).then(pl.when(one_dose).then(pl.col("_per_dose")))
        .otherwise(pl.when(pl.col("_t_single").fill_null(False)).then(pl.col("_t_dose"))).alias("single_dose_mg"),
    ).get_columns())
