"""The 2×2 measures and report-based counts against methods.md's reference values."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pv.signals import counts, frequentist, ic, strata

EXAMPLE_1 = (20, 380, 980, 98620)  # E = 4
EXAMPLE_2 = (3, 97, 200, 99700)  # E = 0.203


def close(x, ref, rel=1e-9):
    return abs(float(x) / ref - 1) <= rel


@pytest.mark.parametrize("cells,prr_ref,chi2_ref,ror_ref", [
    (EXAMPLE_1, (5.081632653, 3.300088121, 7.82493966), 60.91284329, (5.296455424, 3.36359533, 8.340016355)),
    (EXAMPLE_2, (14.985, 4.874414752, 46.06711502), 26.07011687, (15.41752577, 4.846266343, 49.0480886)),
])
def test_prr_ror_chi2_reference_tables(cells, prr_ref, chi2_ref, ror_ref):
    assert all(close(x, ref) for x, ref in zip(frequentist.prr(*cells), prr_ref))
    assert close(frequentist.chi2_yates(*cells), chi2_ref)
    assert all(close(x, ref) for x, ref in zip(frequentist.ror(*cells), ror_ref))


def test_chi2_yates_is_zero_where_the_correction_exceeds_the_difference():
    # |ad - bc| = 1 < N/2 = 50: the unclamped formula gave 100·49²/(1·99·1·99) = 24.5 (a "signal")
    assert frequentist.chi2_yates(0, 1, 1, 98) == 0.0
    assert frequentist.chi2_yates(1, 9, 9, 81) == 0.0  # independent: ad = bc
    # |ad - bc| = 50 = N/2 exactly: 0 either way; one report more of the cell: positive again
    cells = np.array([(1, 49, 49, 1), (5, 45, 45, 5), (2, 0, 0, 98)], dtype=np.float64).T
    chi2 = frequentist.chi2_yates(*cells)
    assert chi2[1] == pytest.approx(100 * (abs(25 - 2025) - 50) ** 2 / (50 * 50 * 50 * 50), rel=1e-15)
    assert chi2[0] == pytest.approx(100 * (abs(1 - 2401) - 50) ** 2 / 50 ** 4, rel=1e-15)
    assert chi2[2] == pytest.approx(100 * (196 - 50) ** 2 / (2 * 98 * 2 * 98), rel=1e-15)
    a, b, c, d = np.random.default_rng(1).integers(1, 30, size=(4, 10_000))  # margins > 0
    near = np.abs(a * d - b * c) <= (a + b + c + d) / 2
    assert near.sum() > 100 and (frequentist.chi2_yates(a, b, c, d)[near] == 0).all()


def test_ic_exact_gamma_bounds():
    a, b, c, d = EXAMPLE_1
    e = (a + b) * (a + c) / (a + b + c + d)
    assert e == 4.0
    assert close(ic.ic(a, e), 2.187627003)
    assert close(ic.ic_bound(a, e, 0.025), 1.486257777)
    assert close(ic.ic_bound(a, e, 0.975), 2.750381919)
    a, b, c, d = EXAMPLE_2
    e = (a + b) * (a + c) / (a + b + c + d)
    assert close(ic.ic(a, e), 2.315758328)
    assert close(ic.ic_bound(a, e, 0.025), 0.2653149718)
    assert abs(ic.ic_bound(12, 5, 0.025) - 0.2542334) < 5e-8


def test_zero_cell_rule_adds_half_only_when_a_cell_is_zero():
    prr, _, _ = frequentist.prr([1, 1], [0, 9], [4, 4], [10, 10])
    assert prr[0] == pytest.approx((1.5 / 2.0) / (4.5 / 15.0), rel=1e-15)
    assert prr[1] == pytest.approx((1 / 10) / (4 / 14), rel=1e-15)
    ror, _, _ = frequentist.ror([1], [0], [4], [10])
    assert ror[0] == pytest.approx(1.5 * 10.5 / (0.5 * 4.5), rel=1e-15)


def test_report_based_counts_count_each_report_once():
    # report 1 names drug X twice and PT "p" twice; report 4 has no X.
    long = pl.LazyFrame({
        "rid": [1, 1, 1, 1, 2, 2, 3, 4, 4],
        "drug": ["X", "X", "X", "Y", "X", "Y", "Y", "Y", "Z"],
        "pt": ["p", "p", "q", "p", "q", "q", "p", "q", "p"],
    })
    table = counts.long_table_counts(long, "rid", "drug", "pt").two_by_two().sort("drug", "event")
    row = table.filter(drug="X", event="p").row(0, named=True)
    # X in reports {1,2}; p in reports {1,3,4}; N = 4
    assert (row["a"], row["b"], row["c"], row["d"]) == (1, 1, 2, 0)
    assert row["expected"] == pytest.approx(2 * 3 / 4)
    assert table["n_total"].unique().to_list() == [4]
    # report 1 names Y and q on different rows: it still is a report with Y and q
    y_q = table.filter(drug="Y", event="q").row(0, named=True)
    assert (y_q["a"], y_q["b"], y_q["c"], y_q["d"]) == (3, 1, 0, 0)  # Y in {1,2,3,4}, q in {1,2,4}


def test_pair_count_margins_are_sums_of_counts():
    table = counts.pair_counts(pl.LazyFrame({"d": ["A", "A", "B"], "e": ["x", "y", "x"], "n": [3, 1, 6]}),
                               "d", "e", "n").two_by_two()
    row = table.filter(drug="A", event="x").row(0, named=True)
    assert (row["a"], row["b"], row["c"], row["d"], row["n_total"]) == (3, 1, 6, 0, 10)


def test_stratified_expected_sums_over_strata():
    # stratum F: 2 reports (1: X+p, 2: X+q); stratum M: 2 reports (3: Y+p, 4: X+p)
    long = pl.LazyFrame({"rid": [1, 2, 3, 4], "drug": ["X", "X", "Y", "X"], "pt": ["p", "q", "p", "p"],
                         "sex": ["F", "F", "M", "M"]})
    table = counts.long_table_counts(long, "rid", "drug", "pt", ["sex"]).cells
    e = table.filter(drug="X", event="p")["expected"].item()
    # F: n_X=2, n_p=1, N=2 -> 1; M: n_X=1, n_p=2, N=2 -> 1; total 2 (unstratified: 3*3/4 = 2.25)
    assert e == pytest.approx(2.0, rel=1e-15)
    direct = strata.expected_counts(np.array([0]), np.array([0]), np.array([[2.0, 1.0]]),
                                    np.array([[1.0, 2.0]]), np.array([2.0, 2.0]))
    assert direct[0] == pytest.approx(2.0)


def test_smallest_count_bounds_are_exact():
    """Below each preset's smallest count no E (down to 0) can meet it; at the count some E does."""
    from pv.signals.gps import Prior, posterior_cdf
    from pv.signals.thresholds import smallest_count

    prior = Prior(0.4, 0.18, 1.7, 2.1, 0.14)
    lows = smallest_count(prior)
    assert lows["evans"] == 3 and lows["ror025"] == 3
    tiny = np.array([1e-12, 1e-6, 0.01, 1.0, 100.0])
    below = np.full_like(tiny, lows["ic025"] - 1)
    assert (ic.ic_bound(below, tiny, 0.025) < 0).all()
    assert ic.ic_bound(np.array([lows["ic025"]]), np.array([1e-12]), 0.025)[0] > 0
    n = lows["eb05"]
    if n > 0:
        assert (posterior_cdf(np.full_like(tiny, n - 1), tiny, prior, 2.0) > 0.05).all()
    assert posterior_cdf(np.array([n + 5.0]), np.array([1e-9]), prior, 2.0)[0] <= 0.05
    assert smallest_count(None)["eb05"] > 10_000  # no prior: the EB05 flag is never set


def test_subset_flags_equal_the_full_measures():
    """The pruned flag path (necessary conditions, EB05 by one CDF evaluation) gives exactly the
    flags of every measure computed on every row, zero cells and small counts included."""
    import polars as pl

    from pv.signals.gps import Prior
    from pv.signals.table import signal_table
    from pv.signals.trend import subset_flags

    rng = np.random.default_rng(5)
    n = 60_000
    a = rng.integers(0, 40, n)
    b = rng.integers(0, 400, n)
    c = rng.integers(0, 4000, n)
    d = rng.integers(0, 100_000, n)
    b[a + b == 0] = 1  # every drug and event has a report: E > 0
    c[a + c == 0] = 1
    expected = (a + b) * (a + c) / (a + b + c + d) * rng.uniform(0.2, 3.0, n)
    prior = Prior(0.4, 0.18, 1.7, 2.1, 0.14)
    cells = pl.DataFrame({"drug": "x", "event": "y", "a": a, "b": b, "c": c, "d": d, "expected": expected})
    full = signal_table(cells, prior)
    fast = subset_flags(a, b, c, d, expected, prior)
    for name in ("evans", "ror025", "ic025", "eb05"):
        assert np.array_equal(full[f"flag_{name}"].fill_null(False).to_numpy(), fast[f"flag_{name}"]), name
        assert fast[f"flag_{name}"].sum() > 100, name
