"""Signal management (pv/triage.py): statuses with full history in the manifest, carried across runs."""

from __future__ import annotations

import sqlite3

import polars as pl
import pytest
from typer.testing import CliRunner

from pv.cli import cli
from pv.config import Home
from pv.errors import PvError
from pv.signals.prior import PriorSettings
from pv.signals.run import SignalOptions, run_signals
from pv.triage import Change, append, current, history, open_triage, set_status
from tests.test_signals_run import DOMAINS, GROUPS, write_cases

OPTIONS = dict(strata=("sex", "age_band", "report_year"), prior=PriorSettings(fit="truncated"), trend=False,
               subsets=("sex",))


def run(home: Home, drugs: list[str], run_id: str) -> pl.DataFrame:
    out = run_signals(home, SignalOptions(drugs=drugs, **OPTIONS), group_table=GROUPS, domain_table=DOMAINS,
                      run_id=run_id)
    return pl.read_parquet(out / "signals.parquet")


def cell(table: pl.DataFrame, drug: str, event: str, level: str = "pt", subset: str = "all") -> dict:
    hit = table.filter(drug=drug, event=event, level=level, subset=subset)
    assert hit.height == 1
    return hit.row(0, named=True)


@pytest.fixture()
def home(tmp_path) -> Home:
    h = Home.at(tmp_path / "pvdata")
    write_cases(h)
    run(h, ["aspirin"], "run1")  # baclofen absent from the first run: all its flags are new next time
    return h


def test_refuted_signal_is_not_new_on_the_next_run(home):
    set_status(home, "Baclofen", "somnolence", "refuted", "confounded by indication", "ana")
    signals = run(home, ["baclofen", "aspirin"], "run2")
    refuted = signals.filter(drug="baclofen", event="Somnolence", level="pt")
    assert refuted.height >= 2 and refuted["flag_ror025"].any()  # still flagged ...
    assert not refuted["is_new"].any()  # ... but never reported as new, on any subset row
    other = cell(signals, "baclofen", "Overdose")  # an untriaged flag of the same run stays new
    assert other["flag_ror025"] and other["is_new"]
    assert current(home)["status"].to_list() == ["refuted"]


def test_closed_signal_that_strengthens_past_the_margin_is_reopened(home):
    now = cell(run(home, ["baclofen"], "run2"), "baclofen", "Overdose")["ror_lo"]
    con = open_triage(home)
    append(con, [Change("baclofen", "Overdose", "pt", "closed", "labelled", "ana", now / 1.6, "run0"),  # +60%
                 Change("baclofen", "Tinnitus", "pt", "closed", "labelled", "ana", None, "run0")])
    con.close()
    set_status(home, "baclofen", "Somnolence", "closed", "reviewed, nothing new", "ana")  # measure of run2
    signals = run(home, ["baclofen", "aspirin"], "run3")
    statuses = {r["event"]: r for r in current(home).iter_rows(named=True)}
    assert statuses["Overdose"]["status"] == "under review" and statuses["Overdose"]["user"] == "pvmon"
    assert "reopened by run run3: ROR025" in statuses["Overdose"]["note"]
    assert statuses["Overdose"]["measure"] == pytest.approx(now)
    assert statuses["Somnolence"]["status"] == "closed"  # same data, same measure: below the margin
    assert statuses["Tinnitus"]["status"] == "closed"  # no measure when closed: not reopened
    assert not cell(signals, "baclofen", "Somnolence")["is_new"]
    run(home, ["baclofen", "aspirin"], "run4")  # re-running reopens nothing twice
    assert history(home).filter(user="pvmon").height == 1


def test_history_keeps_every_change_and_refuses_rewrites(home):
    run(home, ["baclofen"], "run2")
    for status in ("under review", "validated", "monitored", "closed"):
        set_status(home, "baclofen", "overdose_narrow", status, f"step {status}", "ana", level="group")
    every = history(home, "baclofen")
    assert every["status"].to_list() == ["under review", "validated", "monitored", "closed"]
    assert every["event"].unique().to_list() == ["overdose_narrow"] and every["measure"].is_not_null().all()
    assert current(home)["status"].to_list() == ["closed"]
    con = sqlite3.connect(home.manifest)
    for sql in ("UPDATE triage SET status = 'new'", "DELETE FROM triage"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(sql)
    con.close()
    assert history(home).height == 4


def test_triage_command_sets_and_lists(home):
    runner = CliRunner()
    ok = runner.invoke(cli, ["triage", "baclofen", "Tinnitus", "--status", "under review", "--note",
                             "see \x1b[31mcase 12\x1b[0m", "--user", "bob", "--home", str(home.root)])
    assert ok.exit_code == 0, ok.output
    listed = runner.invoke(cli, ["triage", "--list", "--home", str(home.root)])
    assert listed.exit_code == 0
    assert "baclofen\tTinnitus\tpt\tunder review\tbob\t" in listed.output
    assert "case 12" in listed.output and "\x1b" not in listed.output
    for args, message in (
        (["baclofen", "Tinnitus", "--status", "dismissed", "--note", "x"], "unknown status 'dismissed'"),
        (["baclofen", "Tinnitus", "--status", "closed", "--note", "x", "--level", "soc"], "unknown level 'soc'"),
        (["baclofen", "Tinnitus", "--status", "closed", "--note", "  "], "--note is empty"),
        (["baclofen", "--status", "closed"], "give DRUG EVENT"),
    ):
        with pytest.raises(PvError, match=message):
            runner.invoke(cli, ["triage", *args, "--home", str(home.root)], catch_exceptions=False)
    assert history(home).height == 1
