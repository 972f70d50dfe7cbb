"""Signal-table fixtures for the mechanism tests, built from counts (not from results).

PT-level rows for every effect PT of the receptor map: each PT gets a background expected count
E and an observed count a ~ Poisson(E * 2**(slope * (rank - 3) + u_domain)), rank = the domain's
primary-rule (lowest) rank, u_domain ~ Normal(0, tau) a per-domain spread; the density test must
recover ``slope`` (IC per rank step). Margins (b, c, d) are consistent with a and E.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl

from pv.vocab.receptors import load_receptor_map

LOWEST = {"sensory": 4, "memory_cognition": 3, "coordination": 4, "arousal_sedation": 3, "motor_tone": 3,
          "reward_mood": 3, "seizure_threshold": 3, "autonomic_thermoregulation": 2, "respiratory": None}
N_REPORTS, N_DRUG = 1_000_000, 20_000


@lru_cache(maxsize=1)
def effect_pts() -> pl.DataFrame:
    """The receptor map's effect PTs with their domain (read once: the calibration tests build hundreds of tables)."""
    rmap = load_receptor_map().filter(pl.col("role") == "effect")
    return rmap.select("pt", "domain").unique("pt", keep="first", maintain_order=True)


def pt_rows(drug: str, slope: float, seed: int, tau: float = 0.0, e_range=(20.0, 60.0), base: float = 1.0) -> pl.DataFrame:
    """PT-level signal rows (subset all) of ``drug`` with a planted density slope."""
    rng = np.random.default_rng(seed)
    domains = list(LOWEST)
    u = dict(zip(domains, rng.normal(0.0, tau, len(domains))))
    pts = effect_pts()
    e = rng.uniform(*e_range, pts.height)
    log_rr = np.array([base + (0.0 if LOWEST[d] is None else slope * (LOWEST[d] - 3)) + u[d] for d in pts["domain"]])
    a = rng.poisson(e * 2.0**log_rr)
    n_event = np.round(e * N_REPORTS / N_DRUG).astype(np.int64)
    return pl.DataFrame({
        "drug": drug, "event": pts["pt"], "level": "pt", "subset": "all",
        "a": a.astype(np.int64), "b": (N_DRUG - a).astype(np.int64), "c": (n_event - a).astype(np.int64),
        "d": (N_REPORTS - N_DRUG - n_event + a).astype(np.int64), "expected": e,
        "ic": np.log2((a + 0.5) / (e + 0.5)),
    })


def signal_table(seed: int = 1, slope: float = 0.8, control_slope: float = 0.0) -> pl.DataFrame:
    """Baclofen with a density ordering; naltrexone and acamprosate with ``control_slope``."""
    return pl.concat([
        pt_rows("baclofen", slope, seed),
        pt_rows("naltrexone", control_slope, seed + 1000),
        pt_rows("acamprosate", control_slope, seed + 2000),
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


# Dose-response store: 200 suspect oral-baclofen reports per mg/day band (daily doses 20, 60, 120,
# 200), Tinnitus on the first TINNITUS_PER_BAND[k] of them; 50 intrathecal reports (0.2 mg/day =
# 200 ug/day, their own scale); 50 suspect reports without a dose; 2,000 reports without baclofen
# as suspect, 40 of them with Tinnitus.
DOSES = {"<=30": 20.0, "30-80": 60.0, "80-150": 120.0, ">150": 200.0}
TINNITUS_PER_BAND = {"<=30": 4, "30-80": 6, "80-150": 14, ">150": 30}
UNKNOWN_DOSE_REPORTS, INTRATHECAL_REPORTS = 50, 50
BACKGROUND_REPORTS, BACKGROUND_TINNITUS = 2_000, 40


def write_dose_cases(folder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    drug_rows, reac_rows = [], []
    caseid = 0
    for band, with_tinnitus in TINNITUS_PER_BAND.items():
        for i in range(200):
            caseid += 1
            drug_rows.append((caseid, 1, "PS", "baclofen", "oral", DOSES[band]))
            drug_rows.append((caseid, 2, "C", "sertraline", "oral", 50.0))  # co-medication: never counted
            reac_rows.append((caseid, "Tinnitus" if i < with_tinnitus else "Nausea"))
            if i < with_tinnitus:
                reac_rows.append((caseid, "Tinnitus"))  # a PT repeated in one report counts once
    for i in range(INTRATHECAL_REPORTS):
        caseid += 1
        drug_rows.append((caseid, 1, "PS", "baclofen", "intrathecal", 0.2))
        reac_rows.append((caseid, "Hypotonia" if i < 10 else "Nausea"))
    for i in range(UNKNOWN_DOSE_REPORTS):
        caseid += 1
        drug_rows.append((caseid, 1, "SS", "baclofen", "oral", None))
        reac_rows.append((caseid, "Vertigo" if i < 5 else "Nausea"))
    for i in range(BACKGROUND_REPORTS):
        caseid += 1
        drug_rows.append((caseid, 1, "PS", "metformin" if i % 3 else "baclofen", "oral", 20.0))
        if i % 3 == 0:  # baclofen only as concomitant here: role C, so not exposed
            drug_rows[-1] = (caseid, 1, "C", "baclofen", "oral", 20.0)
        reac_rows.append((caseid, "Tinnitus" if i < BACKGROUND_TINNITUS else "Headache"))
    ids = list(range(1, caseid + 1))
    pl.DataFrame({
        "caseid": ids, "primaryid": [i * 10 for i in ids], "quarter": "2023Q4", "dup_flag": False,
        "sex": "F", "age_band": "45-64",
    }).write_parquet(folder / "cases.parquet")
    pl.DataFrame(drug_rows, schema=["caseid", "drug_seq", "role_cod", "ingredient", "route_class", "daily_dose_mg"],
                 orient="row").with_columns(indication_class=pl.lit("aud"), dose_band=pl.lit(None, pl.Utf8)).write_parquet(
        folder / "drugs.parquet")
    pl.DataFrame(reac_rows, schema=["caseid", "pt"], orient="row").write_parquet(folder / "reactions.parquet")
