"""``telemetry reset`` and ``telemetry log``: the per-user state a user can see and forget.

``events`` and ``collector`` are covered in test_cli_events.py.
"""

from __future__ import annotations

import json

import pytest

from tests.support.cli import flat
from tests.support.world import World


def test_reset_forgets_the_anonymous_id_and_says_a_new_one_comes_later(world: World):
    anonymous_id = world.write_anonymous_id()
    (world.state_dir() / "secret").write_text("ab" * 32 + "\n")

    r = world.run("reset")

    assert r.code == 0, r
    assert not (world.state_dir() / "anonymous_id").exists()
    assert not (world.state_dir() / "secret").exists(), "the hashing key goes with the id"
    assert anonymous_id in r.out, "says which id was forgotten"
    text = flat(r.out).lower()
    assert "new one" in text and "next" in text
    assert world.run("status", "--json").json()["anonymous_id"] is None


def test_reset_clears_the_log_of_events_sent_with_the_old_id(world: World):
    anonymous_id = world.write_anonymous_id()
    world.write_log([{"event": "invocation", "anonymous_user_id": anonymous_id}])

    r = world.run("reset")

    assert r.code == 0, r
    assert "and the local log of the events sent with it" in flat(r.out)
    assert anonymous_id not in world.run("log", "--json").out, "the forgotten id stays forgotten"
    assert not (world.state_dir() / "events.log").exists()


def test_reset_without_an_id_says_there_was_nothing_to_forget(world: World):
    r = world.run("reset")

    assert r.code == 0, r
    assert "no anonymous id" in r.out.lower()
    assert not world.state_dir().exists(), "reset creates no state"


def test_reset_never_creates_an_id(world: World, invoke):
    assert invoke("reset").code == 0
    assert invoke("reset").code == 0

    assert not (world.state_dir() / "anonymous_id").exists()


def test_log_with_no_events_explains_why(world: World):
    r = world.run("log")

    assert r.code == 0, r
    text = flat(r.out)
    assert "No events have been sent" in text
    assert str(world.state_dir() / "events.log") in text, "says where they would be logged"
    assert world.run("log", "--json").json() == []


RECORDS = [{"event": "invocation", "n": i, "command": "run"} for i in range(30)]


def test_log_shows_the_last_events_oldest_first(world: World):
    world.write_log(RECORDS)

    r = world.run("log", "-n", "3", COLUMNS="100")

    assert r.code == 0, r
    assert "The last 3 events" in r.out
    shown = [
        int(line.split(":")[1].strip(" ,"))
        for line in r.out.splitlines()
        if line.strip().startswith('"n"')
    ]
    assert shown == [27, 28, 29]


@pytest.mark.parametrize(
    "args,expected",
    [([], RECORDS[-20:]), (["--last", "5"], RECORDS[-5:]), (["-n", "100"], RECORDS)],
)
def test_log_json_is_the_newest_records(world: World, invoke, args, expected):
    world.write_log(RECORDS)

    r = invoke("log", "--json", *args)

    assert r.code == 0 and r.exception is None, r
    assert r.json() == expected


def test_a_garbled_log_is_not_reported_as_no_events_sent(world: World):
    path = world.write_log([], tail="\x00\x01 not an event\n{broken\n")

    r = world.run("log")

    assert r.code == 0, r
    assert "No events have been sent" not in r.out + r.err
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert str(path) in r.err and "no readable events" in r.err and "Fix: delete it" in r.err


def test_log_survives_a_torn_last_line(world: World, invoke):
    world.write_log(RECORDS[:3], tail='{"event": "invoc')

    r = invoke("log", "--json", "-n", "1")

    assert r.json() == RECORDS[2:3]


def test_log_skips_garbage_lines_in_the_middle(world: World, invoke):
    path = world.write_log(RECORDS[:2])
    path.write_text(path.read_text() + "not json\n" + json.dumps(RECORDS[2]) + "\n")

    r = invoke("log", "--json")

    assert r.json() == RECORDS[:3]


def test_looking_never_writes(world: World, invoke):
    """status, log, reset and help leave no trace on the machine (docs/guarantees.md §5: no file
    written while nothing is sent)."""
    world.project_flag("true")
    before = sorted(p.relative_to(world.root) for p in world.root.rglob("*"))

    for args in (
        ["status"],
        ["status", "--json"],
        ["log"],
        ["log", "--json"],
        ["reset"],
        ["--help"],
        ["status", "--expect", "off"],
    ):
        invoke(*args)

    after = sorted(p.relative_to(world.root) for p in world.root.rglob("*"))
    assert after == before
