"""The settings of one pipeline run, as a scheduler hands them over (the DAG's run conf).

Why strict: a typo such as ``{"path": [...]}`` for ``paths`` used to be ignored, and the run
fell through to downloading all of FAERS. Every key must be known and of its type, and a
quarter range must parse, before any work starts; the error names the key and, for a typo,
the key that was probably meant.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from pv.errors import PvError

_TYPES = {  # key -> (python type of the value, or of each item for lists; allows None; is a list)
    "home": (str, True, False),
    "paths": (str, False, True),
    "quarters": (str, True, False),
    "base_url": (str, True, False),
    "drugs": (str, False, True),
}


@dataclass(frozen=True)
class RunSettings:
    """home: the store (default $PV_HOME); paths: extracts to ingest instead of downloading;
    quarters: a range such as 2024Q1..2024Q4 to fetch (default: every published quarter);
    base_url: download base (default FDA); drugs: drugs to report (default: the watchlist)."""

    home: str | None = None
    paths: list[str] = field(default_factory=list)
    quarters: str | None = None
    base_url: str | None = None
    drugs: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, conf: Mapping[str, Any] | None) -> "RunSettings":
        """Settings from a mapping; unknown keys, wrong types and bad values are one PvError."""
        conf = dict(conf or {})
        unknown = sorted(set(conf) - set(_TYPES))
        if unknown:
            key = unknown[0]
            near = difflib.get_close_matches(key, list(_TYPES), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise PvError(f"run settings: unknown setting {key!r}{hint}; known: {', '.join(_TYPES)}")
        for key, value in conf.items():
            _check_type(key, value)
        settings = cls(**{k: list(v) if _TYPES[k][2] and v is not None else v
                          for k, v in conf.items() if v is not None or _TYPES[k][1]})
        if settings.quarters is not None:
            from pv.faers.layouts import quarter_range

            try:
                quarter_range(settings.quarters)
            except ValueError as err:
                raise PvError(f"run settings: 'quarters': {err}") from None
        if settings.base_url is not None and not settings.base_url.startswith(("http://", "https://")):
            raise PvError(f"run settings: 'base_url' must be an http(s) URL, got {settings.base_url!r}")
        return settings

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_type(key: str, value: Any) -> None:
    kind, nullable, is_list = _TYPES[key]
    if value is None:
        if nullable or is_list:
            return
    elif is_list:
        if isinstance(value, (list, tuple)) and all(isinstance(v, kind) and v for v in value):
            return
        raise PvError(f"run settings: {key!r} must be a list of non-empty strings, got {value!r:.80}")
    elif isinstance(value, kind) and value.strip():
        return
    raise PvError(f"run settings: {key!r} must be a non-empty string{' or null' if nullable else ''}, "
                  f"got {value!r:.80}")
