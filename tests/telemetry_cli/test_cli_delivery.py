"""What the CLI says and does about events waiting to be sent: ``status`` counts them, ``log``
shows them, ``disable`` and ``reset`` delete them, ``upload`` sends them now.

The waiting events are written with the spool's own writer into the world's state dir, as a
host would have left them; ``upload`` sends to a real collector (or a fault server) on loopback.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from consent import DEFAULT_PROFILE, Edition, Layer, resolve
from telemetry_collector import Collector
from tests.support.cli import flat
from tests.support.faults import FaultServer
from tests.support.tracking import encode_line
from tests.support.world import STRICT_PROFILE, World
from tracking.records import segment_header
from tracking.spool import Spool

START = "iglu:dev.telemetry-consent/invocation_start/jsonschema/1-0-0"
CONTEXTS = {
    "platform": "iglu:dev.telemetry-consent/platform/jsonschema/1-0-0",
    "invocation": "iglu:dev.telemetry-consent/invocation/jsonschema/1-0-0",
}

pytestmark = pytest.mark.delivery


def _spool(world: World) -> Spool:
    return Spool.for_state_dir(str(world.state_dir()))


def _waiting(world: World, count: int, endpoint: str = "http://127.0.0.1:9") -> Spool:
    """``count`` events left in the spool by a host run of the dbt profile, inside the project."""
    profile = STRICT_PROFILE if world.profile == STRICT_PROFILE else DEFAULT_PROFILE
    decision = resolve(profile.name, Edition(), [Layer("edition_default", "on")])
    header = segment_header(profile, decision, endpoint, str(world.cwd), None, CONTEXTS, {})
    spool = _spool(world)
    writer = spool.open_segment(header)
    invocation = str(uuid.uuid4())
    for index in range(count):
        writer.append(
            encode_line(
                {
                    "e": str(uuid.uuid4()),
                    "t": 1_764_000_000_000 + index,
                    "s": START,
                    "d": {"command": f"cmd{index}"},
                    "i": invocation,
                }
            )
        )
    writer.seal()
    return spool


def test_status_says_how_many_events_wait_and_since_when(world: World, status_schema):
    _waiting(world, 7)

    text = world.run("status", COLUMNS="200")
    doc = world.run("status", "--json").json()

    assert text.code == 0, text
    since = datetime.fromisoformat(doc["waiting"]["since"])
    assert abs((datetime.now(UTC) - since).total_seconds()) < 120  # when that run was spooled
    assert f"Waiting to be sent: 7 events, since {doc['waiting']['since']}" in flat(text.out)
    assert doc["waiting"] == {
        "events": 7,
        "since": doc["waiting"]["since"],
        "dropped": {},
        "next_attempt": None,
    }
    status_schema.validate(doc)


def test_status_says_nothing_of_an_empty_spool(world: World, status_schema):
    text = world.run("status", COLUMNS="200")
    doc = world.run("status", "--json").json()
    assert "Waiting to be sent" not in text.out
    assert doc["waiting"] == {"events": 0, "since": None, "dropped": {}, "next_attempt": None}
    status_schema.validate(doc)


def test_log_shows_waiting_events_after_the_sent_ones(world: World):
    world.write_log(
        [
            {
                "sent_at": "2025-01-01T00:00:00.000+00:00",
                "event": "invocation_start",
                "schema": START,
                "data": {"command": "old"},
                "contexts": [],
            }
        ]
    )
    _waiting(world, 3)

    doc = world.run("log", "--json").json()
    text = world.run("log", COLUMNS="120")

    assert [r["data"]["command"] for r in doc] == ["old", "cmd0", "cmd1", "cmd2"]
    assert "sent_at" in doc[0] and all("waiting_since" in r for r in doc[1:])
    assert "3 events waiting to be sent for dbt" in flat(text.out)
    assert flat(text.out).index("The last 1 events sent") < flat(text.out).index("waiting")


@pytest.mark.parametrize("scope", [[], ["--project"]], ids=["global", "project"])
def test_disable_deletes_what_waits(world: World, scope):
    if not scope:
        world.profile = STRICT_PROFILE  # dbt refuses `disable` (--global): it never reads that file
    world.write_project()
    spool = _waiting(world, 5)

    r = world.run("disable", *scope)

    assert r.code == 0, r
    assert "Deleted 5 events that were waiting to be sent." in r.out
    assert spool.waiting().events == 0 and spool.segments() == []


def test_enable_keeps_what_waits(strict_world: World):
    world = strict_world  # dbt refuses `enable` (--global): it never reads that file
    spool = _waiting(world, 2)
    assert world.run("enable").code == 0
    assert spool.waiting().events == 2


def test_reset_deletes_what_waits_with_the_id(world: World):
    world.write_anonymous_id()
    spool = _waiting(world, 4)

    r = world.run("reset")

    assert r.code == 0, r
    assert "Deleted 4 events" in r.out
    assert spool.segments() == []


def test_upload_sends_what_waits_now(world: World):
    with Collector() as collector:
        spool = _waiting(world, 6, collector.url)

        r = world.run("upload", "--wait", "20")

        assert r.code == 0, r
        assert "Sent 6 of 6 waiting events" in r.out
        assert collector.totals() == {
            "total": 6,
            "good": 6,
            "bad": 0,
            "duplicates": 0,
            "evicted": 0,
        }
    assert spool.waiting().events == 0


def test_upload_against_a_dead_collector_says_they_still_wait(world: World):
    with FaultServer("refused") as dead:
        spool = _waiting(world, 3, dead.url)
        r = world.run("upload", "--wait", "5")
    assert r.code == 0, r
    assert "Sent 0 of 3" in r.out and "3 events still wait" in r.out and "no answer" in r.out
    assert spool.waiting().events == 3
    status = flat(world.run("status", COLUMNS="200").out)
    assert "Waiting to be sent: 3 events" in status and "the next attempt is after" in status


def test_upload_with_nothing_waiting_says_so_and_writes_nothing(world: World):
    r = world.run("upload")
    assert r.code == 0 and "Nothing is waiting to be sent for dbt." in r.out
    assert not world.state_dir().exists()


def test_upload_refuses_a_bad_wait(world: World):
    r = world.run("upload", "--wait", "soon")
    assert r.code == 2 and "Traceback" not in r.err


def test_status_json_of_a_spool_is_json(world: World):
    _waiting(world, 1)
    assert json.loads(world.run("status", "--json").out)["waiting"]["events"] == 1
