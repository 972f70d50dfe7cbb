"""Fitting the GPS prior on a count table: which cells, how squashed (methods.md).

The cells the prior is fitted on are a recorded setting (``PriorSettings.fit``):
- ``all-cells``: every cell of the drug × event table, zeros included, untruncated
  likelihood (DuMouchel 1999; what open-altio uses on FAERS, where the truncated
  likelihood has no interior maximum). Zero cells come from the margins, squashed.
- ``truncated``: the cells with a >= N*, each component truncated (DuMouchel & Pregibon
  2001; openEBGM, PhViD >= 1.0.8).
Or a fixed prior given by the user (``prior``), which skips the fit.

Two passes: every start runs on coarse bins (fast), then the best optimum is polished on
fine bins, whose likelihood differs from the exact one by far less than 1e-3. An optimum
on the edge of the shape-rate box is followed in mean-dispersion form
(pv.signals.dispersion), which reaches a component's point-mass limit; the fit's shape and
parametrisation are recorded (FitReport.to_dict).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pv.errors import PvError
from pv.signals import dispersion, gps, squash
from pv.signals.counts import CountTable

COARSE_WIDTH = 0.02
FINE_WIDTH = 1e-3
#: Width for the reported −ln L: observed cells unsquashed, zero cells binned this finely.
EXACT_WIDTH = 1e-5


@dataclass
class PriorSettings:
    fit: str = "all-cells"  # "all-cells" | "truncated"
    n_star: int = 1
    prior: gps.Prior | None = None  # fixed prior: no fit
    accept_bound: bool = False  # publish EBGM even if the optimum sits on a bound (recorded)

    def __post_init__(self):
        if self.fit not in ("all-cells", "truncated"):
            raise PvError(f"gps fit: unknown cell choice {self.fit!r} (all-cells | truncated)")
        if self.n_star < 1:
            raise PvError("gps fit: N* must be >= 1")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["prior"] = asdict(self.prior) if self.prior else None
        return out


def fit_bins(table: CountTable, settings: PriorSettings, width: float):
    """(n, E, weight) bins the likelihood runs over, for the chosen cells (width 0: unsquashed)."""
    n = table.cells["a"].to_numpy()
    e = table.cells["expected"].to_numpy()
    # cells in ascending E: the table's row order varies with threading, and the bins' sums of E,
    # hence the fitted prior, would vary with it in the last digits (~1e-7 after the fit). Within a
    # bin the sequence of E values added is then always the same (ties are equal values).
    order = np.argsort(e, kind="stable")
    n, e = n[order], e[order]
    if settings.fit == "truncated":
        keep = n >= settings.n_star
        return squash.squash(n[keep], e[keep], rel_width=width)
    obs = squash.squash(n, e, rel_width=width)
    width = width or EXACT_WIDTH
    zero = squash.zero_cell_bins(table.drug_margins, table.event_margins, table.totals, e, rel_width=width)
    return tuple(np.concatenate(pair) for pair in zip(obs, zero))


def fit_prior(table: CountTable, settings: PriorSettings) -> gps.FitReport:
    """The prior for this table: fixed, or fitted on coarse bins then polished on fine ones."""
    n_star = settings.n_star if settings.fit == "truncated" else None
    exact = fit_bins(table, settings, 0.0)
    if settings.prior is not None:
        value = dispersion.prior_neg_loglik(settings.prior, *exact, n_star)
        return gps.FitReport(settings.prior, value, True, [], "fixed", n_star, len(exact[0]),
                             float(exact[2].sum()), [], "prior given, not fitted")
    fine = squash.squash(*exact[:2], exact[2], rel_width=FINE_WIDTH)
    coarse = squash.squash(*fine[:2], fine[2], rel_width=COARSE_WIDTH)
    first = gps.fit_prior(*coarse, n_star=n_star)
    if first.prior is None:
        first.mode = settings.fit
        return first
    polished = gps.fit_prior(*fine, n_star=n_star, starts=(tuple(first.prior.as_array()),))
    polished.starts = first.starts + polished.starts
    if polished.prior is not None and polished.on_bound:
        # the optimum runs off the shape-rate box: follow it in mean-dispersion form, which
        # reaches the point-mass limit (pv.signals.dispersion); kept if at least as likely
        limit = dispersion.refit(*fine, n_star, polished.prior)
        if limit.prior is not None and limit.neg_loglik <= polished.neg_loglik * (1 + 1e-12):
            limit.starts = polished.starts + limit.starts
            polished = limit
    polished.mode = settings.fit
    if polished.prior is not None:  # report −ln L on the unsquashed cells, not on the bins
        polished.neg_loglik = dispersion.prior_neg_loglik(polished.prior, *exact, n_star)
    return polished


def usable_prior(report: gps.FitReport, settings: PriorSettings) -> gps.Prior | None:
    """The prior EBGM may be published from, or None (not converged; on a bound unless accepted)."""
    if report.prior is None or not report.converged:
        return None
    if report.on_bound and not settings.accept_bound:
        return None
    return report.prior
