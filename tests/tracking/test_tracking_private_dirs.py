"""The state and spool dirs are the user's alone: a looser one we own is made 0700 before
anything is written; one another user owns is never written (the run delivers from memory) and
``status`` says so once.

Someone who can write the spool can plant segments, links or a lock there; someone who owns it
can loosen it again whenever they like. Real host processes, the real collector, the CLI as a
subprocess; a second uid by ``chown`` (root only).
"""

from __future__ import annotations

import os
import stat
import sys

import pytest

from tests.support.testapp_cli import MODULE as TESTAPP_CLI

pytestmark = pytest.mark.delivery

#: ``nobody`` on Debian; any uid other than ours would do.
OTHER_UID = 65534


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _status(world) -> dict:
    """``status --json`` of the testapp profile, as its own process (no traceback, exit 0)."""
    done = world.run(
        "status", "--json", script=[sys.executable, "-m", TESTAPP_CLI, world.collector_url]
    )
    assert done.code == 0, done
    return done.json()


@pytest.mark.parametrize("loose", [0o777, 0o755, 0o770])
def test_a_looser_dir_of_ours_is_made_0700_before_anything_is_written(
    tracking_world, collector, loose
):
    world = tracking_world
    world.acknowledge()
    state, spool = world.state_dir(), world.state_dir() / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    for path in (state, spool):
        os.chmod(path, loose)
    run = world.run_host()
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert collector.wait_for(good=52, timeout=20)
    assert world.wait_delivered()
    assert (_mode(state), _mode(spool)) == (0o700, 0o700)
    assert run.report["stats"]["in_memory"] == 0  # spooled as usual, once repaired
    assert not [w for w in _status(world)["warnings"] if "other users" in w]


def test_status_names_a_loose_dir_until_a_run_repairs_it(tracking_world):
    world = tracking_world
    spool = world.state_dir() / "spool"
    spool.parent.mkdir(parents=True, mode=0o700)
    spool.mkdir(mode=0o700)
    os.chmod(spool, 0o777)
    doc = _status(world)
    warnings = [w for w in doc["warnings"] if str(spool) in w]
    assert len(warnings) == 1, (doc["warnings"], doc["collector"], str(spool))
    assert "is open to other users (mode 0777)" in warnings[0] and "Fix:" in warnings[0]
    assert _mode(spool) == 0o777  # status only reads


@pytest.fixture
def foreign_spool(tracking_world):
    """The spool dir exists and belongs to another user (and is theirs to open up)."""
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another uid needs root (chown)")
    spool = tracking_world.state_dir() / "spool"
    spool.parent.mkdir(parents=True, mode=0o700)
    spool.mkdir(mode=0o700)
    os.chmod(spool, 0o777)
    os.chown(spool, OTHER_UID, OTHER_UID)
    return spool


def test_a_spool_dir_of_another_user_is_never_written(tracking_world, collector, foreign_spool):
    world = tracking_world
    world.acknowledge()
    run = world.run_host()
    assert run.returncode == 0 and run.stderr == "", run.stderr
    stats = run.report["stats"]
    # Delivered by the run itself, from memory, as on a read-only state dir.
    assert stats["in_memory"] == 52 and stats["segments"] == 0
    assert collector.totals()["good"] == 52
    assert os.listdir(foreign_spool) == []  # no segment, no lock, no state.json
    assert os.lstat(foreign_spool).st_uid == OTHER_UID and _mode(foreign_spool) == 0o777


def test_status_warns_once_about_a_spool_dir_of_another_user(tracking_world, foreign_spool):
    doc = _status(tracking_world)
    warnings = [w for w in doc["warnings"] if str(foreign_spool) in w]
    assert len(warnings) == 1, doc["warnings"]
    assert f"belongs to another user (uid {OTHER_UID})" in warnings[0]
    assert "events are not kept there" in warnings[0] and "Fix:" in warnings[0]


def test_a_state_dir_of_another_user_is_refused_too(tracking_world, collector):
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another uid needs root (chown)")
    world = tracking_world
    world.acknowledge()
    state = world.state_dir()
    (state / "spool").mkdir(parents=True)
    os.chown(state, OTHER_UID, OTHER_UID)
    run = world.run_host()
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert run.report["stats"]["segments"] == 0
    assert os.listdir(state / "spool") == []
