"""Per-user telemetry state: the anonymous id, the hashing secret, the notice mark, the event log.

All of it lives in the profile's user state dir (platformdirs, e.g. ``~/.local/state/<app>/``)
and is created only when an event is actually about to be sent — never when consent is off.
Reading is cheap and side-effect free so that ``telemetry status`` can show it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import uuid
from dataclasses import dataclass
from typing import Any

from consent.files import atomic_write, create_once

from .errors import StateError
from .profile import TrackedProfile

__all__ = [
    "LOG_MAX_BYTES",
    "StatePaths",
    "acknowledge_notice",
    "acknowledged_version",
    "append_log",
    "ensure_anonymous_id",
    "ensure_secret",
    "forget_anonymous_id",
    "paths",
    "read_anonymous_id",
    "read_log",
    "reserve_anonymous_id",
]

#: The local event log keeps about this much of the newest events: it is trimmed back to this size
#: whenever it grows past twice as much.
LOG_MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class StatePaths:
    dir: str

    @property
    def anonymous_id(self) -> str:
        return os.path.join(self.dir, "anonymous_id")

    @property
    def reserved_id(self) -> str:
        """An id not in use yet: the room kept for :attr:`anonymous_id` (never sent)."""
        return os.path.join(self.dir, ".anonymous_id.reserved")

    @property
    def secret(self) -> str:
        return os.path.join(self.dir, "secret")

    @property
    def notice(self) -> str:
        return os.path.join(self.dir, "notice_acknowledged")

    @property
    def log(self) -> str:
        return os.path.join(self.dir, "events.log")


def paths(profile: TrackedProfile) -> StatePaths:
    return StatePaths(profile.state_dir())


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(200).strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def read_anonymous_id(profile: TrackedProfile) -> str | None:
    value = _read(paths(profile).anonymous_id)
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


def reserve_anonymous_id(profile: TrackedProfile) -> None:
    """Keep room for the anonymous id before events are recorded (raises OSError when even
    that cannot be written). The id is made the first time an event is sent; by then the state
    disk may be full, and waiting events must still be able to go: making it from the reserve
    is a hard link, which needs no data block."""
    at = paths(profile)
    if not os.path.exists(at.anonymous_id):
        create_once(at.reserved_id, f"{uuid.uuid4()}\n".encode())


def ensure_anonymous_id(profile: TrackedProfile) -> str:
    """The anonymous id, created exactly once even when many processes start at once."""
    existing = read_anonymous_id(profile)
    if existing:
        return existing
    at = paths(profile)
    with contextlib.suppress(OSError):
        os.link(at.reserved_id, at.anonymous_id)  # the room the host kept; fails if one won
    with contextlib.suppress(OSError):
        os.unlink(at.reserved_id)
    existing = read_anonymous_id(profile)
    if existing:
        return existing
    data = create_once(at.anonymous_id, f"{uuid.uuid4()}\n".encode())
    try:
        return str(uuid.UUID(data.decode().strip()))
    except ValueError:
        # A damaged file: replace it rather than send garbage.
        fresh = str(uuid.uuid4())
        atomic_write(paths(profile).anonymous_id, f"{fresh}\n".encode())
        return fresh


def ensure_secret(profile: TrackedProfile) -> bytes:
    """The per-installation HMAC key; it never leaves the machine."""
    # os.urandom is what secrets.token_hex uses; importing secrets would load OpenSSL's hashing
    # (hmac, hashlib) on every tracked run for nothing.
    data = create_once(paths(profile).secret, os.urandom(32).hex().encode() + b"\n")
    try:
        return bytes.fromhex(data.decode().strip())
    except ValueError:
        fresh = os.urandom(32).hex()
        atomic_write(paths(profile).secret, fresh.encode() + b"\n")
        return bytes.fromhex(fresh)


def forget_anonymous_id(profile: TrackedProfile) -> bool:
    """``telemetry reset``: forget the id and the secret; True if there was something to forget."""
    removed = False
    with contextlib.suppress(OSError):
        os.unlink(paths(profile).reserved_id)  # never sent: nothing to tell about it
    for path in (paths(profile).anonymous_id, paths(profile).secret):
        try:
            os.unlink(path)
            removed = True
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StateError(
                f"{path}: could not be removed ({exc.strerror or exc}), so the anonymous id is "
                f"not forgotten. Fix: make {os.path.dirname(path)} writable, or delete the file "
                "yourself"
            ) from exc
    return removed


def acknowledged_version(profile: TrackedProfile) -> int | None:
    value = _read(paths(profile).notice)
    try:
        return int(value) if value else None
    except ValueError:
        return None


def acknowledge_notice(profile: TrackedProfile) -> None:
    atomic_write(paths(profile).notice, f"{profile.consent_version}\n".encode())


def append_log(profile: TrackedProfile, records: list[dict[str, Any]]) -> None:
    """Append sent events to the local log, one JSON object a line; keep it size-bounded.

    Called by the uploader after every accepted batch, so it is kept cheap: one ``open``
    (the state dir is created only when it is missing), one encoder for every record (keys in
    the order the record has them), one ``write``. The log may grow to ``2 * LOG_MAX_BYTES``;
    then it is cut to its newest ``LOG_MAX_BYTES`` (at a line boundary) and atomically replaced
    — a temp file renamed over it, never fsynced: the log is best effort, and a trim every
    ``LOG_MAX_BYTES`` of events must not cost a disk flush each time.
    """
    if not records:
        return
    path = paths(profile).log
    encode = _LOG_ENCODER.encode
    data = ("\n".join([encode(r) for r in records]) + "\n").encode()
    # O_NOFOLLOW: a symlink planted at the log path must not make us append events to its
    # target (say ~/.profile); such a log is replaced by a regular file instead.
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, flags, 0o600)
    except OSError:
        if not os.path.islink(path):
            raise
        os.unlink(path)
        fd = os.open(path, flags | os.O_EXCL, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return  # a FIFO or device planted there: never write to it
        os.write(fd, data)
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size > 2 * LOG_MAX_BYTES:
        _trim_log(path, size)


#: One encoder for every log line (``json.dumps`` with options builds a new one per call).
_LOG_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _trim_log(path: str, size: int) -> None:
    """Keep the newest ``LOG_MAX_BYTES`` of the log (whole lines), replacing it atomically."""
    with open(path, "rb") as fh:
        fh.seek(max(0, size - LOG_MAX_BYTES))
        tail = fh.read()
    tail = tail[tail.find(b"\n") + 1 :]
    atomic_write(path, tail, durable=False)


def read_log(profile: TrackedProfile, last: int = 20) -> list[dict[str, Any]]:
    """The newest ``last`` events sent from this machine, oldest first."""
    try:
        with open(paths(profile).log, "rb") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    # Parse from the end and skip what does not parse (a torn line from a crash mid-append),
    # so a damaged line never hides the events around it.
    out: list[dict[str, Any]] = []
    for line in reversed(lines):
        if len(out) >= last:
            break
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    out.reverse()
    return out
