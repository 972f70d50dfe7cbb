"""Seeds of the dose rules: daily-dose bands per drug and route (seeds/dose_bands.csv) and
route words in product names (seeds/route_products.csv).

Bands (rule ``dose-band``): rows (drug, routes, unit, lower, upper, band) describe, per drug
and group of route classes, a chain of (lower, upper] bands in mg or ug per day. Validated
on load: known units and route classes, numbers, each chain sorted without gaps or
overlaps with only its last band open-ended, a route class in one chain per drug, band
labels unique per drug. A ``$PV_SEEDS/dose_bands.csv`` naming a drug replaces all of that
drug's shipped bands (a partial override of a chain would leave a gap or an overlap).
"""

from __future__ import annotations

import polars as pl

from pv.errors import PvError
from pv.vocab.seeds import Seed, _read_csv, _validated, load_seed, override_path, shipped_path

ROUTE_CLASSES = ("oral", "intrathecal", "other", "unknown")
UNIT_TO_MG = {"mg": 1.0, "ug": 0.001}
BAND_COLUMNS = ("drug", "routes", "unit", "lower", "upper", "band", "source")
PRODUCT_COLUMNS = ("term", "route_class", "source")


def _number(path, text: str, what: str) -> float | None:
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise PvError(f"{path}: {what}: {text!r} is not a number") from None
    if value < 0:
        raise PvError(f"{path}: {what}: {text!r} is negative")
    return value


def _checked_rows(path, rows: dict) -> list[dict]:
    """Band rows of one file as numbers in mg/day, every chain checked."""
    out, chains = [], {}
    for (drug, band), (number, row) in rows.items():
        where = f"line {number}"
        unit = row["unit"].lower()
        if unit not in UNIT_TO_MG:
            raise PvError(f"{path}: {where}: unit {row['unit']!r} (one of {', '.join(UNIT_TO_MG)})")
        routes = tuple(sorted(r.strip().lower() for r in row["routes"].split("|")))
        bad = [r for r in routes if r not in ROUTE_CLASSES]
        if bad:
            raise PvError(f"{path}: {where}: route class {bad[0]!r} (one of {', '.join(ROUTE_CLASSES)})")
        lower, upper = _number(path, row["lower"], where), _number(path, row["upper"], where)
        if lower is not None and upper is not None and upper <= lower:
            raise PvError(f"{path}: {where}: upper {upper:g} is not above lower {lower:g}")
        factor = UNIT_TO_MG[unit]
        out.append(dict(drug=drug, routes=routes, unit=unit, band=row["band"], line=number,
                        lower_mg=None if lower is None else lower * factor,
                        upper_mg=None if upper is None else upper * factor))
        chains.setdefault((drug, routes), []).append(out[-1])
    claimed: dict[tuple[str, str], tuple] = {}
    for (drug, routes), chain in chains.items():
        for r in routes:
            if (drug, r) in claimed:
                raise PvError(f"{path}: line {chain[0]['line']}: {drug}: route class {r} is in two band chains")
            claimed[(drug, r)] = routes
        chain.sort(key=lambda b: -1.0 if b["lower_mg"] is None else b["lower_mg"])
        for prev, nxt in zip(chain, chain[1:]):
            if prev["upper_mg"] is None or nxt["lower_mg"] is None or abs(prev["upper_mg"] - nxt["lower_mg"]) > 1e-12:
                raise PvError(f"{path}: line {nxt['line']}: {drug} ({'|'.join(routes)}): band {nxt['band']!r} "
                              f"does not start where {prev['band']!r} ends")
        for rank, b in enumerate(chain, start=1):
            b["rank"] = rank
    return out


def load_dose_bands() -> Seed:
    """seeds/dose_bands.csv as rows (drug, route_class, band, rank, lower_mg, upper_mg, floor_mg),
    one per band and route class; ``floor_mg`` is the chain's lowest bound (null = none)."""
    required = ("drug", "routes", "unit", "band")

    def key(row):
        return (row["drug"].lower(), row["band"])

    path = shipped_path("dose_bands")
    version, rows = _read_csv(path, BAND_COLUMNS)
    merged = _checked_rows(path, _validated(path, rows, ("drug", "band"), required, key))
    sources = [f"{path.name}@{version}"]
    user = override_path("dose_bands")
    if user is not None:
        user_version, user_rows = _read_csv(user, BAND_COLUMNS)
        theirs = _checked_rows(user, _validated(user, user_rows, ("drug", "band"), required, key))
        replaced = {b["drug"] for b in theirs}
        merged = [b for b in merged if b["drug"] not in replaced] + theirs
        version = f"{version}+user:{user_version}"
        sources.append(f"{user}@{user_version}")
    schema = {"drug": pl.Utf8, "route_class": pl.Utf8, "band": pl.Utf8, "rank": pl.Int32,
              "lower_mg": pl.Float64, "upper_mg": pl.Float64}
    frame = pl.DataFrame([dict(drug=b["drug"], route_class=r, band=b["band"], rank=b["rank"], lower_mg=b["lower_mg"],
                               upper_mg=b["upper_mg"]) for b in merged for r in b["routes"]], schema=schema)
    frame = frame.with_columns(
        pl.col("lower_mg").filter(pl.col("rank") == 1).first().over("drug", "route_class").alias("floor_mg")
    ).sort("drug", "route_class", "rank")
    return Seed("dose_bands", version, tuple(sources), frame)


def band_scores(bands: pl.DataFrame, drug: str, route_class: str = "oral") -> dict[str, int]:
    """Band label -> order (1 = lowest) of ``drug``'s bands for ``route_class`` (a dose-response
    trend runs over one route's bands: oral mg/day and intrathecal ug/day do not mix)."""
    rows = bands.filter((pl.col("drug") == drug.lower()) & (pl.col("route_class") == route_class))
    return dict(zip(rows["band"].to_list(), rows["rank"].to_list()))


def load_route_products() -> Seed:
    """seeds/route_products.csv: term (upper case) -> route class."""
    seed = load_seed("route_products", PRODUCT_COLUMNS, key=("term",), required=("term", "route_class"),
                     normalise_key=lambda r: (r["term"].upper(),))
    bad = seed.frame.filter(~pl.col("route_class").is_in(ROUTE_CLASSES))
    if bad.height:
        raise PvError(f"{seed.sources[-1]}: route_class {bad['route_class'][0]!r} (one of {', '.join(ROUTE_CLASSES)})")
    return Seed(seed.name, seed.version, seed.sources,
                seed.frame.select(pl.col("term").str.to_uppercase(), "route_class"))
