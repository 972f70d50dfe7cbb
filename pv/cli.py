"""The ``pvmon`` command line (design.md, "Command line").

Every command is a thin wrapper over one plain stage function in ``pv`` (the same
functions the Airflow DAGs call). Expected failures are ``PvError``: printed as one line
on stderr with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from pv.config import Home
from pv.errors import PvError
from pv.inert import inert_terminal

cli = typer.Typer(
    name="pvmon",
    help="pvmon: FAERS adverse-event pharmacovigilance monitor.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

HomeOpt = Annotated[
    Optional[Path],
    typer.Option("--home", help="Store folder (default: $PV_HOME, else ./pvdata).", show_default=False),
]


@cli.callback()
def _root() -> None:
    """pvmon: FAERS adverse-event pharmacovigilance monitor."""
    inert_terminal()  # nothing printed from data can drive the terminal (pv/inert.py)


_current_home: list[Path] = []  # the store the command works on: names the manifest in error lines


def home_of(home: Optional[Path]) -> Home:
    found = Home.at(home)
    _current_home[:] = [found.root]
    return found


# --- commands -----------------------------------------------------------------------
# Each stage registers its command below; keep every body a single call into pv.


@cli.command()
def version() -> None:
    """Print the pvmon version."""
    from pv import __version__

    typer.echo(__version__)


@cli.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="FDA zips, folders of zips, or extracted folders.")],
    home: HomeOpt = None,
    max_member_bytes: Annotated[int, typer.Option(min=1, help="Largest unpacked size of one member (default 8 GiB).")] = 8 << 30,
    max_ratio: Annotated[float, typer.Option(min=1, help="Largest compression ratio of a member (zip bombs).")] = 100.0,
    allow_shrink: Annotated[bool, typer.Option(help="Accept an extract that removes most of its quarter's reports.")] = False,
) -> None:
    """Stage FAERS extracts (any era) into the store: incremental and idempotent."""
    from pv.faers.extract import Limits
    from pv.lake.ingest import ingest_paths

    report = ingest_paths(home_of(home), paths, Limits(max_member_bytes, max_ratio), allow_shrink)
    _print_outcome({"staged": report.staged, "unchanged": report.unchanged}, report.errors)


@cli.command()
def fetch(
    quarters: Annotated[str, typer.Option("--quarters", help="Quarters to download, e.g. 2004Q1..2025Q3.")],
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="Where the zips are (default: FDA).")] = None,
    home: HomeOpt = None,
) -> None:
    """Download FDA's quarterly ASCII zips into raw/ (resumable, skips what is there)."""
    from pv.faers.fetch import FDA_BASE_URL, fetch as fetch_zips

    report = fetch_zips(home_of(home), quarters, base_url or FDA_BASE_URL)
    _print_outcome({"fetched": report.fetched, "present": report.skipped}, report.errors)


def _print_outcome(done: dict[str, list[str]], errors: list[PvError]) -> None:
    """One line per item done; one error line per failed item, then exit 1 if any failed."""
    for verb, items in done.items():
        for item in items:
            typer.echo(f"{verb:<9} {item}")
    for err in errors:
        print(f"pvmon: error: {err}", file=sys.stderr)
    if errors:
        raise typer.Exit(1)


@cli.command()
def status(
    home: HomeOpt = None,
    verify: Annotated[bool, typer.Option("--verify", help="Also check every staged file's sha256.")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Every quarter: sources, line accounting, funnel.")] = False,
) -> None:
    """Say what the store holds: quarters, sources, line accounting; check staged files.
    Piped or redirected, the tables are plain tab-separated lines."""
    from pv.lake.integrity import sections as integrity_sections
    from pv.lake.status import collect, print_sections

    h = home_of(home)
    checked, report = integrity_sections(h, verify)
    print_sections(collect(h, all_) + checked)
    if report.damage:
        raise PvError(report.first_line())


@cli.command()
def mechanism(
    home: HomeOpt = None,
    drug: Annotated[Optional[list[str]], typer.Option("--drug", help="Drug to test (repeatable; default: the watchlist drugs with PT rows).")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the power bootstrap and the dose trends' Monte-Carlo draws.")] = 20261129,
) -> None:
    """Test whether domain signal strength rises with GABA-B receptor density (hypothesis-generating)."""
    from pv.mechanism.stage import run_mechanism

    out = run_mechanism(home_of(home), drug, seed=seed)
    typer.echo((out / "statement.md").read_text(encoding="utf-8"))
    typer.echo(f"written: {out}")


@cli.command()
def cases(
    home: HomeOpt = None,
    drop_duplicates: Annotated[
        bool, typer.Option("--drop-duplicates", help="Remove rule-flagged duplicate cases (default: flag only).")
    ] = False,
    full: Annotated[bool, typer.Option("--full", help="Rebuild from every quarter even when the last build "
                                                      "could be updated with the quarters added since.")] = False,
) -> None:
    """Build the deduplicated case tables (cases/): the last build updated with the quarters added
    since (pv.cases.increment) when it can, else from every staged quarter."""
    from pv.cases.build import build_cases
    from pv.cases.summary import funnel_lines

    h = home_of(home)
    build_cases(h, drop_duplicates=drop_duplicates, full=full, say=typer.echo)
    typer.echo("\n".join(funnel_lines(h)))


vocab_cli = typer.Typer(help="Vocabularies: drug dictionary, event groups, PT renames.", no_args_is_help=True)
cli.add_typer(vocab_cli, name="vocab")


@vocab_cli.command("unmapped")
def vocab_unmapped(
    home: HomeOpt = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many names to list.")] = 50,
) -> None:
    """The unmapped share of drug rows per era, then the most frequent names the dictionary does not map."""
    from pv.cases.summary import unmapped_names, unmapped_share

    for r in unmapped_share(home_of(home)).iter_rows(named=True):
        typer.echo(f"{r['era']:<12} {r['first']}..{r['last']}: {r['unmapped']:,} of {r['rows']:,} drug rows unmapped "
                   f"({100 * r['unmapped_share']:.1f}%)")
    table = unmapped_names(home_of(home), top)
    typer.echo(f"{'rows':>8}  {'cases':>8}  name (example verbatim)")
    for r in table.iter_rows(named=True):
        typer.echo(f"{r['rows']:>8}  {r['cases']:>8}  {r['ingredient']} ({r['example']})")


@cli.command()
def explain(
    case: Annotated[int, typer.Option("--case", min=1, help="FAERS caseid of a surviving case.")],
    home: HomeOpt = None,
) -> None:
    """Print a case's drugs and reactions, each reaction with its receptor-density explanation."""
    from pv.mechanism.explain import explain_case, render

    typer.echo(render(explain_case(home_of(home), case)))

def _prior_settings(fit: str, n_star: int, prior: Optional[str], accept_bound: bool):
    from pv.signals.gps import Prior
    from pv.signals.prior import PriorSettings

    return PriorSettings(fit=fit, n_star=n_star, prior=Prior.from_sequence(prior.split(",")) if prior else None,
                         accept_bound=accept_bound)


def _check_prior(text: Optional[str]) -> Optional[str]:
    """--prior: five finite numbers alpha1,beta1,alpha2,beta2 > 0 and 0 < p < 1."""
    import math

    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not five comma-separated numbers (alpha1,beta1,alpha2,beta2,p)")
    if len(values) != 5 or not all(math.isfinite(v) for v in values):
        raise typer.BadParameter(f"{text!r}: need five finite numbers (alpha1,beta1,alpha2,beta2,p)")
    if min(values[:4]) <= 0 or not 0 < values[4] < 1:
        raise typer.BadParameter(f"{text!r}: need alpha, beta > 0 and 0 < p < 1")
    return text


def _choice(*allowed: str):
    def check(value: str) -> str:
        if value not in allowed:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}")
        return value
    return check


FitOpt = Annotated[str, typer.Option("--fit", callback=_choice("all-cells", "truncated"),
                                     help="Cells the GPS prior is fitted on: all-cells | truncated.")]
NStarOpt = Annotated[int, typer.Option("--n-star", min=1, help="N* for --fit truncated (cells with a >= N*).")]
PriorOpt = Annotated[Optional[str], typer.Option("--prior", callback=_check_prior,
                                                 help="Fixed prior alpha1,beta1,alpha2,beta2,p (no fit).")]
BoundOpt = Annotated[bool, typer.Option("--accept-bound", help="Publish EBGM even if the fit ends on a bound.")]
RorAOpt = Annotated[int, typer.Option("--ror-min-a", min=1, help="Minimum a for the ROR025 flag (3; 5 for some products).")]


@cli.command()
def stats(
    input: Annotated[Path, typer.Argument(help="CSV or Parquet: one row per report x drug x event (or counts).")],
    drug: Annotated[str, typer.Option("--drug", help="Drug column.")],
    event: Annotated[str, typer.Option("--event", help="Event column.")],
    id: Annotated[Optional[str], typer.Option("--id", help="Report id column (report-based counts).")] = None,
    count: Annotated[Optional[str], typer.Option("--count", help="Count column (drug x event count table).")] = None,
    strata: Annotated[Optional[str], typer.Option("--strata", help="Comma-separated strata columns.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output .csv or .parquet (default: CSV on stdout).")] = None,
    fit: FitOpt = "all-cells",
    n_star: NStarOpt = 1,
    prior: PriorOpt = None,
    accept_bound: BoundOpt = False,
    ror_min_a: RorAOpt = 3,
) -> None:
    """Signal statistics (PRR, ROR, IC, EBGM) on any long table of reports."""
    from pv.signals.stats import run_stats

    record = run_stats(input, id_col=id, drug_col=drug, event_col=event, count_col=count,
                       strata=(strata or "").split(","), out=out,
                       settings=_prior_settings(fit, n_star, prior, accept_bound), ror_min_a=ror_min_a)
    fit_report = record["gps_fit"]
    typer.echo(f"stats: {record['counts']['cells']} cells; GPS prior: {fit_report['message']}"
               + ("" if record["ebgm_published"] else " -> EBGM not published"), err=True)


@cli.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder for the zips and ground_truth.csv.")] = Path("faers-sim"),
    quarters: Annotated[str, typer.Option("--quarters", help="Quarter range, e.g. 2011Q4..2014Q4.")] = "2023Q1..2024Q4",
    reports_per_quarter: Annotated[
        str, typer.Option("--reports-per-quarter", help="DEMO reports per quarter, or 'real' for FAERS's sizes.")
    ] = "4000",
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed (same seed, same bytes).")] = 1,
    broken_rate: Annotated[float, typer.Option("--broken-rate", min=0.0, max=1.0, help="Share of lines planted broken.")] = 1e-4,
    jobs: Annotated[int, typer.Option("--jobs", min=0, help="Quarters generated in parallel (default: up to 2).")] = 0,
) -> None:
    """Write simulated FAERS quarterly zips (every era, FDA's quirks) with planted signals."""
    from pv.faers.simulate import simulate_cli

    simulate_cli(out, quarters, reports_per_quarter, seed, broken_rate, jobs)


@cli.command()
def signals(
    home: HomeOpt = None,
    drug: Annotated[Optional[list[str]], typer.Option("--drug", help="Drug to report (repeatable; default: the watchlist).")] = None,
    roles: Annotated[str, typer.Option("--roles", callback=_choice("ps", "ps+ss", "any"),
                                       help="Suspect roles: ps | ps+ss | any.")] = "ps+ss",
    no_dedup: Annotated[bool, typer.Option("--no-dedup", help="Keep cases flagged as duplicates.")] = False,
    strata: Annotated[str, typer.Option("--strata", help="Strata of the expected counts ('' = off).")] = "sex,age_band,report_year",
    subsets: Annotated[str, typer.Option("--subsets", help="Subsets ('' = none).")] = "route,indication,dose_band,sex,age_band",
    no_trend: Annotated[bool, typer.Option("--no-trend", help="Skip the quarterly trend.")] = False,
    fit: FitOpt = "all-cells",
    n_star: NStarOpt = 1,
    prior: PriorOpt = None,
    accept_bound: BoundOpt = False,
    ror_min_a: RorAOpt = 3,
    subset_min: Annotated[int, typer.Option("--subset-min-reports", min=0, help="Drug reports a subset row needs to be flagged (10).")] = 10,
    signal_rule: Annotated[str, typer.Option("--signal-rule", help="What 'flagged' means: 'any' (default) or "
                                             "thresholds joined by and/or, e.g. 'ror025 and ic025'.")] = "any",
) -> None:
    """Compute the signal table (PT, event groups, receptor domains) for the watchlist."""
    from pv.signals.run import SignalOptions, run_signals

    split = lambda text: tuple(x.strip() for x in text.split(",") if x.strip())  # noqa: E731
    out = run_signals(home_of(home), SignalOptions(
        drugs=drug or None, roles=roles, dedup=not no_dedup, strata=split(strata), subsets=split(subsets),
        trend=not no_trend, prior=_prior_settings(fit, n_star, prior, accept_bound), ror_min_a=ror_min_a,
        subset_min_reports=subset_min, signal_rule=signal_rule))
    run = __import__("json").loads((out / "run.json").read_text())
    if run.get("empty"):
        typer.echo(f"signals: {run['empty']}")
    else:
        typer.echo(f"signals: {run['rows']['signals']} rows, trend {run['rows']['trend']} rows; GPS prior: "
                   f"{run['gps_fit']['message']}" + ("" if run["ebgm_published"] else " -> EBGM not published"))
    typer.echo(f"written: {out}")
@cli.command()
def report(
    drug: Annotated[str, typer.Option("--drug", help="Drug (ingredient) to report on.")],
    format: Annotated[str, typer.Option("--format", help="Comma-separated: pdf,xlsx,csv.")] = "pdf,xlsx,csv",
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder (default: reports/<run_id>/ in the store).")] = None,
    run: Annotated[Optional[str], typer.Option("--run", help="Signals run id (default: the newest).")] = None,
    home: HomeOpt = None,
) -> None:
    """Export a regulator report (PDF, XLSX, CSV) for one drug, with provenance."""
    from pv.reports.build import write_report
    from pv.retention import keep_run
    from pv.signals.summary import latest_run

    store = home_of(home)
    for kind, path in write_report(store, drug, format, out, run).items():
        typer.echo(f"{kind:<5} {path}")
    run_id = run or latest_run(store).name
    keep_run(store, run_id, f"report exported for {drug.lower()}")  # rule retention: never pruned


@cli.command()
def prune(
    keep: Annotated[Optional[int], typer.Option("--keep", min=1, help="Newest runs to keep (default $PV_KEEP_RUNS or 14).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; remove nothing.")] = False,
    home: HomeOpt = None,
) -> None:
    """Remove old signal runs (with their mechanism and reports), keeping the newest N and every run
    a report was exported from."""
    from pv.retention import prune as prune_runs

    report = prune_runs(home_of(home), keep, dry_run)
    for run_id in report.removed:
        typer.echo(f"{'would remove' if dry_run else 'removed'} {run_id}")
    for run_id, why in report.kept.items():
        typer.echo(f"kept    {run_id} ({why})")


@cli.command()
def publish(home: HomeOpt = None) -> None:
    """Write the dashboards for the latest signals run to site/ (static HTML, opens from disk)."""
    from pv.pipeline import publish_stage

    typer.echo(f"written: {publish_stage(home_of(home)) / 'index.html'}")


@cli.command()
def triage(
    drug: Annotated[Optional[str], typer.Argument(help="Drug (ingredient).")] = None,
    event: Annotated[Optional[str], typer.Argument(help="PT, event group or receptor domain.")] = None,
    status: Annotated[Optional[str], typer.Option("--status", help="new | under review | validated | refuted | monitored | closed.")] = None,
    note: Annotated[Optional[str], typer.Option("--note", help="Why the status changes.")] = None,
    user: Annotated[Optional[str], typer.Option("--user", help="Who (default: the login name).")] = None,
    level: Annotated[str, typer.Option("--level", help="pt | group | domain.")] = "pt",
    list_: Annotated[bool, typer.Option("--list", help="Every signal's status now, then the full history.")] = False,
    home: HomeOpt = None,
) -> None:
    """Signal management: set a signal's review status (kept with its full history), or --list them."""
    from pv.triage import listing_lines, set_status

    if list_:
        typer.echo("\n".join(listing_lines(home_of(home))))
        return
    if drug is None or event is None or status is None or note is None:
        raise PvError("triage: give DRUG EVENT --status S --note TEXT, or --list")
    c = set_status(home_of(home), drug, event, status, note, user, level)
    measure = "no row in the newest run" if c.measure is None else f"ROR025 {c.measure:.3g} in run {c.run_id}"
    typer.echo(f"{c.drug}\t{c.event}\t{c.level}\t{c.status}\t{c.user}\t{measure}")


@cli.command()
def serve(
    home: HomeOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback; anything else behind a proxy with auth).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8050,
) -> None:
    """The interactive explorer (Dash): any drug and event, filters and backgrounds, listings, triage."""
    from pv.explore.app import serve as run_app

    run_app(home_of(home), host, port)


def _print_run(result) -> None:
    from pv.pipeline import summary_lines

    typer.echo("\n".join(summary_lines(result)))


@cli.command()
def run(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Extracts to ingest first (zips or folders).")] = None,
    drug: Annotated[Optional[list[str]], typer.Option("--drug", help="Drug to report (repeatable; default: watchlist).")] = None,
    home: HomeOpt = None,
) -> None:
    """ingest -> cases -> signals -> mechanism -> report -> publish in one go (a failed mechanism does not hold back the rest)."""
    from pv.pipeline import run as run_pipeline

    _print_run(run_pipeline(home_of(home), paths or [], drug, say=lambda m: typer.echo(m, err=True)))


@cli.command()
def demo(home: HomeOpt = None) -> None:
    """Run the whole pipeline on SIMULATED FAERS extracts (the embedded default)."""
    from pv.pipeline import demo as run_demo

    typer.echo("pvmon demo: the data below is SIMULATED (FAERS-shaped, planted signals), not FDA's.", err=True)
    _print_run(run_demo(home_of(home), say=lambda m: typer.echo(m, err=True)))


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM raise Interrupted (the CLI library would turn KeyboardInterrupt into a
    silent exit): the stage's ``finally`` blocks remove its half-written version on the way out."""
    import signal

    from pv.errors import Interrupted

    def stop(signum, _frame):
        raise Interrupted(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)


def app() -> None:
    """Console-script entry point: run the CLI; whatever goes wrong ends in one line on stderr.

    Typer runs in non-standalone mode so that a usage error (a missing option, a value of the
    wrong type or out of range) reaches us: it is printed like a PvError, not as a usage box.
    Any other exception (a full disk, a read-only store, a damaged file) is worded by
    pv.errors.one_line; PV_DEBUG=1 shows the traceback instead.
    """
    import os

    from typer._click.exceptions import NoArgsIsHelpError

    inert_terminal()
    from pv.errors import Interrupted, one_line

    _stop_on_signals()
    try:
        code = cli(standalone_mode=False)
    except NoArgsIsHelpError as err:  # bare `pvmon` or `pvmon vocab`: the help is the answer
        err.show()
        sys.exit(err.exit_code)
    except typer.TyperException as err:
        _fail(f"pvmon: error: {' '.join(err.format_message().split())}", err.exit_code)
    except PvError as err:
        _fail(f"pvmon: error: {err}", err.exit_code)
    except (Interrupted, KeyboardInterrupt) as err:
        _fail("pvmon: interrupted", getattr(err, "exit_code", 130))
    except Exception as err:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        if os.environ.get("PV_DEBUG"):
            raise
        _fail(f"pvmon: error: {one_line(err, _current_home[0] if _current_home else None)}", 1)
    if code == 130:  # a KeyboardInterrupt the CLI library caught before us
        _fail("pvmon: interrupted", 130)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(line: str, code: int) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the goodbye
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        pass
    sys.exit(code)


if __name__ == "__main__":
    app()
