"""``telemetry enable/disable --shell``, the question of a bare ``disable`` for dbt, and what
``status`` says about the shells: real subprocesses of the CLI in a temp HOME (and a real pty for
the question). What the startup files do to real dbt-core is ``tests/consent/test_shell_dbt.py``.
"""

from __future__ import annotations

import sys

import pytest

from tests.support.cli import flat, line_with, new_shell
from tests.support.terminal import ENTER, run_on_pty
from tests.support.world import STRICT_PROFILE, World

VAR = "DBT_SEND_ANONYMOUS_USAGE_STATS"
BASH = {"SHELL": "/bin/bash"}


def _startup(world: World) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in world.home.iterdir() if p.is_file()}


def test_disable_shell_names_the_files_and_what_a_new_shell_decides(world: World):
    world.write_project()
    r = world.run("disable", "--shell", **BASH)

    assert r.code == 0, r
    lines = r.out.splitlines()
    assert lines[0] == (
        f"Telemetry disabled for dbt in every new shell: {VAR}=false written to ~/.profile, "
        "~/.bashrc."
    )
    assert "This shell is not changed: open a new one, or run `source ~/.bashrc`" in r.out
    assert "in CI, set DO_NOT_TRACK=1 in the job" in r.out
    assert line_with(r.out, "In a new shell:").startswith(
        f"In a new shell: Anonymous usage statistics are OFF for dbt (core edition) — decided by "
        f"{VAR}=false in your environment."
    )
    assert r.err == ""
    assert new_shell(world.env_with(**BASH), VAR) == {VAR: "false"}


def test_disable_shell_twice_writes_one_block_and_says_it_was_already_done(world: World):
    world.run("disable", "--shell", **BASH)
    first = _startup(world)

    again = world.run("disable", "--shell", **BASH)

    assert again.code == 0, again
    assert again.out.startswith(
        "Telemetry was already disabled for dbt in new shells (~/.profile, ~/.bashrc); nothing "
        "was changed."
    )
    assert _startup(world) == first


def test_enable_shell_gives_back_the_files_as_they_were(world: World):
    world.write(world.home / ".bashrc", b"alias ll='ls -l'")  # no final newline
    before = _startup(world)
    assert world.run("disable", "--shell", **BASH).code == 0
    assert _startup(world) != before

    r = world.run("enable", "--shell", **BASH)

    assert r.code == 0, r
    assert r.out.startswith(
        "Telemetry opt-out removed from your shell startup files: ~/.profile, ~/.bashrc."
    )
    assert _startup(world) == before, "byte for byte; ~/.profile, created for it, is gone"
    assert world.run("enable", "--shell").out.startswith("No shell startup file holds the opt-out")


def test_enable_shell_in_a_shell_that_still_has_the_variable_says_so(world: World):
    world.run("disable", "--shell", **BASH)
    r = world.run("enable", "--shell", **BASH, **{VAR: "false"})

    assert r.code == 0, r
    assert f"This shell still has {VAR}=false: open a new one, or `unset {VAR}`." in r.out
    assert "In a new shell: Anonymous usage statistics are ON" in r.out


def test_a_read_only_startup_file_fails_with_exit_4_and_nothing_written(world: World):
    rc = world.write(world.home / ".bashrc", "# mine\n", mode=0o444)
    r = world.run("disable", "--shell", **BASH)

    assert r.code == 4, r
    assert r.out == ""
    [line] = r.err.strip().splitlines()
    assert line.startswith("telemetry: ~/.bashrc is read-only") or f"{rc} is read-only" in line
    assert "Fix:" in line
    assert _startup(world) == {".bashrc": b"# mine\n"}, "~/.profile was not created either"


@pytest.mark.parametrize("other", ["--project", "--global"])
def test_shell_and_another_scope_is_a_usage_error(world: World, other: str):
    r = world.run("disable", "--shell", other)
    assert r.code == 2 and "cannot be used together" in r.err, r
    assert _startup(world) == {}


def test_the_cloud_edition_refuses_shell_and_writes_nothing(strict_world: World):
    strict_world.cloud = True
    r = strict_world.run("disable", "--shell", **BASH)

    assert r.code == 3, r
    assert "refused" in r.err and "nothing was written" in r.err
    assert _startup(strict_world) == {}


def test_each_profile_has_its_own_block_and_enable_removes_only_its_own(strict_world: World):
    world = strict_world
    world.profile = STRICT_PROFILE
    assert world.run("disable", "--shell", **BASH).code == 0
    dbt = world.run("disable", "--shell", "--app", "dbt", **BASH)
    assert dbt.code == 0, dbt
    bashrc = (world.home / ".bashrc").read_text()
    assert bashrc.count(">>> telemetry-consent:") == 2
    assert f"telemetry-consent: {STRICT_PROFILE.name} opt-out" in bashrc

    assert world.run("enable", "--shell", **BASH).code == 0
    bashrc = (world.home / ".bashrc").read_text()
    assert bashrc.count(">>> telemetry-consent:") == 1
    assert "telemetry-consent: dbt opt-out" in bashrc


def test_a_preferred_variable_that_says_on_makes_the_shell_opt_out_moot_and_exit_3(world: World):
    r = world.run("disable", "--shell", **BASH, DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS="true")

    assert r.code == 3, r
    assert "In a new shell: Anonymous usage statistics are ON" in r.out
    warning = flat(r.err)
    assert "does not decide in a new shell" in warning
    assert "DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS" in warning


# -- `telemetry disable` with no scope, for dbt -------------------------------------------------


def test_without_a_terminal_a_bare_disable_names_both_ways_and_writes_nothing(world: World):
    world.write_project()
    before = world.files()
    r = world.run("disable", **BASH)

    assert r.code == 3, r
    err = flat(r.err)
    assert "telemetry disable --shell" in err and "telemetry disable --project" in err
    assert world.files() == before, "nothing written"


def _on_pty(world: World, *args: str, keys: bytes):
    return run_on_pty(
        [sys.executable, "-m", "telemetry_cli", *args],
        world.env_with(**BASH, TERM="dumb"),
        keys=keys,
        when=b"]: ",
        cwd=world.cwd,
    )


def test_on_a_terminal_a_bare_disable_asks_and_all_my_shells_writes_the_startup_files(
    world: World,
):
    world.write_project()
    run = _on_pty(world, "disable", keys=b"2" + ENTER)

    assert run.typed and run.returncode == 0, run.screen
    assert "1. this project, for everyone in it" in run.screen
    assert "2. all my shells" in run.screen and "3. cancel" in run.screen
    assert "Telemetry disabled for dbt in every new shell" in run.screen
    assert new_shell(world.env_with(**BASH), VAR) == {VAR: "false"}
    assert "send_anonymous_usage_stats" not in world.project_file_path().read_text()


def test_on_a_terminal_enter_cancels_and_nothing_is_written(world: World):
    world.write_project()
    before = world.files()
    run = _on_pty(world, "disable", keys=ENTER)

    assert run.typed and run.returncode == 3, run.screen
    assert "Cancelled; nothing was written." in run.screen
    assert world.files() == before


def test_on_a_terminal_outside_a_project_only_shells_or_cancel_are_offered(world: World):
    elsewhere = world.root / "elsewhere"
    elsewhere.mkdir()
    run = run_on_pty(
        [sys.executable, "-m", "telemetry_cli", "disable"],
        world.env_with(**BASH, TERM="dumb"),
        keys=b"1" + ENTER,
        when=b"]: ",
        cwd=elsewhere,
    )

    assert run.typed and run.returncode == 0, run.screen
    assert "this project" not in run.screen
    assert "1. all my shells" in run.screen and "2. cancel" in run.screen
    assert new_shell(world.env_with(**BASH), VAR) == {VAR: "false"}


# -- status ---------------------------------------------------------------------------------------


def test_status_says_new_shells_are_off_and_this_one_is_not_yet(world: World, status_schema):
    world.write(world.home / ".bashrc", "# one\n# two\n")
    world.run("disable", "--shell", **BASH)

    r = world.run("status", **BASH)

    assert r.code == 0, r
    assert line_with(r.out, "Shells:") == (
        "Shells: new shells: OFF (~/.profile:4, ~/.bashrc:6); this shell: ON until you open a "
        "new one or `source ~/.bashrc`"
    )
    assert "in CI, set DO_NOT_TRACK=1 in the job" in r.out
    assert line_with(r.out, "To turn it off:") == (
        "To turn it off: open a new shell, or run `source ~/.bashrc` (your startup files "
        "already opt out)"
    )
    doc = world.run("status", "--json", **BASH).json()
    status_schema.validate(doc)
    shell = doc["shell_startup"]
    assert shell["state"] == "pending" and shell["variable"] == VAR
    assert [(b["line"], b["value"]) for b in shell["blocks"]] == [(4, "false"), (6, "false")]


def test_status_in_a_new_shell_names_the_block_as_the_likely_origin(world: World):
    world.run("disable", "--shell", **BASH)
    env = {**BASH, **new_shell(world.env_with(**BASH), VAR)}

    r = world.run("status", "--expect", "off", **env)

    assert r.code == 0, r
    assert line_with(r.out, "Shells:") == (
        f"Shells: {VAR}=false here most likely comes from your shell startup files "
        "(~/.profile:4, ~/.bashrc:4); `telemetry enable --shell` removes it"
    )
    assert line_with(r.out, "To turn it on:").startswith(
        "To turn it on: telemetry enable --shell, then open a new shell"
    )


def test_status_without_a_block_says_nothing_about_shells(world: World):
    r = world.run("status", **BASH)
    assert "Shells:" not in r.out
    assert world.run("status", "--json").json()["shell_startup"]["state"] == "none"
