"""Small code lists from seeds/: legacy country names, indication classes, the watchlist."""

from __future__ import annotations

import polars as pl

from pv.errors import PvError
from pv.vocab.seeds import Seed, load_seed

INDICATION_CLASSES = ("aud", "spasticity", "unknown")
WATCH_ROLES = ("target", "comparator")


def load_countries() -> Seed:
    """Legacy AERS country name (upper case) -> ISO-2; blank iso2 = no country."""
    seed = load_seed("countries", ("name", "iso2"), key=("name",), required=("name",),
                     normalise_key=lambda r: (r["name"].upper(),))
    bad = seed.frame.filter(pl.col("iso2").is_not_null() & ~pl.col("iso2").str.contains(r"^[A-Z]{2}$"))
    if bad.height:
        raise PvError(f"{seed.sources[-1]}: iso2 {bad['iso2'][0]!r} is not two upper-case letters")
    return Seed(seed.name, seed.version, seed.sources,
                seed.frame.with_columns(pl.col("name").str.to_uppercase()))


def load_indication_terms() -> Seed:
    seed = load_seed("indication_terms", ("indi_pt", "indication_class"), key=("indi_pt",),
                     required=("indi_pt", "indication_class"), normalise_key=lambda r: (r["indi_pt"].lower(),))
    bad = seed.frame.filter(~pl.col("indication_class").is_in(INDICATION_CLASSES))
    if bad.height:
        raise PvError(f"{seed.sources[-1]}: unknown indication_class {bad['indication_class'][0]!r} "
                      f"(one of {', '.join(INDICATION_CLASSES)})")
    return seed


def load_watchlist() -> Seed:
    seed = load_seed("watchlist", ("drug", "role", "group"), key=("drug",), required=("drug", "role"),
                     normalise_key=lambda r: (r["drug"].lower(),))
    bad = seed.frame.filter(~pl.col("role").is_in(WATCH_ROLES))
    if bad.height:
        raise PvError(f"{seed.sources[-1]}: unknown role {bad['role'][0]!r} (target or comparator)")
    return Seed(seed.name, seed.version, seed.sources, seed.frame.with_columns(pl.col("drug").str.to_lowercase()))
