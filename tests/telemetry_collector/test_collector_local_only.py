"""The local collector serves no foreign web origin: a page on another site can neither read
``/micro/*`` (no CORS headers there, preflights refused), nor wipe it (``/micro/reset`` only by a
JSON POST, which a page can send only after a preflight), nor reach it by DNS rebinding (the
``Host`` header must name this server). The tracker endpoints keep Snowplow's CORS behaviour,
which browser trackers on any site need.

Real HTTP to the real collector on 127.0.0.1, with the headers a browser sends.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from tracking.endpoint import TP2_PATH

EVIL = "http://evil.example"


def _request(collector, method, path, body=None, headers=None):
    parts = urlsplit(collector.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        conn.close()


@pytest.mark.parametrize("route", ["/micro/all", "/micro/good", "/micro/bad"])
def test_a_foreign_page_cannot_read_the_events(collector, route):
    status, headers, _ = _request(collector, "GET", route, headers={"Origin": EVIL})
    assert status == 200  # the server answers; the browser withholds it from the page
    assert not any(name.startswith("access-control-") for name in headers), headers


def test_a_foreign_preflight_to_micro_is_refused(collector):
    status, headers, _ = _request(
        collector,
        "OPTIONS",
        "/micro/reset",
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert status == 403
    assert not any(name.startswith("access-control-") for name in headers), headers


@pytest.mark.parametrize(
    "method,body,content_type",
    [
        ("GET", None, None),  # <img src=…/micro/reset>
        ("POST", b"", None),  # fetch(…, {method: "POST", mode: "no-cors"})
        ("POST", b"a=1", "application/x-www-form-urlencoded"),  # a cross-site <form>
        ("POST", b"{}", "text/plain"),  # the one other "simple" type
    ],
)
def test_no_simple_request_wipes_the_collector(collector, method, body, content_type):
    _request(collector, "POST", TP2_PATH, b"not json", {"Content-Type": "application/json"})
    before = collector.totals()
    assert before["total"] == 1
    headers = {"Origin": EVIL, **({"Content-Type": content_type} if content_type else {})}
    status, _, answer = _request(collector, method, "/micro/reset", body, headers)
    assert status in (405, 415)
    assert "POST with Content-Type: application/json" in json.loads(answer)["error"]
    assert collector.totals() == before


def test_a_json_post_resets(collector):
    _request(collector, "POST", TP2_PATH, b"not json", {"Content-Type": "application/json"})
    status, _, answer = _request(
        collector, "POST", "/micro/reset", b"{}", {"Content-Type": "application/json"}
    )
    assert status == 200 and json.loads(answer)["total"] == 0


@pytest.mark.parametrize("host", ["evil.example", "evil.example:9090", "10.0.0.1", "127.0.0.1.x"])
def test_a_rebound_name_is_refused(collector, host):
    """DNS rebinding: the page's own name resolves to 127.0.0.1, so the browser sends it as Host."""
    for path in ("/micro/good", TP2_PATH):
        status, _, answer = _request(collector, "GET", path, headers={"Host": host})
        assert status == 421, (path, answer)
        assert "is not this collector" in json.loads(answer)["error"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "localhost:1234"])
def test_loopback_names_are_served(collector, host):
    status, _, _ = _request(collector, "GET", "/micro/all", headers={"Host": host})
    assert status == 200


def test_the_tracker_endpoint_keeps_snowplows_cors_for_browser_trackers(collector):
    status, headers, _ = _request(
        collector,
        "OPTIONS",
        TP2_PATH,
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://shop.example"
    assert headers["access-control-allow-credentials"] == "true"


def test_an_origin_with_a_folded_line_is_not_reflected(collector):
    _status, headers, _ = _request(
        collector, "GET", TP2_PATH + "?e=pv", headers={"Origin": "https://a.example\r\n x: y"}
    )
    assert headers.get("access-control-allow-origin") == "*"
    assert "access-control-allow-credentials" not in headers
