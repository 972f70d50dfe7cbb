"""Drug-name normalisation and the drug dictionary (seeds/drug_dictionary.csv).

FAERS ``drugname`` is free text as the reporter wrote it ("BACLOFEN 10MG PO TID",
"LIORESAL [BACLOFEN]", "BACLOFÈNE", "NALTREXONE ER"); ``prod_ai`` is FDA's own
active-ingredient mapping, present only from 2014Q3 (every legacy quarter 2004-2012 and
FAERS 2012Q4-2014Q2 have the drugname alone). Rule ``drug-normalise``, in order (evidence:
the real DRUG rows in shared/data/faers-real and the strings of issue 10):

1. ``accent-fold``: Unicode NFKD, combining marks dropped, then lower case ("BACLOFÈNE" ->
   "baclofene"; an upper-cased micro sign "Μ" becomes "μ" like "µ");
2. ``brackets``: [...] and {...} read as (...); text inside them is a second name tried
   after the text outside ("LIORESAL [BACLOFEN]": lioresal, then baclofen);
3. ``strength``: strengths ("10mg", "2.5 MG/ML", "500 µg", "0.05%") and bare numbers removed;
4. punctuation -> space;
5. ``form-route-words``: dose forms (tablet, injection, ...), release words (er, xr, sr, dr,
   cr, la, xl, ...), routes (po, iv, itb, intrathecal, ...), frequencies (tid, bid, qhs,
   q6h, daily, ...), manufacturer words (mylan, teva, sandoz, ...) and the link words of
   foreign salt names (de, di, du) removed;
6. ``salt-words``: salts (hydrochloride, sodium, calcium, ...) removed unless nothing would
   remain ("SODIUM OXYBATE" stays whole only when the dictionary says so, see below);
7. whitespace collapsed.

Rule ``drug-map`` (pv/cases/drugs.py applies it to the distinct names and prod_ai of a
quarter, never to rows one by one):

- ``prod_ai`` present: each component of ``A\\B`` is its own ingredient (a dictionary hit,
  else the normalised component, trusted as FDA's mapping); the drug row counts once per
  ingredient ("BUPROPION HYDROCHLORIDE\\NALTREXONE HYDROCHLORIDE" -> bupropion, naltrexone);
- else a dictionary hit on the drugname outside brackets, then inside brackets;
- else ``single-word``: the words of the normalised name that are dictionary keys name
  exactly one ingredient ("BACLOFEN MYLAN XYZ" -> baclofen); two different ingredients
  ("BACLOFEN/TIZANIDINE") are never guessed between: unmapped;
- else the normalised drugname is kept with ``mapped = False`` and listed by
  ``pvmon vocab unmapped``.
A dictionary ingredient may itself be ``a\\b`` (a combination brand): it counts for each.
"""

from __future__ import annotations

import polars as pl

from pv.vocab.seeds import Seed, load_seed

MASS_UNITS = r"mg|mcg|µg|μg|ug|microgram|micrograms|milligram|milligrams|gram|grams|g|gm|ml|l|iu|units?|%|meq|mmol"
STRENGTH = (
    rf"\d+(?:[.,]\d+)?\s*(?:{MASS_UNITS})(?:\s*/\s*(?:ml|l|g|mg|day|d|h|hr|hour|dose|actuation|spray|24h|5ml))?"
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
    "pump", "refill", "kit", "generic", "bulk", "usp", "comprime", "comprimes", "gelule", "gelules",
    "compresse", "comprimidos", "retard", "depot", "syringe", "prefilled", "pen",
)
RELEASE_WORDS = ("er", "xr", "sr", "dr", "cr", "la", "xl", "ir", "ec", "cd", "xrt", "hs")
ROUTE_WORDS = (
    "po", "per", "os", "iv", "im", "sc", "sq", "subcut", "subcutaneous", "it", "itb", "intramuscular",
    "topical", "transdermal", "nasal", "rectal", "sl", "sublingual", "inhaled", "inhalation",
)
FREQUENCY_WORDS = (
    "qd", "bid", "tid", "qid", "qhs", "qam", "qpm", "qod", "prn", "daily", "nightly", "weekly",
    "once", "twice", "times", "day", "q[0-9]+h",
)
MANUFACTURER_WORDS = (
    "mylan", "teva", "sandoz", "apotex", "watson", "actavis", "ratiopharm", "zydus", "aurobindo", "lupin",
    "cipla", "accord", "hikma", "amneal", "torrent", "glenmark", "northstar", "camber", "upsher", "smith",
    "ranbaxy", "winthrop", "biogaran", "arrow", "hexal", "stada", "medtronic", "pharma", "pharmaceuticals",
    "pharmaceutical", "labs", "laboratories", "inc", "ltd", "gmbh", "llc",
)
LINK_WORDS = ("de", "di", "du")  # "OXYBATE DE SODIUM", "CLORIDRATO DI ..."
SALTS = (
    "hydrochloride", "hcl", "hydrobromide", "sodium", "potassium", "calcium", "magnesium",
    "maleate", "mesylate", "mesilate", "sulfate", "sulphate", "succinate", "tartrate",
    "bitartrate", "citrate", "acetate", "fumarate", "besylate", "besilate", "bromide",
    "phosphate", "dihydrate", "monohydrate", "trihydrate", "hyclate", "lactate", "malate",
    "gluconate", "nitrate", "oxalate", "napsylate", "pamoate", "dipropionate",
    "propionate", "valerate", "xinafoate", "decanoate", "enanthate", "hemihydrate",
    "aspartate", "saccharate", "chlorhydrate", "clorhidrato", "cloridrato", "sodique", "sodico", "sodio", "calcique", "calcico",
)


def _words(words: tuple[str, ...]) -> str:
    return r"\b(?:" + "|".join(words) + r")\b"


NOISE_WORDS = _words(DOSE_FORMS + RELEASE_WORDS + ROUTE_WORDS + FREQUENCY_WORDS + MANUFACTURER_WORDS + LINK_WORDS)


def _squash(e: pl.Expr) -> pl.Expr:
    return e.str.replace_all(r"\s+", " ").str.strip_chars()


def _clean(e: pl.Expr) -> pl.Expr:
    """Steps 3-7 on folded lower-case text."""
    e = e.str.replace_all(STRENGTH, " ").str.replace_all(BARE_NUMBER, " ")
    e = e.str.replace_all(r"[^a-z0-9 ]", " ")
    e = _squash(e.str.replace_all(NOISE_WORDS, " "))
    unsalted = _squash(e.str.replace_all(_words(SALTS), " "))
    out = pl.when(unsalted != "").then(unsalted).otherwise(e)
    return pl.when(out != "").then(out).otherwise(None)


def folded(e: pl.Expr) -> pl.Expr:
    """Steps 1-2: accents folded, lower case, [..] and {..} as (..)."""
    low = e.str.normalize("NFKD").str.replace_all(r"\p{Mn}", "").str.to_lowercase()
    return low.str.replace_all(r"[\[{]", "(").str.replace_all(r"[\]}]", ")")


def outside_name(e: pl.Expr) -> pl.Expr:
    """The normalised text outside brackets (null when nothing is left)."""
    return _clean(folded(e).str.replace_all(r"\([^)]*\)?", " "))


def inside_name(e: pl.Expr) -> pl.Expr:
    """The normalised text of the first bracket (null when none)."""
    return _clean(folded(e).str.extract(r"\(([^)]*)", 1))


def normalise_drug_name(e: pl.Expr) -> pl.Expr:
    """The normalised form of a drug name expression (null stays null): outside the
    brackets, else inside."""
    return pl.coalesce(outside_name(e), inside_name(e))


def normalise_names(values: list[str]) -> list[str | None]:
    """Python convenience for small lists (seed keys, tests)."""
    return pl.Series("v", values, dtype=pl.Utf8).to_frame().select(normalise_drug_name(pl.col("v")))["v"].to_list()


def single_word_hits(keys: pl.DataFrame, dictionary: pl.DataFrame) -> pl.DataFrame:
    """Rule ``single-word``: (key -> ingredient) for normalised names whose words that are
    dictionary keys name exactly one ingredient; names whose words name two are left out."""
    words = dictionary.filter(~pl.col("key").str.contains(" "))
    return (
        keys.select(pl.col("key").unique().drop_nulls())
        .with_columns(pl.col("key").str.split(" ").alias("word"))
        .explode("word")
        .join(words.rename({"key": "word"}), on="word", how="inner")
        .group_by("key").agg(pl.col("ingredient").unique())
        .filter(pl.col("ingredient").list.len() == 1)
        .select("key", pl.col("ingredient").list.first())
    )


def prod_ai_ingredients(prod_ai: pl.DataFrame, dictionary: pl.DataFrame) -> pl.DataFrame:
    """Distinct ``prod_ai`` -> ``ingredient``: its components (``A\\B``), each a dictionary hit
    or else normalised (FDA's own mapping, trusted), sorted, distinct, joined by ``\\``."""
    return (
        prod_ai.with_columns(pl.col("prod_ai").str.split("\\").alias("component"))
        .explode("component")
        .with_columns(normalise_drug_name(pl.col("component")).alias("key"))
        .join(dictionary, on="key", how="left")
        .with_columns(pl.coalesce(pl.col("ingredient").str.split("\\"), pl.concat_list("key")).alias("component"))
        .explode("component")
        .group_by("prod_ai")
        .agg(pl.col("component").drop_nulls().unique().sort().str.join("\\").alias("ingredient"))
        .filter(pl.col("ingredient") != "")
    )


LEARNED_MIN_ROWS = 3
LEARNED_MIN_AGREEMENT = 0.9


def learned_names(pairs: pl.DataFrame, dictionary: pl.DataFrame) -> pl.DataFrame:
    """Rule ``learned-names``: (key -> ingredient) from the store's own rows that carry
    ``prod_ai`` (FAERS 2014Q3+), for the rows that do not (every legacy quarter).

    ``pairs`` are the distinct (drugname, prod_ai, n rows) of the store. A normalised drugname
    is learned when at least LEARNED_MIN_ROWS rows name it and at least LEARNED_MIN_AGREEMENT
    of them carry one ingredient set: FDA's mapping of the very same name, not a guess.
    Dictionary keys are left out (the curated seed wins)."""
    ai = prod_ai_ingredients(pairs.select(pl.col("prod_ai").unique()), dictionary)
    names = pairs.select(pl.col("drugname").unique()).with_columns(normalise_drug_name(pl.col("drugname")).alias("key"))
    votes = (
        pairs.join(ai, on="prod_ai").join(names, on="drugname").drop_nulls("key")
        .group_by("key", "ingredient").agg(pl.col("n").sum())
        .with_columns(pl.col("n").sum().over("key").alias("total"))
    )
    return (
        votes.filter((pl.col("total") >= LEARNED_MIN_ROWS) & (pl.col("n") >= LEARNED_MIN_AGREEMENT * pl.col("total")))
        .join(dictionary, on="key", how="anti")
        .select("key", "ingredient").sort("key")
    )


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
