"""The collector as its own process (``python -m telemetry_collector``), and what the kernel says
it uses: resident memory and CPU time, from ``/proc/<pid>``.

A process of its own, so a test can lower its descriptor limit and read its memory without
counting the test's own.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
START_BOUND_S = 10.0

needs_proc = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads /proc/<pid> (Linux)"
)


@contextmanager
def collector_process(
    tmp_path: Path, *args: str, max_open_files: int | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A running collector and its port; stopped (SIGTERM) and reaped on exit. *max_open_files*
    lowers its descriptor limit (RLIMIT_NOFILE) before it starts."""

    def limit() -> None:
        if max_open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max_open_files, max_open_files))

    ready = tmp_path / "collector-ready"
    argv = [sys.executable, "-m", "telemetry_collector", "--port", "0", "--ready-file", str(ready)]
    process = subprocess.Popen(
        [*argv, *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=limit,
    )
    try:
        deadline = time.monotonic() + START_BOUND_S
        while not ready.exists():
            assert process.poll() is None, process.communicate(timeout=START_BOUND_S)[1]
            assert time.monotonic() < deadline, "the collector never said it listens"
            time.sleep(0.02)
        yield process, int(ready.read_text().rsplit(":", 1)[1])
    finally:
        process.terminate()
        try:
            process.communicate(timeout=START_BOUND_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
