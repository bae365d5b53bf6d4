"""The Snowplow Micro REST API, route by route, as tooling written against Micro calls it.

Every entry is checked against Micro's shapes (micro_kit); lists come newest first, as Micro's.
The extensions (``duplicates`` and ``evicted`` in the counts, the ``duplicates`` filter, filters
as query parameters on GET) are tested as such.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from snowplow_tracker import SelfDescribingJson
from snowplow_tracker.events import PageView, StructuredEvent

from telemetry_collector import TP2_PATH, Collector
from tests.telemetry_collector.micro_kit import (
    PAYLOAD_DATA,
    SIGNUP,
    SUMMARY,
    TEAM,
    TIMEOUT,
    check_bad,
    check_good,
    check_shape,
    signup,
    snowplow_tracker,
    unstruct_data,
)

ZERO = {"total": 0, "good": 0, "bad": 0, "duplicates": 0, "evicted": 0}
JSON = {"Content-Type": "application/json; charset=utf-8"}
UNSTRUCT_EVENT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"


def _get(collector: Collector, route: str, **params: Any) -> Any:
    reply = requests.get(f"{collector.url}/micro/{route}", params=params, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _post(collector: Collector, route: str, body: Any = None) -> requests.Response:
    return requests.post(f"{collector.url}/micro/{route}", json=body, timeout=TIMEOUT)


def _tp2(collector: Collector, events: list[dict[str, str]]) -> None:
    """One POST of a batch, exactly as an uploader re-sends one after a lost answer."""
    body = json.dumps({"schema": PAYLOAD_DATA, "data": events})
    reply = requests.post(collector.url + TP2_PATH, data=body, headers=JSON, timeout=TIMEOUT)
    assert reply.status_code == 200


@pytest.fixture
def mixed(collector: Collector) -> Collector:
    """Oldest first: signup+team, struct, signup (free), page view, a bad signup (GET)."""
    tracker = snowplow_tracker(collector)
    tracker.track(signup({"plan": "pro"}, [SelfDescribingJson(TEAM, {"size": 1})]))
    tracker.track(StructuredEvent("cli", "run"))
    tracker.track(signup({"plan": "free"}))
    tracker.track(PageView("https://example.invalid/docs"))
    snowplow_tracker(collector, method="get").track(signup({"plan": "gold"}))
    return collector


# -- /micro/all and /micro/reset -------------------------------------------------------------


def test_all_counts_good_and_bad_and_answers_get_and_post(mixed: Collector) -> None:
    counts = _get(mixed, "all")
    check_shape(counts, SUMMARY)
    assert counts == {"total": 5, "good": 4, "bad": 1, "duplicates": 0, "evicted": 0}
    assert _post(mixed, "all").json() == counts
    assert mixed.totals() == counts


def test_reset_by_json_post_forgets_everything_and_answers_the_zero_counts(
    mixed: Collector,
) -> None:
    assert _post(mixed, "reset", {}).json() == ZERO
    assert _get(mixed, "good") == [] and _get(mixed, "bad") == [] and _get(mixed, "all") == ZERO

    snowplow_tracker(mixed).track(signup({"plan": "pro"}))
    assert _post(mixed, "reset", {}).json() == ZERO
    assert mixed.totals() == ZERO and mixed.reset() == ZERO


# -- /micro/good ---------------------------------------------------------------------------


def test_good_lists_every_good_event_newest_first(mixed: Collector) -> None:
    good = _get(mixed, "good")
    check_good(good)
    assert [g["eventType"] for g in good] == ["page_view", "unstruct", "struct", "unstruct"]
    assert unstruct_data(good[1]) == {"plan": "free"} and unstruct_data(good[3]) == {"plan": "pro"}
    assert mixed.good() == good


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"schema": SIGNUP}, [{"plan": "free"}, {"plan": "pro"}]),
        ({"event_type": "unstruct"}, [{"plan": "free"}, {"plan": "pro"}]),
        ({"contexts": [TEAM]}, [{"plan": "pro"}]),
        ({"schema": SIGNUP, "limit": 1}, [{"plan": "free"}]),  # limit keeps the newest
        ({"schema": SIGNUP, "contexts": [TEAM, "iglu:acme.test/nope/jsonschema/1-0-0"]}, []),
        ({"event_type": "page_ping"}, []),
    ],
)
def test_good_filters_as_micro_does_in_a_post_body(
    mixed: Collector, filters: dict[str, Any], expected: list[dict[str, Any]]
) -> None:
    reply = _post(mixed, "good", filters)
    assert reply.status_code == 200
    assert [unstruct_data(g) for g in reply.json()] == expected
    assert [unstruct_data(g) for g in mixed.good(**filters)] == expected


def test_good_filters_built_in_events_by_type_and_by_their_schema(mixed: Collector) -> None:
    [struct] = _post(mixed, "good", {"event_type": "struct"}).json()
    assert struct["event"]["se_category"] == "cli" and struct["event"]["se_action"] == "run"
    [page] = _post(
        mixed, "good", {"schema": "iglu:com.snowplowanalytics.snowplow/page_view/jsonschema/1-0-0"}
    ).json()
    assert page["event"]["page_url"] == "https://example.invalid/docs"
    # Micro matches the canonical type only; a tracker's code is not a type.
    assert _post(mixed, "good", {"event_type": "se"}).json() == []


def test_good_takes_the_same_filters_as_query_parameters_on_get(mixed: Collector) -> None:
    assert [unstruct_data(g) for g in _get(mixed, "good", schema=SIGNUP, limit=1)] == [
        {"plan": "free"}
    ]
    assert len(_get(mixed, "good", contexts=TEAM)) == 1


def test_an_empty_post_body_means_no_filter(mixed: Collector) -> None:
    reply = requests.post(f"{mixed.url}/micro/good", timeout=TIMEOUT)
    assert reply.status_code == 200 and len(reply.json()) == 4


@pytest.mark.parametrize(
    ("route", "body", "message"),
    [
        ("good", {"event-type": "struct"}, "unknown filter 'event-type' for /micro/good"),
        ("good", {"limit": "x"}, "limit must be an integer"),
        ("good", {"limit": -1}, "limit must not be negative"),
        ("good", {"contexts": TEAM + "x"}, None),  # one URI as a string is accepted
        ("good", {"contexts": [1]}, "contexts must be a list of schema URIs"),
        ("good", {"schema": 7}, "schema must be a string"),
        ("good", {"duplicates": "maybe"}, "duplicates must be true or false"),
        ("good", [1], "filter body must be a JSON object"),
        ("bad", {"schema": SIGNUP}, "unknown filter 'schema' for /micro/bad"),
    ],
)
def test_a_filter_that_cannot_mean_anything_is_refused_naming_it(
    collector: Collector, route: str, body: Any, message: str | None
) -> None:
    reply = _post(collector, route, body)
    if message is None:
        assert reply.status_code == 200
        return
    assert reply.status_code == 400
    assert message in reply.json()["error"]


def test_a_filter_body_that_is_not_json_is_refused(collector: Collector) -> None:
    reply = requests.post(f"{collector.url}/micro/good", data=b"{", headers=JSON, timeout=TIMEOUT)
    assert reply.status_code == 400 and "not JSON" in reply.json()["error"]


# -- /micro/bad ----------------------------------------------------------------------------


def test_bad_lists_bad_events_newest_first_and_filters_by_vendor_and_version(
    collector: Collector,
) -> None:
    snowplow_tracker(collector).track(signup({"plan": "gold"}))  # POST: tp2
    snowplow_tracker(collector, method="get").track(signup({"plan": "iron"}))  # GET /i: tp1

    bad = _get(collector, "bad")
    check_bad(bad)
    assert [b["collectorPayload"]["api"]["version"] for b in bad] == ["tp1", "tp2"]
    by_version = {v: _post(collector, "bad", {"version": v}).json() for v in ("tp1", "tp2")}
    assert [len(found) for found in by_version.values()] == [1, 1]
    assert by_version["tp2"][0]["collectorPayload"]["body"] is not None
    assert by_version["tp1"][0]["collectorPayload"]["body"] is None
    assert "e=ue" in by_version["tp1"][0]["collectorPayload"]["querystring"]
    vendor = "com.snowplowanalytics.snowplow"
    assert len(_post(collector, "bad", {"vendor": vendor}).json()) == 2
    assert _post(collector, "bad", {"vendor": "com.acme"}).json() == []
    assert len(_post(collector, "bad", {"limit": 1}).json()) == 1
    assert collector.bad(version="tp1") == by_version["tp1"]


# -- /micro/iglu, /health, unknown routes ------------------------------------------------------


def test_iglu_serves_the_schemas_the_collector_validates_against(collector: Collector) -> None:
    ours = requests.get(
        f"{collector.url}/micro/iglu/acme.test/signup/jsonschema/1-0-0", timeout=TIMEOUT
    )
    assert ours.status_code == 200 and ours.json()["self"]["name"] == "signup"
    snowplows = requests.get(
        f"{collector.url}/micro/iglu/com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
        timeout=TIMEOUT,
    )
    assert snowplows.status_code == 200 and snowplows.json()["self"]["version"] == "1-0-4"
    telemetry = requests.get(
        f"{collector.url}/micro/iglu/dev.telemetry-consent/platform/jsonschema/1-0-0",
        timeout=TIMEOUT,
    )
    assert telemetry.status_code == 200


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "acme.test/nope/jsonschema/1-0-0",
            "schema not found: iglu:acme.test/nope/jsonschema/1-0-0",
        ),
        ("acme.test/signup/avro/1-0-0", "Schema lookup should be in format"),
        ("acme.test/signup/jsonschema/one", "Schema lookup should be in format"),
        ("acme.test/signup", "Schema lookup should be in format"),
    ],
)
def test_iglu_answers_404_for_what_it_does_not_have(
    collector: Collector, path: str, message: str
) -> None:
    reply = requests.get(f"{collector.url}/micro/iglu/{path}", timeout=TIMEOUT)
    assert reply.status_code == 404 and message in reply.json()["error"]


def test_health_says_ok(collector: Collector) -> None:
    reply = requests.get(f"{collector.url}/health", timeout=TIMEOUT)
    assert reply.status_code == 200 and reply.text == "OK"


def test_an_unknown_micro_route_lists_the_routes(collector: Collector) -> None:
    reply = requests.get(f"{collector.url}/micro/nothing", timeout=TIMEOUT)
    assert reply.status_code == 404
    assert "/all /good /bad /reset /iglu /ui" in reply.json()["error"]
    assert (
        requests.post(
            f"{collector.url}/micro/iglu/a/b/jsonschema/1-0-0", timeout=TIMEOUT
        ).status_code
        == 404
    )


# -- the bound ------------------------------------------------------------------------------


def test_the_oldest_events_are_evicted_and_counted(schema_root: Path) -> None:
    with Collector(schema_roots=[schema_root], max_events=2) as small:
        _tp2(
            small,
            [{"e": "se", "p": "pc", "tv": "t", "se_ca": str(i), "se_ac": "a"} for i in range(5)],
        )
        for plan in ("x", "y", "z"):
            requests.get(
                f"{small.url}/i?e=ue&p=pc&tv=t&ue_pr="
                + json.dumps(
                    {
                        "schema": UNSTRUCT_EVENT,
                        "data": {"schema": SIGNUP, "data": {"plan": plan}},
                    }
                ),
                timeout=TIMEOUT,
            )

        assert small.totals() == {"total": 8, "good": 5, "bad": 3, "duplicates": 0, "evicted": 4}
        assert [g["event"]["se_category"] for g in small.good()] == ["4", "3"]
        assert len(small.bad()) == 2


# -- duplicates (at-least-once delivery) --------------------------------------------------------


def test_a_batch_sent_twice_counts_its_events_as_duplicates(collector: Collector) -> None:
    sent: list[dict[str, Any]] = []
    tracker = snowplow_tracker(collector, sent=sent)
    tracker.track(signup({"plan": "pro"}))
    tracker.track(StructuredEvent("cli", "run"))
    assert len(sent) == 2 and collector.totals()["duplicates"] == 0

    _tp2(collector, sent)  # the uploader never saw the answer, and sends the batch again
    _tp2(collector, sent[:1])  # and the first one a third time

    counts = _get(collector, "all")
    assert counts == {"total": 5, "good": 5, "bad": 0, "duplicates": 3, "evicted": 0}
    # Micro's shapes are untouched: every arrival is listed; the filter tells them apart.
    repeats = _post(collector, "good", {"duplicates": True}).json()
    firsts = _post(collector, "good", {"duplicates": False}).json()
    check_good(repeats + firsts)
    assert len(_get(collector, "good")) == 5
    assert sorted(g["event"]["event_id"] for g in firsts) == sorted(e["eid"] for e in sent)
    assert [g["event"]["event_id"] for g in repeats] == [
        sent[0]["eid"],
        sent[1]["eid"],
        sent[0]["eid"],
    ]
    assert [g["eventType"] for g in collector.good(duplicates=True, limit=1)] == ["unstruct"]


def test_an_event_without_eid_is_never_a_duplicate_and_gets_an_id(collector: Collector) -> None:
    _tp2(collector, [{"e": "pv", "p": "pc", "tv": "t"}] * 2)

    first, second = collector.good()
    assert first["event"]["event_id"] != second["event"]["event_id"]
    assert collector.totals()["duplicates"] == 0


def test_a_bad_event_sent_again_is_not_a_duplicate_good_one(collector: Collector) -> None:
    bad = {"e": "pv", "p": "nowhere", "tv": "t", "eid": "5a305bf5-32fc-40d9-b0e8-66052f0f2c95"}
    _tp2(collector, [bad])
    _tp2(collector, [{**bad, "p": "pc"}])  # fixed and sent again: its first good arrival

    assert collector.totals() == {"total": 2, "good": 1, "bad": 1, "duplicates": 0, "evicted": 0}


def test_duplicates_are_counted_beyond_the_kept_events_and_the_window_is_bounded(
    schema_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from telemetry_collector import store

    monkeypatch.setattr(store, "DUPLICATE_WINDOW", 3)
    with Collector(schema_roots=[schema_root], max_events=1) as small:
        ids = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(5)]
        _tp2(small, [{"e": "pv", "p": "pc", "tv": "t", "eid": eid} for eid in ids])
        _tp2(small, [{"e": "pv", "p": "pc", "tv": "t", "eid": eid} for eid in ids[-3:]])
        # The evicted events' ids are still remembered, within the window.
        assert small.totals()["duplicates"] == 3
        _tp2(small, [{"e": "pv", "p": "pc", "tv": "t", "eid": ids[0]}])
        # ids[0] fell out of the 3-id window long ago: it counts as new (the price of a bound).
        assert small.totals()["duplicates"] == 3
