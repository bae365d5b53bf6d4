"""Consent off means nothing at all: no import, no thread, no socket, no file, no id.

The host runs as a real process with an audit hook that kills it (exit 97, a line on stderr) at
the first socket it would create; the world's HOME and XDG dirs must stay exactly as they were.
"""

from __future__ import annotations

import pytest

from consent.store import write_user_choice

from tracking_world import HOST_BOUND_S


def _assert_nothing_happened(run, world, before):
    assert run.returncode == 0, run.stderr
    assert "NETWORK USED" not in run.stderr
    assert run.stderr == ""
    assert run.elapsed_s < HOST_BOUND_S
    report = run.report
    assert report["mode"] == "off"
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
    write_user_choice(world.profile(), False)  # what `telemetry disable` writes
    before = world.files()

    run = world.run_host(env={"HOST_FORBID_NETWORK": "1"})

    _assert_nothing_happened(run, world, before)
    assert collector.totals()["total"] == 0


def test_the_network_guard_does_catch_a_socket(tracking_world):
    """The guard above is real: a host that does send is stopped by it."""
    world = tracking_world
    world.acknowledge()

    run = world.run_host(env={"HOST_FORBID_NETWORK": "1"})

    assert "NETWORK USED" in run.stderr
