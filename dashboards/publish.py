"""``pvmon publish``: write the dashboards to ``<home>/site/`` in one atomic folder swap.

The whole site is built in a temporary folder beside ``site/`` and swapped in at the end
(pv.atomic.atomic_dir): a publish that dies leaves the previous site whole, and a reader
never sees half a site. Nothing time-dependent is written (the dates shown are the run's),
so publishing the same store twice writes byte-identical files.

Layout: ``index.html`` (overview), ``drug-<name>.html`` per watched drug, ``mechanism.html``,
``quality.html``, ``plotly.min.js`` (once, referenced by every page: no CDN, no network),
``listing.html`` + ``listing.js`` + ``cases/<hash>.js`` (the case line listing behind each
flagged ``a`` and its subsets, dashboards.case_lists), ``tables/<page>-<table>.js`` (the rows of a
long table beyond its first ones, dashboards.render rule ``page-weight``), ``reports/`` (this run's exported
reports, when ``pvmon report`` ran before the publish),
``quarantine.csv`` (every quarantined line) and ``site.json`` (what was published from what).
"""

from __future__ import annotations

import json
from pathlib import Path

from plotly.offline import get_plotlyjs

from markupsafe import Markup

from dashboards import case_lists, drug, mechanism, overview, quality
from dashboards.case_lists import LISTING_JS, LISTING_PAGE, write_case_lists
from dashboards.inputs import Inputs, load
from dashboards.render import PLOTLY_JS, TEMPLATES, Html, Page, environment, render
from pv import __version__
from pv.atomic import atomic_dir
from pv.lake.lock import holds_store_lock
from pv.config import Home
from pv.inert import write_csv
from pv.reports.source import with_row_origin


def pages(inputs: Inputs, case_lists: dict, reports: dict) -> list:
    return [overview.page(inputs, case_lists),
            *(drug.page(inputs, d, case_lists, reports.get(d, [])) for d in inputs.drugs),
            mechanism.page(inputs),
            quality.page(inputs)]


def listing_page(inputs: Inputs) -> Page:
    """The one case-listing viewer (dashboards.case_lists): its rows come from cases/<hash>.js."""
    out = Page(LISTING_PAGE.removesuffix(".html"), "Case line listing", "", "The cases behind one count a of a "
               "signal: one row per case, with outcomes, onset, dose, indication, co-suspect drugs and every PT.",
               scripts=[])
    out.blocks.append(Html("Cases", Markup('<div id="listing">Loading the case listing&hellip;</div>'
                                           f'<script src="{LISTING_JS}"></script>'), inputs.cite("cases"), id="cases"))
    return out


def copy_reports(inputs: Inputs, out: Path) -> dict[str, list[tuple[str, str]]]:
    """Copy this run's exported report of each drug (``pvmon report``) into ``reports/`` of the site;
    return per drug the (label, href) links its page shows. None written yet: no links."""
    import shutil

    from pv.reports.build import file_stem  # the report's own (safe, bounded) file names

    folder = inputs.home.reports / inputs.run_id
    links: dict[str, list[tuple[str, str]]] = {}
    for d in inputs.drugs:
        stem = file_stem(d)
        found = [(label, folder / name) for label, name in (("report (PDF)", f"{stem}.pdf"), ("report (XLSX)", f"{stem}.xlsx"),
                                                            ("report tables (CSV)", f"{stem}_csv"))
                 if (folder / name).exists()]
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


def build(inputs: Inputs, out: Path) -> dict:
    """Write every file of the site into ``out`` (an empty folder); return the site record."""
    (out / PLOTLY_JS).write_text(get_plotlyjs(), encoding="utf-8")
    (out / LISTING_JS).write_text((TEMPLATES / LISTING_JS).read_text(encoding="utf-8"), encoding="utf-8")
    lists = write_case_lists(inputs, out)
    write_csv(with_row_origin(inputs.quarantine, inputs.origin), out / quality.QUARANTINE_CSV)
    built = pages(inputs, lists, copy_reports(inputs, out))
    env = environment()
    context = {
        "nav": [(p.slug, p.nav) for p in built],  # the listing viewer, added below, is reached from the tables
        "run_id": inputs.run_id,
        "run_created": inputs.run.get("created", "?"),
        "origin": inputs.origin,
        "sources": [inputs.sources[k] for k in sorted(inputs.sources)],
        "pvmon_version": __version__,
        "rule": inputs.rule,
        "rule_meaning": inputs.rule_meaning,
        "code_commit": (inputs.run.get("code", {}).get("git_commit") or "unknown")[:12],
    }
    built.append(listing_page(inputs))
    for p in built:
        for name, text in render(env, p, context).items():
            (out / name).parent.mkdir(exist_ok=True)
            (out / name).write_text(text, encoding="utf-8")
    record = {
        "run_id": inputs.run_id,
        "pages": [f"{p.slug}.html" for p in built],
        "case_lists": sum(1 for c in lists.values() if c.href),
        "case_lists_not_matching_a": sorted("|".join(k) for k, c in lists.items() if not c.href),
        "signal_rule": {"rule": inputs.rule, "means": inputs.rule_meaning},
        "data": inputs.origin.label,
        "simulated_quarters": inputs.origin.simulated,
        "inputs": {k: vars(s) for k, s in sorted(inputs.sources.items())},
    }
    (out / "site.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
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
    with atomic_dir(home.site) as tmp:
        build(inputs, tmp)
    return home.site
