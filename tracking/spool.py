"""The spool: events waiting to be delivered, on disk, shared by every process of one user and app.

Standard library only: the host writes here on every tracked run. Layout, in the profile's state
dir (``~/.local/state/<app>/spool/``, mode 0700, every file 0600)::

    1764402911123-4711-5f2b8a6e.open       a host is writing this run's events (it holds a flock)
    1764402911123-4711-5f2b8a6e.52.seg     sealed: 52 events, waiting for the uploader
    1764402911123-4711-5f2b8a6e.52.sending claimed by the uploader that holds the lock
    1764402911123-4711-5f2b8a6e.sent       how many of its event lines the collector accepted
    upload.lock                            one uploader (or in-process delivery) at a time
    state.json                             backoff per endpoint, drop counters, the last upload

Why it cannot lose or corrupt anything:

- **One writer per file.** Each run appends to a segment of its own (created under a temporary
  name, locked, then renamed into view), one ``write`` per event line; nobody else ever writes
  to it, so many hosts at once never interleave. A crash leaves at most a torn last line, which
  readers skip (a bad line anywhere is skipped and counted, never fatal).
- **Ownership by flock.** A host holds an exclusive flock on its open segment until it seals
  it (a rename to ``.N.seg``). The kernel drops that lock when the host dies, however it dies:
  an ``.open`` segment whose lock can be taken belongs to nobody, and the uploader adopts it.
- **Progress by prefix.** The uploader renames a segment to ``.sending`` before reading it
  and, after each batch the collector accepted, records in ``.sent`` how many lines are done
  (an atomic rename). Killed mid-batch, the next uploader resumes after the last accepted batch:
  the batch that was in flight may arrive twice (events keep their ``eid``), none is lost.
- **Bounded.** By events, bytes and age (settings ``spool_max_events`` 10,000, ``_bytes``
  10 MB, ``_age_s`` 7 days): whoever holds the lock drops whole segments, oldest first, until the
  rest fits, and counts them (segments are at most 1,000 events, so at most that many more than
  strictly needed go). The newest segment is never dropped to make room.

Everything that is not one host's own segment (adopting, claiming, dropping, counters, backoff)
is done only by the holder of ``upload.lock``. Hosts read ``state.json`` without the lock; it is
always replaced atomically.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import stat
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from consent.files import atomic_write, sweep_stale_temps

try:  # POSIX; elsewhere the spool is written but delivery is in-process (tracking.delivery)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # checked before every use

__all__ = [
    "MAX_BACKOFF_S",
    "SEGMENT_LIMIT_BYTES",
    "SEGMENT_MAX_BYTES",
    "SEGMENT_MAX_EVENTS",
    "WAIT_OUT_S",
    "Segment",
    "SegmentWriter",
    "Spool",
    "Taken",
    "Waiting",
    "backoff_entries",
    "private_dir_problem",
]

#: A host seals its segment and starts a new one after this many events or bytes, so that a long
#: run is delivered in pieces and a cap drops little more than it must.
SEGMENT_MAX_EVENTS = 1_000
SEGMENT_MAX_BYTES = 1024 * 1024
#: Lines longer than this are not events (a corrupted file): skipped unread.
MAX_LINE_BYTES = 256 * 1024
#: No host writes a segment this big (it seals at SEGMENT_MAX_BYTES): a bigger one was planted
#: or is garbage, and is dropped (counted as invalid) without being read.
SEGMENT_LIMIT_BYTES = 4 * SEGMENT_MAX_BYTES
#: A segment named more than this far in the future was not made by a host on this clock (a
#: planted one would otherwise count as the newest, never dropped, and evict real ones).
_FUTURE_S = 24 * 3600.0
SPOOL_VERSION = 1

_NAME = re.compile(r"^(\d{13})-(\d+)-([0-9a-f]{8})(?:\.(\d+))?\.(open|seg|sending)$")
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_DIR_MODE = 0o700
_FILE_MODE = 0o600


#: The longest backoff an uploader waits out rather than leaving it to a later run: short ones
#: (the first tries after a failure: 1, 2, 4, 8 s) are how a collector that is back gets what
#: waits without anyone running a command; longer ones (an offline laptop) cost no process.
WAIT_OUT_S = 10.0

#: The longest a persisted backoff may hold delivery off, whatever ``state.json`` says: the
#: uploader's own ceiling is at most this (``backoff_max_s`` <= 3600). A clock that was ahead, or
#: a planted state, must not stall delivery for weeks until the age bound drops the events.
MAX_BACKOFF_S = 3600.0


def backoff_entries(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``state.json``'s backoff entries that have the right shape (any other is ignored, so a
    malformed file never stops delivery; the uploader's next write replaces it)."""
    backoff = state.get("backoff")
    if not isinstance(backoff, dict):
        return {}
    return {str(k): v for k, v in backoff.items() if isinstance(v, dict)}


def _not_before(entry: dict[str, Any] | None, now: float, ceiling: float = MAX_BACKOFF_S) -> float:
    """An entry's ``not_before`` (0: none). The uploader never writes one more than ``ceiling``
    seconds ahead, so a later one was written by a clock that was ahead, or planted: it is not
    honoured (clamping it to ``now + ceiling`` would hold delivery off for ever, as the ceiling
    moves with the clock)."""
    if not entry:
        return 0.0
    value = entry.get("not_before")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    when = float(value)
    if not math.isfinite(when):
        return 0.0  # NaN, or 1e400 read as infinity
    return when if when <= now + ceiling else 0.0


class Segment(NamedTuple):
    """One segment file as its name describes it."""

    directory: str
    name: str
    created_ms: int
    pid: int
    token: str
    #: Events it holds (None for an ``.open`` segment: still being written, or orphaned).
    events: int | None
    state: str  # "open" | "seg" | "sending"
    path: str
    #: The name without its count and state: the segment's identity, whatever its state.
    base: str

    @property
    def cursor_path(self) -> str:
        return os.path.join(self.directory, self.base + ".sent")

    def left(self) -> int:
        """Events in it not yet accepted: all of a sealed one's (an ``.open`` one's lines are
        counted), a ``.sending`` one's after its cursor."""
        count = self.events if self.events is not None else _count_lines(self.path)
        if self.state == "sending":
            count -= _read_cursor(self.cursor_path)
        return max(0, count)

    def size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    @classmethod
    def parse(cls, directory: str, name: str) -> Segment | None:
        match = _NAME.match(name)
        if match is None:
            return None
        created, pid, token, events, state = match.groups()
        return cls(
            directory,
            name,
            int(created),
            int(pid),
            token,
            int(events) if events is not None else None,
            state,
            os.path.join(directory, name),
            f"{created}-{pid}-{token}",
        )


class Taken(NamedTuple):
    """A segment an uploader took (claimed, under the lock), read: what is left to send."""

    segment: Segment
    #: None when the first line is not a header (the whole segment is invalid).
    header: dict[str, Any] | None
    #: The events after the ``.sent`` cursor, in order.
    events: list[dict[str, Any]]
    #: Lines that are not events (skipped, counted as invalid).
    bad: int


class Waiting(NamedTuple):
    """What ``telemetry status`` says about the spool."""

    events: int
    oldest_ms: int | None
    bytes: int
    #: Events dropped so far, by reason (cap, age, rejected, invalid, revoked).
    dropped: dict[str, int]
    #: Epoch seconds before which no uploader starts, per endpoint (only those in the future).
    not_before: dict[str, float]
    last_error: str | None


class SegmentWriter:
    """One host run's segment: an open file only this process writes, locked until sealed."""

    def __init__(self, spool: Spool, header: Mapping[str, Any]) -> None:
        self.spool = spool
        self.events = 0
        self.bytes = 0
        spool.ensure_dir()
        created = int(time.time() * 1000)
        self.base = f"{created:013d}-{os.getpid()}-{os.urandom(4).hex()}"
        # Created under a name no reader looks at, locked, given its header, then renamed into
        # view: a reader never sees an ``.open`` segment that nobody holds yet.
        tmp = os.path.join(spool.directory, f".{self.base}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(tmp, flags, _FILE_MODE)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            data = (_ENCODE(dict(header)) + "\n").encode("utf-8")
            _write_all(fd, data)
            self.path = os.path.join(spool.directory, self.base + ".open")
            os.rename(tmp, self.path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._fd: int | None = fd
        self.bytes = len(data)

    @property
    def full(self) -> bool:
        return self.events >= SEGMENT_MAX_EVENTS or self.bytes >= SEGMENT_MAX_BYTES

    def append(self, line: bytes) -> bool:
        """Append one event line (``line`` ends with a newline); whether the segment is full
        now (its writer seals it and starts another). Raises OSError."""
        if self._fd is None:
            raise OSError("segment already sealed")
        _write_all(self._fd, line)
        self.events += 1
        self.bytes += len(line)
        return self.full

    def seal(self) -> str | None:
        """Make the segment visible to the uploader (rename, then unlock); its new path.

        An empty segment is removed instead (None). Never raises: a segment that cannot be
        renamed stays ``.open`` and is adopted once this process is gone.
        """
        fd, self._fd = self._fd, None
        if fd is None:
            return None
        try:
            if self.events == 0:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
                return None
            sealed = os.path.join(self.spool.directory, f"{self.base}.{self.events}.seg")
            try:
                os.rename(self.path, sealed)
            except OSError:
                return None
            return sealed
        finally:
            os.close(fd)  # the flock goes with it

    def discard(self) -> None:
        """Forget this segment and its events (consent withdrawn while recording)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            os.close(fd)


def private_dir_problem(path: str, *, repair: bool = False) -> str | None:
    """Why ``path`` must not hold our files (None: it is ours and only ours, or absent).

    Another user who can write the spool can plant segments, links or a lock file there, and
    one who owns it can change its mode: so the state and spool dirs must be directories owned
    by this user, with no group or other bits. Where we own it, ``repair`` makes it 0700
    (an old umask, a copied home); a link, a non-directory or another owner is refused.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{path} cannot be inspected ({exc.strerror or exc})"
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory"
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # pragma: no cover - Windows: ACLs, not modes
        return None
    if st.st_uid != getuid():
        return f"{path} belongs to another user (uid {st.st_uid})"
    if st.st_mode & 0o077:
        if repair:
            try:
                os.chmod(path, _DIR_MODE)
                return None
            except OSError:
                pass
        return f"{path} is open to other users (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


class Spool:
    """The spool directory of one user and app (see the module docstring)."""

    def __init__(self, directory: str, *, state_dir: str | None = None) -> None:
        self.directory = directory
        #: The dir above it that holds the id and the secret: checked as the spool is.
        self.state_dir = state_dir

    @classmethod
    def for_state_dir(cls, state_dir: str) -> Spool:
        return cls(os.path.join(state_dir, "spool"), state_dir=state_dir)

    def problem(self, *, repair: bool = False) -> str | None:
        """Why events must not be kept here (see :func:`private_dir_problem`), else None."""
        for path in (self.state_dir, self.directory):
            if path is not None:
                found = private_dir_problem(path, repair=repair)
                if found is not None:
                    return found
        return None

    @property
    def lock_path(self) -> str:
        return os.path.join(self.directory, "upload.lock")

    @property
    def state_path(self) -> str:
        return os.path.join(self.directory, "state.json")

    def ensure_dir(self) -> None:
        """Create the spool dir (0700) if needed, and refuse (OSError) one that is not ours
        alone: events are never written into a directory someone else can write or pointed
        us at. The run then delivers in-process, as on a read-only state dir."""
        if os.path.islink(self.directory):
            raise OSError(f"{self.directory} is a symbolic link; it is not used")
        os.makedirs(self.directory, mode=_DIR_MODE, exist_ok=True)
        found = self.problem(repair=True)
        if found is not None:
            raise OSError(f"{found}; events are not kept there")

    # -- writing (a host, its own segment) -------------------------------------------------
    def open_segment(self, header: Mapping[str, Any]) -> SegmentWriter:
        """A new segment for this run, its header written; raises OSError (full, read-only)."""
        return SegmentWriter(self, header)

    # -- looking ---------------------------------------------------------------------------
    def segments(self) -> list[Segment]:
        """Every segment, oldest first (``.open`` ones included)."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        found = [s for s in (Segment.parse(self.directory, n) for n in names) if s is not None]
        found.sort(key=lambda s: s.name)
        return found

    def ready(self) -> list[Segment]:
        """Sealed segments waiting for an uploader, oldest first (cheap: names only)."""
        return [s for s in self.segments() if s.state == "seg"]

    def state(self) -> dict[str, Any]:
        """``state.json`` as it is now ({} when missing or unreadable)."""
        try:
            with open(self.state_path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def not_before(self, endpoint: str, ceiling: float = MAX_BACKOFF_S) -> float:
        """Epoch seconds before which no uploader should start for ``endpoint`` (0: now), never
        more than ``ceiling`` seconds from now (the uploader's longest backoff)."""
        return self.backoffs(ceiling).get(endpoint, 0.0)

    def backoffs(self, ceiling: float = MAX_BACKOFF_S) -> dict[str, float]:
        """Every collector with a backoff entry -> its :meth:`not_before`, from one read of
        ``state.json`` (an uploader's pass reads it once, not once per segment or batch)."""
        now, ceiling = time.time(), min(ceiling, MAX_BACKOFF_S)
        return {
            url: _not_before(entry, now, ceiling)
            for url, entry in backoff_entries(self.state()).items()
        }

    def waiting(self) -> Waiting:
        """How many events wait, since when, and what was dropped (for ``telemetry status``)."""
        events = total_bytes = 0
        oldest: int | None = None
        for segment in self.segments():
            count = segment.left()
            if count <= 0:
                continue
            events += count
            total_bytes += segment.size()
            oldest = segment.created_ms if oldest is None else min(oldest, segment.created_ms)
        state = self.state()
        now = time.time()
        not_before: dict[str, float] = {}
        last_error = None
        for endpoint, entry in backoff_entries(state).items():
            when = _not_before(entry, now)
            if when > now:
                not_before[endpoint] = when
            error = entry.get("error")
            last_error = (error if isinstance(error, str) else None) or last_error
        dropped = {
            str(k): int(v)
            for k, v in (state.get("dropped") or {}).items()
            if isinstance(v, int) and v > 0
        }
        return Waiting(
            events, oldest, total_bytes, dropped, not_before, last_error if events else None
        )

    def newest(self, last: int) -> list[dict[str, Any]]:
        """The newest ``last`` waiting events (``.open`` segments too), oldest first, as spooled
        (``t`` recorded at, ``s`` schema, ``d`` data ...); for ``telemetry log``."""
        out: list[dict[str, Any]] = []
        for segment in reversed(self.segments()):
            if len(out) >= last:
                break
            _, events, _ = self.read(segment)
            done = _read_cursor(segment.cursor_path) if segment.state == "sending" else 0
            fresh = [
                {k: v for k, v in e.items() if not k.startswith("_")}
                for e in events
                if e["_line"] >= done
            ]
            out[:0] = fresh
        return out[-last:] if last > 0 else []

    def read(self, segment: Segment) -> tuple[dict[str, Any] | None, list[dict[str, Any]], int]:
        """``(header, events, bad lines)`` of ``segment``; a bad line is skipped and counted.

        ``events`` are the event lines in order, each with ``"_line"``: its index among the
        event lines (for the ``.sent`` cursor). The header is None when the first line is not one.
        """
        data = _read_bounded(segment.path)
        if data is None:
            return None, [], 0
        lines = data.split(b"\n")
        if data.endswith(b"\n"):
            lines.pop()
        header = _load(lines[0]) if lines else None
        if header is None or header.get("spool") != SPOOL_VERSION:
            return None, [], max(0, len(lines) - 1)
        body = lines[1:]
        # One parse for the whole segment (a C call instead of one per line); a segment with a
        # bad line anywhere is read line by line, skipping that one.
        records: list[Any] = []
        try:
            if any(len(line) > MAX_LINE_BYTES for line in body):
                raise ValueError("a line too long")
            records = json.loads(b"[" + b",".join(body) + b"]") if body else []
        except ValueError:
            records = [_load(line) for line in body]
        events: list[dict[str, Any]] = []
        bad = 0
        for index, record in enumerate(records):
            if (
                not isinstance(record, dict)
                or not isinstance(record.get("s"), str)
                or not isinstance(record.get("d"), dict)
            ):
                bad += 1
                continue
            record["_line"] = index
            events.append(record)
        return header, events, bad

    # -- only under the lock ----------------------------------------------------------------
    def try_lock(self, *, mark: bool = False) -> int | None:
        """The lock file's descriptor, locked, or None when another process holds it. Closing
        the descriptor releases the lock; ``mark``: this process is written in as its holder
        (:meth:`mark_holder`). Raises OSError when there can be no lock at all (the
        spool cannot be created: a read-only or full state dir), which waiting will not cure.

        Where there is no ``flock`` (Windows; delivery is in-process there), the descriptor is
        returned unlocked: two deliveries at once still take each segment one at a time (a
        claim is a rename, which only one of them wins).
        """
        self.ensure_dir()
        fd = os.open(
            self.lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), _FILE_MODE
        )
        if fcntl is None:
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        if mark:
            self.mark_holder(fd)
        return fd

    @staticmethod
    def mark_holder(fd: int, pid: int | None = None) -> None:
        """Write the holder's process id (default: this one) into the lock file (what
        ``telemetry status``, tests and benchmarks look for)."""
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid() if pid is None else pid}\n".encode(), 0)

    def holder(self) -> int | None:
        """The pid of the process holding the lock now, or None (not held)."""
        if fcntl is None:
            return None
        try:
            fd = os.open(self.lock_path, os.O_RDONLY)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                return int(text) if text.isdigit() else -1
            return None
        finally:
            os.close(fd)

    def adopt_orphans(self) -> int:
        """Seal every ``.open`` segment whose writer is gone (its flock is free); how many."""
        adopted = 0
        for segment in self.segments():
            if segment.state != "open" or fcntl is None:
                continue
            try:
                fd = os.open(segment.path, os.O_RDONLY)
            except OSError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # its writer is alive
                count = _count_lines(segment.path)
                target = os.path.join(self.directory, f"{segment.base}.{count}.seg")
                try:
                    os.rename(segment.path, target)
                    adopted += 1
                except OSError:
                    continue  # sealed by its writer meanwhile
            finally:
                os.close(fd)
        return adopted

    def claim(self, segment: Segment) -> Segment | None:
        """``segment`` renamed to ``.sending`` (or already so); None if it is gone."""
        if segment.state == "sending":
            return segment if os.path.exists(segment.path) else None
        name = f"{segment.base}.{segment.events}.sending"
        try:
            os.rename(segment.path, os.path.join(self.directory, name))
        except OSError:
            return None
        return Segment.parse(self.directory, name)

    def take(self, segment: Segment) -> Taken | None:
        """Claim ``segment`` and read what is left of it (the events after its ``.sent``
        cursor); None when it is gone (delivered, cleared) meanwhile."""
        claimed = self.claim(segment)
        if claimed is None:
            return None
        header, events, bad = self.read(claimed)
        done = _read_cursor(claimed.cursor_path)
        return Taken(claimed, header, [e for e in events if e["_line"] >= done], bad)

    def advance(self, segment: Segment, done: int) -> None:
        """Record that the first ``done`` event lines of ``segment`` were accepted.

        :func:`consent.files.atomic_write` (readers see the old count or the new one), not
        fsynced: it runs after every batch, and a cursor lost to a power cut only means that
        events are sent again (delivery is at least once).
        """
        atomic_write(segment.cursor_path, f"{done}\n".encode(), mode=_FILE_MODE, durable=False)

    def remove(self, segment: Segment) -> bool:
        """Delete ``segment`` and its cursor; True if this call removed it."""
        removed = True
        try:
            os.unlink(segment.path)
        except FileNotFoundError:
            removed = False
        except OSError:
            return False
        with contextlib.suppress(OSError):
            os.unlink(segment.cursor_path)
        return removed

    def enforce_bounds(
        self, max_events: int, max_bytes: int, max_age_s: float, now: float | None = None
    ) -> dict[str, int]:
        """Drop what is too old, then whole oldest segments until the rest fits; counted.

        ``.open`` segments are not touched (their writers are alive); the newest sealed segment
        is never dropped to make room; one no host could have written (over
        :data:`SEGMENT_LIMIT_BYTES`, or dated in the future) is dropped first, unread. Returns
        ``{"age": n, "cap": m, "invalid": k}`` events dropped.
        """
        now = time.time() if now is None else now
        dropped = {"age": 0, "cap": 0, "invalid": 0}
        sealed: list[tuple[Segment, int, int]] = []
        for segment in self.segments():
            if segment.state == "open":
                continue
            count = segment.left()
            size = segment.size()
            if size > SEGMENT_LIMIT_BYTES or segment.created_ms / 1000.0 > now + _FUTURE_S:
                if self.remove(segment):
                    dropped["invalid"] += count
                continue
            if now - segment.created_ms / 1000.0 > max_age_s:
                if self.remove(segment):
                    dropped["age"] += count
                continue
            sealed.append((segment, count, size))
        total_events = sum(c for _, c, _ in sealed)
        total_bytes = sum(b for _, _, b in sealed)
        while len(sealed) > 1 and (total_events > max_events or total_bytes > max_bytes):
            segment, count, size = sealed.pop(0)
            if self.remove(segment):
                dropped["cap"] += count
            total_events -= count
            total_bytes -= size
        return dropped

    def update_state(self, change: Any) -> dict[str, Any]:
        """Read ``state.json``, let ``change(state)`` edit it, write it back atomically."""
        state = self.state()
        change(state)
        atomic_write(self.state_path, (_ENCODE(state) + "\n").encode(), durable=False)
        return state

    def save_report(self, report: Mapping[str, Any]) -> None:
        """Keep the last delivery's report (``last_upload``: what ``telemetry status`` shows).
        Lock holder only; raises OSError."""

        def change(state: dict[str, Any]) -> None:
            state["last_upload"] = dict(report)

        self.update_state(change)

    def count_dropped(self, counts: Mapping[str, int]) -> None:
        """Add ``counts`` (reason -> events) to the drop counters. Lock holder only."""
        counts = {k: v for k, v in counts.items() if v}
        if not counts:
            return

        def change(state: dict[str, Any]) -> None:
            dropped = state.setdefault("dropped", {})
            for reason, n in counts.items():
                dropped[reason] = int(dropped.get(reason, 0)) + int(n)

        with contextlib.suppress(OSError):
            self.update_state(change)

    # -- forgetting (``telemetry disable`` / ``reset``) ----------------------------------------
    def clear(self) -> int:
        """Delete every waiting event (no lock needed: an uploader checks before each batch
        that its segment still exists); returns how many events were deleted."""
        removed = 0
        for segment in self.segments():
            count = segment.left()
            if self.remove(segment):
                removed += count
        with contextlib.suppress(OSError):
            for name in os.listdir(self.directory):
                if name.endswith(".sent") or (
                    name.startswith(".") and ".sent." in name and name.endswith(".tmp")
                ):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(self.directory, name))
        return removed

    def tidy(self, max_events: int, max_bytes: int, max_age_s: float) -> dict[str, int]:
        """An uploader's first step under the lock: temp files of killed writers go, segments
        of dead hosts are sealed, the bounds are kept. Returns (and counts in state.json) the
        events dropped, as :meth:`enforce_bounds`."""
        self.sweep()
        self.adopt_orphans()
        return self.keep_bounds(max_events, max_bytes, max_age_s)

    def keep_bounds(self, max_events: int, max_bytes: int, max_age_s: float) -> dict[str, int]:
        """:meth:`enforce_bounds`, the drops counted in state.json. Lock holder only."""
        dropped = self.enforce_bounds(max_events, max_bytes, max_age_s)
        self.count_dropped(dropped)
        return dropped

    def sweep(self) -> None:
        """Remove temp files left by writers killed mid-write (older than a minute)."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        now = time.time()
        for name in names:
            if name.startswith(".") and name.endswith(".tmp"):
                path = os.path.join(self.directory, name)
                with contextlib.suppress(OSError):
                    if now - os.lstat(path).st_mtime > 60:
                        os.unlink(path)
        sweep_stale_temps(self.state_path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError("short write")
        view = view[written:]


def _load(line: bytes) -> dict[str, Any] | None:
    if not line or len(line) > MAX_LINE_BYTES:
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _read_bounded(path: str) -> bytes | None:
    """A segment's bytes; None when it cannot be read, is not a regular file or is bigger
    than any host writes (a planted 336 MB file was read whole: 2 GB of memory)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > SEGMENT_LIMIT_BYTES:
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(SEGMENT_LIMIT_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)


def _count_lines(path: str) -> int:
    """Complete event lines in a segment file (its header excluded)."""
    data = _read_bounded(path)
    return 0 if data is None else max(0, data.count(b"\n") - 1)


def _read_cursor(path: str) -> int:
    try:
        with open(path, encoding="ascii") as fh:
            return max(0, int(fh.read(32).strip() or 0))
    except (OSError, ValueError):
        return 0
