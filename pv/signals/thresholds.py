"""Signal threshold presets, one flag column each (methods.md "Thresholds").

Each preset is a named rule with its source; ``flag_columns`` turns the measures into
Boolean columns ``flag_<preset>`` (null where the measure is undefined, e.g. EB05 when
the prior fit was not usable). Flags are prefixed because ``ic025``/``eb05`` already
name the measures themselves.
"""

from __future__ import annotations

import polars as pl

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
