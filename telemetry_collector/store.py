"""Bounded in-memory store of good and bad events: counts, duplicates, Micro's filters.

Benchmarks push far more events than anyone inspects, so only the most recent ``max_events`` of
each kind are kept (as Micro's ``--max-events``), and only as many as fit in ``max_bytes`` in
all (counted as :func:`.sizes.entry_bytes`, what an entry takes when listed): the counts go on,
and the events pushed out by either bound are counted as ``evicted``.  One event never takes
more than :data:`MAX_EVENT_BYTES`: a bigger one is kept as a bad event without its parameters,
saying so (Snowplow's collector makes an oversized event a size violation too).  Reads list
the newest first, as Micro does.

Delivery is at least once, so the same event (the same ``eid``) may arrive twice.  Every good
event whose ``eid`` was already seen since the last reset counts as a *duplicate*; the ids are
remembered in a bounded window (the most recent :data:`DUPLICATE_WINDOW` distinct ids, or
``max_events`` if more), so memory stays bounded however long the collector runs.

Waiters (``wait_for``) let tests that use asynchronous emitters block until events arrive
instead of sleeping.  The server answers a tracker before it validates the request (as a real
collector does); :meth:`EventStore.expect` marks such a request as pending, and every read waits
until the pending verdicts are stored, so whoever got an answer to a POST then sees its events,
on any connection.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar

from .model import BadEvent, GoodEvent, Outcome
from .sizes import entry_bytes

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_EVENTS",
    "DUPLICATE_WINDOW",
    "MAX_EVENT_BYTES",
    "EventStore",
]

DEFAULT_MAX_EVENTS = 100_000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
#: The most one stored event may take (Snowplow's Kinesis collector's record limit, about).
MAX_EVENT_BYTES = 1024 * 1024
_ERRORS_KEPT = 8  # of an oversized event, each cut to _ERROR_CHARS
_ERROR_CHARS = 1024
#: Distinct event ids remembered for duplicate counting (at least; ``max_events`` if larger).
DUPLICATE_WINDOW = 100_000
#: A read waits at most this long for verdicts still being checked (a 10 MiB body takes ~0.1 s).
_PENDING_WAIT_S = 10.0

_COUNTS = ("good", "bad", "duplicates", "evicted")
_Kept = TypeVar("_Kept")


class EventStore:
    """Thread-safe; every read returns fresh JSON-ready dicts (nested data is shared)."""

    def __init__(
        self, max_events: int = DEFAULT_MAX_EVENTS, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        if max_bytes < MAX_EVENT_BYTES:
            raise ValueError(f"max_bytes must be at least {MAX_EVENT_BYTES} (one event's most)")
        self.max_events = max_events
        self.max_bytes = max_bytes
        #: Good events, oldest first, each with whether its ``eid`` had been seen before, and
        #: its size; bad events, oldest first, with theirs; the sum of those sizes.
        self._good: deque[tuple[GoodEvent, bool, int]] = deque()
        self._bad: deque[tuple[BadEvent, int]] = deque()
        self._bytes = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._window = max(max_events, DUPLICATE_WINDOW)
        self._counts = dict.fromkeys(_COUNTS, 0)
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
        counts = self._counts
        for outcome in outcomes:
            size = entry_bytes(outcome)
            if size > MAX_EVENT_BYTES:
                outcome = _oversized(outcome, size)
                size = entry_bytes(outcome)
            if isinstance(outcome, GoodEvent):
                if len(self._good) == self.max_events:
                    self._evict(self._good)
                repeat = self._seen_before(outcome.event_id)
                self._good.append((outcome, repeat, size))
                counts["good"] += 1
                counts["duplicates"] += repeat
                kind: deque[Any] = self._good
            else:
                if len(self._bad) == self.max_events:
                    self._evict(self._bad)
                self._bad.append((outcome, size))
                counts["bad"] += 1
                kind = self._bad
            self._bytes += size
            while self._bytes > self.max_bytes:  # the oldest of its kind first, then the other
                self._evict(
                    kind if len(kind) > 1 else self._bad if kind is self._good else self._good
                )

    def _evict(self, kind: deque[Any]) -> None:
        self._bytes -= kind.popleft()[-1]
        self._counts["evicted"] += 1

    def _seen_before(self, event_id: str) -> bool:
        seen = self._seen
        if event_id in seen:
            seen.move_to_end(event_id)
            return True
        seen[event_id] = None
        if len(seen) > self._window:
            seen.popitem(last=False)
        return False

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
        """Micro's ``{total, good, bad}`` since the last reset (evicted events included), and
        ``duplicates`` and ``evicted``."""
        with self._changed:
            self._settle()
            return self._summary()

    def _summary(self) -> dict[str, int]:
        counts = self._counts
        return {"total": counts["good"] + counts["bad"], **counts}

    def reset(self) -> dict[str, int]:
        """Forget every event, count and seen id; the (zero) totals."""
        with self._changed:
            self._settle()
            self._good.clear()
            self._bad.clear()
            self._bytes = 0
            self._seen.clear()
            self._counts = dict.fromkeys(_COUNTS, 0)
            self._changed.notify_all()
            return self._summary()

    def _newest_first(self, kept: deque[_Kept]) -> list[_Kept]:
        """A copy of *kept*, newest first, once every announced verdict is in."""
        with self._changed:
            self._settle()
            return list(reversed(kept))

    def good(
        self,
        *,
        schema: str | None = None,
        event_type: str | None = None,
        contexts: Sequence[str] = (),
        duplicates: bool | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Good events, newest first; filters as in Snowplow Micro.

        *event_type* is the canonical type (``unstruct``, ``struct``, ``page_view``...); every
        schema in *contexts* must be attached; *duplicates* True keeps only events whose ``eid``
        had been seen before, False only first arrivals; *limit* keeps the newest.
        """
        events = self._newest_first(self._good)
        selected = (
            event
            for event, repeat, _size in events
            if (schema is None or event.schema == schema)
            and (event_type is None or event.event_type == event_type)
            and (duplicates is None or repeat == duplicates)
            and (not contexts or _has_all(event, contexts))
        )
        return [event.to_json() for event in _first(selected, limit)]

    def bad(
        self,
        *,
        vendor: str | None = None,
        version: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Bad events, newest first; *vendor* / *version* match the request's API (the path:
        ``com.snowplowanalytics.snowplow`` / ``tp2``, or ``tp1`` for the pixel)."""
        events = self._newest_first(self._bad)
        selected = (
            event
            for event, _size in events
            if (vendor is None or event.info.api["vendor"] == vendor)
            and (version is None or event.info.api["version"] == version)
        )
        return [event.to_json() for event in _first(selected, limit)]

    def wait_for(
        self,
        *,
        total: int | None = None,
        good: int | None = None,
        bad: int | None = None,
        timeout: float = 5.0,
    ) -> bool:
        """Block until the counts reach the given minimums; False on timeout."""

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


def _oversized(outcome: Outcome, size: int) -> BadEvent:
    """What is kept of an event over :data:`MAX_EVENT_BYTES`: why, and its first reasons."""
    reason = (
        f"size violation: the event takes {size} bytes, more than the {MAX_EVENT_BYTES} the "
        "collector keeps of one; its parameters are left out"
    )
    errors = outcome.errors[:_ERRORS_KEPT] if isinstance(outcome, BadEvent) else ()
    return BadEvent(errors=(reason, *(error[:_ERROR_CHARS] for error in errors)), info=outcome.info)


def _has_all(event: GoodEvent, contexts: Sequence[str]) -> bool:
    attached = event.context_schemas()
    return all(schema in attached for schema in contexts)


def _first(items: Iterator[Any], limit: int | None) -> list[Any]:
    return list(items if limit is None else islice(items, limit))
