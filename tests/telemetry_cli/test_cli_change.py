"""``telemetry disable`` / ``enable``: where the choice is written, what is printed, and refusals.

A refusal (cloud edition, admin lock) writes nothing and exits 3; an env var that makes the
choice moot for now still writes it, exits 3 and says why.
"""

from __future__ import annotations

import difflib
import os
import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent import DEFAULT_PROFILE
from tests.support.cli import flat, line_with, new_shell
from tests.support.world import STRICT_PROFILE, World

#: What `telemetry enable/disable` records with the choice (the profile's consent version).
VERSION = DEFAULT_PROFILE.consent_version

DECISION = "Anonymous usage statistics are"


def _one_line_decision(out: str, state: str) -> str:
    lines = [line for line in out.splitlines() if line.startswith(DECISION)]
    assert len(lines) == 1, f"the resulting decision, in one line:\n{out}"
    assert lines[0].startswith(f"{DECISION} {state} for "), lines[0]
    assert "decided by" in lines[0]
    return lines[0]


def _changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


# -- the user config (--global, the default) ----------------------------------------------------


@pytest.mark.parametrize("scope", [[], ["--global"]], ids=["default", "--global"])
def test_disable_writes_a_private_user_config_and_prints_the_decision(strict_world: World, scope):
    world = strict_world  # dbt never reads our user config or policy
    path = world.user_config_path()
    assert not path.parent.exists(), "the product must create the config dir"

    r = world.run("disable", *scope)

    assert r.code == 0, r
    assert r.err == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "only the user may read or change it"
    assert tomllib.loads(path.read_text()) == {
        "send_anonymous_usage_stats": False,
        "consent_version": VERSION,
    }
    line = _one_line_decision(r.out, "OFF")
    assert f"your user config ({path}" in line
    assert str(path) in r.out, "says where the choice was written"


def test_enable_after_disable_turns_it_back_on(strict_world: World):
    world = strict_world  # dbt never reads our user config or policy
    assert world.run("disable").code == 0

    r = world.run("enable")

    assert r.code == 0, r
    chosen = tomllib.loads(world.user_config_path().read_text())
    assert chosen == {"send_anonymous_usage_stats": True, "consent_version": VERSION}
    _one_line_decision(r.out, "ON")
    assert world.run("status", "--expect", "on").code == 0


def test_disable_creates_missing_parent_dirs_of_xdg_config_home(strict_world: World):
    world = strict_world  # dbt never reads our user config or policy
    deep = world.root / "not" / "yet" / "there"

    r = world.run("disable", XDG_CONFIG_HOME=str(deep))

    assert r.code == 0, r
    written = deep / world.profile.name / "telemetry.toml"
    assert tomllib.loads(written.read_text())["send_anonymous_usage_stats"] is False


def test_a_directory_in_the_way_is_a_one_line_error_exit_4(strict_world: World):
    world = strict_world  # dbt never reads our user config or policy
    world.user_config_path().mkdir(parents=True)

    r = world.run("disable")

    assert r.code == 4, r
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert str(world.user_config_path()) in r.err and "Fix:" in r.err


def test_enable_globally_inside_a_project_that_opted_out_is_moot_and_says_so(strict_world: World):
    world = strict_world  # dbt never reads our user config or policy
    world.project_flag("false")

    r = world.run("enable")

    assert r.code == 3, r
    assert tomllib.loads(world.user_config_path().read_text())["send_anonymous_usage_stats"] is True
    _one_line_decision(r.out, "OFF")
    assert "does not apply" in r.err and "project file" in r.err
    assert "telemetry enable --project" in r.err, "and says what would work"


def test_env_var_override_writes_the_choice_but_exits_3_with_a_warning(strict_world: World):
    world = strict_world  # dbt never reads our user config or policy
    r = world.run("enable", DO_NOT_TRACK="1")

    assert r.code == 3, r
    chosen = tomllib.loads(world.user_config_path().read_text())
    assert chosen["send_anonymous_usage_stats"] is True, (
        "the choice is kept for when the variable is gone"
    )
    _one_line_decision(r.out, "OFF")
    warning = flat(r.err)
    assert "warning" in warning and "does not apply now" in warning
    assert "DO_NOT_TRACK=1" in warning, "says why"
    assert "unset DO_NOT_TRACK" in warning, "and what would make it apply"


def test_disable_while_an_env_var_forces_on_is_written_but_exits_3(strict_world: World, invoke):
    world = strict_world  # dbt never reads our user config or policy
    r = world.run("disable", DBT_SEND_ANONYMOUS_USAGE_STATS="true")

    assert r.code == 3, r
    chosen = tomllib.loads(world.user_config_path().read_text())
    assert chosen["send_anonymous_usage_stats"] is False
    assert "DBT_SEND_ANONYMOUS_USAGE_STATS=true" in flat(r.err)
    assert invoke("status", "--expect", "off").code == 0, "applies once the variable is gone"


# -- refusals: nothing is written ----------------------------------------------------------------


@pytest.mark.parametrize("command", ["disable", "enable"])
@pytest.mark.parametrize("scope", [[], ["--global"]], ids=["default", "--global"])
def test_dbt_refuses_the_user_config_it_never_reads_and_says_what_works(
    world: World, command, scope
):
    # dbt-core never reads telemetry.toml: a `telemetry disable` there would leave dbt tracking
    # while the mirror said off.
    world.write_project()
    r = world.run(command, *scope)

    assert r.code == 3, r
    assert r.out == ""
    assert not world.user_config_path().exists(), "nothing was written"
    err = flat(r.err)
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert "dbt does not read your user config" in err and "nothing was written" in err
    if command == "disable":
        assert "telemetry disable --shell" in err
        assert "telemetry disable --project" in err
    assert world.run("status", "--expect", "on").code == 0, "and dbt still tracks"


def test_what_dbt_is_told_to_do_instead_really_turns_it_off(world: World):
    world.write_project()
    refusal = flat(world.run("disable").err)
    assert "telemetry disable --shell" in refusal and "telemetry disable --project" in refusal

    assert world.run("disable", "--shell", SHELL="/bin/sh").code == 0
    new = new_shell(world.env, "DBT_SEND_ANONYMOUS_USAGE_STATS")
    assert world.run("status", "--expect", "off", **new).code == 0, "in a new shell"
    assert world.run("enable", "--shell").code == 0
    assert world.run("status", "--expect", "on").code == 0
    assert world.run("disable", "--project").code == 0
    assert world.run("status", "--expect", "off").code == 0


def test_cloud_edition_refuses_disable_and_writes_nothing(strict_world: World):
    world = strict_world  # dbt never reads our user config or policy
    world.cloud = True  # the host's code passes the cloud edition

    r = world.run("disable")

    assert r.code == 3, r
    assert r.out == ""
    assert "cloud edition" in r.err and "nothing was written" in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert not world.user_config_path().exists()


def test_cloud_edition_refuses_disable_project_and_leaves_the_file_alone(strict_world: World):
    world = strict_world  # dbt never reads our user config or policy
    world.cloud = True  # the host's code passes the cloud edition
    before = world.project_flag("true").read_bytes()

    r = world.run("disable", "--project")

    assert r.code == 3, r
    assert "cloud edition" in r.err
    assert world.project_file_path().read_bytes() == before


def test_admin_lock_refuses_enable_and_writes_nothing(strict_world: World):
    world = strict_world  # dbt never reads our user config or policy
    policy = world.write_policy('locked = true\ntelemetry = "off"\n')
    before = world.user_flag("false").read_bytes()

    r = world.run("enable")

    assert r.code == 3, r
    assert "administrator" in r.err and str(policy) in r.err
    assert "nothing was written" in r.err
    assert world.user_config_path().read_bytes() == before


def test_a_lock_on_along_xdg_config_dirs_does_not_refuse_disable(strict_world: World):
    """Only the fixed location locks on (its refusal: test_cli_fixed_policy.py)."""
    world = strict_world  # dbt never reads our user config or policy
    world.write_policy('locked = true\ntelemetry = "on"\n')

    r = world.run("disable")

    assert r.code == 0, r
    assert world.user_config_path().exists()
    assert not world.run("status", "--json").json()["enabled"]


def test_admin_lock_refuses_enable_project(strict_world: World):
    world = strict_world  # dbt never reads our user config or policy
    world.write_policy('locked = true\ntelemetry = "off"\n')
    before = world.project_flag("false").read_bytes()

    r = world.run("enable", "--project")

    assert r.code == 3, r
    assert world.project_file_path().read_bytes() == before


# -- the project file (--project) ---------------------------------------------------------------


@pytest.mark.parametrize("dbt", [True, False], ids=["dbt", "strict"])
def test_disable_project_outside_any_project_is_a_one_line_usage_error(world: World, dbt: bool):
    w = world
    if not dbt:
        w.profile = STRICT_PROFILE
    elsewhere = w.root / "elsewhere"
    elsewhere.mkdir()

    r = w.run("disable", "--project", cwd=elsewhere)

    assert r.code == 2, r
    assert r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert "dbt_project.yml" in lines[0]
    if dbt:  # dbt refuses --global (it never reads our user config): the fix must work for dbt
        assert "--global" not in lines[0] and "telemetry disable --shell" in lines[0]
    else:
        assert "--global" in lines[0]
    assert not w.user_config_path().exists()


def test_disable_project_edits_the_nearest_file_upward_in_place(world: World):
    outer = world.write_project("name: outer\n")
    inner_dir = world.project / "packages" / "inner"
    inner_dir.mkdir(parents=True)
    inner = inner_dir / "dbt_project.yml"
    inner.write_text("name: inner  # a package\n")
    (inner_dir / "models").mkdir()

    r = world.run("disable", "--project", cwd=inner_dir / "models")

    assert r.code == 0, r
    assert outer.read_text() == "name: outer\n", "only the nearest project file"
    assert inner.read_text() == (
        "name: inner  # a package\nflags:\n  send_anonymous_usage_stats: false\n"
    )
    _one_line_decision(r.out, "OFF")
    assert str(inner) in r.out


PROJECT_FILES = {
    "no flags block": (
        "# the jaffle shop\n"
        "name: 'jaffle_shop'\n"
        "version: '1.0.0'   # bump on release\n"
        "\n"
        "models:\n"
        "  jaffle_shop:\n"
        "    +materialized: view\n",
        ["flags:", "  send_anonymous_usage_stats: false"],
        [],
    ),
    "flags with other keys": (
        "name: jaffle\n"
        "flags:\n"
        "  # faster parses\n"
        "  partial_parse: true\n"
        "  use_colors: false  # CI logs\n"
        "vars:\n"
        "  start: '2020-01-01'\n",
        ["  send_anonymous_usage_stats: false"],
        [],
    ),
    "flag already on, with a comment": (
        "name: jaffle\n"
        "flags:\n"
        "  send_anonymous_usage_stats: true # decided in standup\n"
        "  partial_parse: true\n",
        ["  send_anonymous_usage_stats: false # decided in standup"],
        ["  send_anonymous_usage_stats: true # decided in standup"],
    ),
    "flag written as yes": (
        "name: jaffle\nflags:\n  send_anonymous_usage_stats: yes\n",
        ["  send_anonymous_usage_stats: false"],
        ["  send_anonymous_usage_stats: yes"],
    ),
}


@pytest.mark.parametrize("case", list(PROJECT_FILES))
def test_disable_project_changes_only_the_flag_line(world: World, invoke, case):
    text, added, removed = PROJECT_FILES[case]
    world.write_project(text)

    r = invoke("disable", "--project")

    assert r.code == 0 and r.exception is None, r
    after = world.project_file_path().read_text()
    got_removed, got_added = _changed_lines(text, after)
    assert [line.rstrip() for line in got_added] == added, after
    assert [line.rstrip() for line in got_removed] == removed, after
    doc = invoke("status", "--json").json()
    assert doc["decided_by"] == "project_file" and doc["enabled"] is False


def test_enable_project_round_trip_keeps_the_file_byte_for_byte_otherwise(world: World, invoke):
    text = "name: jaffle\n\nflags:\n  partial_parse: true\n\n# end\n"
    world.write_project(text)

    assert invoke("disable", "--project").code == 0
    assert invoke("enable", "--project").code == 0

    after = world.project_file_path().read_text()
    removed, added = _changed_lines(text, after)
    assert removed == [] and [a.strip() for a in added] == ["send_anonymous_usage_stats: true"]
    assert invoke("status", "--expect", "on").code == 0


def test_enable_project_keeps_the_file_mode(world: World, invoke):
    world.project_flag("false").chmod(0o640)

    assert invoke("enable", "--project").code == 0

    assert stat.S_IMODE(world.project_file_path().stat().st_mode) == 0o640


def _kinds(directory: Path) -> dict[str, tuple[int, str | None]]:
    """What is in ``directory``: each entry's file type and, for a link, where it points."""
    return {
        p.name: (stat.S_IFMT(p.lstat().st_mode), os.readlink(p) if p.is_symlink() else None)
        for p in directory.iterdir()
    }


def _loop(path: Path) -> None:
    other = path.with_name("loop.yml")
    path.symlink_to(other)
    other.symlink_to(path)


NOT_EDITABLE = {
    # id: (put it at the project file's path, what the refusal calls it)
    "a fifo": (os.mkfifo, "is a FIFO (named pipe), not a regular file"),
    "a fifo through a symlink": (
        lambda p: (os.mkfifo(p.with_name("pipe")), p.symlink_to("pipe")),
        "is a FIFO (named pipe), not a regular file",
    ),
    "a directory": (lambda p: p.mkdir(), "is a directory, not a regular file"),
    "a dangling symlink": (lambda p: p.symlink_to("moved-away.yml"), "which does not exist"),
    "a symlink loop": (_loop, "is a symlink loop"),
}


@pytest.mark.parametrize("verb", ["disable", "enable"])
@pytest.mark.parametrize("case", NOT_EDITABLE)
def test_a_project_file_that_is_not_a_regular_file_is_refused_exit_3_without_waiting(
    world: World, case, verb
):
    make, called = NOT_EDITABLE[case]
    path = world.project_file_path()
    make(path)
    before = _kinds(world.project)

    r = world.run(verb, "--project", timeout=10)  # an open that waits for a writer times out

    assert r.code == 3, r
    assert r.out == "", "nothing was written, so nothing says it was"
    [line] = r.err.strip().splitlines()
    assert str(path) in line and called in line, line
    assert "nothing was written" in line and "Fix:" in line
    assert _kinds(world.project) == before, "nothing replaced, created or removed"


@pytest.mark.parametrize("absolute", [True, False], ids=["absolute", "relative"])
def test_a_project_file_linked_outside_the_project_is_refused_and_the_target_left_alone(
    world: World, absolute: bool
):
    outside = world.write(world.home / ".kube" / "config", "apiVersion: v1\nkind: Config\n")
    path = world.project_file_path()
    link = str(outside) if absolute else os.path.relpath(outside, path.parent)
    path.symlink_to(link)

    r = world.run("disable", "--project", timeout=10)

    assert r.code == 3, r
    assert r.out == ""
    assert outside.read_text() == "apiVersion: v1\nkind: Config\n", "never written through"
    assert os.readlink(path) == link, "the link is kept"
    assert [p.name for p in outside.parent.iterdir()] == ["config"], "no temp file left there"
    [line] = r.err.strip().splitlines()
    assert str(path) in line and str(outside) in line and "outside the project" in line, line
    assert "edit that file yourself" in line and "replace the link by a regular file" in line


def test_a_project_file_linked_inside_the_project_is_edited_where_it_points(world: World):
    conf = world.write(world.project / "conf" / "dbt_project.yml", "name: jaffle\n", mode=0o640)
    path = world.project_file_path()
    path.symlink_to("conf/dbt_project.yml")

    r = world.run("disable", "--project", timeout=10)

    assert r.code == 0, r
    assert os.readlink(path) == "conf/dbt_project.yml", "the link is kept, not replaced"
    assert conf.read_text() == "name: jaffle\nflags:\n  send_anonymous_usage_stats: false\n"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640, "the file's mode is kept"
    assert f"({path} → {conf})" in r.out, "names the link and the file edited"
    assert world.run("status", "--expect", "off").code == 0


def test_invalid_yaml_project_is_not_edited_and_says_so(world: World):
    broken = "name: jaffle\nflags:\n  send_anonymous_usage_stats: false\n  - oops\n"
    world.write_project(broken)

    r = world.run("enable", "--project")

    assert r.code == 3, r
    assert r.out == "", "nothing was written, so nothing says it was"
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert str(world.project_file_path()) in r.err and "YAML" in r.err and "line 4" in r.err
    assert "nothing was written" in r.err
    assert world.project_file_path().read_text() == broken


DBT_INIT = """\

# Name your project! Project names should contain only lowercase characters
# and underscores. A good package name should reflect your organization's
# name or the intended use of these models
name: 'my_new_project'
version: '1.0.0'
config-version: 2

# This setting configures which "profile" dbt uses for this project.
profile: 'default'

model-paths: ["models"]
seed-paths: ["seeds"]

target-path: "target"  # directory which will store compiled SQL files
clean-targets:         # directories to be removed by `dbt clean`
  - "target"
  - "dbt_packages"


# Configuring models
models:
  my_new_project:
    # Config indicated by + and applies to all files under models/example/
    example:
      +materialized: view
"""


def test_disable_project_on_the_dbt_init_starter_file_changes_only_the_flag(world: World, invoke):
    world.write_project(DBT_INIT)

    assert invoke("disable", "--project").code == 0

    removed, added = _changed_lines(DBT_INIT, world.project_file_path().read_text())
    assert removed == [], f"lines changed that are not the flag: {removed}"
    assert added == ["flags:", "  send_anonymous_usage_stats: false"]


def test_disable_project_keeps_a_four_space_flags_block(world: World, invoke):
    text = "name: jaffle\nflags:\n    partial_parse: true   # speed\n    use_colors: false\n"
    world.write_project(text)

    assert invoke("disable", "--project").code == 0

    removed, added = _changed_lines(text, world.project_file_path().read_text())
    assert removed == [], f"lines changed that are not the flag: {removed}"
    assert added == ["    send_anonymous_usage_stats: false"]


# -- any ordinary project file: only the flag lines change (property) --------------------------

_KEY = st.from_regex(r"[a-z][a-z0-9_-]{0,11}", fullmatch=True).filter(
    lambda k: k not in {"flags", "y", "n", "yes", "no", "on", "off", "true", "false", "null"}
)
_SCALAR = st.one_of(
    st.integers(0, 10_000).map(str),
    st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True).filter(
        lambda v: v not in {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
    ),
    st.from_regex(r"[a-z ]{0,10}", fullmatch=True).map(lambda v: f"'{v}'"),
)
_COMMENT = st.one_of(
    st.just(""),
    st.from_regex(r"[a-z ]{1,12}", fullmatch=True).map(lambda c: f"  # {c.strip() or 'note'}"),
)


@st.composite
def project_files(draw):
    lines = [f"# {draw(st.from_regex(r'[a-z ]{0,20}', fullmatch=True))}".rstrip()]
    keys = draw(st.lists(_KEY, min_size=1, max_size=6, unique=True))
    flags_at = draw(st.one_of(st.none(), st.integers(0, len(keys))))
    for i, key in enumerate([*keys, None]):
        if i == flags_at:
            lines.append("flags:" + draw(_COMMENT))
            for fkey in draw(st.lists(_KEY, min_size=1, max_size=3, unique=True)):
                lines.append(f"  {fkey}: {draw(_SCALAR)}{draw(_COMMENT)}")
        if key is None:
            break
        if draw(st.booleans()):
            lines.append("")
        lines.append(f"{key}: {draw(_SCALAR)}{draw(_COMMENT)}")
    return "\n".join(lines) + "\n"


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=project_files(), enabled=st.booleans())
def test_only_the_flag_lines_change_in_any_ordinary_project_file(
    world: World, invoke, text, enabled
):
    world.write_project(text)

    r = invoke("enable" if enabled else "disable", "--project")

    assert r.code == 0 and r.exception is None, r
    removed, added = _changed_lines(text, world.project_file_path().read_text())
    value = "true" if enabled else "false"
    assert removed == [], f"lines changed that are not the flag: {removed}"
    if "\nflags:" in "\n" + text:
        assert added == [f"  send_anonymous_usage_stats: {value}"]
    else:
        assert added == ["flags:", f"  send_anonymous_usage_stats: {value}"]


# -- never leave a dbt project in a state dbt refuses (profiles.yml's config: block) -------------

LEGACY_PROFILES = (
    "config:\n  send_anonymous_usage_stats: {value}\n"
    "jaffle:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n"
    "      password: hunter2\n"
)


def _legacy(world: World, value: str, where: Path | None = None) -> Path:
    path = (where or world.home / ".dbt") / "profiles.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LEGACY_PROFILES.format(value=value))
    path.chmod(0o600)
    return path


def test_status_over_a_legacy_opt_out_names_the_file_that_decides(world: World):
    legacy = _legacy(world, "false")
    world.write_project("name: jaffle\n")

    r = world.run("status", COLUMNS="400")

    hint = line_with(r.out, "To turn it on:")
    assert f"decided by the deprecated user-wide setting in {legacy}:2" in flat(r.out)
    assert "telemetry enable --project" not in hint, "following it would make dbt refuse to run"
    assert f"{legacy}:2".replace(str(world.home), "~") in hint, hint


@pytest.mark.parametrize("profiles_dir", [False, True], ids=["~/.dbt", "DBT_PROFILES_DIR"])
def test_enable_project_over_a_legacy_opt_out_is_refused_and_writes_nothing(
    world: World, profiles_dir
):
    where = world.root / "profiles" if profiles_dir else None
    legacy = _legacy(world, "false", where)
    env = {"DBT_PROFILES_DIR": str(where)} if profiles_dir else {}
    project = world.write_project("name: jaffle\n").read_bytes()
    legacy_bytes = legacy.read_bytes()

    r = world.run("enable", "--project", **env)

    assert r.code == 3, r
    assert r.out == "", "nothing was enabled, so nothing says so"
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert f"{legacy}:2" in r.err and "line 2" in r.err, "names the file and the line to change"
    assert "all your projects" in r.err and "Nothing was written" in r.err
    assert "another process" not in r.err
    assert world.project_file_path().read_bytes() == project
    assert legacy.read_bytes() == legacy_bytes
    status = world.run("status", "--json", **env).json()
    assert status["enabled"] is False and not any("refuse" in w for w in status["warnings"])


def test_disable_project_over_a_legacy_opt_out_is_refused_and_writes_nothing(world: World):
    legacy = _legacy(world, "false")
    project = world.write_project("name: jaffle\n").read_bytes()

    r = world.run("disable", "--project")

    assert r.code == 3, r
    assert "already turns telemetry off" in r.err and f"{legacy}:2" in r.err
    assert world.project_file_path().read_bytes() == project


def test_disable_project_over_a_legacy_true_moves_the_setting_keeping_every_other_byte(
    world: World,
):
    legacy = _legacy(world, "true")
    world.write_project("name: jaffle\n")
    expected = LEGACY_PROFILES.format(value="true").replace(
        "  send_anonymous_usage_stats: true\n", ""
    )

    r = world.run("disable", "--project")

    assert r.code == 0, r
    assert legacy.read_text() == expected, "only the legacy key's line is gone"
    assert stat.S_IMODE(legacy.stat().st_mode) == 0o600, "it holds credentials: mode kept"
    assert "Removed send_anonymous_usage_stats: true from" in r.out and "default" in r.out
    assert world.project_file_path().read_text() == (
        "name: jaffle\nflags:\n  send_anonymous_usage_stats: false\n"
    )
    doc = world.run("status", "--json").json()
    assert (doc["enabled"], doc["decided_by"]) == (False, "project_file")
    assert doc["warnings"] == [], "dbt runs: no both-set refusal"


def test_a_legacy_config_block_with_other_settings_is_never_joined_by_flags(world: World):
    legacy = world.home / ".dbt" / "profiles.yml"
    legacy.parent.mkdir(parents=True)
    legacy.write_text("config:\n  partial_parse: true\n")
    project = world.write_project("name: jaffle\n").read_bytes()

    r = world.run("disable", "--project")

    assert r.code == 3, r
    assert "config: block (partial_parse)" in r.err and "Fix: move what is under config:" in r.err
    assert world.project_file_path().read_bytes() == project


# -- a project file the command cannot (or must not) edit: refused, not "enabled" --------------

BOMB = "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, c in zip([None, *"abcdefghi"], "abcdefghij", strict=True)
)


@pytest.mark.parametrize("case", ["over the size limit", "alias bomb"])
def test_a_project_file_that_is_an_error_is_refused_with_the_real_reason(world: World, case):
    if case == "over the size limit":
        text = (
            "name: jaffle\nflags:\n  send_anonymous_usage_stats: false\n"
            + "# padding to make the file large\n" * 40_000
        )
        reason = "over the 1 MB limit"
    else:
        text = BOMB + "flags:\n  send_anonymous_usage_stats: false\n"
        reason = "alias bomb"
    world.write_project(text)

    r = world.run("enable", "--project")

    assert r.code == 3, r
    assert r.out == "" and "another process" not in r.err
    assert reason in r.err and str(world.project_file_path()) in r.err and "Fix:" in r.err
    assert "make it a readable UTF-8 YAML file" not in r.err
    assert world.project_file_path().read_text() == text


def test_disable_project_on_a_5_mb_project_file_is_refused_at_once(world: World):
    text = "name: jaffle\nmodels:\n" + "".join(
        f"  model_{i:06d}:\n    +materialized: view\n" for i in range(130_000)
    )
    world.write_project(text)
    assert world.project_file_path().stat().st_size > 5_000_000

    r = world.run("disable", "--project", timeout=30)  # not a speed test: it must not hang

    assert r.code == 3, r
    assert "over the 1 MB limit" in r.err and "Fix: make it smaller" in r.err
    assert world.project_file_path().read_text() == text


def test_a_read_only_project_file_is_left_alone_exit_4(world: World):
    path = world.project_flag("true")
    path.chmod(0o444)
    before = path.read_bytes()

    r = world.run("disable", "--project")

    assert r.code == 4, r
    assert "read-only" in r.err and str(path) in r.err and "chmod u+w" in r.err
    assert path.read_bytes() == before and stat.S_IMODE(path.stat().st_mode) == 0o444


def test_a_choice_dbt_would_drop_says_so_instead_of_blaming_another_process(world: World):
    world.write_project("name: jaffle\nflags:\n  partial_parse: maybe\n")

    r = world.run("disable", "--project")

    assert r.code == 3, r
    assert "another process" not in r.err
    assert "does not apply" in r.err and "partial_parse" in r.err


def test_minimal_edits_keep_crlf_markers_anchors_and_flow_lists(world: World):
    text = (
        "--- # shop\r\nname: jaffle\r\nvars: &v {start: '2020'}\r\nother: *v\r\n"
        "paths: [models, seeds]   # flow list\r\n... # end\r\n"
    )
    world.project_file_path().parent.mkdir(parents=True, exist_ok=True)
    world.project_file_path().write_bytes(text.encode())

    r = world.run("disable", "--project")

    assert r.code == 0, r
    assert (
        world.project_file_path().read_bytes()
        == text.replace(
            "... # end", "flags:\r\n  send_anonymous_usage_stats: false\r\n... # end"
        ).encode()
    )


# -- the user config: a dotfiles symlink is written through, comments are kept -------------------

DOTFILE = "# shared between my machines\nsend_anonymous_usage_stats = true  # for now\n"


def test_a_symlinked_user_config_is_written_through_keeping_its_comments(strict_world: World):
    world = strict_world  # dbt never reads our user config or policy
    dotfiles = world.home / "dotfiles" / "telemetry.toml"
    dotfiles.parent.mkdir(parents=True)
    dotfiles.write_text(DOTFILE)
    world.user_config_path().parent.mkdir(parents=True)
    world.user_config_path().symlink_to(dotfiles)

    r = world.run("disable")

    assert r.code == 0, r
    assert world.user_config_path().is_symlink(), "the dotfiles link stays a link"
    assert (
        dotfiles.read_text()
        == DOTFILE.replace("= true", "= false") + f"consent_version = {VERSION}\n"
    )
    assert world.run("status", "--json").json()["decided_by"] == "user_config"


def test_enable_keeps_the_comments_of_an_existing_user_config_crlf_too(strict_world: World):
    world = strict_world  # dbt never reads our user config or policy
    world.user_config_path().parent.mkdir(parents=True)
    world.user_config_path().write_bytes(DOTFILE.replace("\n", "\r\n").encode())

    r = world.run("disable")

    assert r.code == 0, r
    assert (
        world.user_config_path().read_bytes()
        == (DOTFILE.replace("= true", "= false") + f"consent_version = {VERSION}\n")
        .replace("\n", "\r\n")
        .encode()
    )


def test_a_read_only_profiles_yml_without_config_does_not_block_the_project(world: World):
    legacy = world.home / ".dbt" / "profiles.yml"
    legacy.parent.mkdir(parents=True)
    legacy.write_text("jaffle:\n  target: dev\n")
    legacy.chmod(0o400)  # credentials, kept read-only
    world.write_project("name: jaffle\n")

    r = world.run("disable", "--project")

    assert r.code == 0, r
    assert "send_anonymous_usage_stats: false" in world.project_file_path().read_text()


def test_a_read_only_profiles_yml_that_must_change_is_a_failed_write(world: World):
    legacy = _legacy(world, "true")
    legacy.chmod(0o400)
    project = world.write_project("name: jaffle\n").read_bytes()

    r = world.run("disable", "--project")

    assert r.code == 4, r
    assert "read-only" in r.err and str(legacy) in r.err
    assert world.project_file_path().read_bytes() == project, "nothing half-done"


# -- the project dbt is told to use --------------------------------------------------------------


def test_disable_project_writes_the_project_dbt_project_dir_names(world: World):
    here = world.project_flag("true")
    before = here.read_bytes()
    other = world.root / "elsewhere"
    other.mkdir()
    (other / "dbt_project.yml").write_text("name: elsewhere\n")

    r = world.run("disable", "--project", DBT_PROJECT_DIR=str(other))

    assert r.code == 0, r
    assert "send_anonymous_usage_stats: false" in (other / "dbt_project.yml").read_text()
    assert here.read_bytes() == before, "not the project around the cwd, which dbt does not read"
    assert world.run("status", "--expect", "off", DBT_PROJECT_DIR=str(other)).code == 0


def test_disable_project_with_a_dbt_project_dir_that_holds_no_project_writes_nothing(
    world: World,
):
    here = world.project_flag("true")
    before = here.read_bytes()
    empty = world.root / "empty"
    empty.mkdir()

    r = world.run("disable", "--project", DBT_PROJECT_DIR=str(empty))

    assert r.code == 2, r
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert f"DBT_PROJECT_DIR={empty}" in r.err and "Fix:" in r.err
    assert here.read_bytes() == before and list(empty.iterdir()) == []
