"""The collector's memory is bounded by bytes, and what it lists is not many times what it got.

Each entry of ``/micro/bad`` used to carry its own 64 KB clip of its request's body and every
entry its request's headers: a 150 KB POST of tiny bad events answered 1.34 GB, and a big
body could be listed as many times as it held events. And the store was bounded by event
count only: 30 bad POSTs of 10 MB took the collector from 116 to 418 MB. Now the events of one
request together show at most as much of its headers and body as it held (64 KiB at least),
the store keeps them once and counts its bytes (``--max-bytes``; what it evicts is counted as
``evicted``, as for ``--max-events``), and one event takes at most 1 MiB.

Real HTTP to real collectors on 127.0.0.1; memory is the collector process's own VmRSS.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import requests

from telemetry_collector import TP2_PATH, Collector
from tests.telemetry_collector.micro_kit import PAYLOAD_DATA, TIMEOUT, check_bad, check_good
from tests.telemetry_collector.process_kit import collector_process, needs_proc, rss_mb
from tests.telemetry_collector.raw_http import exchange, request

JSON = {"Content-Type": "application/json"}
#: What Micro's shape adds to every entry whatever was sent (keys, api, source, timestamps, a
#: canonical event of ~130 fields): the one part of an answer that grows with the entries alone.
SHAPE_BYTES = 4096
POSTS = 64


def _post(port: int, body: bytes, headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", TP2_PATH, body=body, headers={**JSON, **(headers or {})})
        reply = conn.getresponse()
        reply.read()
        return reply.status
    finally:
        conn.close()


def _listed(url: str, route: str) -> bytes:
    reply = requests.get(f"{url}/micro/{route}", timeout=60)
    assert reply.status_code == 200
    return reply.content


def _batch(events: list[dict]) -> bytes:
    return json.dumps({"schema": PAYLOAD_DATA, "data": events}).encode()


def test_a_150_kb_post_of_bad_events_is_not_listed_as_megabytes(collector: Collector):
    # 500 events of a real tracker's size (~300 bytes), each bad (an unknown platform)
    event = {"e": "pv", "p": "nowhere", "tv": "py-1.0.0", "url": "https://example.com/" + "a" * 230}
    body = _batch([{**event, "eid": f"00000000-0000-4000-8000-{i:012d}"} for i in range(500)])
    assert len(body) > 150_000
    assert _post(collector.port, body) == 200
    listed = _listed(collector.url, "bad")
    entries = json.loads(listed)
    check_bad(entries)
    assert len(entries) == 500
    print(f"in {len(body):,} bytes, /micro/bad {len(listed):,} bytes")
    assert len(listed) <= 5 * len(body)  # it was 33 MB: the body's 64 KB clip on each entry
    assert entries[0]["collectorPayload"]["body"].startswith('{"schema"')


def test_tiny_bad_events_repeat_nothing_of_their_request(collector: Collector):
    body = _batch([{}] * 20_000)  # ~80 KB, every event bad
    assert _post(collector.port, body) == 200
    listed = _listed(collector.url, "bad")
    entries = len(json.loads(listed))
    print(f"in {len(body):,} bytes, /micro/bad {len(listed):,} bytes for {entries:,} entries")
    assert entries == 20_000
    assert len(listed) <= 2 * len(body) + SHAPE_BYTES * entries  # was 1.3 GB


def test_big_headers_are_not_repeated_on_every_good_event(collector: Collector):
    headers = {f"X-Padding-{i}": "p" * 1000 for i in range(60)}  # 60 kB of headers
    body = _batch([{"e": "pv", "p": "pc", "tv": "t"}] * 1000)
    assert _post(collector.port, body, headers) == 200
    sent = len(body) + 61_000
    for route in ("good", "bad", "all"):
        listed = _listed(collector.url, route)
        entries = json.loads(listed)
        count = len(entries) if isinstance(entries, list) else 1
        print(f"in {sent:,} bytes, /micro/{route} {len(listed):,} bytes")
        assert len(listed) <= 2 * sent + SHAPE_BYTES * count  # /micro/good was 60 MB
    good = collector.good()
    check_good(good)
    assert len(good) == 1000


def test_a_single_event_keeps_its_headers_and_body_whole(collector: Collector):
    headers = {"X-Padding": "p" * 30_000}
    body = b"x" * 30_000  # not JSON: one bad event
    assert _post(collector.port, body, headers) == 200
    [bad] = collector.bad()
    assert bad["collectorPayload"]["body"] == body.decode()
    assert f"X-Padding: {'p' * 30_000}" in bad["collectorPayload"]["context"]["headers"]


def test_headers_over_64_kib_are_refused_with_431(collector: Collector):
    head = {f"X-Padding-{i}": "p" * 8000 for i in range(10)}
    answer = exchange(collector.port, request("GET", "/micro/all", headers=head))
    assert answer.status == 431
    assert "request headers take" in json.loads(answer.body)["error"]


def test_the_byte_bound_evicts_and_counts_what_it_pushes_out(schema_root: Path):
    big = {"e": "pv", "p": "nowhere", "tv": "t", "url": "u" * 100_000}  # ~100 KB each, bad
    with Collector(schema_roots=[schema_root], max_bytes=1024 * 1024) as small:
        for _ in range(3):
            assert _post(small.port, _batch([big] * 10)) == 200
        counts = small.totals()
        kept = small.bad()
        assert counts["bad"] == 30 and counts["evicted"] == 30 - len(kept)
        assert 1 <= len(kept) <= 10
        assert len(json.dumps(kept)) <= 1024 * 1024 + SHAPE_BYTES * len(kept)


def test_an_event_over_1_mib_is_kept_as_a_size_violation(collector: Collector):
    event = {"e": "pv", "p": "pc", "tv": "t", "url": "https://example.com/" + "a" * 1_500_000}
    assert _post(collector.port, _batch([event])) == 200
    [bad] = collector.bad()
    check_bad([bad])
    assert bad["errors"][0].startswith("size violation: the event takes")
    assert bad["rawEvent"] is None and len(json.dumps(bad)) < 64 * 1024


@needs_proc
def test_the_collectors_memory_stays_bounded_under_big_bad_posts(tmp_path: Path):
    event = {"e": "pv", "p": "nowhere", "tv": "t", "url": "u" * 100_000}
    body = _batch([event] * 20)  # 2 MB, 20 bad events
    with collector_process(tmp_path, "--max-bytes", str(8 * 1024 * 1024)) as (process, port):
        url = f"http://127.0.0.1:{port}"
        before = rss_mb(process.pid)
        for _ in range(POSTS):
            assert _post(port, body) == 200
        counts = requests.get(url + "/micro/all", timeout=TIMEOUT).json()
        after = rss_mb(process.pid)
        print(f"RSS {before:.0f} MB -> {after:.0f} MB after {POSTS} bad POSTs of {len(body):,} B")
        assert counts["bad"] == POSTS * 20 and counts["evicted"] > 0
        assert after - before < 64  # every event kept: +139 MB
