"""The host's API: a :class:`Tracker` that decides consent first, and an :class:`Invocation`.

Constructing a tracker asks :func:`consent.decide` and, when the answer is off, does nothing
else: no settings, no snowplow import, no thread, no socket, no file, no id. When it is on:

1. the runtime settings are read (``<PREFIX>TELEMETRY_*``, pydantic-settings);
2. ``<PREFIX>TELEMETRY_DEBUG=1``: each event is printed to stderr instead of being sent (no
   file, no thread; ids and keys are per-run stand-ins);
3. an endpoint that may not receive events (plain http to another machine…) is one line on
   stderr, and nothing is sent;
4. the first run that would send prints the notice and sends nothing (:mod:`tracking.notice`);
5. otherwise events are validated on the host thread and queued for the sender thread
   (:mod:`tracking._sender`); atexit flushes within the deadline (``profile.flush_deadline``,
   default 1 s). The sender thread is started during construction, not at the first event: as
   soon as consent is on when nothing in the environment or the state can change the outcome
   (no debug, no endpoint override, notice already shown), so that its imports overlap step 1;
   otherwise at the end of construction. Either way it opens its connection (and does nothing
   else) before the first batch.

Nothing here raises into the host or prints a traceback: every failure is caught and counted in
:attr:`Tracker.stats`, and the host's exit code is its own.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import consent

from ._sender import Sender, SendOptions, TrackerStats

if TYPE_CHECKING:  # pydantic and the models are imported only once consent is on
    from pydantic import BaseModel

    from consent import AppProfile, Decision

__all__ = ["Invocation", "Tracker", "TrackerStats"]

#: How often, at most, recording an event re-checks consent (the send-time check is exact).
#: Four stats per event would double the host thread's cost for a host recording thousands of
#: model runs; a revocation inside this window is still caught before the batch is sent.
RECORD_CHECK_INTERVAL = 0.25
_MAX_NODE_TYPES = 32


def _stderr_line(text: str) -> None:
    try:
        sys.stderr.write(text.rstrip("\n") + "\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - a closed stderr is not our problem to raise
        pass


#: When the process's exit flush must be over (set by the first tracker flushed at exit).
_EXIT_ENDS_AT: float | None = None


class Tracker:
    """Records a host's usage events and sends them when, and only when, consent allows it.

    ``mode`` says what this run does: ``"off"`` (consent off, notice run, no endpoint, or a
    problem), ``"send"`` or ``"debug"``. ``decision`` is consent's answer (None if it failed).
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
    ) -> None:
        self.profile = profile or consent.DEFAULT_PROFILE
        self.stats = TrackerStats()
        self.decision: Decision | None = None
        self.mode = "off"
        self.endpoint: str | None = None
        #: The id of events tracked outside an :meth:`invocation` block (None when off).
        self.invocation_id: str | None = None
        self._sender: Sender | None = None
        self._printer = None
        self._closed = False
        try:
            self._activate(host_flag, edition, cwd, env, project_name)
        except Exception:  # noqa: BLE001 - the host must never be hurt by telemetry
            self.stats.errors += 1
            self.mode = "off"

    # -- set-up (host thread, once) --------------------------------------------------------
    def _activate(self, host_flag, edition, cwd, env, project_name) -> None:
        profile = self.profile
        cwd = os.getcwd() if cwd is None else cwd
        decision = consent.decide(profile, host_flag=host_flag, edition=edition, cwd=cwd, env=env)
        self.decision = decision
        if not decision.enabled:
            return  # consent off: nothing else, not even an import

        # When this run is already sure to send, the sender thread starts now: its imports (tens
        # of ms) overlap the settings import below instead of the host's first events.
        ahead = _sender_ahead(profile, env, self.stats)
        try:
            self._configure(profile, decision, host_flag, edition, cwd, env, project_name, ahead)
        finally:
            if ahead is not None and self._sender is not ahead:
                ahead.cancel()

    def _configure(self, profile, decision, host_flag, edition, cwd, env, project_name,
                   ahead: Sender | None) -> None:
        from . import events
        from .catalog import CatalogError, load_catalog
        from .ids import keyed_hash
        from .endpoint import resolve_endpoint
        from .notice import needs_notice, show_notice
        from .settings import TrackerSettings

        settings, problems = TrackerSettings.load(profile.env_prefix, env)
        for problem in problems:
            _stderr_line(problem)
        try:
            self._catalog = load_catalog(profile.event_catalog)
        except CatalogError as exc:
            _stderr_line(f"telemetry: {exc}; nothing is sent")
            return
        url, problem = resolve_endpoint(profile, settings.endpoint)
        self._deadline = (settings.flush_deadline if settings.flush_deadline is not None
                          else profile.flush_deadline)
        self._watch = _watch_for(decision, profile, host_flag, edition, cwd, env)
        self._next_check = time.monotonic() + RECORD_CHECK_INTERVAL
        self._pid = os.getpid()
        self._events = events
        self._keyed_hash = keyed_hash
        self.invocation_id = str(uuid.uuid4())

        if settings.debug:
            from ._debug import DebugPrinter

            self._printer = DebugPrinter(profile, url, problem)
            self._contexts = _Contexts(profile, decision, self._catalog, cwd, project_name, debug=True)
            self.endpoint = url
            self.mode = "debug"
            return
        if problem is not None:
            _stderr_line(f"telemetry: {problem}")
            return
        if url is None:
            return  # the profile sends nowhere
        if needs_notice(profile):
            show_notice(profile, decision, sys.stderr)
            return  # the user has just been told: nothing is sent in this run

        self._contexts = _Contexts(profile, decision, self._catalog, cwd, project_name, debug=False)
        options = SendOptions(url=url, queue_size=settings.queue_size,
                              batch_size=settings.batch_size,
                              request_timeout=settings.request_timeout,
                              max_retries=settings.max_retries, linger=settings.linger)
        callbacks = {"allowed": self._watch.allowed, "contexts_for": self._contexts.for_invocation,
                     "on_sent": self._log_sent, "warm_up": self._contexts.warm_up}
        if ahead is not None and ahead.ahead_url == url:
            self._sender = ahead.configure(options, **callbacks)
        else:
            self._sender = Sender(None, namespace=profile.name,
                                  stats=self.stats).configure(options, **callbacks)
        self.endpoint = url
        self.mode = "send"
        atexit.register(self._at_exit)
        # Now, not at the first event: the thread's imports and its connection to the collector
        # overlap the host's own work instead of delaying the first batch.
        self._sender.start()

    # -- recording (host thread, hot) ------------------------------------------------------
    @property
    def enabled(self) -> bool:
        """Whether this run records events (to send them, or to print them in debug mode)."""
        return self.mode != "off"

    def invocation(self, command: str) -> Invocation:
        """A context manager: ``invocation_start`` now, ``invocation_end`` when the block ends."""
        return Invocation(self, command)

    def track(self, event: BaseModel, *, contexts: Iterable[BaseModel] = (),
              invocation_id: str | None = None) -> None:
        """Record ``event`` (an instance of a model in the profile's catalog). Never raises."""
        if self.mode == "off":
            return
        try:
            self._record(event, contexts, invocation_id or self.invocation_id)
        except Exception:  # noqa: BLE001 - invalid event, or anything else: count, stay silent
            self.stats.invalid += 1

    def keyed_hash(self, kind: str, value: str | bytes) -> str | None:
        """``value`` as a keyed hash under this installation's secret (None when off)."""
        if self.mode == "off":
            return None
        try:
            contexts = self._contexts
            # The first hash creates the secret file: only if consent still holds (a disable
            # since start-up must not leave a new file behind). Once loaded, nothing is written.
            if contexts._secret is None and not self._watch.allowed():
                return None
            return self._keyed_hash(contexts.secret(), kind, value)
        except Exception:  # noqa: BLE001
            self.stats.errors += 1
            return None

    def _record(self, event: BaseModel, contexts: Iterable[BaseModel], invocation_id: str) -> None:
        catalog = self._catalog
        spec = catalog.spec_for(event)
        if spec is None or spec.kind != "event":
            self.stats.invalid += 1
            return
        data = event.model_dump(mode="json")
        spec.validator(data)
        extra = []
        for context in contexts:
            context_spec = catalog.spec_for(context)
            if context_spec is None or context_spec.kind != "context":
                self.stats.invalid += 1
                return
            values = context.model_dump(mode="json")
            context_spec.validator(values)
            extra.append((context_spec.iglu_uri, values))
        if os.getpid() != self._pid:
            return  # a forked child: its parent's tracker is not its own
        now = time.monotonic()
        if now >= self._next_check or not self._watch.enabled:
            self._next_check = now + RECORD_CHECK_INTERVAL
            if not self._watch.allowed():
                self.mode = "off"  # withdrawn: the rest of this run records nothing
                self.stats.dropped_consent += 1
                return
        self.stats.recorded += 1
        timestamp_ms = int(time.time() * 1000)
        if self._printer is not None:
            all_contexts = [*self._contexts.for_invocation(invocation_id), *extra]
            self._printer.show(spec.name, spec.iglu_uri, data, all_contexts)
            return
        self._sender.put((spec.iglu_uri, spec.name, data, invocation_id, tuple(extra), timestamp_ms))

    # -- the end ---------------------------------------------------------------------------
    def close(self, timeout: float | None = None) -> bool:
        """Send what is queued, waiting at most ``timeout`` (default: the flush deadline).

        True when everything queued was handled in time. Later events are dropped. Never raises.
        """
        if self._closed or self._sender is None or os.getpid() != self._pid:
            # (A forked child inherits the queue but not the sender thread: nothing to wait for.)
            self._closed = True
            return True
        self._closed = True
        try:
            atexit.unregister(self._at_exit)
            return self._sender.close(self._deadline if timeout is None else timeout)
        except Exception:  # noqa: BLE001
            self.stats.errors += 1
            return False

    def _at_exit(self) -> None:
        global _EXIT_ENDS_AT
        try:
            # One deadline for the whole exit, however many trackers the host left open: each
            # waits only for what remains of the first one's budget, never a budget of its own.
            now = time.monotonic()
            if _EXIT_ENDS_AT is None:
                _EXIT_ENDS_AT = now + self._deadline
            self.close(max(0.0, min(self._deadline, _EXIT_ENDS_AT - now)))
        except BaseException:  # noqa: BLE001 - Ctrl-C while exiting: the user wants out, no traceback
            pass

    def _log_sent(self, records: list[dict[str, Any]]) -> None:
        from consent.state import append_log

        append_log(self.profile, records)

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc_info) -> bool:
        self.close()
        return False

    def __repr__(self) -> str:
        return f"<Tracker {self.profile.name} mode={self.mode} endpoint={self.endpoint}>"


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
            self._tracker.track(_safe(self._tracker._events.InvocationStart, command=self.command),
                                invocation_id=self.invocation_id)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._tracker.enabled:
            try:
                if exc_type is None:
                    success = True if self.success is None else bool(self.success)
                elif issubclass(exc_type, SystemExit):
                    success = exc.code in (0, None) and self.success is not False
                else:
                    success = False
                self._tracker.track(
                    _safe(self._tracker._events.InvocationEnd, command=self.command,
                          success=success, duration_s=round(time.perf_counter() - self._started, 6),
                          node_counts=dict(self.node_counts)),
                    invocation_id=self.invocation_id,
                )
            except Exception:  # noqa: BLE001
                self._tracker.stats.errors += 1
        return False  # the host's exception, if any, goes on

    def model_run(self, *, contents: str | bytes, status: str, execution_time_s: float,
                  materialization: str) -> None:
        """Record a model run; ``contents`` is hashed (keyed) here and never kept or sent."""
        tracker = self._tracker
        if not tracker.enabled:
            return
        key = tracker.keyed_hash("model", contents)
        if key is None:
            return
        tracker.track(
            _safe(tracker._events.ModelRun, model_key=key, status=status,
                  execution_time_s=execution_time_s, materialization=materialization),
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
            if node_type not in counts and (len(counts) >= _MAX_NODE_TYPES
                                            or not isinstance(node_type, str)
                                            or not _token_pattern().match(node_type)):
                self._tracker.stats.invalid += 1
                return
            counts[node_type] = counts.get(node_type, 0) + max(0, int(n))
        except (TypeError, ValueError):
            self._tracker.stats.invalid += 1

    def track(self, event: BaseModel, *, contexts: Iterable[BaseModel] = ()) -> None:
        """Record any event of the profile's catalog as part of this invocation."""
        self._tracker.track(event, contexts=contexts, invocation_id=self.invocation_id)


def _safe(model: type[BaseModel], **values: Any) -> BaseModel | None:
    """``model(**values)``, or None when the values are invalid (``track`` counts None as invalid)."""
    try:
        return model(**values)
    except Exception:  # noqa: BLE001 - pydantic.ValidationError and friends
        return None


@functools.cache
def _token_pattern() -> re.Pattern:
    """events.TOKEN_PATTERN, compiled (``\\Z``: Python's ``$`` also matches before a final newline)."""
    from .events import TOKEN_PATTERN

    return re.compile(TOKEN_PATTERN.replace("$", r"\Z"))


def _sender_ahead(profile: AppProfile, env: Mapping[str, str] | None,
                  stats: TrackerStats) -> Sender | None:
    """The sender, its thread started, when this run is sure to send before the settings are read.

    Sure means: no ``<PREFIX>TELEMETRY_DEBUG`` and no ``<PREFIX>TELEMETRY_ENDPOINT`` in the
    environment (in any case, as the settings read them; empty counts as unset), the profile has
    a usable collector, and the notice has been shown. Anything else (debug, an override, a first
    run) waits for the settings, as before. Never raises.
    """
    try:
        environ = os.environ if env is None else env
        prefix = f"{profile.env_prefix}TELEMETRY_".upper()
        overrides = (prefix + "DEBUG", prefix + "ENDPOINT")
        if any(value and key.upper() in overrides for key, value in environ.items()):
            return None
        from .endpoint import resolve_endpoint
        from .notice import needs_notice

        url, problem = resolve_endpoint(profile, None)
        if url is None or problem is not None or needs_notice(profile):
            return None
        return Sender.ahead(url, namespace=profile.name, stats=stats)
    except Exception:  # noqa: BLE001 - the ordinary start still happens later
        return None


def _watch_for(decision, profile, host_flag, edition, cwd, env):
    from ._watch import ConsentWatch

    return ConsentWatch(
        decision,
        lambda: consent.decide(profile, host_flag=host_flag, edition=edition, cwd=cwd, env=env),
    )


class _Contexts:
    """The contexts every event carries, built once per invocation and checked once.

    In send mode the anonymous id is created (``ensure_anonymous_id``) the first time an event is
    actually about to be sent, by the sender thread after its consent check; the secret when the
    first keyed hash is needed. In debug mode nothing is written: both are per-run stand-ins.
    """

    def __init__(self, profile: AppProfile, decision: Decision, catalog, cwd: str,
                 project_name: str | None, *, debug: bool) -> None:
        self._profile = profile
        self._edition = decision.edition.name
        self._cwd = cwd
        self._project_name = project_name
        self._debug = debug
        from .events import InvocationContext, PlatformContext

        self._platform_model, self._invocation_model = PlatformContext, InvocationContext
        self._platform_spec = catalog.spec_for(PlatformContext)
        self._invocation_spec = catalog.spec_for(InvocationContext)
        self._lock = threading.Lock()
        self._secret: bytes | None = None
        self._anonymous_id: str | None = None
        self._platform: list[tuple[str, dict]] | None = None
        self._project_id: tuple[str | None] | None = None
        self._by_invocation: dict[str, list[tuple[str, dict]]] = {}

    def secret(self) -> bytes:
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    if self._debug:
                        self._secret = os.urandom(32)
                    else:
                        from consent.state import ensure_secret

                        self._secret = ensure_secret(self._profile)
        return self._secret

    def _anonymous(self) -> str:
        if self._anonymous_id is None:
            if self._debug:
                self._anonymous_id = str(uuid.uuid4())
            else:
                from consent.state import ensure_anonymous_id

                self._anonymous_id = ensure_anonymous_id(self._profile)
        return self._anonymous_id

    def _project(self) -> str | None:
        if self._project_id is None:
            from .ids import keyed_hash

            if self._project_name:
                value = keyed_hash(self.secret(), "project", self._project_name)
            else:
                from consent.sources import find_project_file

                found = find_project_file(self._cwd, self._profile.project_files)
                value = (keyed_hash(self.secret(), "project-dir",
                                    os.path.dirname(os.path.realpath(found)))
                         if found else None)
            self._project_id = (value,)
        return self._project_id[0]

    def warm_up(self) -> None:
        """What the first batch would wait for and that touches no file: the contexts' compiled
        checks and the platform context (the sender thread calls this before any event)."""
        if self._invocation_spec is not None:
            self._invocation_spec.validator  # noqa: B018 - compiled on first use
        self._platform_contexts()

    def _platform_contexts(self) -> list[tuple[str, dict]]:
        if self._platform_spec is None:
            return []
        if self._platform is None:
            import platform

            tool_version = self._profile.tool_version
            data = self._platform_model(
                os=(platform.system() or "unknown")[:32],
                python_version=platform.python_version()[:32],
                tool_version=tool_version[:64] if tool_version else None,
            ).model_dump(mode="json")
            self._platform = [(self._platform_spec.iglu_uri, self._platform_spec.validate(data))]
        return self._platform

    def for_invocation(self, invocation_id: str) -> list[tuple[str, dict]]:
        cached = self._by_invocation.get(invocation_id)
        if cached is not None:
            return cached
        out: list[tuple[str, dict]] = list(self._platform_contexts())
        if self._invocation_spec is not None:
            data = self._invocation_model(
                invocation_id=invocation_id,
                anonymous_user_id=self._anonymous(),
                project_id=self._project(),
                edition=self._edition,
            ).model_dump(mode="json")
            out.append((self._invocation_spec.iglu_uri, self._invocation_spec.validate(data)))
        if len(self._by_invocation) > 64:
            self._by_invocation.clear()
        self._by_invocation[invocation_id] = out
        return out
