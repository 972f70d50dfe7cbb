"""``pvmon publish``: write the dashboards to ``<home>/site/`` in one atomic folder swap.

The whole site is built in a temporary folder beside ``site/`` and swapped in at the end
(pv.atomic.atomic_dir): a publish that dies leaves the previous site whole, and a reader
never sees half a site. Nothing time-dependent is written (the dates shown are the run's),
so publishing the same store twice writes byte-identical files. A file whose name and bytes the
previous site already holds is linked from it rather than written again (dashboards.reuse, rule
``reuse-unchanged``): the nightly publish writes only what changed, and its site equals a publish
into an empty store file for file.

Layout: ``index.html`` (overview), ``drug-<name>.html`` per watched drug, ``mechanism.html``,
``quality.html``, ``plotly.min.js`` (once, referenced by every page: no CDN, no network),
``listing.html`` + ``listing.js`` + ``cases/<hash>.js`` and ``cases/<hash>-<page>.js`` (the
case line listing behind each flagged ``a`` and its subsets, in pages loaded one at a time,
dashboards.case_lists rule ``listing-pages``), ``tables/<page>-<table>[-<n>].js`` (the rows of a
long table beyond its first ones, in pieces under ~1 MB, dashboards.render rule ``page-weight``), ``reports/`` (this run's exported
reports, when ``pvmon report`` ran before the publish),
``quarantine.csv`` (every quarantined line) and ``site.json`` (what was published from what).

In pieces (the DAGs spread them over workers, as the signals): ``publish_drug(home, drug)`` writes
one drug's part (its case listings, page, tables/*.js, copied reports, and ``piece.json`` with its
case lists and what it was made from) to ``.work/site/<run_id>/<drug>/piece/`` without the store
lock; ``publish`` then copies in every piece made from exactly the inputs it reads (same run, same
files), writes the parts of the drugs with none itself, adds the overview and the other pages, and
removes the pieces. Either way the site is byte-identical (tests/test_publish_pieces.py).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from plotly.offline import get_plotlyjs

from markupsafe import Markup

from dashboards import case_lists, drug, mechanism, overview, quality, reuse
from dashboards.case_lists import LISTING_JS, LISTING_PAGE, CaseList, write_case_lists
from dashboards.inputs import Inputs, load
from dashboards.render import PLOTLY_JS, TEMPLATES, VENDORED, Html, Page, environment, render
from pv import __version__
from pv.atomic import atomic_dir, current_version
from pv.config import Home
from pv.errors import PvError
from pv.inert import safe_name, write_csv
from pv.lake.lock import holds_store_lock
from pv.reports.source import with_row_origin
from pv.signals.tasks import _identity

log = logging.getLogger(__name__)

def nav(inputs: Inputs) -> list[tuple[str, str]]:
    """(slug, label) of every page in the navigation bar, in order (the listing viewer is reached
    from the tables). Known before any page is built, so a drug's page can be written alone."""
    return [("index", "Overview"), *((drug.slug(d), d) for d in inputs.drugs), ("mechanism", "Mechanism"),
            ("quality", "Data quality")]


def context(inputs: Inputs) -> dict:
    """What every page's frame shows (navigation, run, sources, version)."""
    return {
        "nav": nav(inputs),
        "run_id": inputs.run_id,
        "run_created": inputs.run.get("created", "?"),
        "origin": inputs.origin,
        "sources": [inputs.sources[k] for k in sorted(inputs.sources)],
        "pvmon_version": __version__,
        "rule": inputs.rule,
        "rule_meaning": inputs.rule_meaning,
        "code_commit": (inputs.run.get("code", {}).get("git_commit") or "unknown")[:12],
    }


def write_pages(inputs: Inputs, built: list[Page], out: Path) -> None:
    env, frame = environment(), context(inputs)
    for p in built:
        for name, text in render(env, p, frame).items():
            (out / name).parent.mkdir(exist_ok=True)
            reuse.write_text(out / name, text)


def listing_page(inputs: Inputs) -> Page:
    """The one case-listing viewer (dashboards.case_lists): its rows come from cases/<hash>.js."""
    out = Page(LISTING_PAGE.removesuffix(".html"), "Case line listing", "", "The cases behind one count a of a "
               "signal: one row per case, with outcomes, onset, dose, indication, co-suspect drugs and every PT.",
               scripts=[])
    out.blocks.append(Html("Cases", Markup('<div id="listing">Loading the case listing&hellip;</div>'
                                           f'<script src="{LISTING_JS}"></script>'), inputs.cite("cases"), id="cases"))
    return out


def report_files(inputs: Inputs, d: str) -> list[tuple[str, Path]]:
    """(label, path) of this run's exported reports of drug ``d`` (``pvmon report``); [] when none."""
    from pv.reports.build import file_stem  # the report's own (safe, bounded) file names

    folder, stem = inputs.home.reports / inputs.run_id, file_stem(d)
    return [(label, folder / name) for label, name in (("report (PDF)", f"{stem}.pdf"), ("report (XLSX)", f"{stem}.xlsx"),
                                                       ("report tables (CSV)", f"{stem}_csv"))
            if (folder / name).exists()]


def copy_reports(inputs: Inputs, out: Path, drugs: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Copy this run's exported report of each of ``drugs`` into ``reports/`` of the site;
    return per drug the (label, href) links its page shows. None written yet: no links."""
    links: dict[str, list[tuple[str, str]]] = {}
    for d in drugs:
        found = report_files(inputs, d)
        if not found:
            continue
        (out / "reports").mkdir(exist_ok=True)
        name = case_lists.data_file(d, "report", inputs.run_id)[:8]  # safe names whatever the drug is called
        for label, path in found:
            target = out / "reports" / f"{name}{path.suffix or '_csv'}"
            if path.is_dir():
                shutil.copytree(path, target)
                href = f"reports/{target.name}/"
            else:
                shutil.copyfile(path, target)
                href = f"reports/{target.name}"
            links.setdefault(d, []).append((label, href))
    return links


def write_drugs(inputs: Inputs, drugs: list[str], out: Path) -> dict[tuple[str, str, str], CaseList]:
    """Everything of the site that belongs to ``drugs`` alone: their case listings, copied reports,
    pages (and their tables/*.js); return their case lists (the overview links them)."""
    lists = write_case_lists(inputs, out, drugs)
    links = copy_reports(inputs, out, drugs)
    write_pages(inputs, [drug.page(inputs, d, lists, links.get(d, [])) for d in drugs], out)
    return lists


# -- the per-drug pieces a scheduler spreads over workers (publish_drug), merged by publish ----------

PIECE_JSON = "piece.json"


def work_dir(home: Home, run_id: str) -> Path:
    return home.root / ".work" / "site" / run_id


def piece_dir(home: Home, run_id: str, d: str) -> Path:
    """One drug's piece: a folder output of its own (pv.atomic) in a folder of its own."""
    return work_dir(home, run_id) / safe_name(d) / "piece"


def fingerprint(inputs: Inputs, d: str) -> dict:
    """What a drug's piece was made from: the run, every file the pages cite (sha256), and the
    identity of the case files its listings read and of its reports. A piece is used only when
    the merge finds the very same."""
    files = sorted(inputs.home.cases.glob("*.parquet"))
    for _label, path in report_files(inputs, d):
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {"run_id": inputs.run_id, "pvmon": __version__, "sources": {k: vars(s) for k, s in sorted(inputs.sources.items())},
            "files": _identity([str(p) for p in files])}


def _lists_to_json(lists: dict[tuple[str, str, str], CaseList]) -> list:
    return [[*key, c.href, c.n, c.subsets] for key, c in sorted(lists.items())]


def _lists_from_json(rows: list) -> dict[tuple[str, str, str], CaseList]:
    return {(d, level, event): CaseList(href, n, subsets) for d, level, event, href, n, subsets in rows}


def publish_drug(home: Home, d: str) -> dict:
    """One drug's part of the next ``publish`` of the latest run, written to ``piece_dir`` (no store
    lock: the drugs' pieces run side by side). Refuses when the store changed while it ran."""
    from pv.signals.summary import empty_reason, latest_run

    run = latest_run(home)
    if run is None or (reason := empty_reason(run)):
        return {"drug": d, "run_id": run.name if run else None, "skipped": reason or "no signals run"}
    inputs = load(home)
    if d not in inputs.drugs:
        return {"drug": d, "run_id": inputs.run_id, "skipped": "not a watched drug with signal rows in the run"}
    made = fingerprint(inputs, d)
    with atomic_dir(piece_dir(home, inputs.run_id, d)) as tmp:
        lists = write_drugs(inputs, [d], tmp)
        now = latest_run(home)
        if now is None or now.name != inputs.run_id or fingerprint(inputs, d)["files"] != made["files"]:
            raise PvError(f"publish {inputs.run_id}: the store changed while {d}'s pages were written; publish again")
        (tmp / PIECE_JSON).write_text(json.dumps({"drug": d, "made_from": made, "case_lists": _lists_to_json(lists)},
                                                 indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return {"drug": d, "run_id": inputs.run_id, "case_lists": len(lists)}


def use_piece(inputs: Inputs, d: str, out: Path) -> dict[tuple[str, str, str], CaseList] | None:
    """Copy drug ``d``'s piece into ``out`` if one was made from exactly these inputs; return its
    case lists, or None (no piece, or one of another run or store state)."""
    folder = piece_dir(inputs.home, inputs.run_id, d)
    try:
        record = json.loads((folder / PIECE_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("drug") != d or record.get("made_from") != fingerprint(inputs, d):
        return None
    shutil.copytree(folder.resolve(), out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(PIECE_JSON))
    return _lists_from_json(record["case_lists"])


def build(inputs: Inputs, out: Path) -> dict:
    """Write every file of the site into ``out`` (an empty folder), taking each drug's part from its
    piece when one was made from these inputs (publish_drug), else writing it here; return the site record."""
    reuse.write_text(out / PLOTLY_JS, get_plotlyjs())
    for name, path in VENDORED.items():
        reuse.write_text(out / name, path.read_text(encoding="utf-8"))
    reuse.write_text(out / LISTING_JS, (TEMPLATES / LISTING_JS).read_text(encoding="utf-8"))
    lists: dict[tuple[str, str, str], CaseList] = {}
    missing = []
    for d in inputs.drugs:
        found = use_piece(inputs, d, out)
        if found is None:
            missing.append(d)
        else:
            lists |= found
    lists |= write_drugs(inputs, missing, out)
    log.info("publish %s: %d of %d drug pages from their pieces", inputs.run_id, len(inputs.drugs) - len(missing),
             len(inputs.drugs))
    write_csv(with_row_origin(inputs.quarantine, inputs.origin), out / quality.QUARANTINE_CSV)
    write_pages(inputs, [overview.page(inputs, lists), mechanism.page(inputs), quality.page(inputs),
                         listing_page(inputs)], out)
    record = {
        "run_id": inputs.run_id,
        "pages": [f"{slug}.html" for slug, _ in nav(inputs)] + [LISTING_PAGE],
        "case_lists": sum(1 for c in lists.values() if c.href),
        "case_lists_not_matching_a": sorted("|".join(k) for k, c in lists.items() if not c.href),
        "signal_rule": {"rule": inputs.rule, "means": inputs.rule_meaning},
        "data": inputs.origin.label,
        "simulated_quarters": inputs.origin.simulated,
        "inputs": {k: vars(s) for k, s in sorted(inputs.sources.items())},
    }
    reuse.write_text(out / "site.json", json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def write_notice(out: Path, run_id: str, reason: str) -> None:
    """A one-page site for a run with no signal row (index.html says why; site.json records it)."""
    from html import escape

    text = f"Signals run {run_id}: {reason}. Nothing to chart: add quarters that report a watched drug."
    (out / "index.html").write_text(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>pvmon: no signals</title></head>"
        f"<body><h1>pvmon: no signals</h1><p id=\"empty\">{escape(text)}</p></body></html>\n", encoding="utf-8")
    record = {"run_id": run_id, "pages": ["index.html"], "empty": reason}
    (out / "site.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@holds_store_lock
def publish(home: Home) -> Path:
    """Read the store's latest run and write ``site/``; return its path."""
    from pv.signals.summary import empty_reason, latest_run

    run = latest_run(home)
    if run is not None and (reason := empty_reason(run)):  # no watched drug occurs: say so
        with atomic_dir(home.site) as tmp:
            write_notice(tmp, run.name, reason)
        return home.site
    inputs = load(home)
    previous = current_version(home.site)  # its files equal to the new ones are linked (rule reuse-unchanged)
    with atomic_dir(home.site) as tmp, reuse.previous_site(tmp, previous) as done:
        build(inputs, tmp)
    log.info("publish %s: %d files written, %d unchanged ones linked from the previous site", inputs.run_id,
             done.written, done.linked)
    shutil.rmtree(home.root / ".work" / "site", ignore_errors=True)  # this run's pieces, and any older run's
    return home.site
