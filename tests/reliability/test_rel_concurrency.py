"""Many processes at once, and processes killed mid-write: never a torn or invalid state.

- 20 processes run ``enable`` / ``disable`` / ``status --json`` against one user config for a few
  seconds: every read sees a valid choice, the final file is exactly what one writer wrote.
- 20 host processes start tracking at the same instant on a machine with no anonymous id yet:
  one id is created, every event carries it (read back from the collector's decoded contexts).
- A writer SIGKILLed at random moments ~50 times: the user config is always the previous or the
  new file, never a broken one; the temp files a kill can strand are counted and reported.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import tomllib
import uuid

import pytest

from consent import DEFAULT_PROFILE
from tests.reliability import reliability_kit as kit
from tests.support.tracking import finish_host
from tests.support.world import STRICT_PROFILE, World
from tracking.state import read_anonymous_id

pytestmark = pytest.mark.reliability

#: The worker processes, run as ``python -m WORKERS`` (``World.env`` carries the PYTHONPATH).
WORKERS = "tests.reliability.rel_workers"
TEXTS = {
    verb: (
        "# Your choice about strictapp's anonymous usage statistics, written by `telemetry "
        f"{verb}`.\n# `telemetry status` shows every setting that applies and which one "
        f"decides.\nsend_anonymous_usage_stats = {str(verb == 'enable').lower()}\n"
        f"consent_version = {DEFAULT_PROFILE.consent_version}\n"
    )
    for verb in ("enable", "disable")
}
PROCESSES = 20
SECONDS = 3.0
MAX_LOOPS = 300


def _spawn(world, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", WORKERS, *args],
        cwd=world.cwd,
        env=world.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def crowd(tmp_path_factory):
    """20 processes running enable/disable/status for a few seconds against one user config."""
    world = World(tmp_path_factory.mktemp("crowd"), STRICT_PROFILE)  # dbt never reads it
    assert world.run("enable").code == 0
    started = time.monotonic()
    procs = [
        _spawn(world, "cli", str(seed), str(SECONDS), str(MAX_LOOPS)) for seed in range(PROCESSES)
    ]
    summaries, errors = [], []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        errors.append(err)
        summaries.append(json.loads(out.splitlines()[-1]))
    wall = time.monotonic() - started
    case = f"{PROCESSES} processes enable/disable/status"
    writes = sorted((w for s in summaries for w in s["writes"]), key=lambda w: w[1])
    write_problems = [p for s in summaries for p in s["write_problems"]]
    kit.record("concurrency", case, "commands run", sum(s["loops"] for s in summaries))
    kit.record("concurrency", case, "reads checked", sum(s["reads"] for s in summaries))
    kit.record("concurrency", case, "writes", len(writes))
    kit.record("concurrency", case, "wall time", wall, "s")
    kit.record("concurrency", case, "invalid reads", sum(len(s["problems"]) for s in summaries))
    kit.record(
        "concurrency",
        case,
        "writes told 'warning: None' (exit 3)",
        sum(1 for p in write_problems if p[1] == 3 and "None" in p[2]),
    )
    return world, summaries, errors, writes, write_problems


def test_twenty_processes_changing_and_reading_at_once_always_see_a_valid_choice(crowd):
    world, summaries, errors, writes, write_problems = crowd
    problems = [p for s in summaries for p in s["problems"]]
    reads = sum(s["reads"] for s in summaries)
    assert not any("Traceback" in e for e in errors)
    assert not any(p[3] for p in write_problems), "a writer printed a traceback"
    assert {p[1] for p in write_problems} <= {3}, write_problems[:5]
    assert problems == [], "\n".join(problems[:10])
    assert reads > PROCESSES and len(writes) > PROCESSES  # it really was a crowd

    final = world.user_config_path().read_text()
    # Exactly what one writer wrote, byte for byte: never a mix, a truncation or a foreign file.
    # (Which writer was last cannot be told from outside: 20 processes on a few cores.)
    assert final in TEXTS.values(), f"a torn or foreign file:\n{final!r}"
    assert tomllib.loads(final)["send_anonymous_usage_stats"] == (final == TEXTS["enable"])
    assert {verb for verb, _ in writes} == {"enable", "disable"}
    assert sorted(p.name for p in world.user_config_path().parent.iterdir()) == ["telemetry.toml"]


def test_a_writer_racing_another_writer_is_never_told_nonsense(crowd):
    _, _, _, _, write_problems = crowd
    assert write_problems == [], f"{len(write_problems)} writes, e.g. {write_problems[:3]}"


def test_many_hosts_starting_at_once_share_one_anonymous_id(tracking_world, collector):
    world = tracking_world
    world.acknowledge()
    assert read_anonymous_id(world.tracked_profile()) is None
    start_at = time.time() + 3.0  # every process imported and waiting: then all go at once
    env = {
        "HOST_START_AT": str(start_at),
        "HOST_MODELS": "2",
        "HOST_PROJECT": "shop",
        "TESTAPP_TELEMETRY_FLUSH_DEADLINE": "10",
    }
    started = time.time()
    procs = [world.start_host(endpoint=world.collector_url, env=env) for _ in range(PROCESSES)]
    runs = [finish_host(proc, started) for proc in procs]
    for run in runs:
        assert run.returncode == 0 and run.stderr_lines == [], run.stderr
    expected = PROCESSES * 4
    assert collector.wait_for(good=expected, timeout=15), collector.totals()

    user_ids, project_ids = set(), set()
    for event in collector.good():
        for context in event["event"]["contexts"]["data"]:
            data = context["data"]
            if "anonymous_user_id" in data:
                user_ids.add(data["anonymous_user_id"])
                project_ids.add(data["project_id"])
    kit.record(
        "concurrency", f"{PROCESSES} hosts start at once", "distinct anonymous ids", len(user_ids)
    )
    kit.record(
        "concurrency",
        f"{PROCESSES} hosts start at once",
        "events received",
        collector.totals()["good"],
    )
    assert collector.totals() == {
        "total": expected,
        "good": expected,
        "bad": 0,
        "duplicates": 0,
        "evicted": 0,
    }
    assert user_ids == {read_anonymous_id(world.tracked_profile())}
    # The hashing secret was created once too: the same project hashes the same everywhere.
    assert len(project_ids) == 1


KILLS = 50


def _kill_loop(world, mode: str, check) -> tuple[int, list[str]]:
    rng = random.Random(6)
    stray: list[str] = []
    for attempt in range(KILLS):
        proc = _spawn(world, mode)
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(rng.uniform(0, 0.02))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr.read())
        proc.stdout.close()
        proc.stderr.close()
        check(attempt)
    return KILLS, stray


def test_a_writer_killed_mid_write_leaves_the_old_or_the_new_file(strict_world):
    world = strict_world  # the user config: dbt never reads it
    assert world.run("enable").code == 0
    config_dir = world.user_config_path().parent
    seen: dict[str, int] = {}

    def check(attempt: int) -> None:
        text = world.user_config_path().read_text()
        assert text in TEXTS.values(), f"kill #{attempt + 1} left a broken file:\n{text!r}"
        tomllib.loads(text)
        seen[text] = seen.get(text, 0) + 1

    _kill_loop(world, "writer", check)
    stray = sorted(p.name for p in config_dir.glob(".telemetry.toml.*.tmp"))
    kit.record("crash", f"{KILLS} SIGKILLs of a user-config writer", "broken files", 0)
    kit.record(
        "crash",
        f"{KILLS} SIGKILLs of a user-config writer",
        "stranded temp files (kill between mkstemp and rename)",
        len(stray),
    )
    assert len(seen) == 2, "the kills never caught the writer between two different states"
    # A kill can strand at most the one temp file it interrupted; nothing else appears.
    assert len(stray) <= KILLS
    others = sorted(
        p.name for p in config_dir.iterdir() if p.name != "telemetry.toml" and p.name not in stray
    )
    assert others == []
    # Stranded temp files change nothing: the CLI still reads the real file, and writes again.
    status = world.run("status", "--json")
    assert status.code == 0 and status.json()["warnings"] == []
    assert world.run("disable").code == 0
    assert world.user_config_path().read_text() == TEXTS["disable"]


def test_an_id_maker_killed_mid_write_never_leaves_a_broken_id(world):
    world = world
    state = world.state_dir("dbt")

    def check(attempt: int) -> None:
        path = state / "anonymous_id"
        if path.exists():
            text = path.read_text()
            assert text.endswith("\n") and str(uuid.UUID(text.strip())) == text.strip(), (
                f"kill #{attempt + 1} left {text!r}"
            )

    _kill_loop(world, "id", check)
    stray = sorted(p.name for p in state.glob(".anonymous_id.*.tmp"))
    kit.record("crash", f"{KILLS} SIGKILLs of an anonymous-id maker", "broken ids", 0)
    kit.record(
        "crash", f"{KILLS} SIGKILLs of an anonymous-id maker", "stranded temp files", len(stray)
    )
    status = world.run("status", "--json")
    assert status.code == 0
    assert os.path.isdir(state)


def test_temp_files_stranded_by_crashes_do_not_pile_up(strict_world):
    world = strict_world  # the user config: dbt never reads it
    assert world.run("enable").code == 0
    _kill_loop(world, "writer", lambda attempt: None)
    stranded = list(world.user_config_path().parent.glob(".telemetry.toml.*.tmp"))
    assert stranded, "no kill landed mid-write: nothing to check"
    old = time.time() - 3600
    for path in stranded:
        os.utime(path, (old, old))  # crashes of an hour ago: no live writer owns them
    assert world.run("disable").code == 0
    assert list(world.user_config_path().parent.glob(".telemetry.toml.*.tmp")) == []
