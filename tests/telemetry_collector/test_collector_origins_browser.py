"""A page on another site, in a real browser, can neither read nor wipe the local collector.

``test_collector_local_only.py`` checks the collector's answers header by header; what protects
a developer is what a browser makes of them.  So headless Chromium (driver: cdp.py) loads a page
from a second origin (a tiny server on another port of 127.0.0.1: another port is another
origin) and that page attacks a collector holding events, with what any site can do:

* read ``/micro/*`` with ``fetch``, with and without credentials: CORS withholds the answer;
* wipe it with an ``<img>``, an auto-submitted form (both form encodings) or a ``no-cors``
  fetch: each reaches the collector and is refused (405/415);
* wipe it with a JSON ``fetch``: the browser asks first (a preflight), is refused, never posts;
* DNS rebinding: the browser is made to resolve a foreign name to 127.0.0.1 (what a rebinding
  DNS server does), so the page is same-origin with the collector and CORS no longer helps;
  the ``Host`` check does (421).

After every attack the test asks the collector itself, over HTTP, what it still holds.  Controls
keep this from passing vacuously: each attack is seen reaching the collector (or, for the JSON
post, its preflight refused), the collector's own page does read and reset it, and a page on
another site can still send events to the tracker endpoint, as Snowplow's browser trackers do.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from snowplow_tracker.events import StructuredEvent

from telemetry_collector import TP2_PATH, Collector
from tests.telemetry_collector.cdp import Chromium, find_chromium
from tests.telemetry_collector.micro_kit import PAYLOAD_DATA, TIMEOUT, signup, snowplow_tracker

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)",
)
#: A name the browser resolves to 127.0.0.1, as after DNS rebinding (``--host-resolver-rules``).
REBOUND = "rebound.test"
STOCK = {"total": 3, "good": 2, "bad": 1, "duplicates": 0, "evicted": 0}
T = TypeVar("T")
ZERO = {"total": 0, "good": 0, "bad": 0, "duplicates": 0, "evicted": 0}

#: The other site's page.  Each attack is a function that settles (bounded) once the browser
#: is done with it, and says what the page got to see.
ATTACKER_PAGE = """<!doctype html>
<title>another site</title>
<iframe name="sink"></iframe>
<script>
const target = new URLSearchParams(location.search).get("target");
const bounded = (promise) => Promise.race([
  promise, new Promise((done) => setTimeout(() => done({timeout: true}), 10000))]);

async function read(path, init) {
  try {
    const answer = await fetch(target + path, init);
    return {status: answer.status, type: answer.type, body: await answer.text()};
  } catch (error) {
    return {error: error.name, message: error.message};
  }
}

function pixel(path) {
  return bounded(new Promise((done) => {
    const img = new Image();
    img.onload = () => done({img: "load"});
    img.onerror = () => done({img: "error"});
    img.src = target + path;
  }));
}

function submit(path, enctype, name, value) {
  return bounded(new Promise((done) => {
    const form = document.createElement("form");
    Object.assign(form, {method: "POST", action: target + path, enctype, target: "sink"});
    const field = document.createElement("input");
    Object.assign(field, {type: "hidden", name, value});
    form.append(field);
    document.body.append(form);
    document.querySelector("iframe").onload = () => done({form: "answered"});
    form.submit();
  }));
}
</script>
"""


class _AttackerSite(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = ATTACKER_PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def foreign() -> Iterator[str]:
    """The other site's origin: another port of 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AttackerSite)
    thread = threading.Thread(target=server.serve_forever, name="attacker-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    assert CHROMIUM is not None
    rules = f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"
    with Chromium(CHROMIUM, tmp_path / "chromium-profile", flags=[rules]) as b:
        yield b


@pytest.fixture
def stocked(collector: Collector) -> Collector:
    """A collector holding two good events and a bad one, sent by Snowplow's tracker."""
    tracker = snowplow_tracker(collector)
    tracker.track(signup({"plan": "pro"}))
    tracker.track(StructuredEvent("cli", "run"))
    tracker.track(signup({"plan": "enterprise"}))  # not in the schema's enum: bad
    assert _held(collector) == STOCK
    return collector


def _held(collector: Collector) -> dict[str, int]:
    """What the collector says it holds, asked over HTTP (not through the browser)."""
    answer = requests.get(collector.url + "/micro/all", timeout=TIMEOUT)
    answer.raise_for_status()
    counts: dict[str, int] = answer.json()
    return counts


def _on_foreign_page(browser: Chromium, foreign: str, collector: Collector) -> int:
    """Open the other site's page aimed at *collector*; where its network events start."""
    browser.open(f"{foreign}/?target={collector.url}")
    assert browser.evaluate("location.origin") == foreign != collector.url
    return len(browser.events)


def _settles_to(observe: Callable[[], T], want: T, *, timeout: float = 5.0) -> None:
    """Assert *observe* shows *want* within *timeout*: the browser's network events may trail
    the answer of the script that caused them."""
    deadline = time.monotonic() + timeout
    seen = observe()
    while seen != want and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = observe()
    assert seen == want


def _network(browser: Chromium, since: int, method: str) -> list[dict[str, Any]]:
    return [e["params"] for e in browser.events[since:] if e.get("method") == method]


def _answers(browser: Chromium, since: int, url: str) -> list[tuple[str, int | None]]:
    """``(method, HTTP status)`` of every request the browser made to *url*, sorted by method (a
    preflight and its request are announced in either order); None: never answered.  The status
    is the one on the wire, also when the browser then withheld the answer from the page (CORS)
    or from an ``<img>`` (Opaque Response Blocking)."""
    status: dict[str, int] = {}
    for params in _network(browser, since, "Network.responseReceivedExtraInfo"):
        status.setdefault(params["requestId"], params["statusCode"])
    for params in _network(browser, since, "Network.responseReceived"):
        status.setdefault(params["requestId"], params["response"]["status"])
    answers = [
        (params["request"]["method"], status.get(params["requestId"]))
        for params in _network(browser, since, "Network.requestWillBeSent")
        if params["request"]["url"] == url
    ]
    return sorted(answers, key=lambda answer: answer[0])


def _cors_errors(browser: Chromium, since: int) -> list[str]:
    """Why the browser withheld answers from the page, in Chromium's words."""
    return [
        params["corsErrorStatus"]["corsError"]
        for params in _network(browser, since, "Network.loadingFailed")
        if "corsErrorStatus" in params
    ]


@pytest.mark.parametrize("credentials", ["same-origin", "include"])
def test_a_foreign_page_cannot_read_the_events(
    stocked: Collector, browser: Chromium, foreign: str, credentials: str
) -> None:
    since = _on_foreign_page(browser, foreign, stocked)
    routes = ["/micro/all", "/micro/good", "/micro/bad"]
    seen = browser.evaluate(
        f"Promise.all({json.dumps(routes)}.map("
        f"(path) => read(path, {{credentials: {json.dumps(credentials)}}})))"
    )
    for route, what in zip(routes, seen, strict=True):
        assert what == {"error": "TypeError", "message": "Failed to fetch"}, (route, what)
    _settles_to(lambda: _cors_errors(browser, since), ["MissingAllowOriginHeader"] * len(routes))


@pytest.mark.parametrize(
    "attack,expected,status",
    [
        ("pixel('/micro/reset')", {"img": "error"}, 405),
        # text/plain: the classic way to post a JSON-looking body from a form
        (
            """submit('/micro/reset', 'text/plain', '{"reset":"', '"}')""",
            {"form": "answered"},
            415,
        ),
        (
            "submit('/micro/reset', 'application/x-www-form-urlencoded', 'reset', '1')",
            {"form": "answered"},
            415,
        ),
        (
            "read('/micro/reset', {method: 'POST', mode: 'no-cors', body: '{}'})",
            {"status": 0, "type": "opaque", "body": ""},
            415,
        ),
    ],
    ids=["img", "form-text-plain", "form-urlencoded", "fetch-no-cors"],
)
def test_no_request_a_foreign_page_may_send_unasked_wipes_the_events(
    stocked: Collector,
    browser: Chromium,
    foreign: str,
    attack: str,
    expected: dict[str, Any],
    status: int,
) -> None:
    since = _on_foreign_page(browser, foreign, stocked)
    assert browser.evaluate(attack) == expected
    assert _held(stocked) == STOCK
    # It did reach the collector, which refused it (not the browser, not a typo in the URL).
    method = "GET" if attack.startswith("pixel") else "POST"
    _settles_to(lambda: _answers(browser, since, stocked.url + "/micro/reset"), [(method, status)])


def test_a_foreign_json_post_stops_at_the_refused_preflight(
    stocked: Collector, browser: Chromium, foreign: str
) -> None:
    since = _on_foreign_page(browser, foreign, stocked)
    what = browser.evaluate(
        "read('/micro/reset', {method: 'POST', body: '{}',"
        " headers: {'Content-Type': 'application/json'}})"
    )
    assert what == {"error": "TypeError", "message": "Failed to fetch"}
    assert _held(stocked) == STOCK
    # The browser asked first, was refused, and never sent the POST.
    _settles_to(
        lambda: _answers(browser, since, stocked.url + "/micro/reset"),
        [("OPTIONS", 403), ("POST", None)],
    )
    _settles_to(lambda: _cors_errors(browser, since), ["PreflightMissingAllowOriginHeader"])


def test_a_rebound_name_gets_only_a_refusal(stocked: Collector, browser: Chromium) -> None:
    """After rebinding, the attacker's page and the collector share an origin: CORS is out of
    the way, the browser sends the attacker's name as ``Host``, and only that is refused."""
    rebound = f"http://{REBOUND}:{stocked.port}"
    since = len(browser.events)
    browser.open(rebound + "/micro/ui")
    assert browser.evaluate("location.origin") == rebound
    _settles_to(lambda: _answers(browser, since, rebound + "/micro/ui"), [("GET", 421)])
    assert "is not this collector" in browser.evaluate("document.body.innerText")

    same_origin = browser.evaluate("""Promise.all([
        fetch('/micro/all'),
        fetch('/micro/reset', {method: 'POST', body: '{}',
                               headers: {'Content-Type': 'application/json'}}),
    ].map(async (p) => { const a = await p; return {status: a.status, body: await a.json()}; }))
    """)
    for answer in same_origin:
        assert answer["status"] == 421
        assert list(answer["body"]) == ["error"]
        assert f"Host '{REBOUND}:{stocked.port}' is not this collector" in answer["body"]["error"]
    assert _held(stocked) == STOCK


def test_the_collectors_own_page_reads_and_resets_it(stocked: Collector, browser: Chromium) -> None:
    """The control: what is refused to other sites works from the collector's own page."""
    browser.open(stocked.url + "/micro/ui")
    assert browser.evaluate("fetch('/micro/all').then((a) => a.json())") == STOCK
    answer = browser.evaluate("""fetch('/micro/reset', {method: 'POST', body: '{}',
        headers: {'Content-Type': 'application/json'}}).then((a) => a.json())""")
    assert answer == ZERO
    assert _held(stocked) == ZERO


def test_a_foreign_page_still_sends_events_to_the_tracker_endpoint(
    stocked: Collector, browser: Chromium, foreign: str
) -> None:
    """Snowplow's browser trackers post from any site, with cookies: that CORS stays."""
    since = _on_foreign_page(browser, foreign, stocked)
    batch = {
        "schema": PAYLOAD_DATA,
        "data": [
            {
                "e": "pv",
                "p": "web",
                "tv": "js-4.0.0",
                "aid": "another-site",
                "eid": "c6ef3124-b53a-4b13-a233-0088f79dcbcb",
                "dtm": "1764979200000",
                "url": foreign + "/",
            }
        ],
    }
    body = json.dumps(json.dumps(batch))
    what = browser.evaluate(
        f"read({json.dumps(TP2_PATH)}, {{method: 'POST', credentials: 'include',"
        f" headers: {{'Content-Type': 'application/json'}}, body: {body}}})"
    )
    assert what == {"status": 200, "type": "cors", "body": "ok"}
    _settles_to(
        lambda: _answers(browser, since, stocked.url + TP2_PATH), [("OPTIONS", 200), ("POST", 200)]
    )
    assert _held(stocked) == {**STOCK, "total": 4, "good": 3}
    [event] = requests.get(stocked.url + "/micro/good?limit=1", timeout=TIMEOUT).json()
    assert event["event"]["app_id"] == "another-site"
