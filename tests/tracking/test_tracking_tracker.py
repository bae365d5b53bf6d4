"""The host API, in process: what a tool author calls, and what it must never do to the tool."""

from __future__ import annotations

import statistics
import threading
import time

import pytest

from tests.support.faults import FaultServer
from tests.support.tracking import DELIVER_S
from tracking import Tracker
from tracking.ids import keyed_hash
from tracking.state import ensure_secret

EVENTS = "iglu:dev.telemetry-consent/{}/jsonschema/1-0-0"
INVOCATION = "iglu:dev.telemetry-consent/invocation/jsonschema/1-0-1"


def _data(event):
    return event["event"]["unstruct_event"]["data"]["data"]


def test_consent_off_makes_every_call_a_no_op(tracking_world, collector):
    world = tracking_world
    threads = threading.active_count()
    tracker = Tracker(world.tracked_profile(), host_flag=False)  # the host's --no-send flag

    with tracker.invocation("run") as inv:
        inv.model_run(
            contents="select 1", status="success", execution_time_s=1, materialization="table"
        )
        inv.count("model")
    assert tracker.flush(1) is True  # nothing was recorded, so nothing waits
    assert tracker.close() is True

    assert tracker.plan.kind == "off" and not tracker.enabled
    assert tracker.decision.decided_by == "host_flag"
    assert tracker.stats.recorded == 0
    assert threading.active_count() == threads
    assert world.files() == []
    assert collector.totals()["total"] == 0


def test_the_invocation_records_start_and_end_and_lets_the_host_exception_through(
    tracking_world, collector
):
    world = tracking_world
    world.acknowledge()
    tracker = Tracker(world.tracked_profile())

    with pytest.raises(KeyError), tracker.invocation("build") as inv:
        inv.count("model", 2)
        inv.count("test")
        raise KeyError("the host's own bug")
    with tracker.invocation("run") as inv:
        inv.success = False  # failed without raising (some models errored)
    with pytest.raises(SystemExit), tracker.invocation("docs generate"):
        raise SystemExit(0)
    assert tracker.flush(DELIVER_S) is True

    assert collector.totals() == {"total": 6, "good": 6, "bad": 0, "duplicates": 0, "evicted": 0}
    ends = [_data(e) for e in collector.good(schema=EVENTS.format("invocation_end"))[::-1]]
    assert [(e["command"], e["success"]) for e in ends] == [
        ("build", False),
        ("run", False),
        ("docs generate", True),
    ]
    assert ends[0]["node_counts"] == {"model": 2, "test": 1}
    assert all(e["duration_s"] >= 0 for e in ends)
    # Each invocation has its own id.
    ids = {
        c["data"]["invocation_id"]
        for e in collector.good()
        for c in e["event"]["contexts"]["data"]
        if c["schema"] == INVOCATION
    }
    assert len(ids) == 3
    tracker.close()


def test_bad_input_from_the_host_is_counted_and_never_raised(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    tracker = Tracker(world.tracked_profile())

    with tracker.invocation("run --select secret_model") as bad_command:  # arguments: refused
        pass
    with tracker.invocation("run") as inv:
        inv.model_run(
            contents="select 1", status="exploded", execution_time_s=1, materialization="table"
        )
        inv.model_run(
            contents="select 1", status="success", execution_time_s=-5, materialization="table"
        )
        inv.model_run(
            contents="select 1",
            status="success",
            execution_time_s=1,
            materialization="My Custom Materialization",
        )
        inv.model_run(
            contents=None,
            status="success",
            execution_time_s=1,  # type: ignore[arg-type]
            materialization="table",
        )
        inv.count("Model Name With Spaces")
        inv.count("model", "many")  # type: ignore[arg-type]
        inv.track(None)  # type: ignore[arg-type]
        inv.track(object())
        inv.track("no_such_event", {"x": 1})
        inv.track("platform", {"os": "Linux"})  # a context is not an event
        inv.track("model_run", "not a mapping")  # type: ignore[arg-type]
        inv.model_run(
            contents="select 2", status="success", execution_time_s=1, materialization="table"
        )
        inv.count("model")
    assert tracker.flush(DELIVER_S)

    assert bad_command.invocation_id is not None
    assert collector.totals() == {
        "total": 3,
        "good": 3,
        "bad": 0,
        "duplicates": 0,
        "evicted": 0,
    }  # run start, 1 model, run end
    assert _data(collector.good()[0])["node_counts"] == {"model": 1}
    assert tracker.stats.invalid >= 12
    tracker.close()


def test_events_are_plain_data_and_typed_models_are_accepted_too(tracking_world, collector):
    from tracking.events import InvocationStart

    world = tracking_world
    world.acknowledge()
    tracker = Tracker(world.tracked_profile())
    tracker.track("invocation_start", {"command": "seed"})
    tracker.track(EVENTS.format("invocation_start"), {"command": "test"})
    tracker.track(InvocationStart(command="compile"))
    assert tracker.flush(DELIVER_S)
    assert [_data(e)["command"] for e in collector.good()[::-1]] == ["seed", "test", "compile"]
    tracker.close()


def test_model_keys_are_keyed_hashes_of_the_contents(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    tracker = Tracker(world.tracked_profile())
    with tracker.invocation("run") as inv:
        for sql in ("select 1", "select 2", "select 1"):
            inv.model_run(
                contents=sql, status="success", execution_time_s=0.5, materialization="view"
            )
    assert tracker.flush(DELIVER_S)

    keys = [_data(e)["model_key"] for e in collector.good(schema=EVENTS.format("model_run"))[::-1]]
    secret = ensure_secret(world.tracked_profile())
    expected = [keyed_hash(secret, "model", sql) for sql in ("select 1", "select 2", "select 1")]
    assert keys == expected
    tracker.close()


def test_debug_prints_each_event_and_records_and_writes_nothing(
    tracking_world, collector, monkeypatch, capfd
):
    world = tracking_world
    monkeypatch.setenv("TESTAPP_TELEMETRY_DEBUG", "1")
    threads = threading.active_count()
    tracker = Tracker(world.tracked_profile())
    with tracker.invocation("run") as inv:
        inv.model_run(
            contents="select SECRET_SQL",
            status="success",
            execution_time_s=0.1,
            materialization="table",
        )
    tracker.close()

    err = capfd.readouterr().err
    assert tracker.plan.kind == "debug"
    assert "printed, not sent" in err
    for name in ("invocation_start", "model_run", "invocation_end"):
        assert EVENTS.format(name) in err
    assert '"anonymous_user_id"' in err and "SECRET_SQL" not in err
    assert collector.totals()["total"] == 0
    assert world.files() == []  # no notice mark, no id, no secret, no spool
    assert threading.active_count() == threads


def test_an_endpoint_that_may_not_receive_is_one_line_and_nothing_else(
    tracking_world, collector, monkeypatch, capfd
):
    world = tracking_world
    monkeypatch.setenv("TESTAPP_TELEMETRY_ENDPOINT", "http://collector.example.com")
    tracker = Tracker(world.tracked_profile())
    with tracker.invocation("run"):
        pass

    err = capfd.readouterr().err
    assert tracker.plan.kind == "off" and not tracker.enabled
    assert err.count("\n") == 1 and "TESTAPP_TELEMETRY_ENDPOINT" in err and "https://" in err
    assert world.files() == []  # not even the notice: this run would not send


def test_the_endpoint_variable_points_the_tracker_elsewhere(tracking_world, collector, monkeypatch):
    world = tracking_world
    world.acknowledge()
    monkeypatch.setenv("TESTAPP_TELEMETRY_ENDPOINT", collector.url)
    tracker = Tracker(world.tracked_profile(endpoint="https://collector.example.invalid"))
    with tracker.invocation("run"):
        pass
    assert tracker.flush(DELIVER_S)
    assert collector.totals()["good"] == 2
    tracker.close()


def test_a_profile_without_a_collector_is_silently_off(tracking_world, capfd):
    world = tracking_world
    tracker = Tracker(world.tracked_profile(endpoint=None))
    assert tracker.plan.kind == "off" and tracker.decision.enabled
    assert capfd.readouterr().err == ""
    assert world.files() == []


def test_a_broken_catalog_is_one_line_and_nothing_recorded(tracking_world, collector, capfd):
    world = tracking_world
    world.acknowledge()
    before = threading.active_count()
    tracker = Tracker(world.tracked_profile(event_catalog="no_such_module:CATALOG"))
    with tracker.invocation("run"):
        pass
    err = capfd.readouterr().err
    assert tracker.plan.kind == "off"
    assert err.count("\n") == 1 and "no_such_module" in err
    assert threading.active_count() == before
    assert not world.spool().segments()
    assert collector.totals()["total"] == 0


def test_the_cloud_edition_sends_despite_an_opt_out_and_says_so_in_the_context(
    tracking_world, collector
):
    world = tracking_world
    world.acknowledge()
    tracker = Tracker(
        world.tracked_profile(), edition="cloud", env={**world.env, "DO_NOT_TRACK": "1"}
    )
    assert tracker.decision.mandatory
    with tracker.invocation("run"):
        pass
    assert tracker.flush(DELIVER_S)
    assert collector.totals()["good"] == 2
    contexts = {c["schema"]: c["data"] for c in collector.good()[0]["event"]["contexts"]["data"]}
    assert contexts[INVOCATION]["edition"] == "cloud"
    tracker.close()


@pytest.mark.delivery
def test_flush_gives_up_at_its_timeout_and_the_events_keep_waiting(tracking_world, monkeypatch):
    world = tracking_world
    world.acknowledge()
    monkeypatch.setenv("TESTAPP_TELEMETRY_REQUEST_TIMEOUT", "30")
    with FaultServer("blackhole") as server:
        tracker = Tracker(world.tracked_profile(endpoint=server.url))
        with tracker.invocation("run"):
            pass
        started = time.monotonic()
        delivered = tracker.flush(0.5)
        waited = time.monotonic() - started
        tracker.close()
    print(f"\nflush(0.5) against a black hole: {waited:.3f} s")
    assert delivered is False
    assert waited < 5  # generous: the design bound is the timeout itself
    assert world.spool().waiting().events == 2  # nothing lost: it waits for a later upload


def test_the_tracker_is_a_context_manager_that_hands_its_events_over(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    with Tracker(world.tracked_profile()) as tracker, tracker.invocation("run"):
        pass
    assert collector.wait_for(good=2, timeout=DELIVER_S)
    assert world.wait_delivered()
    assert tracker.stats.recorded == 2 and tracker.stats.uploads_started == 1


def test_recording_costs_microseconds_on_the_host_thread(tracking_world, collector):
    """The figure for the report; the bound is generous (shared, noisy machines)."""
    world = tracking_world
    world.acknowledge()
    tracker = Tracker(world.tracked_profile())
    sql = "select * from orders where status = 'shipped' -- " + "x" * 500
    timings = []
    with tracker.invocation("run") as inv:
        for _ in range(200):  # warm-up: the secret, the segment
            inv.model_run(
                contents=sql, status="success", execution_time_s=0.1, materialization="table"
            )
        for _ in range(2000):
            started = time.perf_counter_ns()
            inv.model_run(
                contents=sql, status="success", execution_time_s=0.1, materialization="table"
            )
            timings.append(time.perf_counter_ns() - started)
    tracker.close()
    world.wait_delivered()

    timings.sort()
    median = statistics.median(timings) / 1000
    p99 = timings[int(len(timings) * 0.99)] / 1000
    print(
        f"\nInvocation.model_run on the host thread: median {median:.1f} us, p99 {p99:.1f} us "
        f"(2000 events, 550-byte contents, each one spooled)"
    )
    assert median < 2000


def _new_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before and t.is_alive()]


def test_recording_starts_no_thread_and_writes_nothing_before_the_first_event(
    tracking_world, collector
):
    world = tracking_world
    world.acknowledge()
    before = set(threading.enumerate())
    tracker = Tracker(world.tracked_profile())
    assert tracker.plan.kind == "record" and tracker.plan.delivery == "detached"
    assert _new_threads(before) == []
    names = {path.rsplit("/", 1)[-1] for path in world.files()}
    assert names == {"notice_acknowledged"}
    tracker.track("invocation_start", {"command": "run"})
    assert _new_threads(before) == []
    assert len(world.spool().segments()) == 1  # this run's segment, open
    assert not (world.state_dir() / "anonymous_id").exists()  # made when an event is sent
    tracker.close()
    assert world.wait_delivered()
    assert (world.state_dir() / "anonymous_id").exists()


@pytest.mark.parametrize("variable", ["TESTAPP_TELEMETRY_ENDPOINT", "testapp_telemetry_endpoint"])
def test_an_endpoint_override_wins_over_the_profile_whatever_its_spelling(
    tracking_world, collector, monkeypatch, variable
):
    world = tracking_world
    world.acknowledge()
    monkeypatch.setenv(variable, collector.url)
    with FaultServer("refused") as elsewhere:
        tracker = Tracker(world.tracked_profile(endpoint=elsewhere.url))
        with tracker.invocation("run"):
            pass
        assert tracker.flush(DELIVER_S)
        tracker.close()
    assert tracker.endpoint == collector.url
    assert collector.totals()["good"] == 2


def test_recording_goes_on_after_a_flush(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    tracker = Tracker(world.tracked_profile())
    tracker.track("invocation_start", {"command": "run"})
    assert tracker.flush(DELIVER_S)
    tracker.track("invocation_start", {"command": "test"})
    assert tracker.flush(DELIVER_S)
    assert [_data(e)["command"] for e in collector.good()[::-1]] == ["run", "test"]
    assert tracker.stats.segments == 2
    tracker.close()
