"""One quarter of simulated FAERS: reports, their seven tables and what was planted.

Vectorised: numpy draws every attribute for all reports at once (a Generator seeded from
(seed, year, quarter), so quarters are independent), polars assembles the text columns.
Values are final, era-specific text (legacy upper case, old MedDRA wording, country names);
the writer only lays them out.
"""

from __future__ import annotations

import os

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import polars as pl

from pv.faers.simulate import dosing, layout, world
from pv.faers.simulate.names import meddra_cased, messy_drug_strings
from pv.faers.simulate.schedule import (
    Bases, Life, followups_into, n_dup_slots, n_main, qindex, qof,
)

U = pl.Utf8
NB_DRUG = (1.2, 4.0)  # negative-binomial (n, mean) of extra drugs per report
NB_REAC = (1.5, 2.5)  # ... of extra reactions per report
# Background heterogeneity (real FAERS is overdispersed: a drug's reporting rate of a PT
# varies around the overall rate, which is what the GPS prior models). Each background drug
# belongs to one of DRUG_CLASSES - 1 classes, each PT to one of PT_CLUSTERS; a report's
# background PTs are drawn with the PT rate times a class x cluster factor ~ Gamma(mean 1,
# variance CLASS_EFFECT_VAR). Class 0 is neutral (factor 1): the focal drugs' reports, so
# the planted ratios stay relative to the plain PT rate.
DRUG_CLASSES, PT_CLUSTERS, CLASS_EFFECT_VAR = 48, 40, 0.5


@dataclass
class QuarterData:
    year: int
    q: int
    tables: dict[str, pl.DataFrame]
    quirks: dict[str, dict[str, np.ndarray]]
    demo_keys: pl.DataFrame
    planted: pl.DataFrame
    dups: pl.DataFrame
    deleted: dict[str, np.ndarray] = field(default_factory=dict)
    doses: pl.DataFrame | None = None  # ground_truth ``dose`` rows (simulate/dosing.py)


# --- fixed vocabularies (computed once per process) -------------------------------------
@lru_cache(maxsize=1)
def vocab():
    pts = meddra_cased(world.pt_vocabulary())
    ranks = np.arange(len(pts), dtype=np.float64)
    w = 1.0 / (ranks + 8.0) ** 1.05
    pi = w / w.sum()
    n, mean = NB_REAC
    p = n / (n + mean)
    x = 1.0 - pi
    b = 1.0 - x * (p / (1.0 - (1.0 - p) * x)) ** n  # P(PT listed) with K = 1 + NB draws
    drugs, prod_ai, brands = world.drug_vocabulary()
    dw = 1.0 / (np.arange(len(drugs)) + 3.0) ** 1.1
    rng = np.random.default_rng(7)
    strengths = np.array([5, 10, 20, 25, 40, 50, 100, 200, 250, 500, 1000])[rng.integers(0, 11, len(drugs))]
    indication = rng.integers(1, len(world.INDICATION_PTS), len(drugs))
    nda = np.where(rng.random(len(drugs)) < 0.6, rng.integers(1000, 220000, len(drugs)), -1)
    effect = rng.gamma(1.0 / CLASS_EFFECT_VAR, CLASS_EFFECT_VAR, (DRUG_CLASSES, PT_CLUSTERS))
    effect[0] = 1.0
    class_w = pi[None, :] * effect[:, rng.integers(0, PT_CLUSTERS, len(pts))]
    class_cdf = np.cumsum(class_w / class_w.sum(axis=1, keepdims=True), axis=1)
    drug_class = 1 + rng.permutation(len(drugs)) % (DRUG_CLASSES - 1)
    return dict(
        pts=pts, pt_index={p_: i for i, p_ in enumerate(pts)}, b=b, class_cdf=class_cdf, drug_class=drug_class,
        drugs=drugs, prod_ai=prod_ai, brands=brands, drug_cdf=np.cumsum(dw / dw.sum()),
        strengths=strengths, indication=indication, nda=nda,
    )


def _cat(rng: np.random.Generator, n: int, weights) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return np.searchsorted(np.cumsum(w / w.sum()), rng.random(n), side="right").clip(0, len(w) - 1)


def _pick(choices, idx: np.ndarray) -> pl.Series:
    return pl.Series(list(choices), dtype=U).gather(pl.Series(np.asarray(idx, dtype=np.int64)))


def _nb(rng, n: int, nb: tuple[float, float], cap: int) -> np.ndarray:
    k, mean = nb
    return np.minimum(rng.negative_binomial(k, k / (k + mean), n), cap)


def _ymd(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype("datetime64[D]")).dt.strftime("%Y%m%d")


def _quarter_days(y: int, q: int) -> tuple[int, int]:
    start = np.datetime64(f"{y}-{3 * q - 2:02d}-01").astype(np.int64)
    ny, nq = (y, q + 1) if q < 4 else (y + 1, 1)
    end = np.datetime64(f"{ny}-{3 * nq - 2:02d}-01").astype(np.int64)
    return int(start), int(end)


def _imprecise(rng, days: np.ndarray, q_end: int, p_empty: float, p_bad: float) -> pl.Series:
    """A date at day/month/year precision, some empty, a few impossible (year 1012, or after
    the extract's quarter)."""
    n = len(days)
    s = _ymd(days)
    kind = _cat(rng, n, [0.72, 0.12, 0.05, p_empty, p_bad])
    later = _ymd(np.full(n, q_end + 40))
    bad = pl.when(pl.Series(rng.random(n) < 0.5)).then(pl.lit("1012") + s.str.slice(4)).otherwise(later)
    k = pl.Series(kind)
    return pl.select(
        pl.when(k == 0).then(s).when(k == 1).then(s.str.slice(0, 6)).when(k == 2).then(s.str.slice(0, 4))
        .when(k == 3).then(pl.lit("")).otherwise(bad)
    ).to_series()


# --- focal-drug attributes -------------------------------------------------------------
def _band(daily: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.array(world.BAND_EDGES), daily, side="left")


def _focal_attrs(rng, f: world.Focal | None, n: int, year: int) -> dict[str, np.ndarray]:
    """Route class, indication class, true daily dose (mg), pump problem, verbatim name."""
    if f is None:  # baclofen
        route = np.array([r for r, _ in world.BACLOFEN_ROUTES])[_cat(rng, n, [w for _, w in world.BACLOFEN_ROUTES])]
        ind = np.where(route == "intrathecal",
                       np.array(["spasticity", "unknown"])[_cat(rng, n, [0.9, 0.1])],
                       np.array(["spasticity", "aud", "unknown"])[_cat(rng, n, [0.5, 0.35, 0.15])])
        med = np.select([route == "intrathecal", ind == "aud"], [0.3, 90.0], 30.0)
        sig = np.select([route == "intrathecal", ind == "aud"], [0.6, 0.55], 0.5)
        daily = np.exp(np.log(med) + sig * rng.standard_normal(n))
        daily = np.where(route == "intrathecal", daily.clip(0.02, 1.5),
                         np.where(ind == "aud", daily.clip(30, 400), daily.clip(5, 120)))
        pump = (route == "intrathecal") & (rng.random(n) < world.PUMP_PROBLEM_SHARE)
        names_it = [x for x in world.BACLOFEN_IT_NAMES if x[2] <= year]
        names_or = [x for x in world.BACLOFEN_ORAL_NAMES if x[2] <= year]
        nm_it = np.array([x[0] for x in names_it], dtype=object)[_cat(rng, n, [x[1] for x in names_it])]
        nm_or = np.array([x[0] for x in names_or], dtype=object)[_cat(rng, n, [x[1] for x in names_or])]
        name = np.where(route == "intrathecal", nm_it, nm_or)
    else:
        route = np.full(n, "oral", dtype=object)
        if f.ingredient == "naltrexone":
            route = np.where(rng.random(n) < 0.25, "other", route)
        classes = [c for c, _ in f.indications]
        ind = np.array(classes, dtype=object)[_cat(rng, n, [w for _, w in f.indications])]
        daily = np.empty(n)
        for c in classes:
            m = ind == c
            med, sig, lo, hi = f.dose_mg.get(c, next(iter(f.dose_mg.values())))
            daily[m] = np.exp(np.log(med) + sig * rng.standard_normal(int(m.sum()))).clip(lo, hi)
        pump = np.zeros(n, dtype=bool)
        names = [x for x in f.oral_names if x[2] <= year] or list(f.oral_names)
        name = np.array([x[0] for x in names], dtype=object)[_cat(rng, n, [x[1] for x in names])]
        if f.ingredient == "naltrexone":
            name = np.where(route == "other", "VIVITROL", name)
            daily = np.where(route == "other", 380 / 30, daily)
    return dict(route=np.asarray(route, dtype=object), ind=np.asarray(ind, dtype=object), daily=daily,
                pump=pump, name=np.asarray(name, dtype=object))


# --- planted reactions -----------------------------------------------------------------
def focal_profile(ingredient: str):
    """(PT names, base RR per PT, group masks, intrathecal-only RR) for a focal drug.

    Every domain and group PT is listed (RR 1 where nothing is planted) so that domain- and
    group-level expectations can be computed over the same columns. ``world.PLANT_ENV`` may
    replace a drug's domain profile (tests and benches of the density test).
    """
    return _focal_profile(ingredient, os.environ.get(world.PLANT_ENV, ""))


@lru_cache(maxsize=None)
def _focal_profile(ingredient: str, plant: str):
    f = next((x for x in world.FOCALS if x.ingredient == ingredient), None)
    doms = world.BACLOFEN_DOMAINS if f is None else f.domains
    doms = world.planted_density_profiles(plant).get(ingredient, doms)
    pts_rr = {} if f is None else dict(f.pts)
    names = list(dict.fromkeys(
        [p for _, ps in world.DOMAINS.values() for p in ps]
        + [p for ps in world.GROUPS.values() for p in ps]
        + list(pts_rr) + (list(world.BACLOFEN_IT_PTS) if f is None else [])))
    rr = np.ones(len(names))
    for i, p in enumerate(names):
        for d, (_, dpts) in world.DOMAINS.items():
            if p in dpts:
                rr[i] = max(rr[i], doms.get(d, 1.0))
        rr[i] = max(rr[i], pts_rr.get(p, 1.0))
    groups = {g: np.array([p in ps for p in names]) for g, ps in world.GROUPS.items()}
    it_rr = np.array([world.BACLOFEN_IT_PTS.get(p, 1.0) for p in names]) if f is None else None
    return tuple(names), rr, groups, it_rr


def planted_rr(ingredient: str, attrs: dict) -> np.ndarray:
    """Per report x PT reporting-rate ratio for suspect reports of one focal drug."""
    names, rr, groups, it_rr = focal_profile(ingredient)
    m = np.tile(rr, (len(attrs["daily"]), 1))
    if ingredient == "baclofen":
        band = _band(attrs["daily"])
        for g, (by_band, pump_mult) in world.BACLOFEN_GROUP_RR.items():
            g_rr = np.array(by_band)[band] * np.where(attrs["pump"], pump_mult, 1.0)
            cols = groups[g]
            m[:, cols] = np.maximum(m[:, cols], g_rr[:, None])
        it = attrs["route"] == "intrathecal"
        m = np.where(it[:, None], np.maximum(m, it_rr[None, :]), m)
    return m


def _subsets(ingredient: str, attrs: dict) -> dict[str, np.ndarray]:
    n = len(attrs["daily"])
    out = {"": np.ones(n, dtype=bool)}
    for r in ("oral", "intrathecal"):
        out[f"route={r}"] = attrs["route"] == r
    band = dosing.expected_bands(ingredient, attrs["route"], attrs["daily"])  # true route and mg/day
    for b in np.unique(band[band != "unknown"]):
        out[f"dose_band={b}"] = band == b
    for c in ("aud", "spasticity"):
        out[f"indication={c}"] = attrs["ind"] == c
    if ingredient == "baclofen":
        out["pump_problem=true"] = attrs["pump"]
        out["pump_problem=false"] = (attrs["route"] == "intrathecal") & ~attrs["pump"]
    return out


def _accumulate(ingredient: str, attrs: dict, m: np.ndarray, b: np.ndarray) -> list[dict]:
    """Sums from which the ground truth's planted ratios are computed (see truth.py)."""
    names, _, groups, _ = focal_profile(ingredient)
    p_any = {}
    sets = {f"group:{g}": mask for g, mask in groups.items()}
    sets.update({f"domain:{d}": np.array([p in ps for p in names]) for d, (_, ps) in world.DOMAINS.items()})
    for ev, mask in sets.items():
        bm = b[mask]
        p_any[ev] = (1.0 - np.prod(1.0 - np.minimum(1.0, m[:, mask] * bm), axis=1),
                     1.0 - np.prod(1.0 - bm))
    rows = []
    planted_cols = np.where((m != 1.0).any(axis=0))[0]
    for sub, sel in _subsets(ingredient, attrs).items():
        cnt = int(sel.sum())
        if cnt == 0:
            continue
        sums = m[sel].sum(axis=0)
        for j in planted_cols:
            rows.append(dict(drug=ingredient, event=names[j], subset=sub, s=float(sums[j]), n=cnt, bg=1.0))
        for ev, (pa, pb) in p_any.items():
            rows.append(dict(drug=ingredient, event=ev, subset=sub, s=float(pa[sel].sum()), n=cnt, bg=float(pb)))
    return rows


# --- the quarter -----------------------------------------------------------------------
def generate(year: int, q: int, *, bases: Bases, seed: int, broken_rate: float) -> QuarterData:
    V = vocab()
    k = qindex(year, q)
    era = layout.era(year, q)
    legacy = era == "laers"
    old_pts = (year, q) < world.OLD_PT_UNTIL
    rng = np.random.default_rng([seed, year, q])
    per = bases.per_quarter
    q_start, q_end = _quarter_days(year, q)

    # identities: new cases, follow-ups of earlier cases, then duplicate copies
    nm = n_main(k, per)
    base = bases.case_base(k)
    main_ids = base + np.arange(nm, dtype=np.int64)
    life = Life(main_ids, seed)
    fu_ids, fu_ver, fu_born = followups_into(k, bases, seed)
    caseid = np.concatenate([main_ids, fu_ids])
    version = np.concatenate([life.v0, fu_ver]).astype(np.int64)
    is_new = np.concatenate([np.ones(nm, bool), np.zeros(len(fu_ids), bool)])
    born = np.concatenate([np.full(nm, k), fu_born])
    R = len(caseid)
    orig_idx = np.where(life.dup_original)[0][: n_dup_slots(k, per)]
    copy_ids = base + nm + np.arange(len(orig_idx), dtype=np.int64)

    # report-level attributes
    fda = q_start + rng.integers(0, q_end - q_start, R)
    born_start = np.array([_quarter_days(*qof(int(j)))[0] for j in range(k - 8, k + 1)])[born - (k - 8)]
    init = np.where(is_new, np.where(version == 1, fda, fda - rng.integers(20, 600, R)),
                    born_start + rng.integers(0, 90, R))
    init = np.minimum(init, fda)
    event_days = init - rng.exponential(120, R).astype(np.int64)
    dup_orig = np.zeros(R, bool)
    dup_orig[orig_idx] = True
    event_dt = _imprecise(rng, event_days, q_end, 0.10, 0.01)
    event_dt = pl.select(pl.when(pl.Series(dup_orig)).then(_ymd(event_days)).otherwise(event_dt)).to_series()
    rept = np.array(["EXP", "PER", "DIR"])[_cat(rng, R, [0.65, 0.25, 0.10])]
    cidx = _cat(rng, R, [c[2] for c in world.COUNTRIES])
    cidx = np.where(dup_orig & (cidx == len(world.COUNTRIES) - 1), 0, cidx)  # findable: a real country
    ctry_code = np.array([c[0] for c in world.COUNTRIES], dtype=object)[cidx]
    ctry = _pick([c[1] if legacy else c[0] for c in world.COUNTRIES], cidx)
    occr = pl.select(pl.when(ctry == "COUNTRY NOT SPECIFIED").then(pl.lit("US")).otherwise(ctry)).to_series()

    # focal drug of each report: index into ("baclofen",) + FOCALS, or -1
    focal_names = ("baclofen",) + tuple(f.ingredient for f in world.FOCALS)
    shares = [world.BACLOFEN_SHARE] + [f.share for f in world.FOCALS]
    fsel = _cat(rng, R, shares + [1.0 - sum(shares)])
    fsel = np.where(fsel == len(shares), -1, fsel)
    frole = np.array(["PS", "SS", "C"])[_cat(rng, R, [0.8, 0.15, 0.05])]

    # drugs: integer codes drawn by numpy, text assembled by polars (no Python objects per row)
    n_drug = 1 + _nb(rng, R, NB_DRUG, 40)
    n_drug = np.where((fsel >= 0) & (frole != "PS"), np.maximum(n_drug, 2), n_drug)
    starts = np.concatenate([[0], np.cumsum(n_drug)[:-1]])
    D = int(n_drug.sum())
    d_rep = np.repeat(np.arange(R), n_drug)
    d_seq = np.arange(D) - np.repeat(starts, n_drug) + 1
    ing = np.searchsorted(V["drug_cdf"], rng.random(D), side="right").clip(0, len(V["drugs"]) - 1)
    role_i = np.where(d_seq == 1, 0, 1 + _cat(rng, D, [0.12, 0.83, 0.05]))
    variant = _cat(rng, D, [0.7, 0.25, 0.05])
    s = V["strengths"][ing] * np.where(rng.random(D) < 0.2, 2, 1)
    dose_kind = _cat(rng, D, [0.45, 0.25, 0.3])  # structured / text only / nothing
    freq_i = _cat(rng, D, [30, 15, 8, 4, 1, 2, 2, 2, 5, 3, 3, 2, 3, 4, 2])
    freq_on = rng.random(D) < 0.7
    unit_i = _cat(rng, D, [85, 5, 5, 3, 2])
    vstyle = rng.integers(0, 4, D)
    route_i = _cat(rng, D, [45, 30, 8, 7, 3, 2, 2, 3, 2])
    form_i = _cat(rng, D, [40, 15, 10, 10, 8, 5, 5, 4, 3])
    val2 = rng.random(D) < 0.04
    indi_i = np.where(rng.random(D) < 0.45, 0, V["indication"][ing])
    d_focal = np.full(D, -1)
    frep = np.where(fsel >= 0)[0]
    frow = starts[frep] + np.where(frole[frep] == "PS", 0, 1)
    d_focal[frow] = fsel[frep]
    role_i[frow] = np.select([frole[frep] == "PS", frole[frep] == "SS"], [0, 1], 2)
    over: dict[str, list] = {c: [] for c in ("drugname", "prod_ai", "val_vbm", "dose_amt", "dose_unit",
                                             "dose_freq", "dose_vbm", "route", "dose_form", "indi_pt",
                                             "_dose_truth")}
    fattr_all = {}
    dose_rng = np.random.default_rng([seed, year, q, 10])  # the dose messes' own draws (simulate/dosing.py)
    for fi, ingredient in enumerate(focal_names):
        reps = frep[fsel[frep] == fi]
        rows = starts[reps] + np.where(frole[reps] == "PS", 0, 1)
        if len(reps) == 0:
            continue
        f = None if fi == 0 else world.FOCALS[fi - 1]
        attrs = _focal_attrs(rng, f, len(reps), year)
        dose = dosing.focal_dose_text(rng, dose_rng, attrs, ingredient, year, q)
        attrs["daily"] = dose["daily"]
        attrs["reports"] = reps
        attrs["suspect"] = frole[reps] != "C"
        fattr_all[ingredient] = attrs
        misspelt = np.isin(attrs["name"], ["BACLOPHEN", "BACLOFENE", "BACLOF\xc8NE", "BACLOFEN 10MG", "BACLOFEN."])
        ind_pt = np.array([world.UNKNOWN_INDICATION] * len(reps), dtype=object)
        table = world.AUD if f is None else f.indication_pts
        table = dict(table, spasticity=world.SPASTICITY_INDICATIONS) if f is None else table
        for c, pts in table.items():
            m = attrs["ind"] == c
            w = world.AUD_WEIGHTS if pts == world.AUD_INDICATIONS else (
                world.SPASTICITY_WEIGHTS if pts == world.SPASTICITY_INDICATIONS else [1] * len(pts))
            ind_pt[m] = np.array(pts, dtype=object)[_cat(rng, int(m.sum()), w)]
        values = dict(
            drugname=attrs["name"], prod_ai=np.full(len(reps), f.prod_ai if f else "BACLOFEN", dtype=object),
            val_vbm=np.where(misspelt, "2", "1"), dose_amt=dose["amt"], dose_unit=dose["unit"],
            dose_freq=dose["freq"], dose_vbm=dose["vbm"],
            route=dose["route"], _dose_truth=dosing.truth_text(ingredient, dose),
            dose_form=np.where(attrs["route"] == "intrathecal", "Injection", "Tablet"), indi_pt=ind_pt)
        for c, v in values.items():
            over[c].append((rows, v))
    # rare byte quirks in names: backspace in legacy DRUG, TAB from 2025Q3, Latin-1 (not in the BOM file)
    lat = rng.choice(np.where(d_focal < 0)[0], max(1, round(1e-4 * D)), replace=False)
    over["drugname"].append((lat, np.full(len(lat), "PARAC\xc9TAMOL", dtype=object)))
    over["prod_ai"].append((lat, np.full(len(lat), "ACETAMINOPHEN", dtype=object)))

    nb = len(V["drugs"])
    flat_names = [x for i in range(nb) for x in (V["drugs"][i], V["brands"][i], V["drugs"][i] + ".")]
    amt = pl.Series(s).cast(U)
    unit = _pick(("MG", "UG", "ML", "G", "MG/KG"), unit_i)
    freq = _pick(("QD", "BID", "TID", "QID", "Q4H", "Q6H", "Q8H", "Q12H", "QW", "QM", "PRN", "HS", "1X", "UNK", "/WK"), freq_i)
    codes = pl.DataFrame({"dk": dose_kind, "vs": vstyle, "fo": freq_on})
    text = pl.DataFrame({"amt": amt, "unit": unit, "freq": freq}).hstack(codes).select(
        dose_vbm=pl.when(pl.col("dk") == 2).then(pl.lit(""))
        .when(pl.col("vs") == 0).then(pl.col("amt") + " " + pl.col("unit") + ", " + pl.col("freq"))
        .when(pl.col("vs") == 1).then(pl.col("amt") + " milligram")
        .when(pl.col("vs") == 2).then(pl.lit("UNK")).otherwise(pl.col("amt") + "mg " + pl.col("freq")),
        dose_amt=pl.when(pl.col("dk") == 0).then(pl.col("amt")).otherwise(pl.lit("")),
        dose_unit=pl.when(pl.col("dk") == 0).then(pl.col("unit")).otherwise(pl.lit("")),
        dose_freq=pl.when((pl.col("dk") == 0) & pl.col("fo")).then(pl.col("freq")).otherwise(pl.lit("")),
    )
    dcols = {
        "drugname": _pick(flat_names, ing * 3 + variant), "prod_ai": _pick(V["prod_ai"], ing),
        "val_vbm": _pick(("1", "2"), val2.astype(np.int64)),
        "route": _pick(("Oral", "", "Subcutaneous", "Intravenous", "Topical", "Transdermal", "Intramuscular",
                        "Unknown", "Inhalation"), route_i),
        "dose_form": _pick(("", "Tablet", "Film-coated tablet", "Capsule", "Solution for injection",
                            "TABLET, FILM COATED", "Injection", "Oral solution", "Capsule, hard"), form_i),
        "indi_pt": _pick(world.INDICATION_PTS, indi_i),
        "_dose_truth": pl.repeat(None, D, dtype=U, eager=True),
        **{c: text[c] for c in text.columns},
    }
    for c, parts in over.items():
        if parts:
            idx = np.concatenate([p[0] for p in parts])
            val = np.concatenate([np.asarray(p[1], dtype=object) for p in parts])
            dcols[c] = dcols[c].scatter(idx, pl.Series(val.tolist(), dtype=U))
    dcols = messy_drug_strings(dcols, year, q, seed, d_focal, focal_names, exclude=lat)
    dn = dcols["drugname"]
    if legacy:
        bs = np.where(rng.random(D) < 2e-4)[0]
        dn = dn.scatter(bs, dn.gather(bs) + "\x08")
    if (year, q) >= (2025, 3):
        tb = np.where(rng.random(D) < 2e-4)[0]
        dn = dn.scatter(tb, dn.gather(tb) + "\t10 MG")
    if layout.has_bom("DRUG", year, q):
        dn = dn.str.replace_all("\xc8", "E").str.replace_all("\xc9", "E")
    dcols["drugname"] = dn

    # reactions: background draws, planted extras, pump context
    n_reac = 1 + _nb(rng, R, NB_REAC, 30)
    r_rep = np.repeat(np.arange(R), n_reac)
    r_class = np.where(fsel >= 0, 0, V["drug_class"][ing[starts]])[r_rep]
    u = rng.random(len(r_rep))
    r_pt = np.empty(len(r_rep), dtype=np.int64)
    for c in range(DRUG_CLASSES):  # one vectorised draw per drug class
        rows = np.flatnonzero(r_class == c)
        r_pt[rows] = np.searchsorted(V["class_cdf"][c], u[rows], side="right")
    r_pt = r_pt.clip(0, len(V["pts"]) - 1)
    extra_rep, extra_pt, planted_rows = [r_rep], [r_pt], []
    for ingredient, attrs in fattr_all.items():
        sus = attrs["suspect"]
        if not sus.any():
            continue
        a = {key: val[sus] for key, val in attrs.items() if isinstance(val, np.ndarray) and len(val) == len(sus)}
        names, _, _, _ = focal_profile(ingredient)
        cols = np.array([V["pt_index"][p] for p in names])
        b = V["b"][cols]
        m = planted_rr(ingredient, a)
        qprob = np.clip((m - 1.0) * b / (1.0 - b), 0.0, 1.0)
        hit = rng.random(m.shape) < qprob
        ri, ci = np.nonzero(hit)
        extra_rep.append(a["reports"][ri])
        extra_pt.append(cols[ci])
        planted_rows += _accumulate(ingredient, a, m, b)
        if ingredient == "baclofen" and a["pump"].any():
            pr = a["reports"][a["pump"]]
            npump = 1 + (rng.random(len(pr)) < 0.4)
            prr = np.repeat(pr, npump)
            ppt = np.array([V["pt_index"][p] for p in world.PUMP_PTS])[_cat(rng, len(prr), world.PUMP_PT_WEIGHTS)]
            extra_rep.append(prr)
            extra_pt.append(ppt)
    reac = (pl.DataFrame({"rep": np.concatenate(extra_rep), "pt_i": np.concatenate(extra_pt)})
            .unique(subset=["rep", "pt_i"], keep="first", maintain_order=True)
            .sort("rep", maintain_order=True))
    pts_written = [world.OLD_PT.get(p, p) if old_pts else p for p in V["pts"]]
    reac = reac.with_columns(pt=_pick(pts_written, reac["pt_i"].to_numpy()))

    # outcomes
    serious = rng.random(R) < 0.65
    n_out = np.where(serious, 1 + (rng.random(R) < 0.3), 0)
    o_rep = np.repeat(np.arange(R), n_out)
    o_cod = np.array(["OT", "HO", "DE", "LT", "DS", "RI", "CA"])[_cat(rng, len(o_rep), [50, 30, 8, 5, 4, 2, 1])]
    outc = pl.DataFrame({"rep": o_rep, "outc_cod": o_cod}).unique(maintain_order=True)
    # report sources
    rp = np.where(rng.random(R) < 0.03)[0]
    rpsr = pl.DataFrame({"rep": rp, "rpsr_cod": np.array(["FGN", "HP", "LIT", "CSM", "DIST", "SDY", "MFR", "UF"])[
        _cat(rng, len(rp), [20, 25, 20, 15, 5, 5, 5, 5])]})

    # DEMO text
    age_kind = _cat(rng, R, [0.30, 0.60, 0.01, 0.035, 0.01, 0.02, 0.008, 0.003, 0.002, 0.012])
    age_kind = np.where(dup_orig, 1, age_kind)
    years = np.where(rng.random(R) < 0.1, rng.integers(0, 18, R), np.clip(rng.normal(55, 17, R), 18, 99)).astype(int)
    num = np.select([age_kind == 1, age_kind == 2, age_kind == 3, age_kind == 4, age_kind == 5, age_kind == 6,
                     age_kind == 7, age_kind == 8],
                    [years, 1 + years // 10, rng.integers(1, 24, R), rng.integers(1, 53, R), rng.integers(1, 61, R),
                     rng.integers(1, 73, R), rng.integers(1, 60, R), rng.integers(1, 60, R)], 0)
    age_cod = np.array(["", "YR", "DEC", "MON", "WK", "DY", "HR", "MIN", "SEC", ""], dtype=object)[age_kind]
    age = num.astype(str).astype(object)
    junk = age_kind == 9
    jk = rng.integers(0, 3, R)
    age = np.where(junk, np.select([jk == 0, jk == 1], ["U", "-" + age], "0"), age)
    age_cod = np.where(junk & (jk != 0), "YR", age_cod)
    age = np.where(age_kind == 0, "", age)
    approx = np.select([age_kind == 1, age_kind == 2, age_kind == 3, age_kind == 4, age_kind == 5],
                       [years, num * 10, num / 12, num / 52, num / 365], 0.001)
    grp = np.array(["N", "I", "C", "T", "A", "E"], dtype=object)[np.searchsorted([28 / 365, 2, 12, 18, 65], approx, side="right")]
    age_grp = np.where((age_kind >= 1) & (age_kind <= 8) & (rng.random(R) < 0.4), grp, "")
    if era == "faers":
        sex = np.array(["F", "M", ""], dtype=object)[_cat(rng, R, [0.58, 0.38, 0.04])]
    else:
        sexes = ["F", "M", "UNK", "NS"]
        w = [0.58, 0.38, 0.03, 0.01 if legacy or (year, q) >= (2013, 1) else 0.0]
        sex = np.array(sexes, dtype=object)[_cat(rng, R, w)]
    sex = np.where(dup_orig, np.where(rng.random(R) < 0.6, "F", "M"), sex)
    wkind = _cat(rng, R, [0.72, 0.25, 0.03])
    wt = np.where(wkind == 1, np.round(rng.normal(75, 18, R).clip(3, 200)).astype(int).astype(str),
                  np.where(wkind == 2, np.round(rng.normal(165, 40, R).clip(7, 440)).astype(int).astype(str), ""))
    wt_cod = np.array(["", "KG", "LBS"], dtype=object)[wkind]
    occ = ["MD", "CN", "PH", "HP" if year >= 2020 else "OT", "LW", ""]
    occp = np.array(occ, dtype=object)[_cat(rng, R, [35, 35, 10, 10, 3, 7])]
    firm_i = rng.integers(0, len(world.FIRMS), R)
    firm_code = np.array([f[0] for f in world.FIRMS], dtype=object)[firm_i]
    firm_name = np.array([f[1] for f in world.FIRMS], dtype=object)[firm_i]
    mfr_code_cc = np.where(ctry_code == "COUNTRY NOT SPECIFIED", "US", ctry_code)
    mfr_num = (mfr_code_cc + "-" + firm_code + "-" + (year - rng.integers(0, 3, R)).astype(str)
               + np.char.zfill(rng.integers(0, 999999, R).astype(str), 6).astype(object))
    direct = rept == "DIR"
    mfr_num = np.where(direct, "", mfr_num)
    mfr_sndr = np.where(direct, "" if legacy else "FDA-CTU", firm_name)
    lit = np.where(rng.random(R) < 0.02,
                   np.array(["Smith J, Lee K. Baclofen toxicity: a case report. J Med Toxicol. 2019;15(2):123-5.",
                             "O'Brien P. Intrathecal pump failure #2 and withdrawal. Neuromodulation. 2021;24:88-91.",
                             "Dupont A. \"Sevrage\" au baclofene. Rev Med Interne. 2016;37:12-4."], dtype=object)[rng.integers(0, 3, R)], "")
    auth = np.where(rng.random(R) < 0.03, mfr_code_cc + "-" + "MHRA-" + np.char.zfill(rng.integers(0, 99999999, R).astype(str), 8).astype(object), "")

    demo = pl.DataFrame({
        "rep": np.arange(R), "caseid_i": caseid, "version_i": version,
        "i_f_code": np.where(is_new & (version == 1), "I", "F"),
        "event_dt": event_dt, "mfr_dt": np.where(direct, "", _ymd(fda - rng.integers(0, 15, R)).to_numpy()),
        "init_fda_dt": _ymd(init), "fda_dt": _ymd(fda), "rept_cod": rept, "auth_num": auth,
        "mfr_num": mfr_num, "mfr_sndr": mfr_sndr, "lit_ref": lit, "age": age, "age_cod": age_cod,
        "age_grp": age_grp, "sex": sex, "e_sub": "Y", "wt": wt, "wt_cod": wt_cod,
        "rept_dt": _ymd(fda - rng.integers(0, 4, R)), "to_mfr": "", "occp_cod": occp,
        "reporter_country": ctry, "occr_country": occr,
        "dup_orig": dup_orig,
    }, strict=False)
    if legacy:
        demo = demo.with_columns(
            e_sub=pl.Series(np.where(rng.random(R) < 0.9, "Y", "N")),
            death_dt=pl.Series(np.where(rng.random(R) < 0.02, _ymd(event_days).to_numpy(), "")),
            confid=pl.Series(np.where(rng.random(R) < 0.1, "N", "")))

    nda = V["nda"][ing]
    drug = pl.DataFrame({
        "rep": d_rep, "drug_seq_i": d_seq, "role_cod": _pick(("PS", "SS", "C", "I"), role_i), **dcols,
        "cum_on": rng.random(D) < 0.02, "s": s,
        "dechal": _pick(("", "Y", "N", "U", "D"), _cat(rng, D, [40, 15, 10, 25, 10])),
        "rechal": _pick(("", "Y", "N", "U", "D"), _cat(rng, D, [40, 3, 7, 40, 10] if not (
            (2012, 4) <= (year, q) <= (2015, 3)) else [5, 1, 2, 7, 85])),
        "lot_on": rng.random(D) < 0.03, "lot": rng.integers(1000, 99999, D),
        "exp_on": rng.random(D) < 0.01, "exp": year + rng.integers(0, 3, D),
        "nda_on": (nda >= 0) & (rng.random(D) < 0.6), "nda": nda,
        "focal": d_focal,
    })
    blank = pl.lit("")
    drug = drug.with_columns(
        cum_dose_chr=pl.when("cum_on").then((pl.col("s") * 30).cast(U)).otherwise(blank),
        cum_dose_unit=pl.when("cum_on").then(pl.lit("MG")).otherwise(blank),
        lot_num=pl.when("lot_on").then("LOT" + pl.col("lot").cast(U)).otherwise(blank),
        exp_dt=pl.when("exp_on").then(pl.col("exp").cast(U)).otherwise(blank),
        nda_num=pl.when("nda_on").then(pl.col("nda").cast(U).str.zfill(6)).otherwise(blank),
    ).drop("cum_on", "s", "lot_on", "lot", "exp_on", "exp", "nda_on", "nda")
    if (year, q) >= (2024, 4):  # one drug over several DRUG rows (one per dosing regimen)
        again = drug.filter(pl.Series(rng.random(D) < 0.02))
        again = again.with_columns(dose_amt=pl.when(pl.col("dose_amt") != "").then(pl.col("dose_amt") + "0").otherwise(pl.lit("")),
                                   _dose_truth=pl.lit(None, dtype=U))
        drug = pl.concat([drug, again]).sort(["rep", "drug_seq_i"], maintain_order=True)
    D = drug.height
    indi = drug.filter(pl.Series(rng.random(D) < np.where(drug["focal"].to_numpy() >= 0, 0.9, 0.6))).select(
        "rep", "drug_seq_i", "indi_pt").unique(subset=["rep", "drug_seq_i"], keep="first", maintain_order=True)
    tsel = drug.filter(pl.Series(rng.random(D) < np.where(drug["focal"].to_numpy() >= 0, 0.5, 0.22))).select("rep", "drug_seq_i")
    T = tsel.height
    t_start = fda[tsel["rep"].to_numpy()] - rng.integers(10, 2000, T)
    t_len = rng.integers(1, 700, T)
    has_end = rng.random(T) < 0.5
    has_dur = has_end & (rng.random(T) < 0.5)
    ther = tsel.with_columns(
        start_dt=_imprecise(rng, t_start, q_end, 0.2, 0.005),
        end_dt=pl.Series(np.where(has_end, _ymd(t_start + t_len).to_numpy(), "")),
        dur=pl.Series(np.where(has_dur, t_len.astype(str), "")),
        dur_cod=pl.Series(np.where(has_dur, "DAY", "")),
    )
    if legacy:  # legacy text is upper case
        up = lambda df, cols: df.with_columns([pl.col(c).str.to_uppercase() for c in cols])  # noqa: E731
        drug = up(drug, ["drugname", "route", "dose_vbm", "dose_form", "indi_pt"])
        indi = up(indi, ["indi_pt"])
        reac = up(reac, ["pt"])
    elif era == "faers_early":
        drug = drug.with_columns(pl.col("route").str.to_uppercase())

    # duplicate copies: same patient / event / drugs / reactions, new caseid and sender
    if len(orig_idx):
        cmap = pl.DataFrame({"rep": orig_idx, "new_rep": R + np.arange(len(orig_idx))})
        def copy(df):  # noqa: E306
            return df.join(cmap, on="rep").with_columns(rep=pl.col("new_rep")).drop("new_rep")
        cd = copy(demo).with_columns(
            caseid_i=pl.Series(copy_ids), version_i=pl.lit(1, dtype=pl.Int64), i_f_code=pl.lit("I"),
            rept_cod=pl.lit("DIR"), mfr_num=pl.lit(""), mfr_sndr=pl.lit("" if legacy else "FDA-CTU"),
            occp_cod=pl.lit("CN"))
        demo = pl.concat([demo, cd], how="vertical_relaxed")
        drug = pl.concat([drug, copy(drug)])
        reac = pl.concat([reac, copy(reac)])
        outc = pl.concat([outc, copy(outc)])
        indi = pl.concat([indi, copy(indi)])
        ther = pl.concat([ther, copy(ther)])
    dups = pl.DataFrame({"caseid": copy_ids, "original": caseid[orig_idx]})

    # keys: FAERS primaryid = caseid and version written together; legacy ISR = running number
    demo = demo.sort(["caseid_i", "version_i"])
    if legacy:
        demo = demo.with_columns(primaryid_i=bases.isr_base(k) + pl.int_range(pl.len(), dtype=pl.Int64))
    else:
        demo = demo.with_columns(primaryid_i=(pl.col("caseid_i").cast(U) + pl.col("version_i").cast(U)).cast(pl.Int64))
    demo = demo.sort("primaryid_i")
    demo = demo.with_columns(primaryid=pl.col("primaryid_i").cast(U), caseid=pl.col("caseid_i").cast(U))
    rank = np.empty(demo.height, dtype=np.int64)  # DEMO position of each report
    rank[demo["rep"].to_numpy()] = np.arange(demo.height)

    def attach(df, extra_sort=()):
        """Child rows in DEMO's primaryid order (one gather, no join), with their keys."""
        r = rank[df["rep"].to_numpy()]
        perm = np.lexsort([df[c].to_numpy() for c in reversed(extra_sort)] + [r]) if extra_sort else np.argsort(r, kind="stable")
        at = pl.Series(r[perm])
        return df[perm].with_columns(primaryid=demo["primaryid"].gather(at), caseid=demo["caseid"].gather(at))

    drug = attach(drug, ["drug_seq_i"])
    if legacy:  # DRUG_SEQ is a global id
        first = drug.select("rep", "drug_seq_i").unique(maintain_order=True).with_columns(
            gseq=(pl.lit(1_000_000_000 + k * 20_000_000, dtype=pl.Int64) + pl.int_range(pl.len(), dtype=pl.Int64)))
        drug = drug.join(first, on=["rep", "drug_seq_i"], maintain_order="left")
        seqmap = first
    else:
        drug = drug.with_columns(gseq=pl.col("drug_seq_i"))
        seqmap = drug.select("rep", "drug_seq_i", "gseq").unique(maintain_order=True)
    drug = drug.with_columns(drug_seq=pl.col("gseq").cast(U))
    indi = attach(indi.join(seqmap, on=["rep", "drug_seq_i"]), ["drug_seq_i"]).with_columns(
        indi_drug_seq=pl.col("gseq").cast(U))
    ther = attach(ther.join(seqmap, on=["rep", "drug_seq_i"]), ["drug_seq_i"]).with_columns(
        dsg_drug_seq=pl.col("gseq").cast(U))
    reac = attach(reac).with_columns(drug_rec_act=pl.lit(""))
    outc = attach(outc)
    rpsr = attach(rpsr)
    demo = demo.with_columns(caseversion=pl.lit("") if legacy else pl.col("version_i").cast(U))
    if legacy:
        demo = demo.with_columns(image=pl.col("primaryid") + "-" + (pl.col("primaryid_i") % 7).cast(U))

    # broken lines planted at DataFrame level (DEMO); DRUG two-records are joined by the writer
    n_demo = demo.height
    eligible = np.where(~demo["dup_orig"].to_numpy() & ~np.isin(demo["caseid_i"].to_numpy(), copy_ids))[0]
    def choose(n_min, n_rows, pool):  # noqa: E306
        n = max(n_min, int(round(broken_rate * n_rows)))
        n = min(n, max(0, len(pool) // 4))
        return np.sort(rng.choice(pool, n, replace=False)) if n else np.zeros(0, dtype=np.int64)
    dollar = choose(1, n_demo, eligible)
    split = choose(2, n_demo, np.setdiff1d(eligible, dollar)) if legacy else np.zeros(0, dtype=np.int64)
    term = layout.line_ending("DEMO", year, q)
    mfr_num_col = demo["mfr_num"].to_numpy().astype(object)
    cc = np.where(demo["mfr_num"].str.len_chars().to_numpy() > 2, demo["mfr_num"].str.slice(0, 2).to_numpy(), "JP")
    mfr_num_col[dollar] = cc[dollar] + "-CUBIST-$E2B" + np.char.zfill(rng.integers(0, 9_999_999, len(dollar)).astype(str), 10).astype(object)
    sndr = demo["mfr_sndr"].to_numpy().astype(object)
    sndr[split] = "JOHNSON AND" + term + "JOHNSON"
    demo = demo.with_columns(mfr_num=pl.Series(mfr_num_col, dtype=U), mfr_sndr=pl.Series(sndr, dtype=U))
    two = np.zeros(0, dtype=np.int64)
    if legacy and drug.height > 10:
        two = choose(2, drug.height, np.arange(0, drug.height - 1, 2))

    # what a correct reader+deduplicator will see: per DEMO report, with duplicate keys
    dset = drug.group_by("rep").agg(dh=pl.col("drugname").str.strip_chars().str.to_uppercase().unique().hash().sum())
    rset = reac.group_by("rep").agg(rh=pl.col("pt").str.to_lowercase().unique().hash().sum())
    quarantined = np.zeros(n_demo, bool)
    quarantined[dollar] = True
    country = pl.col("reporter_country") if not (legacy and (year, q) < (2005, 3)) else pl.lit("")
    age = pl.col("age").cast(pl.Float64, strict=False)
    matchable = ((pl.col("event_dt") != "") & (age > 0) & (pl.col("age_cod") != "") & pl.col("sex").is_in(["M", "F"])
                 & ~country.is_in(["", "COUNTRY NOT SPECIFIED"]) & pl.col("dh").is_not_null() & pl.col("rh").is_not_null())
    dup_key = pl.struct("event_dt", "age", "age_cod", "sex", country.alias("c"), "dh", "rh").hash(seed=0)
    demo_keys = (demo.join(dset, on="rep", how="left").join(rset, on="rep", how="left")
                 .select("caseid_i", "version_i", "primaryid_i",
                         fda=pl.col("fda_dt").cast(pl.Int32), k=pl.lit(k, dtype=pl.Int32),
                         quarantined=pl.Series(quarantined), dup_key=pl.when(matchable).then(dup_key)))

    planted = pl.DataFrame(planted_rows, schema={"drug": U, "event": U, "subset": U, "s": pl.Float64,
                                                 "n": pl.Int64, "bg": pl.Float64})
    quirks = {"DEMO": {"dollar": dollar, "split": split}, "DRUG": {"two": two}}
    return QuarterData(year, q, {"DEMO": demo, "DRUG": drug, "REAC": reac, "OUTC": outc, "RPSR": rpsr,
                                 "THER": ther, "INDI": indi}, quirks, demo_keys, planted, dups,
                       doses=dosing.dose_rows(drug, f"{year}Q{q}"))
