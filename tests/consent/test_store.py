"""Writing choices: atomic, private, never through a planted symlink, valid under concurrency."""

from __future__ import annotations

import multiprocessing
import os
import stat
import tomllib

import pytest

from consent import DEFAULT_PROFILE, NoProjectFile, WriteError
from consent.sources.project import read_yaml_flag
from consent.store import edit_flag_text, write_project_choice, write_user_choice

KEY = ("flags", "send_anonymous_usage_stats")


def test_user_choice_is_private_and_reads_back(world):
    path = write_user_choice(DEFAULT_PROFILE, False)

    assert path == str(world.user_config_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert tomllib.loads(open(path).read()) == {"send_anonymous_usage_stats": False}
    assert world.decide().decided_by == "user_config" and not world.decide().enabled


def test_a_planted_symlink_is_replaced_not_followed(world, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    world.user_config_path.parent.mkdir(parents=True, exist_ok=True)
    world.user_config_path.symlink_to(victim)

    write_user_choice(DEFAULT_PROFILE, False)

    assert victim.read_text() == "precious\n"
    assert not world.user_config_path.is_symlink()


def test_a_directory_in_the_way_is_a_write_error_naming_the_path_and_fix(world):
    world.user_config_path.mkdir(parents=True)

    with pytest.raises(WriteError) as err:
        write_user_choice(DEFAULT_PROFILE, False)

    assert str(world.user_config_path) in str(err.value) and "Fix:" in str(err.value)


def test_project_outside_any_project_says_so(world):
    with pytest.raises(NoProjectFile):
        write_project_choice(DEFAULT_PROFILE, False, cwd=str(world.root))


@pytest.mark.parametrize("text, expected", [
    ("name: x\n", "name: x\nflags:\n  send_anonymous_usage_stats: false\n"),
    ("name: x", "name: x\nflags:\n  send_anonymous_usage_stats: false\n"),
    ("", "flags:\n  send_anonymous_usage_stats: false\n"),
    ("# only a comment\n", "# only a comment\nflags:\n  send_anonymous_usage_stats: false\n"),
    ("flags:\n    other: 1  # keep\n", "flags:\n    send_anonymous_usage_stats: false\n    other: 1  # keep\n"),
    ("flags:\n  send_anonymous_usage_stats: yes  # was on\n",
     "flags:\n  send_anonymous_usage_stats: false  # was on\n"),
    ("flags:\n  send_anonymous_usage_stats:\n", "flags:\n  send_anonymous_usage_stats: false\n"),
])
def test_text_edits_change_only_the_flag(text, expected):
    assert edit_flag_text(text, KEY, False) == expected


@pytest.mark.parametrize("text", [
    "flags: {send_anonymous_usage_stats: true}\n",     # flow mapping: needs a re-dump
    'flags:\n  send_anonymous_usage_stats: "true"\n',  # quoted: needs a re-dump
    "- a list\n",
])
def test_text_edit_declines_what_it_cannot_do_exactly(text):
    assert edit_flag_text(text, KEY, False) is None


def test_a_flow_mapping_falls_back_to_the_round_trip_and_reads_back_off(world):
    path = world.project_file("name: x\nflags: {send_anonymous_usage_stats: true, other: 1}\n")

    write_project_choice(DEFAULT_PROFILE, False)

    found = read_yaml_flag(str(path), KEY)
    assert found.opinion == "off" and found.problem is None
    assert "other" in path.read_text()


def _toggle_user(n: int, seed: int) -> None:
    for i in range(n):
        write_user_choice(DEFAULT_PROFILE, (i + seed) % 2 == 0)


def _toggle_project(n: int, seed: int) -> None:
    for i in range(n):
        write_project_choice(DEFAULT_PROFILE, (i + seed) % 2 == 0)


@pytest.mark.parametrize("target", [_toggle_user, _toggle_project])
def test_several_processes_toggling_at_once_leave_a_valid_file(world, target):
    if target is _toggle_project:
        world.project_file("# shop\nname: shop\nmodels:\n  +materialized: table\n")
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=target, args=(25, seed)) for seed in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0

    decision = world.decide()
    layer = decision.layer("project_file" if target is _toggle_project else "user_config")
    assert layer.status != "error" and layer.opinion in ("on", "off"), layer
    leftovers = [p for p in os.listdir(world.user_config_path.parent if target is _toggle_user
                                       else world.project) if p.endswith(".tmp")]
    assert leftovers == []
    if target is _toggle_project:
        text = (world.project / "dbt_project.yml").read_text()
        assert text.startswith("# shop\nname: shop\nmodels:\n  +materialized: table\n")
        assert text.count("send_anonymous_usage_stats") == 1
