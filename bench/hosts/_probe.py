"""What a host process reports about itself: standard library only, so both venvs can load it.

Imported first by every host script. It installs an audit hook (PEP 578) that

* counts sockets created, connects, name look-ups, threads and processes started, from the first
  import on;
* refuses to let anything leave the machine: a connect or a name look-up of anything but a
  loopback address ends the process at once (exit 97) before a byte is sent;
* timestamps every ``http.client.send`` (when the last batch left);

and an ``atexit`` handler registered before anything else, so it runs last: after the
tracker's own atexit flush. Output protocol on stdout, one line each, flushed:
``BENCH_MARK <name> <unix time>`` (survives a kill) and ``BENCH_REPORT <json>`` at exit.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return host is None  # getaddrinfo(None, port): the local wildcard, no network
    host = host.strip("[]").lower()
    return host in _LOOPBACK_NAMES or host.startswith("127.")


class Probe:
    def __init__(self) -> None:
        self.counts = {
            "sockets": 0,
            "connects": 0,
            "lookups": 0,
            "threads_started": 0,
            "processes_started": 0,
        }
        self.sends: list[float] = []  # time.time() of each http.client.send
        self.marks: dict[str, float] = {}
        self.extra: dict[str, object] = {}
        self._late: list = []  # callables whose dicts are merged into the report at exit
        self._handlers = {
            "socket.__new__": self._on_socket,
            "socket.connect": self._on_connect,
            "socket.getaddrinfo": self._on_lookup,
            "socket.gethostbyname": self._on_lookup,
            "http.client.send": self._on_send,
            "subprocess.Popen": self._on_process,
            "os.posix_spawn": self._on_process,
        }
        self.thread_names: list[str] = []
        sys.addaudithook(self._hook)
        atexit.register(self._at_exit)
        self._count_threads()

    def _count_threads(self) -> None:
        """Python 3.11 has no audit event for a new thread: wrap the one door threading uses."""
        import _thread

        original = threading._start_new_thread  # type: ignore[attr-defined]

        def start_new_thread(function, args, kwargs=None):
            self.counts["threads_started"] += 1
            owner = getattr(function, "__self__", None)
            self.thread_names.append(getattr(owner, "name", getattr(function, "__name__", "?")))
            return original(function, args, *(() if kwargs is None else (kwargs,)))

        threading._start_new_thread = start_new_thread  # type: ignore[attr-defined]
        _thread.start_new_thread = start_new_thread

    # -- the audit hook (keep the common path to one dict look-up) ------------------------
    def _hook(self, event: str, args: tuple) -> None:
        handler = self._handlers.get(event)
        if handler is not None:
            handler(args)

    def _on_socket(self, args: tuple) -> None:
        self.counts["sockets"] += 1

    def _on_connect(self, args: tuple) -> None:
        self.counts["connects"] += 1
        address = args[1] if len(args) > 1 else None
        if isinstance(address, tuple) and address and not _is_loopback(address[0]):
            self._forbidden(f"connect to {address!r}")

    def _on_lookup(self, args: tuple) -> None:
        self.counts["lookups"] += 1
        if args and not _is_loopback(args[0]):
            self._forbidden(f"name look-up of {args[0]!r}")

    def _on_send(self, args: tuple) -> None:
        self.sends.append(time.time())

    def _on_process(self, args: tuple) -> None:
        self.counts["processes_started"] += 1

    @staticmethod
    def _forbidden(what: str) -> None:
        try:
            sys.stderr.write(f"BENCH_FORBIDDEN {what}: only loopback is allowed\n")
            sys.stderr.flush()
        finally:
            os._exit(97)

    # -- marks and the report ---------------------------------------------------------------
    def mark(self, name: str) -> float:
        now = time.time()
        self.marks[name] = now
        sys.stdout.write(f"BENCH_MARK {name} {now!r}\n")
        sys.stdout.flush()
        return now

    def late(self, fn) -> None:
        """Call ``fn()`` at exit (after the tracker's flush) and merge its dict into the report."""
        self._late.append(fn)

    def _at_exit(self) -> None:
        import json

        now = time.time()
        self.marks["exit_hook"] = now
        for fn in self._late:
            try:
                self.extra.update(fn())
            except Exception as exc:  # noqa: BLE001
                self.extra.setdefault("late_errors", []).append(repr(exc))
        report = {
            "marks": self.marks,
            "counts": self.counts,
            "threads_started": self.thread_names,
            "threads_alive_at_exit": [t.name for t in threading.enumerate()],
            "first_send": self.sends[0] if self.sends else None,
            "last_send": self.sends[-1] if self.sends else None,
            "sends": len(self.sends),
            **self.extra,
        }
        try:
            sys.stdout.write("BENCH_REPORT " + json.dumps(report, default=str) + "\n")
            sys.stdout.flush()
        except Exception:  # noqa: BLE001 - a closed stdout: the parent reports the run as broken
            pass


def latency_summary(samples_ns: list[int]) -> dict[str, float]:
    """Median, p99 and max of per-call times, in microseconds."""
    if not samples_ns:
        return {"median_us": float("nan"), "p99_us": float("nan"), "max_us": float("nan")}
    ordered = sorted(samples_ns)
    n = len(ordered)

    def pick(q: float) -> float:
        return ordered[min(n - 1, max(0, round(q * (n - 1))))] / 1000.0

    return {"median_us": pick(0.5), "p99_us": pick(0.99), "max_us": ordered[-1] / 1000.0}


PROBE = Probe()
