"""The host's API: a :class:`Tracker` that decides consent first, and an :class:`Invocation`.

Start-up is a value, not a state machine. Constructing a tracker:

1. asks :func:`consent.decide`; when the answer is off, does nothing else (no settings, no file,
   no thread, no socket);
2. reads the ``<PREFIX>TELEMETRY_*`` settings once (:mod:`tracking.settings`, standard library);
3. computes the run's :class:`~tracking.plan.Plan` (``off``, ``debug``, ``notice``, ``record``),
   a pure function of the decision, the settings and the notice state;
4. builds the one sink for that plan: nothing, a printer (``<PREFIX>TELEMETRY_DEBUG=1``), the
   first-run notice (which records nothing), or the spool (:mod:`tracking.spool`).

Recording only appends to the spool: a line per event, a few microseconds, standard library
and our own code. Delivery happens elsewhere (:mod:`tracking.delivery`, :mod:`tracking.uploader`):
a slow or dead collector cannot reach the host. Nothing here raises into the host or prints a
traceback: failures are counted in :attr:`Tracker.stats`, and the host's exit code is its own.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import consent

from .plan import Plan

if TYPE_CHECKING:
    from typing import Protocol

    from consent import AppProfile, Decision
    from consent.ci import CiEnvironment

    from ._watch import ConsentWatch
    from .catalog import Catalog
    from .delivery import Handover
    from .ids import KeyedHasher
    from .profile import TrackedProfile
    from .settings import TrackerSettings
    from .spool import SegmentWriter

__all__ = ["Invocation", "Tracker", "TrackerStats"]

if TYPE_CHECKING:

    class _Sink(Protocol):
        """What the tracker asks of the one sink its plan chose (spool, or debug printer)."""

        def record(
            self,
            uri: str,
            data: dict[str, Any],
            invocation_id: str,
            extra: list[list[Any]],
            timestamp_ms: int,
        ) -> None: ...

        def hasher(self) -> KeyedHasher | None: ...

        def flush(self, timeout: float) -> bool: ...

        def close(self, timeout: float) -> bool: ...


#: How often, at most, recording an event re-checks consent (the uploader checks again, exactly,
#: before each batch). Four stats per event would double the cost of recording for a host
#: recording thousands of model runs.
RECORD_CHECK_INTERVAL = 0.25
_MAX_NODE_TYPES = 32
#: ``events.TOKEN_PATTERN`` (a node type, a materialization), with ``\\Z`` for ``$``.
_TOKEN = re.compile(r"^[a-z][a-z0-9_]{0,31}\Z")

#: When the process's exit must be over, for trackers that deliver in-process (set by the
#: first tracker closed at exit): one deadline, however many trackers the host left open.
_EXIT_ENDS_AT: float | None = None


class TrackerStats:
    """What happened to this process's events (delivery's own counts are in the spool's state).

    - ``recorded``: events accepted (spooled, or printed in debug mode);
    - ``invalid``: refused before recording (not in the catalog, or not matching their schema);
    - ``dropped_consent``: consent was withdrawn during the run;
    - ``dropped_unwritable``: could not be kept anywhere (no secret could be stored);
    - ``in_memory``: kept in memory because the spool could not be written (sent in-process);
    - ``segments``, ``uploads_started``, ``errors``: what recording did.

    A plain class: a host creates it at start-up, and a dataclass costs a millisecond to define.
    """

    __slots__ = (
        "dropped_consent",
        "dropped_unwritable",
        "errors",
        "in_memory",
        "invalid",
        "recorded",
        "segments",
        "uploads_started",
    )
    _ORDER = (
        "recorded",
        "invalid",
        "dropped_consent",
        "dropped_unwritable",
        "in_memory",
        "segments",
        "uploads_started",
        "errors",
    )

    def __init__(self) -> None:
        self.recorded = self.invalid = self.dropped_consent = self.dropped_unwritable = 0
        self.in_memory = self.segments = self.uploads_started = self.errors = 0

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._ORDER}

    def __repr__(self) -> str:
        return "TrackerStats(" + ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) + ")"


def _stderr_line(text: str) -> None:
    try:
        sys.stderr.write(text.rstrip("\n") + "\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - a closed stderr is not our problem to raise
        pass


def _can_ask(environ: Mapping[str, str]) -> bool:
    """Whether this process may ask the opt-in question (tracking.prompt.why_not_ask)."""
    from .prompt import why_not_ask

    return why_not_ask(environ, sys.stderr) is None


def _unanswered_opt_in(profile: TrackedProfile, decision: Decision) -> bool:
    """An opt-in tool nobody has said yes or no to (for this consent version): its own default
    decides, off. Cheap: every host calls it, consent off included."""
    return (
        profile.consent_model == "opt_in"
        and not decision.enabled
        and decision.decided_by == "edition_default"
    )


class Tracker:
    """Records a host's usage events when, and only when, consent allows it.

    ``plan`` says what this run does (:class:`~tracking.plan.Plan`); ``decision`` is consent's
    answer (None if it failed); ``enabled`` whether events are being recorded right now.

    ``project_dir``: the project directory the host was told to use (its own ``--project-dir``),
    as :func:`consent.decide` takes it: that directory's project file exactly, no upward search
    (relative: against ``cwd``). It decides, names the project id, and is what the uploader
    reads again before sending. None: the profile's variables, else the search upward from
    ``cwd``.
    """

    def __init__(
        self,
        profile: AppProfile | None = None,
        host_flag: bool | None = None,
        edition: str | None = None,
        cwd: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        project_name: str | None = None,
        project_dir: str | None = None,
    ) -> None:
        from .profile import tracked

        self.profile: TrackedProfile = tracked(profile or consent.DEFAULT_PROFILE)
        self.stats = TrackerStats()
        self.decision: Decision | None = None
        self.plan = Plan("off")
        #: The id of events tracked outside an :meth:`invocation` block (None when off).
        self.invocation_id: str | None = None
        self._sink: _Sink | None = None
        self._settings: TrackerSettings | None = None
        self._catalog: Catalog | None = None
        self._specs: dict[tuple[str, str], tuple[str, Callable[[Any], Any] | None] | None] = {}
        self._watch: ConsentWatch | None = None
        self._next_check = 0.0
        self._pid = os.getpid()
        self._closed = False
        try:
            self._start(host_flag, edition, cwd, env, project_name, project_dir)
        except Exception:  # noqa: BLE001 - the host must never be hurt by telemetry
            self.stats.errors += 1
            self._sink = None

    # -- set-up (once) ---------------------------------------------------------------------
    def _start(
        self,
        host_flag: bool | None,
        edition: str | None,
        cwd: str | None,
        env: Mapping[str, str] | None,
        project_name: str | None,
        project_dir: str | None,
    ) -> None:
        """The host's start path, in one place: decide, apply the rule of when sending may
        start (:mod:`tracking.may_send`), tell the user if that is due, build the one sink."""
        profile = self.profile
        cwd = os.getcwd() if cwd is None else cwd
        if project_dir is not None:
            # Relative to the host's working directory now, as its own --project-dir is: the
            # uploader re-decides later, elsewhere, from the same directory.
            project_dir = os.path.join(cwd, os.fspath(project_dir))

        def decide() -> Decision:
            return consent.decide(
                profile,
                host_flag=host_flag,
                edition=edition,
                cwd=cwd,
                env=env,
                project_dir=project_dir,
            )

        decision = self.decision = decide()
        environ = os.environ if env is None else env
        unanswered = _unanswered_opt_in(profile, decision)
        # Whether this process may ask the opt-in question: found out once, only where it
        # matters (an opt-in tool), so that a core tool never imports the prompt.
        can_ask: bool | None = None
        if not decision.enabled:
            if not unanswered:
                return  # consent off: nothing else, not even an import
            can_ask = _can_ask(environ)
            if not can_ask:
                return  # an opt-in tool off a terminal (or in CI): off, and nothing is asked

        from consent.ci import detect_ci

        from .catalog import load_catalog
        from .endpoint import resolve_endpoint
        from .errors import CatalogError
        from .may_send import may_send
        from .notice import show_notice, told
        from .plan import delivery_mode, plan
        from .settings import read_host_settings

        settings, problems = read_host_settings(profile.env_prefix, environ)
        self._settings = settings
        try:
            catalog = load_catalog(profile.event_catalog)
        except CatalogError as exc:
            self._off((*problems, f"telemetry: {exc}; nothing is sent"))
            return
        url, problem = resolve_endpoint(profile, settings.endpoint)
        ci = detect_ci(environ)
        start = may_send(decision, told=told(profile), ci=ci is not None)
        if (
            profile.consent_model == "opt_in"
            and not decision.mandatory
            and (unanswered or start.notice)
        ):
            # An opt-in tool asks where it would tell; "y" counts as saying yes in this run.
            if can_ask is None:
                can_ask = _can_ask(environ)
            asked = can_ask and url is not None and problem is None and not settings.debug
            said_yes = asked and self._ask(settings)
            if said_yes:
                decision = decide()
            if (unanswered or asked) and not (said_yes and decision.enabled):
                # Not asked yet, no, no answer, or a yes that does not hold: off for this run.
                self._off(tuple(problems))
                return
            self.decision = decision
            start = may_send(decision, told=told(profile), ci=ci is not None)
        self.plan = plan(
            decision, settings, url, problem, start, delivery_mode(environ), tuple(problems)
        )
        for line in self.plan.messages:
            _stderr_line(line)
        if self.plan.notice:
            # Counted as told only when stderr is a terminal; in CI it is never printed.
            show_notice(profile, decision, sys.stderr, sends=self.plan.kind == "record")
        kind = self.plan.kind
        if kind not in ("debug", "record"):
            return  # not told yet (or just now): nothing is recorded in this run
        self._catalog = catalog
        watch = self._watch = _watch_for(
            decision, profile, host_flag, edition, cwd, env, project_dir
        )
        self._next_check = time.monotonic() + RECORD_CHECK_INTERVAL
        self.invocation_id = str(uuid.uuid4())
        if kind == "debug":
            from ._debug import DebugSink

            self._sink = DebugSink(profile, decision, catalog, url, problem, project_name, cwd, ci)
            return
        assert self.plan.endpoint is not None
        run = _SinkRun(profile, decision, catalog, self.stats, watch.allowed)
        self._sink = _SpoolSink(run, settings, self.plan, cwd, project_name, env, ci, project_dir)
        atexit.register(self._at_exit)

    def _off(self, messages: tuple[str, ...]) -> None:
        """Nothing is recorded in this run; ``messages`` are said on stderr."""
        self.plan = Plan("off", None, messages)
        for line in messages:
            _stderr_line(line)

    def _ask(self, settings: TrackerSettings) -> bool:
        """Ask the opt-in question (tracking.prompt) and store a yes or a no in the user
        config. True for a yes that was stored; with no answer nothing is stored, so the
        question comes again next time."""
        from consent import ConsentError
        from consent.layers.user_config import write_user_choice

        from .prompt import ask, question

        profile = self.profile
        cli = profile.telemetry_command
        timeout = (
            settings.prompt_timeout
            if settings.prompt_timeout is not None
            else profile.prompt_timeout
        )
        answer = ask(question(profile.label, profile.collects, cli), timeout, sys.stderr)
        if answer not in ("yes", "no"):
            _stderr_line("No answer: nothing is sent, and you will be asked again next time.")
            return False
        try:
            write_user_choice(profile, answer == "yes")
        except (ConsentError, OSError) as exc:
            _stderr_line(
                f"telemetry: {exc}. Your answer is not saved: nothing is sent, and you will "
                "be asked again next time."
            )
            return False
        if answer == "no":
            _stderr_line(f"Usage statistics stay off. To turn them on later: `{cli} enable`.")
            return False
        _stderr_line(f"Thank you. To turn usage statistics off: `{cli} disable`.")
        return True

    # -- recording (host thread, hot) ------------------------------------------------------
    @property
    def enabled(self) -> bool:
        """Whether this run records events right now (spooled, or printed in debug mode)."""
        return self._sink is not None

    @property
    def endpoint(self) -> str | None:
        """Where this run's events go (None when it sends nothing)."""
        return self.plan.endpoint if self.plan.kind in ("record", "debug") else None

    def invocation(self, command: str) -> Invocation:
        """A context manager: ``invocation_start`` now, ``invocation_end`` when the block ends."""
        return Invocation(self, command)

    def track(
        self,
        event: str | object,
        data: Mapping[str, Any] | None = None,
        *,
        contexts: Iterable[object] = (),
        invocation_id: str | None = None,
    ) -> None:
        """Record an event of the profile's catalog. Never raises.

        ``event`` is the event's name (or Iglu URI) and ``data`` its fields as plain JSON
        values; a typed model instance of a catalog spec (``InvocationStart(command="run")``)
        is accepted too. ``contexts``: extra contexts, as ``(name, data)`` pairs or instances.
        """
        if self._sink is None:
            return
        try:
            self._record(event, data, contexts, invocation_id or self.invocation_id or "")
        except Exception:  # noqa: BLE001 - invalid event, or anything else: count, stay silent
            self.stats.invalid += 1

    def keyed_hash(self, kind: str, value: str | bytes) -> str | None:
        """``value`` as a keyed hash under this installation's secret (None when off)."""
        sink = self._sink
        if sink is None:
            return None
        try:
            hasher = sink.hasher()
            return None if hasher is None else hasher(kind, value)
        except Exception:  # noqa: BLE001
            self.stats.errors += 1
            return None

    def _spec(self, name: str, kind: str) -> tuple[str, Callable[[Any], Any] | None] | None:
        """``(iglu uri, host check)`` of the catalog's ``kind`` called ``name``, once per name."""
        key = (name, kind)
        known = self._specs.get(key)
        if known is None and key not in self._specs:
            catalog = self._catalog
            known = self._specs[key] = catalog.lookup(name, kind) if catalog is not None else None
        return known

    def _resolve(
        self, item: str | object, data: Mapping[str, Any] | None, kind: str
    ) -> tuple[str, dict[str, Any]] | None:
        """``(iglu uri, checked data)`` of an event or context, or None (not in the catalog).

        Raises when the data does not match its schema (the caller counts it as invalid).
        """
        if isinstance(item, str):
            if type(data) is not dict:  # (the common case first: isinstance of an ABC is slow)
                if not isinstance(data, Mapping):
                    return None
                data = dict(data)
            found = self._spec(item, kind)
            values = data
        else:
            spec = (
                self._catalog.spec_for(item)
                if self._catalog is not None and item is not None
                else None
            )
            dump = getattr(item, "model_dump", None)
            if spec is None or not callable(dump):
                return None
            found = self._spec(spec.iglu_uri, kind)
            values = dump(mode="json")
        if found is None:
            return None
        uri, check = found
        if check is not None:
            check(values)
        return uri, values

    def _record(
        self,
        event: str | object,
        data: Mapping[str, Any] | None,
        contexts: Iterable[object],
        invocation_id: str,
    ) -> None:
        resolved = self._resolve(event, data, "event")
        if resolved is None:
            self.stats.invalid += 1
            return
        uri, values = resolved
        extra: list[list[Any]] = []
        for context in contexts:
            if isinstance(context, tuple) and len(context) == 2:
                found = self._resolve(context[0], context[1], "context")
            else:
                found = self._resolve(context, None, "context")
            if found is None:
                self.stats.invalid += 1
                return
            extra.append([found[0], found[1]])
        if os.getpid() != self._pid:
            return  # a forked child: its parent's tracker is not its own
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + RECORD_CHECK_INTERVAL
            if not self._allowed_now():
                self._withdraw()
                return
        sink = self._sink
        if sink is None:
            return
        sink.record(uri, values, invocation_id, extra, int(time.time() * 1000))
        self.stats.recorded += 1

    def _withdraw(self) -> None:
        """Consent was withdrawn during the run: record nothing more, keep nothing recorded."""
        self.stats.dropped_consent += 1
        sink, self._sink = self._sink, None
        if isinstance(sink, _SpoolSink):
            sink.discard()

    def _allowed_now(self) -> bool:
        return self._watch is not None and self._watch.allowed()

    # -- the end ---------------------------------------------------------------------------
    def flush(self, timeout: float = 10.0) -> bool:
        """Deliver everything this process recorded, waiting at most ``timeout`` seconds.

        True once the collector has accepted every event this tracker recorded so far; False
        when the timeout came first (the rest stays in the spool, nothing is lost) or some were
        dropped (revoked, refused by the collector, invalid). Recording can go on afterwards.
        """
        sink = self._sink
        if sink is None or os.getpid() != self._pid:
            return self.plan.kind != "record" or self._closed
        try:
            return sink.flush(max(0.0, float(timeout)))
        except Exception:  # noqa: BLE001
            self.stats.errors += 1
            return False

    def close(self, timeout: float | None = None) -> bool:
        """Stop recording and hand what was recorded over for delivery. Never raises.

        Detached delivery (the default) returns at once (True); in-process delivery (CI,
        PID 1) waits at most ``timeout`` (default: the flush deadline) and says whether
        everything went.
        """
        if self._closed:
            return True
        self._closed = True
        sink, self._sink = self._sink, None
        if sink is None or os.getpid() != self._pid:
            return True  # (a forked child: its parent's tracker is not its own)
        try:
            atexit.unregister(self._at_exit)
            deadline = self._deadline() if timeout is None else timeout
            return sink.close(max(0.0, deadline))
        except Exception:  # noqa: BLE001
            self.stats.errors += 1
            return False

    def _deadline(self) -> float:
        settings = self._settings
        if settings is not None and settings.flush_deadline is not None:
            return settings.flush_deadline
        return self.profile.flush_deadline

    def _at_exit(self) -> None:
        global _EXIT_ENDS_AT
        try:
            # One deadline for the whole exit, however many trackers the host left open: each
            # waits only for what remains of the first one's budget, never a budget of its own.
            budget = self._deadline()
            now = time.monotonic()
            if _EXIT_ENDS_AT is None:
                _EXIT_ENDS_AT = now + budget
            self.close(max(0.0, min(budget, _EXIT_ENDS_AT - now)))
        except BaseException:  # noqa: BLE001 - Ctrl-C while exiting: the user wants out, no traceback
            pass

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc_info: object) -> Literal[False]:
        self.close()
        return False

    def __repr__(self) -> str:
        return f"<Tracker {self.profile.name} plan={self.plan.kind} endpoint={self.endpoint}>"


class _SinkRun(NamedTuple):
    """What the spool sink needs of the tracker's run: its facts and its counters, not the
    tracker itself."""

    profile: TrackedProfile
    decision: Decision
    catalog: Catalog
    stats: TrackerStats
    #: Whether consent still holds now (the tracker's watch).
    allowed_now: Callable[[], bool]


class _SpoolSink:
    """The ``record`` plan: each event one line in this run's segment of the spool.

    The segment is opened at the first event (the secret is read or made then, for the
    project's keyed id; in CI there is none: see :meth:`_project_id`); sealed when it is full,
    when the host flushes, and at the end, each time handed over for delivery. When the spool
    cannot be written (a full or read-only state dir), the events are kept in memory (bounded)
    and delivered by this process at the end, within the flush deadline: they are not lost
    while the collector can be reached.
    """

    def __init__(
        self,
        run: _SinkRun,
        settings: TrackerSettings,
        plan: Plan,
        cwd: str,
        project_name: str | None,
        env: Mapping[str, str] | None,
        ci: CiEnvironment | None = None,
        project_dir: str | None = None,
    ) -> None:
        import json

        from .delivery import Handover
        from .ids import event_ids
        from .spool import Spool

        self._encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        self._decode = json.loads
        self._encoded: dict[str, str] = {}  # schema URIs and invocation ids, JSON-encoded
        self._eids = event_ids()
        self._run = run
        self.settings = settings
        self._profile = run.profile
        self._cwd = cwd
        self._project_dir = project_dir
        self._env = os.environ if env is None else env
        self._project_name = project_name
        self._ci = ci
        self.spool = Spool.for_state_dir(self._profile.state_dir())
        assert plan.endpoint is not None
        self._endpoint = plan.endpoint
        self.handover: Handover = Handover(
            self.spool, settings, plan.endpoint, plan.delivery, self._profile.env_prefix, env
        )
        self._hasher: KeyedHasher | None = None
        self._header: dict[str, Any] | None = None
        self._writer: SegmentWriter | None = None
        self._memory: list[dict[str, Any]] | None = None
        self._bases: list[str] = []

    def hasher(self) -> KeyedHasher | None:
        if self._hasher is None:
            # The first hash creates the secret file: only if consent still holds (a disable
            # since start-up must not leave a new file behind). Once loaded, nothing is written.
            if not self._run.allowed_now():
                return None
            from .ids import KeyedHasher
            from .state import ensure_secret

            self._hasher = KeyedHasher(ensure_secret(self._profile))
        return self._hasher

    def _make_header(self) -> dict[str, Any]:
        if self._header is None:
            from .records import segment_header

            if self._ci is None:
                from .state import reserve_anonymous_id

                # Room for the id, kept before any event is recorded (CI events carry the
                # vendor's id): the id itself is made when the first event is sent, and a full
                # state disk by then cannot keep waiting events from ever going. Where even
                # this cannot be written, nothing is recorded, and the events are counted.
                reserve_anonymous_id(self._profile)

            self._header = segment_header(
                self._profile,
                self._run.decision,
                self._endpoint,
                self._cwd,
                self._project_id(),
                *self._run.catalog.header_fields(),
                ci=self._ci,
                project_dir=self._project_dir,
            )
            from .delivery import KnownRun

            self.handover.known = KnownRun(self._header, self._profile, self._run.allowed_now)
        return self._header

    def _project_id(self) -> str | None:
        if self._ci is not None:
            # A fresh container has a fresh secret: no keyed id is stable in CI, and a bare
            # hash of a project name could be reversed. CI events carry no project id.
            return None
        if self._project_name:
            hasher = self.hasher()
            return hasher("project", self._project_name) if hasher else None
        from consent.project_location import locate_project

        # The project the decision read: the named directory exactly, else the search upward.
        found = locate_project(self._profile, self._env, self._cwd, self._project_dir).path
        if not found:
            return None
        hasher = self.hasher()
        return hasher("project-dir", os.path.dirname(os.path.realpath(found))) if hasher else None

    def record(
        self,
        uri: str,
        data: dict[str, Any],
        invocation_id: str,
        extra: list[list[Any]],
        timestamp_ms: int,
    ) -> None:
        stats = self._run.stats
        try:
            header = self._make_header()
        except OSError:
            stats.dropped_unwritable += 1  # no secret can be made: nothing can ever be sent
            return
        eid = next(self._eids)
        if self._memory is None:
            try:
                writer = self._writer
                if writer is None:
                    writer = self._writer = self.spool.open_segment(header)
                    stats.segments += 1
                if writer.append(self._line(eid, timestamp_ms, uri, data, invocation_id, extra)):
                    self._seal()
                    self.handover.sealed()
                    stats.uploads_started = self.handover.uploads_started
                return
            except OSError:
                self._to_memory()
        memory = self._memory
        assert memory is not None
        if len(memory) >= self.settings.spool_max_events:
            memory.pop(0)  # the oldest go first, as in the spool
            stats.dropped_unwritable += 1
        event: dict[str, Any] = {
            "e": eid,
            "t": timestamp_ms,
            "s": uri,
            "d": self._decode(self._encode(data)),
            "i": invocation_id,
        }
        if extra:
            event["x"] = extra
        memory.append(event)
        stats.in_memory += 1

    def _line(
        self,
        eid: str,
        timestamp_ms: int,
        uri: str,
        data: dict[str, Any],
        invocation_id: str,
        extra: list[list[Any]],
    ) -> bytes:
        """The spool line of one event: ``{"e", "t", "s", "d", "i"[, "x"]}`` as compact JSON.

        Put together from its encoded parts: the schema and invocation id are encoded once
        (they repeat), the data once per event; one JSON encoding per event instead of one of
        the whole record is most of the cost of recording saved.
        """
        encode = self._encode
        known = self._encoded
        uri_json = known.get(uri)
        if uri_json is None:
            uri_json = known[uri] = encode(uri)
        inv_json = known.get(invocation_id)
        if inv_json is None:
            if len(known) > 256:
                known.clear()
            inv_json = known[invocation_id] = encode(invocation_id)
        tail = f',"x":{encode(extra)}}}\n' if extra else "}\n"
        return (
            f'{{"e":"{eid}","t":{int(timestamp_ms)},"s":{uri_json},"d":{encode(data)},'
            f'"i":{inv_json}{tail}'
        ).encode()

    def _to_memory(self) -> None:
        """The spool cannot be written: keep events here; deliver them from this process."""
        self._seal()
        self._memory = []
        try:
            self.handover.worker()  # now, while threads can still be started
        except Exception:  # noqa: BLE001
            self._run.stats.errors += 1

    def _seal(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.seal()
            self._bases.append(writer.base)

    def _memory_runs(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        if not self._memory or self._header is None:
            return []
        events, self._memory = self._memory, []
        return [(self._header, events)]

    def discard(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.discard()
        self._memory = None

    def flush(self, timeout: float) -> bool:
        self._seal()
        ok = self.handover.flush(self._bases, timeout, self._memory_runs())
        self._run.stats.uploads_started = self.handover.uploads_started
        return ok

    def close(self, timeout: float) -> bool:
        self._seal()
        ok = self.handover.finish(timeout, self._memory_runs())
        self._run.stats.uploads_started = self.handover.uploads_started
        return ok


class Invocation:
    """One command run: ``invocation_start`` on entry, ``invocation_end`` on exit.

    The end is recorded even when the host's block raises (success false), and the exception is
    always re-raised. ``success`` may be set by the host (a run that failed without raising);
    an exception always means failure, except ``SystemExit`` with status 0.
    """

    def __init__(self, tracker: Tracker, command: str) -> None:
        self._tracker = tracker
        self.command = command
        self.success: bool | None = None
        self.node_counts: dict[str, int] = {}
        self.invocation_id = str(uuid.uuid4()) if tracker.enabled else None
        self._started = 0.0

    def __enter__(self) -> Invocation:
        self._started = time.perf_counter()
        if self._tracker.enabled:
            self._tracker.track(
                "invocation_start", {"command": self.command}, invocation_id=self.invocation_id
            )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> Literal[False]:
        if self._tracker.enabled:
            try:
                if exc_type is None:
                    success = True if self.success is None else bool(self.success)
                elif issubclass(exc_type, SystemExit):
                    code = getattr(exc, "code", None)
                    success = code in (0, None) and self.success is not False
                else:
                    success = False
                self._tracker.track(
                    "invocation_end",
                    {
                        "command": self.command,
                        "success": success,
                        "duration_s": round(time.perf_counter() - self._started, 6),
                        "node_counts": dict(self.node_counts),
                    },
                    invocation_id=self.invocation_id,
                )
            except Exception:  # noqa: BLE001
                self._tracker.stats.errors += 1
        return False  # the host's exception, if any, goes on

    def model_run(
        self, *, contents: str | bytes, status: str, execution_time_s: float, materialization: str
    ) -> None:
        """Record a model run; ``contents`` is hashed (keyed) here and never kept or sent."""
        tracker = self._tracker
        if not tracker.enabled:
            return
        if not isinstance(contents, str | bytes):
            tracker.stats.invalid += 1
            return
        key = tracker.keyed_hash("model", contents)
        if key is None:
            return
        tracker.track(
            "model_run",
            {
                "model_key": key,
                "status": status,
                "execution_time_s": execution_time_s,
                "materialization": materialization,
            },
            invocation_id=self.invocation_id,
        )

    def count(self, node_type: str, n: int = 1) -> None:
        """Add ``n`` nodes of ``node_type`` (e.g. ``"model"``) to the end event's counts.

        A type that is not a short lower-case token (it could be a name) is refused, as are
        more than 32 types: the end event must stay valid whatever the host passes here.
        """
        if not self._tracker.enabled:
            return
        counts = self.node_counts
        try:
            if node_type not in counts and (
                len(counts) >= _MAX_NODE_TYPES
                or not isinstance(node_type, str)
                or not _TOKEN.match(node_type)
            ):
                self._tracker.stats.invalid += 1
                return
            counts[node_type] = counts.get(node_type, 0) + max(0, int(n))
        except (TypeError, ValueError):
            self._tracker.stats.invalid += 1

    def track(
        self,
        event: str | object,
        data: Mapping[str, Any] | None = None,
        *,
        contexts: Iterable[object] = (),
    ) -> None:
        """Record any event of the profile's catalog as part of this invocation."""
        self._tracker.track(event, data, contexts=contexts, invocation_id=self.invocation_id)


def _watch_for(
    decision: Decision,
    profile: TrackedProfile,
    host_flag: bool | None,
    edition: str | None,
    cwd: str,
    env: Mapping[str, str] | None,
    project_dir: str | None = None,
) -> ConsentWatch:
    from ._watch import ConsentWatch

    return ConsentWatch(
        decision,
        lambda: consent.decide(
            profile, host_flag=host_flag, edition=edition, cwd=cwd, env=env, project_dir=project_dir
        ),
    )
