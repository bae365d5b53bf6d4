"""A broken collector never hurts the host, and loses nothing: each fault a real socket.

The host (tests/support/host.py: 1 start, 50 model runs, 1 end) only records; a detached uploader
delivers. Against every fault the host must exit with its own code, print nothing and finish
within a generous bound; the exit delay it suffers is printed for the record (``-s``). Then the
same address turns into a healthy collector and ``telemetry upload`` delivers all 52 events:
the fault lost none of them.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from telemetry_collector import Collector
from tests.support.faults import FAULT_KINDS, FaultServer
from tests.support.testapp_cli import MODULE as TESTAPP_CLI
from tests.support.tracking import DELIVER_S, HOST_BOUND_S, wait_idle

#: refused, accepts-but-never-answers, HTTP 500, slow (2 s) first; the others (half a response,
#: garbage, plain TCP on https) come free with the fault server.
KINDS = [k for k in ("refused", "blackhole", "status", "slow") if k in FAULT_KINDS] + [
    k for k in FAULT_KINDS if k not in ("refused", "blackhole", "status", "slow", "notls")
]


@pytest.mark.delivery
@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_collector_never_holds_the_host_and_loses_nothing(tracking_world, kind):
    world = tracking_world
    world.acknowledge()
    # A short request timeout: the uploader's wait on a silent collector is not the test's.
    env = {"TESTAPP_TELEMETRY_REQUEST_TIMEOUT": "1"}
    with FaultServer(kind, delay=2.0) as server:
        url, port = server.url, server.port
        run = world.run_host(endpoint=url, env=env)
        idle = wait_idle(world.spool(), timeout=DELIVER_S)  # the uploader tried, and gave up
        connections = server.requests

    delay = run.exit_delay_s
    print(
        f"\nfault={kind}: host wall {run.elapsed_s:.3f} s, exit delay after main "
        f"{delay:.3f} s, connections {connections}"
    )
    assert run.returncode == 0
    assert "Traceback" not in run.stderr
    assert run.stderr == ""
    assert run.elapsed_s < HOST_BOUND_S
    assert run.report["stats"]["recorded"] == 52
    assert idle, "the uploader never let go of the spool"
    assert world.spool().state().get("last_upload"), "no uploader ran"
    # A failing collector costs a handful of requests, never a loop.
    assert connections <= 5
    if kind == "slow":
        return  # it answers 200, late: whether the events waited depends on the timeout
    assert world.spool().waiting().events == 52, "a failed delivery must keep every event"

    # The same address comes back healthy: everything that waited arrives.
    with Collector(port=port) as collector:
        upload = subprocess.run(
            [sys.executable, "-m", TESTAPP_CLI, url, "upload", "--wait", "20"],
            env=world.env,
            cwd=world.project,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert upload.returncode == 0, upload.stderr
        assert collector.wait_for(good=52, timeout=DELIVER_S), upload.stdout
        assert collector.totals() == {
            "total": 52,
            "good": 52,
            "bad": 0,
            "duplicates": 0,
            "evicted": 0,
        }
    assert world.spool().waiting().events == 0
