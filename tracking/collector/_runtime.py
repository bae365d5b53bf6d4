"""Process plumbing shared by ``python -m tracking.collector`` and
``python -m tracking.collector.faults``.

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
from pathlib import Path
from typing import Any

_POLL_SECONDS = 0.1


def write_ready_file(path: str | os.PathLike[str], text: str) -> None:
    """Write *text* (no trailing newline) atomically: readers see all or nothing."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def wait_until_stopped(stop_event: threading.Event | None = None) -> None:
    """Block until SIGTERM/SIGINT arrives (main thread only) or *stop_event* is set.

    The signal handler only flips a flag; the loop polls it.  Calling
    ``Event.set`` from a handler can deadlock if the signal lands while the
    main thread holds the event's internal lock.
    """
    stop_event = stop_event or threading.Event()
    flag = {"stop": False}
    previous: dict[signal.Signals, Any] = {}

    def _handler(signum: int, frame: object) -> None:
        flag["stop"] = True

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, _handler)
    try:
        while not flag["stop"] and not stop_event.is_set():
            time.sleep(_POLL_SECONDS)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
