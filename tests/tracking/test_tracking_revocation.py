"""Consent is checked when an event is recorded AND before each batch is sent.

Events recorded, then ``telemetry disable`` before the uploader sends them: they are dropped
(the disable empties the spool, and an uploader that already holds them checks consent and
that they still exist before every batch), never sent, and no anonymous id is created for them.
"""

from __future__ import annotations

import time

import pytest

from consent.layers.project_file import write_project_choice
from consent.layers.user_config import write_user_choice
from tests.support.tracking import DELIVER_S
from tracking import Tracker
from tracking.spool import Spool
from tracking.tracker import RECORD_CHECK_INTERVAL
from tracking.uploader import deliver


def _record_run(tracker: Tracker, models: int = 5) -> None:
    with tracker.invocation("run") as inv:
        for index in range(models):
            inv.model_run(
                contents=f"select {index}",
                status="success",
                execution_time_s=0.1,
                materialization="view",
            )
            inv.count("model")


def _spooled(world, models: int = 5) -> Spool:
    """A run recorded and sealed in the spool, no uploader started (its segment waits)."""
    tracker = Tracker(world.tracked_profile())
    assert tracker.plan.kind == "record"
    _record_run(tracker, models)
    tracker._sink._seal()  # what close() does, without starting an uploader
    tracker._sink = None
    spool = world.spool()
    assert spool.waiting().events == models + 2
    return spool


@pytest.mark.delivery
@pytest.mark.parametrize("scope", ["user config", "project file"])
def test_a_revocation_between_record_and_upload_drops_the_events(tracking_world, collector, scope):
    # The spool is not emptied here (as `telemetry disable` would): the uploader's own check
    # is what is tested, reading the files that decide again.
    world = tracking_world
    world.acknowledge()
    (world.project / "testapp_project.yml").write_text("name: shop\n")
    spool = _spooled(world)
    if scope == "user config":
        write_user_choice(world.tracked_profile(), False)
    else:
        write_project_choice(world.tracked_profile(), False, cwd=str(world.project))

    from tracking.settings import TrackerSettings

    report = deliver(spool, TrackerSettings(), timeout=DELIVER_S)

    assert report.sent == 0 and report.revoked == 7 and report.batches == 0
    assert collector.totals()["total"] == 0
    assert spool.waiting().events == 0 and spool.waiting().dropped == {"revoked": 7}
    assert not (world.state_dir() / "anonymous_id").exists()
    assert not (world.state_dir() / "events.log").exists()


def test_the_run_s_own_opt_in_still_counts_at_upload(tracking_world, collector):
    """Only lasting revocations count: the host's flag said yes for that run, over a user
    config that already said no; the uploader, which cannot see the flag, keeps that answer."""
    world = tracking_world
    world.acknowledge()
    write_user_choice(world.tracked_profile(), False)
    tracker = Tracker(world.tracked_profile(), host_flag=True)
    assert tracker.plan.kind == "record"
    _record_run(tracker, 1)
    assert tracker.flush(DELIVER_S)
    assert collector.totals()["good"] == 3
    tracker.close()


def test_recording_after_disable_is_refused_at_record_time(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    tracker = Tracker(world.tracked_profile())
    write_user_choice(world.tracked_profile(), False)
    time.sleep(RECORD_CHECK_INTERVAL + 0.05)

    _record_run(tracker, models=3)
    tracker.close()

    assert tracker.stats.recorded == 0
    assert tracker.stats.dropped_consent >= 1
    assert not tracker.enabled  # withdrawn: the rest of the run records nothing
    assert world.spool().waiting().events == 0
    assert collector.totals()["total"] == 0


def test_a_disable_during_the_run_drops_what_the_run_recorded(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    tracker = Tracker(world.tracked_profile())
    _record_run(tracker, models=3)
    assert world.spool().waiting().events == 5
    write_user_choice(world.tracked_profile(), False)
    time.sleep(RECORD_CHECK_INTERVAL + 0.05)
    tracker.track("invocation_start", {"command": "run"})  # noticed here
    tracker.close()
    assert world.spool().waiting().events == 0
    assert collector.totals()["total"] == 0


def test_an_unrelated_change_does_not_stop_sending(tracking_world, collector):
    """A watched file that changes without changing the answer only costs a re-decision."""
    world = tracking_world
    world.acknowledge()
    spool = _spooled(world, models=2)
    write_user_choice(world.tracked_profile(), True)  # `telemetry enable`: still on

    from tracking.settings import TrackerSettings

    report = deliver(spool, TrackerSettings(), timeout=DELIVER_S)
    assert report.sent == 4 and report.revoked == 0
    assert collector.totals()["good"] == 4


def test_no_secret_file_is_created_after_consent_was_withdrawn(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    profile = world.tracked_profile()
    tracker = Tracker(profile, env=world.env)
    assert tracker.plan.kind == "record"
    write_user_choice(profile, False)  # `telemetry disable` from another shell
    with tracker.invocation("run") as inv:
        inv.model_run(
            contents="select 1", status="success", execution_time_s=0.1, materialization="table"
        )
    tracker.close()
    assert not (world.state_dir() / "secret").exists()
    assert collector.totals()["total"] == 0


@pytest.mark.delivery
@pytest.mark.parametrize("ci", [False, True], ids=["detached", "in-process"])
def test_a_disable_before_flush_stops_the_flush(tracking_world, collector, monkeypatch, ci):
    """``flush`` delivers this run's segments in this process, checked with the host's own
    consent check (not the uploader's re-reading): a disable since they were recorded drops
    them there, and flush says they did not all go."""
    world = tracking_world
    world.acknowledge()
    if ci:
        monkeypatch.setenv("CI", "true")
    else:
        monkeypatch.delenv("CI", raising=False)
    profile, project = world.tracked_profile(), str(world.project)
    (world.project / "testapp_project.yml").write_text("name: shop\n")
    write_project_choice(profile, True, cwd=project)  # on in CI too (its default is off there)
    tracker = Tracker(profile, cwd=project)
    assert tracker.plan.kind == "record", tracker.decision
    assert tracker.plan.delivery == ("inline" if ci else "detached")
    _record_run(tracker, models=3)
    write_project_choice(profile, False, cwd=project)  # `telemetry disable --project`

    assert tracker.flush(DELIVER_S) is False
    assert collector.totals()["total"] == 0
    waiting = world.spool().waiting()
    assert waiting.events == 0 and waiting.dropped == {"revoked": 5}
    assert tracker.flush(DELIVER_S) is False  # and it keeps saying so
    tracker.close()
    assert collector.totals()["total"] == 0
