"""Signal threshold presets, one flag column each (methods.md "Thresholds").

Each preset is a named rule with its source; ``flag_columns`` turns the measures into
Boolean columns ``flag_<preset>`` (null where the measure is undefined, e.g. EB05 when
the prior fit was not usable). Flags are prefixed because ``ic025``/``eb05`` already
name the measures themselves.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.special import gammainc, gammaincinv

PRESETS = {
    "evans": "PRR >= 2 and chi2 >= 4 and a >= 3 (Evans et al. 2001)",
    "ror025": "ROR lower 95% bound > 1 and a >= 3 (EMA practice; a >= 5 for some products)",
    "ic025": "IC025 > 0 (WHO-UMC, Noren shrinkage with exact bound)",
    "eb05": "EB05 >= 2 (FDA, Szarfman et al. 2002)",
}


def preset_rules(ror_min_a: int = 3) -> dict[str, pl.Expr]:
    """The presets as polars expressions over the measure columns."""
    return {
        "evans": (pl.col("prr") >= 2) & (pl.col("chi2") >= 4) & (pl.col("a") >= 3),
        "ror025": (pl.col("ror_lo") > 1) & (pl.col("a") >= ror_min_a),
        "ic025": pl.col("ic025") > 0,
        "eb05": pl.col("eb05") >= EB05_BOUND,
    }


def flag_columns(frame: pl.DataFrame | pl.LazyFrame, ror_min_a: int = 3):
    """Add ``flag_evans``, ``flag_ror025``, ``flag_ic025``, ``flag_eb05``."""
    return frame.with_columns(**{f"flag_{name}": rule for name, rule in preset_rules(ror_min_a).items()})


FLAG_COLUMNS = [f"flag_{name}" for name in PRESETS]

#: The EB05 preset's bound: EB05 >= EB05_BOUND exactly when P(λ <= EB05_BOUND | n) <= 0.05.
EB05_BOUND = 2.0

#: counts searched for the smallest count at which a preset can be met
_COUNT_RANGE = np.arange(0, 100_000, dtype=np.float64)


def smallest_count(prior=None, ror_min_a: int = 3) -> dict[str, int]:
    """Per preset, the smallest a at which it can be met at all, whatever b, c, d and E are.

    Exact bounds, so rows below them need no measure to know their flag is off:
    - evans: a >= 3; ror025: a >= ror_min_a (and a >= 1: an unreported cell is no signal);
    - ic025: IC025 > 0 needs the 2.5% quantile of Gamma(a + 0.5, 1) above E + 0.5 >= 0.5
      (that quantile grows with a);
    - eb05: EB05 >= 2 needs P(λ <= 2 | a) <= 0.05. That posterior CDF mixes the components'
      CDFs gammainc(α_k + a, 2(β_k + E)), so it is at least the smaller of them, and each
      grows with E: no E can bring it to 0.05 while min_k gammainc(α_k + a, 2β_k) > 0.05
      (which falls with a). Without a usable prior the EB05 flag is never set.
    A small margin keeps a bound from excluding a row that rounding could flag."""
    quantile = gammaincinv(_COUNT_RANGE[:1000] + 0.5, 0.025)
    out = {"evans": 3, "ror025": max(1, ror_min_a), "ic025": int(np.argmax(quantile > 0.5 * (1 - 1e-9)))}
    out["eb05"] = len(_COUNT_RANGE)
    if prior is not None:
        lower = np.minimum(gammainc(prior.alpha1 + _COUNT_RANGE, 2.0 * prior.beta1),
                           gammainc(prior.alpha2 + _COUNT_RANGE, 2.0 * prior.beta2))
        reachable = lower <= 0.05 + 1e-9
        out["eb05"] = int(np.argmax(reachable)) if reachable.any() else len(_COUNT_RANGE)
    return out
