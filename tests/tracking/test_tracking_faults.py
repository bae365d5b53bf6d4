"""A broken collector never hurts the host: each fault is a real socket, the host a real process.

The host (host_app.py: 1 start, 50 model runs, 1 end, atexit flush) must exit with its own code,
print nothing (no traceback, no snowplow log line) and finish within a generous bound. The exit
delay it suffers is printed for the record (``-s`` shows it), not asserted tightly: this runs on
shared, noisy machines. Design bound: the flush deadline (1 s) plus about 0.1 s.
"""

from __future__ import annotations

import pytest

from tracking.collector.faults import FAULT_KINDS, FaultServer

from tracking_world import HOST_BOUND_S

#: refused, accepts-but-never-answers, HTTP 500, slow (2 s): the four the work order names;
#: the others (half a response, garbage, plain TCP on https) come free with the fault server.
KINDS = [k for k in ("refused", "blackhole", "status", "slow") if k in FAULT_KINDS] + [
    k for k in FAULT_KINDS if k not in ("refused", "blackhole", "status", "slow")]


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_collector_never_holds_or_breaks_the_host(tracking_world, kind):
    world = tracking_world
    world.acknowledge()
    with FaultServer(kind, delay=2.0) as server:
        run = world.run_host(endpoint=server.url)
        connections = server.requests

    delay = run.exit_delay_s
    print(f"\nfault={kind}: host wall {run.elapsed_s:.3f} s, exit delay after main "
          f"{delay:.3f} s, connections {connections}, stats {run.report.get('stats')}")
    assert run.returncode == 0
    assert "Traceback" not in run.stderr
    assert run.stderr == ""
    assert run.elapsed_s < HOST_BOUND_S
    stats = run.report["stats"]
    assert stats["recorded"] == 52
    assert stats["sent"] == 0 or kind == "slow"  # slow answers 200 after 2 s: never in time
    # A failing collector costs a handful of requests, never a loop.
    assert connections <= 5
