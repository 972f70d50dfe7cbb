"""Where the store lives and what is inside it (design.md, "The store").

``PV_HOME`` (default ``./pvdata``) holds every stage's output. Stages locate each other's
files only through ``Home`` so the layout is written down in one place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pv.errors import PvError

DEFAULT_HOME = "pvdata"


def env_number(name: str, default: float, what: str = "a number >= 0") -> float:
    """A finite number >= 0 from the environment variable ``name`` (unset or blank: ``default``);
    anything else is one line naming the variable and what it must be."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise PvError(f"{name}={text!r}: must be {what}")
    return value


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    """The store folder: the argument, else ``$PV_HOME``, else ``./pvdata``."""
    chosen = home or os.environ.get("PV_HOME") or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class Home:
    """Paths of the store, one attribute per stage."""

    root: Path

    @classmethod
    def at(cls, home: str | os.PathLike | None = None) -> "Home":
        """The store at ``home``; a file in its place is a one-line error, not a later OSError."""
        root = resolve_home(home)
        if root.exists() and not root.is_dir():
            raise PvError(f"{root}: the store (--home / $PV_HOME) is a file, not a folder")
        return cls(root)

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def staged(self) -> Path:
        return self.root / "staged"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def cases(self) -> Path:
        return self.root / "cases"

    @property
    def signals(self) -> Path:
        return self.root / "signals"

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def manifest(self) -> Path:
        return self.root / "pvmon.sqlite"
