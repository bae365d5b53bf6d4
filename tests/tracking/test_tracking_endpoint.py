"""Where events go: HTTPS, or plain http only to this machine; `status` can ask cheaply."""

from __future__ import annotations

import pytest

from tests.support.tracking import make_profile
from tracking.endpoint import check_endpoint, endpoint_for


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("https://collector.example.com", "https://collector.example.com"),
        ("https://collector.example.com/", "https://collector.example.com"),
        ("collector.example.com", "https://collector.example.com"),
        ("http://127.0.0.1:9090", "http://127.0.0.1:9090"),
        ("http://127.8.9.10", "http://127.8.9.10"),
        ("http://localhost:1234/base", "http://127.0.0.1:1234/base"),  # pinned: never resolved
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://127.0.0.1:9090/com.snowplowanalytics.snowplow/tp2", "http://127.0.0.1:9090"),
    ],
)
def test_accepted_endpoints(raw, url):
    assert check_endpoint(raw, "X") == (url, None)


@pytest.mark.parametrize(
    "raw",
    [
        "http://collector.example.com",  # plain http to another machine
        "http://10.0.0.1:9090",
        "http://0.0.0.0:9090",
        "ftp://127.0.0.1",
        "https://user:pw@collector.example.com",
        "http://127.0.0.1@evil.example.com",  # looks local, is not
        "http://evil.example.com#@127.0.0.1",
        "https://collector.example.com/?x=1",
        "https://bad_host",
        "https://example.com:99999",
    ],
)
def test_refused_endpoints_say_why_and_how_to_fix(raw):
    url, problem = check_endpoint(raw, "TESTAPP_TELEMETRY_ENDPOINT")
    assert url is None
    assert problem.startswith("TESTAPP_TELEMETRY_ENDPOINT=") and "Fix:" in problem
    assert "\n" not in problem


def test_the_environment_overrides_the_profile():
    profile = make_profile("https://collector.example.com")
    assert endpoint_for(profile, {}) == ("https://collector.example.com", None)
    assert endpoint_for(profile, {"TESTAPP_TELEMETRY_ENDPOINT": "http://127.0.0.1:1"}) == (
        "http://127.0.0.1:1",
        None,
    )
    assert (
        endpoint_for(profile, {"TESTAPP_TELEMETRY_ENDPOINT": "  "})[0]
        == "https://collector.example.com"
    )
    url, problem = endpoint_for(profile, {"TESTAPP_TELEMETRY_ENDPOINT": "http://example.com"})
    assert url is None and "TESTAPP_TELEMETRY_ENDPOINT" in problem


def test_a_profile_without_a_collector_sends_nowhere_and_that_is_not_a_problem():
    assert endpoint_for(make_profile(None), {}) == (None, None)


def test_credentials_in_a_refused_url_are_never_echoed():
    from tracking.endpoint import check_endpoint

    url, problem = check_endpoint("https://svc-user:S3cr3tT0ken@collector.example/", "X")
    assert url is None and "S3cr3tT0ken" not in problem and "svc-user" not in problem
