"""``pvmon signals`` on a small cases/ store written to the cases contract (CONTRACTS.md).

The expected 2×2 counts are recomputed here by brute force over Python sets of report
ids, independently of the engine's polars/numpy path.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from pv.signals.run import subset_minimum
from pv.signals.trend import KEYS
import pytest
from typer.testing import CliRunner

from pv.cli import cli
from pv.config import Home
from pv.signals.prior import PriorSettings
from pv.signals.run import SignalOptions, run_signals
from pv.signals.table import SIGNAL_COLUMNS

QUARTERS = ["2023Q1", "2023Q2", "2023Q3", "2023Q4"]
PTS = ["Somnolence", "Nausea", "Headache", "Overdose", "Intentional overdose", "Tinnitus", "Rash", "Seizure"]
OTHER = ["aspirin", "ibuprofen", "metformin", "sertraline", "lisinopril", "omeprazole"]
GROUPS = pl.DataFrame({"pt": ["Overdose", "Intentional overdose", "Somnolence", "Overdose", "Intentional overdose"],
                       "event": ["overdose_narrow", "overdose_narrow", "overdose_broad", "overdose_broad",
                                 "overdose_broad"]})
DOMAINS = pl.DataFrame({"pt": ["Tinnitus", "Somnolence"], "event": ["sensory", "arousal"]})


def write_cases(home: Home, n_cases: int = 600, seed: int = 3, quarters=QUARTERS) -> None:
    """cases.parquet, drugs.parquet, reactions.parquet with the contract's columns."""
    rng = np.random.default_rng(seed)
    cases, drugs, reactions = [], [], []
    for cid in range(1, n_cases + 1):
        q = quarters[(cid * len(quarters)) // (n_cases + 1)]
        cases.append({"caseid": cid, "primaryid": cid * 10 + 1, "caseversion": 1, "quarter": q,
                      "sex": ["F", "M", None][cid % 3], "age_band": ["18-44", "45-64", "65+"][cid % 4 % 3],
                      "report_year": int(q[:4]), "dup_flag": cid % 50 == 0})
        baclofen = cid % 5 == 0
        names = list(rng.choice(OTHER, size=rng.integers(1, 3), replace=False))
        if baclofen:
            names.append("baclofen")
        for seq, name in enumerate(names, 1):
            role = "PS" if seq == 1 else ("SS" if seq == 2 else "C")
            intrathecal = name == "baclofen" and cid % 2 == 0
            drugs.append({"caseid": cid, "primaryid": cid * 10 + 1, "quarter": q, "drug_seq": seq,
                          "role_cod": role, "ingredient": name, "route_class": "intrathecal" if intrathecal else "oral",
                          "dose_band": ">150" if cid % 3 == 0 else "<=30",
                          "indication_class": "aud" if cid % 4 == 0 else "spasticity"})
        pts = list(rng.choice(PTS[1:3] + PTS[6:], size=rng.integers(1, 3), replace=False))
        if baclofen and rng.random() < 0.6:
            pts += ["Somnolence", "Overdose"] + (["Intentional overdose"] if cid % 3 == 0 else [])
        if baclofen and rng.random() < 0.4:
            pts.append("Tinnitus")
        if rng.random() < 0.05:
            pts.append("Somnolence")
        for pt in pts + pts[:1]:  # the first PT twice: a report counts once
            reactions.append({"caseid": cid, "primaryid": cid * 10 + 1, "quarter": q, "pt": pt, "pt_source": pt})
    home.cases.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(cases).write_parquet(home.cases / "cases.parquet")
    pl.DataFrame(drugs).write_parquet(home.cases / "drugs.parquet")
    pl.DataFrame(reactions).write_parquet(home.cases / "reactions.parquet")


def brute_force(home: Home, drug: str, pts: set[str], roles=("PS", "SS"), subset=None, upto=None):
    """a, b, c, d from sets of case ids (the definition, not the engine)."""
    cases = pl.read_parquet(home.cases / "cases.parquet").filter(~pl.col("dup_flag"))
    if upto:
        cases = cases.filter(pl.col("quarter") <= upto)
    drugs = pl.read_parquet(home.cases / "drugs.parquet").filter(pl.col("role_cod").is_in(roles))
    reac = pl.read_parquet(home.cases / "reactions.parquet")
    universe = set(cases["caseid"]) & set(drugs["caseid"]) & set(reac["caseid"])
    with_drug = drugs.filter(pl.col("ingredient") == drug)
    if subset:  # compared with the reports not naming the drug (rule subset-comparator)
        universe -= set(with_drug["caseid"]) - set(with_drug.filter(pl.col(subset[0]) == subset[1])["caseid"])
        with_drug = with_drug.filter(pl.col(subset[0]) == subset[1])
    d_ids = set(with_drug["caseid"]) & universe
    e_ids = set(reac.filter(pl.col("pt").is_in(list(pts)))["caseid"]) & universe
    a = len(d_ids & e_ids)
    return a, len(d_ids) - a, len(e_ids) - a, len(universe) - len(d_ids | e_ids)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    home = Home.at(tmp_path_factory.mktemp("store"))
    write_cases(home)
    options = SignalOptions(drugs=["baclofen", "aspirin"], strata=("sex", "age_band", "report_year"),
                            prior=PriorSettings(fit="truncated"))
    out = run_signals(home, options, group_table=GROUPS, domain_table=DOMAINS, run_id="run1")
    return home, out, pl.read_parquet(out / "signals.parquet"), json.loads((out / "run.json").read_text())


def row(frame, drug, event, level="pt", subset="all"):
    hit = frame.filter(drug=drug, event=event, level=level, subset=subset)
    assert hit.height == 1, (drug, event, level, subset)
    return hit.row(0, named=True)


def test_table_columns_and_levels(first_run):
    _, _, signals, run = first_run
    assert signals.columns == SIGNAL_COLUMNS
    assert set(signals["level"]) == {"pt", "group", "domain"}
    assert set(signals["drug"]) == {"baclofen", "aspirin"}
    assert {"all", "route=intrathecal", "route=oral", "sex=F", "sex=M", "dose_band=>150"} <= set(signals["subset"])
    assert run["background"]["reports"] == brute_force(first_run[0], "baclofen", {"Rash"})[0] + sum(
        brute_force(first_run[0], "baclofen", {"Rash"})[1:])


@pytest.mark.parametrize("event,pts,level", [
    ("Somnolence", {"Somnolence"}, "pt"), ("Tinnitus", {"Tinnitus"}, "pt"), ("Rash", {"Rash"}, "pt"),
    ("overdose_narrow", {"Overdose", "Intentional overdose"}, "group"),
    ("overdose_broad", {"Overdose", "Intentional overdose", "Somnolence"}, "group"),
    ("sensory", {"Tinnitus"}, "domain"),
])
def test_counts_match_brute_force(first_run, event, pts, level):
    home, _, signals, _ = first_run
    for drug in ("baclofen", "aspirin"):
        r = row(signals, drug, event, level)
        assert (r["a"], r["b"], r["c"], r["d"]) == brute_force(home, drug, pts)


def test_subsets_count_the_drug_rows_or_reports_of_the_subset(first_run):
    home, _, signals, _ = first_run
    r = row(signals, "baclofen", "Somnolence", "pt", "route=intrathecal")
    assert (r["a"], r["b"], r["c"], r["d"]) == brute_force(home, "baclofen", {"Somnolence"},
                                                           subset=("route_class", "intrathecal"))
    # the comparator holds no baclofen report at all: c, d are those of the all-reports row
    whole = row(signals, "baclofen", "Somnolence", "pt")
    assert (r["c"], r["d"]) == (whole["c"], whole["d"]) and r["a"] + r["b"] < whole["a"] + whole["b"]
    for subset in signals.filter(drug="baclofen", level="pt", event="Somnolence")["subset"].to_list():
        if subset.split("=")[0] in ("route", "dose_band", "indication"):
            column = {"route": "route_class", "dose_band": "dose_band", "indication": "indication_class"}
            name, value = subset.split("=", 1)
            got = row(signals, "baclofen", "Somnolence", "pt", subset)
            assert (got["a"], got["b"], got["c"], got["d"]) == brute_force(home, "baclofen", {"Somnolence"},
                                                                           subset=(column[name], value)), subset
    r = row(signals, "baclofen", "overdose_narrow", "group", "sex=F")
    cases = pl.read_parquet(home.cases / "cases.parquet")
    females = set(cases.filter(pl.col("sex") == "F")["caseid"])
    assert r["a"] + r["b"] + r["c"] + r["d"] < len(females)  # the universe is the female reports


def test_signal_measures_and_flags(first_run):
    _, _, signals, run = first_run
    r = row(signals, "baclofen", "overdose_narrow", "group")
    assert r["prr"] > 2 and r["flag_evans"] and r["flag_ror025"] and r["flag_ic025"]
    assert r["expected"] > 0 and r["ic025"] < r["ic"] < r["ic975"]
    assert run["gps_fit"]["mode"] == "truncated"
    assert run["ebgm_published"] == (signals["ebgm"].null_count() == 0)
    assert run["drugs"]["reported"] == ["baclofen", "aspirin"]


def test_trend_is_cumulative_and_ends_at_the_table(first_run):
    home, out, signals, _ = first_run
    trend = pl.read_parquet(out / "trend.parquet")
    assert set(trend["subset"]) == {"all"}  # subsets keep only their flags (first quarters)
    last = trend.filter(quarter="2023Q4").drop("quarter")
    overall = signals.filter(subset="all")
    both = overall.join(last, on=["drug", "event", "level", "subset"], suffix="_t")
    assert both.height == overall.height
    # the direct count (no trend) gives the same table as the trend's last quarter
    direct = pl.read_parquet(run_signals(home, SignalOptions(drugs=["baclofen", "aspirin"], trend=False,
                                                             prior=PriorSettings(fit="truncated")),
                                         group_table=GROUPS, domain_table=DOMAINS, run_id="direct")
                             / "signals.parquet")
    assert direct.select("drug", "event", "level", "subset", "a", "b", "c", "d").equals(
        signals.select("drug", "event", "level", "subset", "a", "b", "c", "d"))
    assert np.allclose(direct["expected"], signals["expected"], rtol=1e-12)
    assert np.allclose(direct["eb05"], signals["eb05"], rtol=1e-12, equal_nan=True)
    both = direct.filter(subset="all").join(last, on=["drug", "event", "level", "subset"], suffix="_t")
    assert both.height == overall.height
    for col in ("a", "b", "c", "d"):
        assert (both[col] == both[f"{col}_t"]).all()
    assert np.allclose(both["expected"], both["expected_t"], rtol=1e-12)
    r = trend.filter(drug="baclofen", event="Somnolence", level="pt", subset="all", quarter="2023Q2").row(0, named=True)
    assert (r["a"], r["b"], r["c"], r["d"]) == brute_force(home, "baclofen", {"Somnolence"}, upto="2023Q2")
    s = row(signals, "baclofen", "overdose_narrow", "group")
    flagged = trend.filter(drug="baclofen", event="overdose_narrow", level="group", subset="all", flag_evans=True)
    assert s["first_quarter_evans"] == flagged["quarter"].min()
    assert s["first_quarter"] <= s["first_quarter_evans"]
    # the EB05 flag from one CDF evaluation agrees with the solved EB05
    assert (trend["flag_eb05"] == (trend["eb05"] >= 2)).all()
    # a subset's first quarter: recount its flags directly up to each quarter
    sub = row(signals, "baclofen", "Somnolence", "pt", "route=intrathecal")
    for quarter in QUARTERS:
        a, b, c, d = brute_force(home, "baclofen", {"Somnolence"}, subset=("route_class", "intrathecal"), upto=quarter)
        prr = (a / (a + b)) / (c / (c + d)) if min(a, b, c, d) > 0 else None
        if prr is not None and a >= 3 and prr >= 2 and a + b >= SignalOptions().subset_min_reports:
            chi2 = (a + b + c + d) * max(abs(a * d - b * c) - (a + b + c + d) / 2, 0) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
            if chi2 >= 4:
                assert sub["first_quarter_evans"] == quarter
                break
    else:
        assert sub["first_quarter_evans"] is None


def test_subset_rows_below_the_minimum_are_shown_but_never_flagged(first_run):
    home, _, signals, run = first_run
    assert run["subset_min_reports"]["value"] == 10
    # on a table: a subset row under the minimum keeps its measures, loses its flags
    rows = signals.filter(pl.col("subset") != "all").filter(pl.col("flag_ror025")).head(3)
    held = subset_minimum(rows, int((rows["a"] + rows["b"]).max()) + 1)
    assert held.select(pl.col("^flag_.*$").fill_null(False).any()).row(0) == (False,) * 4
    assert held.drop("^flag_.*$").equals(rows.drop("^flag_.*$"))
    assert subset_minimum(signals.filter(subset="all"), 10**9).equals(signals.filter(subset="all"))
    # in the trend: without the rule, subset rows are flagged in quarters where the drug had
    # fewer than 10 reports in the subset, so their first quarters come earlier
    out = run_signals(home, SignalOptions(drugs=["baclofen", "aspirin"], prior=PriorSettings(fit="truncated"),
                                          subset_min_reports=0), group_table=GROUPS, domain_table=DOMAINS,
                      run_id="nomin")
    loose = pl.read_parquet(out / "signals.parquet")
    from pv.atomic import remove_output

    remove_output(out)  # not a previous run for the tests after this one (a pointer: pv.atomic)
    both = signals.join(loose, on=KEYS, suffix="_0")
    assert both.height == signals.height
    sub = both.filter(pl.col("subset") != "all")
    earlier = sub.filter(pl.col("first_quarter_0") < pl.col("first_quarter").fill_null("9999"))
    assert earlier.height > 0
    assert sub.filter(pl.col("first_quarter_0") > pl.col("first_quarter")).height == 0
    first = row(signals, "baclofen", "Somnolence", "pt", "route=intrathecal")["first_quarter_evans"]
    a, b, c, d = brute_force(home, "baclofen", {"Somnolence"}, subset=("route_class", "intrathecal"), upto=first)
    assert a + b >= 10
    # all-reports rows do not move
    assert both.filter(subset="all").select([pl.col(f) == pl.col(f"{f}_0") for f in
                                             ("first_quarter", "flag_evans", "flag_eb05")]).to_series().all()


def test_is_new_against_the_previous_run(first_run, tmp_path):
    home, _, signals, _ = first_run
    flagged = signals.select(pl.any_horizontal(pl.col("^flag_.*$").fill_null(False)))
    assert (signals["is_new"] == flagged.to_series()).all()  # no previous run: every flag is new
    second = run_signals(home, SignalOptions(drugs=["baclofen", "aspirin"], prior=PriorSettings(fit="truncated")),
                         group_table=GROUPS, domain_table=DOMAINS, run_id="run2")
    again = pl.read_parquet(second / "signals.parquet")
    assert json.loads((second / "run.json").read_text())["previous_run"] in ("run1", "direct")
    assert not again["is_new"].any()  # same data: nothing new


def test_roles_and_dedup_options(first_run, tmp_path):
    home, _, _, _ = first_run
    out = run_signals(home, SignalOptions(drugs=["baclofen"], roles="any", dedup=False, strata=(), subsets=(),
                                          levels=("pt",), trend=False, prior=PriorSettings(fit="truncated")),
                      run_id="any_roles")
    r = row(pl.read_parquet(out / "signals.parquet"), "baclofen", "Somnolence")
    cases = pl.read_parquet(home.cases / "cases.parquet")
    drugs = pl.read_parquet(home.cases / "drugs.parquet")
    reac = pl.read_parquet(home.cases / "reactions.parquet")
    universe = set(cases["caseid"]) & set(drugs["caseid"]) & set(reac["caseid"])
    d_ids = set(drugs.filter(pl.col("ingredient") == "baclofen")["caseid"]) & universe
    e_ids = set(reac.filter(pl.col("pt") == "Somnolence")["caseid"]) & universe
    assert (r["a"], r["a"] + r["b"], r["a"] + r["c"]) == (len(d_ids & e_ids), len(d_ids), len(e_ids))
    assert r["a"] + r["b"] + r["c"] + r["d"] == len(universe)


def test_cli_signals_and_missing_cases(tmp_path, first_run):
    home, _, _, _ = first_run
    res = CliRunner().invoke(cli, ["signals", "--home", str(home.root), "--drug", "baclofen", "--no-trend",
                                   "--subsets", "", "--fit", "truncated"])
    assert res.exit_code == 0, res.output
    assert "signals/" in res.output
    res = CliRunner().invoke(cli, ["signals", "--home", str(tmp_path / "empty")])
    assert res.exit_code != 0 and "run `pvmon cases` first" in str(res.exception)


@pytest.mark.parametrize("strata", [(), ("report_year",)])
def test_trend_pass_matches_direct_counts_when_subsets_are_not_strata(first_run, strata):
    """Report subsets (sex, age band) outside the strata: the one-pass universes still give the
    direct per-subset counts and stratified E."""
    home = first_run[0]
    tables = {}
    for trend in (True, False):
        out = run_signals(home, SignalOptions(drugs=["baclofen", "aspirin"], strata=strata, trend=trend,
                                              prior=PriorSettings(fit="truncated")),
                          group_table=GROUPS, domain_table=DOMAINS, run_id=f"strata{len(strata)}{trend}")
        tables[trend] = pl.read_parquet(out / "signals.parquet")
    keys = ["drug", "event", "level", "subset", "a", "b", "c", "d"]
    assert tables[True].select(keys).equals(tables[False].select(keys))
    assert {"sex=F", "age_band=45-64"} <= set(tables[True]["subset"])
    assert np.allclose(tables[True]["expected"], tables[False]["expected"], rtol=1e-12)
    r = row(tables[True], "baclofen", "Somnolence", "pt", "sex=F")
    cases = pl.read_parquet(home.cases / "cases.parquet")
    females = set(cases.filter(pl.col("sex") == "F")["caseid"])
    brute = brute_force(home, "baclofen", {"Somnolence"})
    assert r["a"] <= brute[0] and r["a"] + r["b"] + r["c"] + r["d"] < len(females)
