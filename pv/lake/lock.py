"""The store lock: one writer at a time, and a bounded wait for it.

Two writers at once would race on the same folders, the manifest and the run ids. Every
stage (ingest, cases, signals, mechanism, publish, report; ``pvmon run`` for its whole
length) holds ``<home>/.pvmon.lock`` (``filelock``: released by the OS if the process dies,
so a killed run never leaves a stale lock). The lock is re-entrant within a process: a
stage called inside ``pvmon run`` joins the run's hold. A second process says why it waits
and waits at most ``PV_LOCK_WAIT`` seconds (default 1800), then stops with one line.

Whoever takes the lock first removes what interrupted writers left in the output folders
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
_held: dict[Path, int] = {}  # store root -> depth of this process's hold


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


@contextlib.contextmanager
def store_lock(home: Home, timeout: float | None = None) -> Iterator[None]:
    root = home.root
    if root in _held:
        _held[root] += 1
        try:
            yield
        finally:
            _held[root] -= 1
        return
    wait = lock_wait() if timeout is None else timeout
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(root / ".pvmon.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(f"pvmon: waiting for the store lock ({root}): another pvmon is writing", file=sys.stderr)
            try:
                lock.acquire(timeout=wait)
            except Timeout as err:
                raise PvError(f"{root}: the store is locked by another pvmon process "
                              f"(waited {wait:g} s; PV_LOCK_WAIT sets the wait)") from err
    except OSError as err:
        if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise StoreReadOnly(f"{root}: the store is read-only ({err.strerror})") from None
        raise
    _held[root] = 1
    try:
        clean_store(home)
        yield
    finally:
        del _held[root]
        lock.release()


def holds_store_lock(stage):
    """Decorator for a stage function whose first argument is the ``Home``: it runs under the lock."""
    import functools

    @functools.wraps(stage)
    def wrapper(home: Home, *args, **kwargs):
        with store_lock(home):
            return stage(home, *args, **kwargs)

    return wrapper
