"""Getting queued events to the collector without ever holding the host up.

Design, and why:

- The host thread only appends a small tuple to a bounded deque (no lock: ``deque.append`` and
  ``popleft`` are atomic in CPython). When the queue is full, new events are dropped and
  counted: memory stays bounded whatever the host records while the collector is away.
- ONE daemon thread does everything else: it imports snowplow_tracker (off the host's import
  path), builds tracker-protocol payloads, checks consent again, and POSTs batches of up to
  ``batch_size`` with ``requests`` and a (connect, read) timeout. Being a daemon, it can be left
  behind at exit: a collector that never answers holds this thread, not the host.
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
  (:func:`consent.state.append_log`): exactly the event data and contexts that were sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

#: What the host thread queues: (schema uri, event name, data, invocation id, extra contexts,
#: timestamp in ms). A tuple, because building it must cost next to nothing.
Record = tuple[str, str, dict[str, Any], str, tuple[tuple[str, dict[str, Any]], ...], int]
ContextsFor = Callable[[str], list[tuple[str, dict[str, Any]]]]

#: Statuses worth retrying: the collector (or a proxy) may get better. Others (4xx) will not.
_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
_BACKOFF_MAX = 8.0


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
    batch_size: int = 50
    request_timeout: float = 5.0
    max_retries: int = 3
    linger: float = 1.0
    #: First retry delay in seconds; it doubles for each retry spent (at most 8 s).
    backoff: float = 0.5


class Sender:
    """A bounded queue drained by one daemon thread; see the module docstring for the rules."""

    def __init__(
        self,
        options: SendOptions,
        *,
        namespace: str,
        stats: TrackerStats,
        allowed: Callable[[], bool],
        contexts_for: ContextsFor,
        on_sent: Callable[[list[dict[str, Any]]], None],
    ) -> None:
        self._options = options
        self._namespace = namespace
        self._stats = stats
        self._allowed = allowed
        self._contexts_for = contexts_for
        self._on_sent = on_sent
        self._queue: deque[Record] = deque()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._drained = threading.Event()
        self._retries_left = options.max_retries
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    # -- host thread -----------------------------------------------------------------------
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
            self._drop_all("dropped_failed")
        finally:
            self._drained.set()

    def _serve(self) -> None:
        # Imported here, in this thread: off the host's import path and off its main thread.
        from urllib.parse import urlsplit

        import requests

        from ._snowplow import PAYLOAD_DATA_SCHEMA, PayloadBuilder
        from .endpoint import TP2_PATH, is_loopback

        self._envelope = PAYLOAD_DATA_SCHEMA
        self._post_url = self._options.url + TP2_PATH
        self._builder = PayloadBuilder(namespace=self._namespace, app_id=self._namespace)
        self._session = requests.Session()
        # Proxy variables and .netrc are for reaching the outside world; a loopback collector
        # (development, tests) must be reached directly, whatever HTTP_PROXY says.
        self._session.trust_env = not is_loopback(urlsplit(self._options.url).hostname or "")
        while True:
            self._wake.wait(self._options.linger)
            self._wake.clear()
            while self._queue:
                batch = [self._queue.popleft()
                         for _ in range(min(self._options.batch_size, len(self._queue)))]
                try:
                    self._send(batch)
                except Exception:  # noqa: BLE001 - one bad batch must not end the sender
                    self._stats.errors += 1
                    self._stats.dropped_failed += len(batch)
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

    def _send(self, batch: list[Record]) -> None:
        stats = self._stats
        if stats.gave_up:
            stats.dropped_failed += len(batch)
            return
        if not self._allowed():
            stats.dropped_consent += len(batch)
            self._drop_all("dropped_consent")
            return
        payloads, sent_records = self._build(batch)
        if not payloads:
            return
        while True:
            stamp = str(int(time.time() * 1000))
            for payload in payloads:
                payload["stm"] = stamp  # sent timestamp: when this attempt leaves
            body = json.dumps({"schema": self._envelope, "data": payloads}, separators=(",", ":"))
            status = self._post(body)
            if status is not None and 200 <= status < 300:
                stats.sent += len(payloads)
                from datetime import datetime, timezone

                sent_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
                try:
                    self._on_sent([{"sent_at": sent_at, **record} for record in sent_records])
                except Exception:  # noqa: BLE001 - the local log is best effort
                    stats.errors += 1
                return
            retryable = status is None or status in _RETRYABLE
            if not retryable:
                stats.dropped_failed += len(payloads)
                return
            if self._closing.is_set() or self._retries_left <= 0:
                stats.dropped_failed += len(payloads)
                stats.gave_up = True
                self._drop_all("dropped_failed")
                return
            spent = self._options.max_retries - self._retries_left
            delay = min(_BACKOFF_MAX, self._options.backoff * 2 ** spent)
            self._retries_left -= 1
            stats.retries += 1
            if self._closing.wait(delay):  # closing: no time left for a retry
                stats.dropped_failed += len(payloads)
                return
            if not self._allowed():
                stats.dropped_consent += len(payloads)
                self._drop_all("dropped_consent")
                return

    def _build(self, batch: list[Record]) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
        payloads: list[dict[str, str]] = []
        records: list[dict[str, Any]] = []
        for uri, name, data, invocation_id, extra, timestamp_ms in batch:
            try:
                contexts = [*self._contexts_for(invocation_id), *extra]
                payloads.append(self._builder.build(uri, data, contexts, timestamp_ms))
            except Exception:  # noqa: BLE001 - an event that cannot be built is dropped alone
                self._stats.invalid += 1
                continue
            records.append({
                "event": name,
                "schema": uri,
                "data": data,
                "contexts": [{"schema": c_uri, "data": c_data} for c_uri, c_data in contexts],
            })
        return payloads, records

    def _post(self, body: str) -> int | None:
        """The collector's status code, or None when there was no answer (refused, timeout…)."""
        self._stats.requests += 1
        timeout = self._options.request_timeout
        try:
            response = self._session.post(
                self._post_url,
                data=body.encode("utf-8"),
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=(timeout, timeout),
                # A redirect could lead to plain http or another host than the one we checked.
                allow_redirects=False,
                # Only the status matters; never read a body a broken collector may not end.
                stream=True,
            )
        except Exception:  # noqa: BLE001 - requests.RequestException, and anything odd below it
            return None
        status = response.status_code
        response.close()
        return status
