"""Getting queued events to the collector without ever holding the host up.

Design, and why:

- The host thread only appends a small tuple to a bounded deque (no lock: ``deque.append`` and
  ``popleft`` are atomic in CPython). When the queue is full, new events are dropped and
  counted: memory stays bounded whatever the host records while the collector is away.
- ONE daemon thread does everything else. It is started while the tracker is being constructed
  (:meth:`Sender.ahead` as soon as the run is sure to send, else :meth:`Sender.start`), so that
  its imports (snowplow_tracker, off the host's import path and off its main thread) and its
  connection to the collector are ready by the time the host has events to send. It builds tracker-protocol payloads, checks consent again, and POSTs
  batches of up to ``batch_size`` over one keep-alive connection (:mod:`tracking._http`, with a
  timeout on the connect and on every read). Being a daemon, it can be left behind at exit: a
  collector that never answers holds this thread, not the host.
- The thread overlaps its work with the collector's: it sends batch N, builds batch N+1 while
  the collector handles N, then reads N's answer and sends N+1. One request is in flight at a
  time; a failed batch is settled (retried or dropped) before the next one is sent.
- Failures spend a retry budget that is shared by the whole process (``max_retries``), with
  exponential backoff between attempts. When it is spent, the next failure makes the sender
  give up for the rest of the process and drop everything: a refused port or a collector
  answering 500 costs at most ``max_retries + 1`` requests, never a loop.
- Consent is checked again right before each attempt (:class:`~tracking._watch.ConsentWatch`):
  events queued before a ``telemetry disable`` are dropped, not sent.
- :meth:`Sender.close` (atexit, or the host) asks for a last flush and waits at most the
  deadline; during close the first failure gives up at once (a backoff would not fit in the
  deadline, and the next batches would only meet the same collector).
- Each batch the collector accepted (2xx) is appended to the local log
  (:func:`consent.state.append_log`): exactly the event data and contexts that were sent. It is
  written off the path of the next batch, whenever the thread would otherwise wait: the queue is
  empty (while the collector works on the last batch, and after its answer, before the thread
  reports the queue drained), an answer has not come back yet, a retry backs off; and every
  couple of thousand events in a steady stream. So an accepted batch is logged before the
  thread can get stuck on a later one.
- What is the same for every event of an invocation (its contexts, encoded as ``cx``, and their
  form in the log) is built once per invocation, not once per event.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

#: What the host thread queues: (schema uri, event name, data, invocation id, extra contexts,
#: timestamp in ms). A tuple, because building it must cost next to nothing.
Record = tuple[str, str, dict[str, Any], str, tuple[tuple[str, dict[str, Any]], ...], int]
ContextsFor = Callable[[str], list[tuple[str, dict[str, Any]]]]

#: Statuses worth retrying: the collector (or a proxy) may get better. Others (4xx) will not.
_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
_BACKOFF_MAX = 8.0
_MAX_CACHED_INVOCATIONS = 64
#: Accepted events kept for the local log before it is written in the middle of a stream.
_LOG_EVERY = 2_000


@dataclass
class TrackerStats:
    """What happened to the events of this process (counters are approximate under threads)."""

    recorded: int = 0
    sent: int = 0
    dropped_queue_full: int = 0
    dropped_consent: int = 0
    dropped_failed: int = 0
    dropped_closed: int = 0
    invalid: int = 0
    requests: int = 0
    retries: int = 0
    errors: int = 0
    gave_up: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SendOptions:
    url: str
    queue_size: int = 10_000
    batch_size: int = 200
    request_timeout: float = 5.0
    max_retries: int = 3
    linger: float = 1.0
    #: First retry delay in seconds; it doubles for each retry spent (at most 8 s).
    backoff: float = 0.5


class _Batch:
    """Built payloads on their way, and what the log gets once the collector accepted them."""

    __slots__ = ("payloads", "records", "sent", "sent_at")

    def __init__(self, payloads: list[dict[str, str]],
                 records: list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]) -> None:
        self.payloads = payloads
        self.records = records
        self.sent = False  # the request left (its answer is still to be read)
        self.sent_at = ""  # when the collector accepted it (ISO 8601, for the local log)


class Sender:
    """A bounded queue drained by one daemon thread; see the module docstring for the rules."""

    def __init__(
        self,
        options: SendOptions | None,
        *,
        namespace: str,
        stats: TrackerStats,
        allowed: Callable[[], bool] | None = None,
        contexts_for: ContextsFor | None = None,
        on_sent: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        """``options`` None: not configured yet (see :meth:`configure`); else the callbacks too."""
        self._namespace = namespace
        self._stats = stats
        #: The collector a sender made by :meth:`ahead` expects to be configured for.
        self.ahead_url: str | None = None
        self._queue: deque[Record] = deque()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._drained = threading.Event()
        #: Set once the options and callbacks are known (at once, unless made by :meth:`ahead`).
        self._configured = threading.Event()
        self._cancelled = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._in_flight: _Batch | None = None
        #: Batches the collector accepted, waiting to be written to the local log.
        self._unlogged: list[_Batch] = []
        self._unlogged_events = 0
        self._warm_up: Callable[[], None] | None = None
        #: invocation id -> (its contexts list, encoded ``cx``, the contexts as the log has them)
        self._by_invocation: dict[str, tuple[list, str | None, list[dict[str, Any]]]] = {}
        if options is not None:
            assert allowed is not None and contexts_for is not None and on_sent is not None
            self.configure(options, allowed=allowed, contexts_for=contexts_for, on_sent=on_sent)

    @classmethod
    def ahead(cls, url: str, *, namespace: str, stats: TrackerStats) -> Sender:
        """A sender for ``url`` whose thread starts now, before its options are known.

        The thread does its imports (the slow part of its start) while the host finishes setting
        up, then waits for :meth:`configure` (or :meth:`cancel`) before it opens a connection.
        """
        sender = cls(None, namespace=namespace, stats=stats)
        sender.ahead_url = url
        sender._start()
        return sender

    def configure(self, options: SendOptions, *, allowed: Callable[[], bool],
                  contexts_for: ContextsFor,
                  on_sent: Callable[[list[dict[str, Any]]], None],
                  warm_up: Callable[[], None] | None = None) -> Sender:
        """Give the thread its options and callbacks; it may send from now on.

        ``warm_up``, if given, is called by the thread once connected, before the first batch:
        work the first batch would otherwise wait for (it must not write anything).
        """
        self._options = options
        self._allowed = allowed
        self._contexts_for = contexts_for
        self._on_sent = on_sent
        self._warm_up = warm_up
        self._retries_left = options.max_retries
        self._configured.set()
        return self

    def cancel(self) -> None:
        """This run will not send after all: the thread ends after its imports, opening nothing."""
        if not self._configured.is_set():
            self._cancelled = True
            self._closing.set()
            self._configured.set()

    # -- host thread -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the sender thread now (imports, connection), ahead of the first event."""
        if self._thread is None:
            self._start()

    def put(self, record: Record) -> None:
        """Queue ``record``; microseconds, never blocks, never raises."""
        queue = self._queue
        if self._closing.is_set():
            self._stats.dropped_closed += 1
            return
        if self._stats.gave_up:
            self._stats.dropped_failed += 1
            return
        if len(queue) >= self._options.queue_size:
            self._stats.dropped_queue_full += 1
            return
        queue.append(record)
        if self._thread is None:
            self._start()
        elif len(queue) >= self._options.batch_size and not self._wake.is_set():
            self._wake.set()

    def close(self, deadline: float) -> bool:
        """Flush what is queued, waiting at most ``deadline`` seconds; True if all of it went."""
        self.cancel()  # (only if it was never configured)
        self._closing.set()
        if self._thread is None:
            return True
        self._wake.set()
        return self._drained.wait(max(0.0, deadline))

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                return
            thread = threading.Thread(target=self._run, name="telemetry-sender", daemon=True)
            self._thread = thread
            thread.start()

    # -- sender thread ---------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._serve()
        except BaseException:  # noqa: BLE001 - nothing may reach threading.excepthook's traceback
            self._stats.errors += 1
            self._stats.gave_up = True
            if self._in_flight is not None:
                self._stats.dropped_failed += len(self._in_flight.payloads)
                self._in_flight = None
            self._drop_all("dropped_failed")
        finally:
            transport = getattr(self, "_transport", None)
            if transport is not None:
                transport.close()
            self._drained.set()

    def _serve(self) -> None:
        # Imported here, in this thread: off the host's import path and off its main thread.
        from ._http import Transport
        from ._snowplow import PAYLOAD_DATA_SCHEMA, PayloadBuilder

        self._envelope = PAYLOAD_DATA_SCHEMA
        self._encode = json.JSONEncoder(separators=(",", ":")).encode
        self._builder = PayloadBuilder(namespace=self._namespace, app_id=self._namespace)
        self._configured.wait()
        if self._cancelled:
            return
        self._transport = Transport(self._options.url, self._options.request_timeout)
        if not self._closing.is_set():
            self._transport.connect()  # ahead of the first batch (TCP, TLS); best effort
        if self._warm_up is not None:
            try:
                self._warm_up()
            except Exception:  # noqa: BLE001 - the first batch will do it (and count a failure)
                pass
        batch_size = self._options.batch_size
        queue = self._queue
        while True:
            self._wake.wait(self._options.linger)
            self._wake.clear()
            while queue:
                batch = [queue.popleft() for _ in range(min(batch_size, len(queue)))]
                try:
                    self._push(batch)
                except Exception:  # noqa: BLE001 - one bad batch must not end the sender
                    self._stats.errors += 1
                    self._stats.dropped_failed += len(batch)
            self._write_log()  # while the collector works on the last batch
            self._settle_in_flight()
            self._write_log()
            if self._closing.is_set():
                self._drained.set()
                return

    def _drop_all(self, reason: str) -> None:
        dropped = 0
        while self._queue:
            try:
                self._queue.popleft()
            except IndexError:
                break
            dropped += 1
        setattr(self._stats, reason, getattr(self._stats, reason) + dropped)

    def _push(self, records: list[Record]) -> None:
        """Build ``records`` while the previous batch is in flight, settle that one, send these."""
        stats = self._stats
        if stats.gave_up:
            stats.dropped_failed += len(records)
            return
        if not self._allowed():
            stats.dropped_consent += len(records)
            self._drop_all("dropped_consent")
            return
        batch = self._build(records)
        waited = self._in_flight is not None
        self._settle_in_flight()
        if not batch.payloads:
            return
        if stats.gave_up:
            stats.dropped_failed += len(batch.payloads)
            return
        if waited and not self._allowed():  # consent again, right before this batch leaves
            stats.dropped_consent += len(batch.payloads)
            self._drop_all("dropped_consent")
            return
        self._send(batch)
        self._in_flight = batch
        if self._unlogged_events >= _LOG_EVERY:
            self._write_log()  # a steady stream: the log is written every few batches

    def _send(self, batch: _Batch) -> None:
        """One attempt: stamp, encode and send ``batch``; its answer is read by :meth:`_settle`."""
        self._stats.requests += 1
        stamp = str(int(time.time() * 1000))
        for payload in batch.payloads:
            payload["stm"] = stamp  # sent timestamp: when this attempt leaves
        body = self._encode({"schema": self._envelope, "data": batch.payloads}).encode("utf-8")
        try:
            self._transport.send(body)
            batch.sent = True
        except Exception:  # noqa: BLE001 - refused, reset, TLS, timeout: no answer
            batch.sent = False

    def _settle_in_flight(self) -> None:
        batch, self._in_flight = self._in_flight, None
        if batch is not None:
            self._settle(batch)

    def _settle(self, batch: _Batch) -> None:
        """Read the answer to ``batch``; log it, drop it, or retry it within the budget."""
        stats = self._stats
        count = len(batch.payloads)
        while True:
            if batch.sent and self._unlogged and not self._transport.answered():
                self._write_log()  # about to wait for the collector anyway
            status = self._transport.receive() if batch.sent else None
            if status is not None and 200 <= status < 300:
                stats.sent += count
                batch.sent_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
                self._unlogged.append(batch)
                self._unlogged_events += count
                return
            retryable = status is None or status in _RETRYABLE
            if not retryable:
                stats.dropped_failed += count
                return
            if self._closing.is_set() or self._retries_left <= 0:
                stats.dropped_failed += count
                stats.gave_up = True
                self._drop_all("dropped_failed")
                return
            spent = self._options.max_retries - self._retries_left
            delay = min(_BACKOFF_MAX, self._options.backoff * 2 ** spent)
            self._retries_left -= 1
            stats.retries += 1
            self._write_log()
            if self._closing.wait(delay):  # closing: no time left for a retry
                stats.dropped_failed += count
                return
            if not self._allowed():
                stats.dropped_consent += count
                self._drop_all("dropped_consent")
                return
            self._send(batch)

    def _write_log(self) -> None:
        """Append the accepted batches to the local log (see the module docstring for when)."""
        if not self._unlogged:
            return
        batches, self._unlogged = self._unlogged, []
        self._unlogged_events = 0
        try:
            records = []
            for batch in batches:
                sent_at = batch.sent_at
                records.extend({"sent_at": sent_at, "event": name, "schema": uri, "data": data,
                                "contexts": contexts}
                               for name, uri, data, contexts in batch.records)
            self._on_sent(records)
        except Exception:  # noqa: BLE001 - the local log is best effort
            self._stats.errors += 1

    def _build(self, records: list[Record]) -> _Batch:
        builder = self._builder
        build = builder.build
        contexts_for = self._contexts_for
        by_invocation = self._by_invocation
        payloads: list[dict[str, str]] = []
        logged: list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]] = []
        for uri, name, data, invocation_id, extra, timestamp_ms in records:
            try:
                contexts = contexts_for(invocation_id)
                known = by_invocation.get(invocation_id)
                if known is None or known[0] is not contexts:
                    if len(by_invocation) >= _MAX_CACHED_INVOCATIONS:
                        by_invocation.clear()
                    known = by_invocation[invocation_id] = (
                        contexts, builder.encode_contexts(contexts), _as_logged(contexts))
                if extra:
                    everything = [*contexts, *extra]
                    cx, as_logged = builder.encode_contexts(everything), _as_logged(everything)
                else:
                    cx, as_logged = known[1], known[2]
                payloads.append(build(uri, data, (), timestamp_ms, cx=cx))
            except Exception:  # noqa: BLE001 - an event that cannot be built is dropped alone
                self._stats.invalid += 1
                continue
            logged.append((name, uri, data, as_logged))
        return _Batch(payloads, logged)


def _as_logged(contexts: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{"schema": uri, "data": data} for uri, data in contexts]
