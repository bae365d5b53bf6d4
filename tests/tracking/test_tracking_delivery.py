"""How a host hands its events over: detached by default, in-process where a detached uploader
would not survive (CI, PID 1) or where the spool cannot be written.

Real host processes (tests/support/host.py), the real collector, fault servers, and for PID 1
a real PID namespace (``unshare --pid --fork --mount-proc``, skipped where it is not allowed).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.faults import FaultServer
from tests.support.testapp_cli import MODULE as TESTAPP_CLI
from tests.support.tracking import DELIVER_S, HOST_MODULE, alive, wait_idle
from tracking.plan import delivery_mode

pytestmark = pytest.mark.delivery


@pytest.mark.parametrize(
    "env,pid,platform,frozen,executable,expected",
    [
        ({}, 4711, "posix", False, "python", ("detached", None)),
        ({"CI": "true"}, 4711, "posix", False, "python", ("inline", "CI (CI)")),
        (
            {"GITHUB_ACTIONS": "true"},
            4711,
            "posix",
            False,
            "python",
            ("inline", "CI (GITHUB_ACTIONS)"),
        ),
        (
            {"CI": "false", "GITHUB_ACTIONS": "true"},
            4711,
            "posix",
            False,
            "python",
            ("detached", None),
        ),
        ({}, 1, "posix", False, "python", ("inline", "PID 1")),
        ({}, 4711, "nt", False, "python", ("inline", "no detached processes on this platform")),
        ({}, 4711, "posix", True, "python", ("inline", "a frozen executable")),
        (
            {},
            4711,
            "posix",
            False,
            "",
            ("inline", "no Python executable to start (an embedded interpreter)"),
        ),
    ],
)
def test_the_delivery_mode_follows_where_the_host_runs(
    env, pid, platform, frozen, executable, expected
):
    assert (
        delivery_mode(env, pid=pid, platform=platform, frozen=frozen, executable=executable)
        == expected
    )


def test_a_host_run_with_captured_output_returns_while_its_uploader_still_works(tracking_world):
    """The uploader holds none of the host's pipes: ``subprocess.run(capture_output=True)``
    returns when the host exits, not when delivery is over."""
    world = tracking_world
    world.acknowledge()
    with FaultServer("blackhole") as server:
        env = {**world.env, "HOST_COLLECTOR": server.url, "TESTAPP_TELEMETRY_REQUEST_TIMEOUT": "20"}
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", HOST_MODULE],
            env=env,
            cwd=world.project,
            capture_output=True,
            text=True,
            timeout=60,
        )
        took = time.monotonic() - started
        uploader = world.spool().holder()
        try:
            print(
                f"\nhost with captured output returned after {took:.3f} s; "
                f"its uploader (pid {uploader}) still waits on the black hole"
            )
            assert proc.returncode == 0 and proc.stderr == ""
            assert uploader and alive(uploader), "the test proves nothing without a live uploader"
            assert took < 10
        finally:
            if uploader and uploader > 0 and alive(uploader):
                os.kill(uploader, signal.SIGTERM)
        assert wait_idle(world.spool(), DELIVER_S)


def test_in_ci_the_host_delivers_before_it_exits(tracking_world, collector):
    world = tracking_world
    # In CI a tool's own profile sends only with an explicit opt-in (the ci_default layer).
    run = world.run_host(env={"CI": "true", "TESTAPP_SEND_ANONYMOUS_USAGE_STATS": "true"})
    assert run.returncode == 0 and run.stderr == ""
    assert run.report["delivery"] == "inline"
    # Delivered by the host itself: there when it has exited, without waiting for anyone.
    assert collector.totals() == {"total": 52, "good": 52, "bad": 0, "duplicates": 0, "evicted": 0}
    assert run.report["stats"]["uploads_started"] == 0
    assert world.spool().waiting().events == 0 and world.spool().holder() is None


def test_in_ci_a_dead_collector_costs_the_deadline_and_a_last_step_delivers(
    tracking_world, collector
):
    world = tracking_world
    with FaultServer("blackhole") as server:
        url, port = server.url, server.port
        run = world.run_host(
            endpoint=url,
            env={
                "CI": "true",
                "TESTAPP_SEND_ANONYMOUS_USAGE_STATS": "true",  # the job's explicit opt-in
                "TESTAPP_TELEMETRY_REQUEST_TIMEOUT": "20",
            },
        )
    print(
        f"\nCI host against a black hole: exit delay {run.exit_delay_s:.3f} s "
        "(the flush deadline is 1 s)"
    )
    assert run.returncode == 0 and run.stderr == ""
    assert run.exit_delay_s < 5  # the 1 s deadline, generously
    assert world.spool().waiting().events == 52
    from telemetry_collector import Collector

    with Collector(port=port) as healthy:
        last_step = subprocess.run(
            [sys.executable, "-m", TESTAPP_CLI, url, "upload", "--wait", "20"],
            env={**world.env, "CI": "true"},
            cwd=world.project,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert last_step.returncode == 0, last_step.stderr
        assert "Sent 52 of 52" in last_step.stdout
        assert healthy.totals() == {
            "total": 52,
            "good": 52,
            "bad": 0,
            "duplicates": 0,
            "evicted": 0,
        }


def test_a_spool_that_cannot_be_written_is_delivered_from_memory_at_exit(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    (world.state_dir() / "spool").write_text("a file where the spool should be\n")
    run = world.run_host()
    assert run.returncode == 0 and run.stderr == ""
    stats = run.report["stats"]
    assert stats["in_memory"] == 52 and stats["recorded"] == 52
    assert collector.totals() == {"total": 52, "good": 52, "bad": 0, "duplicates": 0, "evicted": 0}


def _unshare() -> list[str]:
    tool = shutil.which("unshare")
    if tool is None:
        pytest.skip("unshare is not installed")
    probe = subprocess.run(
        [tool, "--pid", "--fork", "--mount-proc", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        pytest.skip(f"unshare --pid is not permitted here ({probe.stderr.strip()[:200]})")
    return [tool, "--pid", "--fork", "--mount-proc"]


def test_a_detached_child_dies_with_pid_1_which_is_why_pid_1_delivers_itself(tmp_path):
    """The premise: a container's main process takes its detached children with it."""
    unshare = _unshare()
    marker = tmp_path / "child"
    script = (
        "import subprocess, sys; p = subprocess.Popen(['sleep', '30'], "
        "start_new_session=True); open(sys.argv[1], 'w').write(str(p.pid))"
    )
    proc = subprocess.run(
        [*unshare, sys.executable, "-c", script, str(marker)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    # The sleep lived in the namespace: it was killed when its PID 1 exited. Nothing of that
    # name and age may be left on this side.
    survivors = subprocess.run(["pgrep", "-f", "^sleep 30$"], capture_output=True, text=True)
    assert marker.exists()
    assert not [
        pid
        for pid in survivors.stdout.split()
        if pid.isdigit() and time.time() - os.stat(f"/proc/{pid}").st_ctime < 20
    ]


def test_a_host_that_is_pid_1_delivers_its_events_itself(tracking_world, collector):
    unshare = _unshare()
    world = tracking_world
    world.acknowledge()
    env = {**world.env, "HOST_COLLECTOR": world.collector_url}
    proc = subprocess.run(
        [*unshare, sys.executable, "-m", HOST_MODULE],
        env=env,
        cwd=world.project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert '"delivery": "inline"' in proc.stdout
    assert collector.totals() == {"total": 52, "good": 52, "bad": 0, "duplicates": 0, "evicted": 0}
    assert world.spool().waiting().events == 0


def test_a_host_in_python_s_development_mode_prints_nothing(tracking_world, collector):
    """``-X dev`` shows every ResourceWarning (a file left open, a child process still running
    when its Popen is collected): telemetry must leave no trace there either."""
    world = tracking_world
    world.acknowledge()
    run = world.run_host(env={"PYTHONDEVMODE": "1", "PYTHONWARNINGS": "always"})
    assert run.returncode == 0
    assert run.stderr == ""
    assert collector.wait_for(good=52, timeout=DELIVER_S)
    assert world.wait_delivered()


def _plant(directory: Path, marker: Path) -> None:
    """Packages in ``directory`` that leave ``marker`` if they ever run: ``tracking`` (ours) and
    ``snowplow_tracker`` (which only the uploader imports)."""
    code = f"open({str(marker)!r}, 'a').write('ran\\n')\n"
    for package in ("tracking", "snowplow_tracker"):
        (directory / package).mkdir(parents=True, exist_ok=True)
        for name in ("__init__.py", "uploader.py", "__main__.py"):
            (directory / package / name).write_text(code)


def test_no_planted_module_runs_in_the_uploader(tracking_world, collector, tmp_path):
    """The uploader starts isolated (``python -I``, ``cwd="/"``): packages planted in the spool
    dir (its working directory before, first on ``sys.path`` under ``-m``) or in a PYTHONPATH
    entry of the host never run as the user, and the events still arrive."""
    world = tracking_world
    world.acknowledge()
    marker = tmp_path / "planted-code-ran"
    spool_dir = Path(world.spool().directory)
    spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    on_path = tmp_path / "on-pythonpath"
    for where in (spool_dir, on_path):
        _plant(where, marker)
    # the host imports the checkout first; the planted entry comes after it, as a user's own
    pythonpath = os.pathsep.join([world.env["PYTHONPATH"], str(on_path)])
    run = world.run_host(env={"PYTHONPATH": pythonpath})
    assert run.returncode == 0, run.stderr
    assert collector.wait_for(good=52, timeout=DELIVER_S)
    assert world.wait_delivered()
    assert not marker.exists(), "a planted package ran in the uploader"
