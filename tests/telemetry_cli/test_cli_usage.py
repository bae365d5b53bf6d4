"""Exit codes (docs/cli.md, "Exit codes": 0 ok, 1 expectation not met, 2 usage error, 3 refused
by policy), short usage errors, help, and shell completion — through the installed
``telemetry`` script.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.support.cli import flat
from tests.support.world import World

SCRIPT = Path(sys.executable).with_name("telemetry")


@pytest.fixture
def telemetry(world: World):
    """The installed console script, as a user's shell runs it."""
    if not SCRIPT.exists():
        pytest.skip(f"no console script next to {sys.executable}")

    def run(*args, **env):
        return world.run(*args, script=[str(SCRIPT)], **env)

    return run


USAGE_ERRORS = {
    "unknown option": ["status", "--frobnicate"],
    "unknown command": ["frobnicate"],
    "bad --expect value": ["status", "--expect", "maybe"],
    "--expect without value": ["status", "--expect"],
    "--app without value": ["--app"],
    "bad --last": ["log", "-n", "0"],
    "bad completion shell": ["completion", "tcsh"],
    "missing completion shell": ["completion"],
    # click's FloatRange let nan through (every comparison with it is false)
    "upload --wait nan": ["upload", "--wait", "nan"],
    "upload --wait inf": ["upload", "--wait", "inf"],
    "upload --wait 1e999": ["upload", "--wait", "1e999"],
    "upload --wait, a long value": ["upload", "--wait", "1" * 40],
    # an unbounded int reached the store as an internal error (OverflowError)
    "collector --max-events 10**23": ["collector", "--max-events", str(10**23)],
    "unknown option on group": ["--frobnicate", "status"],
    "extra argument": ["status", "extra"],
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_usage_errors_are_two_short_lines_and_exit_2(telemetry, case):
    r = telemetry(*USAGE_ERRORS[case])

    assert r.code == 2, r
    assert r.out == ""
    lines = r.err.rstrip("\n").splitlines()
    assert 1 <= len(lines) <= 2, f"at most an error and a hint:\n{r.err}"
    assert all(len(line) <= 100 for line in lines), r.err
    assert lines[0].startswith("telemetry: error:"), r.err
    if len(lines) == 2:
        assert "--help" in lines[1], "the second line is the hint"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-h"],
        ["status", "--help"],
        ["disable", "-h"],
        ["enable", "--help"],
        ["reset", "--help"],
        ["log", "--help"],
        ["completion", "--help"],
    ],
)
def test_help_exits_0(world: World, invoke, args):
    r = invoke(*args)

    assert r.code == 0, r
    assert "Usage:" in r.out


def test_bare_telemetry_prints_help_with_every_command(telemetry):
    r = telemetry()

    assert r.code == 0, r
    for command in ("status", "disable", "enable", "reset", "events", "log", "completion"):
        assert command in r.out


def test_exit_codes_follow_the_product_spec(world: World, telemetry):
    # The console script is the built-in dbt profile: on by default, and `disable` (--global) is
    # refused, because dbt never reads that file (the cloud edition's refusal: test_cli_change.py).
    assert telemetry("status").code == 0
    assert telemetry("status", "--expect", "off").code == 1
    assert telemetry("status", "--expect", "sideways").code == 2
    refused = telemetry("disable")
    assert refused.code == 3 and "dbt does not read your user config" in refused.err
    assert not world.user_config_path().exists()


@pytest.mark.parametrize(
    "shell,marker", [("bash", "complete "), ("zsh", "compdef"), ("fish", "complete ")]
)
def test_completion_prints_a_script_for_the_telemetry_command(world: World, invoke, shell, marker):
    r = invoke("completion", shell)

    assert r.code == 0, r
    assert "_TELEMETRY_COMPLETE" in r.out and marker in r.out


def test_bash_completion_script_completes_commands(world: World, telemetry):
    script = telemetry("completion", "bash")
    assert script.code == 0 and "_TELEMETRY_COMPLETE=bash_complete" in script.out

    r = telemetry(COMP_WORDS="telemetry st", COMP_CWORD="1", _TELEMETRY_COMPLETE="bash_complete")

    assert r.code == 0, r
    assert "plain,status" in r.out.splitlines()


# -- what users hit at the edges -----------------------------------------------------------------


def test_help_documents_every_exit_code(telemetry):
    text = flat(telemetry("--help").out)

    for code in (
        "0 success",
        "1 --expect not met",
        "2 usage error",
        "3 refused or not in effect",
        "4 a write failed",
    ):
        assert code in text, code


def test_version_names_the_package_and_its_version(telemetry):
    from importlib.metadata import version

    r = telemetry("--version")

    assert r.code == 0, r
    assert r.out.strip() == f"telemetry-consent {version('telemetry-consent')}"


@pytest.mark.parametrize("where", ["group", "command"])
def test_an_empty_app_is_a_usage_error_not_silently_dbt(telemetry, where):
    args = ["--app", "", "status"] if where == "group" else ["status", "--app", ""]

    r = telemetry(*args)

    assert r.code == 2, r
    assert r.out == ""
    assert "--app" in r.err and "needs the name of an app profile" in r.err and "dbt" in r.err


@pytest.mark.parametrize(
    "args", [["status"], ["status", "--json"], ["disable", "--project"], ["enable"]]
)
def test_a_deleted_working_directory_is_one_line_not_a_phantom_lock(world: World, args):
    gone = world.root / "gone"
    gone.mkdir()
    script = (
        "import os, sys\nos.chdir(sys.argv[1])\nos.rmdir(sys.argv[1])\n"
        "from telemetry_cli import run\nsys.exit(run(sys.argv[2:]))\n"
    )

    r = world.run(*args, script=[sys.executable, "-c", script, str(gone)], cwd=world.root)

    assert r.code == 2, r
    assert r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert "the working directory no longer exists" in lines[0] and "Fix: cd" in lines[0]
    assert "administrator" not in r.err and "internal error" not in r.err
    assert not world.user_config_path().exists()


def test_a_host_in_a_deleted_directory_gets_a_decision_without_a_phantom_lock(world: World):
    gone = world.root / "gone"
    gone.mkdir()
    script = (
        "import json, os, sys\nos.chdir(sys.argv[1])\nos.rmdir(sys.argv[1])\n"
        "import consent\nd = consent.decide()\n"
        "print(json.dumps([d.enabled, d.decided_by, list(d.warnings)]))\n"
    )

    r = world.run(script=[sys.executable, "-c", script, str(gone)], cwd=world.root)

    enabled, decided_by, warnings = json.loads(r.out)
    assert (enabled, decided_by) == (False, "project_file"), "fails closed at the project layer"
    assert any("working directory no longer exists" in w for w in warnings)
