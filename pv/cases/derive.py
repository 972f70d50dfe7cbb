"""Derived case and case-drug fields, each a named rule with its evidence and default.

All functions return polars expressions (or join a small lookup), so they run vectorised
over lazy frames. Evidence: faers-format.md "Parsing rules and quirks" and the real rows in
shared/data/faers-real.
"""

from __future__ import annotations

import polars as pl

# --- age (rule ``age-years``) ---------------------------------------------------------
# age_cod -> years per unit. DEC = decade. Junk (non-numeric "U", negatives, unknown
# units) -> null; ages above AGE_MAX years are implausible -> null (default 120).
AGE_UNIT_YEARS = {
    "DEC": 10.0, "YR": 1.0, "YRS": 1.0, "MON": 1 / 12, "WK": 7 / 365.25, "DY": 1 / 365.25,
    "HR": 1 / 8766, "MIN": 1 / 525960, "SEC": 1 / 31557600,
}
AGE_MAX = 120.0
# Age bands (rule ``age-band``): paediatric, adult, older adult splits used in
# pharmacovigilance reporting; null age -> "unknown".
AGE_BANDS = ((2, "<2"), (12, "2-11"), (18, "12-17"), (45, "18-44"), (65, "45-64"), (75, "65-74"))


def age_years(age: str = "age", age_cod: str = "age_cod") -> pl.Expr:
    value = pl.col(age).str.strip_chars().str.replace(",", ".").cast(pl.Float64, strict=False)
    unit = pl.col(age_cod).str.strip_chars().str.to_uppercase()
    factor = unit.replace_strict(AGE_UNIT_YEARS, default=None, return_dtype=pl.Float64)
    years = value * factor
    return pl.when((years >= 0) & (years <= AGE_MAX)).then(years).otherwise(None)


def age_band(years: str = "age_years") -> pl.Expr:
    expr = pl.when(pl.col(years).is_null()).then(pl.lit("unknown"))
    for upper, label in AGE_BANDS:
        expr = expr.when(pl.col(years) < upper).then(pl.lit(label))
    return expr.otherwise(pl.lit(">=75"))


# --- sex (rule ``sex``): M/F kept; UNK, NS (2013Q1-2014Q2 "not specified"), blank -> null.
def sex(col: str = "sex") -> pl.Expr:
    s = pl.col(col).str.strip_chars().str.to_uppercase()
    return pl.when(s.is_in(["M", "F"])).then(s).otherwise(None)


# --- country (rule ``country``): occr_country (where the event happened), else
# reporter_country; two-letter codes kept (incl. EU); legacy names mapped through
# seeds/countries.csv; "COUNTRY NOT SPECIFIED" and unmapped names -> null.
def with_country(lf: pl.LazyFrame, countries: pl.DataFrame) -> pl.LazyFrame:
    raw = pl.coalesce(
        pl.col("occr_country").str.strip_chars().str.to_uppercase(),
        pl.col("reporter_country").str.strip_chars().str.to_uppercase(),
    )
    names = countries.lazy().select(pl.col("name").alias("_country_raw"), pl.col("iso2").alias("_iso2"))
    return (
        lf.with_columns(raw.alias("_country_raw"))
        .join(names, on="_country_raw", how="left")
        .with_columns(
            pl.when(pl.col("_country_raw").str.contains(r"^[A-Z]{2}$"))
            .then(pl.col("_country_raw")).otherwise(pl.col("_iso2")).alias("country")
        )
        .drop("_country_raw", "_iso2")
    )


# --- dates (rule ``fda-date``): YYYYMMDD -> day, YYYYMM -> month, YYYY -> year precision;
# impossible values (year < 1900, invalid day, after the extract quarter's end) -> invalid
# with a null date. The raw text is always kept.
MIN_YEAR = 1900


def quarter_end(quarter: str = "quarter") -> pl.Expr:
    year = pl.col(quarter).str.slice(0, 4).cast(pl.Int32, strict=False)
    q = pl.col(quarter).str.slice(5, 1).cast(pl.Int32, strict=False)
    return pl.date(year, q * 3, 1).dt.month_end()


def _parsed(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    text = raw.str.strip_chars()
    n = text.str.len_chars()
    digits = text.str.contains(r"^\d+$")
    day = text.str.to_date("%Y%m%d", strict=False)
    month = (text + "01").str.to_date("%Y%m%d", strict=False)
    year = (text + "0101").str.to_date("%Y%m%d", strict=False)
    date = (
        pl.when(digits & (n == 8)).then(day)
        .when(digits & (n == 6)).then(month)
        .when(digits & (n == 4)).then(year)
    )
    precision = (
        pl.when(digits & (n == 8)).then(pl.lit("day"))
        .when(digits & (n == 6)).then(pl.lit("month"))
        .when(digits & (n == 4)).then(pl.lit("year"))
    )
    return date, precision


def event_date_fields(raw: str = "event_dt", quarter: str = "quarter") -> list[pl.Expr]:
    date, precision = _parsed(pl.col(raw))
    ok = date.is_not_null() & (date.dt.year() >= MIN_YEAR) & (date <= quarter_end(quarter))
    return [
        pl.when(ok).then(date).otherwise(None).alias("event_date"),
        pl.when(pl.col(raw).is_null()).then(None)
        .when(ok).then(precision).otherwise(pl.lit("invalid")).alias("event_dt_precision"),
    ]


def day_date(raw: str) -> pl.Expr:
    """A YYYYMMDD text as a Date only when it has day precision (for onset arithmetic)."""
    text = pl.col(raw).str.strip_chars()
    d = text.str.to_date("%Y%m%d", strict=False)
    return pl.when(text.str.contains(r"^\d{8}$") & (d.dt.year() >= MIN_YEAR)).then(d)


# --- report year (rule ``report-year``): year FDA first received the case (init_fda_dt),
# else fda_dt, else the extract quarter's year.
def report_year() -> pl.Expr:
    def y(c: str) -> pl.Expr:
        v = pl.col(c).str.slice(0, 4).cast(pl.Int32, strict=False)
        return pl.when((v >= MIN_YEAR) & (v <= 2100)).then(v)

    return pl.coalesce(y("init_fda_dt"), y("fda_dt"), pl.col("quarter").str.slice(0, 4).cast(pl.Int32)).alias("report_year")


# --- outcomes (rule ``outcomes``): one Boolean per OUTC code; serious = any outcome row
# (FAERS writes OUTC rows only for serious outcomes).
OUTCOMES = {
    "DE": "death", "LT": "life_threatening", "HO": "hospitalization", "DS": "disability",
    "CA": "congenital_anomaly", "RI": "required_intervention", "OT": "other_serious",
}


def outcome_flags(outc: pl.LazyFrame) -> pl.LazyFrame:
    code = pl.col("outc_cod").str.strip_chars().str.to_uppercase()
    return outc.group_by("quarter", "primaryid").agg(
        *[(code == c).any().alias(name) for c, name in OUTCOMES.items()],
        code.is_in(list(OUTCOMES)).any().alias("serious"),
    )


# --- route (rule ``route-class``): ORAL -> oral; any route naming intrathecal
# (INTRATHECAL, Intrathecal, "INTRATHECAL PUMP") -> intrathecal; blank, UNKNOWN, UNK ->
# unknown (FDA blanked UNKNOWN in 2026Q2); everything else -> other.
def route_class(col: str = "route") -> pl.Expr:
    r = pl.col(col).str.strip_chars().str.to_uppercase()
    return (
        pl.when(r.is_null() | r.is_in(["", "UNKNOWN", "UNK", "U"])).then(pl.lit("unknown"))
        .when(r == "ORAL").then(pl.lit("oral"))
        .when(r.str.contains("INTRATHECAL")).then(pl.lit("intrathecal"))
        .otherwise(pl.lit("other"))
    )


# --- dose band (rule ``dose-band``): 80 mg/day is the US label maximum (domain.md); AUD
# trials used 30-300 mg/day.
def dose_band(col: str = "daily_dose_mg") -> pl.Expr:
    d = pl.col(col)
    return (
        pl.when(d.is_null()).then(pl.lit("unknown"))
        .when(d <= 30).then(pl.lit("<=30"))
        .when(d <= 80).then(pl.lit("30-80"))
        .when(d <= 150).then(pl.lit("80-150"))
        .otherwise(pl.lit(">150"))
    )
