"""Optional licensed MedDRA hierarchy (PT -> HLT -> HLGT -> SOC).

No MedDRA licence is assumed (domain.md): without one, ``hierarchy()`` returns None and
every stage works on PT names. A user with a licence sets ``PV_MEDDRA`` to the folder of a
MedDRA ASCII release; its ``mdhier.asc`` ($-separated: pt_code, hlt_code, hlgt_code,
soc_code, pt_name, hlt_name, hlgt_name, soc_name, soc_abbrev, null, pt_soc_code,
primary_soc_fg) gives each PT its primary-SOC path. Nothing of MedDRA is shipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from pv.errors import PvError

MEDDRA_ENV = "PV_MEDDRA"
MDHIER_FIELDS = ("pt_code", "hlt_code", "hlgt_code", "soc_code", "pt_name", "hlt_name", "hlgt_name",
                 "soc_name", "soc_abbrev", "null_field", "pt_soc_code", "primary_soc_fg")


def hierarchy() -> pl.DataFrame | None:
    """(key = lower-case PT, pt = MedDRA's own spelling, hlt, hlgt, soc) on the primary SOC
    path, or None without MedDRA."""
    folder = os.environ.get(MEDDRA_ENV)
    if not folder:
        return None
    path = next((p for p in Path(folder).expanduser().glob("*") if p.name.lower() == "mdhier.asc"), None)
    if path is None:
        raise PvError(f"{folder}: no mdhier.asc in ${MEDDRA_ENV} (a MedDRA ASCII release folder)")
    lines = [ln.rstrip("\r") for ln in path.read_text(encoding="utf-8", errors="replace").split("\n") if ln.strip()]
    rows = []
    for number, line in enumerate(lines, start=1):
        fields = line.split("$")
        if fields and fields[-1] == "":
            fields = fields[:-1]
        if len(fields) != len(MDHIER_FIELDS):
            raise PvError(f"{path}: line {number}: {len(fields)} fields, expected {len(MDHIER_FIELDS)}")
        rows.append(fields)
    frame = pl.DataFrame(rows, schema=list(MDHIER_FIELDS), orient="row")
    return (
        frame.filter(pl.col("primary_soc_fg").str.to_uppercase() == "Y")
        .select(pl.col("pt_name").str.to_lowercase().alias("key"), pl.col("pt_name").alias("pt"), pl.col("hlt_name").alias("hlt"),
                pl.col("hlgt_name").alias("hlgt"), pl.col("soc_name").alias("soc"))
        .unique(subset="key", keep="first", maintain_order=True)
    )
