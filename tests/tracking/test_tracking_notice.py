"""The first run that would track tells the user and sends nothing; the next run sends.

Shown again, with the same rule, when the profile's consent version is bumped.
"""

from __future__ import annotations

from tests.support.tracking import DELIVER_S
from tracking.state import acknowledged_version


def test_first_run_tells_and_sends_nothing_second_run_sends(tracking_world, collector):
    world = tracking_world

    first = world.run_host(env={"HOST_MODELS": "3"})

    assert first.returncode == 0
    assert "anonymous usage statistics" in first.stderr
    assert "telemetry disable" in first.stderr and "DO_NOT_TRACK=1" in first.stderr
    assert "Nothing was sent this time" in first.stderr
    assert "Traceback" not in first.stderr
    assert first.report["plan"] == "notice"
    assert first.report["snowplow_imported"] is False
    assert collector.totals()["total"] == 0
    # Told is on record; nothing else exists yet (no id, no secret).
    assert sorted(p.name for p in world.state_dir().iterdir()) == ["notice_acknowledged"]
    assert acknowledged_version(world.tracked_profile()) == 1

    second = world.run_host(env={"HOST_MODELS": "3"})

    assert second.returncode == 0
    assert second.stderr == ""
    assert second.report["plan"] == "record"
    assert collector.wait_for(good=5, timeout=DELIVER_S)
    assert tracking_world.wait_delivered()
    assert collector.totals() == {"total": 5, "good": 5, "bad": 0, "duplicates": 0, "evicted": 0}


def test_a_new_consent_version_tells_again_before_sending(tracking_world, collector):
    world = tracking_world
    world.acknowledge()

    bumped = world.run_host(env={"HOST_MODELS": "1", "HOST_CONSENT_VERSION": "2"})

    assert "has changed" in bumped.stderr and "telemetry disable" in bumped.stderr
    assert bumped.report["plan"] == "notice"
    assert collector.totals()["total"] == 0
    assert acknowledged_version(world.tracked_profile(consent_version=2)) == 2

    after = world.run_host(env={"HOST_MODELS": "1", "HOST_CONSENT_VERSION": "2"})

    assert after.stderr == ""
    assert collector.wait_for(good=3, timeout=DELIVER_S)


def test_a_second_tracker_in_the_notice_process_sends_nothing_either(tracking_world, collector):
    """The whole process that showed the notice is the notice run (docs/guarantees.md §4)."""
    import contextlib
    import io

    from tracking import Tracker

    world = tracking_world
    profile = world.tracked_profile()
    with contextlib.redirect_stderr(io.StringIO()) as err:
        first = Tracker(profile, env=world.env)
        second = Tracker(profile, env=world.env)
    assert "anonymous usage statistics" in err.getvalue()
    assert first.plan.kind == "notice" and second.plan.kind == "notice"
    assert not first.enabled and not second.enabled
