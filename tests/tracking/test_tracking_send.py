"""The real tracker, in a real host process, against the real local collector on loopback.

What a user cares about: the events arrive (delivered by the detached uploader after the host
exits) and are valid (Snowplow's payload_data and our schemas, checked by the collector), and
nothing identifying leaves the machine — no model names, no SQL, no project name, no paths, no
user names — neither on the wire nor in the log.
"""

from __future__ import annotations

import getpass
import json
import re
import socket

from tests.support.tracking import DELIVER_S, HOST_BOUND_S, everything_sent
from tracking.state import read_anonymous_id, read_log

EVENTS = "iglu:dev.telemetry-consent/{}/jsonschema/1-0-0"
#: The invocation context: 1-0-1 since its anonymous id may be a CI vendor's constant.
INVOCATION = "iglu:dev.telemetry-consent/invocation/jsonschema/1-0-1"


def test_a_run_arrives_whole_valid_and_anonymous(tracking_world, collector):
    world = tracking_world
    # Markers a leak would carry: in the SQL and model names (the host puts MARKER there), the
    # project name, the project's path, the user's name and home.
    project_dir = world.root / "PATHMARKER_dir" / "proj"
    project_dir.mkdir(parents=True)
    (project_dir / "testapp_project.yml").write_text("name: PROJMARKER_name\n")
    world.project = project_dir
    world.acknowledge()
    env = {
        "HOST_MARKER": "SQLMARKER",
        "HOST_PROJECT": "PROJMARKER_name",
        "USER": "USERMARKER",
        "LOGNAME": "USERMARKER",
    }

    run = world.run_host(env=env)

    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert run.elapsed_s < HOST_BOUND_S
    assert run.report["plan"] == "record" and run.report["delivery"] == "detached"
    assert run.report["heavy_imported"] == []  # recording is standard library and our code
    assert collector.wait_for(total=52, timeout=DELIVER_S)
    assert world.wait_delivered()
    assert collector.totals() == {
        "total": 52,
        "good": 52,
        "bad": 0,
        "duplicates": 0,
        "evicted": 0,
    }, collector.bad()[:1]

    good = collector.good()[::-1]  # in the order sent
    names = [e["schema"] for e in good]
    assert names[0] == EVENTS.format("invocation_start")
    assert names[-1] == EVENTS.format("invocation_end")
    assert names.count(EVENTS.format("model_run")) == 50
    end = good[-1]["event"]["unstruct_event"]["data"]["data"]
    assert end["command"] == "run" and end["success"] is True
    assert end["node_counts"] == {"model": 50}
    for event in good:
        contexts = {c["schema"]: c["data"] for c in event["event"]["contexts"]["data"]}
        assert set(contexts) == {EVENTS.format("platform"), INVOCATION}
        invocation = contexts[INVOCATION]
        assert invocation["anonymous_user_id"] == read_anonymous_id(world.tracked_profile())
        assert re.fullmatch(r"[0-9a-f]{64}", invocation["project_id"])
        # payload_data wants strings
        assert all(isinstance(v, str) for v in event["rawEvent"]["parameters"].values())
    # One invocation id for the whole run; a distinct key per distinct model.
    assert (
        len(
            {
                c["data"]["invocation_id"]
                for e in good
                for c in e["event"]["contexts"]["data"]
                if c["schema"] == INVOCATION
            }
        )
        == 1
    )
    keys = [
        e["event"]["unstruct_event"]["data"]["data"]["model_key"]
        for e in good
        if e["schema"] == EVENTS.format("model_run")
    ]
    assert len(set(keys)) == 50

    sent = everything_sent(collector)
    log_text = (world.state_dir() / "events.log").read_text()
    forbidden = [
        "SQLMARKER",
        "PROJMARKER",
        "PATHMARKER",
        "USERMARKER",
        "select *",
        str(world.home),
        str(world.root),
    ]
    hostname = socket.gethostname()
    if len(hostname) >= 6:
        forbidden.append(hostname)
    if len(getpass.getuser()) >= 6:
        forbidden.append(getpass.getuser())
    for marker in forbidden:
        assert marker not in sent, f"{marker!r} reached the collector"
        assert marker not in log_text, f"{marker!r} is in the local log"


def test_the_local_log_holds_exactly_what_was_sent(tracking_world, collector):
    world = tracking_world
    world.acknowledge()

    run = world.run_host(env={"HOST_MODELS": "3"})

    assert run.returncode == 0 and run.stderr == ""
    assert collector.wait_for(good=5, timeout=DELIVER_S)
    assert world.wait_delivered()
    logged = read_log(world.tracked_profile(), last=100)
    assert len(logged) == 5
    good = collector.good()[::-1]  # in the order sent
    for record, event in zip(logged, good, strict=True):
        assert set(record) == {"sent_at", "event", "schema", "data", "contexts"}
        assert record["schema"] == event["schema"]
        assert record["data"] == event["event"]["unstruct_event"]["data"]["data"]
        assert record["contexts"] == event["event"]["contexts"]["data"]
    # Nothing else was written: the id, the secret, the notice mark, the log and the spool (now
    # holding only its lock and its state: no event waits).
    assert sorted(p.name for p in world.state_dir().iterdir()) == [
        "anonymous_id",
        "events.log",
        "notice_acknowledged",
        "secret",
        "spool",
    ]
    assert sorted(p.name for p in (world.state_dir() / "spool").iterdir()) == [
        "state.json",
        "upload.lock",
    ]
    for path in world.state_dir().rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
    assert oct((world.state_dir() / "secret").stat().st_mode & 0o777) == "0o600"
    secret = (world.state_dir() / "secret").read_text().strip()
    assert secret not in everything_sent(collector)
    assert secret not in json.dumps(logged)


def test_the_host_failing_still_ends_the_invocation_and_keeps_its_exit_code(
    tracking_world, collector
):
    world = tracking_world
    world.acknowledge()

    run = world.run_host(env={"HOST_MODELS": "2", "HOST_FAIL": "1"})

    assert run.returncode == 3
    assert run.stderr == ""
    assert collector.wait_for(good=4, timeout=DELIVER_S)
    end = collector.good()[0]["event"]["unstruct_event"]["data"]["data"]
    assert end["success"] is False and end["node_counts"] == {"model": 2}
