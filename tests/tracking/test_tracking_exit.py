"""At exit, many trackers left open: every segment is handed over, and the exit is not held.

A long-running host that makes a tracker per command and never closes them leaves twelve
segments at exit: one uploader takes them all (the others see its lock and leave it to it). In
CI, where the host delivers itself, the twelve share one flush deadline instead of waiting one
each.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.faults import FaultServer
from tests.support.tracking import DELIVER_S

pytestmark = pytest.mark.delivery

HOST = """
import sys, time
from tracking import TrackedProfile, Tracker
from tracking.state import acknowledge_notice
profile = TrackedProfile(name="multi", env_prefix="MULTI_", project_files=("m.yml",),
                         collector_endpoint=sys.argv[1])
acknowledge_notice(profile)
for _ in range(12):          # a long-running host that makes a tracker per command, never closed
    with Tracker(profile).invocation("run") as inv:
        inv.count("model")
print(time.time(), flush=True)
"""


def _run(world, tmp_path: Path, url: str, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    script = tmp_path / "host.py"
    script.write_text(HOST)
    full = {**world.env, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **env}
    proc = subprocess.run(
        [sys.executable, str(script), url], env=full, capture_output=True, text=True, timeout=60
    )
    delay = time.time() - float(proc.stdout.strip().splitlines()[-1])
    return proc, delay


def test_many_unclosed_trackers_are_all_delivered_by_one_uploader(world, tmp_path, collector):
    proc, delay = _run(world, tmp_path, collector.url)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    print(f"exit delay with 12 open trackers: {delay:.3f} s")
    assert delay < 4.0
    assert collector.wait_for(good=24, timeout=DELIVER_S)
    assert collector.totals() == {"total": 24, "good": 24, "bad": 0, "duplicates": 0, "evicted": 0}


def test_in_ci_many_unclosed_trackers_share_one_exit_deadline(world, tmp_path):
    with FaultServer("blackhole") as black_hole:
        proc, delay = _run(
            world, tmp_path, black_hole.url, CI="true", MULTI_TELEMETRY_REQUEST_TIMEOUT="30"
        )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    print(f"exit delay in CI with 12 open trackers and a black hole: {delay:.3f} s")
    # Generous bound (noisy machine): 12 trackers each waiting its own 1 s would take 12 s.
    assert delay < 4.0
