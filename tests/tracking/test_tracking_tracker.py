"""The host API, in process: what a tool author calls, and what it must never do to the tool."""

from __future__ import annotations

import statistics
import threading
import time

import pytest

from consent.state import ensure_secret
from tracking import Tracker
from tracking.collector.faults import FaultServer
from tracking.ids import keyed_hash

EVENTS = "iglu:dev.telemetry-consent/{}/jsonschema/1-0-0"


def _data(event):
    return event["event"]["unstruct_event"]["data"]["data"]


def test_consent_off_makes_every_call_a_no_op(tracking_world, collector):
    world = tracking_world
    threads = threading.active_count()
    tracker = Tracker(world.profile(), host_flag=False)  # the host's --no-send flag

    with tracker.invocation("run") as inv:
        inv.model_run(contents="select 1", status="success", execution_time_s=1,
                      materialization="table")
        inv.count("model")
    assert tracker.close() is True

    assert tracker.mode == "off" and not tracker.enabled
    assert tracker.decision.decided_by == "host_flag"
    assert tracker.stats.recorded == 0
    assert threading.active_count() == threads
    assert world.files() == []
    assert collector.totals()["total"] == 0


def test_the_invocation_records_start_and_end_and_lets_the_host_exception_through(
        tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    tracker = Tracker(world.profile())

    with pytest.raises(KeyError):
        with tracker.invocation("build") as inv:
            inv.count("model", 2)
            inv.count("test")
            raise KeyError("the host's own bug")
    with tracker.invocation("run") as inv:
        inv.success = False  # failed without raising (some models errored)
    with pytest.raises(SystemExit):
        with tracker.invocation("docs generate"):
            raise SystemExit(0)
    assert tracker.close(timeout=5)

    assert collector.wait_for(good=6, timeout=5)
    ends = [_data(e) for e in collector.good(schema=EVENTS.format("invocation_end"))[::-1]]
    assert [(e["command"], e["success"]) for e in ends] == [
        ("build", False), ("run", False), ("docs generate", True)]
    assert ends[0]["node_counts"] == {"model": 2, "test": 1}
    assert all(e["duration_s"] >= 0 for e in ends)
    # Each invocation has its own id.
    ids = {c["data"]["invocation_id"] for e in collector.good()
           for c in e["event"]["contexts"]["data"]
           if c["schema"] == EVENTS.format("invocation")}
    assert len(ids) == 3


def test_bad_input_from_the_host_is_counted_and_never_raised(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    tracker = Tracker(world.profile())

    with tracker.invocation("run --select secret_model") as bad_command:  # arguments: refused
        pass
    with tracker.invocation("run") as inv:
        inv.model_run(contents="select 1", status="exploded", execution_time_s=1,
                      materialization="table")
        inv.model_run(contents="select 1", status="success", execution_time_s=-5,
                      materialization="table")
        inv.model_run(contents="select 1", status="success", execution_time_s=1,
                      materialization="My Custom Materialization")
        inv.model_run(contents=None, status="success", execution_time_s=1,  # type: ignore[arg-type]
                      materialization="table")
        inv.count("Model Name With Spaces")
        inv.count("model", "many")  # type: ignore[arg-type]
        inv.track(None)  # type: ignore[arg-type]
        inv.track(object())  # type: ignore[arg-type]
        inv.model_run(contents="select 2", status="success", execution_time_s=1,
                      materialization="table")
        inv.count("model")
    assert tracker.close(timeout=5)

    assert bad_command.invocation_id is not None
    assert collector.wait_for(good=3, timeout=5)
    # run start, 1 model, run end
    assert collector.totals() == {"total": 3, "good": 3, "bad": 0, "duplicates": 0, "evicted": 0}
    assert _data(collector.good()[0])["node_counts"] == {"model": 1}  # the newest: the end
    assert tracker.stats.invalid >= 9


def test_model_keys_are_keyed_hashes_of_the_contents(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    tracker = Tracker(world.profile())
    with tracker.invocation("run") as inv:
        for sql in ("select 1", "select 2", "select 1"):
            inv.model_run(contents=sql, status="success", execution_time_s=0.5,
                          materialization="view")
    tracker.close(timeout=5)

    assert collector.wait_for(good=5, timeout=5)
    keys = [_data(e)["model_key"]
            for e in collector.good(schema=EVENTS.format("model_run"))[::-1]]
    secret = ensure_secret(world.profile())
    assert keys == [keyed_hash(secret, "model", sql) for sql in ("select 1", "select 2", "select 1")]


def test_debug_prints_each_event_and_sends_and_writes_nothing(tracking_world, collector, monkeypatch,
                                                              capfd):
    world = tracking_world
    monkeypatch.setenv("TESTAPP_TELEMETRY_DEBUG", "1")
    threads = threading.active_count()
    tracker = Tracker(world.profile())
    with tracker.invocation("run") as inv:
        inv.model_run(contents="select SECRET_SQL", status="success", execution_time_s=0.1,
                      materialization="table")
    tracker.close()

    err = capfd.readouterr().err
    assert tracker.mode == "debug"
    assert "printed, not sent" in err
    for name in ("invocation_start", "model_run", "invocation_end"):
        assert EVENTS.format(name) in err
    assert '"anonymous_user_id"' in err and "SECRET_SQL" not in err
    assert collector.totals()["total"] == 0
    assert world.files() == []  # no notice mark, no id, no secret: nothing sent, nothing kept
    assert threading.active_count() == threads


def test_an_endpoint_that_may_not_receive_is_one_line_and_nothing_else(tracking_world, collector,
                                                                       monkeypatch, capfd):
    world = tracking_world
    monkeypatch.setenv("TESTAPP_TELEMETRY_ENDPOINT", "http://collector.example.com")
    tracker = Tracker(world.profile())
    with tracker.invocation("run"):
        pass

    err = capfd.readouterr().err
    assert tracker.mode == "off"
    assert err.count("\n") == 1 and "TESTAPP_TELEMETRY_ENDPOINT" in err and "https://" in err
    assert world.files() == []  # not even the notice: this run would not send


def test_the_endpoint_variable_points_the_tracker_elsewhere(tracking_world, collector, monkeypatch):
    world = tracking_world
    world.acknowledge()
    monkeypatch.setenv("TESTAPP_TELEMETRY_ENDPOINT", collector.url)
    tracker = Tracker(world.profile(endpoint="https://collector.example.invalid"))
    with tracker.invocation("run"):
        pass
    assert tracker.close(timeout=5)
    assert collector.wait_for(good=2, timeout=5)


def test_a_profile_without_a_collector_is_silently_off(tracking_world, capfd):
    world = tracking_world
    tracker = Tracker(world.profile(endpoint=None))
    assert tracker.mode == "off" and tracker.decision.enabled
    assert capfd.readouterr().err == ""
    assert world.files() == []


def test_a_broken_catalog_is_one_line_and_nothing_sent(tracking_world, collector, capfd):
    world = tracking_world
    world.acknowledge()
    tracker = Tracker(world.profile(event_catalog="no_such_module:CATALOG"))
    with tracker.invocation("run"):
        pass
    err = capfd.readouterr().err
    assert tracker.mode == "off"
    assert err.count("\n") == 1 and "no_such_module" in err
    assert collector.totals()["total"] == 0


def test_the_cloud_edition_sends_despite_an_opt_out_and_says_so_in_the_context(
        tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    tracker = Tracker(world.profile(), edition="cloud",
                      env={**world.env, "DO_NOT_TRACK": "1"})
    assert tracker.decision.mandatory
    with tracker.invocation("run"):
        pass
    assert tracker.close(timeout=5)
    assert collector.wait_for(good=2, timeout=5)
    contexts = {c["schema"]: c["data"] for c in collector.good()[0]["event"]["contexts"]["data"]}
    assert contexts[EVENTS.format("invocation")]["edition"] == "cloud"


def test_the_flush_deadline_can_be_shortened_by_the_environment(tracking_world, monkeypatch):
    world = tracking_world
    world.acknowledge()
    monkeypatch.setenv("TESTAPP_TELEMETRY_FLUSH_DEADLINE", "0.2")
    with FaultServer("blackhole") as server:
        tracker = Tracker(world.profile(endpoint=server.url))
        with tracker.invocation("run"):
            pass
        started = time.monotonic()
        finished = tracker.close()
        waited = time.monotonic() - started
    print(f"\nclose() with a 0.2 s deadline against a black hole: {waited:.3f} s")
    assert finished is False
    assert waited < 5


def test_the_tracker_is_a_context_manager(tracking_world, collector, monkeypatch):
    world = tracking_world
    world.acknowledge()
    monkeypatch.setenv("TESTAPP_TELEMETRY_FLUSH_DEADLINE", "10")
    with Tracker(world.profile()) as tracker:
        with tracker.invocation("run"):
            pass
    assert collector.wait_for(good=2, timeout=5)
    assert tracker.stats.sent == 2


def test_recording_costs_microseconds_on_the_host_thread(tracking_world, collector, monkeypatch):
    """The figure for the report; the bound is generous (shared, noisy machines)."""
    world = tracking_world
    world.acknowledge()
    monkeypatch.setenv("TESTAPP_TELEMETRY_QUEUE_SIZE", "100000")
    tracker = Tracker(world.profile())
    sql = "select * from orders where status = 'shipped' -- " + "x" * 500
    timings = []
    with tracker.invocation("run") as inv:
        for index in range(200):  # warm-up: secret, validators, the sender thread
            inv.model_run(contents=sql, status="success", execution_time_s=0.1,
                          materialization="table")
        for index in range(2000):
            started = time.perf_counter_ns()
            inv.model_run(contents=sql, status="success", execution_time_s=0.1,
                          materialization="table")
            timings.append(time.perf_counter_ns() - started)
    tracker.close(timeout=5)

    timings.sort()
    median = statistics.median(timings) / 1000
    p99 = timings[int(len(timings) * 0.99)] / 1000
    print(f"\nInvocation.model_run on the host thread: median {median:.1f} us, p99 {p99:.1f} us "
          f"(2000 events, 550-byte contents, sender thread running)")
    assert median < 2000


def _new_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before]


def test_in_send_mode_the_sender_starts_with_the_tracker_and_writes_nothing_before_an_event(
        tracking_world, collector):
    # Its imports and its connection overlap the host's set-up instead of delaying the first
    # batch; the anonymous id, the secret and the log still wait for an event to be sent.
    world = tracking_world
    world.acknowledge()
    before = set(threading.enumerate())
    tracker = Tracker(world.profile())
    started = _new_threads(before)
    assert tracker.mode == "send"
    assert [t.name for t in started] == ["telemetry-sender"] and started[0].daemon
    time.sleep(0.3)  # imports, connection, warm-up
    names = {path.rsplit("/", 1)[-1] for path in world.files()}
    assert names == {"notice_acknowledged"}
    assert tracker.close(timeout=5)
    started[0].join(5)
    assert not started[0].is_alive()
    assert collector.totals()["total"] == 0 and tracker.stats.requests == 0


@pytest.mark.parametrize("variable", ["TESTAPP_TELEMETRY_ENDPOINT", "testapp_telemetry_endpoint"])
def test_an_endpoint_override_wins_over_the_profile_whatever_its_spelling(
        tracking_world, collector, monkeypatch, variable):
    world = tracking_world
    world.acknowledge()
    monkeypatch.setenv(variable, collector.url)
    with FaultServer("refused") as elsewhere:
        tracker = Tracker(world.profile(endpoint=elsewhere.url))
        with tracker.invocation("run"):
            pass
        assert tracker.close(timeout=5)
    assert tracker.endpoint == collector.url
    assert collector.wait_for(good=2, timeout=5)


def test_a_run_that_turns_out_not_to_send_leaves_no_sender_behind(tracking_world):
    # Sure to send as far as the environment and the notice tell, then the catalog fails: the
    # sender started ahead ends after its imports, without a connection.
    world = tracking_world
    world.acknowledge()
    with FaultServer("blackhole") as server:
        before = set(threading.enumerate())
        profile = world.profile(endpoint=server.url, event_catalog="no_such_module:CATALOG")
        tracker = Tracker(profile)
        assert tracker.mode == "off"
        for thread in _new_threads(before):
            thread.join(10)
        assert _new_threads(before) == []
        assert server.requests == 0
