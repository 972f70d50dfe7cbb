"""Signal threshold presets, one flag column each (methods.md "Thresholds").

Each preset is a named rule with its source; ``flag_columns`` turns the measures into
Boolean columns ``flag_<preset>`` (null where the measure is undefined, e.g. EB05 when
the prior fit was not usable). Flags are prefixed because ``ic025``/``eb05`` already
name the measures themselves.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.special import gammaincinv

from pv.signals.gps import component_cdf, component_posterior_mean

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
        lower = np.minimum(*(component_cdf(_COUNT_RANGE, 0.0, k, EB05_BOUND) for k in prior.components()))
        reachable = lower <= 0.05 + 1e-9
        out["eb05"] = int(np.argmax(reachable)) if reachable.any() else len(_COUNT_RANGE)
    return out


def candidates(a, b, c, d, expected, prior=None, ror_min_a: int = 3, lows: dict[str, int] | None = None
               ) -> dict[str, np.ndarray]:
    """Per preset, the rows that pass a cheap necessary condition for it (a superset of the
    rows it flags), so the measures are computed only there:
    - evans, ror025: PRR >= 2 and ROR025 > 1 both need the table disproportionate, a·d > b·c
      (PRR > 1 and ROR > 1 each reduce to it; a table with a zero cell, which gets the +0.5
      rule, is always kept), and a >= the preset's smallest count;
    - ic025: IC025 > 0 needs a > E: the Gamma(a + 0.5, 1) 2.5% quantile lies below its mean
      a + 0.5 and must exceed E + 0.5;
    - eb05: EB05 >= 2 needs a posterior component mean (α_k + a)/(β_k + E) (or a
      point mass's λ) >= 2: each
      component's 5% quantile lies below its mean, and the mixture's 5% quantile below the
      larger of the components' (its CDF is at least the smaller of theirs)."""
    lows = lows or smallest_count(prior, ror_min_a)
    a, b, c, d = (np.asarray(x, dtype=np.int64) for x in (a, b, c, d))
    expected = np.asarray(expected, dtype=np.float64)
    skewed = (a * d > b * c) | (a == 0) | (b == 0) | (c == 0) | (d == 0)
    out = {"evans": skewed & (a >= lows["evans"]), "ror025": skewed & (a >= lows["ror025"]),
           "ic025": (a > expected) & (a >= lows["ic025"]), "eb05": np.zeros(len(a), dtype=bool)}
    if prior is not None:
        mean = np.maximum(*(component_posterior_mean(a, expected, k) for k in prior.components()))
        out["eb05"] = (mean >= EB05_BOUND * (1 - 1e-9)) & (a >= lows["eb05"])
    return out


# --- The signal rule: what "flagged" means for headline counts, is_new and the dashboards ---
#: Default ``any``: a row is a signal when any of the four presets flags it. Why: the watchlist
#: is a handful of drugs an analyst reviews by hand, so sensitivity matters more than the
#: false positives each preset lets through on its own; every preset's own flag stays visible
#: per row, and a stricter rule (e.g. ``ror025 and ic025``, the combination of two
#: independent methods used by DiAna and many published FAERS studies) is one option away.
SIGNAL_RULE_DEFAULT = "any"


def parse_signal_rule(text: str | None) -> list[list[str]]:
    """``"ror025 and ic025"`` -> [["ror025", "ic025"]]: OR of ANDs of preset names ("and" binds
    tighter than "or"); ``any`` = every preset OR-ed, ``all`` = every preset AND-ed.
    An unknown name raises PvError (one line)."""
    from pv.errors import PvError

    words = (text or SIGNAL_RULE_DEFAULT).strip().lower()
    if words == "any":
        return [[name] for name in PRESETS]
    if words == "all":
        return [list(PRESETS)]
    terms = [[w.strip() for w in part.split(" and ")] for part in words.split(" or ")]
    bad = [w for term in terms for w in term if w not in PRESETS]
    if bad or not words:
        raise PvError(f"signal rule {text!r}: unknown threshold {', '.join(map(repr, bad)) or '(empty)'} "
                      f"(use {', '.join(PRESETS)} joined by 'and' / 'or', or 'any' / 'all')")
    return terms


def signal_rule_name(text: str | None) -> str:
    """The rule written the one canonical way (recorded in run.json, shown on every page)."""
    terms = parse_signal_rule(text)
    if terms == parse_signal_rule("any"):
        return "any"
    return " or ".join(" and ".join(term) for term in terms)


def signal_rule_meaning(text: str | None) -> str:
    """The rule in words, with each preset's definition."""
    terms = parse_signal_rule(text)
    return " OR ".join("(" + " AND ".join(PRESETS[name] for name in term) + ")" for term in terms)


def signal_rule_expr(text: str | None) -> pl.Expr:
    """The rule over the ``flag_<preset>`` columns (a null flag counts as not met)."""
    terms = parse_signal_rule(text)
    return pl.any_horizontal([pl.all_horizontal([pl.col(f"flag_{n}").fill_null(False) for n in term])
                              for term in terms])


def signal_rule_headline(text: str | None) -> str:
    """The measure column that goes with the rule's first threshold (the 'headline measure' whose
    change since the previous run the dashboards show)."""
    if signal_rule_name(text) == "any":
        return "ror_lo"  # the pages' sort key: the ROR lower bound
    return {"evans": "prr", "ror025": "ror_lo", "ic025": "ic025", "eb05": "eb05"}[parse_signal_rule(text)[0][0]]
