"""`telemetry events` shows what the tracker really uses; `telemetry collector` really collects."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request

import fastjsonschema

from tracking.catalog import DEFAULT_CATALOG


def test_events_json_is_the_tracker_catalog_and_every_example_is_valid(world):
    r = world.run("events", "--json")

    assert r.code == 0, r
    doc = r.json()
    shown = {spec["schema"] for spec in doc["events"] + doc["contexts"]}
    assert shown == {spec.iglu_uri for spec in DEFAULT_CATALOG}, "generated, never hand-kept"
    for spec in doc["events"] + doc["contexts"]:
        real = DEFAULT_CATALOG.get(spec["name"])
        schema = {k: v for k, v in real.schema().items() if k not in ("$schema", "self")}
        fastjsonschema.compile(schema)(spec["example"])  # the example is a valid payload
        assert {f["name"] for f in spec["fields"]} == set(schema["properties"])
        assert all(f["type"] and f["description"] for f in spec["fields"]), spec["name"]


def test_events_text_names_every_event_context_and_field(world):
    r = world.run("events", COLUMNS="100")

    assert r.code == 0, r
    for spec in DEFAULT_CATALOG:
        assert spec.iglu_uri in r.out
        for field in spec.fields():
            assert field["name"] in r.out
    assert "never" in r.out.lower() or "No IP-derived" in r.out


def test_events_for_an_unknown_app_exits_2(world):
    r = world.run("events", "--app", "nope")

    assert r.code == 2 and "dbt" in r.err


def test_collector_command_listens_on_loopback_collects_and_stops_on_sigterm(world):
    proc = subprocess.Popen(
        [sys.executable, "-m", "telemetry_cli", "collector", "--port", "0"],
        env=world.env_with(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        url = line.split("listening on ", 1)[1].split(" ", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/micro/all", timeout=5) as resp:
            assert json.load(resp) == {
                "total": 0,
                "good": 0,
                "bad": 0,
                "duplicates": 0,
                "evicted": 0,
            }
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "Traceback" not in out + err


def test_collector_on_a_busy_port_is_one_line_and_exit_2(world):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = world.run("collector", "--port", str(port))

    assert r.code == 2
    assert len(r.err.strip().splitlines()) == 1 and "--port" in r.err
