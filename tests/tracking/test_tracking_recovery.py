"""Delivery recovers after an outage: the first run that finds the collector back delivers what
waits, its own events included, with nobody running ``telemetry upload``.

Before, two runs against a collector that accepted connections and never answered left a
backoff behind; the next, healthy, run was held off by it and started no uploader, and nothing
ran later: 0 events arrived within 40 s. Now a run held off by a *short* backoff hands its
segment to an uploader that waits the rest of it out (docs/delivery.md, "After an outage").
Real host processes, a real black-hole server and the real collector on the same port.
"""

from __future__ import annotations

import os
import time

import pytest

from telemetry_collector import Collector
from tests.support.faults import FaultServer
from tests.support.tracking import wait_idle

pytestmark = pytest.mark.delivery

#: A short request timeout, so the outage costs the test seconds, not the default 5 s a try.
FAST = {"TESTAPP_TELEMETRY_REQUEST_TIMEOUT": "1"}


def _backoff(world, url: str, seconds: float, failures: int) -> None:
    """The backoff as the uploader persists it after ``failures`` failed tries in a row."""
    spool = world.spool()
    spool.ensure_dir()
    entry = {"not_before": time.time() + seconds, "failures": failures, "error": "timed out"}
    spool.update_state(lambda state: state.update(backoff={url: entry}))


def _outage(world, kind: str, runs: int = 2) -> int:
    """``runs`` host runs against a broken collector, which then comes back while the backoff
    they left still has 4 s to go (3 failures: 1 + 2 s, then 4 s); returns its port."""
    with FaultServer(kind) as server:
        port, url = server.port, server.url
        for _ in range(runs):
            run = world.run_host(endpoint=url, env=FAST)
            assert run.returncode == 0 and run.stderr == "", run.stderr
        assert wait_idle(world.spool(), timeout=30), "the uploader never let go of the spool"
    assert world.spool().waiting().events == 52 * runs
    _backoff(world, url, 4.0, 3)
    return port


@pytest.mark.parametrize("kind", ["blackhole", "refused"])
def test_the_first_healthy_run_after_an_outage_delivers_everything(tracking_world, kind):
    world = tracking_world
    world.acknowledge()
    port = _outage(world, kind)
    with Collector(port=port) as collector:
        url = collector.url
        run = world.run_host(endpoint=url, env=FAST)
        assert run.returncode == 0 and run.stderr == "", run.stderr
        # Both outage runs' events and the healthy run's own: nobody runs `upload`.
        assert collector.wait_for(good=3 * 52, timeout=40), collector.totals()
        assert world.wait_delivered(timeout=20)
        assert collector.totals()["bad"] == 0
    assert world.spool().waiting().events == 0
    assert world.spool().not_before(url) == 0  # the backoff is forgotten


def test_a_run_during_a_long_backoff_starts_no_process(tracking_world):
    """An offline laptop: a backoff longer than an uploader may wait is not waited out, so a
    command run then starts no process (the events wait for a later run)."""
    world = tracking_world
    world.acknowledge()
    with FaultServer("refused") as server:
        url = server.url
        _backoff(world, url, 60.0, 7)  # the longest backoff, just begun
        run = world.run_host(endpoint=url, env=FAST)
        assert run.returncode == 0 and run.stderr == ""
        assert run.exit_report["stats_at_exit"]["uploads_started"] == 0
        assert server.requests == 0
    assert world.spool().waiting().events == 52


def test_a_run_while_a_failing_uploader_holds_the_lock_is_delivered_when_the_collector_is_back(
    tracking_world,
):
    """The run that ends while an uploader is still failing cannot start one (the lock is
    held); the failing uploader sees that a run recorded events meanwhile, waits out its new,
    short backoff and tries again."""
    world = tracking_world
    world.acknowledge()
    slow = {"TESTAPP_TELEMETRY_REQUEST_TIMEOUT": "3"}
    with FaultServer("blackhole") as server:
        port, url = server.port, server.url
        first = world.run_host(endpoint=url, env=slow)  # its uploader now waits on the socket
        second = world.run_host(endpoint=url, env=slow)  # cannot start one: the lock is held
        assert first.returncode == second.returncode == 0
        assert second.exit_report["stats_at_exit"]["uploads_started"] == 0
        # The uploader gives up on the black hole and persists a backoff (bounded wait).
        spool, give_up = world.spool(), time.monotonic() + 20
        while spool.not_before(url) == 0 and time.monotonic() < give_up:
            time.sleep(0.05)
        assert spool.not_before(url) > 0, "the uploader never gave up on the black hole"
    # Only now is the collector back on its port: nobody runs anything after this.
    with Collector(port=port) as collector:
        assert collector.wait_for(good=2 * 52, timeout=40), __import__("json").dumps(
            [collector.totals(), world.spool().state(), os.listdir(world.spool().directory)]
        )
        assert world.wait_delivered(timeout=20)
    assert world.spool().waiting().events == 0


def test_an_unattended_failure_is_tried_once(tracking_world):
    """Nobody ran anything while the uploader failed: it ends after one try, as before (a
    failing collector costs a handful of requests, never a loop)."""
    world = tracking_world
    world.acknowledge()
    with FaultServer("status", status=500) as server:
        run = world.run_host(endpoint=server.url, env=FAST)
        assert run.returncode == 0
        assert wait_idle(world.spool(), timeout=30)
        assert server.requests == 2  # the try and its one retry of a 5xx
    assert world.spool().waiting().events == 52
