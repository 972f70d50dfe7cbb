"""Frequentist disproportionality measures on report-based 2×2 tables (methods.md).

a = reports with drug and event, b = drug without event, c = event without drug,
d = neither. Every function is vectorised over all cells (numpy arrays).

Zero-cell rule (stated in every output, see ``ZERO_CELL_RULE``): when any of a, b, c, d
is zero, 0.5 is added to all four cells of that table before PRR, ROR and their
intervals (Haldane–Anscombe); tables with no zero cell are used as they are. χ² is
computed on the raw counts. This is also what vigipy 3.5.1 does, so its reference
values compare cell for cell.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

#: Two-sided 95% normal quantile, exact (methods.md reference values use it, not 1.96).
Z95 = float(ndtri(0.975))

ZERO_CELL_RULE = "haldane: +0.5 to a, b, c, d of a table only when one of them is zero"


def haldane(a, b, c, d):
    """Cells with the zero-cell rule applied: +0.5 to all four where any is zero."""
    a, b, c, d = (np.asarray(x, dtype=np.float64) for x in (a, b, c, d))
    shift = np.where((a == 0) | (b == 0) | (c == 0) | (d == 0), 0.5, 0.0)
    return a + shift, b + shift, c + shift, d + shift


def prr(a, b, c, d):
    """PRR = [a/(a+b)] / [c/(c+d)] with its 95% CI; SE(ln PRR) = sqrt(1/a − 1/(a+b) + 1/c − 1/(c+d))."""
    a, b, c, d = haldane(a, b, c, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = (a / (a + b)) / (c / (c + d))
        se = np.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    return est, est * np.exp(-Z95 * se), est * np.exp(Z95 * se)


def ror(a, b, c, d):
    """ROR = ad/(bc) with its 95% CI; SE(ln ROR) = sqrt(1/a + 1/b + 1/c + 1/d)."""
    a, b, c, d = haldane(a, b, c, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = (a * d) / (b * c)
        se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return est, est * np.exp(-Z95 * se), est * np.exp(Z95 * se)


def chi2_yates(a, b, c, d):
    """χ² with Yates correction = N·max(|ad − bc| − N/2, 0)² / [(a+b)(c+d)(a+c)(b+d)] (raw counts).

    The correction is clamped at 0 (rule ``yates-clamp``): where |ad − bc| < N/2 the table is
    as close to independence as whole counts allow, and squaring the negative difference
    would report a spurious association (a = 1, b = c = 0 in a large N gave χ² ≈ N/4)."""
    a, b, c, d = (np.asarray(x, dtype=np.float64) for x in (a, b, c, d))
    n = a + b + c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        return n * np.maximum(np.abs(a * d - b * c) - n / 2, 0.0) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
