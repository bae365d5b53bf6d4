"""``--app NAME``: the built-in dbt profile, profiles registered by installed tools, unknown
names."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.world import World

COMMANDS = [["status"], ["status", "--json"], ["disable"], ["enable"], ["reset"], ["log"]]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
@pytest.mark.parametrize("where", ["group", "command"])
def test_app_dbt_is_accepted_on_the_group_and_on_each_command(world: World, invoke, args, where):
    argv = ["--app", "dbt", *args] if where == "group" else [*args, "--app", "dbt"]

    r = invoke(*argv)

    assert r.code == 0 and r.exception is None, r


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
@pytest.mark.parametrize("where", ["group", "command"])
def test_unknown_app_is_exit_2_listing_the_known_ones(world: World, args, where):
    argv = ["--app", "nosuchtool", *args] if where == "group" else [*args, "--app", "nosuchtool"]

    r = world.run(*argv)

    assert r.code == 2, r
    assert r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert "nosuchtool" in lines[0] and "dbt" in lines[0]
    assert not world.user_config_path().exists()
    assert not world.user_config_path("nosuchtool").exists()


@pytest.fixture
def fakeapp_site(tmp_path: Path) -> Path:
    """An installed tool that registers the ``fakeapp`` profile through the entry point."""
    site = tmp_path / "site"
    info = site / "fakeapp-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeapp\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[telemetry_consent.profiles]\n"
        "fakeapp = fakeapp_profile:PROFILE\n"
        "brokenapp = brokenapp_profile:PROFILE\n"
    )
    (site / "fakeapp_profile.py").write_text(
        textwrap.dedent("""\
        from consent.profile import AppProfile

        PROFILE = AppProfile(name="fakeapp", env_prefix="FAKEAPP_", project_files=("fakeapp.yml",))
    """)
    )
    (site / "brokenapp_profile.py").write_text("raise RuntimeError('a plugin bug')\n")
    return site


def test_registered_profile_is_found_and_reads_its_own_variable(
    world: World, fakeapp_site, status_schema
):
    r = world.run(
        "--app",
        "fakeapp",
        "status",
        "--json",
        PYTHONPATH=str(fakeapp_site),
        FAKEAPP_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_SEND_ANONYMOUS_USAGE_STATS="true",
    )

    assert r.code == 0, r
    doc = json.loads(r.out)
    status_schema.validate(doc)
    assert doc["app"] == "fakeapp"
    assert doc["enabled"] is False and doc["decided_by"] == "env_var"
    env_layer = next(layer for layer in doc["layers"] if layer["name"] == "env_var")
    assert env_layer["origin"] == "FAKEAPP_SEND_ANONYMOUS_USAGE_STATS", "not dbt's variable"


def test_registered_profile_has_its_own_files_and_text(world: World, fakeapp_site):
    (world.cwd / "fakeapp.yml").write_text("flags:\n  send_anonymous_usage_stats: false\n")
    world.project_flag("true")  # dbt's file: not fakeapp's business
    site = str(fakeapp_site)

    status = world.run("status", "--app", "fakeapp", PYTHONPATH=site, COLUMNS="400")
    disabled = world.run("--app", "fakeapp", "disable", PYTHONPATH=site)

    assert "are OFF for fakeapp (core edition) — decided by the project file" in status.out
    assert "fakeapp.yml:2" in status.out
    assert disabled.code == 0, disabled
    assert world.user_config_path("fakeapp").exists() and not world.user_config_path("dbt").exists()


def test_unknown_app_lists_registered_ones_too(world: World, fakeapp_site):
    r = world.run("--app", "nope", "status", PYTHONPATH=str(fakeapp_site))

    assert r.code == 2, r
    assert "dbt" in r.err and "fakeapp" in r.err


def test_a_broken_plugin_is_a_one_line_error_not_a_traceback(world: World, fakeapp_site):
    r = world.run("--app", "brokenapp", "status", PYTHONPATH=str(fakeapp_site))

    assert r.code == 2, r
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert r.err.startswith(
        "telemetry: brokenapp's profile failed to load: RuntimeError: a plugin bug."
    ), r.err
    assert "unknown app" not in r.err, "it is installed; it is broken"
    assert "TELEMETRY_CONSENT_TRACEBACK=1" in r.err


def test_the_traceback_variable_shows_where_a_plugin_fails(world: World, fakeapp_site):
    # Not world.run: a traceback is exactly what this test asks for.
    proc = subprocess.run(
        [sys.executable, "-m", "telemetry_cli", "--app", "brokenapp", "status"],
        cwd=world.cwd,
        capture_output=True,
        text=True,
        timeout=30,
        env=world.env_with(PYTHONPATH=str(fakeapp_site), TELEMETRY_CONSENT_TRACEBACK="1"),
    )

    assert proc.returncode == 2
    assert proc.stderr.startswith("telemetry: brokenapp's profile failed to load")
    assert "Traceback" in proc.stderr and "brokenapp_profile.py" in proc.stderr


def test_a_broken_plugin_does_not_break_the_default_app(world: World, fakeapp_site):
    r = world.run("status", "--json", PYTHONPATH=str(fakeapp_site))

    assert r.code == 0 and json.loads(r.out)["app"] == "dbt"
