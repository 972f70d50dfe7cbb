"""Simulated FAERS quarterly extracts that a reader cannot tell from FDA's, with ground truth.

``simulate(out, quarters, reports_per_quarter, seed)`` writes one FDA-named zip per quarter
(``aers_ascii_2005q1.zip`` legacy, ``faers_ascii_2013q2.zip``, ``faers_ascii_2023Q4.zip``) and
``ground_truth.csv`` beside them. Same arguments -> byte-identical files. Quarters are
generated independently (numpy Generator seeded from (seed, year, quarter)), in parallel.

Modules: ``world`` (vocabularies, focal drugs, planted profiles), ``schedule`` (case
identities and fates across quarters), ``quarter`` (one quarter's reports), ``layout`` (FDA's
names, headers, line endings per era), ``writer`` (zip bytes), ``truth`` (ground truth).

What the zips contain (faers-format.md): all three eras with their exact headers (legacy
upper case with ISR/CASE and a trailing ``$`` on data rows, no REPORTER_COUNTRY before
2005Q3; FAERS 2012Q4-2014Q2 with gndr_cod, no prod_ai, the 2012Q4/2013Q1 header typos and
the 2012Q4 DRUG BOM; current from 2014Q3); folder/file-name case variants and 2018Q1
``_new`` names; CRLF and LF; Latin-1 bytes (``BACLOF\\xc8NE``), backspaces in legacy DRUG,
TABs from 2025Q3; deleted-case lists from 2019Q1 (some starting with a lone space line,
plus ``AllDeletedCases.txt`` in 2019Q1); from 2024Q4 one drug over several DRUG rows.
FAERS headers and rows end without ``$`` (as FDA's genuine rows).

ground_truth.csv
================
Columns ``kind,quarter,table,file,line,caseid,primaryid,drug,event,subset,value,detail``;
a blank cell means "not applicable". One row per fact:

``broken_line``
    quarter, table (DEMO/DRUG), file = member path inside that quarter's zip, line = 1-based
    physical line where the broken record starts (the header is line 1; a split record makes
    the following lines shift by one), caseid/primaryid of the (first) record; detail:

    - ``two_records`` (legacy DRUG, as the real DRUG11Q2-Q4 lines): two records on one
      line, the second starting right after the first one's trailing ``$``; the line splits
      into 2n-1 pieces for n pieces of a sound line (counting the empty piece after the
      trailing ``$``); value ``repaired`` (split after the (n-1)-th piece; both records are
      kept, both with this source line);
    - ``dollar_in_value`` (DEMO): mfr_num holds a ``$`` (``JP-CUBIST-$E2B...``), so the line
      has one piece too many and which one is ambiguous; value ``quarantined``: the report
      is lost (its child rows have no DEMO row and drop at dedup rule 3);
    - ``split_record`` (legacy DEMO): mfr_sndr holds a line break, so the record spans this
      line and the next; both are short and their pieces add up (n1 + n2 - 1 = n); value
      ``repaired`` (joined; the report is kept).
    The rate is ``broken_rate`` of lines (default 1e-4), at least one DEMO ``$`` per quarter,
    two split records and two DRUG two-records per legacy quarter.
``funnel``
    quarter (``2023Q1`` or ``total``), detail = stage, value = exact count. Stages (rules in
    ``truth.funnel``): ``reports_read`` (DEMO records staged: data records minus quarantined
    lines), ``latest_version`` (one per caseid: highest caseversion, legacy blank = 0, then
    latest fda_dt, latest quarter, highest primaryid; a FAERS version beats a legacy one),
    ``after_deleted`` (minus caseids on any deleted list, in any quarter), ``after_dup_flag``
    (minus reports flagged as duplicates: equal event_dt, age (value and unit), sex,
    reporter_country, set of upper-cased trimmed drugnames and set of lower-cased PTs; never
    matching on an empty field: event_dt blank, age not a positive number, sex not M/F,
    country blank or COUNTRY NOT SPECIFIED; the smallest caseid of a group stays). Cases are counted in the
    quarter of their surviving version; per-quarter rows sum to the total row.
``deleted_case``
    caseid on a deleted list; quarter and file of the (first) list naming it.
``true_duplicate``
    caseid = the copy, detail = caseid of the original (same quarter, same event_dt, age,
    sex, country, drugs and reactions; sent as a direct report). In 2004Q1-2005Q2 DEMO has
    no country, so the duplicate flag cannot find these pairs there (funnel accounts for it).
``received_later``
    a follow-up version received quarters after the case's first (1-4 quarters, a second one up
    to 8; sometimes two versions in one quarter): caseid, primaryid and value = version of the
    highest version received that quarter, detail ``first_quarter=``. It must count from its
    quarter on, the earlier version until then (rule time-as-received, pv.cases.history).
``planted_signal``
    drug = ingredient (lower case); event = PT (current MedDRA wording; older quarters carry
    the old wording, e.g. Convulsion, and legacy is upper case), ``group:<name>`` (overdose_
    narrow/broad, withdrawal_narrow/broad of domain.md) or ``domain:<name>`` (receptor-density
    domains of domain.md; detail carries ``density_score=`` 1-9, higher = denser GABA-B);
    subset blank = all reports with the drug as suspect (PS or SS), or ``route=oral|
    intrathecal``, ``dose_band=<band>`` (the drug's bands in seeds/dose_bands.csv for the
    true route class and true daily mg, e.g. baclofen <=30|30-80|80-150|>150 oral and
    IT<=1000ug|IT>1000ug intrathecal; bands are (lo, hi]),
    ``indication=aud|spasticity``, ``pump_problem=true|false`` (intrathecal baclofen);
    value = planted reporting-rate ratio: P(report lists the event | drug suspect, subset) /
    P(report lists it | background). For PTs the mean planted RR of those reports; for
    groups and domains the expected ratio of "any PT of the set" assuming PTs are listed
    independently. detail also gives ``reports=`` (suspect reports generated, all versions).
    Only reports with the drug as suspect carry the effect; ~5% of focal reports list the
    drug as concomitant (C) with no effect.
``negative_control``
    drug, event with nothing planted (value 1).
``drug_string`` (``names.py``)
    one row per written DRUG row carrying a planted drug string, per ingredient it must count
    for: quarter, table DRUG, caseid, primaryid, detail = drugname as written (``|prod_ai``
    appended when the row has one), drug = ingredient and value ``mapped``, or drug blank and
    value ``unmapped`` (must not be mapped to any ingredient). Legacy eras (no prod_ai): 35%
    of each focal drug's rows are written as brands, misspellings, foreign INNs, with
    strength / form / route / release / salt / manufacturer words, accents and brackets;
    0.2% of background rows as unmappable strings. From 2014Q4: 30% of naltrexone rows are
    CONTRAVE with prod_ai ``BUPROPION HYDROCHLORIDE\\NALTREXONE HYDROCHLORIDE`` (one row per
    ingredient here), and 0.2% of background rows NORCO (hydrocodone + acetaminophen).
``pt_spelling`` (``names.py``)
    one row per written REAC (or INDI) row whose PT has a MedDRA spelling that upper case
    hides ("Electrocardiogram QT prolonged", "HIV infection"): quarter, table, caseid,
    primaryid, event = the one MedDRA spelling every era must end up with, detail = the text
    written (upper case in legacy quarters).
``hostile_name`` (only with ``hostile=True``, see ``hostile.py``)
    quarter, table (REAC/DRUG), caseid, primaryid of a report given a hostile free-text name;
    value = the name (written inert, as every cell of this file: pv/inert.py).
``dose``
    one per focal-drug DRUG row (simulate/dosing.py): quarter, caseid, primaryid, drug =
    ingredient; value = the mg/day a correct reader derives (blank: none, e.g. "UNK", or a
    ``1X`` single dose); subset = ``dose_band=<band>`` of seeds/dose_bands.csv for the
    expected route class and mg/day (``unknown`` when none); detail = ``drug_seq=<DRUG
    drug_seq>; route_class=<oral|intrathecal|other|unknown>; single_dose_mg=<amount or
    blank>``. The rows carry 1X overdose amounts, tablet counts times a strength in the name
    or the text, microgram spellings (MCG, UG, µg from 2012Q4, Greek μg and "ΜG" in the UTF-8
    DRUG files of 2020 on) and intrathecal products with a blank route. From 2024Q4 the extra
    DRUG row of a drug's second regimen has no ``dose`` row.

Planted world (``world.py``): a Zipf background of ~3000 drugs and ~1500 PTs. Baclofen
(1.5% of reports): intrathecal 55% / oral 40%; spasticity vs AUD indications (oral AUD doses
log-normal around 90 mg/day up to 400, spasticity ~30 mg/day, intrathecal ~300 ug/day);
overdose/withdrawal PT RRs rise with the dose band and are multiplied for pump problems
(20% of intrathecal reports carry Underdose / Device malfunction ... PTs); domain strengths
rise with receptor density (sensory 6 ... autonomic 1.5); comparators (naltrexone,
acamprosate, disulfiram, nalmefene, topiramate, gabapentin, pregabalin, sodium oxybate,
clonazepam, tizanidine, dantrolene) carry their own profiles: GABAergic ones a partly
density-like pattern, AUD comparators none.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl

from pv.atomic import ensure_folder, write_bytes_atomic
from pv.errors import PvError
from pv.faers.layouts import quarter_range
from pv.inert import write_csv
from pv.faers.simulate import hostile as hostile_names
from pv.faers.simulate import layout, names, truth
from pv.faers.simulate.quarter import generate
from pv.faers.simulate.schedule import Bases, deletions_into, qindex, target_size

DEFAULT_QUARTERS = "2023Q1..2024Q4"
DEFAULT_REPORTS = 4000
DEFAULT_BROKEN_RATE = 1e-4
ZIP_RE = re.compile(r"^f?aers_ascii_\d{4}[qQ][1-4]\.zip$")


def _deleted_lists(y: int, q: int, bases: Bases, seed: int) -> dict[str, np.ndarray]:
    k = qindex(y, q)
    out = {}
    for member in layout.deleted_members(y, q):
        if "AllDeleted" in member:
            ids = deletions_into(k - 1, bases, seed, from_k=0)
        else:
            ids = deletions_into(k, bases, seed)
        out[member] = np.sort(ids)
    return out


def run_quarter(y: int, q: int, out: str, per: int | None, seed: int, broken_rate: float, last_k: int,
                hostile: bool = False) -> dict:
    """Generate and write one quarter; return what the ground truth needs from it."""
    bases = Bases(last_k, per)
    qd = generate(y, q, bases=bases, seed=seed, broken_rate=broken_rate)
    planted_text = hostile_names.plant(qd) if hostile else None
    deleted = _deleted_lists(y, q, bases, seed)
    path, broken = write_zip(qd, Path(out), deleted)
    rows = sum(t.height for t in qd.tables.values())
    return dict(quarter=f"{y}Q{q}", zip=path.name, broken=broken, keys=qd.demo_keys, planted=qd.planted,
                dups=qd.dups, deleted=deleted, rows=rows, names=names.truth(qd.tables, y, q), doses=qd.doses,
                hostile=planted_text)


def simulate(out: str | os.PathLike, quarters: str = DEFAULT_QUARTERS, reports_per_quarter: int | None = DEFAULT_REPORTS,
             seed: int = 1, broken_rate: float = DEFAULT_BROKEN_RATE, jobs: int | None = None,
             progress: Callable[[str], None] | None = None, hostile: bool = False) -> dict:
    """Write the zips and ground_truth.csv into ``out``; return a small summary.

    ``reports_per_quarter=None`` uses FAERS's real per-quarter sizes (``schedule.REAL_SIZES``).
    ``hostile=True`` plants hostile free-text names (``hostile.py``; ground truth ``hostile_name``).
    Old simulator zips in ``out`` (FDA-named) are removed so the folder matches the truth.
    """
    try:
        qs = quarter_range(quarters)
    except ValueError as err:
        raise PvError(f"--quarters: {err}") from None
    if qs[0] < (2004, 1):
        raise PvError(f"--quarters: FAERS extracts start in 2004Q1, got {quarters}")
    if reports_per_quarter is not None and not 10 <= reports_per_quarter <= 2_000_000:
        raise PvError(f"--reports-per-quarter: {reports_per_quarter} outside 10..2000000")
    out = ensure_folder(out)
    for old in out.iterdir():
        if ZIP_RE.match(old.name):
            old.unlink()
    last_k = qindex(*qs[-1])
    jobs = jobs or min(2, os.cpu_count() or 1)
    args = [(y, q, str(out), reports_per_quarter, seed, broken_rate, last_k, hostile) for y, q in qs]
    results = []
    if jobs <= 1 or len(qs) == 1:
        for a in args:
            results.append(run_quarter(*a))
            if progress:
                progress(results[-1]["quarter"])
    else:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for r in pool.map(run_quarter, *zip(*args)):
                results.append(r)
                if progress:
                    progress(r["quarter"])
    gt = ground_truth(results)
    buffer = io.BytesIO()
    write_csv(gt, buffer)
    write_bytes_atomic(out / "ground_truth.csv", buffer.getvalue())
    tot = gt.filter((pl.col("kind") == "funnel") & (pl.col("quarter") == "total"))
    return dict(zips=[r["zip"] for r in results], rows=sum(r["rows"] for r in results),
                funnel=dict(zip(tot["detail"], tot["value"].cast(pl.Int64))), truth_rows=gt.height,
                target_reports=sum(target_size(qindex(y, q), reports_per_quarter) for y, q in qs))


def simulate_cli(out, quarters: str, reports: str, seed: int, broken_rate: float, jobs: int) -> None:
    """The ``pvmon simulate`` command: a progress bar over quarters, then a summary line."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pv.inert import progress_console

    if reports.strip().lower() == "real":
        per = None
    else:
        try:
            per = int(reports)
        except ValueError:
            raise PvError(f"--reports-per-quarter: expected a number or 'real', got {reports!r}") from None
    try:
        n = len(quarter_range(quarters))
    except ValueError as err:
        raise PvError(f"--quarters: {err}") from None
    with Progress(TextColumn("simulate"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), transient=True, console=progress_console()) as bar:
        task = bar.add_task("", total=n)
        summary = simulate(out, quarters, per, seed, broken_rate, jobs or None,
                           progress=lambda qn: bar.update(task, advance=1, description=qn))
    f = summary["funnel"]
    print(f"wrote {len(summary['zips'])} zips ({summary['rows']:,} table rows) and ground_truth.csv to {out}; "
          f"reports {f['reports_read']:,} -> latest {f['latest_version']:,} -> not deleted {f['after_deleted']:,} "
          f"-> not duplicate {f['after_dup_flag']:,}")


def ground_truth(results: list[dict]) -> pl.DataFrame:
    keys = pl.concat([r["keys"] for r in results])
    deleted_rows = []
    for r in results:
        for member, ids in r["deleted"].items():
            deleted_rows.append(pl.DataFrame({"caseid": ids, "quarter": r["quarter"], "file": member}))
    deleted = (pl.concat(deleted_rows).unique("caseid", keep="first", maintain_order=True)
               if deleted_rows else pl.DataFrame(schema={"caseid": pl.Int64, "quarter": pl.Utf8, "file": pl.Utf8}))
    parts = [truth.funnel(keys, set(deleted["caseid"].to_list()))]
    broken = [b for r in results for b in r["broken"]]
    if broken:
        parts.append(pl.DataFrame(broken).with_columns(kind=pl.lit("broken_line")))
    parts.append(deleted.with_columns(kind=pl.lit("deleted_case")))
    dups = pl.concat([r["dups"].with_columns(quarter=pl.lit(r["quarter"])) for r in results])
    parts.append(dups.rename({"original": "detail"}).with_columns(kind=pl.lit("true_duplicate")))
    parts.append(truth.planted(pl.concat([r["planted"] for r in results])))
    parts.append(truth.received_later(keys))
    parts.append(truth.negatives())
    parts.append(pl.concat([r["names"] for r in results], how="diagonal"))
    parts += [r["doses"] for r in results if r.get("doses") is not None and r["doses"].height]
    parts += [r["hostile"] for r in results if r.get("hostile") is not None and r["hostile"].height]
    return truth.assemble(parts)


from pv.faers.simulate.writer import write_zip  # noqa: E402  (writer imports quarter)
