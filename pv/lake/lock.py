"""The store lock: one writer at a time.

Two ingests at once would race on the same quarter folders and the manifest. Every
writer holds ``<home>/.pvmon.lock`` (``filelock``: released by the OS if the process
dies, so a killed run never leaves a stale lock). A second writer says why it waits and
then waits; with ``timeout`` it stops with a one-line error instead.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

from filelock import FileLock, Timeout

from pv.config import Home
from pv.errors import PvError


@contextlib.contextmanager
def store_lock(home: Home, timeout: float = -1) -> Iterator[None]:
    home.root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(home.root / ".pvmon.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"pvmon: waiting for the store lock ({home.root}): another pvmon is writing", file=sys.stderr)
        try:
            lock.acquire(timeout=timeout)
        except Timeout as err:
            raise PvError(f"{home.root}: the store is locked by another pvmon process") from err
    try:
        yield
    finally:
        lock.release()
