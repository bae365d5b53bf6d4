"""Consent is checked when an event is recorded AND right before it is sent.

Events recorded, then ``telemetry disable`` (the user config it writes) before the batch goes:
they are dropped, never sent, and no anonymous id is ever created for them.
"""

from __future__ import annotations

import time

from consent.store import write_user_choice

from tracking import Tracker
from tracking.tracker import RECORD_CHECK_INTERVAL


def _record_run(tracker: Tracker, models: int = 5) -> None:
    with tracker.invocation("run") as inv:
        for index in range(models):
            inv.model_run(contents=f"select {index}", status="success", execution_time_s=0.1,
                          materialization="view")
            inv.count("model")


def test_events_queued_before_disable_are_never_sent(tracking_world, collector, monkeypatch):
    world = tracking_world
    world.acknowledge()
    # Hold partial batches long enough that the disable surely lands before the send.
    monkeypatch.setenv("TESTAPP_TELEMETRY_LINGER", "30")
    tracker = Tracker(world.profile())
    assert tracker.mode == "send"

    _record_run(tracker)
    assert tracker.stats.recorded == 7
    write_user_choice(world.profile(), False)  # `telemetry disable`, from another process
    finished = tracker.close(timeout=5)

    assert finished
    assert collector.totals()["total"] == 0
    assert tracker.stats.sent == 0
    assert tracker.stats.dropped_consent == 7
    assert tracker.stats.requests == 0
    assert not (world.state_dir() / "anonymous_id").exists()
    assert not (world.state_dir() / "events.log").exists()


def test_recording_after_disable_is_refused_at_record_time(tracking_world, collector, monkeypatch):
    world = tracking_world
    world.acknowledge()
    monkeypatch.setenv("TESTAPP_TELEMETRY_LINGER", "30")
    tracker = Tracker(world.profile())
    write_user_choice(world.profile(), False)
    time.sleep(RECORD_CHECK_INTERVAL + 0.05)

    _record_run(tracker, models=3)
    tracker.close(timeout=5)

    assert tracker.stats.recorded == 0
    assert tracker.stats.dropped_consent >= 1
    assert tracker.mode == "off"  # withdrawn: the rest of the run records nothing
    assert collector.totals()["total"] == 0


def test_an_unrelated_change_does_not_stop_sending(tracking_world, collector, monkeypatch):
    """A watched file that changes without changing the answer only costs a re-decision."""
    world = tracking_world
    world.acknowledge()
    monkeypatch.setenv("TESTAPP_TELEMETRY_LINGER", "30")
    tracker = Tracker(world.profile())

    _record_run(tracker, models=2)
    write_user_choice(world.profile(), True)  # `telemetry enable`: still on
    assert tracker.close(timeout=5)

    assert collector.wait_for(good=4, timeout=5)
    assert tracker.stats.sent == 4 and tracker.stats.dropped_consent == 0


def test_no_secret_file_is_created_after_consent_was_withdrawn(tracking_world, collector):
    from consent.store import write_user_choice

    from tracking import Tracker

    world = tracking_world
    world.acknowledge()
    profile = world.profile()
    tracker = Tracker(profile, env=world.env)
    assert tracker.mode == "send"
    write_user_choice(profile, False)  # `telemetry disable` from another shell
    with tracker.invocation("run") as inv:
        inv.model_run(contents="select 1", status="success", execution_time_s=0.1,
                      materialization="table")
    tracker.close(timeout=5)
    assert not (world.state_dir() / "secret").exists()
    assert collector.totals()["total"] == 0
