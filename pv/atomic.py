"""Atomic writes: a stage that dies leaves the store as it was.

Files: written to a temporary sibling and renamed into place (``os.replace`` is atomic on
POSIX within one file system).

Folders (cases/, site/, signals/<run>/, mechanism/<run>/, a report's CSV folder): one
rename cannot replace a non-empty folder, and renaming the old one aside first leaves an
instant with nothing under the name (a kill there lost the output). So a folder output is
a *pointer*: ``<name>`` is a relative symlink to a version folder
``.versions/<name>/<token>/`` beside it. A new version is written in full, then a new
symlink is renamed over ``<name>`` — one rename(2), atomic — and only then is the old
version removed. At every instant ``<name>`` resolves to the old or the new output, and
readers need nothing special: the OS resolves the pointer. A store written by an older
pvmon (a real folder under the name) is switched over by exchanging the two names with
renameat2(RENAME_EXCHANGE), atomic too.

Whatever an interrupted writer leaves (versions no pointer names, ``.tmp`` files,
``.old`` folders of older pvmons) is removed by ``clean_leftovers`` — before each swap for
its own name and, for the whole store, when a stage takes the store lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

from pv.errors import PvError

VERSIONS = ".versions"  # beside every folder output: .versions/<name>/<token>/
_RENAME_EXCHANGE = 2


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_folder(path: str | os.PathLike) -> Path:
    """``mkdir -p`` whose failure (a file in the way, no permission) is one line naming the folder."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = "a file is in the way" if err.errno in (errno.EEXIST, errno.ENOTDIR) else err.strerror
        raise PvError(f"{path}: cannot create folder ({reason})") from None
    return path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``."""
    target = Path(target)
    ensure_folder(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; a store file gets the ordinary permissions of a new file.
        os.chmod(tmp_path, 0o666 & ~_umask())
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
        _fsync_dir(target.parent)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def _fsync_tree(folder: Path) -> None:
    """Every file and folder of a new version reaches the disk before the pointer names it."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(root))


def _exchange(a: Path, b: Path) -> bool:
    """Swap two names in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def current_version(target: Path) -> Path | None:
    """The version folder ``target`` points to (None when it is no pointer)."""
    if not target.is_symlink():
        return None
    return target.parent / os.readlink(target)


def _point(target: Path, version: Path) -> None:
    """Make ``target`` name ``version`` in one rename; remove what it named before."""
    parent = target.parent
    link = parent / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
    os.symlink(os.path.relpath(version, parent), link)
    if target.is_symlink() or not target.exists():
        old = current_version(target)
        os.replace(link, target)
        _fsync_dir(parent)
        if old is not None and old.parent == version.parent and old != version:
            shutil.rmtree(old, ignore_errors=True)
        return
    if not target.is_dir():
        os.unlink(link)
        raise PvError(f"{target}: a file is in the way of the folder output")
    # A real folder from an older pvmon: exchange it with the pointer, then drop it.
    if _exchange(link, target):
        _fsync_dir(parent)
        shutil.rmtree(link, ignore_errors=True)
        return
    aside = parent / f".{target.name}.{uuid.uuid4().hex[:12]}.old"  # not atomic: file systems without renameat2
    os.replace(target, aside)
    os.replace(link, target)
    _fsync_dir(parent)
    shutil.rmtree(aside, ignore_errors=True)


def clean_leftovers(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove what interrupted writers left in ``folder`` (for one output ``name``, or all):
    versions no pointer names, temporary files and links (``.*.tmp``), old folders (``.*.old*``).
    Call it only while no other writer works there (under the store lock). Returns what went."""
    folder = Path(folder)
    gone: list[Path] = []
    if not folder.is_dir():
        return gone
    versions = folder / VERSIONS
    names = [name] if name is not None else (sorted(p.name for p in versions.iterdir()) if versions.is_dir() else [])
    for n in names:
        kept = current_version(folder / n)
        for v in sorted((versions / n).iterdir()) if (versions / n).is_dir() else []:
            if kept is None or v.name != kept.name or kept.parent != versions / n:
                gone.append(v)
        if (versions / n).is_dir() and kept is None and not (folder / n).is_symlink():
            gone.append(versions / n)
    for p in sorted(folder.iterdir()):
        if not p.name.startswith(".") or p.name == VERSIONS:
            continue
        base = p.name[1:]
        if name is not None and not base.startswith(name + "."):
            continue
        if p.name.endswith(".tmp") or ".old" in p.name:
            gone.append(p)
    for p in gone:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # drop emptied holders
        for n in names:
            if (versions / n).is_dir() and not any((versions / n).iterdir()):
                (versions / n).rmdir()
        if versions.is_dir() and not any(versions.iterdir()):
            versions.rmdir()
    return gone


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh, empty version folder for ``target``; on success ``target`` points to it.

    A reader sees the old or the new content under ``target`` at every instant; a writer
    that dies leaves only an unreferenced version, removed by the next writer.
    """
    target = Path(target)
    ensure_folder(target.parent)
    clean_leftovers(target.parent, target.name)
    holder = ensure_folder(target.parent / VERSIONS / target.name)
    version = Path(tempfile.mkdtemp(prefix="v-", dir=holder))
    done = False
    try:
        yield version
        os.chmod(version, 0o777 & ~_umask())
        _fsync_tree(version)
        _point(target, version)
        done = True
    finally:
        if not done:
            shutil.rmtree(version, ignore_errors=True)
            with contextlib.suppress(OSError):
                holder.rmdir()  # only when empty
                (target.parent / VERSIONS).rmdir()


def remove_output(path: str | os.PathLike) -> None:
    """Remove a folder output: its pointer first (one unlink: a reader never sees half of it), then
    the version it named; a plain folder of an older store at once."""
    path = Path(path)
    if path.is_symlink():
        target = path.resolve()
        path.unlink()
        shutil.rmtree(target, ignore_errors=True)
    elif path.is_dir():
        shutil.rmtree(path)
