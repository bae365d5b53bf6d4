"""The example host tool, run the way its README tells a newcomer to: real processes, real
collector."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from telemetry_collector import Collector
from tests.support.tracking import run_on_terminal, settle
from tests.support.world import REPO
from tracking.spool import Spool

JAFFLE = REPO / "examples" / "jaffle"
EXPECTED_EVENTS = 1 + 4 + 1  # invocation start, one per demo model, invocation end


@pytest.fixture
def shop(world, tmp_path: Path) -> Path:
    """A copy of the demo project as the working directory, so target/ lands in a temp dir."""
    project = tmp_path / "shop"
    shutil.copytree(JAFFLE / "demo", project)
    return project


def jaffle(
    world, cwd: Path, *args: str, terminal: bool = False, **env: str
) -> subprocess.CompletedProcess:
    """Run the example; ``terminal``: with its stderr on a real pty, as a user at a terminal."""
    full = {**world.env, "PYTHONPATH": str(REPO), **env}
    if terminal:
        argv = [sys.executable, str(JAFFLE), *args]
        code, out, err = run_on_terminal(argv, full, cwd, 60)
        return subprocess.CompletedProcess(argv, code, out, err)
    return subprocess.run(
        [sys.executable, str(JAFFLE), *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_first_run_tells_the_user_and_sends_nothing_then_events_arrive_and_are_valid(world, shop):
    with Collector() as collector:
        endpoint = {"JAFFLE_TELEMETRY_ENDPOINT": collector.url}

        first = jaffle(world, shop, "run", terminal=True, **endpoint)  # told on a terminal
        assert first.returncode == 0, first.stderr
        assert "anonymous usage statistics" in first.stderr and "Nothing was sent" in first.stderr
        assert f"python {JAFFLE} telemetry disable" in first.stderr, "a command that works here"
        assert collector.totals()["total"] == 0, "nothing leaves before the user was told"

        second = jaffle(world, shop, "run", **endpoint)
        assert second.returncode == 0, second.stderr
        assert "Traceback" not in second.stderr + second.stdout
        # Sent by the uploader the run started as it exited: wait for it, boundedly.
        assert collector.wait_for(good=EXPECTED_EVENTS, timeout=20)
        assert settle(Spool(str(world.state_home / "jaffle" / "spool")))  # the log is written
        assert collector.totals() == {
            "total": EXPECTED_EVENTS,
            "good": EXPECTED_EVENTS,
            "bad": 0,
            "duplicates": 0,
            "evicted": 0,
        }
        sent = json.dumps(collector.good())
        for secret in (
            "customer_orders",
            "revenue_by_day",
            "raw_orders",
            "SELECT",
            "shop",
            str(shop),
            world.home.name,
        ):
            assert secret not in sent, f"{secret!r} left the machine"

    log = jaffle(world, shop, "telemetry", "log", "--json")
    assert log.returncode == 0
    assert len(json.loads(log.stdout)) == EXPECTED_EVENTS, "every event sent is in the local log"


def test_status_is_bound_to_jaffle_and_reads_its_project_file(world, shop):
    (shop / "jaffle_project.yml").write_text(
        (shop / "jaffle_project.yml")
        .read_text()
        .replace(
            "# flags:\n#   send_anonymous_usage_stats: false",
            "flags:\n  send_anonymous_usage_stats: false",
        )
    )

    r = jaffle(world, shop, "telemetry", "status", "--json")

    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["app"] == "jaffle" and doc["enabled"] is False
    assert doc["decided_by"] == "project_file"
    assert doc["layers"][5]["origin"] == f"{shop / 'jaffle_project.yml'}:10"


def test_do_not_track_runs_the_tool_and_sends_nothing(world, shop):
    with Collector() as collector:
        for _ in range(2):
            r = jaffle(
                world, shop, "run", DO_NOT_TRACK="1", JAFFLE_TELEMETRY_ENDPOINT=collector.url
            )
            assert r.returncode == 0 and r.stderr == "", r.stderr
        assert collector.totals()["total"] == 0
    assert not (world.state_home / "jaffle").exists(), "no id, no secret, no notice, no log"


def test_the_host_flag_opts_out_for_one_run(world, shop):
    with Collector() as collector:
        env = {"JAFFLE_TELEMETRY_ENDPOINT": collector.url}
        jaffle(world, shop, "run", **env)  # the notice run
        r = jaffle(world, shop, "run", "--no-send-anonymous-usage-stats", **env)
        assert r.returncode == 0
        assert collector.totals()["total"] == 0
        assert not (world.state_home / "jaffle" / "spool").exists(), "nothing was even recorded"


def test_the_notice_names_a_command_that_works_from_the_demo_dir(world, tmp_path: Path):
    example = tmp_path / "examples" / "jaffle"
    shutil.copytree(JAFFLE, example, ignore=shutil.ignore_patterns("target", "__pycache__"))
    demo = example / "demo"

    first = subprocess.run(
        [sys.executable, "..", "run"],
        cwd=demo,
        capture_output=True,
        text=True,
        timeout=60,
        env={**world.env, "PYTHONPATH": str(REPO)},
    )
    assert first.returncode == 0, first.stderr
    command = first.stderr.split("To turn it off: `", 1)[1].split("`", 1)[0]
    assert command == "python .. telemetry disable", first.stderr

    done = subprocess.run(
        [sys.executable, *shlex.split(command)[1:]],
        cwd=demo,
        capture_output=True,
        text=True,
        timeout=60,
        env={**world.env, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    assert (world.config_home / "jaffle" / "telemetry.toml").exists()
