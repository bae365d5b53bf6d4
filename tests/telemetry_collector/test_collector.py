"""The local collector, driven over real loopback sockets by the real Snowplow tracker."""

from __future__ import annotations

import base64
import json
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

from telemetry_collector import TP2_PATH, Collector, SchemaRegistry
from telemetry_collector.validate import decode_base64url
from tests.telemetry_collector.micro_kit import (
    PAYLOAD_DATA,
    SIGNUP,
    TEAM,
    TIMEOUT,
    check_bad,
    check_good,
    context_entities,
    signup,
    snowplow_tracker,
    unstruct_data,
)

REPO = Path(__file__).resolve().parents[2]


def _micro(collector: Collector, route: str, **kwargs) -> object:
    response = requests.get(f"{collector.url}/micro/{route}", timeout=TIMEOUT, **kwargs)
    assert response.status_code == 200
    return response.json()


def _post_tp2(collector: Collector, body: bytes | dict, **kwargs) -> requests.Response:
    """A tp2 POST as a tracker sends it (JSON, ``application/json; charset=utf-8``)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", **kwargs.pop("headers", {})}
    return requests.post(
        collector.url + TP2_PATH, data=data, headers=headers, timeout=TIMEOUT, **kwargs
    )


# -- good events ----------------------------------------------------------------


def test_a_tracked_self_describing_event_shows_in_micro_good_decoded(collector: Collector) -> None:
    tracker = snowplow_tracker(collector)
    event_id = tracker.track(
        signup({"plan": "pro", "seats": 3}, [SelfDescribingJson(TEAM, {"size": 7})])
    )

    assert _micro(collector, "all") == {
        "total": 1,
        "good": 1,
        "bad": 0,
        "duplicates": 0,
        "evicted": 0,
    }
    [good] = _micro(collector, "good")
    check_good([good])
    assert good["schema"] == SIGNUP
    assert good["eventType"] == "unstruct"
    assert good["contexts"] == [TEAM]
    assert good["event"]["unstruct_event"]["data"] == {
        "schema": SIGNUP,
        "data": {"plan": "pro", "seats": 3},
    }
    assert context_entities(good) == [{"schema": TEAM, "data": {"size": 7}}]
    assert good["event"]["event_id"] == event_id and good["event"]["app_id"] == "collector-tests"
    raw = good["rawEvent"]["parameters"]
    assert raw["e"] == "ue" and raw["eid"] == event_id and raw["aid"] == "collector-tests"
    assert "ue_px" in raw and "cx" in raw  # the tracker base64-encodes by default
    assert good["rawEvent"]["api"] == {"vendor": "com.snowplowanalytics.snowplow", "version": "tp2"}
    assert collector.good() == [good]


def test_unencoded_ue_pr_and_co_are_decoded_too(collector: Collector) -> None:
    tracker = snowplow_tracker(collector, encode_base64=False)
    tracker.track(signup({"plan": "free"}, [SelfDescribingJson(TEAM, {"size": 1})]))

    [good] = collector.good()
    check_good([good])
    assert "ue_pr" in good["rawEvent"]["parameters"] and "co" in good["rawEvent"]["parameters"]
    assert unstruct_data(good) == {"plan": "free"}
    assert context_entities(good)[0]["data"] == {"size": 1}


def test_events_without_self_describing_parts_are_good(collector: Collector) -> None:
    tracker = snowplow_tracker(collector)
    tracker.track(StructuredEvent("cli", "run"))
    tracker.track(PageView("https://example.invalid/"))

    good = collector.good()
    check_good(good)
    assert [g["eventType"] for g in good] == ["page_view", "struct"]  # newest first
    # Enrich gives built-in events a schema of their own (Micro reports it too).
    assert [g["schema"] for g in good] == [
        "iglu:com.snowplowanalytics.snowplow/page_view/jsonschema/1-0-0",
        "iglu:com.google.analytics/event/jsonschema/1-0-0",
    ]
    assert all(g["event"]["unstruct_event"] is None and g["contexts"] == [] for g in good)


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
    tracker = snowplow_tracker(collector)
    tracker.track(signup({"plan": "enterprise", "seats": 0}))

    assert collector.totals()["bad"] == 1 and collector.totals()["good"] == 0
    [bad] = _micro(collector, "bad")
    check_bad([bad])
    params = bad["rawEvent"]["parameters"]
    assert params["e"] == "ue" and "ue_px" in params
    assert bad["collectorPayload"]["api"]["version"] == "tp2"
    assert json.loads(bad["collectorPayload"]["body"])["data"][0] == params
    assert len(bad["errors"]) == 2
    assert all(e.startswith(f"invalid against {SIGNUP}: ") for e in bad["errors"])
    assert any("data.plan" in e for e in bad["errors"]) and any(
        "data.seats" in e for e in bad["errors"]
    )


def test_an_invalid_context_makes_the_event_bad(collector: Collector) -> None:
    snowplow_tracker(collector).track(
        signup({"plan": "pro"}, [SelfDescribingJson(TEAM, {"size": "big"})])
    )

    [bad] = collector.bad()
    assert bad["errors"] == [f"invalid against {TEAM}: data.size must be integer"]


def test_an_unknown_schema_is_bad_with_schema_not_found(collector: Collector) -> None:
    unknown = "iglu:acme.test/never_written/jsonschema/1-0-0"
    snowplow_tracker(collector).track(SelfDescribing(SelfDescribingJson(unknown, {"a": 1})))
    snowplow_tracker(collector).track(
        StructuredEvent("c", "a", context=[SelfDescribingJson(unknown, {})])
    )

    assert [b["errors"] for b in collector.bad()] == [[f"schema not found: {unknown}"]] * 2


def test_a_non_json_body_is_bad_and_the_collector_keeps_working(collector: Collector) -> None:
    response = _post_tp2(collector, b"{not json")
    assert response.status_code == 200

    [bad] = collector.bad()
    check_bad([bad])
    assert bad["rawEvent"] is None and bad["collectorPayload"]["body"] == "{not json"
    assert bad["errors"][0].startswith("request body is not valid JSON")

    snowplow_tracker(collector).track(signup({"plan": "pro"}))
    assert collector.totals()["total"] == 2 and collector.totals()["good"] == 1


def test_a_body_not_sent_as_json_is_bad_naming_the_content_type(collector: Collector) -> None:
    body = {"schema": PAYLOAD_DATA, "data": [{"e": "pv", "p": "pc", "tv": "t"}]}
    requests.post(
        collector.url + TP2_PATH,
        data=json.dumps(body),
        timeout=TIMEOUT,
        headers={"Content-Type": "text/plain"},
    )
    requests.post(collector.url + TP2_PATH, data=json.dumps(body), timeout=TIMEOUT)

    missing, text = collector.bad()
    check_bad([missing, text])
    assert text["errors"][0].startswith(
        "contentType: 'text/plain', expected one of application/json"
    )
    assert missing["errors"][0].startswith("contentType: missing, expected one of")
    assert missing["collectorPayload"]["contentType"] is None


def test_a_body_that_is_not_payload_data_makes_each_event_bad(collector: Collector) -> None:
    events = [{"e": "pv", "p": "pc", "tv": "t"}, {"e": "se", "p": "pc", "tv": "t"}]
    body = {
        "schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
        "data": events,
    }
    _post_tp2(collector, body)

    bad = collector.bad()
    check_bad(bad)
    assert [b["rawEvent"]["parameters"] for b in bad] == events[::-1]
    assert all("expected " + PAYLOAD_DATA in b["errors"][0] for b in bad)


def test_a_batch_violating_payload_data_rejects_every_event_naming_the_culprit(
    collector: Collector,
) -> None:
    fine = {"e": "pv", "p": "pc", "tv": "t"}
    broken = {"e": "pv", "p": "pc", "tv": "t", "nonsense": "x", "dtm": 17}
    _post_tp2(collector, {"schema": PAYLOAD_DATA, "data": [fine, broken]})

    second, first = collector.bad()
    check_bad([first, second])
    assert first["rawEvent"]["parameters"] == fine
    assert first["errors"][0].startswith("rejected with its batch")
    # A value that is not a string is shown as JSON text, as the parameters are strings.
    assert second["rawEvent"]["parameters"] == {**broken, "dtm": "17"}
    assert any("dtm" in e for e in second["errors"]) and any(
        "nonsense" in e for e in second["errors"]
    )
    assert collector.totals()["bad"] == 2 and collector.totals()["good"] == 0


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
        # Atomic fields, refused as Snowplow's Enrich refuses them: parameter, value and field.
        ({"e": "xx", "p": "pc", "tv": "t"}, "e: 'xx' is not a valid event type"),
        ({"e": "ad", "p": "pc", "tv": "t"}, "e: 'ad' (ad_impression) has no event schema"),
        ({"e": "pv", "p": "desktop", "tv": "t"}, "p: 'desktop' is not a valid platform"),
        (
            {"e": "pv", "p": "pc", "tv": "t", "eid": "invalidEventId"},
            "eid: 'invalidEventId' is not a UUID (field event_id)",
        ),
        (
            {"e": "pv", "p": "pc", "tv": "t", "dtm": "yesterday"},
            "dtm: 'yesterday' is not in the expected format: ms since epoch "
            "(field dvce_created_tstamp)",
        ),
        ({"e": "pv", "p": "pc", "tv": "t", "vid": "1.5"}, "vid: '1.5' is not an integer"),
        ({"e": "se", "p": "pc", "tv": "t", "se_va": "lots"}, "se_va: 'lots' is not a number"),
        ({"e": "pv", "p": "pc", "tv": "t", "res": "wide"}, "res: 'wide' is not WIDTHxHEIGHT"),
        ({"e": "pv", "p": "pc", "tv": "t", "cookie": "yes"}, "cookie: 'yes' is not 0 or 1"),
    ],
)
def test_malformed_tracker_parameters_are_bad(
    collector: Collector, params: dict, reason: str
) -> None:
    requests.get(f"{collector.url}/i?{urlencode(params)}", timeout=TIMEOUT)

    [bad] = collector.bad()
    check_bad([bad])
    assert bad["rawEvent"]["parameters"] == params
    assert bad["collectorPayload"]["api"]["version"] == "tp1"
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
    snowplow_tracker(collector, method="get").track(
        signup({"plan": "pro"}, [SelfDescribingJson(TEAM, {"size": 2})])
    )

    [good] = collector.good()
    check_good([good])
    assert good["rawEvent"]["api"]["version"] == "tp1" and good["schema"] == SIGNUP
    assert good["rawEvent"]["contentType"] is None
    assert context_entities(good) == [{"schema": TEAM, "data": {"size": 2}}]

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
    assert good["event"]["unstruct_event"] == ue
    assert decode_base64url(base64.b64encode(b"\xfb\xff").decode()) == b"\xfb\xff"


# -- HTTP details (the Micro API itself: test_micro_api.py) ----------------------------


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
    Tracker("tests", emitter).track(signup({"plan": "pro"}))
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
        check_bad([bad])
        assert bad["errors"][0].startswith("request body too large")


def test_the_collector_runs_as_its_own_process(tmp_path: Path, schema_root: Path) -> None:
    ready = tmp_path / "ready"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "telemetry_collector",
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
        Tracker("tests", emitter).track(signup({"plan": "pro"}))
        [good] = requests.get(f"{url}/micro/good", timeout=TIMEOUT).json()
        assert unstruct_data(good) == {"plan": "pro"}
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert out == b"" and err == b""  # quiet without --verbose


def test_absurdly_nested_json_is_a_bad_event_not_a_dropped_request(collector: Collector) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    assert _post_tp2(collector, body).status_code == 200
    [bad] = collector.bad()
    assert "nested too deeply" in bad["errors"][0]
