"""Where the store's extracts came from: FDA, the simulator, or not verifiable.

A report on simulated data must say so loudly. Nothing in the store marks a quarter as
simulated (the manifest keeps the zip's name and sha256, which look like FDA's), so the
origin is decided per ingested source, from evidence found beside the store:

- rule ``sim-evidence`` (default on): a zip under ``<home>/simulated`` or ``<home>/raw``
  with the manifest's name AND sha256 that carries the simulator's placeholder notes
  member (``pv.faers.simulate.writer.PLACEHOLDER_PDF``) or has ``ground_truth.csv`` beside
  it is simulated;
- rule ``fda-download``: a source whose sha256 is in the manifest's downloads table
  (``pvmon fetch`` from FDA's site) is FDA's;
- anything else is "not verified" (ingested from a path the store does not keep).

The report's data-source line is SIMULATED when any source is simulated, FDA FAERS when
all are verified downloads, else "not verified" with a caution.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pv.config import Home

SIMULATED, FDA, UNVERIFIED = "simulated", "fda", "not verified"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _has_simulator_marker(path: Path) -> bool:
    from pv.faers.simulate.writer import PLACEHOLDER_PDF

    if (path.parent / "ground_truth.csv").is_file():
        return True
    try:
        with zipfile.ZipFile(path) as zf:
            return any(info.file_size == len(PLACEHOLDER_PDF) and zf.read(info) == PLACEHOLDER_PDF
                       for info in zf.infolist() if info.filename.lower().endswith(".pdf"))
    except (OSError, zipfile.BadZipFile):
        return False


@dataclass
class DataSource:
    kind: str  # simulated | fda | not verified
    per_source: dict[str, str]  # source name -> kind

    @property
    def simulated(self) -> bool:
        return self.kind == SIMULATED

    def describe(self) -> str:
        if self.kind == SIMULATED:
            n = sum(v == SIMULATED for v in self.per_source.values())
            return (f"SIMULATED FAERS-shaped extracts (pvmon simulate; {n} of {len(self.per_source)} sources), "
                    "with planted signals: NOT FDA data, not for regulatory decisions")
        if self.kind == FDA:
            return "FDA FAERS quarterly ASCII extracts, downloaded by pvmon fetch (sha256 in the appendix)"
        return ("FAERS quarterly extracts ingested from local files: origin not verified by pvmon "
                "(compare the sha256 in the appendix with the files FDA publishes)")


def data_source(home: Home, sources: list[dict], downloads: list[dict]) -> DataSource:
    """Classify every manifest source (name, sha256) by the rules above."""
    downloaded = {d["sha256"] for d in downloads}
    candidates = {}
    for folder in (home.root / "simulated", home.raw):
        if folder.is_dir():
            for path in sorted(folder.glob("*.zip")):
                candidates.setdefault(path.name, []).append(path)
    per_source = {}
    for src in sources:
        name, sha = src["source"], src["sha256"]
        kind = FDA if sha in downloaded else UNVERIFIED
        for path in candidates.get(Path(name).name, []):
            if path.stat().st_size == src["bytes"] and _sha256(path) == sha and _has_simulator_marker(path):
                kind = SIMULATED
                break
        per_source[name] = kind
    kinds = set(per_source.values())
    overall = SIMULATED if SIMULATED in kinds else FDA if kinds == {FDA} else UNVERIFIED
    return DataSource(overall, per_source)
