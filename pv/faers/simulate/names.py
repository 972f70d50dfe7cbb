"""Drug names and PT spellings as FDA's files carry them, with what each must become.

Real legacy quarters (2004-2012Q3) and FAERS 2012Q4-2014Q2 have no ``prod_ai``: the drug is
known only by the reporter's text, which is a brand, a misspelling, a foreign INN, with
strength, form, route, release, salt and manufacturer words, accents ("BACLOFÈNE") and
brackets ("LIORESAL [BACLOFEN]"); some strings cannot be mapped at all ("BACLOFEN/TIZANIDINE"
names two ingredients). From 2014Q4 a combination product's ``prod_ai`` is ``A\\B``
("BUPROPION HYDROCHLORIDE\\NALTREXONE HYDROCHLORIDE"). PTs: legacy quarters write every PT
upper case ("ELECTROCARDIOGRAM QT PROLONGED"), FAERS quarters MedDRA's own case.

``messy_drug_strings`` rewrites the drugname (and prod_ai) of chosen DRUG rows of one quarter
with its own Generator (seed, year, quarter, 10), so the rest of the quarter is drawn exactly
as without it. ``meddra_cased`` gives some long-tail synthetic PTs real mixed-case MedDRA
names. ``truth`` lists, from the written tables, every planted string and what it must
become (ground_truth.csv kinds ``drug_string`` and ``pt_spelling``).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pv.faers.simulate import layout, world

SHARE_OF_FOCAL_ROWS = 0.35  # focal rows (legacy eras) written as a messy string
UNMAPPABLE_SHARE = 0.002  # background rows (legacy eras) written as an unmappable string
COMBINATION_SHARE = 0.3  # naltrexone rows from 2014Q4 written as the bupropion/naltrexone product
BACKGROUND_COMBINATION_SHARE = 0.002

# ingredient -> messy strings a reporter wrote for it (legacy eras, no prod_ai)
BACLOFEN_ORAL = (
    "BACLOFEN 10MG PO TID", "BACLOFEN MYLAN", "BACLOFEN TEVA 25 MG", "BACLOF\xc8NE", "BACLOFENO",
    "BACLOFENE 10 MG COMPRIME", "LIORESAL [BACLOFEN]", "BACLOFEN (LIORESAL) 20 MG TABS", "BACLOFEN HCL 10 MG",
    "BACLOFENUM", "BACOLFEN 10 MG", "BACLOFEN {GENERIC}", "LIOR\xc9SAL 10 MG",
)
BACLOFEN_INTRATHECAL = (
    "BACLOFEN ITB", "BACLOFEN INTRATHECAL 2000MCG/ML", "LIORESAL INTRATHECAL [BACLOFEN]",
    "BACLOFEN (GABLOFEN) 500 MCG/ML INJ", "BACLOF\xc8NE INTRATH\xc9CAL", "BACLOFEN PUMP REFILL",
)
DRUG_STRINGS = {
    "naltrexone": ("NALTREXONE ER", "NALTREXONE HCL 50MG", "NALTREXONA", "REVIA [NALTREXONE]", "NALTREXONE 50 MG PO QD"),
    "acamprosate": ("ACAMPROSATE CALCIUM DR", "ACAMPROSATE CALCIUM DR 333MG", "ACAMPROSATO", "CAMPRAL (ACAMPROSATE)",
                    "AOTAL"),
    "disulfiram": ("DISULFIRAME", "ANTABUSE 250 MG", "ESPERAL"),
    "nalmefene": ("NALMEFENO", "SELINCRO 18MG"),
    "topiramate": ("TOPIRAMATO", "TOPAMAX 25MG BID", "TOPIRAMATE ER"),
    "gabapentin": ("GABAPENTINE", "GABAPENTIN 300 MG CAPSULE TID", "NEURONTIN [GABAPENTIN]", "GABAPENTINA"),
    "pregabalin": ("PR\xc9GABALINE", "PREGABALINA", "LYRICA CR"),
    "sodium oxybate": ("OXIBATO DE SODIO", "XYREM 500 MG/ML"),
    "clonazepam": ("CLONAZ\xc9PAM", "RIVOTRIL 2MG", "CLONAZEPAM 0.5MG QHS"),
    "tizanidine": ("TIZANIDINE HCL 4 MG", "TIZANIDINA", "ZANAFLEX [TIZANIDINE]"),
    "dantrolene": ("DANTROLENE SODIUM", "DANTROL\xc8NE", "DANTRIUM IV"),
}
UNMAPPABLE = (  # must stay unmapped: two ingredients named, or no ingredient at all
    "BACLOFEN/TIZANIDINE", "NALTREXONE OR ACAMPROSATE", "GABAPENTIN + PREGABALIN", "MUSCLE RELAXANT NOS",
    "BLINDED STUDY DRUG", "UNKNOWN SLEEPING PILL",
)
COMBINATION = ("CONTRAVE", "BUPROPION HYDROCHLORIDE\\NALTREXONE HYDROCHLORIDE", ("bupropion", "naltrexone"))
BACKGROUND_COMBINATION = ("NORCO", "HYDROCODONE BITARTRATE\\ACETAMINOPHEN", ("acetaminophen", "hydrocodone"))

# MedDRA PTs whose case a capitalised upper-case legacy string cannot give back
MIXED_CASE_PTS = (
    "Electrocardiogram QT prolonged", "Epstein-Barr virus infection", "Guillain-Barre syndrome",
    "Blood creatine phosphokinase MB increased", "Vitamin B12 deficiency", "Vitamin D deficiency",
    "Electrocardiogram T wave inversion", "Hepatitis B reactivation",
)
MIXED_CASE_FROM = 0  # replaces the first synthetic long-tail PTs (about 0.3% of reports each)


def expected_strings() -> dict[str, tuple[str, ...]]:
    """Every planted drug string -> the ingredients it must become (empty: must stay unmapped)."""
    out = {s: ("baclofen",) for s in BACLOFEN_ORAL + BACLOFEN_INTRATHECAL}
    out.update({s: (ing,) for ing, strings in DRUG_STRINGS.items() for s in strings})
    out.update({s: () for s in UNMAPPABLE})
    return out


def meddra_cased(pts: tuple[str, ...]) -> tuple[str, ...]:
    """``pts`` with its first synthetic long-tail names replaced by MIXED_CASE_PTS (draws unchanged)."""
    synthetic = [i for i, p in enumerate(pts) if p.split(" ", 1)[0] in world._SYN_A and p not in world.COMMON_PTS]
    out = list(pts)
    for i, name in zip(synthetic[MIXED_CASE_FROM:], MIXED_CASE_PTS):
        out[i] = name
    return tuple(out)


def _cycle(rng: np.random.Generator, strings: tuple[str, ...], n: int) -> list[str]:
    """``n`` of ``strings`` in turn from a random start: every string is written once there
    are as many rows as strings (rare drugs still carry each)."""
    start = int(rng.integers(0, len(strings)))
    return [strings[(start + i) % len(strings)] for i in range(n)]


def _scatter(col: pl.Series, idx: np.ndarray, values: list[str]) -> pl.Series:
    return col.scatter(pl.Series(idx, dtype=pl.Int64), pl.Series(values, dtype=pl.Utf8)) if len(idx) else col


def messy_drug_strings(dcols: dict, year: int, q: int, seed: int, d_focal: np.ndarray,
                       focal_names: tuple[str, ...], exclude: np.ndarray) -> dict:
    """``dcols`` with planted drugname / prod_ai strings on some rows of quarter ``year``Q``q``.

    Legacy eras: SHARE_OF_FOCAL_ROWS of each focal drug's rows get one of its messy strings
    (baclofen's by route), UNMAPPABLE_SHARE of background rows an unmappable one. From 2014Q4:
    naltrexone rows and background rows become combination products (``A\\B`` prod_ai).
    ``exclude`` rows (other planted byte quirks) are left alone.
    """
    rng = np.random.default_rng([seed, year, q, 10])
    names, ai = dcols["drugname"], dcols["prod_ai"]
    background = np.setdiff1d(np.flatnonzero(d_focal < 0), exclude)
    if layout.era(year, q) != "faers":
        # intrathecal by its route, or by its product when the route is blank (dosing.py plants those)
        route = np.where(dcols["drugname"].str.to_uppercase().str.contains("INTRATHECAL|GABLOFEN").fill_null(False)
                         .to_numpy(), "INTRATHECAL", dcols["route"].str.to_uppercase().fill_null("").to_numpy())
        for fi, ingredient in enumerate(focal_names):
            rows = np.flatnonzero((d_focal == fi) & (rng.random(len(d_focal)) < SHARE_OF_FOCAL_ROWS))
            if ingredient == "baclofen":
                # a blank route leaves the product name to say the route (simulate/dosing.py): kept as written
                rows = rows[dcols["route"].fill_null("").to_numpy()[rows] != ""]
                it = route[rows] == "INTRATHECAL"
                names = _scatter(names, rows[it], _cycle(rng, BACLOFEN_INTRATHECAL, int(it.sum())))
                names = _scatter(names, rows[~it], _cycle(rng, BACLOFEN_ORAL, int((~it).sum())))
            else:
                names = _scatter(names, rows, _cycle(rng, DRUG_STRINGS[ingredient], len(rows)))
        bad = background[rng.random(len(background)) < UNMAPPABLE_SHARE]
        names = _scatter(names, bad, _cycle(rng, UNMAPPABLE, len(bad)))
    elif (year, q) >= (2014, 4):
        nal = np.flatnonzero((d_focal == focal_names.index("naltrexone")) & (rng.random(len(d_focal)) < COMBINATION_SHARE))
        bg = background[rng.random(len(background)) < BACKGROUND_COMBINATION_SHARE]
        for rows, (name, prod_ai, _) in ((nal, COMBINATION), (bg, BACKGROUND_COMBINATION)):
            names = _scatter(names, rows, [name] * len(rows))
            ai = _scatter(ai, rows, [prod_ai] * len(rows))
    return {**dcols, "drugname": names, "prod_ai": ai}


def truth(tables: dict[str, pl.DataFrame], year: int, q: int) -> pl.DataFrame:
    """ground_truth rows for the planted strings in one quarter's written tables.

    ``drug_string``: one row per written DRUG row carrying a planted string and per ingredient
    it must count for (table DRUG, caseid, primaryid, detail = drugname as written, prod_ai
    after ``|`` when present; drug = ingredient, value ``mapped``; or drug blank, value
    ``unmapped``). ``pt_spelling``: one row per written REAC/INDI row whose PT has a MedDRA
    spelling that upper case hides (event = MedDRA spelling, detail = the text written).
    """
    quarter = f"{year}Q{q}"
    expected = [(s, list(v) or [""]) for s, v in expected_strings().items()]
    expected += [(name, list(ings)) for name, _, ings in (COMBINATION, BACKGROUND_COMBINATION)]
    table = pl.DataFrame(expected, schema={"drugname": pl.Utf8, "drug": pl.List(pl.Utf8)}, orient="row")
    combos = [c[0] for c in (COMBINATION, BACKGROUND_COMBINATION)]
    drug = tables["DRUG"]
    written_ai = layout.era(year, q) == "faers"  # earlier eras' files have no prod_ai column
    prod_ai = pl.col("prod_ai") if written_ai else pl.lit(None, dtype=pl.Utf8)
    strings = (
        drug.select("caseid", "primaryid", "drugname", prod_ai.alias("prod_ai"))
        .join(table, on="drugname")
        .filter(~pl.col("drugname").is_in(combos) | (pl.col("prod_ai").fill_null("") != ""))
        .explode("drug")
        .select("caseid", "primaryid", "drug",
                pl.when(pl.col("drug") != "").then(pl.lit("mapped")).otherwise(pl.lit("unmapped")).alias("value"),
                pl.when(pl.col("prod_ai").fill_null("") != "").then(pl.col("drugname") + "|" + pl.col("prod_ai"))
                .otherwise(pl.col("drugname")).alias("detail"),
                kind=pl.lit("drug_string"), table=pl.lit("DRUG"), quarter=pl.lit(quarter))
    )
    spelled = [p for p in MIXED_CASE_PTS + world.INDICATION_PTS if p != p[:1].upper() + p[1:].lower()]
    keys = pl.DataFrame({"_k": [p.lower() for p in spelled], "event": spelled})
    pts = []
    for table, column in (("REAC", "pt"), ("INDI", "indi_pt")):
        pts.append(tables[table].select("caseid", "primaryid", pl.col(column).alias("detail"))
                   .with_columns(pl.col("detail").str.to_lowercase().alias("_k"))
                   .join(keys, on="_k").drop("_k").with_columns(table=pl.lit(table)))
    spellings = pl.concat(pts).with_columns(kind=pl.lit("pt_spelling"), quarter=pl.lit(quarter))
    return pl.concat([strings, spellings], how="diagonal")
