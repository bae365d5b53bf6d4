"""A host told which project to use (its own ``--project-dir``) is tracked for that project.

dbt-like tools take ``--project-dir``: the project they run is not the one found upward from
the working directory. ``Tracker(project_dir=...)`` names it as ``consent.decide`` does (that
directory's file exactly, no upward search), and everything that reads the project follows it:
the decision at start, the project id sent, the check while the run records, and the
uploader's check before it sends (the segment header's ``project_dir``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from consent.layers.project_file import write_project_choice
from tests.support.tracking import DELIVER_S, write_segment
from tracking import Tracker
from tracking.settings import TrackerSettings
from tracking.tracker import RECORD_CHECK_INTERVAL
from tracking.uploader import deliver

#: The invocation context (1-0-1), which carries the project id.
INVOCATION = "iglu:dev.telemetry-consent/invocation/jsonschema/1-0-1"


def _project(directory: Path, says: str | None = None) -> Path:
    """A testapp project in ``directory`` whose file says ``says`` (None: nothing)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = "name: shop\n"
    if says is not None:
        text += f"flags:\n  send_anonymous_usage_stats: {says}\n"
    (directory / "testapp_project.yml").write_text(text)
    return directory


def _named(world, says: str | None = None) -> Path:
    """The project the host is told to use: elsewhere, not above the cwd."""
    return _project(world.root / "elsewhere" / "shop", says)


def _project_ids(collector) -> set[str | None]:
    return {
        context["data"]["project_id"]
        for event in collector.good()
        for context in event["event"]["contexts"]["data"]
        if context["schema"] == INVOCATION
    }


def _record_run(tracker: Tracker, models: int = 2) -> None:
    with tracker.invocation("run") as inv:
        for index in range(models):
            inv.model_run(
                contents=f"select {index}",
                status="success",
                execution_time_s=0.1,
                materialization="view",
            )
            inv.count("model")


@pytest.mark.parametrize(
    ("cwd_says", "named_says"), [("false", "true"), ("true", "false")], ids=["on", "off"]
)
def test_the_named_project_decides_not_the_cwd_s(tracking_world, collector, cwd_says, named_says):
    world = tracking_world
    world.acknowledge()
    _project(world.project, cwd_says)  # where the host runs
    named = _named(world, named_says)

    run = world.run_host(env={"HOST_MODELS": "2", "HOST_PROJECT_DIR": str(named)})

    assert run.returncode == 0, run.stderr
    if named_says == "true":
        assert run.report["plan"] == "record"
        assert collector.wait_for(total=4, timeout=DELIVER_S)
        assert world.wait_delivered()
        assert collector.totals()["good"] == 4
    else:
        assert run.report["plan"] == "off"
        assert run.report["stats"]["recorded"] == 0
        assert world.spool().waiting().events == 0
        assert collector.totals()["total"] == 0


def test_the_project_id_is_the_named_project_s_from_any_cwd(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    other = _project(world.project, "true")  # a different project, where the host may run
    named = _named(world, "true")
    runs = [
        (named, None),  # in the named project itself: its id, found upward
        (other, str(named)),  # in another project, told to use the named one
        (named.parent, "shop"),  # outside any project, named relative to the cwd
    ]
    total = 0
    for cwd, project_dir in runs:
        env = {"HOST_MODELS": "0"}
        if project_dir is not None:
            env["HOST_PROJECT_DIR"] = project_dir
        run = world.run_host(env=env, cwd=cwd)
        assert run.returncode == 0, run.stderr
        assert run.report["plan"] == "record"
        total += 2
        assert collector.wait_for(total=total, timeout=DELIVER_S)
        assert world.wait_delivered()
    ids = _project_ids(collector)
    assert len(ids) == 1 and None not in ids, ids

    # The other project, run as itself, has an id of its own: the ids above are the named one's.
    run = world.run_host(env={"HOST_MODELS": "0"}, cwd=other)
    assert run.returncode == 0, run.stderr
    assert collector.wait_for(total=total + 2, timeout=DELIVER_S)
    assert world.wait_delivered()
    assert len(_project_ids(collector)) == 2


def _spooled(world, project_dir: str, models: int = 2):
    """A run told to use ``project_dir``, recorded and sealed in the spool, no uploader started."""
    tracker = Tracker(world.tracked_profile(), project_dir=project_dir)
    assert tracker.plan.kind == "record"
    _record_run(tracker, models)
    tracker._sink._seal()  # what close() does, without starting an uploader
    tracker._sink = None
    spool = world.spool()
    assert spool.waiting().events == models + 2
    return spool


@pytest.mark.delivery
@pytest.mark.parametrize("turned_off", ["named project", "cwd's project"])
def test_the_uploader_re_decides_from_the_named_project(tracking_world, collector, turned_off):
    # The process runs in the world's cwd (inside world.project); the named project is elsewhere.
    world = tracking_world
    world.acknowledge()
    _project(world.project, "true")
    named = _named(world, "true")
    spool = _spooled(world, str(named))
    off_in = named if turned_off == "named project" else world.project
    write_project_choice(world.tracked_profile(), False, cwd=str(off_in))

    report = deliver(spool, TrackerSettings(), timeout=DELIVER_S)

    if turned_off == "named project":
        assert report.sent == 0 and report.revoked == 4
        assert collector.totals()["total"] == 0
        assert spool.waiting().dropped == {"revoked": 4}
    else:  # not the project this run used: nothing changes for its events
        assert report.sent == 4 and report.revoked == 0
        assert collector.totals()["good"] == 4
    assert spool.waiting().events == 0


def test_disabling_the_named_project_during_the_run_drops_what_it_recorded(
    tracking_world, collector
):
    world = tracking_world
    world.acknowledge()
    _project(world.project, "true")
    named = _named(world, "true")
    tracker = Tracker(world.tracked_profile(), project_dir=str(named))
    _record_run(tracker, models=3)
    assert world.spool().waiting().events == 5
    write_project_choice(world.tracked_profile(), False, cwd=str(named))
    time.sleep(RECORD_CHECK_INTERVAL + 0.05)  # past the throttle of the record-time check
    tracker.track("invocation_start", {"command": "run"})  # noticed here
    tracker.close()

    assert tracker.stats.dropped_consent >= 1
    assert world.spool().waiting().events == 0
    assert collector.totals()["total"] == 0


@pytest.mark.delivery
def test_headers_with_and_without_a_named_project_both_deliver(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    _project(world.project, "true")
    named = _named(world, "true")
    off = _project(world.root / "other", "false")
    # As a host of an older version wrote it: no project_dir key; its cwd's project says on.
    write_segment(world, 2, without=("project_dir",))
    # A run in a project that says off, told to use the named one, which says on.
    spool = write_segment(world, 3, cwd=str(off), project_dir=str(named))

    report = deliver(spool, TrackerSettings(), timeout=DELIVER_S)

    assert report.sent == 5 and report.revoked == 0
    assert collector.totals()["good"] == 5
    assert spool.waiting().events == 0
