"""Drug-name normalisation and the drug dictionary (seeds/drug_dictionary.csv).

FAERS ``drugname`` is free text ("BACLOFEN 10MG TABLETS", "Lioresal Intrathecal",
"ATORVASTATIN CALCIUM."); ``prod_ai`` is FDA's own active-ingredient mapping (FAERS 2014Q3+).
Rules, in order (rule ``drug-normalise``; evidence: the real DRUG rows in shared/data):

1. lower case; text inside parentheses is the fallback name ("Solution for injection
   (Insulin lispro)" -> "insulin lispro" when nothing but a dose form is left outside);
2. strengths removed ("10mg", "2.5 MG/ML", "0.05%") and bare numbers;
3. punctuation -> space;
4. dose-form words removed (tablet, capsule, injection, solution, intrathecal, ...);
5. salt words removed (hydrochloride, sodium, maleate, ...) unless nothing would remain;
6. whitespace collapsed.

Mapping (rule ``drug-map``, applied in pv/cases/drugs.py): a dictionary hit on normalised ``prod_ai`` (per component of
a multi-ingredient ``A\\B``), else on normalised ``drugname``; else ``prod_ai`` normalised is
trusted as the ingredient (FDA mapped it); else the normalised ``drugname`` is kept
verbatim with ``mapped = False`` and listed by ``pvmon vocab unmapped``.
"""

from __future__ import annotations

import polars as pl

from pv.vocab.seeds import Seed, load_seed

STRENGTH = (
    r"\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|ug|microgram|micrograms|milligram|milligrams|gram|grams|g|gm|ml|l|iu|"
    r"units?|%|meq|mmol)(?:\s*/\s*(?:ml|l|g|mg|day|d|h|hr|hour|dose|actuation|spray|24h|5ml))?"
    r"(?:[^a-z0-9]|$)"
)
BARE_NUMBER = r"\b\d+(?:[.,]\d+)?\b"
DOSE_FORMS = (
    "tablets", "tablet", "tabs", "tab", "capsules", "capsule", "caps", "cap", "film", "coated",
    "filmcoated", "extended", "release", "delayed", "prolonged", "modified", "injection",
    "injectable", "solution", "suspension", "oral", "orally", "syrup", "liquid", "elixir",
    "powder", "for", "cream", "ointment", "gel", "patch", "intrathecal", "intravenous",
    "vial", "vials", "ampoule", "ampule", "drops", "spray", "granules", "chewable",
    "dispersible", "disintegrating", "odt", "hard", "soft", "concentrate", "infusion",
    "pump", "refill", "kit", "generic", "bulk", "usp",
)
SALTS = (
    "hydrochloride", "hcl", "hydrobromide", "sodium", "potassium", "calcium", "magnesium",
    "maleate", "mesylate", "mesilate", "sulfate", "sulphate", "succinate", "tartrate",
    "bitartrate", "citrate", "acetate", "fumarate", "besylate", "besilate", "bromide",
    "phosphate", "dihydrate", "monohydrate", "trihydrate", "hyclate", "lactate", "malate",
    "gluconate", "nitrate", "oxalate", "napsylate", "pamoate", "dipropionate",
    "propionate", "valerate", "xinafoate", "decanoate", "enanthate", "hemihydrate",
)


def _words(words: tuple[str, ...]) -> str:
    return r"\b(?:" + "|".join(words) + r")\b"


def _squash(e: pl.Expr) -> pl.Expr:
    return e.str.replace_all(r"\s+", " ").str.strip_chars()


def _clean(e: pl.Expr) -> pl.Expr:
    """Steps 2-6 on lower-case text."""
    e = e.str.replace_all(STRENGTH, " ").str.replace_all(BARE_NUMBER, " ")
    e = e.str.replace_all(r"[^a-z0-9µ ]", " ")
    e = _squash(e.str.replace_all(_words(DOSE_FORMS), " "))
    unsalted = _squash(e.str.replace_all(_words(SALTS), " "))
    out = pl.when(unsalted != "").then(unsalted).otherwise(e)
    return pl.when(out != "").then(out).otherwise(None)


def normalise_drug_name(e: pl.Expr) -> pl.Expr:
    """The normalised form of a drug name expression (null stays null)."""
    low = e.str.to_lowercase()
    outside = _clean(low.str.replace_all(r"\([^)]*\)", " "))
    inside = _clean(low.str.extract(r"\(([^)]*)\)", 1))
    return pl.coalesce(outside, inside)


def normalise_names(values: list[str]) -> list[str | None]:
    """Python convenience for small lists (seed keys, tests)."""
    return pl.Series("v", values, dtype=pl.Utf8).to_frame().select(normalise_drug_name(pl.col("v")))["v"].to_list()


def load_drug_dictionary() -> Seed:
    """seeds/drug_dictionary.csv with ``variant`` replaced by its normalised key."""
    cache: dict[str, str | None] = {}

    def key(row: dict[str, str]) -> tuple:
        v = row["variant"]
        if v not in cache:
            cache[v] = normalise_names([v])[0]
        return (cache[v],)

    seed = load_seed("drug_dictionary", ("variant", "ingredient"), key=("variant",),
                     required=("variant", "ingredient"), normalise_key=key)
    frame = seed.frame.with_columns(
        normalise_drug_name(pl.col("variant")).alias("key"),
        pl.col("ingredient").str.to_lowercase().str.strip_chars(),
    ).select("key", "ingredient")
    return Seed(seed.name, seed.version, seed.sources, frame)
