"""Handmade FDA-shaped quarterly zips of any era (test helper, not the simulator).

Headers come from pv.faers.layouts.header_for; rows carry the era's field count
(legacy rows end with the extra ``$``). Values are deterministic, so two runs write the
same bytes.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from pv.faers import layouts

PER_REPORT = {"DEMO": 1, "DRUG": 4, "REAC": 3, "OUTC": 1, "RPSR": 1, "THER": 1, "INDI": 2}
IDS = {"isr", "primaryid"}


def table_bytes(table: str, year: int, q: int, n_reports: int, eol: str = "\n") -> bytes:
    header = layouts.header_for(table, year, q)
    legacy = layouts.era_of_quarter(year, q) == "laers"
    base = year * 100_000 + q * 10_000_000
    rows = []
    for i in range(n_reports):
        caseid = base + i
        for k in range(PER_REPORT[table]):
            values = []
            for col in header:
                name = col.strip().lower()
                if name in IDS:
                    values.append(f"{caseid}1")
                elif name in ("case", "caseid"):
                    values.append(str(caseid))
                elif name.endswith("seq"):
                    values.append(str(k + 1))
                elif name == "caseversion":
                    values.append("1")
                else:
                    values.append(f"{name[:4].upper()}{(i + k) % 97}" if (i + k) % 5 else "")
            rows.append("$".join(values) + ("$" if legacy else ""))
    return (eol.join(["$".join(header), *rows]) + eol).encode()


def member_name(table: str, year: int, q: int) -> str:
    folder = "ascii" if (year, q) < (2015, 1) else "ASCII"
    return f"{folder}/{table}{year % 100:02d}Q{q}.txt"


def write_zip(path: Path, year: int, q: int, n_reports: int, overrides: dict[str, bytes] | None = None,
              drop: tuple[str, ...] = ()) -> Path:
    """An FDA-like zip for one quarter; ``overrides`` replace members by name, ``drop``
    leaves tables out."""
    overrides = overrides or {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for table in layouts.TABLES:
            if table in drop:
                continue
            name = member_name(table, year, q)
            zf.writestr(name, overrides.get(table, table_bytes(table, year, q, n_reports)))
        for name, data in overrides.items():
            if name not in layouts.TABLES:
                zf.writestr(name, data)
        zf.writestr("ASCII/ASC_NTS.pdf", b"%PDF placeholder")
    return path


def fda_zip_name(year: int, q: int) -> str:
    prefix = "aers" if (year, q) <= (2012, 3) else "faers"
    return f"{prefix}_ascii_{year}q{q}.zip"
