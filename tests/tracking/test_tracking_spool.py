"""The spool: crash-safe, shared by many hosts at once, bounded, and forgiving of bad lines.

Hosts are real processes (tests/support/host.py), killed with SIGKILL where that is the
point; delivery is the in-process :func:`tracking.uploader.deliver` against the real collector.
"""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from telemetry_collector import Collector
from tests.support.faults import FaultServer
from tests.support.tracking import DELIVER_S, HOST_MODULE, wait_idle, write_segment
from tracking.settings import TrackerSettings
from tracking.spool import SEGMENT_MAX_EVENTS, Segment
from tracking.uploader import deliver

pytestmark = pytest.mark.delivery


def _start_host(world, **env: str) -> subprocess.Popen:
    full = {**world.env, "HOST_COLLECTOR": world.collector_url, **env}
    return subprocess.Popen(
        [sys.executable, "-m", HOST_MODULE],
        env=full,
        cwd=world.project,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_host_killed_mid_run_loses_nothing_it_wrote(tracking_world, collector, tmp_path):
    world = tracking_world
    world.acknowledge()
    paused = tmp_path / "paused"
    host = _start_host(world, HOST_MODELS="50", HOST_PAUSE_AFTER="25", HOST_PAUSE_FILE=str(paused))
    deadline = time.monotonic() + 30
    while not paused.exists() and time.monotonic() < deadline and host.poll() is None:
        time.sleep(0.01)
    assert paused.exists(), host.stderr.read() if host.stderr else ""
    host.send_signal(signal.SIGKILL)
    host.wait(10)
    (segment,) = world.spool().segments()
    assert segment.state == "open"  # never sealed: its writer is gone, its flock with it
    # The kernel may cut a write short: the torn tail of a last line.
    with open(segment.path, "ab") as fh:
        fh.write(b'{"e":"3f0c","t":17000000000')

    report = deliver(world.spool(), TrackerSettings(), timeout=DELIVER_S)

    assert report.sent == 26  # the start and the 25 model runs written before the kill
    assert collector.totals() == {"total": 26, "good": 26, "bad": 0, "duplicates": 0, "evicted": 0}
    assert world.spool().segments() == []
    assert world.spool().waiting().dropped == {"invalid": 1}  # the torn line, skipped


def test_hosts_killed_at_random_moments_never_break_the_spool(tracking_world):
    world = tracking_world
    world.acknowledge()
    rng = random.Random(12)
    kills = 8
    unbounded = {
        "TESTAPP_TELEMETRY_SPOOL_MAX_EVENTS": str(10**7),
        "TESTAPP_TELEMETRY_SPOOL_MAX_BYTES": str(1 << 32),
    }
    # The collector refuses at first: the segments stay in the spool to be counted.
    with FaultServer("refused") as server:
        url, port = server.url, server.port
        for _ in range(kills):
            host = _start_host(world, HOST_MODELS="100000", HOST_COLLECTOR=url, **unbounded)
            time.sleep(rng.uniform(0.15, 0.6))
            host.send_signal(signal.SIGKILL)
            host.wait(10)
        assert wait_idle(world.spool(), DELIVER_S)
    # Every complete line that reached the spool, in sealed and orphaned segments alike.
    written = 0
    for segment in world.spool().segments():
        with open(segment.path, "rb") as fh:
            written += fh.read().count(b"\n") - 1
    with Collector(port=port) as collector:
        report = deliver(
            world.spool(),
            TrackerSettings(spool_max_events=10**7, spool_max_bytes=1 << 32),
            timeout=DELIVER_S * 3,
        )
        # An uploader of the killed hosts' may still be waiting out its backoff, and deliver
        # part of it (docs/delivery.md, "After an outage"): what counts is what arrived.
        assert collector.wait_for(good=written, timeout=DELIVER_S * 3), collector.totals()
        assert world.wait_delivered(DELIVER_S)
        dropped = world.spool().waiting().dropped
        print(
            f"\n{kills} hosts killed: {written} complete lines spooled, {report.sent} "
            f"delivered by this call, {collector.totals()['good']} in all, dropped {dropped}"
        )
        assert written > kills  # the kills did land mid-run
        assert report.sent <= written
        totals = collector.totals()  # past 100,000 the collector evicts (and counts) the oldest
        assert {k: totals[k] for k in ("total", "good", "bad", "duplicates")} == {
            "total": written,
            "good": written,
            "bad": 0,
            "duplicates": 0,
        }
    assert set(dropped) <= {"invalid"} and dropped.get("invalid", 0) <= kills  # torn tails only
    assert world.spool().segments() == []


def test_twenty_hosts_appending_at_once_lose_nothing_and_share_one_id(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    start_at = time.time() + 2.0  # every process imported and waiting: then all go at once
    hosts = [_start_host(world, HOST_START_AT=str(start_at), HOST_MODELS="50") for _ in range(20)]
    for host in hosts:
        assert host.wait(60) == 0, host.stderr.read() if host.stderr else ""
    assert collector.wait_for(good=20 * 52, timeout=DELIVER_S * 2), collector.totals()
    assert world.wait_delivered()
    assert collector.totals() == {
        "total": 1040,
        "good": 1040,
        "bad": 0,
        "duplicates": 0,
        "evicted": 0,
    }
    eids = [e["event"]["event_id"] for e in collector.good(limit=2000)]
    users = {
        c["data"]["anonymous_user_id"]
        for e in collector.good(limit=2000)
        for c in e["event"]["contexts"]["data"]
        if "anonymous_user_id" in c["data"]
    }
    assert len(set(eids)) == 1040 and len(users) == 1


def test_files_are_private(tracking_world):
    world = tracking_world
    spool = write_segment(world, 3)
    assert stat.S_IMODE(os.stat(spool.directory).st_mode) == 0o700
    for segment in spool.segments():
        assert stat.S_IMODE(os.stat(segment.path).st_mode) == 0o600


def test_the_bound_on_events_drops_whole_oldest_segments_counted(tracking_world, collector):
    world = tracking_world
    for _ in range(5):
        write_segment(world, 52)
        time.sleep(0.002)  # distinct creation times: an order
    newest = set()
    for segment in world.spool().segments()[-1:]:
        newest |= {
            json.loads(line)["e"] for line in Path(segment.path).read_bytes().splitlines()[1:]
        }
    report = deliver(world.spool(), TrackerSettings(spool_max_events=100), timeout=DELIVER_S)
    # 260 waiting, 100 allowed: whole segments go, oldest first, until the rest fits: four
    # (208), which is 48 more than strictly needed (less than one segment, as documented).
    assert report.dropped_cap == 208 and report.sent == 52
    assert world.spool().waiting().dropped == {"cap": 208}
    assert {e["event"]["event_id"] for e in collector.good()} == newest  # the oldest went first


def test_the_bound_on_bytes_and_the_maximum_age(tracking_world, collector):
    world = tracking_world
    spool = write_segment(world, 40)
    (old,) = spool.segments()
    aged = Segment.parse(
        old.directory,
        f"{int((time.time() - 3600) * 1000):013d}-{old.pid}-{old.token}.{old.events}.seg",
    )
    assert aged is not None
    os.rename(old.path, aged.path)
    write_segment(world, 40)
    time.sleep(0.002)
    write_segment(world, 40)
    size = world.spool().segments()[-1].size()
    report = deliver(
        world.spool(),
        TrackerSettings(spool_max_age_s=60, spool_max_bytes=size + 10),
        timeout=DELIVER_S,
    )
    assert report.dropped_age == 40 and report.dropped_cap == 40 and report.sent == 40
    assert world.spool().waiting().dropped == {"age": 40, "cap": 40}


def test_a_bad_line_anywhere_is_skipped_never_fatal(tracking_world, collector):
    world = tracking_world
    spool = write_segment(world, 3, lines=[b"not json at all\n", b"[1, 2]\n", b"\xff\xfe\n"])
    write_segment(world, 2)
    report = deliver(spool, TrackerSettings(), timeout=DELIVER_S)
    assert report.sent == 5 and report.invalid == 3
    assert collector.totals() == {"total": 5, "good": 5, "bad": 0, "duplicates": 0, "evicted": 0}


def test_a_segment_without_a_header_is_dropped_counted(tracking_world, collector):
    world = tracking_world
    spool = write_segment(world, 4)
    (segment,) = spool.segments()
    lines = Path(segment.path).read_bytes().splitlines(keepends=True)
    with open(segment.path, "wb") as fh:
        fh.write(b'{"spool": 999}\n' + b"".join(lines[1:]))
    write_segment(world, 1)
    report = deliver(spool, TrackerSettings(), timeout=DELIVER_S)
    assert report.sent == 1 and spool.waiting().dropped == {"invalid": 4}


def test_a_long_run_is_sealed_in_pieces_and_the_first_ones_go_while_it_runs(
    tracking_world, collector
):
    world = tracking_world
    world.acknowledge()
    from tracking import Tracker

    tracker = Tracker(world.tracked_profile())
    with tracker.invocation("run") as inv:
        for index in range(2 * SEGMENT_MAX_EVENTS + 10):
            inv.model_run(
                contents=str(index), status="success", execution_time_s=0.1, materialization="table"
            )
        # Two segments are sealed already; an uploader was started for the first.
        assert tracker.stats.segments == 3 and tracker.stats.uploads_started >= 1
    tracker.close()
    total = 2 * SEGMENT_MAX_EVENTS + 12
    assert collector.wait_for(good=total, timeout=DELIVER_S * 2), collector.totals()
    assert world.wait_delivered()
    assert collector.totals()["good"] == total
    assert world.spool().waiting().dropped == {}


def _planted(spool, name: str, size: int) -> str:
    """A file someone planted in the spool under a segment's name, ``size`` bytes of lines."""
    path = os.path.join(spool.directory, name)
    line = b'{"e":"x","t":1,"s":"iglu:x/y/jsonschema/1-0-0","d":{},"i":"z"}\n'
    with open(path, "wb") as fh:
        fh.write(b'{"spool":1}\n')
        fh.truncate(size)  # sparse: the size is what matters, not the disk
        fh.seek(size - len(line))
        fh.write(line)
    return path


def test_a_planted_huge_segment_is_dropped_unread(tracking_world, collector):
    """A 336 MB file under a segment's name was read whole (2 GB of memory) by the uploader and
    by ``status``; no host writes one over SEGMENT_LIMIT_BYTES, so it is dropped, unread."""
    import resource

    world = tracking_world
    spool = write_segment(world, 5)
    huge = _planted(spool, "1700000000000-1-0badf00d.1000.seg", 336 * 1024 * 1024)
    orphan = _planted(spool, "1700000000001-1-0badf00e.open", 336 * 1024 * 1024)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    waiting = spool.waiting()  # what status reads: the orphan counts 0, unread
    report = deliver(spool, TrackerSettings(), timeout=DELIVER_S)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert report.sent == 5 and collector.totals()["good"] == 5
    assert not os.path.exists(huge) and not os.path.exists(orphan)
    assert spool.waiting().dropped.get("invalid") == 1000  # the count its name claimed
    assert waiting.events == 5 + 1000
    assert grown_mb < 100, f"memory grew by {grown_mb:.0f} MB"


def test_a_future_dated_segment_evicts_no_real_one(tracking_world, collector):
    """Named a year ahead, a planted segment counted as the newest (never dropped to make
    room) and the bounds dropped the real ones instead."""
    world = tracking_world
    spool = write_segment(world, 5)
    future = int((time.time() + 365 * 86400) * 1000)
    planted = _planted(spool, f"{future:013d}-1-0badf00d.50000.seg", 4096)
    report = deliver(spool, TrackerSettings(spool_max_events=100), timeout=DELIVER_S)
    assert report.sent == 5 and collector.totals()["good"] == 5
    assert not os.path.exists(planted)
    dropped = spool.waiting().dropped
    assert dropped.get("cap", 0) == 0 and dropped.get("invalid") == 50000
