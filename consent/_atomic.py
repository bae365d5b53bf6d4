"""Writing a file so that readers see the old content or the new one, never half of either.

A temp file in the same directory, fsync, then ``os.replace``: rename is atomic on POSIX, and it
replaces a symlink planted at the path instead of following it.
"""

from __future__ import annotations

import os
import tempfile
import time

#: A temp file older than this was left by a writer that died (killed mid-write): remove it.
STALE_AFTER_S = 60.0


def atomic_write(path: str, data: bytes, *, mode: int = 0o600, dir_mode: int = 0o700,
                 durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically, creating parent dirs; raises OSError on failure.

    ``durable=False`` skips the fsync: still atomic (readers see old or new), but a power cut
    may lose the new content — right for best-effort files rewritten often, like the event log.
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, mode=dir_mode, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    sweep_stale_temps(path)


def sweep_stale_temps(path: str) -> None:
    """Remove temp files of ``path`` left behind by writers that were killed mid-write.

    Only files named like ours (``.<name>.*.tmp``) and older than a minute, so a concurrent
    writer's live temp file is never touched. Best effort: a failure changes nothing.
    """
    parent, name = os.path.split(os.path.abspath(path))
    prefix, now = f".{name}.", time.time()
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    for entry in entries:
        if entry.startswith(prefix) and entry.endswith(".tmp"):
            stale = os.path.join(parent, entry)
            try:
                if now - os.lstat(stale).st_mtime > STALE_AFTER_S:
                    os.unlink(stale)
            except OSError:
                pass


def create_once(path: str, data: bytes, *, mode: int = 0o600, dir_mode: int = 0o700) -> bytes:
    """Create ``path`` with ``data`` unless it exists; return what the file holds afterwards.

    Many processes may race here (a CI matrix starting at once): the content is written to a temp
    file and hard-linked into place, which fails if another process won, so exactly one value is
    ever visible and it is never partial.
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, mode=dir_mode, exist_ok=True)
    try:
        with open(path, "rb") as fh:
            existing = fh.read()
        if existing:
            return existing
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    sweep_stale_temps(path)
    with open(path, "rb") as fh:
        return fh.read()
