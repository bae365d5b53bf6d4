"""A broken collector never hurts the host: each fault a real socket, the host a real process.

For every fault (and for a host that exits 0 and one that exits 3 on its own): the host's exit
code is its own, nothing is printed (0 stderr lines: no traceback, no log spam), and the time
telemetry adds after ``main()`` returns stays within a generous bound. The design bound is the
profile's flush deadline (1 s) plus interpreter teardown; the measured figure is recorded.

Then memory: 100,000 events recorded against a dead collector, peak RSS (VmHWM) of the host.
"""

from __future__ import annotations

import pytest

from tracking.collector.faults import FaultServer

import reliability_kit as kit

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


@pytest.mark.parametrize("host_exit", [0, 3], ids=["host-exits-0", "host-exits-3"])
@pytest.mark.parametrize("case,kind,options", FAULTS, ids=[f[0] for f in FAULTS])
def test_a_broken_collector_never_changes_the_exit_code_nor_prints_nor_holds(
        tracking_world, case, kind, options, host_exit):
    world = tracking_world
    world.acknowledge()  # the notice was shown in an earlier run: this run really sends
    with FaultServer(kind, **options) as server:
        if kind == "notls":
            assert server.url.startswith("https://127.0.0.1:")
        run = kit.run_host(world.env, world.project, endpoint=server.url,
                           env={"HOST_EXIT": str(host_exit)})
        connections = server.requests

    added = run.added_exit_s
    kit.record("collector faults", f"{case} (host exit {host_exit})", "added wall time at exit",
               added, "s")
    assert run.returncode == host_exit, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert run.stderr_lines == [], f"the host printed {len(run.stderr_lines)} lines:\n{run.stderr}"
    assert run.main_report["mode"] == "send", run.main_report
    assert run.main_report["stats"]["recorded"] == 52
    assert added is not None and added < kit.HOST_BOUND_S, added
    assert run.elapsed_s < kit.HOST_BOUND_S + 5
    # Nothing counts as delivered unless the server's status line said 2xx (``close`` does say
    # "200 OK" before hanging up: the request had arrived whole, so that one may count).
    stats = run.exit_report.get("stats_at_exit") or {}
    if kind != "close":
        assert stats.get("sent", 0) == 0, stats
    # A failing collector costs a handful of connections, never a loop.
    assert connections <= 5, connections


def test_a_healthy_collector_is_the_baseline(tracking_world, collector):
    """The same host against a working collector: what exit costs when all is well."""
    world = tracking_world
    world.acknowledge()
    run = kit.run_host(world.env, world.project, endpoint=world.collector_url)
    kit.record("collector faults", "healthy collector (baseline)", "added wall time at exit",
               run.added_exit_s, "s")
    assert run.returncode == 0 and run.stderr_lines == []
    assert collector.wait_for(good=52, timeout=5)


def test_consent_off_is_the_floor(tracking_world):
    """With consent off the tracker does nothing: this is interpreter teardown alone."""
    world = tracking_world
    run = kit.run_host(world.env, world.project, endpoint=world.collector_url,
                       env={"DO_NOT_TRACK": "1"})
    kit.record("collector faults", "consent off (floor)", "added wall time at exit",
               run.added_exit_s, "s")
    assert run.returncode == 0 and run.stderr_lines == []


EVENTS = 100_000


@pytest.mark.parametrize("kind", ["refused", "blackhole"])
def test_memory_stays_bounded_with_100k_events_against_a_dead_collector(tracking_world, kind):
    world = tracking_world
    world.acknowledge()
    with FaultServer(kind) as dead:
        run = kit.run_host(world.env, world.project, endpoint=dead.url,
                           env={"HOST_MODELS": str(EVENTS)}, timeout=110)
        baseline = kit.run_host(world.env, world.project, endpoint=dead.url,
                                env={"HOST_MODELS": "0"})

    peak, floor = run.peak_rss_mb, baseline.peak_rss_mb
    stats = run.exit_report["stats_at_exit"]
    case = f"{EVENTS:,} events, collector {kind}"
    kit.record("memory", case, "peak RSS (VmHWM)", peak, "MB")
    kit.record("memory", f"0 events, collector {kind}", "peak RSS (VmHWM)", floor, "MB")
    kit.record("memory", case, "recording time (host thread)", run.main_report["record_s"], "s")
    kit.record("memory", case, "added wall time at exit", run.added_exit_s, "s")
    kit.record("memory", case, "events dropped (queue full or gave up)",
               stats["dropped_queue_full"] + stats["dropped_failed"])
    assert run.returncode == 0 and run.stderr_lines == [], run.stderr
    assert run.main_report["stats"]["recorded"] == EVENTS + 2
    assert peak is not None and peak < 300, f"peak RSS {peak:.1f} MB"
    # Bounded by the queue, not by the number of events: far less than one event's worth each.
    assert peak - floor < 150, f"{peak:.1f} MB vs {floor:.1f} MB with no events"
    # The queue bound held: beyond the queue (10,000 by default) and what the sender holds in
    # flight (a batch or two, at most 500 each), every event was dropped and counted, not kept.
    assert stats["sent"] == 0
    in_flight = 2_000
    assert stats["dropped_queue_full"] + stats["dropped_failed"] >= EVENTS + 2 - 10_000 - in_flight
    assert run.added_exit_s < kit.HOST_BOUND_S
