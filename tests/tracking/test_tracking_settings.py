"""Runtime settings from ``<PREFIX>TELEMETRY_*``: a wrong value is one line, never a crash."""

from __future__ import annotations

from tracking.settings import TrackerSettings


def test_values_come_from_the_given_environment_with_the_profile_prefix(monkeypatch):
    monkeypatch.setenv("TESTAPP_TELEMETRY_BATCH_SIZE", "9")  # os.environ is not the source here
    settings, problems = TrackerSettings.load("TESTAPP_", {
        "TESTAPP_TELEMETRY_DEBUG": "1",
        "TESTAPP_TELEMETRY_FLUSH_DEADLINE": "0.5",
        "TESTAPP_TELEMETRY_QUEUE_SIZE": "100",
        "OTHER_TELEMETRY_DEBUG": "0",
    })
    assert problems == []
    assert settings.debug is True
    assert settings.flush_deadline == 0.5
    assert settings.queue_size == 100
    assert settings.batch_size == 200


def test_defaults():
    settings, problems = TrackerSettings.load("TESTAPP_", {})
    assert problems == []
    assert (settings.endpoint, settings.debug, settings.flush_deadline) == (None, False, None)
    assert settings.queue_size == 10_000 and settings.batch_size == 200


def test_a_wrong_value_is_ignored_with_one_line_naming_the_variable():
    settings, problems = TrackerSettings.load("TESTAPP_", {
        "TESTAPP_TELEMETRY_FLUSH_DEADLINE": "soon",
        "TESTAPP_TELEMETRY_QUEUE_SIZE": "0",
        "TESTAPP_TELEMETRY_BATCH_SIZE": "7",
    })
    assert settings.flush_deadline is None and settings.queue_size == 10_000
    assert settings.batch_size == 7  # the good ones still apply
    assert len(problems) == 2
    assert any("TESTAPP_TELEMETRY_FLUSH_DEADLINE" in p and "Fix:" in p for p in problems)
    assert any("TESTAPP_TELEMETRY_QUEUE_SIZE" in p for p in problems)


def test_the_environment_is_read_by_default(monkeypatch):
    monkeypatch.setenv("TESTAPP_TELEMETRY_LINGER", "2.5")
    settings, _ = TrackerSettings.load("TESTAPP_")
    assert settings.linger == 2.5
