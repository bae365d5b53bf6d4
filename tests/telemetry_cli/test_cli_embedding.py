"""A host tool mounts the commands under its own click CLI: ``mytool telemetry status``.

The host module is written to a temp dir and run as a real subprocess, the way its users run it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.cli import flat
from tests.support.world import REPO, STRICT_PROFILE, World

HOST = textwrap.dedent('''\
    """mytool: a host CLI that mounts telemetry-consent under its own profile."""
    import click

    from telemetry_cli import telemetry_group
    from consent.profile import AppProfile

    PROFILE = AppProfile(name="mytool", env_prefix="MYTOOL_", project_files=("mytool.yml",))


    @click.group()
    def cli():
        """My tool."""


    @cli.command()
    def build():
        click.echo("built")


    cli.add_command(telemetry_group(PROFILE))

    if __name__ == "__main__":
        cli(prog_name="mytool")
''')


@pytest.fixture
def host_script(tmp_path: Path) -> list[str]:
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    (host_dir / "mytool.py").write_text(HOST)
    return [sys.executable, str(host_dir / "mytool.py")]


@pytest.fixture
def mytool(world: World, host_script):
    def run(*args, **env):
        return world.run(*args, script=host_script, **env)

    return run


def test_mounted_status_is_bound_to_the_host_profile(world: World, mytool):
    r = mytool(
        "telemetry",
        "status",
        COLUMNS="400",
        MYTOOL_SEND_ANONYMOUS_USAGE_STATS="0",
        DBT_SEND_ANONYMOUS_USAGE_STATS="1",
    )

    assert r.code == 0, r
    assert (
        "Anonymous usage statistics are OFF for mytool (core edition) — decided by "
        "MYTOOL_SEND_ANONYMOUS_USAGE_STATS=0 in your environment."
    ) in flat(r.out)
    assert "To turn it on: unset MYTOOL_SEND_ANONYMOUS_USAGE_STATS" in r.out


def test_mounted_json_and_expect(world: World, mytool, status_schema):
    r = mytool("telemetry", "status", "--json", "--expect", "off")

    assert r.code == 1, "on by default, so expecting off fails"
    doc = r.json()
    status_schema.validate(doc)
    assert doc["app"] == "mytool"
    assert "expected off" in r.err


def test_mounted_disable_writes_the_host_config_and_the_host_keeps_working(world: World, mytool):
    r = mytool("telemetry", "disable")

    assert r.code == 0, r
    assert world.user_config_path("mytool").exists() and not world.user_config_path("dbt").exists()
    assert "are OFF for mytool" in r.out
    assert mytool("build").out == "built\n"


def test_mounted_help_uses_the_host_command_path(world: World, mytool):
    r = mytool("telemetry", "--help")

    assert r.code == 0, r
    assert "Usage: mytool telemetry" in r.out


@pytest.mark.parametrize("args", [["telemetry", "--help"], ["telemetry", "status", "--help"]])
def test_mounted_help_names_the_host_default_not_dbt(world: World, mytool, args):
    r = mytool(*args, COLUMNS="200")

    assert r.code == 0, r
    assert "dbt" not in r.out, "inside mytool, --app defaults to mytool's own profile"
    assert "(default: mytool, this tool's own)" in flat(r.out)


def test_mounted_app_option_on_the_command_switches_profile(world: World, mytool):
    r = mytool("telemetry", "status", "--app", "dbt", "--json")

    assert r.json()["app"] == "dbt"


def test_mounted_app_option_on_the_group_switches_profile(world: World, mytool):
    r = mytool("telemetry", "--app", "dbt", "status", "--json")

    assert r.json()["app"] == "dbt"


MOUNTED_ERRORS = {
    "admin lock refusal": (
        lambda w: w.write_policy('locked = true\ntelemetry = "off"\n', app="mytool"),
        ["telemetry", "enable"],
        3,
    ),
    "no project": (lambda w: None, ["telemetry", "enable", "--project"], 2),
    "unknown app": (lambda w: None, ["telemetry", "--app", "nope", "status"], 2),
}


@pytest.mark.parametrize("case", list(MOUNTED_ERRORS))
def test_mounted_errors_are_one_line_with_the_spec_exit_code(world: World, host_script, case):
    setup, args, code = MOUNTED_ERRORS[case]
    setup(world)

    # Not world.run, and the output is not echoed: a traceback must not reach the test log either.
    proc = subprocess.run(
        [*host_script, *args],
        cwd=world.cwd,
        env=world.env_with(),
        capture_output=True,
        text=True,
        timeout=30,
    )

    leaked = "Traceback" in proc.stderr
    assert not leaked, f"a traceback reached the user (exit {proc.returncode})"
    assert proc.returncode == code
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_clirunner_group_refusal_exits_3(strict_world: World, invoke):
    world = strict_world  # dbt refuses `disable` for a reason of its own (test_cli_change.py)
    world.cloud = True  # the host's code passes the cloud edition

    r = invoke("disable")

    assert r.exception is None, f"escaped the group: {r.exception!r}"
    assert r.code == 3


def test_run_api_refusal_exits_3_with_one_line(world: World, invoke, capsys, monkeypatch):
    """``telemetry_cli.run`` (for non-click hosts) is where the exit codes do hold."""
    from telemetry_cli import run

    world.profile = (
        STRICT_PROFILE  # dbt refuses `disable` for a reason of its own (test_cli_change.py)
    )
    invoke("status")  # puts this process in the world (env, cwd)

    code = run(["disable"], profile=STRICT_PROFILE, edition="cloud")

    captured = capsys.readouterr()
    assert code == 3
    assert len(captured.err.strip().splitlines()) == 1 and "cloud edition" in captured.err
    assert not world.user_config_path().exists()


@pytest.mark.parametrize(
    "kwargs,decided_by,enabled",
    [
        (dict(host_flag=False), "host_flag", False),
        (dict(edition="cloud"), "edition_mandate", True),
    ],
)
def test_group_bound_to_host_flag_and_edition(world: World, invoke, kwargs, decided_by, enabled):
    from consent.profile import AppProfile
    from telemetry_cli import telemetry_group

    profile = AppProfile(
        name="mytool",
        env_prefix="MYTOOL_",
        project_files=("mytool.yml",),
        host_flag_name="--no-stats",
    )
    r = invoke("status", "--json", group=telemetry_group(profile, **kwargs))

    doc = r.json()
    assert (doc["app"], doc["decided_by"], doc["enabled"]) == ("mytool", decided_by, enabled)


# -- the README's embedding example, run exactly as written --------------------------------------


def _readme_example() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Embedding it in your tool", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def readme_tool(tmp_path: Path) -> list[str]:
    host = tmp_path / "readme-host" / "mytool.py"
    host.parent.mkdir()
    host.write_text(_readme_example())
    return [sys.executable, str(host)]


def test_the_readme_example_runs_and_sends_its_tool_version(world: World, readme_tool):
    r = world.run("run", script=readme_tool, MYTOOL_TELEMETRY_DEBUG="1")

    assert r.code == 0, r
    printed = flat(r.err)
    assert '"event": "invocation_start"' in printed and '"event": "model_run"' in printed
    assert '"tool_version": "1.4.0"' in printed, "every event carries the tool's version"
    assert '"tool_version": null' not in printed


def test_the_readme_example_flag_off_is_an_opinion_and_none_is_not(world: World, readme_tool):
    off = world.run(
        "run", "--no-send-anonymous-usage-stats", script=readme_tool, MYTOOL_TELEMETRY_DEBUG="1"
    )
    status = world.run("telemetry", "status", "--json", script=readme_tool)

    assert off.code == 0 and "model_run" not in off.err, "an explicit off sends nothing"
    assert status.json()["app"] == "mytool"
    host_flag = next(layer for layer in status.json()["layers"] if layer["name"] == "host_flag")
    assert host_flag["opinion"] is None, "no flag given: no opinion, the other layers decide"
