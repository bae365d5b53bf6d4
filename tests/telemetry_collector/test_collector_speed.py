"""What makes the collector fast must not change a single verdict.

- Contexts (``cx`` / ``co``) that validated are remembered by their raw text (every event of an
  invocation carries the same ones); whatever has an error is checked again every time.
- The answer leaves before the events are validated (as a real collector answers), yet whoever
  got an answer then reads its events, in the order the requests arrived, on any connection.
"""

from __future__ import annotations

import base64
import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from telemetry_collector import TP2_PATH, Collector, SchemaRegistry
from telemetry_collector.model import RequestInfo
from telemetry_collector.validate import EventChecker
from tracking._snowplow import PAYLOAD_DATA_SCHEMA, PayloadBuilder
from tracking.catalog import DEFAULT_CATALOG

CONTEXTS = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
TEAM = "iglu:acme.test/team/jsonschema/1-0-0"
INFO = RequestInfo(method="POST", path=TP2_PATH, headers={}, received_ms=1)


def _b64(doc, *, standard: bool = False, pad: bool = True) -> str:
    text = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()
    if standard:
        text = text.replace("-", "+").replace("_", "/")
    return text if pad else text.rstrip("=")


def _contexts(*entities) -> dict:
    return {"schema": CONTEXTS, "data": list(entities)}


PLATFORM = DEFAULT_CATALOG.get("platform")
INVOCATION = DEFAULT_CATALOG.get("invocation")
MODEL_RUN = DEFAULT_CATALOG.get("model_run")
GOOD_CX = _b64(
    _contexts(
        {"schema": PLATFORM.iglu_uri, "data": PLATFORM.example},
        {"schema": INVOCATION.iglu_uri, "data": INVOCATION.example},
    )
)
UE = _b64({"schema": UNSTRUCT, "data": {"schema": MODEL_RUN.iglu_uri, "data": MODEL_RUN.example}})
BASE = {"e": "ue", "p": "pc", "tv": "py-1.1.0", "ue_px": UE}

CASES = [
    {**BASE, "cx": GOOD_CX},
    {
        **BASE,
        "cx": GOOD_CX,
        "ue_px": _b64(
            {"schema": UNSTRUCT, "data": {"schema": MODEL_RUN.iglu_uri, "data": {"x": 1}}}
        ),
    },
    {**BASE, "cx": GOOD_CX, "co": json.dumps(_contexts())},  # both set
    {**BASE, "co": json.dumps(_contexts({"schema": PLATFORM.iglu_uri, "data": PLATFORM.example}))},
    {**BASE, "cx": _b64(_contexts({"schema": PLATFORM.iglu_uri, "data": {"os": 7}}))},
    {
        **BASE,
        "cx": _b64(_contexts({"schema": "iglu:acme.test/nothing/jsonschema/1-0-0", "data": {}})),
    },
    {**BASE, "cx": _b64({"schema": UNSTRUCT, "data": []})},  # wrong wrapper
    {**BASE, "cx": _b64(_contexts({"schema": PLATFORM.iglu_uri}))},  # entity without data
    {**BASE, "cx": "!!!not base64"},
    {**BASE, "cx": _b64("NaN")[:-2] + "=="},
    {**BASE, "cx": GOOD_CX.rstrip("=")},  # unpadded: the same contexts, another raw text
    {
        **BASE,
        "cx": _b64(
            _contexts({"schema": PLATFORM.iglu_uri, "data": PLATFORM.example}), standard=True
        ),
    },
    {**BASE, "cx": 12345},  # not a string (only payload_data would refuse it)
    {"e": "pv", "p": "pc", "tv": "t", "cx": GOOD_CX},
    {"e": "ue", "p": "pc", "tv": "t", "cx": GOOD_CX},  # no ue_px
]


def _verdicts(checker: EventChecker, cases) -> list[dict]:
    """Each case's entry, less what differs between two checks by nature: when it was checked,
    and the random id given to an event sent without ``eid``."""
    verdicts = []
    for params in cases:
        verdict = checker.check_event(dict(params), INFO).to_json()
        if "event" in verdict:
            verdict["event"] = {
                k: v for k, v in verdict["event"].items() if k not in ("etl_tstamp", "event_id")
            }
        verdicts.append(verdict)
    return verdicts


def test_remembered_contexts_give_exactly_the_verdicts_of_a_fresh_check():
    fresh = [_verdicts(EventChecker(SchemaRegistry()), [case])[0] for case in CASES]
    shared = EventChecker(SchemaRegistry())
    first = _verdicts(shared, CASES)
    again = _verdicts(shared, CASES + CASES[::-1])
    assert first == fresh
    assert again == fresh + fresh[::-1]
    assert any("errors" not in v for v in fresh) and any("errors" in v for v in fresh)


def test_contexts_with_an_error_are_checked_again_each_time(tmp_path: Path):
    # A schema written while the collector runs turns "schema not found" into good: a verdict
    # with an error is never remembered.
    cx = _b64(_contexts({"schema": TEAM, "data": {"size": 3}}))
    checker = EventChecker(SchemaRegistry([tmp_path]))
    before = checker.check_event({**BASE, "cx": cx}, INFO).to_json()
    assert before["errors"] == [f"schema not found: {TEAM}"]
    path = tmp_path / "acme.test" / "team" / "jsonschema" / "1-0-0"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "self": {
                    "vendor": "acme.test",
                    "name": "team",
                    "format": "jsonschema",
                    "version": "1-0-0",
                },
                "type": "object",
            }
        )
    )
    after = checker.check_event({**BASE, "cx": cx}, INFO).to_json()
    assert "errors" not in after and after["contexts"] == [TEAM]
    assert after["event"]["contexts"]["data"] == [{"schema": TEAM, "data": {"size": 3}}]


def test_the_remembered_contexts_are_bounded():
    checker = EventChecker(SchemaRegistry())
    for index in range(1000):
        data = {**INVOCATION.example, "invocation_id": f"{index:08x}-0000-4000-8000-000000000000"}
        cx = _b64(_contexts({"schema": INVOCATION.iglu_uri, "data": data}))
        checker.check_event({**BASE, "cx": cx}, INFO)
    assert 0 < len(checker._contexts_cache) <= 256


def _body(count: int, marker: str) -> bytes:
    builder = PayloadBuilder(namespace=marker, app_id=marker)
    contexts = [(PLATFORM.iglu_uri, PLATFORM.example), (INVOCATION.iglu_uri, INVOCATION.example)]
    cx = builder.encode_contexts(contexts)
    payloads = [
        builder.build(MODEL_RUN.iglu_uri, MODEL_RUN.example, dtm=index, cx=cx)
        for index in range(count)
    ]
    return json.dumps({"schema": PAYLOAD_DATA_SCHEMA, "data": payloads}).encode()


@pytest.mark.parametrize("rounds", [2])
def test_answered_before_validated_yet_read_in_arrival_order_on_any_connection(rounds):
    with Collector() as collector:
        parts = urlsplit(collector.url)
        expected: list[str] = []
        for round_ in range(rounds):
            # A big batch on one connection, then a tiny one on another as soon as the first is
            # answered: the tiny one is validated first, but stored second.
            for marker, count in ((f"big{round_}", 2000), (f"tiny{round_}", 1)):
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                conn.request(
                    "POST",
                    TP2_PATH,
                    body=_body(count, marker),
                    headers={"Content-Type": "application/json"},
                )
                response = conn.getresponse()
                assert response.status == 200 and response.read() == b"ok"
                conn.close()
                expected += [marker] * count
        # Read right away, on yet another connection: every answered request is there, in order.
        good = collector.good()
        assert collector.totals() == {
            "total": len(expected),
            "good": len(expected),
            "bad": 0,
            "duplicates": 0,
            "evicted": 0,
        }
    assert [event["event"]["name_tracker"] for event in good] == expected[::-1]  # newest first
