"""Small files, read defensively and written atomically: the file handling of every layer.

Reading: only regular files are read, and nothing ever blocks: :func:`open_regular` refuses a
FIFO, a device, a socket or a directory (:class:`NotRegularFile`), before opening it and again on
the descriptor, which is opened with ``O_NONBLOCK``, so a FIFO swapped in between cannot make a
read wait forever for a writer. :func:`read_text` turns every failure (missing, not a regular
file, binary, too big, not UTF-8, unreadable) into a :class:`FileText` carrying the problem in
words, never an exception, so that a layer can fail closed with one clear line.

Writing: :func:`atomic_write` goes through a temp file in the same directory, fsync, then
``os.replace``: readers see the old content or the new one, never half of either; rename is
atomic on POSIX, and it replaces a symlink planted at the path instead of following it.
:func:`create_once` creates a file exactly once among racing processes.

Public: ``tracking`` keeps its state files (the anonymous id, the secret, the notice mark, the
event log) and the collector its ready file with the same functions.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import time
from dataclasses import dataclass

__all__ = [
    "MAX_BYTES",
    "STALE_AFTER_S",
    "FileText",
    "NotRegularFile",
    "atomic_write",
    "create_once",
    "kind_of",
    "open_regular",
    "read_regular",
    "read_text",
    "sweep_stale_temps",
]

#: Config and project files are small; anything bigger is refused unread (bounded time/memory).
MAX_BYTES = 1_000_000


#: Read-only, never waiting for a FIFO's writer or a terminal's carrier, never taking a terminal
#: as the controlling one, never leaked to a child process.
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(mode: int) -> str:
    """What a file that is not a regular one is, in words ("a FIFO (named pipe)")."""
    return next((name for test, name in _KINDS if test(mode)), "a special file")


class NotRegularFile(OSError):
    """The path is there but is not a regular file: a FIFO, a device, a socket, a directory."""

    def __init__(self, path: str, mode: int) -> None:
        self.path, self.kind = path, kind_of(mode)
        super().__init__(f"{path} is {self.kind}, not a regular file")


def open_regular(path: str) -> tuple[int, os.stat_result]:
    """A read-only descriptor of ``path`` and its stat, when it is a regular file.

    Raises :class:`NotRegularFile` (checked before the open, so a device is not even opened, and
    on the descriptor, so what was swapped in meanwhile is caught too), or the open's OSError.
    The caller closes the descriptor.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(path, st.st_mode)
    fd = os.open(path, _READ_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(path, st.st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_regular(path: str, limit: int = MAX_BYTES + 1) -> tuple[bytes, os.stat_result]:
    """At most ``limit`` bytes of the regular file ``path``, and its stat (see
    :func:`open_regular` for what is refused)."""
    fd, st = open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        return fh.read(limit), st


@dataclass(frozen=True, slots=True)
class FileText:
    path: str
    text: str | None = None
    #: Why the file could not be read, phrased as "<what is wrong>"; None when it was read.
    problem: str | None = None
    #: Non-fatal concerns (e.g. a world-writable config file).
    concerns: tuple[str, ...] = ()
    #: The file is over ``MAX_BYTES`` (its fix is to make it smaller, not to repair it).
    too_big: bool = False


def read_text(path: str, *, check_owner: bool = False) -> FileText | None:
    """The file's text, or None when there is no such file, or a FileText carrying the problem."""
    try:
        fd, st = open_regular(path)
    except FileNotFoundError:
        # A symlink to nothing is still a file someone put there (a dotfile manager's broken
        # link, a moved project): it shadows farther files, so it must not read as "absent".
        if os.path.islink(path):
            return FileText(path, problem="is a symlink to a missing file")
        return None
    except NotADirectoryError:
        return None
    except NotRegularFile as exc:
        return FileText(path, problem=f"is {exc.kind}, not a regular file")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return FileText(path, problem="is a symlink loop (it never reaches a file)")
        return FileText(path, problem=f"cannot be read ({exc.strerror or exc})")
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > MAX_BYTES:
            return FileText(
                path,
                problem=f"is {st.st_size:,} bytes, over the 1 MB limit of what is read",
                too_big=True,
            )
        try:
            data = fh.read(MAX_BYTES + 1)
        except OSError as exc:
            return FileText(path, problem=f"cannot be read ({exc.strerror or exc})")
    if len(data) > MAX_BYTES:
        return FileText(path, problem="is over the 1 MB limit of what is read", too_big=True)
    if b"\x00" in data:
        return FileText(path, problem="is binary, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return FileText(path, problem=f"is not UTF-8 text (byte {exc.start})")
    return FileText(path, text=text, concerns=_owner_concerns(path, st) if check_owner else ())


def _owner_concerns(path: str, st: os.stat_result) -> tuple[str, ...]:
    concerns: list[str] = []
    if st.st_mode & stat.S_IWOTH:
        concerns.append(
            f"{path} is world-writable: anyone on this machine can change your "
            f"choice. Fix: chmod 600 {path}"
        )
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        concerns.append(
            f"{path} is owned by another user (uid {st.st_uid}). Fix: remove it "
            "and run `telemetry enable` or `telemetry disable` again"
        )
    return tuple(concerns)


#: A temp file older than this was left by a writer that died (killed mid-write): remove it.
STALE_AFTER_S = 60.0


def atomic_write(
    path: str, data: bytes, *, mode: int = 0o600, dir_mode: int = 0o700, durable: bool = True
) -> None:
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
        with contextlib.suppress(OSError):
            os.unlink(tmp)
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
    ever visible and it is never partial. Something that is not a regular file at ``path`` (a
    FIFO, a device) raises :class:`NotRegularFile` instead of being waited on.
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, mode=dir_mode, exist_ok=True)
    try:
        existing, _ = read_regular(path)
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
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    sweep_stale_temps(path)
    return read_regular(path)[0]
