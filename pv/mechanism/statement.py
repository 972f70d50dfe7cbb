"""The plain-language statement of the density test, generated from its numbers only.

Order follows the analysis plan: the one primary result with its power figure beside it, the
pre-specified conclusion, then everything exploratory (rank rules side by side, contrasts, other
drugs), each with its q. Nothing here is typed by hand except the caveats.
"""

from __future__ import annotations

import polars as pl

from pv.mechanism.hypothesis import POOLED_NEGATIVE, RULE_WORDS, RULES

CAVEATS = (
    "This is hypothesis-generating, not evidence of mechanism. Spontaneous reports measure "
    "reporting, not incidence: reporting bias and notoriety (the sensory and memory effects are "
    "what the literature tells prescribers to expect), confounding by indication (AUD and "
    "spasticity patients differ from the background), and co-medication all shape the "
    "disproportionality of a domain. The density ranks are ordinal, mostly from rat "
    "autoradiography, and partly inferred (grade I). Only the primary test is judged at alpha; "
    "every other p-value is exploratory and shown with its Benjamini-Hochberg q over all the tests that ran."
)

CONCLUSIONS = {
    "consistent with the explanation": (
        "What the data support: the density ordering is present for {drug}, its slope exceeds each negative "
        "control's (pre-specified contrasts, largest p = {pc}) and no negative control is ordered by density: "
        "consistent with the explanation (not proof of it)."),
    "ordering not specific": (
        "What the data support: {drug}'s domain signals rise with density, but the ordering is not shown to be "
        "specific to GABA-B agonism: {why}. It is not reported as support for the explanation."),
    "no ordering shown": (
        "What the data support: the primary test shows no ordering of {drug}'s domain signals by density; "
        "the data do not support the explanation. {power}"),
    "not testable": "What the data support: the primary test could not be run ({note}).",
}


def _f(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _interval(row: dict) -> str:
    if row["ci_lo"] is None:
        return "no interval (the test cannot reject anywhere with these ranks)"
    return f"95% interval {_f(row['ci_lo'])} to {_f(row['ci_hi'])}"


def _result(row: dict, with_q: bool = True) -> str:
    if row["p"] is None:
        return row["verdict"]
    q = f", q = {_f(row['q_bh'], 3)}" if with_q else ""
    note = f" [{row['verdict']}]" if row["p_min"] is not None and row["p_min"] > 0.05 else ""
    return (f"slope {_f(row['slope'])} IC per rank step (x{_f(row['ratio_per_step'])} signal per step), "
            f"{_interval(row)}, one-sided p = {_f(row['p'], 4)}{q}{note}")


def power_sentence(power: dict | None, plan: dict) -> str:
    if not power or power.get("mds") is None:
        return f"Power: this store cannot reach {float(plan['power']['value']):.0%} power at any slope."
    return (f"Power: the smallest density slope this store detects with {power['power_target']:.0%} power is "
            f"{power['mds']:.2f} IC per rank step (x{power['mds_ratio']:.2f} signal per step; parametric bootstrap "
            f"of the PT signals and the domains' spread, bias-corrected for the spread's own uncertainty, "
            f"{power['replicates']} replicates); power at the observed slope: "
            f"{power['power_at_observed']:.0%}.")


def statement(table: pl.DataFrame, decision: dict, power: dict | None, plan: dict) -> str:
    """Markdown statement of the whole test table (see module docstring for the order)."""
    drug = plan["primary_drug"]["value"]
    rule = plan["primary_rank_rule"]["value"]
    lines = ["# Receptor density vs signal strength", ""]
    primary = table.filter(pl.col("family") == "primary").to_dicts()
    p_text = power_sentence(power, plan)
    if primary:
        r = primary[0]
        lines += [
            f"**Primary (pre-specified in seeds/mechanism_plan.csv):** {drug}, rank rule '{rule}' "
            f"({plan['primary_rank_rule']['reason']}), measure IC, one-sided at alpha = {decision['alpha']:g}; "
            f"{r['n_domains']} domains ({r['n_pts']} PTs), the domain as the permuted unit ({r['permutation']}).",
            "",
            f"- **Result:** {r['verdict']}: {_result(r, with_q=False)}.",
            f"- **{p_text}**",
            "",
        ]
    why = []
    if decision["p_contrast"] is None or decision["p_contrast"] >= decision["alpha"]:
        why.append("its slope is not shown to exceed every negative control's: pre-specified contrasts with "
                   f"{', '.join(decision['negative_controls']) or 'no negative control'}, largest p = "
                   f"{_f(decision['p_contrast'], 4)}")
    if decision["ordered_negatives"]:
        why.append(f"negative control(s) {', '.join(decision['ordered_negatives'])} show an ordering of their own")
    lines += [CONCLUSIONS[decision["key"]].format(
        drug=drug, pc=_f(decision["p_contrast"], 4), why="; ".join(why), power=p_text,
        note=primary[0]["verdict"] if primary else "no primary drug data"), ""]
    rules = table.filter((pl.col("drug") == drug) & pl.col("family").is_in(["primary", "rank rule"]))
    if rules.height:
        lines += [f"## Rank rules side by side ({drug}; exploratory except the primary)", ""]
        for rr in sorted(rules.to_dicts(), key=lambda d: RULES.index(d["rule"])):
            tag = " (primary)" if rr["family"] == "primary" else ""
            lines.append(f"- {rr['rule']}{tag} - {RULE_WORDS[rr['rule']]}: {_result(rr)}.")
        agree = [r["rule"] for r in rules.to_dicts() if r["p"] is not None and r["p"] < decision["alpha"]]
        differ = [r["rule"] for r in rules.to_dicts() if r["rule"] not in agree]
        lines += ["", f"Rules giving p < {decision['alpha']:g}: {', '.join(agree) or 'none'}; "
                      f"not: {', '.join(differ) or 'none'}"
                      + (" - the rules agree." if not agree or not differ else " - the rules disagree, so the result "
                         "turns on how a multi-region domain is ranked."), ""]
    contrasts = table.filter(pl.col("family") == "contrast")
    if contrasts.height:
        lines += [f"## Between-drug contrast ({drug} minus comparator, drug x density interaction)", ""]
        for c in sorted(contrasts.to_dicts(), key=lambda d: (d["status"] == "exploratory", d["comparator"] == POOLED_NEGATIVE, d["comparator"])):
            role = (c["comparator_role"] or "other_comparator").replace("_", " ")
            tag = "exploratory" if c["status"] == "exploratory" else "pre-specified"
            lines.append(f"- vs {c['comparator']} ({role}; {tag}): {c['verdict']}: {_result(c)}.")
        lines.append("")
    others = table.filter((pl.col("family") == "drug") & (pl.col("rule") == rule))
    if others.height:
        lines += [f"## Other drugs, rule '{rule}' (exploratory)", ""]
        for o in others.sort("role", "drug").to_dicts():
            lines.append(f"- **{o['drug']}** ({o['role'].replace('_', ' ')}; {o['mechanism'] or 'mechanism not listed'}): "
                         f"{o['verdict']}: {_result(o)}.")
        lines.append("")
    return "\n".join(lines + [CAVEATS, ""])
