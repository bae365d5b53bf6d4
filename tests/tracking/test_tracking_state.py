"""Per-user state (docs/delivery.md): the anonymous id, its privacy, and the local event log."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import uuid

import pytest

from tracking import DBT_PROFILE as DEFAULT_PROFILE
from tracking import state

PROCESSES = 16


def _race_for_the_id(barrier, results) -> None:
    barrier.wait(timeout=30)
    try:
        results.put(state.ensure_anonymous_id(DEFAULT_PROFILE))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent instead
        results.put(f"error: {exc!r}")


@pytest.mark.timeout(60)
@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(),
    reason="needs fork to start 16 processes quickly",
)
def test_sixteen_processes_starting_at_once_share_one_anonymous_id(world):
    # A CI matrix starting at once must not mint sixteen ids (one user counted sixteen times).
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    workers = [
        ctx.Process(target=_race_for_the_id, args=(barrier, results)) for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    ids = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    assert len(set(ids)) == 1, ids
    the_id = ids[0]
    assert str(uuid.UUID(the_id)) == the_id
    path = world.state_dir() / "anonymous_id"
    assert path.read_text().strip() == the_id
    assert state.read_anonymous_id(DEFAULT_PROFILE) == the_id
    assert sorted(p.name for p in world.state_dir().iterdir()) == ["anonymous_id"], (
        "no temp files may be left behind"
    )


def test_the_id_is_stable_across_calls(world):
    first = state.ensure_anonymous_id(DEFAULT_PROFILE)
    assert state.ensure_anonymous_id(DEFAULT_PROFILE) == first
    assert state.read_anonymous_id(DEFAULT_PROFILE) == first


def test_reading_the_id_creates_nothing(world):
    assert state.read_anonymous_id(DEFAULT_PROFILE) is None
    assert not world.state_dir().exists(), "status must be able to look without writing"


def test_state_lives_under_xdg_state_home(world):
    state.ensure_anonymous_id(DEFAULT_PROFILE)
    assert (world.state_home / "dbt" / "anonymous_id").is_file()


@pytest.mark.parametrize("make", [state.ensure_anonymous_id, state.ensure_secret])
def test_identity_files_are_private(world, make):
    old = os.umask(0o022)
    try:
        make(DEFAULT_PROFILE)
    finally:
        os.umask(old)
    files = list(world.state_dir().iterdir())
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(world.state_dir().stat().st_mode) & 0o077 == 0


def test_a_damaged_id_is_replaced_not_sent(world):
    world.write(world.state_dir() / "anonymous_id", "not-a-uuid\n")
    assert state.read_anonymous_id(DEFAULT_PROFILE) is None
    fresh = state.ensure_anonymous_id(DEFAULT_PROFILE)
    assert str(uuid.UUID(fresh)) == fresh
    assert state.read_anonymous_id(DEFAULT_PROFILE) == fresh


def test_forget_removes_the_id_and_the_secret_and_a_new_id_follows(world):
    old_id = state.ensure_anonymous_id(DEFAULT_PROFILE)
    old_secret = state.ensure_secret(DEFAULT_PROFILE)

    assert state.forget_anonymous_id(DEFAULT_PROFILE) is True
    assert state.read_anonymous_id(DEFAULT_PROFILE) is None
    assert not (world.state_dir() / "anonymous_id").exists()
    assert not (world.state_dir() / "secret").exists()
    assert state.forget_anonymous_id(DEFAULT_PROFILE) is False, "nothing left to forget"

    assert state.ensure_anonymous_id(DEFAULT_PROFILE) != old_id
    assert state.ensure_secret(DEFAULT_PROFILE) != old_secret


def test_the_secret_is_32_random_bytes_and_stable(world):
    secret = state.ensure_secret(DEFAULT_PROFILE)
    assert len(secret) == 32
    assert state.ensure_secret(DEFAULT_PROFILE) == secret


# -- the local event log ------------------------------------------------------------------------


def test_the_log_returns_the_newest_events_oldest_first(world):
    state.append_log(DEFAULT_PROFILE, [{"n": i} for i in range(5)])
    state.append_log(DEFAULT_PROFILE, [{"n": 5}])
    assert state.read_log(DEFAULT_PROFILE, last=3) == [{"n": 3}, {"n": 4}, {"n": 5}]
    assert state.read_log(DEFAULT_PROFILE, last=0) == []
    assert stat.S_IMODE((world.state_dir() / "events.log").stat().st_mode) == 0o600


def test_the_log_stays_about_log_max_bytes_and_keeps_the_newest(world):
    padding = "x" * 200
    batch = 100
    total = 0
    trims = 0
    previous = 0
    for start in range(0, 8000, batch):
        state.append_log(
            DEFAULT_PROFILE, [{"n": n, "pad": padding} for n in range(start, start + batch)]
        )
        total += batch
        size = (world.state_dir() / "events.log").stat().st_size
        # It grows to at most twice the limit, then is cut back to the newest LOG_MAX_BYTES:
        # bounded, and trimmed once per LOG_MAX_BYTES of events, not after every batch.
        assert size <= 2 * state.LOG_MAX_BYTES, size
        if size < previous:
            trims += 1
            assert state.LOG_MAX_BYTES // 2 < size <= state.LOG_MAX_BYTES, size
        previous = size
    assert trims >= 2
    assert not [p for p in world.state_dir().iterdir() if p.name.endswith(".tmp")]

    newest = state.read_log(DEFAULT_PROFILE, last=10)
    assert [e["n"] for e in newest] == list(range(total - 10, total))
    # Every line left is a whole event (the trim cuts at a line boundary).
    for line in (world.state_dir() / "events.log").read_bytes().splitlines():
        json.loads(line)
    assert stat.S_IMODE((world.state_dir() / "events.log").stat().st_mode) == 0o600


def test_the_log_keeps_each_record_whole_and_creates_its_dir_when_missing(world):
    record = {
        "sent_at": "2026-01-01T00:00:00.000+00:00",
        "event": "model_run",
        "schema": "iglu:x/y/jsonschema/1-0-0",
        "data": {"é": 1, "n": None},
        "contexts": [{"schema": "iglu:x/c/jsonschema/1-0-0", "data": {"a": [1, 2]}}],
    }
    assert not world.state_dir().exists()
    state.append_log(DEFAULT_PROFILE, [record, record])
    state.append_log(DEFAULT_PROFILE, [])
    assert state.read_log(DEFAULT_PROFILE) == [record, record]
    assert stat.S_IMODE(world.state_dir().stat().st_mode) == 0o700
    assert (world.state_dir() / "events.log").read_bytes().isascii()


def test_a_damaged_log_line_is_skipped_not_fatal(world):
    state.append_log(DEFAULT_PROFILE, [{"n": 1}])
    with open(world.state_dir() / "events.log", "ab") as fh:
        fh.write(b"{half an ev\n")
    state.append_log(DEFAULT_PROFILE, [{"n": 2}])
    assert state.read_log(DEFAULT_PROFILE) == [{"n": 1}, {"n": 2}]


def test_no_log_reads_as_empty(world):
    assert state.read_log(DEFAULT_PROFILE) == []
