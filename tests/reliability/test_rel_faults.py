"""A broken collector never hurts the host, and loses nothing: each fault a real socket.

The host only records; a detached uploader delivers. For every fault (and for a host that exits
0 and one that exits 3 on its own): the host's exit code is its own, nothing is printed (0
stderr lines: no traceback, no log spam), and the time telemetry adds after ``main()`` returns
is next to nothing (recorded; asserted only against a generous bound). Then the uploader gives
up on that collector without a loop, every event still waits in the spool, and once the same
address answers again, ``telemetry upload`` delivers all of them.

Then memory and disk: 100,000 events recorded against a dead collector: the host's peak RSS
(VmHWM), and the spool kept within its bound, the rest dropped oldest first and counted.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from telemetry_collector import Collector
from tests.reliability import reliability_kit as kit
from tests.support.faults import FaultServer
from tests.support.testapp_cli import MODULE as TESTAPP_CLI
from tests.support.tracking import DELIVER_S, wait_idle
from tracking.spool import SEGMENT_MAX_EVENTS

pytestmark = pytest.mark.reliability

#: (case id, FaultServer kind, options). ``notls`` is an https:// URL pointed at a plain-TCP server.
FAULTS = [
    ("refused", "refused", {}),
    ("blackhole", "blackhole", {}),
    ("http-500", "status", {"status": 500}),
    ("http-503", "status", {"status": 503}),
    ("http-400", "status", {"status": 400}),
    ("slow-5s", "slow", {"delay": 5.0}),
    ("closes-mid-response", "close", {}),
    ("garbage", "garbage", {}),
    ("tls-to-plain-tcp", "notls", {}),
]
#: The uploader's wait for a silent collector is its own business, not this test's: shortened.
UPLOADER = {"TESTAPP_TELEMETRY_REQUEST_TIMEOUT": "2"}


@pytest.mark.parametrize("host_exit", [0, 3], ids=["host-exits-0", "host-exits-3"])
@pytest.mark.parametrize("case,kind,options", FAULTS, ids=[f[0] for f in FAULTS])
def test_a_broken_collector_never_changes_the_exit_code_nor_prints_nor_holds_nor_loses(
    tracking_world, case, kind, options, host_exit
):
    world = tracking_world
    world.acknowledge()  # the notice was shown in an earlier run: this run really records
    spool = world.spool()
    with FaultServer(kind, **options) as server:
        url, port = server.url, server.port
        if kind == "notls":
            assert url.startswith("https://127.0.0.1:")
        run = world.run_host(endpoint=url, env={"HOST_EXIT": str(host_exit), **UPLOADER})
        assert wait_idle(spool, DELIVER_S), "the uploader never ended"
        connections = server.requests

    added = run.exit_delay_s
    kit.record(
        "collector faults", f"{case} (host exit {host_exit})", "added wall time at exit", added, "s"
    )
    assert run.returncode == host_exit, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert run.stderr_lines == [], f"the host printed {len(run.stderr_lines)} lines:\n{run.stderr}"
    assert run.report["plan"] == "record", run.report
    assert run.report["stats"]["recorded"] == 52
    assert added is not None and added < kit.HOST_BOUND_S, added
    assert run.elapsed_s < kit.HOST_BOUND_S + 5
    # A failing collector costs a handful of connections, never a loop.
    assert connections <= 5, connections
    waiting = spool.waiting()
    if kind == "status" and options["status"] == 400:
        # The collector refused the events for good: dropped and counted, nothing retried.
        assert waiting.events == 0 and waiting.dropped == {"rejected": 52}
        return
    if kind == "slow":
        return  # answers 200 after 5 s: sent late or kept, either is right
    assert waiting.events == 52, "a failed delivery must keep every event"
    if kind == "notls":
        return  # the endpoint is https: no plain collector can stand in for it below
    # The same address answers again: everything that waited arrives.
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
        assert collector.totals() == {
            "total": 52,
            "good": 52,
            "bad": 0,
            "duplicates": 0,
            "evicted": 0,
        }, upload.stdout
    kit.record(
        "collector faults",
        f"{case} (host exit {host_exit})",
        "events delivered once the collector is back",
        52,
    )
    assert spool.waiting().events == 0


def test_a_healthy_collector_is_the_baseline(tracking_world, collector):
    """The same host against a working collector: what exit costs when all is well."""
    world = tracking_world
    world.acknowledge()
    run = world.run_host(endpoint=world.collector_url)
    kit.record(
        "collector faults",
        "healthy collector (baseline)",
        "added wall time at exit",
        run.exit_delay_s,
        "s",
    )
    assert run.returncode == 0 and run.stderr_lines == []
    assert collector.wait_for(good=52, timeout=DELIVER_S)


def test_consent_off_is_the_floor(tracking_world):
    """With consent off the tracker does nothing: this is interpreter teardown alone."""
    world = tracking_world
    run = world.run_host(endpoint=world.collector_url, env={"DO_NOT_TRACK": "1"})
    kit.record(
        "collector faults", "consent off (floor)", "added wall time at exit", run.exit_delay_s, "s"
    )
    assert run.returncode == 0 and run.stderr_lines == []


EVENTS = 100_000


@pytest.mark.parametrize("kind", ["refused", "blackhole"])
def test_memory_and_disk_stay_bounded_with_100k_events_against_a_dead_collector(
    tracking_world, kind
):
    world = tracking_world
    world.acknowledge()
    spool = world.spool()
    with FaultServer(kind) as dead:
        run = world.run_host(
            endpoint=dead.url, env={"HOST_MODELS": str(EVENTS), **UPLOADER}, timeout=110
        )
        assert wait_idle(spool, DELIVER_S)
        baseline = world.run_host(endpoint=dead.url, env={"HOST_MODELS": "0", **UPLOADER})
        assert wait_idle(spool, DELIVER_S)

    peak, floor = run.peak_rss_mb, baseline.peak_rss_mb
    waiting = spool.waiting()
    dropped = waiting.dropped.get("cap", 0)
    case = f"{EVENTS:,} events, collector {kind}"
    kit.record("memory", case, "peak RSS (VmHWM)", peak, "MB")
    kit.record("memory", f"0 events, collector {kind}", "peak RSS (VmHWM)", floor, "MB")
    kit.record("memory", case, "recording time (host thread)", run.report["record_s"], "s")
    kit.record("memory", case, "added wall time at exit", run.exit_delay_s, "s")
    kit.record("memory", case, "events kept in the spool", waiting.events)
    kit.record("memory", case, "spool size on disk", round(waiting.bytes / 1024 / 1024, 2), "MB")
    kit.record("memory", case, "events dropped, oldest first (counted)", dropped)
    assert run.returncode == 0 and run.stderr_lines == [], run.stderr
    assert run.report["stats"]["recorded"] == EVENTS + 2
    assert peak is not None and peak < 300, f"peak RSS {peak:.1f} MB"
    # Recording keeps nothing in memory: the host is as big with 100,000 events as with none.
    assert peak - floor < 50, f"{peak:.1f} MB vs {floor:.1f} MB with no events"
    # The spool's bound (10,000 events) held, give or take the segment being written.
    assert waiting.events <= 10_000 + SEGMENT_MAX_EVENTS
    assert waiting.events + dropped == EVENTS + 2 + 2, "every event is waiting or counted"
    assert run.exit_delay_s < kit.HOST_BOUND_S
