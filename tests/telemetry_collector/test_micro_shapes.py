"""Entries match Snowplow Micro's shapes field by field, whoever sent the events.

Senders: Snowplow's own Python tracker (POST and GET emitters, base64 on and off) and ours
(``tracking.Tracker`` in a real host process).  Every entry is checked against the JSON Schemas
in micro_kit (written from Micro's and the Analytics SDK's sources), and the canonical fields
are checked against what the tracker really sent, converted as Snowplow's Enrich converts them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from snowplow_tracker import SelfDescribingJson
from snowplow_tracker.events import PageView, StructuredEvent

from telemetry_collector import TP2_PATH, Collector
from tests.telemetry_collector.micro_kit import (
    CONTEXTS,
    PAYLOAD_DATA,
    SIGNUP,
    TEAM,
    TIMEOUT,
    UNSTRUCT,
    check_bad,
    check_good,
    context_entities,
    signup,
    snowplow_tracker,
    unstruct_data,
)

SNOWPLOW = "com.snowplowanalytics.snowplow"


def _iso(ms: int | str) -> str:
    """What java.time.Instant prints for a millisecond timestamp."""
    moment = datetime.fromtimestamp(int(ms) / 1000, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{int(ms) % 1000:03d}Z" if int(ms) % 1000 else f"{text}Z"


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.mark.parametrize("encode_base64", [True, False], ids=["base64", "plain-json"])
@pytest.mark.parametrize("method", ["post", "get"])
def test_snowplows_tracker_events_are_micro_good_events_field_by_field(
    collector: Collector, method: str, encode_base64: bool
) -> None:
    sent: list[dict[str, Any]] = []
    tracker = snowplow_tracker(collector, method=method, encode_base64=encode_base64, sent=sent)
    ids = [
        tracker.track(signup({"plan": "pro", "seats": 3}, [SelfDescribingJson(TEAM, {"size": 7})])),
        tracker.track(StructuredEvent("cli", "run", label="fast", property_="x", value=2.5)),
        tracker.track(
            PageView(
                "https://docs.example.invalid:8443/a/b?q=1#top",
                "Docs",
                referrer="http://example.invalid/from",
            )
        ),
    ]

    good = collector.good()[::-1]  # in the order sent
    check_good(good)
    assert collector.bad() == [] and len(sent) == 3
    api_version = "tp2" if method == "post" else "tp1"
    for entry, params, event_id in zip(good, sent, ids, strict=True):
        raw, event = entry["rawEvent"], entry["event"]
        assert raw["api"] == {"vendor": SNOWPLOW, "version": api_version}
        assert raw["parameters"] == {k: str(v) for k, v in params.items()}
        assert raw["contentType"] == (
            "application/json; charset=utf-8" if method == "post" else None
        )
        assert raw["source"]["hostname"] == "127.0.0.1" and raw["source"]["encoding"] == "UTF-8"
        assert raw["context"]["ipAddress"] == "127.0.0.1"
        assert raw["context"]["useragent"].startswith("python-requests/")
        assert any(line.startswith("Host: 127.0.0.1:") for line in raw["context"]["headers"])
        assert event["event_id"] == event_id == params["eid"]
        assert (event["app_id"], event["platform"], event["name_tracker"]) == (
            "collector-tests",
            "pc",
            "tests",
        )
        assert event["v_tracker"] == params["tv"] and event["v_tracker"].startswith("py-")
        assert event["v_collector"] == event["v_etl"] == raw["source"]["name"]
        assert event["collector_tstamp"] == raw["context"]["timestamp"]
        assert event["dvce_created_tstamp"] == _iso(params["dtm"])
        assert event["dvce_sent_tstamp"] == _iso(params["stm"])
        delay = int(params["stm"]) - int(params["dtm"])
        collected = _ms(event["collector_tstamp"])
        assert event["derived_tstamp"] == _iso(collected - delay if delay > 0 else collected)
        assert event["user_ipaddress"] == "127.0.0.1"
        assert event["useragent"] == raw["context"]["useragent"]
        assert event["derived_contexts"] == {}
        assert entry["eventType"] == event["event"]

    signed, struct, page = good
    assert signed["eventType"] == "unstruct" and signed["schema"] == SIGNUP
    assert signed["contexts"] == [TEAM]
    assert signed["event"]["unstruct_event"] == {
        "schema": UNSTRUCT,
        "data": {"schema": SIGNUP, "data": {"plan": "pro", "seats": 3}},
    }
    assert signed["event"]["contexts"] == {
        "schema": CONTEXTS,
        "data": [{"schema": TEAM, "data": {"size": 7}}],
    }
    assert (
        signed["event"]["event_vendor"],
        signed["event"]["event_name"],
        signed["event"]["event_format"],
        signed["event"]["event_version"],
    ) == ("acme.test", "signup", "jsonschema", "1-0-0")

    assert struct["eventType"] == "struct" and struct["contexts"] == []
    assert struct["schema"] == "iglu:com.google.analytics/event/jsonschema/1-0-0"
    assert {
        k: struct["event"][k]
        for k in ("se_category", "se_action", "se_label", "se_property", "se_value")
    } == {
        "se_category": "cli",
        "se_action": "run",
        "se_label": "fast",
        "se_property": "x",
        "se_value": 2.5,
    }
    assert struct["event"]["unstruct_event"] is None and struct["event"]["contexts"] == {}

    assert page["eventType"] == "page_view"
    assert {
        k: page["event"][k]
        for k in (
            "page_url",
            "page_title",
            "page_urlscheme",
            "page_urlhost",
            "page_urlport",
            "page_urlpath",
            "page_urlquery",
            "page_urlfragment",
            "page_referrer",
            "refr_urlscheme",
            "refr_urlhost",
            "refr_urlport",
            "refr_urlpath",
        )
    } == {
        "page_url": "https://docs.example.invalid:8443/a/b?q=1#top",
        "page_title": "Docs",
        "page_urlscheme": "https",
        "page_urlhost": "docs.example.invalid",
        "page_urlport": 8443,
        "page_urlpath": "/a/b",
        "page_urlquery": "q=1",
        "page_urlfragment": "top",
        "page_referrer": "http://example.invalid/from",
        "refr_urlscheme": "http",
        "refr_urlhost": "example.invalid",
        "refr_urlport": 80,
        "refr_urlpath": "/from",
    }


def test_every_atomic_parameter_lands_in_its_canonical_field_converted(
    collector: Collector,
) -> None:
    params = {
        "e": "tr",
        "p": "srv",
        "tv": "t-1",
        "tna": "ns",
        "aid": "app",
        "uid": "ada",
        "eid": "5A305BF5-32FC-40D9-B0E8-66052F0F2C95",
        "tid": "42",
        "vid": "3",
        "sid": "0b7e2f3a-3f3e-4b1e-9a57-3d2e1c0b9a88",
        "duid": "d-1",
        "nuid": "n-1",
        "tnuid": "t-nuid",
        "fp": "1234",
        "ip": "10.0.0.9",
        "ua": "curl/8",
        "lang": "fr-FR",
        "cs": "UTF-8",
        "tz": "Europe/Paris",
        "cd": "24",
        "res": "1920x1080",
        "vp": "800x600",
        "ds": "1000x3000",
        "cookie": "1",
        "f_pdf": "0",
        "f_java": "1",
        "dtm": "1700000000000",
        "stm": "1700000000500",
        "ttm": "1699999999123",
        "tr_id": "o-1",
        "tr_tt": "12.50",
        "tr_tx": "1",
        "tr_sh": "0",
        "tr_cu": "EUR",
    }
    requests.get(f"{collector.url}/i?{urlencode(params)}", timeout=TIMEOUT)

    [entry] = collector.good()
    check_good([entry])
    event = entry["event"]
    assert event["event_id"] == "5a305bf5-32fc-40d9-b0e8-66052f0f2c95"  # lower-cased, as Enrich
    assert {
        k: event[k]
        for k in (
            "event",
            "platform",
            "txn_id",
            "domain_sessionidx",
            "domain_sessionid",
            "user_id",
            "domain_userid",
            "network_userid",
            "user_fingerprint",
            "user_ipaddress",
            "useragent",
            "br_lang",
            "doc_charset",
            "os_timezone",
            "br_colordepth",
            "dvce_screenwidth",
            "dvce_screenheight",
            "br_viewwidth",
            "br_viewheight",
            "doc_width",
            "doc_height",
            "br_cookies",
            "br_features_pdf",
            "br_features_java",
            "br_features_flash",
            "tr_orderid",
            "tr_total",
            "tr_tax",
            "tr_shipping",
            "tr_currency",
        )
    } == {
        "event": "transaction",
        "platform": "srv",
        "txn_id": 42,
        "domain_sessionidx": 3,
        "domain_sessionid": "0b7e2f3a-3f3e-4b1e-9a57-3d2e1c0b9a88",
        "user_id": "ada",
        "domain_userid": "d-1",
        "network_userid": "t-nuid",  # tnuid beats nuid
        "user_fingerprint": "1234",
        "user_ipaddress": "10.0.0.9",
        "useragent": "curl/8",
        "br_lang": "fr-FR",
        "doc_charset": "UTF-8",
        "os_timezone": "Europe/Paris",
        "br_colordepth": "24",
        "dvce_screenwidth": 1920,
        "dvce_screenheight": 1080,
        "br_viewwidth": 800,
        "br_viewheight": 600,
        "doc_width": 1000,
        "doc_height": 3000,
        "br_cookies": True,
        "br_features_pdf": False,
        "br_features_java": True,
        "br_features_flash": None,
        "tr_orderid": "o-1",
        "tr_total": 12.5,
        "tr_tax": 1.0,
        "tr_shipping": 0.0,
        "tr_currency": "EUR",
    }
    assert event["dvce_created_tstamp"] == "2023-11-14T22:13:20Z"  # a whole second: no fraction
    assert event["dvce_sent_tstamp"] == "2023-11-14T22:13:20.500Z"
    assert event["true_tstamp"] == event["derived_tstamp"] == "2023-11-14T22:13:19.123Z"
    assert entry["schema"] == f"iglu:{SNOWPLOW}/transaction/jsonschema/1-0-0"
    # What only an enrichment would fill stays null, as in Micro with enrichments off.
    assert all(
        event[k] is None
        for k in (
            "geo_country",
            "br_name",
            "os_name",
            "refr_medium",
            "mkt_source",
            "event_fingerprint",
            "tr_total_base",
        )
    )


def test_the_browser_cookie_gives_the_network_user_id(collector: Collector) -> None:
    nuid = "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
    requests.get(
        f"{collector.url}/i?e=pv&p=web&tv=js-3",
        cookies={"sp": nuid.upper()},
        headers={"Referer": "https://site.invalid/page"},
        timeout=TIMEOUT,
    )

    [entry] = collector.good()
    check_good([entry])
    assert entry["rawEvent"]["context"]["userId"] == nuid
    assert entry["rawEvent"]["context"]["refererUri"] == "https://site.invalid/page"
    assert entry["event"]["network_userid"] == nuid


def test_our_own_trackers_events_are_micro_good_events(tracking_world, collector) -> None:
    from tests.support.tracking import DELIVER_S

    world = tracking_world
    world.acknowledge()
    run = world.run_host(env={"HOST_MODELS": "2"})
    assert run.returncode == 0, run.stderr
    assert collector.wait_for(good=4, timeout=DELIVER_S)
    assert world.wait_delivered()

    good = collector.good()[::-1]
    check_good(good)
    assert collector.bad() == []
    ours = "iglu:dev.telemetry-consent/{}/jsonschema/1-0-0"
    assert [g["schema"] for g in good] == [
        ours.format(name)
        for name in ("invocation_start", "model_run", "model_run", "invocation_end")
    ]
    assert all(g["eventType"] == "unstruct" for g in good)
    invocation = "iglu:dev.telemetry-consent/invocation/jsonschema/1-0-1"
    assert all(g["contexts"] == [ours.format("platform"), invocation] for g in good)
    assert all(g["event"]["app_id"] == "testapp" and g["event"]["platform"] == "pc" for g in good)
    assert unstruct_data(good[-1])["node_counts"] == {"model": 2}
    assert {c["schema"] for c in context_entities(good[0])} == {ours.format("platform"), invocation}
    assert len({g["event"]["event_id"] for g in good}) == 4


# -- bad events ----------------------------------------------------------------------------


def _post(collector: Collector, body: bytes, content_type: str | None = "application/json") -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    reply = requests.post(collector.url + TP2_PATH, data=body, headers=headers, timeout=TIMEOUT)
    assert reply.status_code == 200


def test_every_kind_of_bad_event_is_a_micro_bad_event(collector: Collector) -> None:
    good_params = {"e": "pv", "p": "pc", "tv": "t"}
    _post(collector, b"")  # nothing at all
    _post(collector, b"{not json")
    _post(
        collector,
        json.dumps({"schema": PAYLOAD_DATA, "data": [good_params]}).encode(),
        content_type="text/plain",
    )
    _post(
        collector,
        json.dumps(
            {"schema": PAYLOAD_DATA, "data": [good_params, {**good_params, "p": "moon"}]}
        ).encode(),
    )
    requests.get(f"{collector.url}/i?e=zz&p=pc&tv=t", timeout=TIMEOUT)
    requests.get(f"{collector.url}/i", timeout=TIMEOUT)

    bad = collector.bad()[::-1]
    check_bad(bad)
    reasons = [b["errors"][0] for b in bad]
    assert reasons[0].startswith("empty request body")
    assert reasons[1].startswith("request body is not valid JSON")
    assert reasons[2].startswith("contentType: 'text/plain'")
    assert (
        reasons[3] == "p: 'moon' is not a valid platform (one of app, cnsl, headset, iot, "
        "mob, pc, srv, tv, web) (field platform)"
    )
    assert reasons[4].startswith("e: 'zz' is not a valid event type")
    assert reasons[5] == "no tracker parameters in the query string"
    assert [b["rawEvent"] is None for b in bad] == [True, True, True, False, False, True]
    assert bad[3]["rawEvent"]["parameters"]["p"] == "moon"
    assert bad[4]["collectorPayload"]["querystring"] == ["e=zz", "p=pc", "tv=t"]
    assert len(collector.good()) == 1  # the good event of the mixed batch
