"""The receptor-density map (seeds/receptor_map.csv): loader and validator.

The map ties each MedDRA PT to a symptom domain, the brain region held responsible, that
region's GABA-B receptor density and the evidence grades (domain.md, "Symptom domain ->
region -> PTs"). Every later step (annotation, domain-level signals, the density test)
trusts it, so it is checked on load and a bad row stops everything with file and line.

Rules checked (each a ``PvError("<file>: line N: <reason>")``):
- every row has pt, domain, region, density, grades, role, evidence, source and version;
- density is high | medium | low | not_ranked, and density_rank agrees with the tier
  (high 3-4, medium 2, low 1, not_ranked blank); grades are D | I;
- no (pt, domain) pair twice (case-insensitive);
- one region has one density and one rank; one domain has one region;
- every pt is spelled as MedDRA spells it (seeds/meddra_pt_spellings.csv, exact).
"""

from __future__ import annotations

import difflib
import io
from pathlib import Path

import polars as pl

from pv.errors import PvError
from pv.vocab.seeds import SHIPPED_SEEDS, override_path

RECEPTOR_MAP = SHIPPED_SEEDS / "receptor_map.csv"
PT_SPELLINGS = SHIPPED_SEEDS / "meddra_pt_spellings.csv"
MECHANISM_ROLES = SHIPPED_SEEDS / "mechanism_roles.csv"
DOMAIN_REGIONS = SHIPPED_SEEDS / "domain_regions.csv"
MECHANISM_PLAN = SHIPPED_SEEDS / "mechanism_plan.csv"

COLUMNS = (
    "pt", "domain", "region", "density", "density_rank", "density_grade", "link_grade",
    "role", "evidence", "source", "version",
)
DENSITY_RANKS = {"high": (3, 4), "medium": (2,), "low": (1,), "not_ranked": ()}
GRADES = ("D", "I")
ROLES = ("effect", "paradoxical")


def read_seed(path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    """A seed CSV as Utf8 columns plus ``line`` (1-based physical line in the file).

    Seeds open with ``#`` comment lines (name, version, provenance); blank lines are
    allowed. Line numbers are kept so that every validation error can name the line.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise PvError(f"{path}: cannot read seed ({err.strerror})") from err
    kept = [(n, text) for n, text in enumerate(lines, 1) if text.strip() and not text.startswith("#")]
    if not kept:
        raise PvError(f"{path}: empty seed (no header)")
    body = "\n".join(text for _, text in kept) + "\n"
    try:
        frame = pl.read_csv(io.StringIO(body), infer_schema=False)
    except pl.exceptions.PolarsError as err:
        raise PvError(f"{path}: not a valid CSV ({str(err).splitlines()[0]})") from err
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise PvError(f"{path}: line {kept[0][0]}: missing columns {', '.join(missing)}")
    if frame.height != len(kept) - 1:
        raise PvError(f"{path}: quoted field spans lines; one record per line expected")
    line_numbers = pl.Series("line", [n for n, _ in kept[1:]], dtype=pl.Int64)
    return frame.select(
        [pl.col(c).str.strip_chars().replace("", None).alias(c) for c in columns]
    ).with_columns(line_numbers)


def _fail_on(frame: pl.DataFrame, bad: pl.Expr, path: Path, reason: str) -> None:
    """Raise for the first row where ``bad`` holds, naming its line and ``reason``."""
    hit = frame.filter(bad)
    if hit.height:
        row = hit.row(0, named=True)
        raise PvError(f"{path}: line {row['line']}: {reason.format(**row)}")


def _differs_from_first(column: str, group: str) -> pl.Expr:
    """True where ``column`` differs (nulls compared as values) from its first value in ``group``."""
    return pl.col(column).ne_missing(pl.col(column).first().over(group))


def load_pt_spellings(path: Path | None = None) -> frozenset[str]:
    """The curated MedDRA PT spellings (exact strings), plus the user's ``$PV_SEEDS`` list if any."""
    paths = [path] if path is not None else [PT_SPELLINGS, override_path("meddra_pt_spellings")]
    return frozenset(pt for p in paths if p is not None for pt in read_seed(p, ("pt",))["pt"].drop_nulls())


def load_receptor_map(path: Path | None = None, spellings: Path | None = None) -> pl.DataFrame:
    """The validated receptor map: one row per (pt, domain), ``density_rank`` as Int64.

    Rule ``receptor-map-override`` (default: none): a ``receptor_map.csv`` in ``$PV_SEEDS``
    REPLACES the shipped map as a whole (a partial map would silently mix two sets of
    density ranks), and is validated the same way; a ``meddra_pt_spellings.csv`` there
    EXTENDS the curated spellings, for PTs the shipped list lacks.
    """
    path = Path(path or override_path("receptor_map") or RECEPTOR_MAP)
    raw = read_seed(path, COLUMNS)
    for column in COLUMNS:
        if column != "density_rank":
            _fail_on(raw, pl.col(column).is_null(), path, f"empty {column}")
    _fail_on(raw, ~pl.col("density").is_in(list(DENSITY_RANKS)), path,
             "density {density!r} is not one of high, medium, low, not_ranked")
    for column in ("density_grade", "link_grade"):
        _fail_on(raw, ~pl.col(column).is_in(GRADES), path, f"{column} {{{column}!r}} is not D or I")
    _fail_on(raw, ~pl.col("role").is_in(ROLES), path, "role {role!r} is not effect or paradoxical")

    rank = pl.col("density_rank").cast(pl.Int64, strict=False)
    _fail_on(raw, pl.col("density_rank").is_not_null() & rank.is_null(), path,
             "density_rank {density_rank!r} is not an integer")
    frame = raw.with_columns(rank.alias("density_rank"))
    allowed = pl.col("density").replace_strict(
        {k: list(v) for k, v in DENSITY_RANKS.items()}, return_dtype=pl.List(pl.Int64)
    )
    agrees = pl.when(pl.col("density_rank").is_null()).then(pl.col("density") == "not_ranked").otherwise(
        allowed.list.contains(pl.col("density_rank"))
    )
    _fail_on(frame, ~agrees, path, "density_rank {density_rank} does not fit density {density!r}")

    key = [pl.col("pt").str.to_lowercase(), pl.col("domain")]
    _fail_on(frame, pl.struct(key).is_duplicated() & ~pl.struct(key).is_first_distinct(), path,
             "duplicate (pt, domain) = ({pt}, {domain})")
    _fail_on(frame, _differs_from_first("density", "region") | _differs_from_first("density_rank", "region"),
             path, "region {region!r} given a second density ({density}, rank {density_rank})")
    _fail_on(frame, _differs_from_first("region", "domain"), path,
             "domain {domain!r} given a second region {region!r}")

    known = load_pt_spellings(spellings)
    unknown = frame.filter(~pl.col("pt").is_in(list(known)))
    if unknown.height:
        row = unknown.row(0, named=True)
        near = difflib.get_close_matches(row["pt"], known, n=1, cutoff=0.6)
        hint = f" (MedDRA spells it {near[0]!r})" if near else ""
        raise PvError(f"{path}: line {row['line']}: PT {row['pt']!r} is not a MedDRA PT spelling{hint}")
    return frame


def pt_domains(rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """Plain ``pt -> domain`` table for domain-level signals (effect rows only).

    Paradoxical rows (e.g. Muscle spasticity under motor tone: the indication itself and a
    withdrawal sign) are annotated but do not count towards a domain's signal.
    """
    rmap = load_receptor_map() if rmap is None else rmap
    return rmap.filter(pl.col("role") == "effect").select("pt", "domain").unique(maintain_order=True)


def domain_density(rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per domain: its region, density tier, numeric rank and density grade."""
    rmap = load_receptor_map() if rmap is None else rmap
    return rmap.group_by("domain", maintain_order=True).agg(
        pl.col("region").first(), pl.col("density").first(), pl.col("density_rank").first(),
        pl.col("density_grade").first(),
    )


MECHANISM_ROLE_NAMES = ("hypothesis", "positive_control", "gabaergic_comparator", "negative_control", "other_comparator")


def load_mechanism_roles(path: Path = MECHANISM_ROLES) -> pl.DataFrame:
    """Each drug's pharmacological role in the density test (``MECHANISM_ROLE_NAMES``, seed header)."""
    frame = read_seed(Path(path), ("drug", "role", "mechanism", "source", "gabab_agonist"))
    _fail_on(frame, ~pl.col("gabab_agonist").is_in(["yes", "no"]), Path(path),
             "gabab_agonist {gabab_agonist!r} is not yes or no")
    _fail_on(frame, ~pl.col("role").is_in(list(MECHANISM_ROLE_NAMES)), Path(path),
             "role {role!r} is not one of " + ", ".join(MECHANISM_ROLE_NAMES))
    _fail_on(frame, pl.col("drug").is_duplicated() & ~pl.col("drug").is_first_distinct(), Path(path),
             "drug {drug!r} listed twice")
    return frame.with_columns(
        pl.col("drug").str.to_lowercase(), (pl.col("gabab_agonist") == "yes").alias("gabab_agonist")
    ).drop("line")


def load_domain_regions(path: Path = DOMAIN_REGIONS, rmap: pl.DataFrame | None = None) -> pl.DataFrame:
    """The regions of each ranked domain (seeds/domain_regions.csv), one row per (domain, region).

    Checked against the receptor map: every ranked domain of the map has at least one region here,
    no domain here is missing from the map (or unranked there), each rank fits its tier, and the
    map's ``density_rank`` is the lowest of the domain's region ranks (the map's documented rule).
    """
    path = Path(path)
    rmap = load_receptor_map() if rmap is None else rmap
    raw = read_seed(path, ("domain", "region", "density", "density_rank", "evidence", "version"))
    for column in ("domain", "region", "density", "density_rank", "version"):
        _fail_on(raw, pl.col(column).is_null(), path, f"empty {column}")
    rank = pl.col("density_rank").cast(pl.Int64, strict=False)
    _fail_on(raw, rank.is_null(), path, "density_rank {density_rank!r} is not an integer")
    frame = raw.with_columns(rank.alias("density_rank"))
    fits = pl.col("density").replace_strict({k: list(v) for k, v in DENSITY_RANKS.items()}, default=[],
                                            return_dtype=pl.List(pl.Int64)).list.contains(pl.col("density_rank"))
    _fail_on(frame, ~fits, path, "density_rank {density_rank} does not fit density {density!r}")
    _fail_on(frame, pl.struct("domain", "region").is_duplicated() & ~pl.struct("domain", "region").is_first_distinct(),
             path, "duplicate (domain, region) = ({domain}, {region})")
    ranked = domain_density(rmap).filter(pl.col("density_rank").is_not_null())
    _fail_on(frame, ~pl.col("domain").is_in(ranked["domain"].implode()), path,
             "domain {domain!r} is not a ranked domain of the receptor map")
    lowest = frame.group_by("domain").agg(pl.col("density_rank").min().alias("_low"), pl.col("line").min())
    check = ranked.join(lowest, on="domain", how="left")
    missing = check.filter(pl.col("_low").is_null())
    if missing.height:
        raise PvError(f"{path}: ranked domain {missing['domain'][0]!r} of the receptor map has no region here")
    _fail_on(check, pl.col("_low") != pl.col("density_rank"), path,
             "domain {domain!r}: lowest region rank {_low} differs from the receptor map's density_rank {density_rank}")
    return frame


PLAN_SETTINGS = {
    "primary_drug": None, "primary_rank_rule": ("lowest", "highest", "mean", "tier"),
    "headline_measure": ("ic",), "alternative": ("greater",), "alpha": None, "power": None,
    "contrast": ("negative_control",),
}


def load_mechanism_plan(path: Path = MECHANISM_PLAN) -> dict[str, dict[str, str]]:
    """The pre-specified plan (seeds/mechanism_plan.csv): setting -> {value, reason}.

    Every setting of ``PLAN_SETTINGS`` must be present once, with a reason; alpha and power are
    numbers in (0, 1).
    """
    path = Path(path)
    frame = read_seed(path, ("setting", "value", "reason"))
    for column in ("setting", "value", "reason"):
        _fail_on(frame, pl.col(column).is_null(), path, f"empty {column}")
    _fail_on(frame, ~pl.col("setting").is_in(list(PLAN_SETTINGS)), path, "unknown setting {setting!r}")
    _fail_on(frame, pl.col("setting").is_duplicated() & ~pl.col("setting").is_first_distinct(), path,
             "setting {setting!r} given twice")
    plan = {r["setting"]: {"value": r["value"], "reason": r["reason"], "line": r["line"]} for r in frame.iter_rows(named=True)}
    for setting, allowed in PLAN_SETTINGS.items():
        if setting not in plan:
            raise PvError(f"{path}: setting {setting!r} missing")
        value, line = plan[setting]["value"], plan[setting]["line"]
        if allowed is not None and value not in allowed:
            raise PvError(f"{path}: line {line}: {setting} {value!r} is not one of {', '.join(allowed)}")
        if setting in ("alpha", "power"):
            try:
                ok = 0 < float(value) < 1
            except ValueError:
                ok = False
            if not ok:
                raise PvError(f"{path}: line {line}: {setting} {value!r} is not a number between 0 and 1")
    return plan
