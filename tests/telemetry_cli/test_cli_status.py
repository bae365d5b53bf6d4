"""``telemetry status``: the headline, every layer with its provenance, and the step that helps.

The user paths (default world, DO_NOT_TRACK, cloud, bad files) run as real subprocesses; the many
small permutations go through CliRunner in the same kind of world. Tables are read at a wide
``COLUMNS`` unless the test is about width (see test_cli_output.py).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.support.cli import (
    TITLES,
    above_layers,
    build,
    flat,
    hint_steps,
    line_with,
    new_shell,
    table_rows,
)
from tests.support.world import STRICT_PROFILE, World

WIDE = "400"
#: The dbt profile only explains dbt's decision: dbt sends, this command never does.
DBT_SENDS = "dbt Labs, sent by dbt itself when it runs; the telemetry command never sends anything"


def _effects(out: str) -> dict[str, str]:
    return {row["layer"]: row["effect"] for row in table_rows(out)}


# -- the user paths, as subprocesses ------------------------------------------------------------


def test_default_world_says_on_why_and_how_to_turn_it_off(world: World):
    r = world.run("status", COLUMNS=WIDE)

    assert r.code == 0, r
    assert r.err == ""
    text = flat(r.out)
    assert (
        "Anonymous usage statistics are ON for dbt (core edition) — decided by the core "
        "edition's default."
    ) in text
    rows = table_rows(r.out)
    assert [row["layer"] for row in rows] == list(TITLES), "every layer, in precedence order"
    assert rows[-1]["value"] == "core → on" and rows[-1]["effect"] == "decides"
    # dbt never reads our user config or the system policy: shown, never deciding.
    unread = {"admin lock", "user config", "system policy default"}
    assert {row["layer"] for row in rows if row["effect"] == "not read by dbt"} == unread
    assert all(row["effect"] == "no opinion" for row in rows[:-1] if row["layer"] not in unread)
    assert "Anonymous id: none yet" in text
    assert f"Events go to: {DBT_SENDS}" in text
    assert "nowhere" not in text, "dbt would send: saying nowhere next to ON misleads"
    assert "Collected: platform" in text and "never credentials" in text
    assert "Every field: telemetry events" in text
    assert line_with(r.out, "To turn it off:").startswith(
        "To turn it off: telemetry disable --shell"
    ), "dbt reads its variable from the environment, never `telemetry disable`'s file"
    assert "System policy: none (looked for /etc/xdg/dbt/telemetry-policy.toml" in text


def test_do_not_track_decides_and_the_hint_says_unset_it(world: World):
    r = world.run("status", COLUMNS=WIDE, DO_NOT_TRACK="1")

    assert r.code == 0, r
    text = flat(r.out)
    assert (
        "Anonymous usage statistics are OFF for dbt (core edition) — decided by "
        "DO_NOT_TRACK=1 in your environment."
    ) in text
    dnt = table_rows(r.out)[2]
    assert dnt == {
        "layer": "DO_NOT_TRACK",
        "value": "1 → off",
        "origin": "DO_NOT_TRACK",
        "effect": "decides",
    }
    assert table_rows(r.out)[-1]["effect"] == "overridden"
    assert (
        "Events go to: nowhere: dbt sends nothing while this is off (and the telemetry "
        "command never sends anything)"
    ) in text
    assert line_with(r.out, "To turn it on:") == "To turn it on: unset DO_NOT_TRACK"


def test_cloud_edition_cannot_be_turned_off_and_lists_the_overridden_opt_outs(
    strict_world: World,
):
    world = strict_world  # dbt never reads our user config or an edition
    world.cloud = True  # the host's code passes the cloud edition
    world.user_flag("false")
    world.project_flag("false")

    r = world.run("status", COLUMNS=WIDE, DO_NOT_TRACK="1")

    assert r.code == 0, r
    text = flat(r.out)
    assert "Anonymous usage statistics are ON for strictapp (cloud edition)" in text
    assert "decided by the cloud edition" in text
    note = flat(above_layers(r.out))  # the paragraph above the layers
    assert "Telemetry cannot be turned off in the cloud edition" in note
    assert "noted but overridden" in note
    for opt_out in ("DO_NOT_TRACK", "project file", "user config"):
        assert opt_out in note, f"{opt_out} is listed as an overridden opt-out"
    rows = {row["layer"]: row for row in table_rows(r.out)}
    assert rows["edition mandate"]["effect"] == "decides"
    assert rows["edition mandate"]["origin"] == "host"
    for layer in ("DO_NOT_TRACK", "project file", "user config"):
        assert rows[layer]["effect"].startswith("overridden"), rows[layer]
    assert line_with(r.out, "To turn it off:").startswith(
        "To turn it off: not possible: the cloud edition"
    )


def test_malformed_project_yaml_is_a_warning_naming_the_file_and_line(world: World):
    world.write_project("name: jaffle\nflags:\n  send_anonymous_usage_stats: false\n  - oops\n")

    r = world.run("status", COLUMNS=WIDE)

    assert r.code == 0, "a bad file is a warning, never a failure of status"
    assert "Anonymous usage statistics are OFF" in r.out, "a broken opt-out fails closed"
    warnings = r.out.split("Warnings:", 1)[1]
    assert f"{world.project_file_path()}:4" in warnings, "names the file and the offending line"
    assert "invalid YAML" in warnings and "Fix:" in warnings
    assert _effects(r.out)["project file"].startswith("error")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _loop(path: Path) -> None:
    other = path.with_name("loop.yml")
    path.symlink_to(other)
    other.symlink_to(path)


NOT_A_FILE = {
    # id: (put it at the project file's path, what the warning calls it)
    "a fifo": (_fifo, "is a FIFO (named pipe), not a regular file"),
    "a device": (lambda p: p.symlink_to(os.devnull), "is a character device, not a regular file"),
    "a fifo through a symlink": (
        lambda p: (_fifo(p.with_name("pipe")), p.symlink_to("pipe")),
        "is a FIFO (named pipe), not a regular file",
    ),
    "a dangling symlink": (lambda p: p.symlink_to("moved-away.yml"), "symlink to a missing file"),
    "a symlink loop": (_loop, "is a symlink loop"),
    "a directory": (lambda p: p.mkdir(), "is a directory, not a regular file"),
}


@pytest.mark.parametrize("case", NOT_A_FILE)
def test_a_project_file_that_is_not_a_file_is_one_warning_line_never_a_hang(world: World, case):
    make, called = NOT_A_FILE[case]
    path = world.project_file_path()
    make(path)

    for args in (("status", "--json"), ("status",)):
        r = world.run(*args, COLUMNS=WIDE, timeout=10)  # a read that waits would time out

        assert r.code == 0, r
        assert r.err == "", r
        text = r.out if args == ("status",) else "\n".join(r.json()["warnings"])
        [warning] = [line for line in text.splitlines() if str(path) in line and "Fix:" in line]
        assert called in warning, warning
    doc = world.run("status", "--json", timeout=10).json()
    [layer] = [layer for layer in doc["layers"] if layer["name"] == "project_file"]
    assert (layer["status"], layer["opinion"]) == ("error", "off"), "fails closed"


# -- which layer decides, in words, for each world (CliRunner) ----------------------------------

ENGINE_OVER_PLAIN = {
    "DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "true",
}


LOCK_OFF = 'locked = true\ntelemetry = "off"\n'

# case: (world, headline after "are ", deciding layer, its value, its origin as shown)
DECIDERS = {
    "project file off": (
        dict(project="false"),
        "OFF for {app} (core edition) — decided by the project file ({project_file}:4).",
        "project file",
        "false → off",
        "~/work/jaffle/dbt_project.yml:4",
    ),
    "project file yes (YAML 1.1)": (
        dict(project="yes"),
        "ON for {app} (core edition) — decided by the project file ({project_file}:4).",
        "project file",
        "yes → on",
        "~/work/jaffle/dbt_project.yml:4",
    ),
    "user config off": (
        dict(user="false"),
        "OFF for {app} (core edition) — decided by your user config ({user_config}:1).",
        "user config",
        "false → off",
        "~/.config/{app}/telemetry.toml:1",
    ),
    "user off beats project on": (
        dict(project="true", user="false"),
        "OFF for {app} (core edition) — decided by your user config ({user_config}:1).",
        "user config",
        "false → off",
        "~/.config/{app}/telemetry.toml:1",
    ),
    "env var off": (
        dict(DBT_SEND_ANONYMOUS_USAGE_STATS="false"),
        "OFF for {app} (core edition) — decided by DBT_SEND_ANONYMOUS_USAGE_STATS=false in your "
        "environment.",
        "environment variable",
        "false → off",
        "DBT_SEND_ANONYMOUS_USAGE_STATS",
    ),
    "DBT_ENGINE_ spelling beats DBT_": (
        ENGINE_OVER_PLAIN,
        "OFF for {app} (core edition) — decided by DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS=false in "
        "your environment.",
        "environment variable",
        "false → off",
        "DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS",
    ),
    "DO_NOT_TRACK=yes beats env var on": (
        dict(DO_NOT_TRACK="yes", DBT_SEND_ANONYMOUS_USAGE_STATS="true"),
        "OFF for {app} (core edition) — decided by DO_NOT_TRACK=yes in your environment.",
        "DO_NOT_TRACK",
        "yes → off",
        "DO_NOT_TRACK",
    ),
    "admin lock off beats env var on": (
        dict(policy=LOCK_OFF, DBT_SEND_ANONYMOUS_USAGE_STATS="true"),
        "OFF for {app} (core edition) — decided by the administrator's lock ({policy}:2).",
        "admin lock",
        "off",
        "{policy}:2",
    ),
    "system policy default off": (
        dict(policy='telemetry = "off"\n'),
        "OFF for {app} (core edition) — decided by the system policy default ({policy}:1).",
        "system policy default",
        "off",
        "{policy}:1",
    ),
}


def _fill(template: str, world: World) -> str:
    return template.format(
        project_file=world.project_file_path(),
        user_config=world.user_config_path(),
        policy=world.policy_path(),
        app=world.profile.name,
    )


@pytest.mark.parametrize("case", list(DECIDERS))
def test_headline_names_the_deciding_layer_in_words(world: World, invoke, case):
    spec, headline, title, value, origin = DECIDERS[case]
    env = build(world, **spec)

    r = invoke("status", COLUMNS=WIDE, **env)

    assert r.code == 0 and r.exception is None, r
    assert f"Anonymous usage statistics are {_fill(headline, world)}" in flat(r.out)
    rows = {row["layer"]: row for row in table_rows(r.out)}
    assert rows[title]["effect"] == "decides", rows[title]
    assert rows[title]["value"] == value
    assert rows[title]["origin"] == _fill(origin, world), "a variable, or a file:line"
    winners = [row for row in rows.values() if row["effect"] == "decides"]
    assert len(winners) == 1


def test_do_not_track_false_spellings_are_no_opinion(world: World, invoke):
    r = invoke("status", COLUMNS=WIDE, DO_NOT_TRACK="0")

    assert "are ON for dbt" in flat(r.out), "DO_NOT_TRACK=0 never turns tracking off"
    row = table_rows(r.out)[2]
    assert (row["value"], row["origin"], row["effect"]) == ("0", "DO_NOT_TRACK", "no opinion")


def test_anonymous_id_is_shown_when_there_is_one(world: World, invoke):
    anonymous_id = world.write_anonymous_id()

    r = invoke("status", COLUMNS=WIDE)

    assert f"Anonymous id: {anonymous_id}" in r.out


def test_a_lock_on_along_xdg_config_dirs_is_no_administrators_lock(strict_world: World, invoke):
    world = strict_world  # dbt never reads the system policy
    world.write_policy('locked = true\ntelemetry = "on"\n')

    r = invoke("status", COLUMNS=WIDE, DO_NOT_TRACK="1")

    assert "are OFF for strictapp" in flat(r.out)
    assert "administrator's lock" not in flat(r.out)
    assert 'locked = true with telemetry = "on" is read as an unlocked default' in flat(r.out)


# -- "To turn it on/off:" gives the step that really works --------------------------------------

HINTS = {
    # case: (world, the hint line it must print)
    "DO_NOT_TRACK=1": (dict(DO_NOT_TRACK="1"), "To turn it on: unset DO_NOT_TRACK"),
    # dbt does not read DO_NOT_TRACK=maybe as an opt-out (a warning says so): it is on.
    "DO_NOT_TRACK unrecognised": (
        dict(DO_NOT_TRACK="maybe"),
        "To turn it off: telemetry disable --shell",
    ),
    "DO_NOT_TRACK dbt ignores": (
        dict(DO_NOT_TRACK="on"),
        "To turn it off: telemetry disable --shell",
    ),
    "env var dbt refuses": (
        dict(DBT_SEND_ANONYMOUS_USAGE_STATS="maybe"),
        "To turn it on: unset DBT_SEND_ANONYMOUS_USAGE_STATS",
    ),
    "project file off": (dict(project="false"), "To turn it on: telemetry enable --project"),
    # dbt reads a quoted "false" as a string and drops every flag: it is on.
    "project flag quoted": (dict(project='"false"'), "To turn it off: telemetry disable --shell"),
    "user off inside project on": (
        dict(project="true", user="false"),
        "To turn it on: telemetry enable",
    ),
    "user config not a boolean": (
        dict(user_text='send_anonymous_usage_stats = "no"\n'),
        "To turn it on: telemetry enable",
    ),
    "DO_NOT_TRACK and project off": (
        dict(project="false", DO_NOT_TRACK="1"),
        "To turn it on: unset DO_NOT_TRACK, then telemetry enable --project",
    ),
    "env var off": (
        dict(DBT_SEND_ANONYMOUS_USAGE_STATS="false"),
        "To turn it on: unset DBT_SEND_ANONYMOUS_USAGE_STATS",
    ),
    "DBT_ENGINE_ off over DBT_ on": (
        ENGINE_OVER_PLAIN,
        "To turn it on: unset DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS",
    ),
    "system policy default off": (
        dict(policy='telemetry = "off"\n'),
        "To turn it on: telemetry enable",
    ),
    # dbt never reads `telemetry disable`'s file: its hint is the variable dbt does read.
    "default": ({}, "To turn it off: telemetry disable --shell"),
    "default, a tool that reads every layer": (
        dict(strict=True),
        "To turn it off: telemetry disable",
    ),
    "project on": (dict(project="true"), "To turn it off: telemetry disable --shell"),
    "DO_NOT_TRACK=0": (dict(DO_NOT_TRACK="0"), "To turn it off: telemetry disable --shell"),
    "env var on": (
        dict(DBT_SEND_ANONYMOUS_USAGE_STATS="true"),
        "To turn it off: export DBT_SEND_ANONYMOUS_USAGE_STATS=false",
    ),
}


@pytest.mark.parametrize("case", list(HINTS))
def test_following_the_hint_flips_the_decision(world: World, invoke, case):
    spec, expected = HINTS[case]
    env = build(world, **spec)
    before = invoke("status", COLUMNS=WIDE, **env)
    assert line_with(before.out, "To turn it ").startswith(expected), before

    goal, steps = hint_steps(before.out)
    for step in steps:
        words = step.split()
        if words[0] == "unset":
            env[words[1]] = None
        elif words[0] == "export":
            name, value = words[1].split("=", 1)
            env[name] = value
        else:
            assert words[0] == "telemetry", f"not a step a user can take: {step!r}"
            done = invoke(*words[1:], **env)
            assert done.code == 0 and done.exception is None, (step, done)
            if "--shell" in words:  # takes effect in a new shell: open one
                env.update(new_shell(world.env_with(**env), "DBT_SEND_ANONYMOUS_USAGE_STATS"))

    after = invoke("status", "--json", **env).json()
    assert after["enabled"] is (goal == "on"), f"following {steps} did not turn it {goal}"


def test_hint_for_a_broken_project_file_is_not_a_command_that_is_refused(world: World, invoke):
    world.write_project("name: jaffle\nflags:\n  send_anonymous_usage_stats: false\n  - oops\n")
    before = invoke("status", COLUMNS=WIDE)
    hint = line_with(before.out, "To turn it on:")

    if "telemetry enable --project" in hint:
        done = invoke("enable", "--project")
        assert done.code == 0, f"the hint {hint!r} is refused:\n{done.err}"
    assert "dbt_project.yml:4" in hint, "the hint should say which line to fix"


# -- --json and --expect ------------------------------------------------------------------------


def test_expect_passes_and_fails_with_exit_codes_in_a_real_process(world: World):
    ok = world.run("status", "--expect", "on")
    off = world.run("status", "--expect", "on", DO_NOT_TRACK="1")
    off_json = world.run("status", "--json", "--expect", "on", DO_NOT_TRACK="1")

    assert ok.code == 0, ok
    assert off.code == 1, off
    assert "expected on, but it is off" in off.err
    assert "Anonymous usage statistics are OFF" in off.out, "the status is still shown"
    assert off_json.code == 1, off_json
    assert off_json.json()["enabled"] is False, "stdout stays one JSON document"


EXPECT = [
    ({}, "on", 0),
    ({}, "off", 1),
    ({"DO_NOT_TRACK": "1"}, "off", 0),
    ({"DO_NOT_TRACK": "1"}, "on", 1),
    ({"DBT_SEND_ANONYMOUS_USAGE_STATS": "nope"}, "off", 0),  # unrecognised counts as off
]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("env,expect,code", EXPECT)
def test_expect_matrix(world: World, invoke, env, expect, code, as_json):
    args = ["status", "--expect", expect] + (["--json"] if as_json else [])
    r = invoke(*args, **env)

    assert r.code == code, r
    if as_json:
        assert isinstance(r.json(), dict)
    if code == 1:
        assert f"expected {expect}" in r.err


def test_json_in_a_real_process_is_one_document_on_stdout(world: World, status_schema):
    world.project_flag("false")
    anonymous_id = world.write_anonymous_id()

    r = world.run("status", "--json")

    assert r.code == 0 and r.err == "", r
    doc = r.json()
    status_schema.validate(doc)
    assert doc["decided_by"] == "project_file"
    assert doc["anonymous_id"] == anonymous_id
    assert str(uuid.UUID(doc["anonymous_id"])) == anonymous_id


# -- values that were read, and what they mean --------------------------------------------------


def test_an_empty_variable_is_shown_as_set_but_empty_not_as_unset(world: World, invoke):
    doc = invoke("status", "--json", DBT_SEND_ANONYMOUS_USAGE_STATS="").json()
    text = invoke("status", DBT_SEND_ANONYMOUS_USAGE_STATS="").out

    layer = next(layer for layer in doc["layers"] if layer["name"] == "env_var")
    assert (layer["raw"], layer["origin"], layer["opinion"]) == (
        "",
        "DBT_SEND_ANONYMOUS_USAGE_STATS",
        None,
    )
    assert "set but empty, which means not set" in layer["detail"]
    assert "DBT_SEND_ANONYMOUS_USAGE_STATS is set but empty" in text


def test_a_non_boolean_do_not_track_was_read_and_is_called_not_a_boolean(world: World, invoke):
    from consent.profile import AppProfile
    from telemetry_cli import telemetry_group

    strict = AppProfile(name="mytool", env_prefix="MYTOOL_", project_files=("mytool.yml",))
    r = invoke("status", DO_NOT_TRACK="banana", group=telemetry_group(strict))

    headline = flat(r.out).split(" 1. ")[0]
    assert "could not be read" not in headline
    assert (
        "decided by DO_NOT_TRACK=banana in your environment, which counts as off: it is not "
        "a true/false value"
    ) in headline


# -- which project: --project-dir, and dbt's DBT_PROJECT_DIR -------------------------------------


def _elsewhere(world: World, flag: str | None) -> Path:
    """Another project, outside the one the command runs in."""
    other = world.root / "elsewhere"
    other.mkdir(exist_ok=True)
    text = "name: elsewhere\n" + (f"flags:\n  send_anonymous_usage_stats: {flag}\n" if flag else "")
    (other / "dbt_project.yml").write_text(text)
    return other


@pytest.mark.parametrize("app", ["dbt", "strictapp"])
def test_project_dir_names_the_project_exactly(world: World, invoke, app):
    world.profile = STRICT_PROFILE if app == STRICT_PROFILE.name else world.profile
    world.project_flag("true")
    other = _elsewhere(world, "false")

    doc = invoke("status", "--json", "--project-dir", str(other)).json()
    here = invoke("status", "--json").json()

    assert (doc["enabled"], doc["decided_by"]) == (False, "project_file")
    layer = next(layer for layer in doc["layers"] if layer["name"] == "project_file")
    assert layer["origin"] == f"{other / 'dbt_project.yml'}:3"
    assert here["enabled"] is True, "without it, the project around the cwd"


@pytest.mark.parametrize("app", ["dbt", "strictapp"])
def test_project_dir_without_a_project_file_searches_no_further(world: World, invoke, app):
    world.profile = STRICT_PROFILE if app == STRICT_PROFILE.name else world.profile
    world.project_flag("false")  # the project above models/, where the command runs

    doc = invoke("status", "--json", "--project-dir", str(world.cwd)).json()

    assert doc["enabled"] is True, "no upward search from a named directory"
    layer = next(layer for layer in doc["layers"] if layer["name"] == "project_file")
    assert layer["opinion"] is None and "no upward search" in layer["detail"]


def test_project_dir_that_does_not_exist_is_a_one_line_usage_error(world: World):
    r = world.run("status", "--project-dir", str(world.root / "missing"))

    assert r.code == 2, r
    assert "missing" in r.err and "does not exist" in r.err
    assert r.out == ""


@pytest.mark.parametrize("variable", ["DBT_PROJECT_DIR", "DBT_ENGINE_PROJECT_DIR"])
def test_dbt_takes_its_project_from_dbt_project_dir(world: World, variable):
    world.project_flag("true")
    other = _elsewhere(world, "false")

    r = world.run("status", COLUMNS=WIDE, **{variable: str(other)})

    assert r.code == 0, r
    assert (
        f"OFF for dbt (core edition) — decided by the project file ({other / 'dbt_project.yml'}:3)"
    ) in flat(r.out)


def test_dbt_project_dir_that_does_not_exist_makes_dbt_refuse_and_status_says_so(world: World):
    world.project_flag("true")
    missing = world.root / "missing"

    r = world.run("status", COLUMNS=WIDE, DBT_PROJECT_DIR=str(missing))

    assert r.code == 0, r
    text = flat(r.out)
    assert "OFF for dbt" in text and "dbt refuses to run" in text
    assert f"DBT_PROJECT_DIR: {missing} does not exist" in text
    assert "Fix: point DBT_PROJECT_DIR at your dbt project's directory, or unset it" in text


def test_a_strict_profile_fails_closed_on_a_project_dir_that_does_not_exist(
    strict_world: World, invoke
):
    world = strict_world  # it declares dbt's variables, and reads them strictly
    world.project_flag("true")
    missing = world.root / "missing"

    doc = invoke("status", "--json", DBT_PROJECT_DIR=str(missing)).json()

    assert (doc["enabled"], doc["decided_by"]) == (False, "project_file")
    layer = next(layer for layer in doc["layers"] if layer["name"] == "project_file")
    assert (layer["status"], layer["origin"]) == ("error", "DBT_PROJECT_DIR")
    [warning] = [w for w in doc["warnings"] if "DBT_PROJECT_DIR" in w]
    assert f"{missing}, which does not exist; treated as off. Fix: point" in warning


# -- in CI ----------------------------------------------------------------------------------------


def test_in_ci_status_names_the_variable_that_revealed_it_the_job_variable_and_the_ci_id(
    world: World, status_schema
):
    import sys

    testapp = [sys.executable, "-m", "tests.support.testapp_cli", "http://127.0.0.1:9"]
    stored = world.write_anonymous_id(app="testapp")
    ci = {"GITHUB_ACTIONS": "true", "COLUMNS": WIDE}

    off = world.run("status", script=testapp, **ci)
    assert off.code == 0, off
    assert (
        "decided by the CI default: CI detected (GITHUB_ACTIONS=true), off unless something "
        "above says on" in off.out
    )
    assert "Anonymous id: none yet" in off.out or stored in off.out  # nothing is sent: no CI id
    assert "set TESTAPP_SEND_ANONYMOUS_USAGE_STATS=true in the CI job's environment" in off.out

    opted_in = world.run(
        "status", "--json", script=testapp, TESTAPP_SEND_ANONYMOUS_USAGE_STATS="true", **ci
    )
    doc = opted_in.json()
    status_schema.validate(doc)
    assert doc["enabled"] and doc["decided_by"] == "env_var"
    # What this job's events carry: the vendor's id, not the id stored on this machine.
    assert doc["anonymous_id"] == "ci-github-actions"
    text = world.run("status", script=testapp, TESTAPP_SEND_ANONYMOUS_USAGE_STATS="true", **ci)
    assert "Anonymous id: ci-github-actions (in CI: one id per CI vendor" in text.out

    outside = world.run("status", "--json", script=testapp, COLUMNS=WIDE).json()
    assert outside["anonymous_id"] == stored
    # The dbt profile sends nothing itself: no CI id to show for it.
    dbt = world.run("status", "--json", GITHUB_ACTIONS="true").json()
    assert dbt["anonymous_id"] is None and dbt["enabled"]
