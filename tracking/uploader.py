"""Delivering the spool: the uploader process, and the same work done inside a host.

``python -m tracking.uploader --spool DIR --env-prefix P [--lock-fd N] [--force]`` is started
by a host (:mod:`tracking.delivery`), detached, with its stdio on ``/dev/null``; it reads its
settings, ``<P>TELEMETRY_*``, from the environment it inherits
(:func:`tracking.uploader_settings.load_settings`). ``telemetry upload`` and a host that
delivers in-process (CI, PID 1, :meth:`tracking.Tracker.flush`) run :func:`deliver` instead.
Either way, one :class:`Uploader` holds the spool's lock and:

1. tidies the spool (:meth:`tracking.spool.Spool.tidy`): seals the segments of hosts that died,
   drops what is over the spool's bounds, oldest first (counted);
2. takes each waiting segment, oldest first (:meth:`~tracking.spool.Spool.take`), and sends its
   events one batch of ``batch_size`` after another; before each batch it checks that the
   segment is still there (``telemetry disable`` / ``reset`` delete it) and that consent still
   holds for the run that recorded it (:func:`tracking.records.redecide`: only lasting
   revocations, and only when a file it depends on changed); it checks each event against its
   schema (a bad one is dropped and counted), builds tracker-protocol payloads with the
   snowplow-tracker primitives, each event keeping the ``eid`` it was recorded with, and POSTs
   them (:meth:`tracking._http.Transport.post`);
3. on 2xx records the progress (``.sent``); on a 4xx drops the batch (counted: the collector
   will not change its mind); on a 5xx tries once more a second later; on no answer (refused,
   timeout, reset, garbage) or a second 5xx gives up on that collector for this run and
   persists a backoff for it (1, 2, 4 … up to ``backoff_max_s`` = 60 s): no host starts an
   uploader for it before then, except that a backoff ending within ``WAIT_OUT_S`` is waited
   out (:func:`main`; docs/delivery.md, "After an outage"). A segment whose events are all
   settled goes into the local event log, into the report (``settled``: what
   :meth:`tracking.Tracker.flush` reads) and out of the spool;
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

from .records import event_document, standard_contexts
from .settings import TrackerSettings
from .spool import WAIT_OUT_S, Segment, Spool, Taken, backoff_entries

if TYPE_CHECKING:  # the sending machinery is imported when the first batch is built
    from ._http import Answer, Transport
    from ._snowplow import PayloadBuilder
    from .delivery import KnownRun
    from .profile import TrackedProfile

__all__ = ["Report", "Uploader", "deliver", "main"]

#: Statuses worth one more try a second later: a proxy or the collector may recover.
_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Accepted events kept for the local log per pass: about LOG_MAX_BYTES of them (the log keeps
#: no more than that anyway).
_LOG_KEPT = 500
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
    #: What became of each run this delivery finished: a segment's base name (or ``memory:N``,
    #: the N-th run kept in memory) -> (accepted, dropped). :meth:`Tracker.flush` reads its own
    #: runs here; not saved in state.json.
    settled: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Settings that were ignored because they were wrong, one line each.
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    #: First event accepted / last batch accepted (epoch s), for the benchmarks.
    first_sent_at: float | None = None
    last_sent_at: float | None = None
    cpu_s: float | None = None
    maxrss_kb: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["settled"]
        return out


@dataclass
class _Run:
    """What is known about one recorded run (one segment header), computed once per delivery."""

    profile: TrackedProfile
    header: Mapping[str, Any]
    allowed: Callable[[], bool]
    contexts: dict[str, str]


#: An event as sent: its schema, its data, its contexts (for the local log).
_Sent = tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]]]


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
        known: KnownRun | None = None,
    ) -> None:
        self.spool = spool
        self.settings = settings
        self.deadline = deadline
        self.force = force
        self.env = env
        self.report = Report(mode=mode)
        self._encode = json.JSONEncoder(separators=(",", ":")).encode
        #: One connection per collector; None: an endpoint no event may ever be sent to.
        self._transports: dict[str, Transport | None] = {}
        #: state.json's backoff (url -> not_before), read once per pass over the spool.
        self._backoff: dict[str, float] = {}
        self._runs: dict[str, _Run] = {}
        #: The endpoint of this process's own run: its plan checked it already.
        self._checked = ""
        if known is not None:  # this process's own run: the host's consent check applies
            header = known.header
            self._checked = str(header.get("endpoint") or "")
            self._runs[self._encode(header)] = _Run(
                known.profile, header, known.allowed, dict(header.get("contexts") or {})
            )
        self._builders: dict[str, PayloadBuilder] = {}
        self._anonymous: dict[str, str] = {}
        self._checks: dict[str, Callable[[Any], Any] | None] = {}
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
                    fd = self._lock(wait_for_lock)  # and marked as ours
                    if fd is None:
                        break
                else:
                    Spool.mark_holder(fd)  # handed over by the host that started us
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
                fd = self.spool.try_lock(mark=True)
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
        waiting = [s for s in self.spool.segments() if s.state in ("seg", "sending")]
        if not waiting:
            return False
        self._backoff = self.spool.backoffs(self.settings.backoff_max_s)
        return any(self._due(segment) for segment in waiting)

    def _due(self, segment: Segment) -> bool:
        """Whether ``segment``'s collector may be tried now: it has not failed in this run and
        is not in a backoff (unless forced). A segment without an endpoint is due: it is
        dropped as invalid when taken."""
        endpoint = _peek_endpoint(segment)
        if endpoint is None:
            return True
        if endpoint in self.report.failed:
            return False
        return self.force or self._backoff.get(endpoint, 0.0) <= time.time()

    def round(self) -> None:
        """One pass over the spool, under the lock: tidy it, then each waiting segment."""
        spool = self.spool
        assert spool is not None
        s = self.settings
        dropped = spool.tidy(s.spool_max_events, s.spool_max_bytes, s.spool_max_age_s)
        self.report.dropped_cap += dropped["cap"]
        self.report.dropped_age += dropped["age"]
        self.report.invalid += dropped["invalid"]
        self._backoff = spool.backoffs(s.backoff_max_s)
        for segment in spool.segments():
            if self._time_left() <= 0.1:
                break
            if segment.state not in ("seg", "sending") or not self._due(segment):
                continue
            taken = spool.take(segment)
            if taken is not None:
                self._deliver_segment(taken)

    # -- one segment ----------------------------------------------------------------------------
    def _deliver_segment(self, taken: Taken) -> None:
        spool = self.spool
        assert spool is not None
        segment, bad = taken.segment, taken.bad
        if taken.header is None:
            spool.remove(segment)
            bad += len(taken.events)
            spool.count_dropped({"invalid": bad})
            self.report.invalid += bad
            return
        outcome = self.deliver_events(taken.header, taken.events, segment=segment)
        self.report.invalid += bad
        if bad:
            spool.count_dropped({"invalid": bad})
        if outcome is not None:
            accepted, dropped = outcome
            # The local log before the removal: whoever sees the segment gone finds its events
            # in `telemetry log`.
            self._write_log()
            self.report.settled[segment.base] = (accepted, dropped + bad)
            if spool.remove(segment):
                self.report.segments_done += 1

    def deliver_events(
        self,
        header: Mapping[str, Any],
        events: Sequence[dict[str, Any]],
        *,
        segment: Segment | None = None,
    ) -> tuple[int, int] | None:
        """Send ``events`` of the run described by ``header``, one batch after another.

        Returns ``(accepted, dropped)`` once every event is settled, or None when delivery
        stopped early (the collector failed, time ran out) and the rest must wait.
        """
        run = self._run_for(header)
        if run is None:
            self._drop(len(events), "invalid")
            return 0, len(events)
        url = str(header.get("endpoint") or "")
        transport = self._transport(url)
        if transport is None:
            if url in self.report.failed:
                return None  # it failed in this run: the events wait for the next one
            self._drop(len(events), "invalid")  # no collector may receive them, ever
            self.report.invalid += len(events)
            return 0, len(events)
        accepted = dropped = 0
        size = max(1, self.settings.batch_size)
        for start in range(0, len(events), size):
            left = len(events) - start
            stop = self._stop_reason(run, segment)
            if stop == "cleared":
                self.report.cleared += left
                return accepted, dropped + left  # disabled or reset meanwhile
            if stop == "revoked":
                return accepted, dropped + self._revoked(left)
            if stop is not None:
                return None  # out of time, or no anonymous id can be stored: they wait
            chunk = events[start : start + size]
            body, logged, invalid = self._build(run, chunk)
            if invalid:
                self._drop(invalid, "invalid")
                self.report.invalid += invalid
                dropped += invalid
            if body is not None:
                answer = self._post(transport, body, run, segment)
                if answer is None:  # withdrawn while a retry waited: none of the rest leaves
                    return accepted, dropped + self._revoked(left - invalid)
                status = answer.status
                if status is not None and 200 <= status < 300:
                    accepted += len(logged)
                    self._accepted(run, logged)
                    self._forget_backoff(url)
                elif status is not None and status not in _RETRYABLE:
                    dropped += len(logged)  # the collector will not change its mind
                    self._drop(len(logged), "rejected")
                    self.report.rejected += len(logged)
                else:
                    self._failed(url, answer)
                    return None
            self._advance(segment, chunk)
        return accepted, dropped

    def _post(
        self, transport: Transport, body: bytes, run: _Run, segment: Segment | None
    ) -> Answer | None:
        """Send one batch, and once more a second later on a status worth it; None when the
        user withdrew the events in that second (`telemetry disable` or `reset`)."""
        self.report.batches += 1
        answer = transport.post(body)
        if answer.status in _RETRYABLE and self._time_left() > 1.5:
            time.sleep(1.0)  # a proxy restarting, a collector scaling up
            if not run.allowed() or (segment is not None and not os.path.exists(segment.path)):
                return None
            self.report.batches += 1
            answer = transport.post(body)
        return answer

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

    def _revoked(self, count: int) -> int:
        """Drop ``count`` events whose consent was withdrawn; returns ``count``."""
        self._drop(count, "revoked")
        self.report.revoked += count
        return count

    def _failed(self, url: str, answer: Answer) -> None:
        """The collector at ``url`` gave no usable answer: none of its events go in this run,
        and no host starts an uploader for it until its backoff ends."""
        if answer.status is not None:
            why = f"HTTP {answer.status}"
        else:
            why = f"no answer: {answer.failure}" if answer.failure else "no answer"
        self.report.failed[url] = why
        self._transports[url] = None
        self._back_off(url, why)

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
    def _transport(self, url: str) -> Transport | None:
        """The connection to ``url``; None when it failed in this run, or when it is not an
        endpoint events may be sent to (not a checked base URL)."""
        if url not in self._transports:
            from ._http import Transport

            if not url:
                allowed = False
            elif url == self._checked:
                allowed = True  # the host's own endpoint, checked by its plan
            else:
                from .endpoint import check_endpoint

                allowed = check_endpoint(url, "the spooled endpoint")[0] == url
            timeout = max(0.05, min(self.settings.request_timeout, self._time_left()))
            self._transports[url] = Transport(url, timeout) if allowed else None
        return self._transports[url]

    def _accepted(self, run: _Run, logged: list[_Sent]) -> None:
        now = time.time()
        self.report.sent += len(logged)
        if self.report.first_sent_at is None:
            self.report.first_sent_at = now
        self.report.last_sent_at = now
        sent_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        # The local log keeps only its newest LOG_MAX_BYTES: what would be trimmed at once is
        # not even encoded (a 100,000-event upload keeps a few hundred), and it is written once
        # per delivered segment (before it leaves the spool), off the path of the batches.
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
        """``url`` answered: its backoff (if state.json had one at this pass) is over."""
        if self.spool is None or self._backoff.pop(url, None) is None:
            return

        def change(state: dict[str, Any]) -> None:
            entries = backoff_entries(state)
            entries.pop(url, None)
            state["backoff"] = entries

        with contextlib.suppress(OSError):
            self.spool.update_state(change)

    def _save_state(self) -> None:
        """The last run's report, into state.json (lock held)."""
        if self.spool is None:
            return
        if self.report.mode == "detached":
            _own_usage(self.report)
        with contextlib.suppress(OSError):
            self.spool.save_report({**self.report.as_dict(), "saved": time.time()})

    def _close(self) -> None:
        for transport in self._transports.values():
            if transport is not None:
                transport.close()


def deliver(
    spool: Spool | None,
    settings: TrackerSettings,
    *,
    timeout: float,
    force: bool = True,
    mode: str = "inline",
    memory: Iterable[tuple[Mapping[str, Any], list[dict[str, Any]]]] = (),
    env: Mapping[str, str] | None = None,
    known: KnownRun | None = None,
) -> Report:
    """Deliver now, in this thread, for at most ``timeout`` seconds (waiting for the lock).

    ``memory``: runs whose events could not be spooled (a full or read-only state dir), sent
    first, as they are. ``known``: the calling host's own run (its segments are checked with
    the host's consent check). Used by ``telemetry upload`` and by hosts that deliver
    in-process.
    """
    uploader = Uploader(
        spool,
        settings,
        deadline=time.monotonic() + timeout,
        force=force,
        mode=mode,
        env=env,
        known=known,
    )
    try:
        if spool is not None and memory:
            uploader._backoff = spool.backoffs(settings.backoff_max_s)
        for number, (header, events) in enumerate(memory):
            outcome = uploader.deliver_events(header, events)
            if outcome is not None:
                uploader.report.settled[f"memory:{number}"] = outcome
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
    backoff = spool.backoffs(settings.backoff_max_s)  # state.json read once
    soonest = min(backoff.get(endpoint, 0.0) for endpoint in endpoints)
    wait = max(0.0, soonest - now)
    # A try must fit after the wait: a connect and a read of up to the request timeout each.
    room = deadline - time.monotonic() - 2 * settings.request_timeout - 1.0
    return wait if wait <= min(longest, room) else None


if __name__ == "__main__":
    sys.exit(main())
