"""Runtime settings from ``<PREFIX>TELEMETRY_*``: one declaration, two readers (the host's, with
the standard library, and the uploader's, with pydantic-settings); a wrong value is one line,
never a crash."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tracking.settings import TrackerSettings, declared, read_host_settings
from tracking.uploader_settings import Model, load_settings

#: Both readers, for what both read.
READERS = {"host": read_host_settings, "uploader": load_settings}


@pytest.mark.parametrize("reader", READERS)
def test_values_come_from_the_given_environment_with_the_profile_prefix(monkeypatch, reader):
    monkeypatch.setenv("TESTAPP_TELEMETRY_SPOOL_MAX_EVENTS", "9")  # os.environ is not the source
    settings, problems = READERS[reader](
        "TESTAPP_",
        {
            "TESTAPP_TELEMETRY_DEBUG": "1",
            "TESTAPP_TELEMETRY_FLUSH_DEADLINE": "0.5",
            "testapp_telemetry_spool_max_bytes": "2048",  # any case, as shells and CI write them
            "TESTAPP_TELEMETRY_ENDPOINT": "  ",  # blank: unset
            "OTHER_TELEMETRY_DEBUG": "0",
        },
    )
    assert problems == []
    assert settings.debug is True
    assert settings.flush_deadline == 0.5
    assert settings.spool_max_bytes == 2048
    assert settings.spool_max_events == 10_000
    assert settings.endpoint is None
    assert settings.batch_size == 200


@pytest.mark.parametrize("reader", READERS)
def test_both_read_every_setting(reader):
    """The host reads them all too: its own delivery thread (CI, PID 1) uses what it read."""
    env = {
        "TESTAPP_TELEMETRY_SPOOL_MAX_EVENTS": "100",
        "testapp_telemetry_upload_time_limit": "12",
        "TESTAPP_TELEMETRY_BATCH_SIZE": "9",
    }
    settings, problems = READERS[reader]("TESTAPP_", env)
    assert problems == []
    assert (settings.spool_max_events, settings.upload_time_limit, settings.batch_size) == (
        100,
        12.0,
        9,
    )


@pytest.mark.parametrize("reader", READERS)
def test_defaults(reader):
    settings, problems = READERS[reader]("TESTAPP_", {})
    assert problems == []
    assert settings == TrackerSettings()
    assert (settings.endpoint, settings.debug, settings.flush_deadline) == (None, False, None)
    assert (settings.spool_max_events, settings.spool_max_bytes) == (10_000, 10 * 1024 * 1024)
    assert settings.spool_max_age_s == 7 * 24 * 3600
    assert (settings.upload_time_limit, settings.backoff_max_s) == (30.0, 60.0)


WRONG = [
    ("FLUSH_DEADLINE", "soon", "not a number"),
    ("FLUSH_DEADLINE", "31", "must be ≤ 30"),
    ("SPOOL_MAX_EVENTS", "0", "must be ≥ 1"),
    ("SPOOL_MAX_EVENTS", "1.5", "not an integer"),
    ("REQUEST_TIMEOUT", "0", "must be > 0"),
    ("REQUEST_TIMEOUT", "nan", "not a finite number"),
    ("DEBUG", "maybe", "not a boolean"),
]


@pytest.mark.parametrize(
    "reader,variable,value,why",
    [(reader, *case) for reader in READERS for case in WRONG],
)
def test_a_wrong_value_is_ignored_with_one_line_naming_the_variable(reader, variable, value, why):
    field = variable.lower()
    settings, problems = READERS[reader](
        "TESTAPP_",
        {
            f"TESTAPP_TELEMETRY_{variable}": value,
            "TESTAPP_TELEMETRY_SPOOL_MAX_BYTES": "4096",
        },
    )
    assert settings.spool_max_bytes == 4096  # the good ones still apply
    assert getattr(settings, field) == getattr(TrackerSettings(), field)
    (problem,) = problems
    assert f"TESTAPP_TELEMETRY_{variable}" in problem and why in problem
    assert "Fix: correct or unset" in problem and "\n" not in problem


@pytest.mark.parametrize("reader", READERS)
def test_a_huge_value_is_never_echoed_whole(reader):
    _, (problem,) = READERS[reader]("TESTAPP_", {"TESTAPP_TELEMETRY_SPOOL_MAX_EVENTS": "9" * 5000})
    assert len(problem) < 400


@pytest.mark.parametrize("reader", READERS)
def test_the_environment_is_read_by_default(monkeypatch, reader):
    monkeypatch.setenv("TESTAPP_TELEMETRY_SPOOL_MAX_EVENTS", "25")
    settings, _ = READERS[reader]("TESTAPP_")
    assert settings.spool_max_events == 25


def test_the_uploaders_model_is_the_declaration():
    """One declaration: the pydantic model has each declared setting with its default, bounds
    and meaning, and nothing else."""
    fields = Model.model_fields
    assert list(fields) == list(TrackerSettings._fields)
    for item in declared():
        model_field = fields[item.name]
        assert model_field.default == item.default, item.name
        assert model_field.description == item.setting.meaning and item.setting.meaning
        bounds = {type(m).__name__: m for m in model_field.metadata}
        for name, bound in (
            ("Ge", item.setting.ge),
            ("Gt", item.setting.gt),
            ("Le", item.setting.le),
        ):
            if bound is None:
                assert name not in bounds, (item.name, name)
            else:
                assert getattr(bounds[name], name.lower()) == bound, (item.name, name)


def test_reading_the_host_settings_imports_nothing_heavy():
    code = (
        "import sys; from tracking.settings import read_host_settings; "
        "read_host_settings('X_', {'X_TELEMETRY_SPOOL_MAX_EVENTS': '3'}); "
        "print(sorted(m for m in ('pydantic', 'pydantic_settings') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
