"""Rule ``reuse-unchanged``: a publish links, instead of writing, every file the previous site holds
with the very same name and bytes.

Why: a nightly publish after one new quarter rewrites a site of ~14,000 files (2.2 GB at FAERS's
size) of which most are unchanged (plotly.min.js, the pages of case listings holding older
cases, the pieces of long tables). Writing and fsyncing them again is most of the publish's I/O.

How, and why it is safe: the new site is still built whole in its own empty version folder
(pv.atomic.atomic_dir) and swapped in by one rename; a file is only ever written whole into
that new folder, where it is either a new file or a hard link to the previous version's file of
the same name when its bytes are equal (compared, not assumed). Site files are never changed in
place (every publish writes a new version), so a shared inode never changes under a reader.
The new site therefore holds exactly the files a publish into an empty store writes, byte for
byte, and nothing else: a file no page of the new site names is never written, so nothing stale
is carried over (tests/test_site_reuse.py). Where linking fails (another file system, a
previous site written by hand) the file is written.

Default on for ``pvmon publish`` (the previous site is the one ``site/`` names); nothing to set.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


@dataclass
class Reuse:
    """Where the site is being written, the previous site's folder, and what was done."""

    root: Path
    previous: Path | None
    written: int = 0
    linked: int = 0


_CURRENT: contextvars.ContextVar[Reuse | None] = contextvars.ContextVar("site_reuse", default=None)


@contextlib.contextmanager
def previous_site(root: Path, previous: Path | None) -> Iterator[Reuse]:
    """While open, ``write_text`` under ``root`` links files equal to ``previous``'s of the same name."""
    state = Reuse(Path(root), Path(previous) if previous is not None and Path(previous).is_dir() else None)
    token = _CURRENT.set(state)
    try:
        yield state
    finally:
        _CURRENT.reset(token)


def _same(old: Path, data: bytes) -> bool:
    try:
        if os.stat(old).st_size != len(data):
            return False
        return old.read_bytes() == data
    except OSError:
        return False


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, a new file of the site being built, or link the previous
    site's file of the same name when it holds these very bytes."""
    data = text.encode("utf-8")
    state = _CURRENT.get()
    if state is not None and state.previous is not None:
        try:
            old = state.previous / path.relative_to(state.root)
        except ValueError:  # not under the site being built (a publish piece): just write
            old = None
        if old is not None and _same(old, data):
            try:
                os.link(old, path)
                state.linked += 1
                return
            except OSError:
                pass
    path.write_bytes(data)
    if state is not None:
        state.written += 1
