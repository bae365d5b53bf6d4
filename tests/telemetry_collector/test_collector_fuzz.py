"""A bounded, seeded fuzz of the collector: whatever arrives, an HTTP answer, and it keeps serving.

3,000 requests built from a fixed seed (``COLLECTOR_FUZZ_SEED`` picks another): methods real
and not, the tracker endpoints, the pixel and every Micro route, headers right and wrong
(framing, content types, hosts, origins, cookies), and bodies that are valid batches, valid
batches cut short or with bytes flipped, huge numbers, NaN, wrong types, deep nesting, or plain
binary. Every one must get a status line (no silence, no 500: a bug would be one), and the
collector must be alive and serving after, its memory not run away. ``pytest -s`` prints the
figures.
"""

from __future__ import annotations

import collections
import json
import os
import random
import time
from pathlib import Path

import requests

from telemetry_collector import TP2_PATH
from tests.telemetry_collector.micro_kit import PAYLOAD_DATA, TIMEOUT
from tests.telemetry_collector.process_kit import collector_process, needs_proc, rss_mb
from tests.telemetry_collector.raw_http import exchange

REQUESTS = 3000
SEED = int(os.environ.get("COLLECTOR_FUZZ_SEED", "20261206"))
#: 501 (a method or coding HTTP has but the collector does not), 503 (every connection busy)
#: and 505 (HTTP/2 over this socket) are answers with their reason; a 500 is a bug.
SERVER_ANSWERS = {501, 503, 505}

UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
PATHS = [
    TP2_PATH,
    TP2_PATH + "?e=pv&p=pc&tv=t",
    "/i?e=pv&p=pc&tv=t&eid=not-a-uuid",
    "/i",
    "/ice.png?e=se&se_ca=a&se_ac=b&p=pc&tv=t&se_va=1e400",
    "/micro/all",
    "/micro/good",
    "/micro/bad",
    "/micro/reset",  # rare enough (1 in 20) that events pile up in between
    "/micro/iglu/com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
    "/micro/iglu/a/b/jsonschema/" + "9" * 5000 + "-0-0",
    "/micro/ui",
    "/micro",
    "/health",
    "/",
    "*",
    "http://127.0.0.1/micro/all",
    "/%00%ff/..%2f..%2fetc/passwd",
    "/micro/good?limit=1e308&contexts=x&duplicates=maybe",
]
METHODS = {
    "GET": 30,
    "POST": 50,
    "OPTIONS": 5,
    "HEAD": 4,
    "PUT": 4,
    "DELETE": 3,
    "BREW": 2,
    "get": 2,
}
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/json; charset=\x7f",
]
HEADERS = [
    ("Host", "localhost"),
    ("Host", "evil.example"),
    ("Host", "[::1]:9090"),
    ("Origin", "https://shop.example"),
    ("Origin", "null"),
    ("Cookie", "sp=5a305bf5-32fc-40d9-b0e8-66052f0f2c95"),
    ("Cookie", 'sp="\\x00;;;='),
    ("Transfer-Encoding", "xchunked"),
    ("Transfer-Encoding", "gzip, chunked"),
    ("Content-Length", "1_0"),
    ("Content-Length", "-1"),
    ("Content-Length", "99999999999999999999999"),
    ("Expect", "100-continue"),
    ("Connection", "keep-alive"),
    ("User-Agent", "x" * 4000),
    ("X-Big", "y" * 70_000),
    ("Access-Control-Request-Headers", "content-type, x-" + "z" * 500),
]
VALUES = [
    "",
    "1e308",
    "-1e400",
    "9" * 5000,
    "NaN",
    "\x00",
    "\ud800",
    "x" * 10_000,
    "5a305bf5-32fc-40d9-b0e8-66052f0f2c95",
]


def _event(rng: random.Random) -> dict:
    event = {"e": rng.choice(["pv", "se", "ue", "pp", "zz"]), "p": "pc", "tv": "t"}
    for name in rng.sample(["eid", "dtm", "res", "se_va", "vp", "url", "tna", "aid"], 3):
        event[name] = rng.choice([*VALUES, "1024x768", "1700000000000"])
    if event["e"] == "ue":
        inner = {"schema": "iglu:acme.test/signup/jsonschema/1-0-0", "data": {"plan": "pro"}}
        event["ue_pr"] = json.dumps({"schema": UNSTRUCT, "data": inner})
    return event


def _body(rng: random.Random) -> bytes:
    kind = rng.randrange(9)
    batch = json.dumps(
        {"schema": PAYLOAD_DATA, "data": [_event(rng) for _ in range(rng.randint(1, 30))]}
    ).encode()
    if kind == 0:
        return b""
    if kind == 1:
        return batch[: rng.randrange(len(batch))]  # cut short
    if kind == 2:
        data = bytearray(batch)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if kind == 3:
        return rng.randbytes(rng.randint(1, 4096))
    if kind == 4:
        depth = rng.choice([100, 5000, 100_000])
        return b'{"limit": ' + b"[" * depth + b"]" * depth + b"}"
    if kind == 5:
        filters = ["limit", "schema", "event_type", "contexts", "duplicates", "vendor", "x"]
        value = rng.choice([1e308, -1, "1", True, None, [], {}, "9" * 30, 2**64])
        return json.dumps({rng.choice(filters): value}).encode()
    if kind == 6:
        return b'{"limit": ' + rng.choice([b"NaN", b"Infinity", b"-Infinity", b"1e999"]) + b"}"
    if kind == 7:
        return json.dumps(
            {"schema": PAYLOAD_DATA, "data": rng.choice([{}, "x", [1], None])}
        ).encode()
    return batch


def _request(rng: random.Random) -> bytes:
    method = rng.choices(list(METHODS), list(METHODS.values()))[0]
    path = rng.choice(PATHS) if rng.random() < 0.6 else rng.choice(PATHS[:5])
    if rng.random() < 0.1:
        path = path.replace("/", rng.choice(["//", "/./", "\\"]), 1)
    version = rng.choices(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 x", ""], [80, 8, 4, 4, 4])
    body = _body(rng)
    headers = [("Host", "127.0.0.1")] if rng.random() < 0.9 else []
    if rng.random() < 0.8:
        headers.append(("Content-Type", rng.choice(CONTENT_TYPES)))
    headers += rng.sample(HEADERS, rng.choice([0, 0, 1, 2]))
    chunked = ("Transfer-Encoding", "chunked") in headers or rng.random() < 0.1
    if chunked:
        headers.append(("Transfer-Encoding", "chunked"))
        size = rng.choice([len(body), len(body) + 3, max(0, len(body) - 1)])
        body = f"{size:x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    elif not any(name == "Content-Length" for name, _ in headers):
        length = len(body) if rng.random() < 0.9 else rng.choice([0, len(body) + 10])
        headers.append(("Content-Length", str(length)))
    head = f"{method} {path} {version[0]}".rstrip() + "\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + body


@needs_proc
def test_every_fuzzed_request_is_answered_and_the_collector_keeps_serving(tmp_path: Path):
    rng = random.Random(SEED)
    statuses: collections.Counter[int] = collections.Counter()
    with collector_process(tmp_path) as (process, port):
        url = f"http://127.0.0.1:{port}"
        rss_before = rss_mb(process.pid)
        started = time.monotonic()
        for index in range(REQUESTS):
            data = _request(rng)
            answer = exchange(port, data)
            assert answer.status is not None, (index, data[:300], answer.raw[:300])
            assert answer.status < 500 or answer.status in SERVER_ANSWERS, (
                index,
                data[:300],
                answer.raw[:500],
            )
            statuses[answer.status] += 1
        elapsed = time.monotonic() - started
        assert process.poll() is None
        assert requests.get(url + "/health", timeout=TIMEOUT).text == "OK"
        counts = requests.get(url + "/micro/all", timeout=TIMEOUT).json()
        json.loads(requests.get(url + "/micro/good", timeout=TIMEOUT).content)  # strict JSON
        json.loads(requests.get(url + "/micro/bad", timeout=TIMEOUT).content)
        rss_after = rss_mb(process.pid)
    print(
        f"\nfuzz seed {SEED}: {REQUESTS} requests in {elapsed:.1f} s, every one answered "
        f"({dict(sorted(statuses.items()))}); collector counts {counts}; "
        f"RSS {rss_before:.0f} MB -> {rss_after:.0f} MB"
    )
    assert rss_after < rss_before + 200
