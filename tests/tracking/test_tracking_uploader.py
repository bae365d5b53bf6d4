"""The uploader: batches, what each answer does, backoff that survives, one at a time, a hard cap.

Real sockets (the local collector, fault servers, a scripted server), real uploader processes
where the process is the point (the lock, the cap, a SIGKILL), the in-process :func:`deliver`
elsewhere. Events are spooled with the spool's own writer (``tracking_world.write_segment``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from telemetry_collector import Collector
from tests.support.faults import FaultServer
from tests.support.tracking import DELIVER_S, Scripted, alive, wait_idle, write_segment
from tracking.delivery import start_uploader
from tracking.settings import TrackerSettings
from tracking.spool import WAIT_OUT_S
from tracking.uploader import deliver

pytestmark = pytest.mark.delivery


def start(spool, url, *, force: bool = False, **settings) -> bool:
    """A detached uploader for ``spool``; its ``settings`` reach it as the environment it
    inherits (``TESTAPP_TELEMETRY_*``), as a host's do."""
    env = {f"TESTAPP_TELEMETRY_{name.upper()}": str(value) for name, value in settings.items()}
    return start_uploader(
        spool, TrackerSettings(), url, env_prefix="TESTAPP_", env=env, force=force
    )


def test_batches_go_over_one_kept_alive_connection_and_reach_the_log(tracking_world):
    world = tracking_world
    server = Scripted()
    try:
        spool = write_segment(world, 450, server.url)
        report = deliver(spool, TrackerSettings(batch_size=200), timeout=DELIVER_S)
    finally:
        server.close()
    assert report.sent == 450 and report.batches == 3
    assert server.connections == 1 and [
        len(json.loads(b)["data"]) for _, _, b in server.requests
    ] == [200, 200, 50]
    assert spool.segments() == [] and spool.waiting().events == 0
    log = (world.state_dir() / "events.log").read_text().splitlines()
    assert len(log) == 450 and json.loads(log[0])["event"] == "invocation_start"


def test_the_collector_gets_valid_events_that_keep_the_eid_they_were_recorded_with(
    tracking_world, collector
):
    world = tracking_world
    spool = write_segment(world, 3)
    recorded = [
        json.loads(line)["e"]
        for line in Path(spool.segments()[0].path).read_text(encoding="utf-8").splitlines()[1:]
    ]
    report = deliver(spool, TrackerSettings(), timeout=DELIVER_S)
    assert report.sent == 3
    assert collector.totals() == {"total": 3, "good": 3, "bad": 0, "duplicates": 0, "evicted": 0}
    assert [e["event"]["event_id"] for e in collector.good()[::-1]] == recorded


def test_a_4xx_drops_the_batch_counted_without_a_retry_or_a_backoff(tracking_world):
    world = tracking_world
    with FaultServer("status", status=400) as server:
        url = server.url
        spool = write_segment(world, 30, url)
        report = deliver(spool, TrackerSettings(batch_size=10), timeout=DELIVER_S)
        requests = server.requests
    assert report.rejected == 30 and report.sent == 0
    assert requests == 3  # one per batch, none twice
    assert spool.waiting().events == 0 and spool.waiting().dropped == {"rejected": 30}
    assert spool.not_before(url) == 0


@pytest.mark.parametrize("kind", ["status", "refused", "blackhole", "close", "garbage"])
def test_a_failing_collector_keeps_the_events_and_persists_a_backoff(tracking_world, kind):
    world = tracking_world
    settings = TrackerSettings(request_timeout=1)
    with FaultServer(kind, status=503) as server:
        url = server.url
        spool = write_segment(world, 30, url)
        started = time.time()
        report = deliver(spool, settings, timeout=DELIVER_S)
        requests = server.requests
    assert report.sent == 0 and list(report.failed) == [url]
    # A 5xx gets one more try a second later; no answer at all gets none.
    assert requests == (2 if kind == "status" else 0 if kind == "refused" else 1)
    assert spool.waiting().events == 30, "a failed delivery loses nothing"
    not_before = spool.not_before(url)
    assert started < not_before <= time.time() + 1.0
    assert spool.state()["backoff"][url]["failures"] == 1


def test_the_backoff_doubles_up_to_its_ceiling_and_a_success_ends_it(tracking_world):
    world = tracking_world
    with FaultServer("refused") as server:
        url, port = server.url, server.port
        spool = write_segment(world, 5, url)
        waits = []
        for _ in range(8):
            deliver(spool, TrackerSettings(backoff_max_s=20), timeout=DELIVER_S)
            waits.append(round(spool.not_before(url) - time.time()))
    assert waits == [1, 2, 4, 8, 16, 20, 20, 20]
    # The same collector answers again: everything goes, and its backoff is gone.
    with Collector(port=port) as collector:
        report = deliver(spool, TrackerSettings(), timeout=DELIVER_S)
        assert report.sent == 5 and collector.totals()["good"] == 5
    assert spool.not_before(url) == 0 and url not in spool.state()["backoff"]


def test_hosts_do_not_start_an_uploader_while_the_backoff_lasts(tracking_world):
    """Offline laptops do not pay a process per command: the backoff is on disk. A short one
    is waited out by one uploader (holding the lock, so the others start none); a long one by
    none (docs/delivery.md, "After an outage")."""
    world = tracking_world
    with FaultServer("refused") as server:
        spool = write_segment(world, 5, server.url)
        settings = {"backoff_max_s": 60}
        assert start(spool, server.url, **settings) is True
        assert wait_idle(spool, DELIVER_S)
        assert 0 < spool.not_before(server.url) - time.time() <= WAIT_OUT_S
        started = [start(spool, server.url, **settings) for _ in range(5)]
        assert started == [True] + [False] * 4  # one waits the 1 s out; the lock stops the rest
        assert wait_idle(spool, DELIVER_S)
        # Failed again, and again (2 s, 4 s ...): once the backoff is longer than an uploader
        # waits, a command starts no process at all.
        entry = {"not_before": time.time() + 60, "failures": 7, "error": "refused"}
        spool.update_state(lambda state: state.update(backoff={server.url: entry}))
        started = [start(spool, server.url, **settings) for _ in range(5)]
        assert started == [False] * 5 and spool.holder() is None
        # Someone who waits for the events (flush, `telemetry upload`) goes anyway.
        assert start(spool, server.url, force=True, **settings) is True
        assert wait_idle(spool, DELIVER_S)
    assert spool.waiting().events == 5


def test_one_uploader_at_a_time_holds_the_lock_and_says_who_it_is(tracking_world):
    world = tracking_world
    with FaultServer("blackhole") as server:
        spool = write_segment(world, 5, server.url)
        settings = {"request_timeout": 3}
        assert start(spool, server.url, **settings) is True
        holder = spool.holder()  # written into the lock file by whoever started it
        assert holder and holder > 0 and alive(holder)
        assert start(spool, server.url, **settings) is False  # busy: no second one
        assert start(spool, server.url, force=True, **settings) is False
        assert wait_idle(spool, DELIVER_S)
    # It let go of the lock, then ends (it checks the spool once more first): bounded wait.
    deadline = time.monotonic() + DELIVER_S
    while alive(holder) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(holder)


class _Trickle:
    """A collector that accepts the request, then answers one byte every 0.2 s and never ends
    the status line: every read returns before any socket timeout, so only the uploader's hard
    cap (its SIGALRM) can end its wait. (A DNS lookup that hangs is the same, out of reach.)"""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.closed_by_client = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        conn, _ = self._sock.accept()
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            try:
                for _ in range(300):  # at most a minute
                    conn.sendall(b"H")
                    time.sleep(0.2)
            except OSError:
                self.closed_by_client.set()

    def close(self) -> None:
        self._sock.close()


def test_the_hard_cap_ends_an_uploader_that_every_timeout_misses(tracking_world):
    world = tracking_world
    server = _Trickle()
    try:
        spool = write_segment(world, 5, server.url)
        started = time.monotonic()
        assert start(spool, server.url, request_timeout=1, upload_time_limit=2) is True
        pid = spool.holder()
        assert pid and pid > 0
        while alive(pid) and time.monotonic() - started < 30:
            time.sleep(0.05)
        lived = time.monotonic() - started
        assert server.closed_by_client.wait(5), "the collector was still being read from"
    finally:
        server.close()
    print(f"\nuploader on a trickling collector, 2 s cap: ended after {lived:.2f} s")
    assert not alive(pid)
    assert lived < 10  # the cap (2 s) plus a loaded machine's slack
    # Ended by the kernel, not by itself: it never got to write its report.
    assert "last_upload" not in spool.state()
    assert spool.waiting().events == 5  # killed mid-batch: nothing lost either


class _EidServer:
    """A collector stand-in that records every POSTed event id and answers 200; ``hold`` makes it
    keep the second answer back (that request arrived whole) until released."""

    def __init__(self, hold: bool = False) -> None:
        self.eids: list[str] = []
        self.hold = hold
        self.got_first = threading.Event()  # the held request arrived
        self.release = threading.Event()
        self._script = Scripted(self._action)

    @property
    def url(self) -> str:
        return self._script.url

    def _action(self, connection: int, request: int) -> str:
        body = next(
            b for c, r, b in reversed(self._script.requests) if (c, r) == (connection, request)
        )
        self.eids.extend(p["eid"] for p in json.loads(body)["data"])
        if self.hold and len(self._script.requests) == 2:
            self.got_first.set()
            self.release.wait(20)
        return "keep"

    def close(self) -> None:
        self.release.set()
        self._script.close()


def test_an_uploader_killed_mid_batch_loses_nothing_and_its_batch_may_arrive_twice(tracking_world):
    world = tracking_world
    server = _EidServer(hold=True)
    try:
        spool = write_segment(world, 25, server.url)
        recorded = [
            json.loads(line)["e"]
            for line in Path(spool.segments()[0].path).read_text(encoding="utf-8").splitlines()[1:]
        ]
        settings = {"batch_size": 10, "request_timeout": 30}
        assert start(spool, server.url, **settings) is True
        assert server.got_first.wait(DELIVER_S), "the second batch never arrived"
        pid = spool.holder()
        assert pid and pid > 0
        os.kill(pid, signal.SIGKILL)  # while the collector holds the second batch's answer
        while alive(pid):
            time.sleep(0.01)
        server.hold = False
        server.release.set()
        report = deliver(spool, TrackerSettings(**settings), timeout=DELIVER_S)
    finally:
        server.close()
    assert report.sent == 15  # resumed after the first batch, which was accepted
    assert set(server.eids) == set(recorded), "every event arrived"
    duplicates = len(server.eids) - len(set(server.eids))
    print(f"\nSIGKILL mid-batch: {len(server.eids)} received, {duplicates} twice")
    # Exactly the batch in flight, counted by its eids: the first batch had been accepted and
    # recorded as done, so it was not sent again.
    assert duplicates == 10
    assert spool.segments() == []


def test_hosts_appending_while_an_uploader_exits_lose_no_wake_up(tracking_world, collector):
    """Segments sealed while an uploader holds the lock (their hosts could not start one) are
    delivered: whoever releases the lock looks again."""
    world = tracking_world
    spool = world.spool()
    expected = 0
    for round_ in range(15):
        write_segment(world, 3)
        expected += 3
        start(spool, world.collector_url)
        # The next segment lands at a moment that moves across the uploader's life.
        time.sleep(0.02 * (round_ % 8))
    assert collector.wait_for(good=expected, timeout=DELIVER_S), collector.totals()
    assert wait_idle(spool, DELIVER_S)
    assert spool.segments() == [], [s.name for s in spool.segments()]
    assert collector.totals() == {
        "total": expected,
        "good": expected,
        "bad": 0,
        "duplicates": 0,
        "evicted": 0,
    }


def test_an_event_that_breaks_its_schema_is_dropped_alone_and_counted(tracking_world, collector):
    world = tracking_world
    bad = json.dumps(
        {
            "e": "x",
            "t": 1,
            "s": "iglu:dev.telemetry-consent/invocation_start/jsonschema/1-0-0",
            "d": {"command": "run --select secret"},
            "i": "i",
        }
    )
    unknown = json.dumps(
        {"e": "y", "t": 1, "s": "iglu:com.example/nope/jsonschema/1-0-0", "d": {}, "i": "i"}
    )
    spool = write_segment(world, 4, lines=[(bad + "\n").encode(), (unknown + "\n").encode()])
    report = deliver(spool, TrackerSettings(), timeout=DELIVER_S)
    assert report.sent == 4 and report.invalid == 2
    assert spool.waiting().dropped == {"invalid": 2}
    assert collector.totals() == {"total": 4, "good": 4, "bad": 0, "duplicates": 0, "evicted": 0}


def test_the_uploader_sends_plain_http_only_to_loopback(tracking_world):
    """A spool edited to point elsewhere is refused, like the endpoint variable is: its events
    can never be sent, so they are dropped and counted."""
    world = tracking_world
    spool = write_segment(world, 2, "http://192.0.2.1:80")
    connects: list[object] = []
    original = socket.socket.connect

    def spy(self, address):
        connects.append(address)
        return original(self, address)

    socket.socket.connect = spy  # type: ignore[method-assign]
    try:
        report = deliver(spool, TrackerSettings(), timeout=5)
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]
    assert report.sent == 0 and connects == []
    assert spool.waiting().events == 0 and spool.waiting().dropped == {"invalid": 2}


def test_a_spool_that_cannot_exist_is_not_waited_for(tracking_world):
    """A read-only or full state dir: there is no lock to wait for, so no delivery waits out its
    deadline for one (a host delivering its in-memory events at exit would pay that wait)."""
    world = tracking_world
    world.state_dir().mkdir(parents=True, exist_ok=True)
    (world.state_dir() / "spool").write_text("a file where the spool should be\n")
    started = time.monotonic()
    report = deliver(world.spool(), TrackerSettings(), timeout=30)
    took = time.monotonic() - started
    assert took < 10, f"waited {took:.1f} s for a lock that cannot exist"
    assert report.sent == 0 and report.error is None


def test_a_segment_is_in_the_local_log_before_it_leaves_the_spool(tracking_world, collector):
    """Whoever sees a delivered segment gone (another host's ``flush``) and then reads
    ``telemetry log`` must find its events there, not a moment later; and the report says
    what became of it (what ``Tracker.flush`` reads)."""
    from tracking.uploader import Uploader

    world = tracking_world
    spool = write_segment(world, 3)
    [segment] = spool.segments()
    log_path = world.state_dir() / "events.log"
    logged_at_removal: list[int] = []
    remove = spool.remove

    def removing(what):  # what the log holds at the moment the segment goes
        logged_at_removal.append(len(log_path.read_text().splitlines()))
        return remove(what)

    spool.remove = removing  # type: ignore[method-assign]
    uploader = Uploader(spool, TrackerSettings(), deadline=time.monotonic() + DELIVER_S)
    fd = spool.try_lock()
    assert fd is not None
    try:
        uploader.round()  # delivers the segment, logs it, removes it
    finally:
        os.close(fd)
    assert logged_at_removal == [3]
    assert spool.segments() == []
    assert uploader.report.settled == {segment.base: (3, 0)}
    log = log_path.read_text().splitlines()
    assert len(log) == 3 and json.loads(log[0])["event"] == "invocation_start"


def test_an_uploader_that_fails_mid_round_says_so_in_its_saved_state(tracking_world):
    """A fault inside a round (injected: no real input reaches this path today) must reach the
    saved report that ``telemetry status`` reads, not only the in-memory one."""
    from tracking.uploader import Uploader

    class Failing(Uploader):
        def round(self) -> None:
            raise RuntimeError("injected fault")

    spool = write_segment(tracking_world, 2)
    report = Failing(spool, TrackerSettings(), deadline=time.monotonic() + DELIVER_S).run()

    assert report.error == "RuntimeError: injected fault"
    saved = spool.state()["last_upload"]
    assert saved["error"] == "RuntimeError: injected fault"
    assert len(spool.segments()) == 1, "the events stay for the next run"
