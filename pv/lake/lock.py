"""The store lock and the quarter locks: one writer at a time, and a bounded wait for them.

Two writers at once would race on the same folders, the manifest and the run ids. Every
stage (cases, signals' prior fit and merge, mechanism, publish, report; ``pvmon run`` for its whole
length) holds ``<home>/.pvmon.lock`` (``filelock``: released by the OS if the process dies,
so a killed run never leaves a stale lock). The lock is re-entrant within a process: a
stage called inside ``pvmon run`` joins the run's hold. A second process says why it waits
and waits at most ``PV_LOCK_WAIT`` seconds (default 1800), then stops with one line.

Ingest and fetch work per quarter: a quarter's download or staging holds only
``<home>/.locks/<quarter>.lock``, so quarters are staged side by side (one mapped task each, on
any worker), and each takes the store lock only for the moment of its commit (the renames and
the manifest rows). The locks are ``flock`` locks on files in the store: workers on several
machines need the store on shared storage whose locks reach every client (NFSv4, CephFS;
README "Deployment").

Whoever takes the store lock first removes what interrupted writers left in the output folders
(pv.atomic.clean_leftovers): at that moment nobody else writes there.
"""

from __future__ import annotations

import contextlib
import errno
import sys
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from pv.config import Home, env_number
from pv.errors import PvError

DEFAULT_WAIT = 1800.0
_held: dict[Path, int] = {}  # lock file -> depth of this process's hold


def lock_wait() -> float:
    """Seconds a writer waits for the lock: ``$PV_LOCK_WAIT`` (a number >= 0), else 1800."""
    return env_number("PV_LOCK_WAIT", DEFAULT_WAIT, "a number of seconds >= 0")


class StoreReadOnly(PvError):
    """The lock cannot be created: the store is on a read-only file system or not writable."""


def output_folders(home: Home) -> list[Path]:
    """Folders holding folder outputs (pv.atomic pointers) or atomically replaced files."""
    reports = [p for p in home.reports.iterdir() if p.is_dir() and not p.name.startswith(".")] \
        if home.reports.is_dir() else []
    return [home.root, home.signals, home.root / "mechanism", home.reports, *reports]


def clean_store(home: Home) -> None:
    from pv.atomic import clean_leftovers

    for folder in output_folders(home):
        clean_leftovers(folder)


def _acquire(root: Path, path: Path, what: str, wait: float) -> FileLock:
    """Take the file lock at ``path`` (waiting at most ``wait`` seconds, saying why); return it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(f"pvmon: waiting for the {what} lock ({root}): another pvmon is writing", file=sys.stderr)
            try:
                lock.acquire(timeout=wait)
            except Timeout as err:
                raise PvError(f"{root}: the {what} is locked by another pvmon process "
                              f"(waited {wait:g} s; PV_LOCK_WAIT sets the wait)") from err
    except OSError as err:
        if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise StoreReadOnly(f"{root}: the store is read-only ({err.strerror})") from None
        raise
    return lock


@contextlib.contextmanager
def _hold(home: Home, path: Path, what: str, timeout: float | None, on_first=None) -> Iterator[None]:
    """Hold the lock file ``path``; re-entrant within this process."""
    if path in _held:
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    lock = _acquire(home.root, path, what, lock_wait() if timeout is None else timeout)
    _held[path] = 1
    try:
        if on_first is not None:
            on_first(home)
        yield
    finally:
        del _held[path]
        lock.release()


def store_lock(home: Home, timeout: float | None = None):
    """The whole store, for a stage's writes (or a reader that needs one committed state)."""
    return _hold(home, home.root / ".pvmon.lock", "store", timeout, on_first=clean_store)


def quarter_lock_path(home: Home, quarter: str) -> Path:
    return home.root / ".locks" / f"{quarter}.lock"


def quarter_lock(home: Home, quarter: str, timeout: float | None = None):
    """One quarter's lock: its download or its staging. Other quarters go on meanwhile (one mapped task
    each); the manifest commit at the end takes the store lock for a moment (pv.lake.store)."""
    return _hold(home, quarter_lock_path(home, quarter), f"quarter {quarter}", timeout)


def quarter_busy(home: Home, quarter: str) -> bool:
    """Whether a writer (this process or another) holds the quarter's lock now (never waits)."""
    path = quarter_lock_path(home, quarter)
    if path in _held:
        return True
    if not path.exists():
        return False
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def holds_store_lock(stage):
    """Decorator for a stage function whose first argument is the ``Home``: it runs under the lock."""
    import functools

    @functools.wraps(stage)
    def wrapper(home: Home, *args, **kwargs):
        with store_lock(home):
            return stage(home, *args, **kwargs)

    return wrapper
