"""A tiny host tool that embeds the tracker the way a real one does: 1 start, N model runs, 1 end.

Run as a subprocess by the tests. It relies on atexit for the final flush, as a real tool would;
its last stdout line is a JSON report (what the test cannot see from outside: which modules
were imported, how many threads ran, the tracker's counters).

Environment: ``HOST_COLLECTOR`` (the profile's collector), ``HOST_MODELS`` (default 50),
``HOST_PROJECT`` (a project name; its marker must never be sent), ``HOST_CONSENT_VERSION``,
``HOST_CONSENT_MODEL`` (``opt_in`` asks on a terminal), ``HOST_EDITION`` (the edition the
host's code passes),
``HOST_FORBID_NETWORK=1`` (an audit hook ends the host at its first socket or child process),
``HOST_FAIL=1`` (the tool's own work raises; the host must still exit with its own code),
``HOST_FLUSH=S`` (the host calls ``tracker.flush(S)`` at the end and reports what it returned),
``HOST_PAUSE_AFTER=N`` and ``HOST_PAUSE_FILE`` (after N model runs, touch the file and sleep: a
host to kill in the middle of its run), ``HOST_START_AT`` (wall-clock time to start at).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

if os.environ.get("HOST_FORBID_NETWORK") == "1":

    def _no_network(event: str, args: tuple) -> None:
        if event in (
            "socket.__new__",
            "socket.connect",
            "socket.getaddrinfo",
            "socket.bind",
            "socket.sendto",
        ):
            sys.stderr.write(f"NETWORK USED: {event} {args!r}\n")
            sys.stderr.flush()
            os._exit(97)
        if event in ("subprocess.Popen", "os.fork", "os.posix_spawn", "os.exec"):
            sys.stderr.write(f"PROCESS STARTED: {event} {args!r}\n")
            sys.stderr.flush()
            os._exit(97)

    sys.addaudithook(_no_network)

from tracking import TrackedProfile, Tracker  # noqa: E402

MARKER = os.environ.get("HOST_MARKER", "MARKER")
HEAVY = (
    "pydantic",
    "pydantic_settings",
    "fastjsonschema",
    "snowplow_tracker",
    "requests",
    "urllib3",
    "rich",
)
PAUSE_AFTER = int(os.environ.get("HOST_PAUSE_AFTER", "0") or 0)


def main() -> int:
    start_at = float(os.environ.get("HOST_START_AT", "0") or 0)
    while time.time() < start_at:  # many hosts, one instant
        time.sleep(0.001)
    profile = TrackedProfile(
        name="testapp",
        env_prefix="TESTAPP_",
        project_files=("testapp_project.yml",),
        collector_endpoint=os.environ.get("HOST_COLLECTOR"),
        consent_version=int(os.environ.get("HOST_CONSENT_VERSION", TrackedProfile.consent_version)),
        consent_model=os.environ.get("HOST_CONSENT_MODEL", "opt_out"),  # type: ignore[arg-type]
        tool_version="0.0.1",
    )
    tracker = Tracker(
        profile, project_name=os.environ.get("HOST_PROJECT"), edition=os.environ.get("HOST_EDITION")
    )
    models = int(os.environ.get("HOST_MODELS", "50"))
    status = 0
    try:
        with tracker.invocation("run") as inv:
            for index in range(models):
                # What a real tool knows about a model: its name and its SQL. Neither may leave.
                name = f"{MARKER}_model_{index}"
                sql = f"select * from {MARKER}_source_{index} -- {name}"
                inv.model_run(
                    contents=sql,
                    status="success",
                    execution_time_s=0.01 * index,
                    materialization="table",
                )
                inv.count("model")
                if index + 1 == PAUSE_AFTER:
                    with open(os.environ["HOST_PAUSE_FILE"], "w", encoding="utf-8"):
                        pass
                    time.sleep(60)  # killed here by the test
            if os.environ.get("HOST_FAIL") == "1":
                raise RuntimeError("the tool's own failure")
    except RuntimeError:
        status = 3
    flushed = None
    if os.environ.get("HOST_FLUSH"):
        flushed = tracker.flush(float(os.environ["HOST_FLUSH"]))
    report = {
        "flushed": flushed,
        "plan": tracker.plan.kind,
        "delivery": tracker.plan.delivery,
        "threads_at_main_end": threading.active_count(),
        "snowplow_imported": "snowplow_tracker" in sys.modules,
        "requests_imported": "requests" in sys.modules,
        "pydantic_settings_imported": "pydantic_settings" in sys.modules,
        # What the host path must never import (the uploader does, in its own process).
        "heavy_imported": sorted(m for m in HEAVY if m in sys.modules),
        "stats": tracker.stats.as_dict(),
        "main_done_wall": time.time(),
    }
    print(json.dumps(report), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
