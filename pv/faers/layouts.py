"""FAERS table layouts of every era (faers-format.md, "Columns").

Three eras ship the same seven tables with different headers:

- ``laers``  legacy AERS, 2004Q1-2012Q3: upper-case headers, ISR/CASE keys, a trailing
  ``$`` on data rows, DEMO without REPORTER_COUNTRY before 2005Q3;
- ``faers_early`` FAERS 2012Q4-2014Q2: no prod_ai / auth_num / lit_ref / age_grp /
  drug_rec_act, ``gndr_cod`` instead of ``sex``, header typos in 2012Q4 (and 2013Q1);
- ``faers`` current FAERS, 2014Q3 onward.

Every era is mapped to the current column names (``CURRENT``); source columns with no
current counterpart keep their own lower-case name (``LEGACY_EXTRA``) so no value is lost.
"""

from __future__ import annotations

import re

TABLES = ("DEMO", "DRUG", "REAC", "OUTC", "RPSR", "THER", "INDI")

CURRENT: dict[str, tuple[str, ...]] = {
    "DEMO": (
        "primaryid", "caseid", "caseversion", "i_f_code", "event_dt", "mfr_dt", "init_fda_dt",
        "fda_dt", "rept_cod", "auth_num", "mfr_num", "mfr_sndr", "lit_ref", "age", "age_cod",
        "age_grp", "sex", "e_sub", "wt", "wt_cod", "rept_dt", "to_mfr", "occp_cod",
        "reporter_country", "occr_country",
    ),
    "DRUG": (
        "primaryid", "caseid", "drug_seq", "role_cod", "drugname", "prod_ai", "val_vbm", "route",
        "dose_vbm", "cum_dose_chr", "cum_dose_unit", "dechal", "rechal", "lot_num", "exp_dt",
        "nda_num", "dose_amt", "dose_unit", "dose_form", "dose_freq",
    ),
    "REAC": ("primaryid", "caseid", "pt", "drug_rec_act"),
    "OUTC": ("primaryid", "caseid", "outc_cod"),
    "RPSR": ("primaryid", "caseid", "rpsr_cod"),
    "THER": ("primaryid", "caseid", "dsg_drug_seq", "start_dt", "end_dt", "dur", "dur_cod"),
    "INDI": ("primaryid", "caseid", "indi_drug_seq", "indi_pt"),
}

FAERS_EARLY: dict[str, tuple[str, ...]] = {
    "DEMO": (
        "primaryid", "caseid", "caseversion", "i_f_code", "event_dt", "mfr_dt", "init_fda_dt",
        "fda_dt", "rept_cod", "mfr_num", "mfr_sndr", "age", "age_cod", "gndr_cod", "e_sub",
        "wt", "wt_cod", "rept_dt", "to_mfr", "occp_cod", "reporter_country", "occr_country",
    ),
    "DRUG": (
        "primaryid", "caseid", "drug_seq", "role_cod", "drugname", "val_vbm", "route",
        "dose_vbm", "cum_dose_chr", "cum_dose_unit", "dechal", "rechal", "lot_num", "exp_dt",
        "nda_num", "dose_amt", "dose_unit", "dose_form", "dose_freq",
    ),
    "REAC": ("primaryid", "caseid", "pt"),
    "OUTC": ("primaryid", "caseid", "outc_cod"),
    "RPSR": ("primaryid", "caseid", "rpsr_cod"),
    "THER": ("primaryid", "caseid", "dsg_drug_seq", "start_dt", "end_dt", "dur", "dur_cod"),
    "INDI": ("primaryid", "caseid", "indi_drug_seq", "indi_pt"),
}

# Header typos FDA shipped in 2012Q4 (and ` rept_dt` again in 2013Q1): as written -> meant.
FAERS_EARLY_TYPOS = {" rept_dt": "rept_dt", "lot_nbr": "lot_num", "outc_code": "outc_cod"}

LAERS: dict[str, tuple[str, ...]] = {
    "DEMO": (
        "ISR", "CASE", "I_F_COD", "FOLL_SEQ", "IMAGE", "EVENT_DT", "MFR_DT", "FDA_DT", "REPT_COD",
        "MFR_NUM", "MFR_SNDR", "AGE", "AGE_COD", "GNDR_COD", "E_SUB", "WT", "WT_COD", "REPT_DT",
        "OCCP_COD", "DEATH_DT", "TO_MFR", "CONFID", "REPORTER_COUNTRY",
    ),
    "DRUG": (
        "ISR", "DRUG_SEQ", "ROLE_COD", "DRUGNAME", "VAL_VBM", "ROUTE", "DOSE_VBM", "DECHAL",
        "RECHAL", "LOT_NUM", "EXP_DT", "NDA_NUM",
    ),
    "REAC": ("ISR", "PT"),
    "OUTC": ("ISR", "OUTC_COD"),
    "RPSR": ("ISR", "RPSR_COD"),
    "THER": ("ISR", "DRUG_SEQ", "START_DT", "END_DT", "DUR", "DUR_COD"),
    "INDI": ("ISR", "DRUG_SEQ", "INDI_PT"),
}

# Legacy column -> current column. Unlisted legacy columns keep their lower-case name.
LAERS_TO_CURRENT = {
    "ISR": "primaryid",
    "CASE": "caseid",
    "I_F_COD": "i_f_code",
    "FOLL_SEQ": "caseversion",
    "GNDR_COD": "sex",
    "DRUG_SEQ": "drug_seq",  # THER/INDI: renamed per table by ``current_name``
}
LEGACY_EXTRA = ("image", "death_dt", "confid")


def current_name(table: str, column: str) -> str:
    """The current-era name of a source column of ``table`` (any era, any case)."""
    col = FAERS_EARLY_TYPOS.get(column, column)
    upper = col.strip().upper()
    if upper == "DRUG_SEQ" and table == "THER":
        return "dsg_drug_seq"
    if upper == "DRUG_SEQ" and table == "INDI":
        return "indi_drug_seq"
    if upper in LAERS_TO_CURRENT and col.isupper():
        return LAERS_TO_CURRENT[upper]
    if col.strip().lower() == "gndr_cod":
        return "sex"
    return col.strip().lower()


def quarter_key(year: int, q: int) -> str:
    return f"{year}Q{q}"


def era_of_quarter(year: int, q: int) -> str:
    """The era FDA used for an extract quarter."""
    if (year, q) <= (2012, 3):
        return "laers"
    if (year, q) <= (2014, 2):
        return "faers_early"
    return "faers"


def header_for(table: str, year: int, q: int) -> tuple[str, ...]:
    """The exact header FDA wrote for ``table`` in quarter ``year``Q``q``."""
    era = era_of_quarter(year, q)
    if era == "laers":
        cols = LAERS[table]
        if table == "DEMO" and (year, q) < (2005, 3):
            cols = cols[:-1]  # REPORTER_COUNTRY arrived in 2005Q3
        return cols
    if era == "faers_early":
        cols = FAERS_EARLY[table]
        typos = {}
        if (year, q) == (2012, 4):
            typos = {"rept_dt": " rept_dt", "lot_num": "lot_nbr", "outc_cod": "outc_code"}
        elif (year, q) == (2013, 1):
            typos = {"rept_dt": " rept_dt"}
        return tuple(typos.get(c, c) for c in cols)
    return CURRENT[table]


QUARTER_RE = re.compile(r"^(\d{4})[qQ]([1-4])$")


def parse_quarter(text: str) -> tuple[int, int]:
    """'2023Q1' / '2023q1' -> (2023, 1)."""
    m = QUARTER_RE.match(text.strip())
    if not m:
        raise ValueError(f"not a quarter: {text!r} (expected e.g. 2023Q1)")
    return int(m.group(1)), int(m.group(2))


def quarter_range(spec: str) -> list[tuple[int, int]]:
    """'2023Q1..2024Q2' (or a single quarter) -> every quarter in between, inclusive."""
    lo, _, hi = spec.partition("..")
    y0, q0 = parse_quarter(lo)
    y1, q1 = parse_quarter(hi or lo)
    out = []
    y, q = y0, q0
    while (y, q) <= (y1, q1):
        out.append((y, q))
        y, q = (y, q + 1) if q < 4 else (y + 1, 1)
    if not out:
        raise ValueError(f"empty quarter range: {spec!r}")
    return out
