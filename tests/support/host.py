"""The host program of every suite: a tiny tool that embeds the tracker the way a real one does.

Run as a real subprocess (``python -m tests.support.host``, in the project dir). It records
1 start, N model runs, 1 end, relies on atexit for the final flush as a real tool would, and
prints two JSON lines on stdout: one when ``main()`` is done (what the tool did, and what the
test cannot see from outside: which modules were imported, how many threads ran, the tracker's
counters) and one from an atexit handler that runs *after* the tracker's own flush (so it sees
the end of the flush, the final counters and the process's peak memory, VmHWM).

Environment (all optional):

``HOST_COLLECTOR``      the profile's collector URL
``HOST_MODELS``         model runs to record (default 50)
``HOST_EXIT``           the exit code the tool itself chooses (default 0)
``HOST_FAIL=1``         the tool's own work raises; the host must still exit with its own code (3)
``HOST_FLUSH=S``        the host calls ``tracker.flush(S)`` at the end and reports what it returned
``HOST_PROJECT``        a project name (passed to the tracker; must never be sent)
``HOST_PROJECT_DIR``    the project directory the host was told to use (its ``--project-dir``)
``HOST_MARKER``         text planted in every model's name and SQL (must never be sent)
``HOST_CONSENT_VERSION``  the profile's consent version (default: TrackedProfile's)
``HOST_CONSENT_MODEL``  ``opt_in``: the profile asks on a terminal (default ``opt_out``)
``HOST_EDITION``        the edition the host's code passes (a cloud build: ``cloud``)
``HOST_CI_POLICY``      the profile's CI policy (``off``, the default, or ``as_upstream``)
``HOST_FORBID_NETWORK=1``  an audit hook ends the process (97) at the first socket use or the
                        first process it starts
``HOST_FORBID_WRITES=1``   an audit hook ends the process (98) at the first file write/mkdir
``HOST_AUDIT_FILE``     every ``socket.getaddrinfo`` / ``socket.connect`` is appended to this file
``HOST_START_AT``       wall-clock time to wait for before creating the tracker (races)
``HOST_PAUSE_AFTER=N`` and ``HOST_PAUSE_FILE``  after N model runs, touch the file and sleep: a
                        host to kill in the middle of its run
``HOST_WAIT_FILE``      after recording, wait (at most 30 s) until this file exists
``HOST_ACK_FILE``       touched once everything is recorded (before waiting)
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time

#: What the host path must never import (the uploader does, in its own process).
HEAVY = (
    "pydantic",
    "pydantic_settings",
    "fastjsonschema",
    "snowplow_tracker",
    "requests",
    "urllib3",
    "rich",
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _die(code: int, text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    finally:
        os._exit(code)


def _guard(event: str, args: tuple) -> None:
    if AUDIT_FILE and event in ("socket.getaddrinfo", "socket.connect"):
        target = args[0] if event == "socket.getaddrinfo" else args[1]
        with open(AUDIT_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps([event, repr(target)]) + "\n")
    if NETWORK_FORBIDDEN and event.startswith("socket."):
        _die(97, f"NETWORK USED: {event} {args!r}")
    if NETWORK_FORBIDDEN and event in ("subprocess.Popen", "os.fork", "os.posix_spawn", "os.exec"):
        _die(97, f"PROCESS STARTED: {event} {args!r}")  # (an uploader would use the network)
    if WRITES_FORBIDDEN:
        if event == "open" and len(args) >= 3:
            path, mode, flags = args[0], args[1], args[2]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing and not str(path).startswith("/dev/"):
                _die(98, f"FILE WRITTEN: {event} {args!r}")
        elif event in (
            "os.mkdir",
            "os.rename",
            "os.remove",
            "os.link",
            "os.symlink",
            "os.chmod",
            "os.truncate",
            "shutil.copyfile",
        ):
            _die(98, f"FILE WRITTEN: {event} {args!r}")


NETWORK_FORBIDDEN = os.environ.get("HOST_FORBID_NETWORK") == "1"
WRITES_FORBIDDEN = os.environ.get("HOST_FORBID_WRITES") == "1"
AUDIT_FILE = os.environ.get("HOST_AUDIT_FILE")
if NETWORK_FORBIDDEN or WRITES_FORBIDDEN or AUDIT_FILE:
    sys.addaudithook(_guard)


def _peak_rss_kb() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main() -> int:
    from tracking import TrackedProfile, Tracker

    start_at = float(os.environ.get("HOST_START_AT", "0") or 0)
    while time.time() < start_at:
        time.sleep(0.001)

    profile = TrackedProfile(
        name="testapp",
        env_prefix="TESTAPP_",
        project_files=("testapp_project.yml",),
        collector_endpoint=os.environ.get("HOST_COLLECTOR"),
        consent_version=int(os.environ.get("HOST_CONSENT_VERSION", TrackedProfile.consent_version)),
        consent_model=os.environ.get("HOST_CONSENT_MODEL", "opt_out"),  # type: ignore[arg-type]
        tool_version="0.0.1",
        ci_policy=os.environ.get("HOST_CI_POLICY", "off"),  # type: ignore[arg-type]
    )
    tracker_box: list = []

    def _after_flush() -> None:
        # Registered before the tracker's own atexit handler, so it runs after it (LIFO).
        tracker = tracker_box[0] if tracker_box else None
        print(
            json.dumps(
                {
                    "exit_wall": time.time(),
                    "vmhwm_kb": _peak_rss_kb(),
                    "stats_at_exit": tracker.stats.as_dict() if tracker else None,
                }
            ),
            flush=True,
        )

    atexit.register(_after_flush)
    tracker = Tracker(
        profile,
        project_name=os.environ.get("HOST_PROJECT"),
        edition=os.environ.get("HOST_EDITION"),
        project_dir=os.environ.get("HOST_PROJECT_DIR"),
    )
    tracker_box.append(tracker)
    marker = os.environ.get("HOST_MARKER", "MARKER")
    models = int(os.environ.get("HOST_MODELS", "50"))
    pause_after = int(os.environ.get("HOST_PAUSE_AFTER", "0") or 0)
    status = int(os.environ.get("HOST_EXIT", "0"))
    started = time.perf_counter()
    try:
        with tracker.invocation("run") as inv:
            for index in range(models):
                # What a real tool knows about a model: its name and its SQL. Neither may leave.
                name = f"{marker}_model_{index}"
                sql = f"select * from {marker}_source_{index} -- {name}"
                inv.model_run(
                    contents=sql,
                    status="success",
                    execution_time_s=0.001 * (index % 1000),
                    materialization="table",
                )
                inv.count("model")
                if index + 1 == pause_after:
                    with open(os.environ["HOST_PAUSE_FILE"], "w", encoding="utf-8"):
                        pass
                    time.sleep(60)  # killed here by the test
            if os.environ.get("HOST_FAIL") == "1":
                raise RuntimeError("the tool's own failure")
    except RuntimeError:
        status = 3
    record_s = time.perf_counter() - started
    ack = os.environ.get("HOST_ACK_FILE")
    if ack:
        with open(ack, "w", encoding="utf-8"):
            pass
    wait_for = os.environ.get("HOST_WAIT_FILE")
    if wait_for:
        deadline = time.monotonic() + 30
        while not os.path.exists(wait_for) and time.monotonic() < deadline:
            time.sleep(0.01)
    flushed = None
    if os.environ.get("HOST_FLUSH"):
        flushed = tracker.flush(float(os.environ["HOST_FLUSH"]))
    print(
        json.dumps(
            {
                "flushed": flushed,
                "plan": tracker.plan.kind,
                "delivery": tracker.plan.delivery,
                "record_s": record_s,
                "threads_at_main_end": threading.active_count(),
                "snowplow_imported": "snowplow_tracker" in sys.modules,
                "requests_imported": "requests" in sys.modules,
                "pydantic_settings_imported": "pydantic_settings" in sys.modules,
                "heavy_imported": sorted(m for m in HEAVY if m in sys.modules),
                "stats": tracker.stats.as_dict(),
                "main_done_wall": time.time(),
            }
        ),
        flush=True,
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
