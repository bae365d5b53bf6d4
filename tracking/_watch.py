"""Re-checking consent cheaply: decide again only when a file the decision read has changed.

``consent.decide`` reads a policy file, a project file and the user config (a few hundred
microseconds). A ``telemetry disable`` between recording an event and sending it must still
stop it, so the tracker asks :meth:`ConsentWatch.allowed` before every batch; that costs one
``stat`` per watched file (mtime, size, inode: an atomic rename changes the inode, an in-place
edit the mtime or size), and the full decision runs again only when a fingerprint moved.

A withdrawal sticks for the rest of the process: once off, the tracker never turns back on,
even if the user re-enables before the process ends (the conservative reading of their intent).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from consent import Decision

Fingerprint = tuple[tuple[int, int, int] | None, ...]


def fingerprint(paths: tuple[str, ...]) -> Fingerprint:
    out: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            out.append(None)
            continue
        out.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(out)


class ConsentWatch:
    """The current answer to "may we still send?", refreshed when a watched file changes."""

    def __init__(self, decision: Decision, decide: Callable[[], Decision]):
        self._decide = decide
        self._paths = tuple(decision.watched_paths)
        self._fingerprint = fingerprint(self._paths)
        self._lock = threading.Lock()
        self.enabled = decision.enabled

    def allowed(self) -> bool:
        """True while consent holds; never raises (a failure to decide counts as off)."""
        if not self.enabled:
            return False
        if fingerprint(self._paths) == self._fingerprint:
            return True
        with self._lock:
            try:
                decision = self._decide()
                self._paths = tuple(decision.watched_paths)
                self._fingerprint = fingerprint(self._paths)
                still = decision.enabled
            except Exception:  # noqa: BLE001 - cannot tell: fail closed
                still = False
            if not still:
                self.enabled = False
        return self.enabled
