"""Worker processes for the concurrency and crash tests.

Run as ``python -m tests.reliability.rel_workers MODE …`` (``World.env`` carries the PYTHONPATH).

``cli SEED SECONDS MAX_LOOPS``
    Runs ``telemetry enable`` / ``disable`` / ``status --json`` in a loop (the real CLI entry
    point, ``telemetry_cli.run``, in-process so that one loop costs milliseconds, not a Python
    start-up), checks every status it reads, and prints one JSON summary line.
``writer``
    Prints ``ready`` once imported, then writes the user config forever, alternating true/false
    (``consent.layers.user_config.write_user_choice``): the test SIGKILLs it at random moments.
``id``
    Prints ``ready``, then forgets and re-creates the anonymous id forever.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import sys
import time


def _cli(seed: int, seconds: float, max_loops: int) -> None:
    from telemetry_cli import run

    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    summary = {"loops": 0, "reads": 0, "writes": [], "problems": [], "write_problems": []}
    while summary["loops"] < max_loops and time.monotonic() < deadline:
        summary["loops"] += 1
        command = rng.choice(["enable", "disable", "status", "status"])
        out, err = io.StringIO(), io.StringIO()
        args = ["status", "--json"] if command == "status" else [command]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(args)
        if command != "status":
            # Kept apart from the reads: what a writer is told when another writer races it.
            # The one honest thing a racing writer may be told: another process changed the
            # settings at the same moment (its own write stands, exit 0).
            told = err.getvalue()
            concurrent_note = code == 0 and "another process changed the telemetry settings" in told
            if code != 0 or (told and not concurrent_note):
                summary["write_problems"].append(
                    [command, code, err.getvalue()[:300], "Traceback" in err.getvalue()]
                )
            summary["writes"].append([command, time.time()])
            continue
        if code != 0 or err.getvalue():
            summary["problems"].append(f"{args}: exit {code}, stderr {err.getvalue()[:300]!r}")
            continue
        summary["reads"] += 1
        try:
            doc = json.loads(out.getvalue())
            user = next(layer for layer in doc["layers"] if layer["name"] == "user_config")
        except (ValueError, StopIteration, KeyError, TypeError) as exc:
            summary["problems"].append(
                f"status --json unreadable ({exc}): {out.getvalue()[:300]!r}"
            )
            continue
        if user["status"] == "error" or user["opinion"] not in ("on", "off"):
            summary["problems"].append(f"user_config read as {user} ({doc['warnings']})")
        elif doc["enabled"] != (user["opinion"] == "on"):
            summary["problems"].append(f"decision {doc['enabled']} disagrees with {user}")
    print(json.dumps(summary), flush=True)


def _writer() -> None:
    from consent import DEFAULT_PROFILE
    from consent.layers.user_config import write_user_choice

    print("ready", flush=True)
    enabled = False
    while True:
        write_user_choice(DEFAULT_PROFILE, enabled)
        enabled = not enabled


def _ids() -> None:
    from tracking import DBT_PROFILE as DEFAULT_PROFILE
    from tracking.state import ensure_anonymous_id, forget_anonymous_id

    print("ready", flush=True)
    while True:
        forget_anonymous_id(DEFAULT_PROFILE)
        ensure_anonymous_id(DEFAULT_PROFILE)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "cli":
        _cli(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
    elif mode == "writer":
        _writer()
    elif mode == "id":
        _ids()
    else:
        raise SystemExit(f"unknown mode {mode!r}")
