"""Runtime settings from ``<PREFIX>TELEMETRY_*``: read once, a wrong value is one line, never a crash."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tracking.settings import FIELDS, TrackerSettings


def test_values_come_from_the_given_environment_with_the_profile_prefix(monkeypatch):
    monkeypatch.setenv("TESTAPP_TELEMETRY_BATCH_SIZE", "9")  # os.environ is not the source here
    settings, problems = TrackerSettings.load("TESTAPP_", {
        "TESTAPP_TELEMETRY_DEBUG": "1",
        "TESTAPP_TELEMETRY_FLUSH_DEADLINE": "0.5",
        "TESTAPP_TELEMETRY_SPOOL_MAX_EVENTS": "100",
        "testapp_telemetry_upload_time_limit": "12",  # any case, as shells and CI write them
        "TESTAPP_TELEMETRY_ENDPOINT": "  ",  # blank: unset
        "OTHER_TELEMETRY_DEBUG": "0",
    })
    assert problems == []
    assert settings.debug is True
    assert settings.flush_deadline == 0.5
    assert settings.spool_max_events == 100
    assert settings.upload_time_limit == 12.0
    assert settings.endpoint is None
    assert settings.batch_size == 200


def test_defaults():
    settings, problems = TrackerSettings.load("TESTAPP_", {})
    assert problems == []
    assert settings == TrackerSettings()
    assert (settings.endpoint, settings.debug, settings.flush_deadline) == (None, False, None)
    assert (settings.spool_max_events, settings.spool_max_bytes) == (10_000, 10 * 1024 * 1024)
    assert settings.spool_max_age_s == 7 * 24 * 3600
    assert (settings.upload_time_limit, settings.backoff_max_s) == (30.0, 60.0)


@pytest.mark.parametrize("variable,value,why", [
    ("FLUSH_DEADLINE", "soon", "not a number"),
    ("FLUSH_DEADLINE", "31", "must be ≤ 30"),
    ("SPOOL_MAX_EVENTS", "0", "must be ≥ 1"),
    ("SPOOL_MAX_EVENTS", "1.5", "not an integer"),
    ("REQUEST_TIMEOUT", "0", "must be > 0"),
    ("REQUEST_TIMEOUT", "nan", "not a finite number"),
    ("DEBUG", "maybe", "not a boolean"),
])
def test_a_wrong_value_is_ignored_with_one_line_naming_the_variable(variable, value, why):
    settings, problems = TrackerSettings.load("TESTAPP_", {
        f"TESTAPP_TELEMETRY_{variable}": value,
        "TESTAPP_TELEMETRY_BATCH_SIZE": "7",
    })
    assert settings.batch_size == 7  # the good ones still apply
    field = variable.lower()
    assert getattr(settings, field) == getattr(TrackerSettings(), field)
    (problem,) = problems
    assert f"TESTAPP_TELEMETRY_{variable}" in problem and why in problem
    assert "Fix: correct or unset" in problem and "\n" not in problem


def test_a_huge_value_is_never_echoed_whole():
    _, (problem,) = TrackerSettings.load("TESTAPP_", {"TESTAPP_TELEMETRY_BATCH_SIZE": "9" * 5000})
    assert len(problem) < 400


def test_the_environment_is_read_by_default(monkeypatch):
    monkeypatch.setenv("TESTAPP_TELEMETRY_BATCH_SIZE", "25")
    settings, _ = TrackerSettings.load("TESTAPP_")
    assert settings.batch_size == 25


def test_the_table_and_the_settings_agree():
    assert [f.name for f in FIELDS] == list(TrackerSettings._fields)
    for field in FIELDS:
        assert getattr(TrackerSettings(), field.name) == field.default, field.name
        assert field.description


def test_the_uploader_is_told_its_options_and_reads_them_back():
    settings = TrackerSettings(batch_size=50, upload_time_limit=5, spool_max_age_s=60)
    assert TrackerSettings.from_options(settings.uploader_options()) == settings._replace(
        endpoint=None, debug=False, flush_deadline=None)
    garbage = TrackerSettings.from_options({"batch_size": "lots", "nope": 1, "debug": True})
    assert garbage == TrackerSettings()


def test_reading_the_settings_imports_nothing_heavy():
    code = ("import sys; from tracking.settings import TrackerSettings; "
            "TrackerSettings.load('X_', {'X_TELEMETRY_BATCH_SIZE': '3'}); "
            "print(sorted(m for m in ('pydantic', 'pydantic_settings') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
