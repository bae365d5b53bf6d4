"""Process plumbing shared by ``python -m telemetry_collector`` and
``python -m tests.support.faults``.

Spawners (tests, benchmarks) start these servers with ``--port 0`` and wait
for a *ready file* holding the real URL, so the file must never be seen
half-written; and the process must exit promptly and cleanly on SIGTERM or
SIGINT.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any, Self

from consent.files import atomic_write

#: How long a stop can go unnoticed: Ctrl-C must feel instant.
_POLL_SECONDS = 0.05


def write_ready_file(path: str | os.PathLike[str], text: str) -> None:
    """Write *text* (no trailing newline) atomically: readers see all or nothing."""
    # Not fsynced: a ready file only lives as long as the process that announces itself.
    atomic_write(os.fspath(path), text.encode("utf-8"), mode=0o644, durable=False)


class StopSignals:
    """SIGTERM and SIGINT, caught from the moment this is entered until it is left.

    Enter it *before* binding and announcing a server: a Ctrl-C that lands while the server is
    still starting then stops it like any other, instead of escaping as KeyboardInterrupt.  The
    handler only flips a flag that :meth:`wait` polls: calling ``Event.set`` from a handler can
    deadlock if the signal lands while the main thread holds the event's internal lock.  Only
    the main thread can install handlers; elsewhere only *stop_event* stops :meth:`wait`.
    """

    def __init__(self, stop_event: threading.Event | None = None) -> None:
        self._stop_event = stop_event or threading.Event()
        self._signalled = False
        self._previous: dict[signal.Signals, Any] = {}

    def _handler(self, signum: int, frame: object) -> None:
        self._signalled = True

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        self._previous.clear()

    @property
    def stopped(self) -> bool:
        return self._signalled or self._stop_event.is_set()

    def wait(self) -> None:
        """Block until a signal arrives or the stop event is set (within ``_POLL_SECONDS``)."""
        while not self.stopped:
            time.sleep(_POLL_SECONDS)


def wait_until_stopped(stop_event: threading.Event | None = None) -> None:
    """Block until SIGTERM/SIGINT arrives (main thread only) or *stop_event* is set."""
    with StopSignals(stop_event) as signals:
        signals.wait()
