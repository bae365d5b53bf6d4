"""Writing choices: atomic, private, never through a planted symlink, valid under concurrency."""

from __future__ import annotations

import multiprocessing
import os
import stat
import tomllib
from pathlib import Path

import pytest

from consent import DEFAULT_PROFILE, AppProfile, EditRefused, NoProjectFile, WriteError
from consent._yaml_edit import NoMinimalEdit, same_apart_from, set_flag
from consent.layers.project_file import write_project_choice
from consent.layers.user_config import read_user_config, write_user_choice

KEY = ("flags", "send_anonymous_usage_stats")


def test_user_choice_is_private_and_reads_back(strict_world):
    world = strict_world
    path = write_user_choice(world.profile, False)

    assert path == str(world.user_config_path())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert tomllib.loads(Path(path).read_text()) == {
        "send_anonymous_usage_stats": False,
        "consent_version": DEFAULT_PROFILE.consent_version,
    }
    assert world.decide().decided_by == "user_config" and not world.decide().enabled


def test_a_planted_symlink_is_replaced_not_followed(world, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    world.user_config_path().parent.mkdir(parents=True, exist_ok=True)
    world.user_config_path().symlink_to(victim)

    write_user_choice(DEFAULT_PROFILE, False)

    assert victim.read_text() == "precious\n"
    assert not world.user_config_path().is_symlink()


def test_a_directory_in_the_way_is_a_write_error_naming_the_path_and_fix(world):
    world.user_config_path().mkdir(parents=True)

    with pytest.raises(WriteError) as err:
        write_user_choice(DEFAULT_PROFILE, False)

    assert str(world.user_config_path()) in str(err.value) and "Fix:" in str(err.value)


def test_project_outside_any_project_says_so(world):
    with pytest.raises(NoProjectFile):
        write_project_choice(DEFAULT_PROFILE, False, cwd=str(world.root))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("name: x\n", "name: x\nflags:\n  send_anonymous_usage_stats: false\n"),
        ("name: x", "name: x\nflags:\n  send_anonymous_usage_stats: false\n"),
        ("", "flags:\n  send_anonymous_usage_stats: false\n"),
        ("# only a comment\n", "# only a comment\nflags:\n  send_anonymous_usage_stats: false\n"),
        (
            "flags:\n    other: 1  # keep\n",
            "flags:\n    send_anonymous_usage_stats: false\n    other: 1  # keep\n",
        ),
        (
            "flags:\n  send_anonymous_usage_stats: yes  # was on\n",
            "flags:\n  send_anonymous_usage_stats: false  # was on\n",
        ),
        (
            "flags:\n  send_anonymous_usage_stats:\n",
            "flags:\n  send_anonymous_usage_stats: false\n",
        ),
    ],
)
def test_text_edits_change_only_the_flag(text, expected):
    assert set_flag(text, KEY, "false") == expected


EDITS = {
    # case: (file, the same file with the flag set to false)
    "CRLF line ends": (
        "name: x\r\nflags:\r\n  partial_parse: true\r\n",
        "name: x\r\nflags:\r\n  send_anonymous_usage_stats: false\r\n  partial_parse: true\r\n",
    ),
    "CRLF, no flags": (
        "name: x\r\n",
        "name: x\r\nflags:\r\n  send_anonymous_usage_stats: false\r\n",
    ),
    "document markers": (
        "---\nname: x\n...\n",
        "---\nname: x\nflags:\n  send_anonymous_usage_stats: false\n...\n",
    ),
    "markers and a comment after the end": (
        "--- # shop\nname: x\n... # end\n",
        "--- # shop\nname: x\nflags:\n  send_anonymous_usage_stats: false\n... # end\n",
    ),
    "anchors and aliases elsewhere": (
        "base: &base {a: 1}\nother: *base\nflags:\n  send_anonymous_usage_stats: true\n",
        "base: &base {a: 1}\nother: *base\nflags:\n  send_anonymous_usage_stats: false\n",
    ),
    "an anchored flags block used nowhere else": (
        "flags: &f\n  partial_parse: true\n",
        "flags: &f\n  send_anonymous_usage_stats: false\n  partial_parse: true\n",
    ),
    "flow lists": (
        "paths: [a, b]   # keep\nname: x\n",
        "paths: [a, b]   # keep\nname: x\nflags:\n  send_anonymous_usage_stats: false\n",
    ),
    "a flow flags mapping": (
        "flags: {send_anonymous_usage_stats: true, other: 1}\n",
        "flags: {send_anonymous_usage_stats: false, other: 1}\n",
    ),
    "a flow flags mapping without the key": (
        "flags: {other: 1}\n",
        "flags: {send_anonymous_usage_stats: false, other: 1}\n",
    ),
    "an empty flow flags mapping": ("flags: {}\n", "flags: {send_anonymous_usage_stats: false}\n"),
    "a quoted value": (
        'flags:\n  send_anonymous_usage_stats: "true"  # q\n',
        "flags:\n  send_anonymous_usage_stats: false  # q\n",
    ),
    "flags: with no value": (
        "flags:\nname: x\n",
        "flags:\n  send_anonymous_usage_stats: false\nname: x\n",
    ),
    "flags: ~": (
        "flags: ~  # none yet\n",
        "flags: {send_anonymous_usage_stats: false}  # none yet\n",
    ),
    "four-space indentation": (
        "name: x\nmodels:\n    shop: {}\n",
        "name: x\nmodels:\n    shop: {}\nflags:\n    send_anonymous_usage_stats: false\n",
    ),
    "non-ASCII before the flag": (
        "# café ☕\nflags:\n  send_anonymous_usage_stats: yes\n",
        "# café ☕\nflags:\n  send_anonymous_usage_stats: false\n",
    ),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_edits_keep_every_other_byte(case):
    text, expected = EDITS[case]

    assert set_flag(text, KEY, "false") == expected


@pytest.mark.parametrize(
    "text, why",
    [
        (
            "flags:\n  send_anonymous_usage_stats: true\n  send_anonymous_usage_stats: false\n",
            "set 2 times (lines 2 and 3)",
        ),
        ("flags: &f\n  partial_parse: true\nother: *f\n", "shared through a YAML anchor"),
        (
            "off: &off false\nflags:\n  send_anonymous_usage_stats: *off\n",
            "shared through a YAML anchor",
        ),
        ("base: &b {send_anonymous_usage_stats: true}\nflags:\n  <<: *b\n", "merge key"),
        ("flags:\n  send_anonymous_usage_stats: |\n    true\n", "block scalar"),
        ("flags: [a]\n", "is not a mapping"),
        ("- a list\n", "not a mapping"),
        ("name: x\n\tflags:\n", "not valid YAML"),
        ("vars: !secret x\nflags:\n  send_anonymous_usage_stats: true\n", "cannot be loaded"),
    ],
)
def test_what_no_minimal_edit_can_do_is_refused_with_the_reason(text, why):
    with pytest.raises(NoMinimalEdit, match=why.replace("(", r"\(").replace(")", r"\)")):
        same_apart_from(text, set_flag(text, KEY, "false"), KEY)


def test_a_file_that_cannot_be_edited_minimally_is_left_alone(world):
    text = "flags: &f\n  partial_parse: true\nother: *f\n"
    path = world.write_project(text)

    with pytest.raises(EditRefused) as err:
        write_project_choice(DEFAULT_PROFILE, False)

    assert path.read_text() == text
    assert str(path) in str(err.value) and "anchor" in str(err.value) and "Fix:" in str(err.value)


def test_a_byte_order_mark_is_kept(world):
    text = "\ufeffname: x\nflags:\n  send_anonymous_usage_stats: true\n"
    path = world.write_project(text.encode())

    write_project_choice(DEFAULT_PROFILE, False)

    assert (
        path.read_bytes() == "\ufeffname: x\nflags:\n  send_anonymous_usage_stats: false\n".encode()
    )


def _toggle_user(n: int, seed: int, profile: AppProfile) -> None:
    for i in range(n):
        write_user_choice(profile, (i + seed) % 2 == 0)


def _toggle_project(n: int, seed: int, profile: AppProfile) -> None:
    for i in range(n):
        write_project_choice(profile, (i + seed) % 2 == 0)


@pytest.mark.parametrize("target", [_toggle_user, _toggle_project])
def test_several_processes_toggling_at_once_leave_a_valid_file(strict_world, target):
    world = strict_world  # reads every layer it writes (dbt never reads our user config)
    if target is _toggle_project:
        world.write_project("# shop\nname: shop\nmodels:\n  +materialized: table\n")
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=target, args=(25, seed, world.profile)) for seed in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0

    decision = world.decide()
    layer = decision.layer("project_file" if target is _toggle_project else "user_config")
    assert layer.status != "error" and layer.opinion in ("on", "off"), layer
    leftovers = [
        p
        for p in os.listdir(
            world.user_config_path().parent if target is _toggle_user else world.project
        )
        if p.endswith(".tmp")
    ]
    assert leftovers == []
    if target is _toggle_project:
        text = (world.project / "dbt_project.yml").read_text()
        assert text.startswith("# shop\nname: shop\nmodels:\n  +materialized: table\n")
        assert text.count("send_anonymous_usage_stats") == 1


def _profile_at(version: int) -> AppProfile:
    return AppProfile(
        name="dbt", env_prefix="DBT_", project_files=("dbt_project.yml",), consent_version=version
    )


def test_a_choice_is_written_with_the_profiles_consent_version_and_counts(world):
    path = write_user_choice(_profile_at(3), True)

    assert tomllib.loads(Path(path).read_text()) == {
        "send_anonymous_usage_stats": True,
        "consent_version": 3,
    }
    assert read_user_config(path, 3).opinion == "on"
    assert read_user_config(path, 4).opinion is None, "a later version asks again"


def test_a_new_choice_updates_the_version_of_a_users_own_file_keeping_its_comments(world):
    own = (
        "# mine, from my dotfiles\n"
        "consent_version = 1  # the version I agreed to\n"
        "send_anonymous_usage_stats = false\n"
    )
    world.write_user(own, mode=0o600)

    path = write_user_choice(_profile_at(2), True)

    assert Path(path).read_text() == own.replace("= 1 ", "= 2 ").replace("= false", "= true")


def test_a_version_is_added_to_a_users_own_file_that_has_none(world):
    own = "send_anonymous_usage_stats = true # for now\n"
    world.write_user(own, mode=0o600)

    path = write_user_choice(_profile_at(2), False)

    assert Path(path).read_text() == own.replace("true", "false") + "consent_version = 2\n"


def test_a_file_written_by_an_older_version_of_the_command_is_written_anew(world):
    old = (
        "# Your choice about dbt's anonymous usage statistics, written by `telemetry enable`.\n"
        "# `telemetry status` shows every setting that applies and which one decides.\n"
        "send_anonymous_usage_stats = true\n"
    )
    world.write_user(old, mode=0o600)

    path = write_user_choice(_profile_at(2), False)

    text = Path(path).read_text()
    assert "written by `telemetry disable`" in text, "the header names the command that wrote it"
    assert tomllib.loads(text) == {"send_anonymous_usage_stats": False, "consent_version": 2}
