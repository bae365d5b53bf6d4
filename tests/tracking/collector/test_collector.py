"""The local collector, driven over real loopback sockets by the real Snowplow tracker."""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from snowplow_tracker import AsyncEmitter, Emitter, SelfDescribingJson, Tracker
from snowplow_tracker.events import PageView, SelfDescribing, StructuredEvent

from tracking.collector import TP2_PATH, Collector, SchemaRegistry
from tracking.collector.validate import decode_base64url

REPO = Path(__file__).resolve().parents[3]
SIGNUP = "iglu:acme.test/signup/jsonschema/1-0-0"
TEAM = "iglu:acme.test/team/jsonschema/1-0-0"
PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
TIMEOUT = 5.0


def _write_schema(root: Path, uri: str, body: dict) -> None:
    vendor, name, fmt, version = uri.removeprefix("iglu:").split("/")
    path = root / vendor / name / fmt / version
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = {
        "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
        "self": {"vendor": vendor, "name": name, "format": fmt, "version": version},
        **body,
    }
    path.write_text(json.dumps(schema), encoding="utf-8")


@pytest.fixture(autouse=True)
def _quiet_tracker() -> None:
    logging.getLogger("snowplow_tracker").setLevel(logging.WARNING)


@pytest.fixture
def schema_root(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    _write_schema(
        root,
        SIGNUP,
        {
            "type": "object",
            "properties": {
                "plan": {"type": "string", "enum": ["free", "pro"]},
                "seats": {"type": "integer", "minimum": 1},
            },
            "required": ["plan"],
            "additionalProperties": False,
        },
    )
    _write_schema(
        root,
        TEAM,
        {
            "type": "object",
            "properties": {"size": {"type": "integer"}},
            "additionalProperties": False,
        },
    )
    return root


@pytest.fixture
def collector(schema_root: Path):
    with Collector(schema_roots=[schema_root]) as running:
        yield running


def _tracker(collector: Collector, *, method: str = "post", encode_base64: bool = True) -> Tracker:
    emitter = Emitter(
        collector.url.removeprefix("http://"),
        protocol="http",
        method=method,
        batch_size=1,
        request_timeout=TIMEOUT,
    )
    return Tracker("tests", emitter, app_id="collector-tests", encode_base64=encode_base64)


def _signup(data: dict, contexts: list[SelfDescribingJson] | None = None) -> SelfDescribing:
    return SelfDescribing(SelfDescribingJson(SIGNUP, data), context=contexts)


def _micro(collector: Collector, route: str, **kwargs) -> object:
    response = requests.get(f"{collector.url}/micro/{route}", timeout=TIMEOUT, **kwargs)
    assert response.status_code == 200
    return response.json()


# -- good events ----------------------------------------------------------------


def test_a_tracked_self_describing_event_shows_in_micro_good_decoded(collector: Collector) -> None:
    tracker = _tracker(collector)
    event_id = tracker.track(
        _signup({"plan": "pro", "seats": 3}, [SelfDescribingJson(TEAM, {"size": 7})])
    )

    assert _micro(collector, "all") == {"total": 1, "good": 1, "bad": 0}
    [good] = _micro(collector, "good")
    assert good["schema"] == SIGNUP
    assert good["eventType"] == "unstruct"
    assert good["unstruct_event"]["data"] == {"schema": SIGNUP, "data": {"plan": "pro", "seats": 3}}
    assert good["contexts"] == [{"schema": TEAM, "data": {"size": 7}}]
    raw = good["event"]
    assert raw["e"] == "ue" and raw["eid"] == event_id and raw["aid"] == "collector-tests"
    assert "ue_px" in raw and "cx" in raw  # the tracker base64-encodes by default
    assert good["method"] == "POST"
    assert collector.good() == [good]


def test_unencoded_ue_pr_and_co_are_decoded_too(collector: Collector) -> None:
    tracker = _tracker(collector, encode_base64=False)
    tracker.track(_signup({"plan": "free"}, [SelfDescribingJson(TEAM, {"size": 1})]))

    [good] = collector.good()
    assert "ue_pr" in good["event"] and "co" in good["event"]
    assert good["unstruct_event"]["data"]["data"] == {"plan": "free"}
    assert good["contexts"][0]["data"] == {"size": 1}


def test_events_without_self_describing_parts_are_good(collector: Collector) -> None:
    tracker = _tracker(collector)
    tracker.track(StructuredEvent("cli", "run"))
    tracker.track(PageView("https://example.invalid/"))

    assert [g["eventType"] for g in collector.good()] == ["struct", "page_view"]
    assert all(g["schema"] is None and g["unstruct_event"] is None for g in collector.good())


def test_our_own_schemas_under_tracking_schemas_are_a_default_root(tmp_path: Path) -> None:
    registry = SchemaRegistry([tmp_path / "absent"])
    assert registry.roots[:2] == (
        REPO / "tracking" / "iglu" / "schemas",
        REPO / "tracking" / "schemas",
    )
    assert registry.errors(PAYLOAD_DATA, [{"e": "pv", "p": "pc", "tv": "t"}]) == []
    assert registry.errors("iglu:acme.test/x/jsonschema/1-0-0", {}) == [
        "schema not found: iglu:acme.test/x/jsonschema/1-0-0"
    ]


# -- bad events -----------------------------------------------------------------


def test_inner_data_violating_its_schema_lands_in_micro_bad_with_reasons(
    collector: Collector,
) -> None:
    tracker = _tracker(collector)
    tracker.track(_signup({"plan": "enterprise", "seats": 0}))

    assert collector.totals() == {"total": 1, "good": 0, "bad": 1}
    [bad] = _micro(collector, "bad")
    assert bad["event"]["e"] == "ue" and "ue_px" in bad["event"]
    assert bad["raw"] is None
    assert len(bad["errors"]) == 2
    assert all(e.startswith(f"invalid against {SIGNUP}: ") for e in bad["errors"])
    assert any("data.plan" in e for e in bad["errors"]) and any(
        "data.seats" in e for e in bad["errors"]
    )


def test_an_invalid_context_makes_the_event_bad(collector: Collector) -> None:
    _tracker(collector).track(_signup({"plan": "pro"}, [SelfDescribingJson(TEAM, {"size": "big"})]))

    [bad] = collector.bad()
    assert bad["errors"] == [f"invalid against {TEAM}: data.size must be integer"]


def test_an_unknown_schema_is_bad_with_schema_not_found(collector: Collector) -> None:
    unknown = "iglu:acme.test/never_written/jsonschema/1-0-0"
    _tracker(collector).track(SelfDescribing(SelfDescribingJson(unknown, {"a": 1})))
    _tracker(collector).track(StructuredEvent("c", "a", context=[SelfDescribingJson(unknown, {})]))

    assert [b["errors"] for b in collector.bad()] == [[f"schema not found: {unknown}"]] * 2


def test_a_non_json_body_is_bad_and_the_collector_keeps_working(collector: Collector) -> None:
    response = requests.post(collector.url + TP2_PATH, data=b"{not json", timeout=TIMEOUT)
    assert response.status_code == 200

    [bad] = collector.bad()
    assert bad["event"] is None and bad["raw"] == "{not json"
    assert bad["errors"][0].startswith("request body is not valid JSON")

    _tracker(collector).track(_signup({"plan": "pro"}))
    assert collector.totals() == {"total": 2, "good": 1, "bad": 1}


def test_a_body_that_is_not_payload_data_makes_each_event_bad(collector: Collector) -> None:
    events = [{"e": "pv", "p": "pc", "tv": "t"}, {"e": "se", "p": "pc", "tv": "t"}]
    body = {
        "schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
        "data": events,
    }
    requests.post(collector.url + TP2_PATH, json=body, timeout=TIMEOUT)

    bad = collector.bad()
    assert [b["event"] for b in bad] == events
    assert all("expected " + PAYLOAD_DATA in b["errors"][0] for b in bad)


def test_a_batch_violating_payload_data_rejects_every_event_naming_the_culprit(
    collector: Collector,
) -> None:
    fine = {"e": "pv", "p": "pc", "tv": "t"}
    broken = {"e": "pv", "p": "pc", "tv": "t", "nonsense": "x", "dtm": 17}
    requests.post(
        collector.url + TP2_PATH,
        json={"schema": PAYLOAD_DATA, "data": [fine, broken]},
        timeout=TIMEOUT,
    )

    first, second = collector.bad()
    assert first["event"] == fine and first["errors"][0].startswith("rejected with its batch")
    assert second["event"] == broken
    assert any("dtm" in e for e in second["errors"]) and any(
        "nonsense" in e for e in second["errors"]
    )
    assert collector.totals() == {"total": 2, "good": 0, "bad": 2}


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"e": "ue", "p": "pc", "tv": "t"}, "e=ue event has neither ue_pr nor ue_px"),
        ({"e": "ue", "p": "pc", "tv": "t", "ue_px": "!!!"}, "ue_px: not valid base64url"),
        ({"e": "ue", "p": "pc", "tv": "t", "ue_pr": "{"}, "ue_pr: not valid JSON"),
        (
            {
                "e": "pv",
                "p": "pc",
                "tv": "t",
                "co": '{"schema": "iglu:a/b/jsonschema/1-0-0", "data": []}',
            },
            "co/cx: wrapper schema",
        ),
        ({"p": "pc", "tv": "t"}, f"invalid against {PAYLOAD_DATA}"),
    ],
)
def test_malformed_tracker_parameters_are_bad(
    collector: Collector, params: dict, reason: str
) -> None:
    requests.get(f"{collector.url}/i?{urlencode(params)}", timeout=TIMEOUT)

    [bad] = collector.bad()
    assert bad["event"] == params
    assert any(e.startswith(reason) for e in bad["errors"]), bad["errors"]


def test_a_schema_whose_self_disagrees_with_its_path_is_refused(schema_root: Path) -> None:
    wrong = schema_root / "acme.test" / "renamed" / "jsonschema" / "1-0-0"
    wrong.parent.mkdir(parents=True)
    wrong.write_text((schema_root / "acme.test" / "signup" / "jsonschema" / "1-0-0").read_text())

    errors = SchemaRegistry([schema_root]).errors(
        "iglu:acme.test/renamed/jsonschema/1-0-0", {"plan": "pro"}
    )
    assert (
        len(errors) == 1
        and "declares itself as iglu:acme.test/signup/jsonschema/1-0-0" in errors[0]
    )


# -- the GET pixel ---------------------------------------------------------------


def test_a_get_pixel_event_is_collected_and_answered_with_a_gif(collector: Collector) -> None:
    _tracker(collector, method="get").track(
        _signup({"plan": "pro"}, [SelfDescribingJson(TEAM, {"size": 2})])
    )

    [good] = collector.good()
    assert good["method"] == "GET" and good["schema"] == SIGNUP
    assert good["contexts"] == [{"schema": TEAM, "data": {"size": 2}}]

    response = requests.get(f"{collector.url}/i?e=pv&p=pc&tv=t", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/gif" and response.content.startswith(
        b"GIF89a"
    )


def test_ue_px_without_padding_and_with_the_standard_alphabet_decodes(collector: Collector) -> None:
    ue = {
        "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
        "data": {"schema": SIGNUP, "data": {"plan": "pro", "seats": 22}},
    }
    encoded = base64.urlsafe_b64encode(json.dumps(ue).encode()).decode().rstrip("=")
    assert len(encoded) % 4  # really unpadded
    requests.get(
        f"{collector.url}/i?" + urlencode({"e": "ue", "p": "pc", "tv": "t", "ue_px": encoded}),
        timeout=TIMEOUT,
    )

    [good] = collector.good()
    assert good["unstruct_event"] == ue
    assert decode_base64url(base64.b64encode(b"\xfb\xff").decode()) == b"\xfb\xff"


# -- the Micro API ---------------------------------------------------------------


def test_micro_reset_clears_everything(collector: Collector) -> None:
    tracker = _tracker(collector)
    tracker.track(_signup({"plan": "pro"}))
    tracker.track(_signup({"plan": "nope"}))
    assert collector.totals()["total"] == 2

    assert _micro(collector, "reset") == {"total": 0, "good": 0, "bad": 0}
    assert _micro(collector, "good") == [] and _micro(collector, "bad") == []
    tracker.track(_signup({"plan": "pro"}))
    reply = requests.post(f"{collector.url}/micro/reset", timeout=TIMEOUT)
    assert reply.json() == {"total": 0, "good": 0, "bad": 0} and collector.totals()["total"] == 0


def test_micro_good_filters_like_snowplow_micro(collector: Collector) -> None:
    tracker = _tracker(collector)
    tracker.track(_signup({"plan": "pro"}, [SelfDescribingJson(TEAM, {"size": 1})]))
    tracker.track(StructuredEvent("cli", "run"))
    tracker.track(_signup({"plan": "free"}))

    assert len(_micro(collector, "good", params={"schema": SIGNUP})) == 2
    assert len(_micro(collector, "good", params={"event_type": "struct"})) == 1
    assert len(_micro(collector, "good", params={"event_type": "se"})) == 1
    [latest] = _micro(collector, "good", params={"limit": 1})
    assert latest["unstruct_event"]["data"]["data"] == {"plan": "free"}
    posted = requests.post(
        f"{collector.url}/micro/good", json={"contexts": [TEAM]}, timeout=TIMEOUT
    ).json()
    assert [g["unstruct_event"]["data"]["data"]["plan"] for g in posted] == ["pro"]
    assert requests.get(f"{collector.url}/micro/good?limit=x", timeout=TIMEOUT).status_code == 400
    assert requests.get(f"{collector.url}/micro/nothing", timeout=TIMEOUT).status_code == 404


def test_micro_iglu_serves_the_schemas_the_collector_uses(collector: Collector) -> None:
    reply = requests.get(
        f"{collector.url}/micro/iglu/acme.test/signup/jsonschema/1-0-0", timeout=TIMEOUT
    )
    assert reply.status_code == 200 and reply.json()["self"]["name"] == "signup"
    missing = requests.get(
        f"{collector.url}/micro/iglu/acme.test/nope/jsonschema/1-0-0", timeout=TIMEOUT
    )
    assert missing.status_code == 404


def test_the_store_is_bounded_but_totals_keep_counting(schema_root: Path) -> None:
    with Collector(schema_roots=[schema_root], max_events=2) as small:
        events = [
            {"e": "se", "p": "pc", "tv": "t", "se_ca": str(i), "se_ac": "a"} for i in range(5)
        ]
        requests.post(
            small.url + TP2_PATH, json={"schema": PAYLOAD_DATA, "data": events}, timeout=TIMEOUT
        )
        assert small.totals() == {"total": 5, "good": 5, "bad": 0}
        assert [g["event"]["se_ca"] for g in small.good()] == ["3", "4"]


def test_cors_preflight_is_answered(collector: Collector) -> None:
    reply = requests.options(
        collector.url + TP2_PATH,
        headers={
            "Origin": "http://example.invalid",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=TIMEOUT,
    )
    assert reply.status_code == 200
    assert reply.headers["Access-Control-Allow-Origin"] == "http://example.invalid"
    assert reply.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in reply.headers["Access-Control-Allow-Methods"]


def test_wait_for_sees_events_from_an_asynchronous_emitter(collector: Collector) -> None:
    emitter = AsyncEmitter(collector.url, batch_size=1, request_timeout=TIMEOUT)
    Tracker("tests", emitter).track(_signup({"plan": "pro"}))
    assert collector.wait_for(good=1, timeout=10)
    assert not collector.wait_for(total=2, timeout=0.2)


# -- lifecycle and safety ----------------------------------------------------------


def test_only_loopback_unless_asked_explicitly() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Collector(host="0.0.0.0")
    with pytest.raises(RuntimeError):
        Collector().url  # noqa: B018 (not started)


def test_stop_does_not_hang_on_idle_keep_alive_connections(schema_root: Path) -> None:
    collector = Collector(schema_roots=[schema_root]).start()
    port = collector.port
    session = requests.Session()
    assert session.get(f"{collector.url}/micro/all", timeout=TIMEOUT).status_code == 200
    started = time.monotonic()
    collector.stop()
    assert time.monotonic() - started < 10
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    session.close()


def test_a_body_over_the_limit_is_refused_and_recorded(schema_root: Path) -> None:
    with Collector(schema_roots=[schema_root], max_body_bytes=100) as small:
        reply = requests.post(small.url + TP2_PATH, data=b"x" * 1000, timeout=TIMEOUT)
        assert reply.status_code == 413
        [bad] = small.bad()
        assert bad["errors"][0].startswith("request body too large")


def test_the_collector_runs_as_its_own_process(tmp_path: Path, schema_root: Path) -> None:
    ready = tmp_path / "ready"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracking.collector",
            "--port",
            "0",
            "--ready-file",
            str(ready),
            "--schema-root",
            str(schema_root),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "collector process never became ready"
            time.sleep(0.05)
        url = ready.read_text()
        assert url.startswith("http://127.0.0.1:")

        emitter = Emitter(url, method="post", batch_size=1, request_timeout=TIMEOUT)
        Tracker("tests", emitter).track(_signup({"plan": "pro"}))
        [good] = requests.get(f"{url}/micro/good", timeout=TIMEOUT).json()
        assert good["unstruct_event"]["data"]["data"] == {"plan": "pro"}
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert out == b"" and err == b""  # quiet without --verbose


def test_absurdly_nested_json_is_a_bad_event_not_a_dropped_request(collector: Collector) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    assert requests.post(collector.url + TP2_PATH, data=body, timeout=TIMEOUT).status_code == 200
    [bad] = collector.bad()
    assert "nested too deeply" in bad["errors"][0]
