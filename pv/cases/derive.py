"""Derived case and case-drug fields, each a named rule with its evidence and default.

All functions return polars expressions (or join a small lookup), so they run vectorised
over lazy frames. Evidence: faers-format.md "Parsing rules and quirks" and the real rows in
shared/data/faers-real.
"""

from __future__ import annotations

import re

import polars as pl

from pv.vocab.drugnames import folded

def replace_from(table: pl.DataFrame, column: str, out: str) -> pl.Expr:
    """``column`` looked up in a small (value -> out) table; values not in it give null."""
    return pl.col(column).replace_strict(table[column], table[out], default=None, return_dtype=table.schema[out])


def via_distinct(frame: pl.DataFrame, column: str, expr: pl.Expr) -> pl.Expr:
    """``expr`` (written over ``pl.col(column)``) evaluated once per distinct value, then
    applied to every row by lookup.

    Text parsing costs per row; the distinct values are far fewer than the rows (a quarter's
    1.3M DRUG rows carry a few hundred routes), so this gives the same result for a fraction
    of the work. Null input gives null output: fill it afterwards where a rule says so.
    """
    table = frame.select(pl.col(column).unique().drop_nulls()).with_columns(expr.alias("_out"))
    return replace_from(table, column, "_out")


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


def age_years(frame: pl.DataFrame) -> pl.Expr:
    value = via_distinct(frame, "age", pl.col("age").str.strip_chars().str.replace(",", ".")
                         .cast(pl.Float64, strict=False))
    factor = via_distinct(frame, "age_cod", pl.col("age_cod").str.strip_chars().str.to_uppercase()
                          .replace_strict(AGE_UNIT_YEARS, default=None, return_dtype=pl.Float64))
    years = value * factor
    return pl.when((years >= 0) & (years <= AGE_MAX)).then(years).otherwise(None)


def age_band(years: str = "age_years") -> pl.Expr:
    expr = pl.when(pl.col(years).is_null()).then(pl.lit("unknown"))
    for upper, label in AGE_BANDS:
        expr = expr.when(pl.col(years) < upper).then(pl.lit(label))
    return expr.otherwise(pl.lit(">=75"))


# --- sex (rule ``sex``): M/F kept; UNK, NS (2013Q1-2014Q2 "not specified"), blank -> null.
def sex(frame: pl.DataFrame) -> pl.Expr:
    s = pl.col("sex").str.strip_chars().str.to_uppercase()
    return via_distinct(frame, "sex", pl.when(s.is_in(["M", "F"])).then(s).otherwise(None))


# --- country (rule ``country``): occr_country (where the event happened), else
# reporter_country; two-letter codes kept (incl. EU); legacy names mapped through
# seeds/countries.csv; "COUNTRY NOT SPECIFIED" and unmapped names -> null.
def _iso2(frame: pl.DataFrame, column: str, countries: pl.DataFrame) -> pl.Expr:
    table = (
        frame.select(pl.col(column).unique().drop_nulls())
        .with_columns(pl.col(column).str.strip_chars().str.to_uppercase().alias("name"))
        .join(countries, on="name", how="left")
        .with_columns(pl.when(pl.col("name").str.contains(r"^[A-Z]{2}$")).then(pl.col("name"))
                      .otherwise(pl.col("iso2")).alias("_out"))
    )
    return replace_from(table, column, "_out")


def country(frame: pl.DataFrame, countries: pl.DataFrame) -> pl.Expr:
    return pl.coalesce(_iso2(frame, "occr_country", countries), _iso2(frame, "reporter_country", countries))


# --- dates (rule ``fda-date``): YYYYMMDD -> day, YYYYMM -> month, YYYY -> year precision;
# impossible values (year < 1900, invalid day, after the extract quarter's end) -> invalid
# with a null date. The raw text is always kept.
MIN_YEAR = 1900


def quarter_end(quarter: str = "quarter") -> pl.Expr:
    """Last day of an extract quarter ("2012Q4" -> 2012-12-31)."""
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


def event_date_fields(frame: pl.DataFrame, raw: str = "event_dt") -> list[pl.Expr]:
    date, precision = _parsed(pl.col(raw))
    parsed = via_distinct(frame, raw, date)
    ok = (
        parsed.is_not_null() & (parsed.dt.year() >= MIN_YEAR)
        & (parsed <= via_distinct(frame, "quarter", quarter_end("quarter")))
    )
    return [
        pl.when(ok).then(parsed).otherwise(None).alias("event_date"),
        pl.when(pl.col(raw).is_null()).then(None)
        .when(ok).then(via_distinct(frame, raw, precision)).otherwise(pl.lit("invalid")).alias("event_dt_precision"),
    ]


def day_date(raw: str) -> pl.Expr:
    """A YYYYMMDD text as a Date only when it has day precision (for onset arithmetic)."""
    text = pl.col(raw).str.strip_chars()
    d = text.str.to_date("%Y%m%d", strict=False)
    return pl.when(text.str.contains(r"^\d{8}$") & (d.dt.year() >= MIN_YEAR)).then(d)


# --- report year (rule ``report-year``): year FDA first received the case (init_fda_dt),
# else fda_dt, else the extract quarter's year.
def report_year(frame: pl.DataFrame) -> pl.Expr:
    def y(c: str) -> pl.Expr:
        v = pl.col(c).str.slice(0, 4).cast(pl.Int32, strict=False)
        return via_distinct(frame, c, pl.when((v >= MIN_YEAR) & (v <= 2100)).then(v))

    return pl.coalesce(y("init_fda_dt"), y("fda_dt"), y("quarter")).alias("report_year")


# --- outcomes (rule ``outcomes``): one Boolean per OUTC code; serious = any outcome row
# (FAERS writes OUTC rows only for serious outcomes).
OUTCOMES = {
    "DE": "death", "LT": "life_threatening", "HO": "hospitalization", "DS": "disability",
    "CA": "congenital_anomaly", "RI": "required_intervention", "OT": "other_serious",
}


def outcome_flags(outc: pl.LazyFrame) -> pl.LazyFrame:
    """(quarter, primaryid) -> one Boolean per outcome and ``serious`` (bit set per code)."""
    bits = {c: 1 << i for i, c in enumerate(OUTCOMES)}
    code = pl.col("outc_cod").str.strip_chars().str.to_uppercase()
    per_case = (
        outc.select("quarter", "primaryid", code.replace_strict(bits, default=0, return_dtype=pl.Int32).alias("_b"))
        .group_by("quarter", "primaryid").agg(pl.col("_b").bitwise_or())
    )
    return per_case.with_columns(
        *[((pl.col("_b") & bits[c]) != 0).alias(name) for c, name in OUTCOMES.items()],
        (pl.col("_b") != 0).alias("serious"),
    ).drop("_b")


# --- route (rule ``route-class``): ORAL -> oral; any route naming intrathecal
# (INTRATHECAL, Intrathecal, "INTRATHECAL PUMP") -> intrathecal; blank, UNKNOWN, UNK ->
# unknown (FDA blanked UNKNOWN in 2026Q2); everything else -> other. A blank or unknown route
# takes the route a word of the drug name says (seeds/route_products.csv: GABLOFEN,
# INTRATHECAL, ITB -> intrathecal), so "LIORESAL INTRATHECAL" with no route is intrathecal.
def route_class(frame: pl.DataFrame, products: pl.DataFrame | None = None) -> pl.Expr:
    r = pl.col("route").str.strip_chars().str.to_uppercase()
    rule = (
        pl.when(r.is_null() | r.is_in(["", "UNKNOWN", "UNK", "U"])).then(pl.lit("unknown"))
        .when(r == "ORAL").then(pl.lit("oral"))
        .when(r.str.contains("INTRATHECAL")).then(pl.lit("intrathecal"))
        .otherwise(pl.lit("other"))
    )
    by_route = via_distinct(frame, "route", rule).fill_null("unknown")
    if products is None or products.height == 0 or "drugname" not in frame.columns:
        return by_route
    name = folded(pl.col("drugname")).str.to_uppercase()  # "INTRATHÉCAL" is "INTRATHECAL" (rule accent-fold)
    said = pl.lit(None, dtype=pl.Utf8)
    for cls, terms in products.group_by("route_class", maintain_order=True).agg("term").iter_rows():
        words = r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")\b"
        said = pl.when(name.str.contains(words)).then(pl.lit(cls)).otherwise(said)
    by_name = via_distinct(frame, "drugname", said)
    return pl.when(by_route == "unknown").then(pl.coalesce(by_name, by_route)).otherwise(by_route)


def upper_code(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A code column stripped and upper-cased (role_cod, rept_cod, occp_cod)."""
    return via_distinct(frame, column, pl.col(column).str.strip_chars().str.to_uppercase())


# --- dose band (rule ``dose-band``): bands per drug and route class from
# seeds/dose_bands.csv (pv/vocab/dosing.py): baclofen oral <=30, 30-80, 80-150, >150 mg/day
# (80 = US label maximum), baclofen intrathecal IT<=1000ug / IT>1000ug per day, every other
# seeded drug split at its label maximum. "unknown": no daily dose (a single dose included),
# no bands for the drug and route class, or a dose at or below the chain's floor (not a dose
# of that route). Bands are (lower, upper].
def dose_band(frame: pl.DataFrame, bands: pl.DataFrame, dose: str = "daily_dose_mg", drug: str = "ingredient",
              route: str = "route_class") -> pl.Series:
    """The band of every row of ``frame`` (one join on drug and route class to a small table
    holding each chain's labels and upper bounds as plain columns)."""
    d = pl.col(dose)
    chains = (bands.group_by("drug", "route_class", maintain_order=True)
              .agg(pl.col("band"), pl.col("upper_mg"), pl.col("floor_mg").first().alias("_floor"))
              .rename({"drug": drug, "route_class": route}))
    width = int(chains["band"].list.len().max() or 0)
    if width == 0:
        return pl.Series("dose_band", ["unknown"] * frame.height, dtype=pl.Utf8)
    chains = chains.with_columns(
        *[pl.col("band").list.get(i, null_on_oob=True).alias(f"_b{i}") for i in range(width)],
        *[pl.col("upper_mg").list.get(i, null_on_oob=True).alias(f"_u{i}") for i in range(width)],
    ).drop("band", "upper_mg")
    keyed = frame.select(dose, drug, route).join(chains, on=[drug, route], how="left", maintain_order="left")
    # (a left join, not replace_strict: string lookups by join are several times faster)
    expr = pl.when(d.is_null() | pl.col("_b0").is_null() | (d <= pl.col("_floor").fill_null(-1.0))).then(
        pl.lit("unknown"))
    for i in range(width):
        expr = expr.when(pl.col(f"_b{i}").is_not_null() & (pl.col(f"_u{i}").is_null() | (d <= pl.col(f"_u{i}")))).then(
            pl.col(f"_b{i}"))
    return keyed.select(expr.otherwise(pl.lit("unknown")).alias("dose_band")).to_series()
