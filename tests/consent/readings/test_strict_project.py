"""The strict reading of the project layer (docs/decision.md, "The layers"): the nearest
``dbt_project.yml`` and the legacy ``profiles.yml``, read from real files in a temp world.

Driven through the strict reading itself (:class:`consent.readings.strict.StrictReading`), with a
profile that declares it and keeps dbt's files (:data:`tests.support.world.STRICT_PROFILE`): the
built-in dbt profile reads these files as dbt-core does (``test_dbt_reading.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from consent.readings.strict import StrictReading
from tests.support.world import STRICT_PROFILE

KEY = "send_anonymous_usage_stats"
PROFILE = STRICT_PROFILE


def read(world, cwd: Path | None = None, env: dict | None = None):
    layer, _watched = read_with_watched(world, cwd, env)
    return layer


def read_with_watched(world, cwd: Path | None = None, env: dict | None = None):
    return StrictReading().project(
        PROFILE, world.env if env is None else env, str(cwd or world.project)
    )


def flag_file(value: str, before: str = "") -> str:
    return f"{before}flags:\n  {KEY}: {value}\n"


# -- good values --------------------------------------------------------------------------------


def test_flags_false_is_off_with_the_exact_line_as_origin(world):
    path = world.write_project(
        "# Jaffle shop\n"
        "name: jaffle_shop\n"
        "version: '1.0'\n"
        "\n"
        "flags:\n"
        "  partial_parse: true\n"
        f"  {KEY}: false   # we opt out for the whole team\n"
        "models:\n"
        "  jaffle_shop:\n"
        "    +materialized: view\n"
    )
    layer = read(world)
    assert layer.opinion == "off"
    assert layer.origin == f"{path}:7"
    assert layer.raw == "false"
    assert layer.status == "no_opinion"  # a valid value; the resolver decides winner/overridden
    assert layer.warnings == ()


def test_a_flow_mapping_is_read_with_its_line(world):
    path = world.write_project(f"name: x\nflags: {{{KEY}: no}}\n")
    layer = read(world)
    assert (layer.opinion, layer.origin) == ("off", f"{path}:2")


@pytest.mark.parametrize(
    "word", ["false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "fAlSe", "oFF"]
)
def test_yaml_1_1_false_spellings_are_off(world, word):
    world.write_project(flag_file(word))
    layer = read(world)
    assert layer.opinion == "off", word
    assert layer.status != "error"


@pytest.mark.parametrize(
    "word", ["true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "tRuE"]
)
def test_yaml_1_1_true_spellings_are_on(world, word):
    world.write_project(flag_file(word))
    layer = read(world)
    assert layer.opinion == "on", word
    assert layer.status != "error"


@pytest.mark.parametrize(
    "text",
    [
        "name: jaffle_shop\n",  # no flags at all
        "",  # an empty file
        "# only a comment\n",
        "flags:\n",  # flags: null
        "flags:\n  partial_parse: true\n",  # flags without our key
        f"flags:\n  {KEY}:\n",  # our key, null
        f"flags:\n  {KEY}: ~\n",
    ],
)
def test_a_project_without_the_flag_has_no_opinion(world, text):
    world.write_project(text)
    layer = read(world)
    assert layer.opinion is None
    assert layer.status == "no_opinion"
    assert layer.warnings == ()


def test_outside_any_project_there_is_no_opinion(world):
    layer = read(world)
    assert layer.opinion is None and layer.status == "no_opinion"
    assert "dbt_project.yml" in (layer.detail or "")


# -- the upward search ---------------------------------------------------------------------------


def test_the_search_goes_upward_from_a_nested_subdirectory(world):
    path = world.write_project(flag_file("false"))
    deep = world.project / "models" / "staging" / "orders"
    deep.mkdir(parents=True)
    layer = read(world, cwd=deep)
    assert (layer.opinion, layer.origin) == ("off", f"{path}:2")


def test_a_nearer_project_file_shadows_a_farther_one(world):
    world.write_project(flag_file("false"))
    nearer = world.write_project(flag_file("true"), subdir="packages/inner")
    cwd = nearer.parent / "models"
    cwd.mkdir()
    layer = read(world, cwd=cwd)
    assert (layer.opinion, layer.origin) == ("on", f"{nearer}:2")


def test_a_nearer_project_file_without_the_flag_still_shadows(world):
    # dbt uses the nearest project only; its parent's settings do not apply inside it.
    world.write_project(flag_file("false"))
    world.write_project("name: inner\n", subdir="inner")
    layer = read(world, cwd=world.project / "inner")
    assert layer.opinion is None


def test_the_files_read_are_reported_for_cheap_rechecks(world):
    path = world.write_project(flag_file("false"))
    _layer, watched = read_with_watched(world)
    assert str(path) in watched
    assert str(world.home / ".dbt" / "profiles.yml") in watched


# -- bad input: error, off, one warning line naming the file, the line, the key and the fix ------


def _write(world, content):
    return world.write_project(content)


def _directory(world):
    path = world.project / "dbt_project.yml"
    path.mkdir()
    (path / "flags").write_text("x")
    return path


def _fifo(world):
    path = world.project / "dbt_project.yml"
    os.mkfifo(path)
    return path


def _symlink_loop(world):
    path = world.project / "dbt_project.yml"
    other = world.project / "loop.yml"
    os.symlink(other, path)
    os.symlink(path, other)
    return path


def _dangling_symlink(world):
    # It shadows any farther project file, so it must not read as "no file here".
    world.write(world.project.parent / "dbt_project.yml", flag_file("true"))
    path = world.project / "dbt_project.yml"
    os.symlink(world.project / "moved-away.yml", path)
    return path


def _two_megabytes(world):
    padding = "# " + "x" * 98 + "\n"
    return world.write_project(flag_file("false") + padding * 21_000)


BAD = {
    # id: (make the file, line or None, what the warning must also say)
    "malformed yaml": (lambda w: _write(w, "name: x\n\tflags:\n"), 2, "YAML"),
    "malformed yaml in flags": (
        lambda w: _write(w, f"flags:\n  {KEY}: false\n  bad: [\n"),
        4,
        "YAML",
    ),
    "flags is a scalar": (lambda w: _write(w, "name: x\nflags: false\n"), 2, "mapping"),
    "flags is a list": (lambda w: _write(w, f"flags:\n  - {KEY}: false\n"), 2, "mapping"),
    "the document is a list": (lambda w: _write(w, "- flags\n"), 1, "mapping"),
    "a list value": (lambda w: _write(w, flag_file("[false]")), 2, "true or false"),
    "a mapping value": (lambda w: _write(w, flag_file("{value: false}")), 2, "true or false"),
    "quoted false": (lambda w: _write(w, flag_file('"false"')), 2, "quote"),
    "single-quoted no": (lambda w: _write(w, flag_file("'no'")), 2, "quote"),
    "maybe": (lambda w: _write(w, flag_file("maybe")), 2, "maybe"),
    "a number": (lambda w: _write(w, flag_file("0")), 2, "not a boolean"),
    "y is not a YAML 1.1 boolean for dbt": (
        lambda w: _write(w, flag_file("y")),
        2,
        "not a boolean",
    ),
    "binary": (
        lambda w: _write(w, b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256))),
        None,
        "binary",
    ),
    "not utf-8": (
        lambda w: _write(w, f"name: caf\xe9\nflags:\n  {KEY}: false\n".encode("latin-1")),
        None,
        "UTF-8",
    ),
    "a directory": (_directory, None, "directory"),
    "a fifo": (_fifo, None, "regular file"),
    "a symlink loop": (_symlink_loop, None, "cannot be read"),
    "a dangling symlink": (_dangling_symlink, None, "symlink"),
    "two megabytes": (_two_megabytes, None, "over 1 MB, which is not read: make it smaller"),
    # A strict profile does not guess which of two values was meant (dbt takes the last one,
    # so an opt-out above an "on" would be lost): it fails closed.
    "the flag set twice": (
        lambda w: _write(w, flag_file("false") + f"  {KEY}: true\n"),
        3,
        "set 2 times (lines 2 and 3)",
    ),
    "flags: set twice": (
        lambda w: _write(w, flag_file("false") + "flags:\n  x: 1\n"),
        3,
        "flags is set 2 times (lines 1 and 3)",
    ),
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("case", BAD)
def test_bad_input_fails_closed_with_one_clear_line(world, case):
    make, line, mentions = BAD[case]
    path = make(world)
    layer = read(world)

    assert layer.status == "error", layer
    assert layer.opinion == "off", "an opt-out the user tried to write must never be lost"
    where = f"{path}:{line}" if line else str(path)
    assert layer.origin == where
    assert len(layer.warnings) == 1, layer.warnings
    warning = layer.warnings[0]
    assert "\n" not in warning
    assert warning.startswith(f"{where}: ")
    assert KEY in warning
    assert "Fix:" in warning
    assert mentions.lower() in warning.lower()


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root reads a chmod 000 file anyway (FIFO and symlink loop cover it)",
)
def test_an_unreadable_project_file_fails_closed(world):
    path = world.write_project(flag_file("true"))
    path.chmod(0)
    try:
        layer = read(world)
    finally:
        path.chmod(0o644)
    assert (layer.status, layer.opinion) == ("error", "off")
    assert str(path) in layer.warnings[0] and KEY in layer.warnings[0]


BOMB = (
    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
    "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
    "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
    "j: &j [*i, *i, *i, *i, *i, *i, *i, *i, *i]\n"
)


@pytest.mark.timeout(5)
@pytest.mark.parametrize("flags", ["*j", "{send_anonymous_usage_stats: *j}"])
def test_a_billion_laughs_as_the_flag_is_bounded_and_fails_closed(world, flags):
    # 9**10 strings if expanded: it must return (quickly, without the memory) and fail closed.
    world.write_project(BOMB + f"flags: {flags}\n")
    layer = read(world)
    assert (layer.status, layer.opinion) == ("error", "off")
    assert len(layer.warnings) == 1


@pytest.mark.timeout(5)
@pytest.mark.parametrize("value", ["false", "true"])
def test_a_billion_laughs_anywhere_fails_closed_with_a_warning(world, value):
    # dbt's own parser would try to expand it; an "on" next to a bomb is not trusted either.
    path = world.write_project(BOMB + flag_file(value))
    layer = read(world)
    assert (layer.status, layer.opinion) == ("error", "off")
    assert layer.origin.startswith(f"{path}:")
    assert len(layer.warnings) == 1 and "alias" in layer.warnings[0] and "Fix:" in layer.warnings[0]


@pytest.mark.timeout(5)
@pytest.mark.parametrize(
    "text",
    [
        "flags: " + "[" * 100_000,
        "flags: " + "{a: " * 50_000 + "}" * 50_000,
    ],
)
def test_absurd_nesting_is_bounded_and_fails_closed(world, text):
    world.write_project(text)
    layer = read(world)
    assert (layer.status, layer.opinion) == ("error", "off")


# -- the legacy profiles.yml `config:` block -------------------------------------------------------

LEGACY = (
    "config:\n"
    f"  {KEY}: false\n"
    "jaffle_shop:\n"
    "  target: dev\n"
    "  outputs:\n"
    "    dev: {type: duckdb, path: dev.duckdb}\n"
)


def assert_legacy_off(layer, path):
    assert layer.opinion == "off"
    assert layer.status != "error"
    assert layer.origin == f"{path}:2"
    assert len(layer.warnings) == 1
    warning = layer.warnings[0]
    assert "deprecated" in warning and "dbt_project.yml" in warning and KEY in warning
    assert str(path) in warning and "Fix:" in warning


def test_legacy_profiles_in_dbt_profiles_dir(world):
    profiles_dir = world.root / "profiles"
    path = world.write(profiles_dir / "profiles.yml", LEGACY)
    world.write(world.project / "profiles.yml", LEGACY.replace("false", "true"))
    world.write(world.home / ".dbt" / "profiles.yml", LEGACY.replace("false", "true"))
    layer = read(world, env={**world.env, "DBT_PROFILES_DIR": str(profiles_dir)})
    assert_legacy_off(layer, path)


def test_legacy_profiles_in_the_working_directory(world):
    path = world.write(world.project / "profiles.yml", LEGACY)
    world.write(world.home / ".dbt" / "profiles.yml", LEGACY.replace("false", "true"))
    assert_legacy_off(read(world), path)


def test_legacy_profiles_in_home_dot_dbt(world):
    path = world.write(world.home / ".dbt" / "profiles.yml", LEGACY)
    assert_legacy_off(read(world), path)


def test_an_ordinary_profiles_yml_changes_nothing(world):
    world.write(
        world.home / ".dbt" / "profiles.yml",
        "config:\n  partial_parse: true\njaffle_shop:\n  target: dev\n",
    )
    path = world.write_project(flag_file("false"))
    layer = read(world)
    assert (layer.opinion, layer.origin, layer.warnings) == ("off", f"{path}:2", ())


@pytest.mark.parametrize(
    ("project", "legacy"),
    [("false", "false"), ("true", "false"), ("false", "true"), ("true", "true")],
)
def test_both_places_set_fails_closed_because_dbt_refuses_to_run(world, project, legacy):
    project_path = world.write_project(flag_file(project))
    legacy_path = world.write(world.home / ".dbt" / "profiles.yml", LEGACY.replace("false", legacy))
    layer = read(world)
    assert (layer.status, layer.opinion) == ("error", "off")
    assert len(layer.warnings) == 1
    warning = layer.warnings[0]
    assert str(project_path) in warning and str(legacy_path) in warning
    assert KEY in warning and "Fix:" in warning


def test_a_broken_project_file_is_not_reported_as_also_setting_the_flag(world):
    world.write_project(flag_file("maybe"))
    world.write(world.home / ".dbt" / "profiles.yml", LEGACY)
    layer = read(world)
    assert (layer.status, layer.opinion) == ("error", "off")
    assert any("maybe" in w for w in layer.warnings)
    assert not any("both set" in w for w in layer.warnings)


def test_a_broken_legacy_file_fails_closed(world):
    path = world.write(world.home / ".dbt" / "profiles.yml", f"config:\n  {KEY}: maybe\n")
    layer = read(world)
    assert (layer.status, layer.opinion) == ("error", "off")
    assert any(f"{path}:2" in w for w in layer.warnings)
