"""Bounded in-memory store of good and bad events, with totals.

Benchmarks push far more events than anyone inspects, so only the most
recent ``max_events`` of each kind are kept while the totals keep counting.
Waiters (``wait_for``) let tests that use asynchronous emitters block until
events arrive instead of sleeping.

The server answers a tracker before it validates the request (as a real
collector does); :meth:`EventStore.expect` marks such a request as pending, and
every read waits until the pending verdicts are stored, so whoever got an answer
to a POST then sees its events, on any connection.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from .model import BadEvent, GoodEvent, Outcome

DEFAULT_MAX_EVENTS = 100_000
#: A read waits at most this long for verdicts still being checked (a 10 MiB body takes ~0.1 s).
_PENDING_WAIT_S = 10.0


class EventStore:
    """Thread-safe; every read returns fresh JSON-ready dicts (nested data is shared)."""

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.max_events = max_events
        self._good: deque[GoodEvent] = deque(maxlen=max_events)
        self._bad: deque[BadEvent] = deque(maxlen=max_events)
        self._counts = {"good": 0, "bad": 0}
        self._changed = threading.Condition()
        #: Requests answered whose verdicts are not stored yet, in the order they were answered:
        #: ticket -> their outcomes once checked (None until then).
        self._pending: dict[int, list[Outcome] | None] = {}
        self._tickets = 0

    def expect(self) -> int:
        """A request was answered and its verdicts will follow; the ticket to :meth:`add` them
        with. Verdicts are stored in the order of the tickets (the order requests arrived)."""
        with self._changed:
            self._tickets += 1
            self._pending[self._tickets] = None
            return self._tickets

    def add(self, outcomes: Iterable[Outcome], *, ticket: int | None = None) -> None:
        """Store verdicts: those of the request that got ``ticket`` from :meth:`expect`, or of one
        that was never announced (stored after every request answered before it)."""
        with self._changed:
            pending = self._pending
            if ticket is None or ticket not in pending:
                self._tickets += 1
                ticket = self._tickets
            pending[ticket] = list(outcomes)
            while pending:  # the oldest announced requests whose verdicts are in, in order
                first = next(iter(pending))
                ready = pending[first]
                if ready is None:
                    break
                del pending[first]
                self._append(ready)
            self._changed.notify_all()

    def _append(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, GoodEvent):
                self._good.append(outcome)
                self._counts["good"] += 1
            else:
                self._bad.append(outcome)
                self._counts["bad"] += 1

    def _settle(self) -> None:
        """Wait (holding the condition) until no announced verdict is missing."""
        if self._pending:
            deadline = time.monotonic() + _PENDING_WAIT_S
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)

    def totals(self) -> dict[str, int]:
        """``{"total": n, "good": g, "bad": b}`` since the last reset, beyond the bound too."""
        with self._changed:
            self._settle()
            good, bad = self._counts["good"], self._counts["bad"]
        return {"total": good + bad, "good": good, "bad": bad}

    def reset(self) -> dict[str, int]:
        with self._changed:
            self._settle()
            self._good.clear()
            self._bad.clear()
            self._counts = {"good": 0, "bad": 0}
            self._changed.notify_all()
        return {"total": 0, "good": 0, "bad": 0}

    def good(
        self,
        *,
        schema: str | None = None,
        event_type: str | None = None,
        contexts: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Good events in arrival order; filters as in Snowplow Micro.

        *event_type* matches Micro's name (``unstruct``) or the raw ``e`` code
        (``ue``); *contexts* must all be present; *limit* keeps the most recent.
        """
        with self._changed:
            self._settle()
            events = list(self._good)
        selected = [
            e
            for e in events
            if (schema is None or e.schema == schema)
            and (event_type is None or event_type in (e.event_type, e.params.get("e")))
            and all(c in e.context_schemas() for c in contexts)
        ]
        return [e.to_json() for e in _last(selected, limit)]

    def bad(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Bad events in arrival order; *limit* keeps the most recent."""
        with self._changed:
            self._settle()
            events = list(self._bad)
        return [e.to_json() for e in _last(events, limit)]

    def wait_for(
        self,
        *,
        total: int | None = None,
        good: int | None = None,
        bad: int | None = None,
        timeout: float = 5.0,
    ) -> bool:
        """Block until the totals reach the given minimums; False on timeout."""

        def reached() -> bool:
            g, b = self._counts["good"], self._counts["bad"]
            return (
                (total is None or g + b >= total)
                and (good is None or g >= good)
                and (bad is None or b >= bad)
            )

        deadline = time.monotonic() + timeout
        with self._changed:
            while not reached():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True


def _last(items: list[Any], limit: int | None) -> list[Any]:
    if limit is None:
        return items
    return items[-limit:] if limit > 0 else []
