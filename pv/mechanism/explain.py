"""``pvmon explain --case CASEID``: one case's drugs and reactions, each reaction explained.

Reads only the cases stage's files (cases/cases.parquet, drugs.parquet, reactions.parquet;
CONTRACTS.md "Cases"), with lazy scans filtered on the case, so it is fast at full scale.
Each reaction is annotated from seeds/receptor_map.csv (pv/mechanism/annotate.py). The
explanation is offered as applying only when a drug of the case activates GABA-B receptors
(seeds/mechanism_roles.csv, gabab_agonist); otherwise it is printed as "does not apply".
An explanation is a mechanistic hypothesis with its evidence grade, never a causality
assessment of the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pv.config import Home
from pv.errors import PvError
from pv.mechanism.annotate import annotate_reactions
from pv.vocab.receptors import load_mechanism_roles
from pv.cases import tables

CASE_COLUMNS = ("caseid", "primaryid", "caseversion", "quarter", "age_years", "sex", "country", "serious")
DRUG_COLUMNS = (
    "caseid", "drug_seq", "role_cod", "drugname", "ingredient", "route_class", "daily_dose_mg",
    "single_dose_mg", "dose_band", "indication_class",
)
GRADE_WORDS = {"D": "documented", "I": "plausible inference"}
DISCLAIMER = (
    "Explanations are mechanistic hypotheses from the receptor map (grade D = documented, "
    "I = plausible inference), not a causality assessment of this case."
)


@dataclass(frozen=True)
class CaseExplanation:
    """The case row, its drugs (with mechanism) and its annotated reactions."""

    case: dict
    drugs: pl.DataFrame
    reactions: pl.DataFrame

    @property
    def explanation_applies(self) -> bool:
        return bool(self.drugs["gabab_agonist"].fill_null(False).any())


def _scan(home: Home, name: str, caseid: int, columns: tuple[str, ...]) -> pl.DataFrame:
    path = tables.folder(home.cases, name)
    if not tables.exists(home.cases, name):
        raise PvError(f"{path}: not found (run `pvmon cases` first)")
    lazy = tables.scan(home.cases, name)
    names = lazy.collect_schema().names()
    missing = {"caseid"} - set(names)
    if missing:
        raise PvError(f"{path}: lacks column caseid")
    return lazy.filter(pl.col("caseid") == caseid).select([c for c in columns if c in names]).collect()


def explain_case(home: Home, caseid: int) -> CaseExplanation:
    """Load one surviving case and annotate its reactions."""
    cases = _scan(home, "cases", caseid, CASE_COLUMNS)
    if cases.height == 0:
        raise PvError(f"{home.cases / 'cases.parquet'}: caseid {caseid} is not a surviving case")
    drugs = _scan(home, "drugs", caseid, DRUG_COLUMNS).sort("drug_seq")
    roles = load_mechanism_roles().select(pl.col("drug").alias("ingredient"), "mechanism", "gabab_agonist")
    drugs = drugs.join(roles, on="ingredient", how="left", maintain_order="left")
    reactions = annotate_reactions(_scan(home, "reactions", caseid, ("caseid", "pt")).sort("pt"))
    return CaseExplanation(case=cases.row(0, named=True), drugs=drugs, reactions=reactions)


def _drug_line(row: dict) -> str:
    daily, single = row.get("daily_dose_mg"), row.get("single_dose_mg")
    if daily is not None:  # intrathecal doses read in ug/day, as they are prescribed
        dose = f", {daily * 1000:g} ug/day" if row.get("route_class") == "intrathecal" else f", {daily:g} mg/day"
    else:  # FDA's 1X: one single (often ingested) amount, never a daily dose
        dose = "" if single is None else f", single dose {single:g} mg (1X)"
    band = "" if row.get("dose_band") in (None, "unknown") else f" (band {row['dose_band']})"
    what = row.get("mechanism") or "mechanism not in seeds/mechanism_roles.csv"
    return (
        f"  {row.get('drug_seq')}. {row['ingredient']} [{row.get('role_cod')}] "
        f"({row.get('drugname')}; route {row.get('route_class')}{dose}{band}; "
        f"indication {row.get('indication_class')}): {what}"
    )


def _reaction_lines(row: dict, applies: bool) -> list[str]:
    if row["mechanism_status"] != "mapped":
        return [f"  - {row['pt']}: no receptor-map entry for this PT; no mechanistic explanation offered."]
    lines = [f"  - {row['pt']}:"]
    for i, domain in enumerate(row["domain"]):
        rank = row["density_rank"][i]
        density = f"GABA-B density {row['density'][i].replace('_', ' ')}" + ("" if rank is None else f" (rank {rank})")
        paradox = " [paradoxical: annotated, not a direct agonist effect]" if row["role"][i] == "paradoxical" else ""
        lines += [
            f"      {domain} domain: {row['region'][i]}, {density}{paradox}",
            f"      evidence grade: density {row['density_grade'][i]} ({GRADE_WORDS[row['density_grade'][i]]}),"
            f" link to the effect {row['link_grade'][i]} ({GRADE_WORDS[row['link_grade'][i]]})"
            + ("" if applies else "; does not apply: no GABA-B agonist in this case"),
            f"      evidence: {row['evidence'][i]}",
            f"      source: {row['source'][i]}",
        ]
    return lines


def render(expl: CaseExplanation) -> str:
    """Plain-text explanation of one case."""
    c = expl.case
    sex = c.get("sex") or "sex unknown"
    age = "age unknown" if c.get("age_years") is None else f"{c['age_years']:g} y"
    out = [
        f"Case {c['caseid']} (primaryid {c.get('primaryid')}, version {c.get('caseversion')}, quarter {c.get('quarter')};"
        f" {sex}, {age}, {c.get('country') or 'country unknown'}; serious: {c.get('serious')})",
        "Drugs:",
        *[_drug_line(r) for r in expl.drugs.iter_rows(named=True)],
        "Reactions:",
    ]
    for row in expl.reactions.iter_rows(named=True):
        out += _reaction_lines(row, expl.explanation_applies)
    if not expl.explanation_applies:
        out.append("No drug of this case activates GABA-B receptors (seeds/mechanism_roles.csv): "
                   "the receptor-density explanations are shown for reference only.")
    out.append(DISCLAIMER)
    return "\n".join(out)
