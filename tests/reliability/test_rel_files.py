"""Hostile file systems: read-only and full disks, things in the way, planted links, huge,
binary and explosive project files. The CLI answers in one clear line with its documented exit
code; the host is never hurt; a planted symlink is never written through; bad files fail closed.

We run as root, which ignores permission bits: read-only means a read-only bind mount (EROFS
stops root too), a full disk a 64 KiB tmpfs, "someone else's file" a ``chown`` to nobody.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from consent import DEFAULT_PROFILE
from tests.reliability import reliability_kit as kit
from tests.support.world import no_traceback

pytestmark = pytest.mark.reliability

#: What `telemetry disable` / `enable` write (consent/store.py's header + the key).
DISABLED_TEXT = (
    "# Your choice about dbt's anonymous usage statistics, written by `telemetry "
    "disable`.\n# `telemetry status` shows every setting that applies and which one "
    "decides.\nsend_anonymous_usage_stats = false\n"
    f"consent_version = {DEFAULT_PROFILE.consent_version}\n"
)

# A CLI run that reports its own peak memory (VmHWM) to a file: bounded-memory checks.
_MEASURED_CLI = r"""
import atexit, os, sys
def _hwm():
    with open("/proc/self/status") as fh:
        kb = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:"))
    with open(os.environ["REL_HWM_FILE"], "w") as out:
        out.write(str(kb))
atexit.register(_hwm)
from telemetry_cli import run
sys.exit(run(sys.argv[1:]))
"""


def measured(world, tmp_path: Path, *args: str, **env):
    """``telemetry ARGS`` as a subprocess: (outcome, seconds, peak RSS in MB)."""
    hwm = tmp_path / f"hwm-{time.monotonic_ns()}"
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED_CLI, *args],
        cwd=world.cwd,
        env=world.env_with(REL_HWM_FILE=str(hwm), **env),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    no_traceback(proc.stdout, proc.stderr)
    return proc, elapsed, int(hwm.read_text()) / 1024


def one_clear_line(outcome, code: int, *needles: str) -> None:
    """The documented exit code, at most an error line and a hint on stderr, no traceback."""
    lines = [line for line in outcome.err.splitlines() if line.strip()]
    assert outcome.code == code, outcome
    assert 1 <= len(lines) <= 2, outcome
    assert "internal error" not in outcome.err, outcome
    for needle in needles:
        assert needle in outcome.err, outcome


# -- read-only home and config dirs ----------------------------------------------------------------
@pytest.mark.parametrize("what", ["config dir", "whole home"])
def test_read_only_dirs_refuse_changes_in_one_line_and_status_still_works(strict_world, what):
    world = strict_world  # the user config: dbt never reads it
    world.user_flag("true")
    before = world.user_config_path().read_bytes()
    target = world.user_config_path().parent if what == "config dir" else world.home
    with kit.read_only(target):
        disable = world.run("disable")
        enable = world.run("enable")
        status = world.run("status", "--json")
        log = world.run("log")
    one_clear_line(disable, 4, str(world.user_config_path()), "nothing was changed")
    one_clear_line(enable, 4, str(world.user_config_path()))
    assert status.code == 0 and status.json()["enabled"] is True
    assert log.code == 0
    assert world.user_config_path().read_bytes() == before


def test_reset_on_a_read_only_state_dir_is_one_clear_line(world, invoke_group):
    world = world
    world.write_anonymous_id()
    with kit.read_only(world.state_dir("dbt")):
        reset = world.run("reset")
        mounted = invoke_group(world, "reset")
    one_clear_line(reset, 4, str(world.state_dir("dbt") / "anonymous_id"))
    assert mounted.exception is None, f"{mounted.exception!r} escaped into the host's CLI"


@pytest.fixture
def invoke_group(monkeypatch):
    """``telemetry ARGS`` through CliRunner on ``telemetry_group()``: how a host mounts it."""
    from click.testing import CliRunner

    from telemetry_cli import telemetry_group
    from tests.support.world import Outcome

    def _invoke(world, *args: str, **env):
        for key in list(os.environ):
            monkeypatch.delenv(key)
        for key, value in world.env_with(**env).items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(world.cwd)
        result = CliRunner().invoke(telemetry_group(), list(args), prog_name="telemetry")
        exc = result.exception
        escaped = None if exc is None or isinstance(exc, SystemExit) else exc
        return Outcome(result.exit_code, result.stdout, result.stderr, tuple(args), escaped)

    return _invoke


@pytest.mark.parametrize("acknowledged", [True, False], ids=["told-before", "first-run"])
def test_a_host_on_a_read_only_home_is_never_hurt(tracking_world, collector, acknowledged):
    world = tracking_world
    if acknowledged:
        world.acknowledge()
    with kit.read_only(world.home):
        run = world.run_host(endpoint=world.collector_url, env={"HOST_EXIT": "3"})
    kit.record(
        "files",
        f"read-only HOME ({'told' if acknowledged else 'first run'})",
        "added wall time at exit",
        run.exit_delay_s,
        "s",
    )
    assert run.returncode == 3
    assert "Traceback" not in run.stderr
    if acknowledged:
        assert run.stderr_lines == []
    else:
        # The notice, which cannot be put on record: shown again next time, nothing sent.
        assert "anonymous usage statistics" in run.stderr
    assert run.exit_delay_s < kit.HOST_BOUND_S
    # No anonymous id could be stored, so nothing may be sent without one.
    assert collector.totals()["total"] == 0


# -- a full disk -----------------------------------------------------------------------------------
def test_a_full_disk_refuses_the_change_and_keeps_the_old_choice(strict_world):
    world = strict_world  # the user config: dbt never reads it
    config_dir = world.user_config_path().parent
    with kit.tiny_fs(config_dir):
        world.user_flag("true")
        before = world.user_config_path().read_bytes()
        kit.fill(config_dir)
        disable = world.run("disable")
        status = world.run("status", "--json")
        leftovers = sorted(p.name for p in config_dir.glob(".telemetry.toml.*.tmp"))
        after = world.user_config_path().read_bytes()
    one_clear_line(disable, 4, str(world.user_config_path()), "No space left on device")
    assert after == before
    assert status.json()["enabled"] is True
    assert leftovers == []


def test_a_host_with_a_full_state_disk_still_sends_and_exits_cleanly(tracking_world, collector):
    world = tracking_world
    state = world.state_dir()
    with kit.tiny_fs(state):
        world.acknowledge()
        # The id and secret exist already (an earlier run); then the disk fills up.
        from tracking.state import ensure_anonymous_id, ensure_secret

        ensure_anonymous_id(world.tracked_profile())
        ensure_secret(world.tracked_profile())
        kit.fill(state)
        run = world.run_host(
            endpoint=world.collector_url, env={"TESTAPP_TELEMETRY_FLUSH_DEADLINE": "10"}
        )
        log = state / "events.log"
        log_lines = log.read_text().splitlines() if log.exists() else []
    assert run.returncode == 0 and run.stderr_lines == [], run.stderr
    assert collector.wait_for(good=52, timeout=10)
    # The local log is best effort: whatever made it to disk parses; a torn line is skipped.
    for line in log_lines[:-1]:
        json.loads(line)


def test_events_that_wait_still_go_when_the_state_disk_fills_before_the_first_send(
    tracking_world,
):
    """The id is made when the first event is sent; by then the disk may be full. It used to
    be written then, or never: the waiting events never went. The host keeps its room."""
    from telemetry_collector import Collector
    from tests.support.faults import FaultServer
    from tests.support.testapp_cli import MODULE as TESTAPP_CLI

    world = tracking_world
    state = world.state_dir()
    with kit.tiny_fs(state, size="256k"):
        world.acknowledge()
        with FaultServer("refused") as down:
            port, url = down.port, down.url
        # The collector failed often before: a long backoff, so this run starts no uploader.
        spool = world.spool()
        spool.ensure_dir()
        entry = {"not_before": time.time() + 60, "failures": 7, "error": "refused"}
        spool.update_state(lambda doc: doc.update(backoff={url: entry}))
        run = world.run_host(endpoint=url)
        assert run.returncode == 0 and run.stderr_lines == [], run.stderr
        assert world.spool().waiting().events == 52
        assert not (state / "anonymous_id").exists()  # nothing was sent: no id yet
        kit.fill(state)
        with Collector(port=port) as collector:
            upload = subprocess.run(
                [sys.executable, "-m", TESTAPP_CLI, url, "upload", "--wait", "20"],
                env=world.env,
                cwd=world.project,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert collector.wait_for(good=52, timeout=20), (upload.stdout, upload.stderr)
            sent = json.dumps(collector.good())
        the_id = (state / "anonymous_id").read_text().strip()
    assert upload.returncode == 0, upload.stderr
    # Made from the room kept, on a full disk, and the one the events carry.
    assert the_id and sent.count(the_id) >= 2, the_id


# -- things in the way -----------------------------------------------------------------------------
def test_a_directory_where_the_config_file_should_be(strict_world):
    world = strict_world  # the user config: dbt never reads it
    world.user_config_path().mkdir(parents=True)
    status = world.run("status", "--json")
    disable = world.run("disable")
    doc = status.json()
    user = next(layer for layer in doc["layers"] if layer["name"] == "user_config")
    assert user["status"] == "error" and doc["enabled"] is False  # fail closed
    assert any("directory" in w for w in doc["warnings"])
    one_clear_line(disable, 4, str(world.user_config_path()))
    assert world.user_config_path().is_dir()


def test_a_file_where_the_config_dir_should_be(strict_world):
    world = strict_world  # the user config: dbt never reads it
    world.config_home.mkdir(parents=True)
    (world.config_home / world.profile.name).write_text("not a directory\n")
    status = world.run("status", "--json")
    disable = world.run("disable")
    assert status.code == 0
    one_clear_line(disable, 4, str(world.config_home / world.profile.name))
    assert (world.config_home / world.profile.name).read_text() == "not a directory\n"


@pytest.mark.parametrize("command", ["disable", "enable"])
def test_a_symlink_at_the_config_path_is_replaced_never_written_through(strict_world, command):
    world = strict_world  # the user config: dbt never reads it
    victim = world.home / ".bashrc"
    victim.write_text("export PATH=$HOME/bin:$PATH\n")
    world.user_config_path().parent.mkdir(parents=True)
    world.user_config_path().symlink_to(victim)
    outcome = world.run(command)
    assert outcome.code == 0, outcome
    assert not world.user_config_path().is_symlink()
    assert "send_anonymous_usage_stats" in world.user_config_path().read_text()
    assert victim.read_text() == "export PATH=$HOME/bin:$PATH\n"


@pytest.mark.parametrize(
    "name",
    [
        "anonymous_id",
        "events.log",
        "notice_acknowledged",
    ],
)
def test_a_symlink_planted_in_the_state_dir_is_never_written_through(
    tracking_world, collector, name
):
    world = tracking_world
    world.acknowledge()
    victim = world.home / ".profile"
    victim.write_text("# my shell profile\n")
    link = world.state_dir() / name
    if link.exists():
        link.unlink()
    link.symlink_to(victim)
    if name == "notice_acknowledged":
        # The mark reads as garbage through the link: the notice again, nothing sent, and the
        # mark re-made in place of the link (the notice is on record only when shown on a
        # terminal, so this run's stderr is a real pty).
        told = world.run_host(env={"TESTAPP_TELEMETRY_FLUSH_DEADLINE": "10"}, terminal=True)
        assert told.returncode == 0 and "Traceback" not in told.stderr, told.stderr
        assert told.report["plan"] == "notice"
        assert collector.totals()["total"] == 0
        assert not link.is_symlink()
        assert victim.read_text() == "# my shell profile\n"
        return
    run = world.run_host(
        endpoint=world.collector_url, env={"TESTAPP_TELEMETRY_FLUSH_DEADLINE": "10"}
    )
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr_lines == [], run.stderr
    assert victim.read_text() == "# my shell profile\n"


def test_a_symlink_planted_at_the_spool_is_never_written_through(tracking_world, collector):
    """A spool dir that is a link elsewhere is not used: the run's events are kept in memory and
    delivered by the host itself at exit (within its deadline), and the target stays as it was."""
    world = tracking_world
    world.acknowledge()
    victim = world.home / "Documents"
    victim.mkdir()
    (victim / "thesis.txt").write_text("chapter 1\n")
    (world.state_dir() / "spool").symlink_to(victim, target_is_directory=True)
    run = world.run_host(endpoint=world.collector_url)
    assert run.returncode == 0 and run.stderr_lines == [], run.stderr
    assert sorted(p.name for p in victim.iterdir()) == ["thesis.txt"]
    assert run.report["stats"]["in_memory"] == 52
    assert collector.totals() == {"total": 52, "good": 52, "bad": 0, "duplicates": 0, "evicted": 0}


@pytest.mark.parametrize("problem", ["world-writable", "owned by someone else"])
def test_a_config_file_others_can_change_is_warned_about(strict_world, problem):
    world = strict_world  # the user config: dbt never reads it
    path = world.user_flag("false")
    if problem == "world-writable":
        path.chmod(0o666)
    else:
        if os.geteuid() != 0:
            pytest.skip("only root can give a file to another user")
        os.chown(path, 65534, 65534)
    doc = world.run("status", "--json").json()
    text = world.run("status", COLUMNS="200")
    assert doc["enabled"] is False  # the choice is still read…
    assert any(str(path) in w for w in doc["warnings"]), doc["warnings"]  # …and warned about
    assert "Warnings:" in text.out
    needle = "world-writable" if problem == "world-writable" else "another user"
    assert needle in text.out


# -- huge, binary and explosive project files ------------------------------------------------------
BOMB = "".join(
    f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9 if prev else ["lol"] * 9) + "]\n"
    # 9**10 strings if expanded
    for prev, name in zip([None, *"abcdefghi"], "abcdefghij", strict=True)
)

PROJECTS = {
    "10 MB": (
        "name: jaffle\nflags:\n  send_anonymous_usage_stats: true\n" + "# padding\n" * 1_000_000
    ),
    "binary": bytes(range(256)) * 4,
    "binary with a valid flag": b"name: jaffle\x00\nflags:\n  send_anonymous_usage_stats: true\n",
    "billion laughs as the flag": BOMB + "flags: *j\n",
    "billion laughs as the flags block": BOMB + "flags: {send_anonymous_usage_stats: *j}\n",
    "nesting 100k deep": "flags: " + "[" * 100_000,
}


@pytest.mark.parametrize("case", list(PROJECTS))
def test_a_hostile_project_file_is_bounded_warned_about_and_fails_closed(world, tmp_path, case):
    world = world
    content = PROJECTS[case]
    world.project_file_path().parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        world.project_file_path().write_bytes(content)
    else:
        world.project_file_path().write_text(content)
    proc, seconds, peak = measured(world, tmp_path, "status", "--json")
    kit.record("project files", case, "`status` time", seconds, "s")
    kit.record("project files", case, "`status` peak RSS", peak, "MB")
    doc = json.loads(proc.stdout)
    project = next(layer for layer in doc["layers"] if layer["name"] == "project_file")
    assert proc.returncode == 0
    assert seconds < kit.HOST_BOUND_S and peak < 300
    assert doc["enabled"] is False and project["status"] == "error"
    assert any(str(world.project_file_path()) in w for w in doc["warnings"]), doc["warnings"]
    assert len(proc.stdout) < 20_000  # the file is not echoed back


@pytest.mark.parametrize(
    "flag", ["", "flags:\n  send_anonymous_usage_stats: true\n"], ids=["no-flag", "flag-true"]
)
def test_a_billion_laughs_anywhere_in_the_project_file_fails_closed(world, tmp_path, flag):
    world = world
    world.write_project("name: jaffle\n" + BOMB + flag)
    proc, seconds, peak = measured(world, tmp_path, "status", "--json")
    kit.record(
        "project files",
        f"billion laughs elsewhere ({(flag and 'flag true') or 'no flag'})",
        "`status` time",
        seconds,
        "s",
    )
    assert seconds < kit.HOST_BOUND_S and peak < 300
    doc = json.loads(proc.stdout)
    assert any(str(world.project_file_path()) in w for w in doc["warnings"]), doc["warnings"]
    assert doc["enabled"] is False


@pytest.mark.parametrize(
    "case", ["billion laughs as the flag", "billion laughs as the flags block"]
)
def test_disable_project_on_a_bomb_is_bounded_and_clear(world, tmp_path, case):
    world = world
    world.write_project(PROJECTS[case])
    proc, seconds, peak = measured(world, tmp_path, "disable", "--project")
    kit.record("project files", case, "`disable --project` time", seconds, "s")
    kit.record("project files", case, "`disable --project` peak RSS", peak, "MB")
    assert seconds < kit.HOST_BOUND_S and peak < 300
    assert proc.returncode in (0, 2, 3), proc
    if proc.returncode in (2, 3):
        assert len([line for line in proc.stderr.splitlines() if line.strip()]) <= 2, proc.stderr
    after = world.run("status", "--json").json()
    assert after["enabled"] is False


@pytest.mark.parametrize("case", ["10 MB", "billion laughs as the flag", "nesting 100k deep"])
def test_a_host_in_a_hostile_project_is_bounded_and_sends_nothing(tracking_world, collector, case):
    world = tracking_world
    world.acknowledge()
    (world.project / "testapp_project.yml").write_text(PROJECTS[case])
    run = world.run_host(endpoint=world.collector_url)
    kit.record("project files", case, "host added wall time at exit", run.exit_delay_s, "s")
    kit.record("project files", case, "host peak RSS", run.peak_rss_mb, "MB")
    assert run.returncode == 0 and run.stderr_lines == [], run.stderr
    assert run.report["plan"] == "off"  # fail closed
    assert run.elapsed_s < kit.HOST_BOUND_S + 5 and run.peak_rss_mb < 300
    assert collector.totals()["total"] == 0
