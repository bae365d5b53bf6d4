"""Nothing is sent before the user was told or said yes (docs/delivery.md).

Told: the first run that would track prints a notice and sends nothing; it counts only when
stderr is a terminal (printed into a pipe or a log it is shown again, and still nothing is
sent). Said yes: the user's own layers (the environment variable, the user config) saying on
send from the first run. A project file saying on is not the user's yes. The notice is shown
again, with the same rule, when the profile's consent version is bumped.
"""

from __future__ import annotations

import pytest

from consent.layers.user_config import write_user_choice
from tests.support.tracking import DELIVER_S
from tracking.state import acknowledged_version


def test_first_run_on_a_terminal_tells_and_sends_nothing_second_run_sends(
    tracking_world, collector
):
    world = tracking_world

    first = world.run_host(env={"HOST_MODELS": "3"}, terminal=True)

    assert first.returncode == 0
    assert "anonymous usage statistics" in first.stderr
    assert "telemetry disable" in first.stderr and "DO_NOT_TRACK=1" in first.stderr
    assert "Nothing was sent this time; from the next run on, events are sent." in first.stderr
    assert "Traceback" not in first.stderr
    assert first.report["plan"] == "notice"
    assert first.report["snowplow_imported"] is False
    assert collector.totals()["total"] == 0
    # Told is on record; nothing else exists yet (no id, no secret).
    assert sorted(p.name for p in world.state_dir().iterdir()) == ["notice_acknowledged"]
    assert acknowledged_version(world.tracked_profile()) == world.tracked_profile().consent_version

    second = world.run_host(env={"HOST_MODELS": "3"})

    assert second.returncode == 0
    assert second.stderr == ""
    assert second.report["plan"] == "record"
    assert collector.wait_for(good=5, timeout=DELIVER_S)
    assert tracking_world.wait_delivered()
    assert collector.totals() == {"total": 5, "good": 5, "bad": 0, "duplicates": 0, "evicted": 0}


def test_a_notice_printed_into_a_pipe_does_not_count_and_is_shown_again(tracking_world, collector):
    world = tracking_world

    for _ in range(2):
        run = world.run_host(env={"HOST_MODELS": "3"})  # stderr is a pipe, as in a log

        assert run.returncode == 0
        assert run.report["plan"] == "notice"
        assert "anonymous usage statistics" in run.stderr
        assert "this notice was not shown on a terminal, so it is shown again" in run.stderr
        assert "from the next run on" not in run.stderr  # it would not be true
        assert run.report["stats"]["recorded"] == 0
        # Nothing on record (not even the notice's mark), nothing sent.
        assert not world.state_dir().exists()
        assert collector.totals()["total"] == 0


def test_a_new_consent_version_tells_again_before_sending(tracking_world, collector):
    world = tracking_world
    world.acknowledge(consent_version=1)

    bumped = world.run_host(env={"HOST_MODELS": "1", "HOST_CONSENT_VERSION": "2"}, terminal=True)

    assert "has changed" in bumped.stderr and "telemetry disable" in bumped.stderr
    assert bumped.report["plan"] == "notice"
    assert collector.totals()["total"] == 0
    assert acknowledged_version(world.tracked_profile(consent_version=2)) == 2

    after = world.run_host(env={"HOST_MODELS": "1", "HOST_CONSENT_VERSION": "2"})

    assert after.stderr == ""
    assert collector.wait_for(good=3, timeout=DELIVER_S)


@pytest.mark.parametrize("how", ["environment variable", "user config"])
def test_an_explicit_opt_in_sends_from_the_first_run_without_a_notice(
    tracking_world, collector, how
):
    world = tracking_world
    env = {"HOST_MODELS": "1"}
    if how == "environment variable":
        env["TESTAPP_SEND_ANONYMOUS_USAGE_STATS"] = "true"
    else:  # `telemetry enable`
        write_user_choice(world.tracked_profile(), True)

    run = world.run_host(env=env)  # never told, on a pipe

    assert run.returncode == 0
    assert run.stderr == ""  # the user said yes: nothing to tell
    assert run.report["plan"] == "record"
    assert collector.wait_for(good=3, timeout=DELIVER_S)
    assert world.wait_delivered()
    assert acknowledged_version(world.tracked_profile()) is None  # said yes is not "told"


def test_a_project_file_saying_on_does_not_start_sending_before_the_user_was_told(
    tracking_world, collector
):
    world = tracking_world
    world.write_project("flags:\n  send_anonymous_usage_stats: true\n")

    untold = world.run_host(env={"HOST_MODELS": "1"})

    assert untold.report["plan"] == "notice"  # someone else wrote that file: not a yes
    assert "anonymous usage statistics" in untold.stderr
    assert untold.report["stats"]["recorded"] == 0
    assert collector.totals()["total"] == 0

    told = world.run_host(env={"HOST_MODELS": "1"}, terminal=True)
    assert told.report["plan"] == "notice"
    sends = world.run_host(env={"HOST_MODELS": "1"})
    assert sends.report["plan"] == "record"
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
