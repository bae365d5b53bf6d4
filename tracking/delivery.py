"""How a host hands its recorded events over, without waiting for the network.

Standard library only (it runs in the host). Two ways, chosen once by the plan
(:func:`tracking.plan.delivery_mode`):

- **detached** (the default): after sealing a segment, the host tries the spool's lock; only if
  it gets it, and the collector is not in a backoff that lasts beyond ``WAIT_OUT_S`` (the
  uploader waits out a shorter one), it starts the uploader isolated (``python
  -I``, ``cwd="/"``: see ``_BOOTSTRAP``) with ``subprocess.Popen(start_new_session=True,
  close_fds=True)``, stdin/stdout/stderr on ``/dev/null``, handing it the locked descriptor
  (``pass_fds``: the lock moves to the child, no window in which another host could start a
  second one). That is a fork and an exec: a few milliseconds, nothing else. (``preexec_fn`` and
  ``os.fork()`` raise in atexit handlers on Python 3.12; ``Popen`` itself does not.) A host run
  under ``subprocess.run(capture_output=True)`` returns as soon as the host exits: the uploader
  holds none of its pipes.
- **inline** (CI, PID 1, no detached processes here): a daemon thread, started with the tracker
  so that its imports overlap the host's work (and because Python 3.12 cannot start threads in
  atexit handlers), delivers at exit; the host waits for it at most the flush deadline (1 s).

Either way the spool keeps whatever was not delivered, for the next run or ``telemetry upload``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from .spool import WAIT_OUT_S, Spool

if TYPE_CHECKING:
    import subprocess

    from .plan import DeliveryMode
    from .profile import TrackedProfile
    from .settings import TrackerSettings
    from .uploader import Report

__all__ = ["Handover", "InlineWorker", "KnownRun", "MemoryRuns", "start_uploader"]

#: Where ``tracking`` lives: put first on the uploader's ``sys.path``, so that it runs this code.
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: How the uploader starts: ``python -I`` (no working directory, script directory, PYTHONPATH
#: or user site-packages on ``sys.path``), with ``cwd="/"``, so that no file planted in a
#: directory someone else can write (the spool dir's parents, the host's cwd, a PYTHONPATH
#: entry) can shadow our modules and run as the user. ``python -m`` would put the working
#: directory first on the path. The only entry added is the directory this very ``tracking``
#: package was imported from (the host trusted it already), ahead of everything else.
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); import runpy; "
    "runpy.run_module('tracking.uploader', run_name='__main__', alter_sys=True)"
)
MemoryRuns = Iterable[tuple[Mapping[str, Any], list[dict[str, Any]]]]


class KnownRun(NamedTuple):
    """This process's own run, as its in-process delivery needs it: the segment header it
    records under, and the host's own consent check. The host's check watches every file its
    decision read and decides again with the host's flag and environment, which is at least as
    strict as the uploader's re-reading of the lasting layers (``records.redecide``), so the
    delivery uses it for these segments instead of deciding a second time."""

    header: Mapping[str, Any]
    profile: TrackedProfile
    allowed: Callable[[], bool]


def start_uploader(
    spool: Spool,
    settings: TrackerSettings,
    endpoint: str | None,
    *,
    env_prefix: str,
    env: Mapping[str, str] | None = None,
    force: bool = False,
) -> bool:
    """Start a detached uploader if nobody holds the lock and ``endpoint`` is not in a backoff
    that lasts beyond ``WAIT_OUT_S`` (the uploader waits out a shorter one).

    The uploader reads its settings (``<env_prefix>TELEMETRY_*``) from the environment it
    inherits: this process's, with the ``env`` a host decided with taking precedence for them.
    ``settings`` are the host's own (the spool's bounds). ``force``: ignore the backoff
    (someone is waiting for the events). Returns whether one was started. Never raises. When
    none is started for a backoff, the spool's bounds are still kept (under the lock), since no
    uploader will come to keep them.
    """
    try:
        # A backoff that ends within WAIT_OUT_S is the uploader's to wait out (it holds the
        # lock meanwhile): the first run after an outage delivers, with nobody running another.
        in_backoff = (
            not force
            and endpoint is not None
            and spool.not_before(endpoint, settings.backoff_max_s) > time.time() + WAIT_OUT_S
        )
        fd = spool.try_lock()
        if fd is None:
            return False  # an uploader runs; it looks again after it lets go of the lock
        try:
            if in_backoff:
                spool.keep_bounds(
                    settings.spool_max_events, settings.spool_max_bytes, settings.spool_max_age_s
                )
                return False
            argv = [
                sys.executable,
                "-I",
                "-c",
                _BOOTSTRAP,
                _PACKAGE_ROOT,
                "--spool",
                spool.directory,
                "--lock-fd",
                str(fd),
                "--env-prefix",
                env_prefix,
            ]
            if force:
                argv.append("--force")
            import subprocess

            child = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                pass_fds=(fd,),
                start_new_session=True,
                cwd="/",
                env=_uploader_environment(env_prefix, env),
            )
            Spool.mark_holder(fd, child.pid)  # who holds the lock now, from the first moment
            _detach(child)
            return True
        finally:
            os.close(fd)  # the child has its own copy: the lock is now the uploader's
    except Exception:  # noqa: BLE001 - no uploader this time; the events wait in the spool
        return False


def _uploader_environment(env_prefix: str, env: Mapping[str, str] | None) -> dict[str, str]:
    """This process's environment, with the settings of ``env`` (when a host decided with its
    own mapping) in place of its own."""
    out = dict(os.environ)
    if env is not None:
        prefix = f"{env_prefix}TELEMETRY_".upper()
        out = {k: v for k, v in out.items() if not k.upper().startswith(prefix)}
        out.update((k, v) for k, v in env.items() if k.upper().startswith(prefix))
    return out


#: Uploaders this process started and has not reaped yet.
_CHILDREN: list[int] = []


def _detach(child: subprocess.Popen[bytes]) -> None:
    """Forget ``child`` as a Popen object, reap it ourselves later.

    Left as is, a Popen whose process outlives it warns ``ResourceWarning: subprocess N is still
    running`` when it is garbage-collected (printed in a host run with ``-X dev``): telemetry
    must print nothing. Marked as finished, it is left alone; its pid is reaped here at the next
    start (a long-running host collects no zombies) and by init once the host has exited.
    """
    _CHILDREN.append(child.pid)
    child.returncode = 0
    for pid in list(_CHILDREN):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done == pid:
            _CHILDREN.remove(pid)


class InlineWorker:
    """A daemon thread that delivers in this process when asked, within a deadline.

    Started early: its imports (snowplow-tracker, the consent re-check) happen while the host
    works, and Python 3.12 refuses to start a thread once the interpreter is exiting.
    """

    def __init__(
        self, spool: Spool | None, settings: TrackerSettings, env: Mapping[str, str] | None = None
    ) -> None:
        self._spool = spool
        #: The host's own reading of every setting: nothing is parsed again here.
        self._settings = settings
        self._env = env
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._jobs: list[_Job] = []
        self._thread = threading.Thread(target=self._serve, name="telemetry-delivery", daemon=True)
        self._thread.start()

    def deliver(
        self, deadline: float, memory: MemoryRuns = (), known: KnownRun | None = None
    ) -> Report | None:
        """Deliver the spool (and ``memory``) by ``deadline`` (monotonic); the report, or None
        if the deadline came first (the thread is left behind: it is a daemon)."""
        job = _Job(deadline, list(memory), known)
        with self._lock:
            self._jobs.append(job)
        self._wake.set()
        if not job.done.wait(max(0.0, deadline - time.monotonic())):
            return None
        return job.report

    def _serve(self) -> None:
        try:
            # Imported ahead, off the exit (by module, not ``from . import``, which asks the
            # package's lazy ``__getattr__`` first).
            from ._http import Transport  # noqa: F401
            from ._snowplow import import_snowplow
            from .uploader import deliver  # noqa: F401

            import_snowplow()
        except Exception:  # noqa: BLE001 - the delivery will fail and say so
            pass
        while True:
            self._wake.wait()
            with self._lock:
                jobs, self._jobs = self._jobs, []
                self._wake.clear()
            for job in jobs:
                job.run(self._spool, self._settings, self._env)


class _Job:
    def __init__(
        self,
        deadline: float,
        memory: list[tuple[Mapping[str, Any], list[dict[str, Any]]]],
        known: KnownRun | None,
    ) -> None:
        self.deadline = deadline
        self.memory = memory
        self.known = known
        self.done = threading.Event()
        self.report: Report | None = None

    def run(
        self, spool: Spool | None, settings: TrackerSettings, env: Mapping[str, str] | None
    ) -> None:
        try:
            from .uploader import deliver

            left = self.deadline - time.monotonic()
            if left > 0:
                self.report = deliver(
                    spool, settings, timeout=left, memory=self.memory, env=env, known=self.known
                )
        except Exception:  # noqa: BLE001
            pass
        finally:
            self.done.set()


class Handover:
    """One tracker's way of getting its sealed segments delivered (see the module docstring)."""

    def __init__(
        self,
        spool: Spool,
        settings: TrackerSettings,
        endpoint: str,
        mode: DeliveryMode,
        env_prefix: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.spool = spool
        self.settings = settings
        self.endpoint = endpoint
        self.mode = mode
        self.env_prefix = env_prefix
        self._env = env
        self.uploads_started = 0
        #: Some event handed over was dropped (see :meth:`flush`).
        self._lost = False
        #: The host's run, once it records (set by the tracker): see :class:`KnownRun`.
        self.known: KnownRun | None = None
        self._worker: InlineWorker | None = None
        if mode == "inline":
            self.worker()

    def worker(self) -> InlineWorker:
        """The in-process delivery thread, started now if it is not running yet."""
        if self._worker is None:
            self._worker = InlineWorker(self.spool, self.settings, self._env)
        return self._worker

    def sealed(self) -> None:
        """A segment was sealed in the middle of a run: start delivering it if we may."""
        if self.mode == "detached" and self._start():
            self.uploads_started += 1

    def _start(self, force: bool = False) -> bool:
        return start_uploader(
            self.spool,
            self.settings,
            self.endpoint,
            env_prefix=self.env_prefix,
            env=self._env,
            force=force,
        )

    def finish(self, timeout: float, memory: MemoryRuns = ()) -> bool:
        """The run's recording is over: hand everything over. In detached mode this returns at
        once (True); inline, it delivers within ``timeout`` and says whether all went."""
        memory = list(memory)
        ok = True
        if memory or self.mode == "inline":
            report = self._deliver(time.monotonic() + timeout, memory)
            ok = report is not None and not report.failed and report.error is None
        if self.mode == "detached" and self._start():
            self.uploads_started += 1
        return ok

    def flush(self, bases: Iterable[str], timeout: float, memory: MemoryRuns = ()) -> bool:
        """Deliver now, in this process, within ``timeout``, and say whether the segments
        ``bases`` and the ``memory`` runs all went: read from this delivery's own report.

        The delivery waits for the lock (a detached uploader may be sending) and ignores the
        backoff (someone is waiting for the events). A segment of ``bases`` that is no longer
        in the spool and that this delivery did not settle was taken by another uploader, the
        one that held the lock, which sends every event it can: it counts as delivered.
        """
        wanted = set(bases)
        memory = list(memory)
        if not wanted and not memory:
            return not self._lost  # nothing recorded since: nothing to wait for
        report = self._deliver(time.monotonic() + max(0.0, timeout), memory)
        if report is None or report.error is not None:
            return False
        settled = report.settled
        in_memory = [f"memory:{n}" for n in range(len(memory))]
        # An event dropped (refused, revoked, invalid) is never delivered: every later flush
        # of this tracker says so too.
        self._lost = self._lost or any(
            settled.get(key, (0, 0))[1] > 0 for key in (*wanted, *in_memory)
        )
        if self._lost or any(key not in settled for key in in_memory):
            return False
        unsettled = wanted - settled.keys()
        return not unsettled or not unsettled & {s.base for s in self.spool.segments()}

    def _deliver(self, deadline: float, memory: MemoryRuns) -> Report | None:
        """One in-process delivery by ``deadline``: on the delivery thread, or, where no thread
        can be started any more (an atexit handler on Python 3.12), in this one."""
        try:
            worker = self.worker()
        except RuntimeError:
            job = _Job(deadline, list(memory), self.known)
            job.run(self.spool, self.settings, self._env)
            return job.report
        return worker.deliver(deadline, memory, self.known)
