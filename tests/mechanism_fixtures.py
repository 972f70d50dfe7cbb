"""Signal-table fixtures for the mechanism tests, built from counts (not from results).

Each domain gets a background expected count E and an observed count a drawn as
Poisson(rr * E) with a fixed seed; IC and its exact credibility bounds follow methods.md,
and EBGM uses a single Gamma(1, 1) prior (a stand-in for the signal engine's two-component
fit: the test only needs strengths that order like the counts).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import special, stats

# Reporting-rate ratios planted per domain, ordered like the map's density ranks for the
# GABA-B agonist (4: thalamus, cerebellum; 3: other high regions; 2: hypothalamus) and flat
# (all 1.0, i.e. no association) for a drug of another mechanism.
ORDERED_RR = {
    "sensory": 6.0, "coordination": 5.0, "memory_cognition": 3.0, "arousal_sedation": 3.5,
    "motor_tone": 2.5, "reward_mood": 2.2, "seizure_threshold": 2.8,
    "autonomic_thermoregulation": 1.2, "respiratory": 4.0,
}
FLAT_RR = {d: 1.0 for d in ORDERED_RR}


def domain_rows(drug: str, rr: dict[str, float], seed: int, expected: float = 40.0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    domains = list(rr)
    e = expected * rng.uniform(0.5, 1.5, len(domains))
    a = rng.poisson(np.array([rr[d] for d in domains]) * e)
    n = 1_000_000
    drug_total = 20_000
    ebgm = np.exp(special.digamma(a + 1.0) - np.log(e + 1.0))
    return pl.DataFrame({
        "drug": drug, "event": [f"domain:{d}" for d in domains], "level": "domain", "subset": None,
        "a": a.astype(np.int64), "b": (drug_total - a).astype(np.int64),
        "c": np.round(e * n / drug_total - a).astype(np.int64), "d": np.int64(0), "expected": e,
        "ic": np.log2((a + 0.5) / (e + 0.5)),
        "ic025": np.log2(stats.gamma.ppf(0.025, a + 0.5, scale=1 / (e + 0.5))),
        "ic975": np.log2(stats.gamma.ppf(0.975, a + 0.5, scale=1 / (e + 0.5))),
        "ebgm": ebgm,
        "eb05": stats.gamma.ppf(0.05, a + 1.0, scale=1 / (e + 1.0)),
        "eb95": stats.gamma.ppf(0.95, a + 1.0, scale=1 / (e + 1.0)),
    }, schema_overrides={"subset": pl.Utf8})


def signal_table() -> pl.DataFrame:
    """Baclofen with density-ordered domain strengths; naltrexone and acamprosate flat."""
    return pl.concat([
        domain_rows("baclofen", ORDERED_RR, seed=1),
        domain_rows("naltrexone", FLAT_RR, seed=2),
        domain_rows("acamprosate", FLAT_RR, seed=3),
    ])


def write_cases(folder) -> None:
    """A two-case cases/ folder in the CONTRACTS.md layout (only the columns explain reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({
        "caseid": [101, 202], "primaryid": [1011, 2021], "caseversion": [1, 3],
        "quarter": ["2023Q4", "2024Q1"], "age_years": [54.0, None], "sex": ["F", None],
        "country": ["FR", "US"], "serious": [True, False],
    }).write_parquet(folder / "cases.parquet")
    pl.DataFrame({
        "caseid": [101, 101, 202], "primaryid": [1011, 1011, 2021], "quarter": ["2023Q4", "2023Q4", "2024Q1"],
        "drug_seq": [1, 2, 1], "role_cod": ["PS", "C", "PS"],
        "drugname": ["LIORESAL", "ZOLOFT", "REVIA"], "ingredient": ["baclofen", "sertraline", "naltrexone"],
        "route_class": ["oral", "oral", "oral"], "daily_dose_mg": [180.0, 50.0, None],
        "dose_band": [">150", "30-80", "unknown"], "indication_class": ["aud", "other", "aud"],
    }).write_parquet(folder / "drugs.parquet")
    pl.DataFrame({
        "caseid": [101, 101, 101, 202], "primaryid": [1011, 1011, 1011, 2021],
        "quarter": ["2023Q4"] * 3 + ["2024Q1"],
        "pt": ["Tinnitus", "Nausea", "Muscle spasticity", "Memory impairment"],
        "pt_source": ["TINNITUS", "NAUSEA", "MUSCLE SPASTICITY", "Memory impairment"],
    }).write_parquet(folder / "reactions.parquet")


# Dose-response store: 200 suspect-baclofen reports per band, Tinnitus on the first
# TINNITUS_PER_BAND[k] of them; 2,000 reports without baclofen, 40 of them with Tinnitus.
TINNITUS_PER_BAND = {"<=30": 4, "30-80": 6, "80-150": 14, ">150": 30}
UNKNOWN_DOSE_REPORTS = 50
BACKGROUND_REPORTS, BACKGROUND_TINNITUS = 2_000, 40


def write_dose_cases(folder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    drug_rows, reac_rows = [], []
    caseid = 0
    for band, with_tinnitus in TINNITUS_PER_BAND.items():
        for i in range(200):
            caseid += 1
            drug_rows.append((caseid, 1, "PS", "baclofen", band))
            drug_rows.append((caseid, 2, "C", "sertraline", "30-80"))  # co-medication: never counted
            reac_rows.append((caseid, "Tinnitus" if i < with_tinnitus else "Nausea"))
            if i < with_tinnitus:
                reac_rows.append((caseid, "Tinnitus"))  # a PT repeated in one report counts once
    for i in range(UNKNOWN_DOSE_REPORTS):
        caseid += 1
        drug_rows.append((caseid, 1, "SS", "baclofen", None))
        reac_rows.append((caseid, "Vertigo" if i < 5 else "Nausea"))
    for i in range(BACKGROUND_REPORTS):
        caseid += 1
        drug_rows.append((caseid, 1, "PS", "metformin" if i % 3 else "baclofen", "<=30"))
        if i % 3 == 0:  # baclofen only as concomitant here: role C, so not exposed
            drug_rows[-1] = (caseid, 1, "C", "baclofen", "<=30")
        reac_rows.append((caseid, "Tinnitus" if i < BACKGROUND_TINNITUS else "Headache"))
    ids = list(range(1, caseid + 1))
    pl.DataFrame({
        "caseid": ids, "primaryid": [i * 10 for i in ids], "quarter": "2023Q4", "dup_flag": False,
        "sex": "F", "age_band": "45-64",
    }).write_parquet(folder / "cases.parquet")
    pl.DataFrame(drug_rows, schema=["caseid", "drug_seq", "role_cod", "ingredient", "dose_band"], orient="row",
                 ).with_columns(route_class=pl.lit("oral"), indication_class=pl.lit("aud")).write_parquet(
        folder / "drugs.parquet")
    pl.DataFrame(reac_rows, schema=["caseid", "pt"], orient="row").write_parquet(folder / "reactions.parquet")
