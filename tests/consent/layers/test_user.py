"""The user layer (docs/decision.md, "The layers"): ``telemetry.toml`` in the user config dir."""

from __future__ import annotations

import os

import pytest

from consent.layers.user_config import read_user_config as user_config_layer

KEY = "send_anonymous_usage_stats"


def read(world):
    return user_config_layer(str(world.user_config_path()))


@pytest.mark.parametrize(
    ("text", "opinion", "line"),
    [
        (f"{KEY} = false\n", "off", 1),
        (f"{KEY} = true\n", "on", 1),
        (f"# written by `telemetry disable`\n\n{KEY}=false\n", "off", 3),
        (f'"{KEY}" = false\n', "off", 1),
    ],
)
def test_a_boolean_is_read_with_its_line(world, text, opinion, line):
    path = world.write_user(text, mode=0o600)
    layer = read(world)
    assert layer.opinion == opinion
    assert layer.status == "no_opinion"
    assert layer.origin == f"{path}:{line}"
    assert layer.warnings == ()


def test_no_file_is_no_opinion(world):
    layer = read(world)
    assert layer.opinion is None and layer.status == "no_opinion"
    assert layer.warnings == ()


def test_an_empty_file_is_no_opinion(world):
    world.write_user("# nothing chosen yet\n", mode=0o600)
    layer = read(world)
    assert layer.opinion is None and layer.status == "no_opinion"


BAD = {
    # id: (content, line or None, words the warning must also contain)
    "the string false": (f'{KEY} = "false"\n', 1, '"false"'),  # as written in TOML, quotes and all
    "zero": (f"{KEY} = 0\n", 1, "0"),
    "one": (f"# mine\n{KEY} = 1\n", 2, "1"),
    "a list": (f"{KEY} = [false]\n", 1, "true or false"),
    "malformed toml": (f"{KEY} = fals\n", 1, "TOML"),
    "malformed toml later": (f"{KEY} = false\n[oops\n", 2, "TOML"),
    "a duplicate key": (f"{KEY} = false\n{KEY} = true\n", 2, "TOML"),
    "a misspelt key": ("send_anonymous_usage_stat = false\n", 1, "send_anonymous_usage_stat'"),
    "an unknown key beside a good one": (f"{KEY} = true\ncolour = 'red'\n", 2, "colour"),
    "a table": (f"[telemetry]\n{KEY} = false\n", 1, "telemetry"),
    "not utf-8": (b"# caf\xe9\nsend_anonymous_usage_stats = false\n", None, "UTF-8"),
    "binary": (b"\x00\x01\x02", None, "binary"),
    "nested too deeply": ("x = " + "[" * 5000 + "]" * 5000 + "\n", None, "TOML"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_fails_closed_with_one_clear_line(world, case):
    text, line, mentions = BAD[case]
    path = world.write_user(text, mode=0o600)
    layer = read(world)

    assert layer.status == "error"
    assert layer.opinion == "off", "an opt-out the user tried to write must never be lost"
    where = f"{path}:{line}" if line else str(path)
    assert layer.origin == where
    assert len(layer.warnings) == 1, layer.warnings
    warning = layer.warnings[0]
    assert warning.startswith(f"{where}: ")
    assert "\n" not in warning
    assert KEY in warning and "Fix:" in warning
    assert mentions in warning


def test_a_directory_in_place_of_the_file_fails_closed(world):
    world.user_config_path().mkdir(parents=True)
    layer = read(world)
    assert (layer.status, layer.opinion) == ("error", "off")
    assert str(world.user_config_path()) in layer.warnings[0]


def test_a_dangling_symlink_fails_closed(world):
    world.user_config_path().parent.mkdir(parents=True)
    os.symlink(world.root / "dotfiles" / "telemetry.toml", world.user_config_path())
    layer = read(world)
    assert (layer.status, layer.opinion) == ("error", "off")


def test_a_world_writable_file_is_still_read_but_warned_about(world):
    path = world.write_user(f"{KEY} = false\n", mode=0o666)
    layer = read(world)
    assert layer.opinion == "off"
    assert layer.status == "no_opinion"
    assert len(layer.warnings) == 1
    assert str(path) in layer.warnings[0]
    assert "world-writable" in layer.warnings[0] and "chmod 600" in layer.warnings[0]


def test_a_private_file_gets_no_warning(world):
    world.write_user(f"{KEY} = true\n", mode=0o600)
    assert read(world).warnings == ()


# -- an answer is recorded with the consent version it was given for ----------------------------

VERSIONED = {
    # id: (file content, the profile's consent version, opinion)
    "a yes for this version": (f"{KEY} = true\nconsent_version = 2\n", 2, "on"),
    "a yes from before versions were recorded, at version 1": (f"{KEY} = true\n", 1, "on"),
    "a yes from before versions were recorded, now at 2": (f"{KEY} = true\n", 2, None),
    "a yes for an older version": (f"{KEY} = true\nconsent_version = 1\n", 2, None),
    "a yes for a newer version (the tool went back)": (
        f"consent_version = 3\n{KEY} = true\n",
        2,
        None,
    ),
    "a no for an older version still counts": (f"{KEY} = false\nconsent_version = 1\n", 2, "off"),
    "a no from before versions were recorded": (f"{KEY} = false\n", 5, "off"),
    "a version alone is no choice": ("consent_version = 2\n", 2, None),
}


@pytest.mark.parametrize("case", VERSIONED)
def test_a_yes_counts_only_for_the_consent_version_it_was_given_for(world, case):
    text, version, opinion = VERSIONED[case]
    path = world.write_user(text, mode=0o600)

    layer = user_config_layer(str(path), version)

    assert layer.opinion == opinion
    assert layer.status == "no_opinion" and layer.warnings == ()
    if opinion is None and KEY in text:
        # status shows the value and why it no longer counts
        assert layer.raw == "true"
        assert "no longer counts" in layer.detail and "telemetry enable" in layer.detail
        assert f"version {version})" in layer.detail


@pytest.mark.parametrize("value", ['"2"', "0", "-1", "true", "1.5", "[2]"])
@pytest.mark.parametrize("choice", ["false", "true"])
def test_a_bad_consent_version_fails_closed_and_keeps_an_opt_out(world, value, choice):
    path = world.write_user(f"{KEY} = {choice}\nconsent_version = {value}\n", mode=0o600)

    layer = user_config_layer(str(path), 2)

    assert (layer.status, layer.opinion) == ("error", "off")
    [warning] = layer.warnings
    assert warning.startswith(f"{path}:2: ") and "consent_version" in warning
    assert "Fix:" in warning and "\n" not in warning
