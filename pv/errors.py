"""The one error type users see, and the one line for every other failure.

Every expected failure (bad input file, missing stage output, bad option) raises
``PvError`` with a one-line message that names the file and the reason. The command line
prints it as ``pvmon: error: <message>`` and exits non-zero, never with a traceback.

What the world does to a run without any code expecting it — a full disk, a read-only
store, a damaged manifest or Parquet file — arrives as OSError, sqlite3 or Arrow/polars
errors from deep inside a stage; ``one_line`` turns each into the same kind of line,
naming the file (``pv.diagnose`` finds a damaged Parquet file when the error does not say
which). ``Interrupted`` is what Ctrl-C and SIGTERM raise (not KeyboardInterrupt, which the
command-line library swallows), so every ``finally`` of the stage runs on the way out.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


class PvError(Exception):
    """An expected, user-facing failure with a one-line message."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(" ".join(str(message).split()))
        self.exit_code = exit_code


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: stop, cleaning up on the way out."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.exit_code = 128 + signum


_OS_REASONS = {
    errno.ENOSPC: "no space left on device (disk full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "input/output error",
    errno.ENAMETOOLONG: "file name too long",
}
# The same conditions as polars/Arrow/SQLite word them (they do not raise OSError).
_TEXT_REASONS = (
    (("no space left on device", "os error 28", "database or disk is full"), errno.ENOSPC),
    (("disk quota exceeded", "os error 122"), errno.EDQUOT),
    (("read-only file system", "os error 30", "readonly database"), errno.EROFS),
    (("permission denied", "os error 13"), errno.EACCES),
    (("input/output error", "os error 5", "disk i/o error"), errno.EIO),
)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(err).__name__


def _os_condition(err: BaseException) -> int | None:
    if isinstance(err, OSError) and err.errno in _OS_REASONS:
        return err.errno
    text = str(err).lower()
    return next((code for needles, code in _TEXT_REASONS if any(n in text for n in needles)), None)


def one_line(err: BaseException, home: Path | None = None) -> str:
    """The message after ``pvmon: error: `` for any exception a command let escape."""
    if isinstance(err, PvError):
        return str(err)
    import sqlite3

    where = getattr(err, "filename", None) if isinstance(err, OSError) else None
    code = _os_condition(err)
    if isinstance(err, sqlite3.Error):
        manifest = home / "pvmon.sqlite" if home else "the manifest (pvmon.sqlite)"
        if code is not None:
            return f"{manifest}: {_OS_REASONS[code]}"
        return f"{manifest}: the manifest is damaged or unreadable ({_first_line(err)})"
    if code is not None:
        return f"{where or home or os.getcwd()}: {_OS_REASONS[code]}"
    if isinstance(err, OSError):
        return f"{where or home or os.getcwd()}: {err.strerror or _first_line(err)}"
    if _is_data_error(err):
        from pv.diagnose import damaged_file

        found = damaged_file(home, str(err)) if home else None
        if found is not None:
            path, reason = found
            return f"{path}: damaged or unreadable file ({reason})"
        return f"{home or os.getcwd()}: cannot read a store file ({type(err).__name__}: {_first_line(err)})"
    return f"internal error: {type(err).__name__}: {_first_line(err)} (set PV_DEBUG=1 for the traceback)"


def _is_data_error(err: BaseException) -> bool:
    """Errors of the readers (polars, Arrow) — what a damaged file makes them raise."""
    module = type(err).__module__ or ""
    return module.startswith(("polars", "pyarrow")) or type(err).__name__ in ("PanicException", "ArrowInvalid")
