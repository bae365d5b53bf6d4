"""Delivering the spool: the uploader process, and the same work done inside a host.

``python -m tracking.uploader --spool DIR --env-prefix P [--lock-fd N] [--force]`` is started
by a host (:mod:`tracking.delivery`), detached, with its stdio on ``/dev/null``; it reads its
settings, ``<P>TELEMETRY_*``, from the environment it inherits
(:func:`tracking.uploader_settings.load_settings`). ``telemetry upload`` and a host that
delivers in-process (CI, PID 1, :meth:`tracking.Tracker.flush`) run :func:`deliver` instead.
Either way, one :class:`Uploader` holds the spool's lock and:

1. adopts the segments of hosts that died, and drops what is over the spool's bounds, oldest
   first (counted);
2. takes each waiting segment, oldest first, and for every batch of ``batch_size`` events:
   checks that the segment is still there (``telemetry disable`` / ``reset`` delete it) and that
   consent still holds for the run that recorded it (:func:`tracking.records.redecide`: only
   lasting revocations, and only when a file it depends on changed); checks each event against
   its schema (a bad one is dropped and counted); builds tracker-protocol payloads with the
   snowplow-tracker primitives, each event keeping the ``eid`` it was recorded with; POSTs them;
3. on 2xx records the progress (``.sent``) and appends the batch to the local event log; on a
   4xx drops the batch (counted: the collector will not change its mind); on a 5xx tries once
   more a second later; on no answer (refused, timeout, reset, garbage) or a second 5xx gives up
   on that collector for this run and persists a backoff for it (1, 2, 4 … up to
   ``backoff_max_s`` = 60 s): no host starts an uploader for it before then, except that a
   backoff ending within ``WAIT_OUT_S`` is waited out (:func:`main`; docs/delivery.md, "After
   an outage");
4. releases the lock, then looks again: a host that sealed a segment while the lock was held did
   not start an uploader, so whoever releases the lock must check (no lost wake-up).

It **always ends**: the process arms ``SIGALRM`` for ``upload_time_limit`` (30 s) before it does
anything else; the kernel ends it then, whatever it is stuck in (a DNS lookup ignores socket
timeouts). In a host, the work runs on a daemon thread that the host stops waiting for at its
deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import TransportError
from .records import event_document, standard_contexts
from .settings import TrackerSettings
from .spool import WAIT_OUT_S, Segment, Spool, backoff_entries

if TYPE_CHECKING:  # the sending machinery is imported when the first batch is built
    from ._http import Answer, Transport
    from ._snowplow import PayloadBuilder
    from .profile import TrackedProfile

__all__ = ["Report", "Uploader", "deliver", "main"]

#: Statuses worth one more try a second later: a proxy or the collector may recover.
_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Accepted events kept for the local log per pass: about LOG_MAX_BYTES of them (the log keeps
#: no more than that anyway).
_LOG_KEPT = 500
#: Per-segment outcomes kept in state.json (``flush()`` reads its own there).
_RECEIPTS_KEPT = 512
_ROUNDS = 20
#: Tries of one uploader process (each after waiting out a short backoff), at most.
_ATTEMPTS = 6


@dataclass
class Report:
    """What one delivery did (also kept, for the last run, in the spool's state.json)."""

    mode: str = "detached"
    pid: int = field(default_factory=os.getpid)
    started: float = field(default_factory=time.time)
    ended: float | None = None
    sent: int = 0
    batches: int = 0
    rejected: int = 0
    invalid: int = 0
    revoked: int = 0
    cleared: int = 0
    dropped_cap: int = 0
    dropped_age: int = 0
    segments_done: int = 0
    #: Collectors that failed in this run: url -> why.
    failed: dict[str, str] = field(default_factory=dict)
    #: Settings that were ignored because they were wrong, one line each.
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    #: First event accepted / last batch accepted (epoch s), for the benchmarks.
    first_sent_at: float | None = None
    last_sent_at: float | None = None
    cpu_s: float | None = None
    maxrss_kb: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Run:
    """What is known about one recorded run (one segment header), computed once per delivery."""

    profile: TrackedProfile
    header: Mapping[str, Any]
    allowed: Callable[[], bool]
    contexts: dict[str, str]


class _Collector:
    """One collector during one delivery: its connection, and whether it failed already."""

    def __init__(self, url: str, settings: TrackerSettings, deadline: float) -> None:
        from ._http import Transport

        self.url = url
        timeout = max(0.05, min(settings.request_timeout, deadline - time.monotonic()))
        self.transport: Transport = Transport(url, timeout)
        self.failed: str | None = None

    def send(self, body: bytes) -> TransportError | None:
        """Send one batch; why it could not even leave (refused, reset, TLS...), or None."""
        try:
            self.transport.send(body)
        except TransportError as exc:
            return exc
        return None

    def receive(self) -> Answer:
        """The answer to the batch in flight: its status, or why there is none."""
        return self.transport.receive()

    def exchange(self, body: bytes) -> Answer:
        """Send ``body`` and read its answer."""
        failure = self.send(body)
        if failure is not None:
            from ._http import Answer

            return Answer(None, failure)
        return self.receive()


#: An event as sent: its schema, its data, its contexts (for the local log).
_Sent = tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]]]


@dataclass
class _Batch:
    """One batch on its way: the spool lines it covers, the body, what the log keeps."""

    chunk: Sequence[dict[str, Any]]
    body: bytes | None
    logged: list[_Sent]
    invalid: int
    #: Why the batch could not leave (None: it is in flight).
    unsent: TransportError | None = None


@dataclass
class _Tally:
    """What became of one run's events so far."""

    accepted: int = 0
    dropped: int = 0


class Uploader:
    """Delivers what waits in one spool; see the module docstring. Never raises from :meth:`run`."""

    def __init__(
        self,
        spool: Spool | None,
        settings: TrackerSettings,
        *,
        deadline: float,
        force: bool = False,
        mode: str = "detached",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.spool = spool
        self.settings = settings
        self.deadline = deadline
        self.force = force
        self.env = env
        self.report = Report(mode=mode)
        self._collectors: dict[str, _Collector] = {}
        self._runs: dict[str, _Run] = {}
        self._builders: dict[str, PayloadBuilder] = {}
        self._anonymous: dict[str, str] = {}
        self._checks: dict[str, Callable[[Any], Any] | None] = {}
        self._encode = json.JSONEncoder(separators=(",", ":")).encode
        #: Accepted events waiting to be written to the local log, per profile.
        self._log: dict[str, tuple[TrackedProfile, list[tuple[str, _Sent]]]] = {}

    # -- the loop -------------------------------------------------------------------------------
    def run(self, lock_fd: int | None = None, *, wait_for_lock: bool = False) -> Report:
        """Take the lock (or use ``lock_fd``, already locked), deliver, release, look again."""
        spool = self.spool
        if spool is None:
            return self.report
        fd = lock_fd
        try:
            for _ in range(_ROUNDS):
                if fd is None:
                    fd = self._lock(wait_for_lock)
                    if fd is None:
                        break
                Spool.mark_holder(fd)
                try:
                    self.round()
                except Exception as exc:
                    # Into the report before it is saved below: state.json must tell that this
                    # run failed, and why (it was saved with ``error: null`` before).
                    self.report.error = f"{type(exc).__name__}: {exc}"
                    raise
                finally:
                    self._write_log()
                    self._save_state()
                    os.close(fd)
                    fd = None
                if not self._more_to_do():
                    break
        except Exception as exc:  # noqa: BLE001 - an uploader must end quietly, whatever happened
            self.report.error = f"{type(exc).__name__}: {exc}"
        finally:
            if fd is not None:
                os.close(fd)
            self._close()
        self.report.ended = time.time()
        return self.report

    def _lock(self, wait: bool) -> int | None:
        assert self.spool is not None
        while True:
            try:
                fd = self.spool.try_lock()
            except OSError:
                return None  # no spool can exist here (read-only, full): nothing to deliver
            if fd is not None or not wait or time.monotonic() >= self.deadline:
                return fd
            time.sleep(0.02)

    def _time_left(self) -> float:
        return self.deadline - time.monotonic()

    def _more_to_do(self) -> bool:
        """After releasing the lock: is there a segment this run could still deliver?"""
        if self._time_left() <= 0.2 or self.spool is None:
            return False
        for segment in self.spool.segments():
            if segment.state not in ("seg", "sending"):
                continue
            endpoint = _peek_endpoint(segment)
            if endpoint is None or endpoint in self.report.failed:
                continue
            if self.force or self.spool.not_before(endpoint) <= time.time():
                return True
        return False

    def round(self) -> None:
        """One pass over the spool, under the lock."""
        spool = self.spool
        assert spool is not None
        spool.sweep()
        spool.adopt_orphans()
        s = self.settings
        dropped = spool.enforce_bounds(s.spool_max_events, s.spool_max_bytes, s.spool_max_age_s)
        self.report.dropped_cap += dropped["cap"]
        self.report.dropped_age += dropped["age"]
        self.report.invalid += dropped["invalid"]
        spool.count_dropped(dropped)
        now = time.time()
        for segment in spool.segments():
            if self._time_left() <= 0.1:
                break
            if segment.state not in ("seg", "sending"):
                continue
            endpoint = _peek_endpoint(segment)
            if endpoint is not None and endpoint in self.report.failed:
                continue
            if endpoint is not None and not self.force and spool.not_before(endpoint) > now:
                continue
            claimed = spool.claim(segment)
            if claimed is not None:
                self._deliver_segment(claimed)

    # -- one segment ----------------------------------------------------------------------------
    def _deliver_segment(self, segment: Segment) -> None:
        spool = self.spool
        assert spool is not None
        header, events, bad = spool.read(segment)
        done = spool.cursor(segment)
        counts = {"invalid": bad}
        if header is None:
            spool.remove(segment)
            counts["invalid"] += len(events)
            spool.count_dropped(counts)
            self.report.invalid += counts["invalid"]
            return
        pending = [e for e in events if e.get("_line", 0) >= done]
        outcome = self.deliver_events(header, pending, segment=segment)
        self.report.invalid += bad
        if bad:
            spool.count_dropped({"invalid": bad})
        if outcome is not None:
            accepted, dropped = outcome
            # The log, then the receipt, then the removal: whoever sees the segment gone
            # (flush) finds its outcome, and its events in the local log (`telemetry log`).
            self._write_log()
            self._receipt(segment.base, accepted, dropped + bad)
            if spool.remove(segment):
                self.report.segments_done += 1

    def deliver_events(
        self,
        header: Mapping[str, Any],
        events: Sequence[dict[str, Any]],
        *,
        segment: Segment | None = None,
    ) -> tuple[int, int] | None:
        """Send ``events`` of the run described by ``header``, in batches.

        Returns ``(accepted, dropped)`` once every event is settled, or None when delivery
        stopped early (the collector failed, time ran out) and the rest must wait.
        """
        run = self._run_for(header)
        if run is None:
            self._drop(len(events), "invalid")
            return 0, len(events)
        url = str(header.get("endpoint") or "")
        collector = self._collector(url)
        if collector is None:
            if url in self._collectors:
                return None  # it failed in this run: the events wait for the next one
            self._drop(len(events), "invalid")  # no collector may receive them, ever
            self.report.invalid += len(events)
            return 0, len(events)
        tally = _Tally()
        batch_size = max(1, self.settings.batch_size)
        index = 0
        in_flight: _Batch | None = None  # sent; its answer is read while the next one is built
        while True:
            ready: _Batch | None = None
            stop = None
            if index < len(events):
                stop = self._stop_reason(run, segment)
                if stop is None:
                    chunk = events[index : index + batch_size]
                    index += len(chunk)
                    ready = _Batch(chunk, *self._build(run, chunk))
                    if ready.invalid:
                        self._drop(ready.invalid, "invalid")
                        self.report.invalid += ready.invalid
                        tally.dropped += ready.invalid
            if in_flight is not None:
                settled = self._settle(collector, in_flight, run, segment, tally)
                in_flight = None
                if settled == "failed":
                    return None
                if settled == "withdrawn":
                    # What was built and not sent goes with the rest: none of it leaves.
                    self._revoked(len(events) - index + (len(ready.logged) if ready else 0), tally)
                    return tally.accepted, tally.dropped
            if stop is not None:
                left = len(events) - index
                if stop == "time":
                    return None
                if stop == "cleared":
                    self.report.cleared += left
                    return tally.accepted, tally.dropped + left  # disabled or reset meanwhile
                if stop == "revoked":
                    self._revoked(left, tally)
                    return tally.accepted, tally.dropped
                return None  # no anonymous id can be stored: they wait
            if ready is None:
                return tally.accepted, tally.dropped
            if ready.body is None:
                self._advance(segment, ready.chunk)
                continue
            ready.unsent = collector.send(ready.body)
            self.report.batches += 1
            in_flight = ready

    def _stop_reason(self, run: _Run, segment: Segment | None) -> str | None:
        """Why no further batch may be sent now, checked before each batch (None: go on)."""
        if self._time_left() <= 0.05:
            return "time"
        if segment is not None and not os.path.exists(segment.path):
            return "cleared"
        if not run.allowed():
            return "revoked"
        if run.contexts.get("invocation") and not _ci_vendor(run.header):
            try:
                self._anonymous_id(run.profile)  # created now: an event is about to be sent
            except OSError as exc:
                self.report.error = f"no anonymous id can be stored ({exc.strerror or exc})"
                return "no id"
        return None

    def _revoked(self, count: int, tally: _Tally) -> None:
        self._drop(count, "revoked")
        self.report.revoked += count
        tally.dropped += count

    def _settle(
        self,
        collector: _Collector,
        batch: _Batch,
        run: _Run,
        segment: Segment | None,
        tally: _Tally,
    ) -> str:
        """Read the answer to ``batch`` and act on it: "ok", "failed" or "withdrawn"."""
        answer = collector.receive() if batch.unsent is None else None
        status = answer.status if answer is not None else None
        if status is not None and status in _RETRYABLE and self._time_left() > 1.5:
            time.sleep(1.0)  # one more try: a proxy restarting, a collector scaling up
            # ...unless the user said stop in that second (`telemetry disable` or `reset`).
            if not run.allowed() or (segment is not None and not os.path.exists(segment.path)):
                self._revoked(len(batch.logged), tally)
                return "withdrawn"
            self.report.batches += 1
            answer = collector.exchange(batch.body or b"")
            status = answer.status
        count = len(batch.logged)
        if status is not None and 200 <= status < 300:
            tally.accepted += count
            self._accepted(run, batch.logged)
            self._forget_backoff(collector.url)
        elif status is not None and status not in _RETRYABLE:
            tally.dropped += count
            self._drop(count, "rejected")
            self.report.rejected += count
        else:
            failure = batch.unsent if answer is None else answer.failure
            collector.failed = (
                f"HTTP {status}"
                if status is not None
                else f"no answer: {failure}"
                if failure
                else "no answer"
            )
            self.report.failed[collector.url] = collector.failed
            self._back_off(collector.url, collector.failed)
            return "failed"
        self._advance(segment, batch.chunk)
        return "ok"

    # -- building -----------------------------------------------------------------------------
    def _run_for(self, header: Mapping[str, Any]) -> _Run | None:
        key = self._encode(header)
        known = self._runs.get(key)
        if known is not None:
            return known
        from ._watch import ConsentWatch
        from .records import profile_from_data, redecide

        try:
            profile = profile_from_data(header["profile"])
            env = self.env

            def again() -> Any:
                return redecide(profile, header, env)

            decision = again()
            watch = ConsentWatch(decision, again)
            contexts = header.get("contexts") or {}
            run = _Run(profile, header, watch.allowed, dict(contexts))
        except Exception:  # noqa: BLE001 - a header we cannot use: its events cannot be sent
            return None
        self._runs[key] = run
        return run

    def _builder(self, profile: TrackedProfile) -> PayloadBuilder:
        builder = self._builders.get(profile.name)
        if builder is None:
            from ._snowplow import PayloadBuilder

            builder = PayloadBuilder(namespace=profile.name, app_id=profile.name)
            self._builders[profile.name] = builder
        return builder

    def _anonymous_id(self, profile: TrackedProfile) -> str:
        anonymous = self._anonymous.get(profile.name)
        if anonymous is None:
            from .state import ensure_anonymous_id

            # Made here, the first time an event is actually about to be sent (from the
            # room the host kept for it: state.reserve_anonymous_id).
            anonymous = ensure_anonymous_id(profile)
            self._anonymous[profile.name] = anonymous
        return anonymous

    def _check(self, uri: str, header: Mapping[str, Any]) -> Callable[[Any], Any] | None:
        """The check of ``uri``: generated for our schemas, compiled for a catalog's own."""
        if uri in self._checks:
            return self._checks[uri]
        from ._checks import CHECKS

        check: Callable[[Any], Any] | None = CHECKS.get(uri)
        if check is None:
            schema = (header.get("schemas") or {}).get(uri)
            if isinstance(schema, dict):
                try:
                    from .schema_check import compile_check

                    check = compile_check(schema)
                except Exception:  # noqa: BLE001 - a schema that does not compile checks nothing
                    check = None
        self._checks[uri] = check
        return check

    def _valid(self, uri: str, data: Any, header: Mapping[str, Any]) -> bool:
        check = self._check(uri, header)
        if check is None:
            return False  # an event whose schema is unknown is never sent
        try:
            check(data)
        except Exception:  # noqa: BLE001 - fastjsonschema's and ours: invalid
            return False
        return True

    def _contexts_for(self, run: _Run, invocation_id: str) -> list[tuple[str, dict[str, Any]]]:
        profile, header = run.profile, run.header
        vendor = _ci_vendor(header)
        return standard_contexts(
            run.contexts,
            tool_version=profile.tool_version,
            invocation_id=invocation_id,
            # In CI this (fresh) machine's id is never made nor sent (records.py, "ci").
            anonymous_id=None if vendor else self._anonymous_id(profile),
            project_id=header.get("project_id"),
            edition=(header.get("edition") or {}).get("name", "core"),
            ci_vendor=vendor,
        )

    def _build(
        self, run: _Run, events: Sequence[dict[str, Any]]
    ) -> tuple[bytes | None, list[_Sent], int]:
        """The POST body for ``events``, what the log keeps of them, and how many were invalid."""
        from ._snowplow import PAYLOAD_DATA_SCHEMA

        builder = self._builder(run.profile)
        header = run.header
        payloads: list[dict[str, str]] = []
        logged: list[_Sent] = []
        invalid = 0
        encoded: dict[str, tuple[list[tuple[str, dict[str, Any]]], str | None]] = {}
        for event in events:
            try:
                uri, data = event["s"], event["d"]
                invocation_id = str(event.get("i") or "")
                extra = [(str(u), d) for u, d in event.get("x") or ()]
                if not self._valid(uri, data, header) or not all(
                    self._valid(u, d, header) for u, d in extra
                ):
                    invalid += 1
                    continue
                known = encoded.get(invocation_id)
                if known is None:
                    contexts = self._contexts_for(run, invocation_id)
                    if not all(self._valid(u, d, header) for u, d in contexts):
                        invalid += 1
                        continue
                    known = encoded[invocation_id] = (contexts, builder.encode_contexts(contexts))
                contexts, cx = known
                if extra:
                    contexts = [*contexts, *extra]
                    cx = builder.encode_contexts(contexts)
                payloads.append(
                    builder.build(
                        uri,
                        data,
                        dtm=int(event.get("t") or 0),
                        cx=cx,
                        eid=str(event.get("e") or "") or None,
                    )
                )
            except Exception:  # noqa: BLE001 - an event that cannot be built is dropped alone
                invalid += 1
                continue
            logged.append((uri, data, contexts))  # made into log lines only if kept
        if not payloads:
            return None, logged, invalid
        stamp = str(int(time.time() * 1000))
        for payload in payloads:
            payload["stm"] = stamp  # sent timestamp: when this attempt leaves
        body = self._encode({"schema": PAYLOAD_DATA_SCHEMA, "data": payloads}).encode("utf-8")
        return body, logged, invalid

    # -- outcomes ---------------------------------------------------------------------------------
    def _collector(self, url: str) -> _Collector | None:
        known = self._collectors.get(url)
        if known is None:
            from .endpoint import check_endpoint

            checked, _problem = check_endpoint(url, "the spooled endpoint") if url else (None, "")
            if checked is None or checked != url:
                return None
            known = self._collectors[url] = _Collector(url, self.settings, self.deadline)
        return None if known.failed else known

    def _accepted(self, run: _Run, logged: list[_Sent]) -> None:
        now = time.time()
        self.report.sent += len(logged)
        if self.report.first_sent_at is None:
            self.report.first_sent_at = now
        self.report.last_sent_at = now
        sent_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        # The local log keeps only its newest LOG_MAX_BYTES: what would be trimmed at once is
        # not even encoded (a 100,000-event upload keeps a few hundred), and it is written once
        # per delivered segment (before its receipt), off the path of the batches.
        pending = self._log.setdefault(run.profile.name, (run.profile, []))[1]
        pending.extend((sent_at, sent) for sent in logged[-_LOG_KEPT:])
        if len(pending) > _LOG_KEPT:
            del pending[:-_LOG_KEPT]

    def _write_log(self) -> None:
        """Append the accepted events kept for the local log (best effort)."""
        entries, self._log = self._log, {}
        for profile, kept in entries.values():
            records = [
                event_document(uri, data, contexts, sent_at=sent_at)
                for sent_at, (uri, data, contexts) in kept
            ]
            try:
                from .state import append_log

                append_log(profile, records)
            except Exception:  # noqa: BLE001 - the local log is best effort
                pass

    def _advance(self, segment: Segment | None, chunk: Sequence[dict[str, Any]]) -> None:
        if segment is None or self.spool is None or not chunk:
            return
        with contextlib.suppress(OSError):
            self.spool.advance(segment, int(chunk[-1].get("_line", 0)) + 1)

    def _drop(self, count: int, reason: str) -> None:
        if count and self.spool is not None:
            self.spool.count_dropped({reason: count})

    def _back_off(self, url: str, why: str) -> None:
        if self.spool is None:
            return
        ceiling = self.settings.backoff_max_s

        def change(state: dict[str, Any]) -> None:
            entries = backoff_entries(state)  # a malformed shape is replaced, never a crash
            state["backoff"] = entries
            known = entries.get(url, {}).get("failures", 0)
            failures = min(64, known if isinstance(known, int) and known > 0 else 0) + 1
            delay = min(ceiling, 2.0 ** (failures - 1))
            state["backoff"][url] = {
                "not_before": time.time() + delay,
                "failures": failures,
                "error": why,
            }

        with contextlib.suppress(OSError):
            self.spool.update_state(change)

    def _forget_backoff(self, url: str) -> None:
        if self.spool is None or url not in backoff_entries(self.spool.state()):
            return

        def change(state: dict[str, Any]) -> None:
            entries = backoff_entries(state)
            entries.pop(url, None)
            state["backoff"] = entries

        with contextlib.suppress(OSError):
            self.spool.update_state(change)

    def _receipt(self, base: str, accepted: int, dropped: int) -> None:
        """What became of segment ``base``: kept (bounded) for :meth:`Tracker.flush`."""
        assert self.spool is not None

        def change(state: dict[str, Any]) -> None:
            kept = state.get("receipts") or {}
            kept[base] = [accepted, dropped]
            if len(kept) > _RECEIPTS_KEPT:
                kept = dict(list(kept.items())[-_RECEIPTS_KEPT:])
            state["receipts"] = kept

        with contextlib.suppress(OSError):
            self.spool.update_state(change)

    def _save_state(self) -> None:
        """The last run's report, into state.json (lock held)."""
        if self.spool is None:
            return
        if self.report.mode == "detached":
            _own_usage(self.report)
        report = {**self.report.as_dict(), "saved": time.time()}

        def change(state: dict[str, Any]) -> None:
            state["last_upload"] = report

        with contextlib.suppress(OSError):
            self.spool.update_state(change)

    def _close(self) -> None:
        for collector in self._collectors.values():
            with contextlib.suppress(Exception):
                collector.transport.close()


def deliver(
    spool: Spool | None,
    settings: TrackerSettings,
    *,
    timeout: float,
    force: bool = True,
    mode: str = "inline",
    memory: Iterable[tuple[Mapping[str, Any], list[dict[str, Any]]]] = (),
    env: Mapping[str, str] | None = None,
) -> Report:
    """Deliver now, in this thread, for at most ``timeout`` seconds (waiting for the lock).

    ``memory``: runs whose events could not be spooled (a full or read-only state dir), sent
    first, as they are. Used by ``telemetry upload`` and by hosts that deliver in-process.
    """
    uploader = Uploader(
        spool, settings, deadline=time.monotonic() + timeout, force=force, mode=mode, env=env
    )
    try:
        for header, events in memory:
            uploader.deliver_events(header, events)
        uploader._write_log()
    except Exception as exc:  # noqa: BLE001
        uploader.report.error = f"{type(exc).__name__}: {exc}"
    if spool is not None:
        return uploader.run(wait_for_lock=True)
    uploader._close()
    uploader.report.ended = time.time()
    return uploader.report


def _peek_endpoint(segment: Segment) -> str | None:
    """The endpoint in a segment's header, reading only its first line."""
    try:
        with open(segment.path, "rb") as fh:
            first = fh.readline(256 * 1024)
        value = json.loads(first).get("endpoint")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _own_usage(report: Report) -> None:
    try:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        report.cpu_s = round(usage.ru_utime + usage.ru_stime, 4)
        report.maxrss_kb = int(usage.ru_maxrss)
    except Exception:  # noqa: BLE001 - not on this platform
        pass


def _watchdog(seconds: float) -> None:
    with contextlib.suppress(AttributeError, ValueError, OSError):
        import signal

        signal.alarm(max(1, math.ceil(seconds)))


def _ci_vendor(header: Mapping[str, Any]) -> str | None:
    """The CI vendor a run was recorded in (its header's ``ci``), or None outside CI."""
    ci = header.get("ci")
    vendor = ci.get("vendor") if isinstance(ci, Mapping) else None
    return vendor if isinstance(vendor, str) and vendor else None


def main(argv: Sequence[str] | None = None) -> int:
    """The detached uploader process. Prints nothing, never raises, always ends."""
    parser = argparse.ArgumentParser(prog="python -m tracking.uploader", add_help=False)
    parser.add_argument("--spool", required=True)
    parser.add_argument("--lock-fd", type=int, default=None)
    parser.add_argument("--env-prefix", default="")
    parser.add_argument("--force", action="store_true")
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        return 2
    # The watchdog first, before any import or I/O that could hang: the kernel ends this
    # process when the time is up (SIGALRM's default action), whatever it is doing. Armed at
    # the default cap while the settings are read, then at the configured one.
    _watchdog(TrackerSettings().upload_time_limit)
    try:
        from .uploader_settings import load_settings

        settings, problems = load_settings(args.env_prefix)
    except Exception:  # noqa: BLE001 - settings that cannot be read: the defaults
        settings, problems = TrackerSettings(), []
    limit = settings.upload_time_limit
    _watchdog(limit)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)  # background work: the user's own commands come first
    spool = Spool(args.spool, state_dir=os.path.dirname(args.spool))
    deadline = time.monotonic() + limit - 0.5
    fd: int | None = args.lock_fd
    # Since when we hold the lock: the host wrote its hand-over into the lock file.
    since = time.time()
    if fd is not None:
        with contextlib.suppress(OSError):
            since = os.fstat(fd).st_mtime
    newer, waited = False, 0.0
    # Delivery recovers by itself (docs/delivery.md, "After an outage"): a backoff that ends
    # soon is waited out, holding the lock; after a failure, so are the next ones (1, 2, 4 s),
    # but only once a run recorded events meanwhile (it could not start an uploader: we held
    # the lock), and never more than WAIT_OUT_S in all. Otherwise the process ends, and a later
    # run tries again.
    for attempt in range(_ATTEMPTS):
        wait = 0.0 if args.force else wait_out(spool, settings, deadline, WAIT_OUT_S - waited)
        if wait is None:
            if attempt:
                break
            wait = 0.0  # a round still adopts orphans, keeps the bounds and saves the state
        time.sleep(wait)
        waited += wait
        uploader = Uploader(spool, settings, deadline=deadline, force=args.force)
        uploader.report.problems = problems
        uploader.run(fd)
        fd = None
        if not uploader.report.failed or args.force:
            break
        # Runs that recorded while we held the lock: waited for until the backoff grows long.
        newer = newer or _recorded_since(spool, since)
        if not newer:
            break
        with contextlib.suppress(OSError):
            fd = spool.try_lock()
        if fd is None:
            break  # someone else delivers now
    if fd is not None:
        os.close(fd)
    return 0


def _recorded_since(spool: Spool, since: float) -> bool:
    """Whether a run sealed events after ``since`` (epoch s): it found the lock held, so it
    started no uploader, and waits for us."""
    for segment in spool.segments():
        if segment.state == "seg":
            with contextlib.suppress(OSError):
                if os.stat(segment.path).st_mtime > since:
                    return True
    return False


def wait_out(
    spool: Spool, settings: TrackerSettings, deadline: float, longest: float = WAIT_OUT_S
) -> float | None:
    """How long to wait before the next try (0: now), or None when there is nothing to try
    within this process's time: nothing waits, or every collector that something waits for
    is in a backoff longer than ``longest`` or past ``deadline`` (monotonic)."""
    now = time.time()
    endpoints: set[str] = set()
    for segment in spool.segments():
        if segment.state not in ("seg", "sending"):
            continue
        endpoint = _peek_endpoint(segment)
        if endpoint is None:
            return 0.0  # no endpoint to back off from: the round drops it
        endpoints.add(endpoint)
    if not endpoints:
        return None
    # state.json read once per collector, not once per segment
    soonest = min(spool.not_before(endpoint, settings.backoff_max_s) for endpoint in endpoints)
    wait = max(0.0, soonest - now)
    # A try must fit after the wait: a connect and a read of up to the request timeout each.
    room = deadline - time.monotonic() - 2 * settings.request_timeout - 1.0
    return wait if wait <= min(longest, room) else None


if __name__ == "__main__":
    sys.exit(main())
