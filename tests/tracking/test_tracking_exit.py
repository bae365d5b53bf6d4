"""At exit, one flush deadline for the whole process, however many trackers the host left open."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tracking.collector.faults import FaultServer

HOST = '''
import sys, time
from consent import AppProfile
from consent.state import acknowledge_notice
from tracking import Tracker
profile = AppProfile(name="multi", env_prefix="MULTI_", project_files=("m.yml",),
                     collector_endpoint=sys.argv[1])
acknowledge_notice(profile)
for _ in range(12):          # a long-running host that makes a tracker per command, never closed
    with Tracker(profile).invocation("run") as inv:
        inv.count("model")
print(time.time(), flush=True)
'''


def test_many_unclosed_trackers_share_one_exit_deadline(world, tmp_path: Path):
    script = tmp_path / "host.py"
    script.write_text(HOST)
    env = {**world.env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with FaultServer("blackhole") as black_hole:
        proc = subprocess.run([sys.executable, str(script), black_hole.url], env=env,
                              capture_output=True, text=True, timeout=60)
        ended = time.time()
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    delay = ended - float(proc.stdout.strip().splitlines()[-1])
    print(f"exit delay with 12 open trackers and a black hole: {delay:.3f} s")
    # Generous bound (noisy machine): 12 trackers each waiting its own 1 s took ~6 s before.
    assert delay < 4.0
