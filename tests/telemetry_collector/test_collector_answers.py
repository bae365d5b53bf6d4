"""Every request gets an answer with a status line and a reason: a 4xx naming what is wrong
(501 for what HTTP allows but the collector does not implement), never a connection closed in
silence, never a traceback.

Each case here used to close the connection without a word (an exception in the handler), be
read as something it is not (``xchunked`` as chunked, ``1_0`` as ten), or pass a number no JSON
reader takes. Real bytes over a socket to the collector on 127.0.0.1.
"""

from __future__ import annotations

import json

import pytest
import requests

from telemetry_collector import TP2_PATH, Collector
from tests.telemetry_collector.micro_kit import PAYLOAD_DATA, TIMEOUT, check_bad
from tests.telemetry_collector.raw_http import exchange, request

JSON = {"Content-Type": "application/json"}
DIGITS = "1" * 5000
DEEP = b"[" * 100_000 + b"]" * 100_000

FILTERS = {
    "limit 1e308": ("/micro/good", b'{"limit": 1e308}'),
    "limit Infinity": ("/micro/bad", b'{"limit": Infinity}'),
    "limit -Infinity": ("/micro/good", b'{"limit": -Infinity}'),
    "limit NaN": ("/micro/bad", b'{"limit": NaN}'),
    "schema NaN": ("/micro/good", b'{"schema": NaN}'),
    "100,000 deep": ("/micro/good", DEEP),
    "100,000 deep in a filter": ("/micro/bad", b'{"vendor": ' + DEEP + b"}"),
    "limit of 5,000 digits": ("/micro/good", b'{"limit": ' + DIGITS.encode() + b"}"),
    "limit 2**63": ("/micro/good", b'{"limit": 9223372036854775808}'),
}


def _refused(answer, *statuses: int) -> dict:
    assert answer.status in statuses, answer.raw[:500]
    assert b"Traceback" not in answer.raw
    reason = json.loads(answer.body)["error"]
    assert reason and "\n" not in reason
    return reason


@pytest.mark.parametrize("case", sorted(FILTERS))
def test_a_filter_no_json_reader_takes_is_a_400_with_its_reason(collector: Collector, case):
    path, body = FILTERS[case]
    _refused(exchange(collector.port, request("POST", path, body, JSON)), 400)
    assert requests.get(collector.url + "/micro/all", timeout=TIMEOUT).status_code == 200


def test_a_limit_as_a_query_parameter_too_big_for_micro_is_a_400(collector: Collector):
    reason = _refused(exchange(collector.port, request("GET", "/micro/good?limit=" + DIGITS)), 400)
    assert "limit" in reason


def test_a_schema_version_of_5000_digits_is_not_a_schema(collector: Collector):
    target = f"/micro/iglu/com.acme/thing/jsonschema/{DIGITS}-0-0"
    assert "format" in _refused(exchange(collector.port, request("GET", target)), 404)
    long_vendor = f"/micro/iglu/{'v' * 300}/thing/jsonschema/1-0-0"
    _refused(exchange(collector.port, request("GET", long_vendor)), 404)


@pytest.mark.parametrize(
    "params,reason",
    [
        ({"res": f"{DIGITS}x1"}, "res"),  # was "collector internal error" (int() digit limit)
        ({"se_va": "1e400"}, "se_va"),  # was stored as a double: infinity, not JSON
        (
            {
                "e": "ue",
                "ue_pr": json.dumps(
                    {
                        "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/"
                        f"jsonschema/{DIGITS}-0-0",
                        "data": {},
                    }
                ),
            },
            "invalid schema URI",
        ),
    ],
)
def test_huge_numbers_in_an_event_make_it_bad_with_their_reason(collector, params, reason):
    event = {"e": "se", "se_ca": "c", "se_ac": "a", "p": "pc", "tv": "t", **params}
    body = json.dumps({"schema": PAYLOAD_DATA, "data": [event]})
    reply = requests.post(collector.url + TP2_PATH, data=body, headers=JSON, timeout=TIMEOUT)
    assert reply.status_code == 200
    listing = requests.get(collector.url + "/micro/bad", timeout=TIMEOUT)
    [bad] = json.loads(listing.text)  # strict JSON: no Infinity anywhere
    check_bad([bad])
    assert any(reason in error for error in bad["errors"]), bad["errors"]
    assert not any("internal error" in error for error in bad["errors"])


FRAMING = {
    # RFC 9112 §6.3: a coding other than chunked last leaves the length unknown: 400, close
    "xchunked": (b"Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", (400, 501)),
    "chunked, then gzip": (b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", (400,)),
    "gzip, then chunked": (b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", (501,)),
    "two lengths": (b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", (400,)),
    "length 1_0": (b"Content-Length: 1_0\r\n\r\n0123456789", (400,)),
    "length +2": (b"Content-Length: +2\r\n\r\n{}", (400,)),
    "length -1": (b"Content-Length: -1\r\n\r\n", (400,)),
    "length of 5,000 digits": (b"Content-Length: " + DIGITS.encode() + b"\r\n\r\n", (400,)),
    "body shorter than its length": (b"Content-Length: 100\r\n\r\n{}", (400,)),
    "chunk size 0x2": (b"Transfer-Encoding: chunked\r\n\r\n0x2\r\n{}\r\n0\r\n\r\n", (400,)),
    "chunk size not hex": (b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", (400,)),
    "chunk longer than its size": (
        b"Transfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n",
        (400,),
    ),
    "chunked body cut off": (b"Transfer-Encoding: chunked\r\n\r\n5\r\n{}", (400,)),
    "no last chunk": (b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n", (400,)),
}


@pytest.mark.parametrize("case", sorted(FRAMING))
@pytest.mark.parametrize("path", ["/micro/all", TP2_PATH])
def test_malformed_framing_is_refused_and_never_guessed_at(collector: Collector, case, path):
    rest, statuses = FRAMING[case]
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    answer = exchange(collector.port, head.encode() + rest)
    _refused(answer, *statuses)
    assert answer.headers.get("connection") == "close"  # what follows cannot be framed
    assert collector.totals()["total"] == 0  # nothing was read as a body
    assert requests.get(collector.url + "/micro/all", timeout=TIMEOUT).status_code == 200


def test_a_well_framed_chunked_body_is_still_read(collector: Collector):
    body = json.dumps({"schema": PAYLOAD_DATA, "data": [{"e": "pv", "p": "pc", "tv": "t"}]})
    chunks = b"".join(
        f"{len(part):x}\r\n".encode() + part.encode() + b"\r\n" for part in (body[:10], body[10:])
    )
    head = f"POST {TP2_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    answer = exchange(
        collector.port,
        head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n",
    )
    assert answer.status == 200
    assert collector.totals()["good"] == 1


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\xff\xfe junk\r\n\r\n",  # two words: read as HTTP/0.9, answered without a status line
        b"GET /micro/all\r\n\r\n",  # HTTP/0.9
        b"GET /micro/all HTTP/9.9\r\n\r\n",
        b"GET /micro/all HTTP/1.1 extra\r\n\r\n",
        b"GET " + b"/" * 70_000 + b" HTTP/1.1\r\n\r\n",
    ],
    ids=["junk", "http/0.9", "http/9.9", "four words", "70 kB target"],
)
def test_a_request_line_that_is_not_http_1_gets_an_http_1_1_answer(collector: Collector, data):
    answer = exchange(collector.port, data)
    assert answer.status is not None and 400 <= answer.status <= 505, answer.raw[:300]


def test_empty_lines_before_a_request_are_skipped(collector: Collector):
    answer = exchange(collector.port, b"\r\n\r\n" + request("GET", "/micro/all"))
    assert answer.status == 200


@pytest.mark.parametrize(
    "line", [b"no colon here", b"Content-Type : application/json", b"B\x00d: x"]
)
def test_a_header_line_that_is_not_name_colon_value_is_a_400(collector: Collector, line):
    data = b"GET /micro/all HTTP/1.1\r\nHost: 127.0.0.1\r\n" + line + b"\r\n\r\n"
    answer = exchange(collector.port, data)
    assert answer.status == 400, answer.raw[:300]


def test_an_event_holding_a_lone_surrogate_does_not_break_the_listings(collector: Collector):
    # "\ud800" is valid JSON and decodes to a lone surrogate, which is no UTF-8: every listing
    # holding it used to fail (a 500 until the next reset). Found by the fuzz.
    body = json.dumps({"schema": PAYLOAD_DATA, "data": [{"e": "pv", "p": "pc", "tv": "\ud800"}]})
    assert "\\ud800" in body  # sent as the escape, in ASCII
    reply = requests.post(collector.url + TP2_PATH, data=body, headers=JSON, timeout=TIMEOUT)
    assert reply.status_code == 200
    for route in ("good", "bad"):
        listing = requests.get(f"{collector.url}/micro/{route}", timeout=TIMEOUT)
        assert listing.status_code == 200, listing.text[:300]
        json.loads(listing.content)
    [good] = collector.good()
    assert good["rawEvent"]["parameters"]["tv"] == "\ud800"
    assert json.loads(requests.get(collector.url + "/micro/good", timeout=TIMEOUT).content) != []
