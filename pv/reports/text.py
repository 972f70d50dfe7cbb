"""Fixed wording of the report: the measures (methods.md) and the limitations of the method.

Kept apart from the layout so the wording is reviewed as text; every statement is a short,
factual one a safety physician can check against methods.md or the literature it cites.
"""

from __future__ import annotations

MEASURES = [
    "Counts are reports (deduplicated cases), not drug-event pairs: a report naming the drug or the event "
    "twice counts once. a = reports with the drug and the event, b = the drug without the event, c = the "
    "event without the drug, d = neither; N = a + b + c + d.",
    "PRR = [a/(a+b)] / [c/(c+d)], 95% CI exp(ln PRR +/- 1.96 SE), SE = sqrt(1/a - 1/(a+b) + 1/c - 1/(c+d)); "
    "chi-square with Yates correction.",
    "ROR = ad/(bc), 95% CI exp(ln ROR +/- 1.96 SE), SE = sqrt(1/a + 1/b + 1/c + 1/d).",
    "IC (Noren shrinkage) = log2((a + 0.5)/(E + 0.5)) with exact gamma credibility bounds IC025, IC975; "
    "E is the expected count, stratified when strata are on (E = sum over strata of n_drug * n_event / n).",
    "EBGM (GPS, DuMouchel 1999): empirical-Bayes geometric mean of the reporting ratio under a two-gamma "
    "mixture prior fitted by maximum likelihood; EB05 / EB95 are the 5% / 95% posterior quantiles. EBGM is "
    "published only when the prior fit converged inside its search box.",
]

LIMITATIONS = [
    "Spontaneous reports measure reporting, not incidence: there is no denominator of exposed patients, "
    "so no rate or risk can be computed from these tables.",
    "Disproportionality is a screening statistic: a flag means the event is reported more often with the "
    "drug than with all other drugs, not that the drug causes it. Signals need clinical review of the cases.",
    "Reporting is shaped by notoriety and stimulated reporting (publicity, label changes, litigation), by "
    "confounding by indication (patients treated for alcohol use disorder or spasticity differ from the "
    "background) and by co-medication (suspect roles PS/SS are as reported, not adjudicated).",
    "Duplicate reports that the deduplication rules cannot recognise remain; cases FDA deleted are removed. "
    "Different backgrounds and deduplication choices move the numbers several-fold between published "
    "FAERS analyses, so compare like with like.",
    "Events are MedDRA Preferred Terms as coded by reporters; event groups and receptor domains are curated "
    "PT lists (seeds/), not SMQs, unless a licensed MedDRA release was loaded.",
    "Many drug-event pairs are screened, so some flags are expected by chance; thresholds are conventions "
    "(Evans 2001, EMA, WHO-UMC, FDA) and are not adjusted for multiplicity.",
    "Subsets (route, dose band, indication) rely on fields that are often missing or free text in FAERS; "
    "'unknown' is shown as its own subset.",
]


def signal_rule_text(run: dict) -> str:
    """The run's signal rule (run.json 'signal_rule'; runs before the setting flagged on any threshold)."""
    from pv.signals.thresholds import signal_rule_meaning, signal_rule_name

    rule = signal_rule_name(run.get("signal_rule", {}).get("rule"))
    return f"{rule}: a row is flagged when {signal_rule_meaning(rule)}"


def thresholds_text(run: dict) -> list[str]:
    """The threshold rules as the run applied them (run.json 'thresholds'), with the run's ROR minimum a."""
    rules = dict(run.get("thresholds") or {})
    out = []
    for name, rule in rules.items():
        if name == "ror025":
            rule = f"{rule} [this run: a >= {run.get('options', {}).get('ror_min_a', 3)}]"
        out.append(f"{name}: {rule}")
    return out
