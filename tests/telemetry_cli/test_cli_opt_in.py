"""An opt-in tool's commands, mounted under its own CLI and run as a real subprocess: status
says why it is off and how to say yes; ``enable`` records the yes with the consent version."""

from __future__ import annotations

import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.support.cli import flat
from tests.support.world import World

HOST = textwrap.dedent('''\
    """asker: a host CLI of the opt-in model."""
    import click

    from telemetry_cli import telemetry_group
    from consent.profile import AppProfile

    PROFILE = AppProfile(
        name="asker",
        env_prefix="ASKER_",
        project_files=("asker.yml",),
        consent_model="opt_in",
        consent_version=3,
        telemetry_command="asker telemetry",
    )


    @click.group()
    def cli():
        """Asks first."""


    cli.add_command(telemetry_group(PROFILE))

    if __name__ == "__main__":
        cli(prog_name="asker")
''')


@pytest.fixture
def asker(world: World, tmp_path: Path):
    host = tmp_path / "host" / "asker.py"
    host.parent.mkdir()
    host.write_text(HOST)

    def run(*args, **env):
        return world.run("telemetry", *args, script=[sys.executable, str(host)], **env)

    return run


def test_status_says_an_opt_in_tool_is_off_until_you_say_yes(world: World, asker):
    r = asker("status", COLUMNS="400")

    assert r.code == 0, r
    assert (
        "Anonymous usage statistics are OFF for asker (core edition) — decided by the opt-in "
        "default: off until you say yes."
    ) in flat(r.out)
    assert "To turn it on: asker telemetry enable" in r.out


def test_enable_records_the_yes_with_the_consent_version_decided_by_your_user_config(
    world: World, asker
):
    r = asker("enable", COLUMNS="400")

    assert r.code == 0, r
    path = world.user_config_path("asker")
    assert tomllib.loads(path.read_text()) == {
        "send_anonymous_usage_stats": True,
        "consent_version": 3,
    }
    assert f"ON for asker (core edition) — decided by your user config ({path}:" in flat(r.out)
    assert asker("status", "--json").json()["decided_by"] == "user_config"


def test_a_yes_for_another_version_is_shown_and_no_longer_counts(world: World, asker):
    path = world.user_config_path("asker")
    path.parent.mkdir(parents=True)
    path.write_text("send_anonymous_usage_stats = true\nconsent_version = 2\n")

    r = asker("status", COLUMNS="400", NO_COLOR="1")

    assert r.code == 0, r
    assert "are OFF for asker" in r.out
    text = flat(r.out)
    assert "this yes was given for consent version 2" in text and "(version 3)" in text
    doc = asker("status", "--json").json()
    user = next(layer for layer in doc["layers"] if layer["name"] == "user_config")
    assert (user["raw"], user["opinion"], user["status"]) == ("true", None, "no_opinion")
