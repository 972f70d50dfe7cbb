"""Case identity across quarters without shared state.

Every quarter is generated on its own (in parallel), yet follow-ups, deletions and
duplicates must refer to cases born in other quarters. So a case's whole life is a pure
function of its caseid and the seed (``life``): a quarter recomputes, for the few earlier
quarters in reach, which of their cases publish a version in it.

- caseids of quarter k: ``case_base(k) + i`` for i < ``slots(k)``: the first ``n_main(k)``
  are ordinary new cases, the rest are reserved for true-duplicate copies;
- a new case publishes its first version in its birth quarter; with probability
  ``P_FOLLOWUP`` it publishes one or two follow-ups 1-4 quarters apart (sometimes two
  versions in one quarter); with probability ``P_DELETED`` it is listed as deleted 0-5
  quarters later; with probability ``P_DUP_ORIGINAL`` it is re-sent under a copy caseid in
  the same quarter. The three fates are exclusive, so duplicates are never followed up or
  deleted.
"""

from __future__ import annotations

import numpy as np

FIRST_YEAR = 2004
P_FOLLOWUP = 0.22
P_DELETED = 0.02
P_DUP_ORIGINAL = 0.01
P_SECOND_FOLLOWUP = 0.3
P_DOUBLE = 0.08  # a follow-up publishes two versions in one quarter
MAX_LAG = 8
MAX_DELETE_LAG = 5
MAIN_SHARE = 0.75  # new cases per target DEMO row (follow-ups make up the rest)
CASE_BASE0 = 3_000_000
ISR_BASE0 = 4_000_000

# Reports per quarter in real FAERS, by year (faers-format.md "Sizes"; interpolated).
REAL_SIZES = {  # 2004Q1-2012Q3 ~4.3M legacy, ~24M in all to 2025Q4
    2004: 56_000, 2005: 68_000, 2006: 82_000, 2007: 100_000, 2008: 122_000, 2009: 132_000,
    2010: 140_000, 2011: 178_000, 2012: 205_000, 2013: 230_000, 2014: 262_000, 2015: 310_000,
    2016: 330_000, 2017: 345_000, 2018: 400_000, 2019: 410_000, 2020: 410_000, 2021: 430_000,
    2022: 420_000, 2023: 410_000, 2024: 410_000, 2025: 400_000,
}

_M = np.uint64(0xFFFFFFFFFFFFFFFF)


def qindex(year: int, q: int) -> int:
    return (year - FIRST_YEAR) * 4 + (q - 1)


def qof(k: int) -> tuple[int, int]:
    return FIRST_YEAR + k // 4, k % 4 + 1


def target_size(k: int, per_quarter: int | None) -> int:
    """Target DEMO rows of quarter k: the fixed number asked for, else FAERS's real size."""
    if per_quarter is not None:
        return int(per_quarter)
    year = qof(k)[0]
    return REAL_SIZES.get(year, REAL_SIZES[max(REAL_SIZES)] if year > max(REAL_SIZES) else REAL_SIZES[FIRST_YEAR])


def n_main(k: int, per_quarter: int | None) -> int:
    return max(1, round(target_size(k, per_quarter) * MAIN_SHARE))


def n_dup_slots(k: int, per_quarter: int | None) -> int:
    return int(np.ceil(n_main(k, per_quarter) * P_DUP_ORIGINAL * 1.5)) + 2


def slots(k: int, per_quarter: int | None) -> int:
    return n_main(k, per_quarter) + n_dup_slots(k, per_quarter)


class Bases:
    """Cumulative id bases of every quarter from 2004Q1 (caseids, legacy ISRs, DRUG_SEQs)."""

    def __init__(self, last_k: int, per_quarter: int | None):
        self.per_quarter = per_quarter
        sl = [slots(k, per_quarter) for k in range(last_k + 1)]
        cap = [2 * target_size(k, per_quarter) + 1000 for k in range(last_k + 1)]
        self.case = np.concatenate([[0], np.cumsum(sl)]) + CASE_BASE0
        self.isr = np.concatenate([[0], np.cumsum(cap)]) + ISR_BASE0

    def case_base(self, k: int) -> int:
        return int(self.case[k])

    def isr_base(self, k: int) -> int:
        return int(self.isr[k])


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-mixed 64-bit hash of each integer."""
    x = (x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)) & _M
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _M
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _M
    return x ^ (x >> np.uint64(31))


def _bits(h: np.ndarray, shift: int, mod: int) -> np.ndarray:
    return ((h >> np.uint64(shift)) % np.uint64(mod)).astype(np.int64)


def _unit(h: np.ndarray, shift: int) -> np.ndarray:
    return ((h >> np.uint64(shift)) & np.uint64(0xFFFFF)).astype(np.float64) / float(1 << 20)


class Life:
    """The fate of each caseid in an array (vectorised, pure function of caseid and seed)."""

    def __init__(self, caseids: np.ndarray, seed: int):
        h = mix64(np.asarray(caseids, dtype=np.uint64) ^ mix64(np.array([seed], dtype=np.uint64))[0])
        u = _unit(h, 0)
        self.followup = u < P_FOLLOWUP
        self.deleted = (u >= P_FOLLOWUP) & (u < P_FOLLOWUP + P_DELETED)
        self.dup_original = (u >= P_FOLLOWUP + P_DELETED) & (u < P_FOLLOWUP + P_DELETED + P_DUP_ORIGINAL)
        self.v0 = 1 + _bits(h, 20, 3)  # first distributed FAERS version
        self.lag1 = 1 + _bits(h, 24, 4)
        self.lag2 = self.lag1 + 1 + _bits(h, 28, 4)
        self.has2 = _unit(h, 32) < P_SECOND_FOLLOWUP
        self.double1 = _unit(h, 40) < P_DOUBLE
        self.double2 = _bits(h, 52, 1000) < int(P_DOUBLE * 1000)
        self.v1 = self.v0 + 1 + _bits(h, 60, 2)
        self.v2 = self.v1 + np.where(self.double1, 2, 1) + _bits(h, 62, 2)
        self.delete_lag = _bits(h, 44, MAX_DELETE_LAG + 1)


def followups_into(k: int, bases: Bases, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Follow-up versions published in quarter k: (caseid, version, birth quarter) arrays."""
    cids, vers, born = [], [], []
    for j in range(max(0, k - MAX_LAG), k):
        ids = bases.case_base(j) + np.arange(n_main(j, bases.per_quarter), dtype=np.int64)
        life = Life(ids, seed)
        for lag, has, v, dbl in ((life.lag1, True, life.v1, life.double1),
                                 (life.lag2, life.has2, life.v2, life.double2)):
            sel = life.followup & has & (lag == k - j)
            for extra in (0, 1):
                s = sel & dbl if extra else sel
                cids.append(ids[s])
                vers.append(v[s] + extra)
                born.append(np.full(int(s.sum()), j, dtype=np.int64))
    if not cids:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e
    return np.concatenate(cids), np.concatenate(vers).astype(np.int64), np.concatenate(born)


def deletions_into(k: int, bases: Bases, seed: int, from_k: int | None = None) -> np.ndarray:
    """Caseids whose deletion is announced in quarter k (or, with ``from_k``, in any
    quarter from_k..k: the 2019Q1 whole-history list)."""
    lo = k - MAX_DELETE_LAG if from_k is None else 0
    out = []
    for j in range(max(0, lo), k + 1):
        ids = bases.case_base(j) + np.arange(n_main(j, bases.per_quarter), dtype=np.int64)
        life = Life(ids, seed)
        when = j + life.delete_lag
        sel = life.deleted & ((when == k) if from_k is None else (when <= k))
        out.append(ids[sel])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
