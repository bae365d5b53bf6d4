"""The sender: bounded memory, batches, a retry budget, consent before each send, a deadline.

Each test uses a real socket (the local collector or a fault server) and the real sender thread.
"""

from __future__ import annotations

import threading
import time

import pytest

from tracking._sender import Sender, SendOptions, TrackerStats
from tracking.catalog import DEFAULT_CATALOG
from tracking.collector.faults import FaultServer

from tracking_world import Scripted

START = DEFAULT_CATALOG.get("invocation_start")
INVOCATION_ID = "5f2b8a6e-6c1d-4f0a-9b7e-2d4c6a8e0f13"


def _record(index: int = 0):
    return (START.iglu_uri, START.name, {"command": "run"}, INVOCATION_ID, (),
            1_700_000_000_000 + index)


class Harness:
    def __init__(self, url: str, *, allowed=lambda: True, contexts_for=None, **options):
        self.stats = TrackerStats()
        self.logged: list[dict] = []
        self.sender = Sender(
            SendOptions(url=url, **options), namespace="testapp", stats=self.stats,
            allowed=allowed, contexts_for=contexts_for or (lambda invocation_id: []),
            on_sent=self.logged.extend,
        )

    def put(self, count: int) -> None:
        for index in range(count):
            self.sender.put(_record(index))

    def wait(self, predicate, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.stats):
                return True
            time.sleep(0.01)
        return False


def test_batches_of_at_most_batch_size_reach_the_collector_and_the_log(collector):
    # The consent check before each send waits until the host has queued everything, so the
    # batches are the same on a fast or a loaded machine: 50, 50, 20.
    queued = threading.Event()
    harness = Harness(collector.url, allowed=lambda: queued.wait(5), batch_size=50, linger=60)
    harness.put(120)
    queued.set()
    assert harness.sender.close(5)
    assert collector.wait_for(good=120, timeout=5)
    assert collector.totals()["bad"] == 0
    assert harness.stats.sent == 120 and harness.stats.requests == 3
    assert len(harness.logged) == 120
    assert {"sent_at", "event", "schema", "data", "contexts"} == set(harness.logged[0])


def test_the_queue_is_bounded_and_drops_are_counted(collector):
    # A long linger keeps the sender asleep while the host floods it.
    harness = Harness(collector.url, queue_size=10, batch_size=50, linger=60)
    harness.put(25)
    assert harness.sender.pending == 10
    assert harness.stats.dropped_queue_full == 15
    assert harness.sender.close(5)
    assert collector.wait_for(good=10, timeout=5)


def test_a_500_spends_the_retry_budget_then_gives_up_for_good():
    with FaultServer("status", status=500) as server:
        harness = Harness(server.url, max_retries=2, backoff=0.01, linger=0.01, batch_size=5)
        harness.put(5)
        assert harness.wait(lambda s: s.gave_up)
        assert server.requests == 3  # one try and two retries, then nothing
        harness.put(20)
        time.sleep(0.2)
        assert server.requests == 3
        harness.sender.close(1)
    assert harness.stats.retries == 2
    assert harness.stats.dropped_failed == 25
    assert harness.stats.sent == 0


def test_a_refused_port_is_not_hammered():
    with FaultServer("refused") as server:
        harness = Harness(server.url, max_retries=3, backoff=0.01, linger=0.01, batch_size=5)
        harness.put(50)
        assert harness.wait(lambda s: s.gave_up)
        time.sleep(0.1)
        harness.sender.close(1)
    assert harness.stats.requests == 4  # 1 + 3 retries, whatever was queued
    assert harness.stats.dropped_failed == 50


def test_a_rejected_batch_is_not_retried_and_does_not_stop_the_others():
    with FaultServer("status", status=400) as server:
        harness = Harness(server.url, max_retries=3, backoff=0.01, linger=0.01, batch_size=5)
        harness.put(10)
        assert harness.wait(lambda s: s.dropped_failed == 10)
        harness.sender.close(1)
        assert server.requests == harness.stats.requests >= 2  # one per batch, none again
    assert harness.stats.retries == 0 and not harness.stats.gave_up


def test_close_returns_by_the_deadline_against_a_black_hole():
    with FaultServer("blackhole") as server:
        harness = Harness(server.url, request_timeout=30, linger=60)
        harness.put(3)
        started = time.monotonic()
        finished = harness.sender.close(0.3)
        waited = time.monotonic() - started
    print(f"\nclose(0.3) against a black hole returned after {waited:.3f} s")
    assert finished is False
    assert waited < 5  # generous: the design bound is the deadline itself


def test_consent_withdrawn_before_the_send_drops_everything_without_a_request(collector):
    allowed = threading.Event()
    harness = Harness(collector.url, allowed=allowed.is_set, linger=60)
    harness.put(7)
    assert harness.sender.close(5)
    assert harness.stats.dropped_consent == 7 and harness.stats.requests == 0
    assert collector.totals()["total"] == 0
    assert harness.logged == []


def test_an_event_that_cannot_be_built_is_dropped_alone(collector):
    def contexts_for(invocation_id):
        if invocation_id == "broken":
            raise ValueError("cannot build")
        return []

    harness = Harness(collector.url, contexts_for=contexts_for, linger=60)
    harness.put(2)
    harness.sender.put((START.iglu_uri, START.name, {"command": "run"}, "broken", (), 1))
    assert harness.sender.close(5)
    assert harness.stats.invalid == 1 and harness.stats.sent == 2


def test_after_close_new_events_are_dropped(collector):
    harness = Harness(collector.url)
    harness.put(1)
    harness.sender.close(5)
    harness.put(1)
    assert harness.stats.dropped_closed == 1


@pytest.mark.parametrize("count", [1, 1000])
def test_putting_is_cheap_on_the_host_thread(collector, count):
    harness = Harness(collector.url, linger=60, queue_size=100_000, batch_size=500)
    harness.put(1)  # starts the thread
    started = time.perf_counter()
    harness.put(count)
    per_event_us = (time.perf_counter() - started) / count * 1e6
    harness.sender.close(5)
    print(f"\nSender.put: {per_event_us:.2f} us per event ({count} events)")
    assert per_event_us < 1000  # generous; the figure is what matters


def test_every_batch_goes_over_one_kept_alive_connection():
    server = Scripted()
    try:
        queued = threading.Event()
        harness = Harness(server.url, allowed=lambda: queued.wait(5), batch_size=10, linger=60)
        harness.put(100)
        queued.set()
        assert harness.sender.close(5)
    finally:
        server.close()
    assert harness.stats.sent == 100 and harness.stats.requests == 10
    assert server.connections == 1 and len(server.requests) == 10
    assert harness.stats.retries == 0 and harness.stats.errors == 0
    assert len(harness.logged) == 100  # written before close() returned


def test_the_next_batch_is_built_while_the_collector_answers_the_last(collector):
    # One request in flight at a time, and the sender does not sit idle meanwhile: the build of
    # batch N+1 starts before the answer to batch N has been read.
    order: list[str] = []
    queued = threading.Event()

    def contexts_for(invocation_id):
        order.append("build")
        return []

    harness = Harness(collector.url, allowed=lambda: queued.wait(5), batch_size=1, linger=60,
                      contexts_for=contexts_for)
    transport_receive = None

    def spy():
        nonlocal transport_receive
        transport = harness.sender._transport
        transport_receive = transport.receive

        def receive():
            order.append("answer")
            return transport_receive()

        transport.receive = receive

    harness.put(3)
    deadline = time.monotonic() + 5
    while not hasattr(harness.sender, "_transport") and time.monotonic() < deadline:
        time.sleep(0.01)
    spy()
    queued.set()
    assert harness.sender.close(5)
    assert collector.wait_for(good=3, timeout=5)
    assert order == ["build", "build", "answer", "build", "answer", "answer"]


def test_a_sender_started_ahead_and_cancelled_connects_nowhere():
    server = Scripted()
    try:
        stats = TrackerStats()
        sender = Sender.ahead(server.url, namespace="testapp", stats=stats)
        assert sender.ahead_url == server.url
        sender.cancel()
        sender._thread.join(10)
        assert not sender._thread.is_alive()
        assert sender.close(1) is True  # nothing was ever queued
    finally:
        server.close()
    assert server.connections == 0 and stats.requests == 0


def test_a_sender_started_ahead_waits_for_its_options_then_sends(collector):
    stats = TrackerStats()
    logged: list[dict] = []
    sender = Sender.ahead(collector.url, namespace="testapp", stats=stats)
    time.sleep(0.2)
    assert sender._thread.is_alive() and not hasattr(sender, "_transport")  # imports only
    warmed = threading.Event()
    sender.configure(SendOptions(url=collector.url, linger=60), allowed=lambda: True,
                     contexts_for=lambda invocation_id: [], on_sent=logged.extend,
                     warm_up=warmed.set)
    for index in range(3):
        sender.put(_record(index))
    assert sender.close(5)
    assert warmed.is_set()
    assert collector.wait_for(good=3, timeout=5) and stats.sent == 3 and len(logged) == 3


def test_an_accepted_batch_is_logged_before_the_sender_waits_on_a_stalled_collector():
    # Batch 1 is answered, batch 2 never is (and batch 3 waits behind it): batch 1 is in the
    # local log even though the host gives up waiting (the deadline) while the sender is stuck.
    stalled = threading.Event()

    def script(connection, request):
        if request >= 2:
            stalled.wait(10)  # no answer until the test ends
        return "keep"

    server = Scripted(script)
    try:
        queued = threading.Event()
        harness = Harness(server.url, allowed=lambda: queued.wait(5), batch_size=5, linger=60,
                          request_timeout=30)
        harness.put(15)
        queued.set()
        assert harness.sender.close(1.0) is False
        assert harness.stats.sent == 5
        assert len(harness.logged) == 5
    finally:
        stalled.set()
        server.close()
