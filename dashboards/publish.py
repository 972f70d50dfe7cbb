"""``pvmon publish``: write the dashboards to ``<home>/site/`` in one atomic folder swap.

The whole site is built in a temporary folder beside ``site/`` and swapped in at the end
(pv.atomic.atomic_dir): a publish that dies leaves the previous site whole, and a reader
never sees half a site. Nothing time-dependent is written (the dates shown are the run's),
so publishing the same store twice writes byte-identical files.

Layout: ``index.html`` (overview), ``drug-<name>.html`` per watched drug, ``mechanism.html``,
``quality.html``, ``plotly.min.js`` (once, referenced by every page: no CDN, no network),
``cases/<drug>/<level>-<event>.csv`` (the cases behind each flagged ``a``),
``quarantine.csv`` (every quarantined line) and ``site.json`` (what was published from what).
"""

from __future__ import annotations

import json
from pathlib import Path

from plotly.offline import get_plotlyjs

from dashboards import drug, mechanism, overview, quality
from dashboards.case_lists import write_case_lists
from dashboards.inputs import Inputs, load
from dashboards.render import PLOTLY_JS, environment, render
from pv import __version__
from pv.atomic import atomic_dir
from pv.lake.lock import holds_store_lock
from pv.config import Home


def pages(inputs: Inputs, case_lists: dict) -> list:
    return [overview.page(inputs, case_lists),
            *(drug.page(inputs, d, case_lists) for d in inputs.drugs),
            mechanism.page(inputs),
            quality.page(inputs)]


def build(inputs: Inputs, out: Path) -> dict:
    """Write every file of the site into ``out`` (an empty folder); return the site record."""
    (out / PLOTLY_JS).write_text(get_plotlyjs(), encoding="utf-8")
    case_lists = write_case_lists(inputs, out)
    inputs.quarantine.write_csv(out / quality.QUARANTINE_CSV)
    built = pages(inputs, case_lists)
    env = environment()
    context = {
        "nav": [(p.slug, p.nav) for p in built],
        "run_id": inputs.run_id,
        "run_created": inputs.run.get("created", "?"),
        "origin": inputs.origin,
        "sources": [inputs.sources[k] for k in sorted(inputs.sources)],
        "pvmon_version": __version__,
        "code_commit": (inputs.run.get("code", {}).get("git_commit") or "unknown")[:12],
    }
    for p in built:
        (out / f"{p.slug}.html").write_text(render(env, p, context), encoding="utf-8")
    record = {
        "run_id": inputs.run_id,
        "pages": [f"{p.slug}.html" for p in built],
        "case_lists": sum(1 for c in case_lists.values() if c.href),
        "case_lists_not_matching_a": sorted("|".join(k) for k, c in case_lists.items() if not c.href),
        "data": inputs.origin.label,
        "simulated_quarters": inputs.origin.simulated,
        "inputs": {k: vars(s) for k, s in sorted(inputs.sources.items())},
    }
    (out / "site.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return record


@holds_store_lock
def publish(home: Home) -> Path:
    """Read the store's latest run and write ``site/``; return its path."""
    inputs = load(home)
    with atomic_dir(home.site) as tmp:
        build(inputs, tmp)
    return home.site
