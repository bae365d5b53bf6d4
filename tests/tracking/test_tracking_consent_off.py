"""Consent off means nothing at all: no import, no thread, no socket, no process, no file, no id.

The host runs as a real process with an audit hook that kills it (exit 97, a line on stderr) at
the first socket it would create or the first process it would start; the world's HOME and XDG
dirs must stay exactly as they were.
"""

from __future__ import annotations

import pytest

from consent.layers.user_config import write_user_choice
from tests.support.tracking import HOST_BOUND_S


def _assert_nothing_happened(run, world, before):
    assert run.returncode == 0, run.stderr
    assert "NETWORK USED" not in run.stderr and "PROCESS STARTED" not in run.stderr
    assert run.stderr == ""
    assert run.elapsed_s < HOST_BOUND_S
    report = run.report
    assert report["plan"] == "off"
    assert report["heavy_imported"] == []
    assert report["snowplow_imported"] is False
    assert report["requests_imported"] is False
    assert report["pydantic_settings_imported"] is False
    assert report["threads_at_main_end"] == 1
    assert report["stats"]["recorded"] == 0
    assert world.files() == before
    assert not world.state_dir().exists()


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_do_not_track_leaves_no_trace(tracking_world, collector, value):
    world = tracking_world
    before = world.files()

    run = world.run_host(env={"DO_NOT_TRACK": value, "HOST_FORBID_NETWORK": "1"})

    _assert_nothing_happened(run, world, before)
    assert collector.totals()["total"] == 0


def test_a_user_who_opted_out_is_never_told_nor_tracked(tracking_world, collector):
    world = tracking_world
    write_user_choice(world.tracked_profile(), False)  # what `telemetry disable` writes
    before = world.files()

    run = world.run_host(env={"HOST_FORBID_NETWORK": "1"})

    _assert_nothing_happened(run, world, before)
    assert collector.totals()["total"] == 0


def test_the_guard_does_catch_a_tracking_host(tracking_world):
    """The guard above is real: a host that records is stopped by it when it starts its
    uploader at exit, and has written its spool by then."""
    world = tracking_world
    world.acknowledge()

    run = world.run_host(env={"HOST_FORBID_NETWORK": "1"})

    assert run.returncode == 97 and "PROCESS STARTED: subprocess.Popen" in run.stderr
    assert "tracking.uploader" in run.stderr
    assert world.spool().waiting().events == 52
