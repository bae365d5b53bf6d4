"""``/micro/ui`` in a real browser: headless Chromium from the OS packages (driver: cdp.py).

The page is loaded from a collector that received real events from Snowplow's tracker, and the
test reads the DOM Chromium rendered: the counts, the events newest first, the decoded event and
its contexts, the reasons of a bad one, a duplicate marked as such, the filters, and the page
refreshing by itself.  It also proves the page is self-contained (every request it makes goes to
the collector) and that what a tracker sent is shown as text, never run as markup.  A screenshot
of each page is kept under pytest's temp dir (``artefacts/``), or ``$TEST_ARTIFACTS_DIR``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from snowplow_tracker import SelfDescribingJson
from snowplow_tracker.events import StructuredEvent

from telemetry_collector import TP2_PATH, Collector
from tests.telemetry_collector.cdp import Chromium, find_chromium
from tests.telemetry_collector.micro_kit import (
    PAYLOAD_DATA,
    SIGNUP,
    TEAM,
    TIMEOUT,
    signup,
    snowplow_tracker,
)

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)",
)
HOSTILE = "<img src=x onerror=\"document.title='owned'\">"
ROWS = "[...document.querySelectorAll('#events tbody tr')]"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    assert CHROMIUM is not None
    with Chromium(CHROMIUM, tmp_path / "chromium-profile") as running:
        yield running


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("TEST_ARTIFACTS_DIR")
    return Path(wanted) if wanted else tmp_path_factory.getbasetemp() / "artefacts"


def _rows(browser: Chromium) -> list[dict[str, Any]]:
    return browser.evaluate(f"{ROWS}.map(r => ({{...r.dataset, text: r.innerText}}))")


def _click_row(browser: Chromium, event_id: str) -> None:
    browser.evaluate(f"{ROWS}.find(r => r.dataset.eventId === {json.dumps(event_id)}).click()")


def _select(browser: Chromium, select_id: str, value: str) -> None:
    browser.evaluate(f"""(() => {{ const s = document.getElementById({json.dumps(select_id)});
        s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change')); }})()""")


def _text(browser: Chromium, selector: str) -> str:
    return browser.evaluate(f"document.querySelector({json.dumps(selector)}).innerText")


def test_the_page_shows_real_events_newest_first_decoded(
    collector: Collector, browser: Chromium, artefacts: Path
) -> None:
    sent: list[dict[str, Any]] = []
    tracker = snowplow_tracker(collector, sent=sent)
    first = tracker.track(
        signup({"plan": "pro", "seats": 3}, [SelfDescribingJson(TEAM, {"size": 7})])
    )
    struct = tracker.track(StructuredEvent("cli", "run"))
    bad = tracker.track(signup({"plan": "enterprise"}))
    # At-least-once: the first batch arrives again.
    requests.post(
        collector.url + TP2_PATH, json={"schema": PAYLOAD_DATA, "data": sent[:1]}, timeout=TIMEOUT
    )
    newest = tracker.track(signup({"plan": "free", "note": HOSTILE}))

    browser.open(collector.url + "/micro/ui")
    browser.wait_for(f"{ROWS}.length === 5")

    counts = {
        name: _text(browser, f"#count-{name}")
        for name in ("total", "good", "bad", "duplicates", "evicted")
    }
    assert counts == {"total": "5", "good": "4", "bad": "1", "duplicates": "1", "evicted": "0"}
    rows = _rows(browser)
    assert [(r["eventId"], r["kind"], r["duplicate"]) for r in rows] == [
        (newest, "good", "false"),
        (first, "good", "true"),
        (bad, "bad", "false"),
        (struct, "good", "false"),
        (first, "good", "false"),
    ]
    assert [r["eventType"] for r in rows] == [
        "unstruct",
        "unstruct",
        "unstruct",
        "struct",
        "unstruct",
    ]
    assert rows[3]["schema"] == "iglu:com.google.analytics/event/jsonschema/1-0-0"

    # The newest is selected: its self-describing event, decoded, shown as text.
    assert _text(browser, "#detail-schema") == SIGNUP
    shown = json.loads(browser.evaluate("document.querySelector('#detail-event pre').textContent"))
    assert shown == {"plan": "free", "note": HOSTILE}
    assert browser.evaluate("document.querySelectorAll('img').length") == 0
    assert browser.evaluate("document.title") != "owned"

    _click_row(browser, first)
    assert (
        browser.wait_for(
            "document.querySelector('#detail-contexts .context')"
            " && document.querySelector('#detail-contexts .context').dataset.schema"
        )
        == TEAM
    )
    context = json.loads(
        browser.evaluate("document.querySelector('#detail-contexts .context pre').textContent")
    )
    assert context == {"size": 7}

    _click_row(browser, bad)
    errors = browser.wait_for(
        "document.querySelector('#detail-errors')"
        " && document.querySelector('#detail-errors').innerText"
    )
    assert f"invalid against {SIGNUP}" in errors and "data.plan" in errors
    assert json.loads(
        browser.evaluate("document.querySelector('#detail-event pre').textContent")
    ) == {"plan": "enterprise"}

    _click_row(browser, newest)
    shot = browser.screenshot(artefacts / "micro-ui.png")
    print(f"screenshot: {shot}")
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and shot.stat().st_size > 10_000

    # Self-contained: it asked the collector for everything, and nothing else for anything.
    urls = browser.requested_urls()
    assert urls and all(url.startswith(collector.url + "/micro/") for url in urls), urls


def test_the_filters_narrow_the_list_and_live_in_the_address(
    collector: Collector, browser: Chromium, artefacts: Path
) -> None:
    tracker = snowplow_tracker(collector)
    tracker.track(signup({"plan": "pro"}))
    tracker.track(StructuredEvent("cli", "run"))
    tracker.track(signup({"plan": "nope"}))

    browser.open(f"{collector.url}/micro/ui?kind=good&schema={SIGNUP}")
    browser.wait_for(f"Number(document.body.dataset.refreshes) >= 1 && {ROWS}.length === 1")
    [row] = _rows(browser)
    assert (row["kind"], row["schema"]) == ("good", SIGNUP)
    assert _text(browser, "#shown") == "showing 1 of 3"

    _select(browser, "filter-schema", "")
    _select(browser, "filter-kind", "")
    _select(browser, "filter-type", "struct")
    browser.wait_for(f"{ROWS}.length === 1 && {ROWS}[0].dataset.eventType === 'struct'")
    assert browser.evaluate("location.search") == "?event_type=struct"
    assert json.loads(
        browser.evaluate(
            "JSON.stringify([...document.getElementById('filter-type').options].map(o => o.value))"
        )
    ) == ["", "struct", "unstruct"]
    browser.screenshot(artefacts / "micro-ui-filtered.png")

    _select(browser, "filter-kind", "bad")  # no bad struct event
    browser.wait_for(f"{ROWS}.length === 0")
    assert _text(browser, "#empty") == "No event matches these filters."


def test_the_page_refreshes_by_itself_and_says_when_the_collector_is_gone(
    schema_root: Path, browser: Chromium
) -> None:
    collector = Collector(schema_roots=[schema_root]).start()
    try:
        browser.open(collector.url + "/micro/ui")
        browser.wait_for("Number(document.body.dataset.refreshes) >= 1")
        assert _text(browser, "#empty") == "No events yet. Point a tracker at this collector."
        assert _text(browser, "#count-total") == "0"

        event_id = snowplow_tracker(collector).track(signup({"plan": "pro"}))
        # No reload: the page asks again every 2 s.
        browser.wait_for(f"{ROWS}.length === 1", timeout=20)
        assert _rows(browser)[0]["eventId"] == event_id
        assert _text(browser, "#count-good") == "1"
        assert _text(browser, "#status").startswith("live")
    finally:
        collector.stop()
    status = browser.wait_for(
        "document.getElementById('status').className === 'down'"
        " && document.getElementById('status').innerText",
        timeout=20,
    )
    assert status.startswith("collector not reachable")
    assert len(_rows(browser)) == 1  # what was shown stays
