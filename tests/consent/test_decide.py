"""``consent.decide()`` end to end, in a real temp world (HOME, XDG dirs, a project tree)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from consent import DEFAULT_PROFILE, LAYER_ORDER, Decision, decide

KEY = "send_anonymous_usage_stats"
#: A yes counts for the consent version it was given for (docs/decision.md, "Opt-in tools").
VERSION = DEFAULT_PROFILE.consent_version
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "contracts" / "status.schema.json").read_text()
)


def project_flag(value: str) -> str:
    return f"name: jaffle_shop\nflags:\n  {KEY}: {value}\n"


def check_contract(decision: Decision) -> None:
    jsonschema.validate(decision.to_json(), SCHEMA)
    assert [layer.name for layer in decision.layers] == list(LAYER_ORDER)


def test_a_fresh_machine_in_core_is_on_by_default(world):
    decision = world.decide()
    assert decision.enabled
    assert not decision.mandatory
    assert decision.decided_by == "edition_default"
    assert (decision.edition.name, decision.edition.origin) == ("core", "default")
    assert decision.warnings == ()
    check_contract(decision)


def test_the_files_that_could_change_the_decision_are_watched(world):
    project = world.write_project(project_flag("true"))
    decision = world.decide()
    watched = set(decision.watched_paths)
    assert str(project) in watched
    assert str(world.user_config_path()) in watched
    assert str(world.policy_path(0)) in watched


def test_each_place_a_user_opts_out_is_honoured(strict_world):
    strict_world.write_user(f"{KEY} = false\n", mode=0o600)
    decision = strict_world.decide()
    assert not decision.enabled
    assert decision.decided_by == "user_config"
    assert decision.winner.origin == f"{strict_world.user_config_path()}:1"


def test_the_project_opt_out_is_found_from_a_subdirectory(world, monkeypatch):
    path = world.write_project(project_flag("false"))
    models = world.project / "models" / "marts"
    models.mkdir(parents=True)
    monkeypatch.chdir(models)
    decision = world.decide()
    assert not decision.enabled
    assert decision.winner.origin == f"{path}:3"


def test_cwd_can_be_passed_instead_of_changing_directory(world, tmp_path):
    other = tmp_path / "elsewhere"
    path = world.write(other / "dbt_project.yml", project_flag("off"))
    decision = world.decide(cwd=str(other))
    assert decision.winner.origin == f"{path}:3"


def test_a_user_opt_out_sticks_inside_a_project_that_is_on(strict_world):
    strict_world.write_project(project_flag("true"))
    strict_world.write_user(f"{KEY} = false\n", mode=0o600)
    decision = strict_world.decide()
    assert not decision.enabled
    assert decision.decided_by == "user_config"
    assert decision.layer("project_file").status == "overridden"


def test_a_project_cannot_turn_it_back_on_for_a_user_who_opted_out(strict_world):
    strict_world.write_project(project_flag("true"))
    strict_world.write_user(f"{KEY} = false\n", mode=0o600)
    assert not strict_world.decide().enabled
    strict_world.write_project(project_flag("false"))
    strict_world.write_user(f"{KEY} = true\n", mode=0o600)
    decision = strict_world.decide()
    assert not decision.enabled
    assert decision.decided_by == "project_file"


# -- the environment and the host flag ----------------------------------------------------------


def test_do_not_track_beats_the_host_flag_and_everything_below(world):
    world.write_project(project_flag("true"))
    world.write_user(f"{KEY} = true\n", mode=0o600)
    env = {**world.env, "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "true"}
    decision = world.decide(env=env, host_flag=True)
    assert not decision.enabled
    assert decision.decided_by == "do_not_track"
    assert decision.winner.origin == "DO_NOT_TRACK"


@pytest.mark.parametrize("flag", [True, False])
def test_the_host_flag_beats_the_env_var_and_the_files(world, flag):
    opposite = "false" if flag else "true"
    world.write_project(project_flag(opposite))
    world.write_user(f"{KEY} = {opposite}\n", mode=0o600)
    env = {**world.env, "DBT_SEND_ANONYMOUS_USAGE_STATS": opposite}
    decision = world.decide(env=env, host_flag=flag)
    assert decision.enabled is flag
    assert decision.decided_by == "host_flag"
    assert decision.winner.origin == "--send-anonymous-usage-stats"


def test_without_a_host_flag_the_env_var_beats_the_files(world):
    world.write_project(project_flag("false"))
    env = {**world.env, "DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS": "true"}
    decision = world.decide(env=env)
    assert decision.enabled
    assert decision.decided_by == "env_var"


def test_the_process_environment_is_not_read_when_env_is_given(world, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    assert world.decide(env={}).enabled
    assert not world.decide(env=None).enabled  # None means os.environ


# -- where the edition comes from ---------------------------------------------------------------


def test_the_edition_never_comes_from_the_project_file(world):
    world.write_project("name: jaffle_shop\nedition: cloud\nflags:\n  edition: cloud\n")
    decision = world.decide()
    assert decision.edition.name == "core"
    assert not decision.mandatory
    assert decision.decided_by == "edition_default"


def test_the_edition_never_comes_from_the_user_config(strict_world):
    strict_world.write_user('edition = "cloud"\n', mode=0o600)
    decision = strict_world.decide()
    assert decision.edition.name == "core"
    assert not decision.mandatory
    # An unknown key is bad input: the user's file fails closed and says why.
    assert decision.layer("user_config").status == "error"
    assert any(
        "edition" in w and str(strict_world.user_config_path()) in w for w in decision.warnings
    )


def test_the_cloud_edition_from_the_host(world):
    decision = world.decide(edition="cloud")
    assert (decision.edition.name, decision.edition.origin) == ("cloud", "host")
    assert decision.enabled and decision.mandatory
    assert decision.decided_by == "edition_mandate"
    check_contract(decision)


def test_a_cloud_edition_along_xdg_config_dirs_is_ignored_and_says_why(strict_world):
    # XDG_CONFIG_DIRS is wherever the user points it: its edition must not turn tracking on
    # (the fixed location's: tests/telemetry_cli/test_cli_fixed_policy.py, in a mount namespace).
    path = strict_world.write_policy('edition = "cloud"\n')
    decision = strict_world.decide()
    assert decision.edition.name == "core"
    assert not decision.mandatory
    [warning] = [w for w in decision.warnings if str(path) in w]
    assert 'edition = "cloud" is ignored' in warning
    assert "XDG_CONFIG_DIRS" in warning and "Fix:" in warning


def test_the_host_edition_beats_the_policy(strict_world):
    strict_world.write_policy('edition = "cloud"\n')
    decision = strict_world.decide(edition="core")
    assert (decision.edition.name, decision.edition.origin) == ("core", "host")
    assert not decision.mandatory


def test_cloud_lists_every_opt_out_it_overrides(strict_world):
    project = strict_world.write_project(project_flag("false"))
    strict_world.write_user(f"{KEY} = false\n", mode=0o600)
    strict_world.write_policy('telemetry = "off"\n')
    env = {**strict_world.env, "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    decision = strict_world.decide(env=env, host_flag=False, edition="cloud")

    assert decision.enabled and decision.mandatory
    assert decision.decided_by == "edition_mandate"
    opted_out = {
        "do_not_track",
        "host_flag",
        "env_var",
        "project_file",
        "user_config",
        "system_default",
    }
    assert {layer.name for layer in decision.overridden_opt_outs} == opted_out
    origins = {
        "do_not_track": "DO_NOT_TRACK",
        "host_flag": "--send-anonymous-usage-stats",
        "env_var": "DBT_SEND_ANONYMOUS_USAGE_STATS",
        "project_file": f"{project}:3",
        "user_config": f"{strict_world.user_config_path()}:1",
        "system_default": f"{strict_world.policy_path(0)}:1",
    }
    for name, origin in origins.items():
        assert decision.layer(name).origin == origin
        assert [w for w in decision.warnings if origin in w and "cloud" in w], (name, origin)
    check_contract(decision)


# -- the admin's policy -------------------------------------------------------------------------


def test_an_admin_lock_off_beats_the_host_flag(strict_world):
    strict_world.write_policy('telemetry = "off"\nlocked = true\n')
    decision = strict_world.decide(host_flag=True)
    assert not decision.enabled
    assert decision.decided_by == "admin_lock"


@pytest.mark.parametrize("opt_out", ["DO_NOT_TRACK", "host_flag", "user_config", "project"])
def test_a_lock_on_along_xdg_config_dirs_beats_no_opt_out(strict_world, opt_out):
    """A repository's .envrc or Makefile can set XDG_CONFIG_DIRS: a lock on found there is only
    the machine's default, so every opt-out still wins (a lock off there still locks)."""
    strict_world.write_policy('telemetry = "on"\nlocked = true\n')
    env = dict(strict_world.env)
    host_flag = None
    if opt_out == "DO_NOT_TRACK":
        env["DO_NOT_TRACK"] = "1"
    elif opt_out == "host_flag":
        host_flag = False
    elif opt_out == "user_config":
        strict_world.write_user(f"{KEY} = false\nconsent_version = {VERSION}\n", mode=0o600)
    else:
        strict_world.project_flag("false")
    decision = strict_world.decide(env=env, host_flag=host_flag)
    assert not decision.enabled
    assert decision.layer("admin_lock").opinion is None
    assert decision.layer("system_default").status == "overridden"


def test_an_unlocked_policy_default_yields_to_the_user(strict_world):
    strict_world.write_policy('telemetry = "off"\n')
    assert not strict_world.decide().enabled
    strict_world.write_user(f"{KEY} = true\nconsent_version = {VERSION}\n", mode=0o600)
    decision = strict_world.decide()
    assert decision.enabled
    assert decision.decided_by == "user_config"


def test_a_broken_policy_locks_everything_off_and_says_where(strict_world):
    path = strict_world.write_policy('telemetry = "of"\n')
    decision = strict_world.decide(host_flag=True)
    assert not decision.enabled
    assert decision.decided_by == "admin_lock"
    assert decision.layer("admin_lock").status == "error"
    assert any(str(path) in w for w in decision.warnings)
    check_contract(decision)


# -- never raising --------------------------------------------------------------------------------


class ExplodingEnv(Mapping):
    """An environment that fails on every read: something gather() never expected."""

    def __getitem__(self, key):
        raise RuntimeError("environment exploded")

    def get(self, key, default=None):
        raise RuntimeError("environment exploded")

    def __iter__(self):
        raise RuntimeError("environment exploded")

    def __len__(self):
        return 1


def test_decide_never_raises_and_fails_closed(world):
    decision = world.decide(env=ExplodingEnv(), host_flag=True)
    assert not decision.enabled
    assert any("environment exploded" in w for w in decision.warnings)
    check_contract(decision)


def test_a_failure_to_read_anything_is_not_shown_as_an_admin_lock(world):
    from consent.advice import explain_winner

    text = explain_winner(world.decide(env=ExplodingEnv()))

    assert "administrator" not in text and "None" not in text, text
    assert text.startswith("a failure to read the settings, which counts as off: ")


@pytest.mark.parametrize(
    "reading, errors, warnings",
    [
        ("strict", {"do_not_track", "env_var", "project_file", "user_config"}, 4),
        # dbt tracks with DO_NOT_TRACK=perhaps (a warning says so), and refuses to run with "ja";
        # it never reads our user config, so a broken one is shown but counts for nothing.
        ("dbt", {"env_var", "project_file"}, 3),
    ],
)
def test_bad_input_everywhere_still_returns_a_decision(world, reading, errors, warnings):
    world.write_project(b"\x00\xff")
    world.write_user("send_anonymous_usage_stats = [[[\n", mode=0o600)
    env = {
        **world.env,
        "DO_NOT_TRACK": "perhaps",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "ja",
        "DBT_PROFILES_DIR": str(world.root / "missing"),
    }
    decision = (
        world.decide(env=env)
        if reading == "dbt"
        else decide(replace(DEFAULT_PROFILE, reading="strict"), env=env)
    )
    assert not decision.enabled
    assert {layer.name for layer in decision.layers if layer.status == "error"} == errors
    assert len(decision.warnings) == warnings
    check_contract(decision)


# -- deciding is cheap and leaves no trace --------------------------------------------------------


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


def test_deciding_writes_nothing(world):
    # docs/guarantees.md §5: no anonymous id, no state, no file when merely deciding (above all
    # when off).
    world.write_project(project_flag("false"))
    world.write_user(f"{KEY} = true\n", mode=0o600)
    world.write_policy('telemetry = "on"\n')
    before = _snapshot(world.root)
    for env in (world.env, {**world.env, "DO_NOT_TRACK": "1"}):
        world.decide(env=env)
        world.decide(env=env, edition="cloud")
    assert _snapshot(world.root) == before
    assert not world.state_dir().exists()


HEAVY = ("snowplow_tracker", "requests", "rich", "click", "ruamel", "tracking", "pydantic")


@pytest.mark.parametrize("in_project", [False, True])
def test_deciding_imports_nothing_heavy(world, in_project):
    # Every host start-up pays for deciding; sending machinery must not load to say "off".
    if in_project:
        world.write_project(project_flag("false"))
    script = (
        "import sys, consent\n"
        "d = consent.decide(env={'DO_NOT_TRACK': '1'})\n"
        "assert not d.enabled, d\n"
        f"heavy = {HEAVY!r} + (() if {in_project} else ('yaml',))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    env = {**world.env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=world.project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_an_unknown_edition_from_the_host_is_ignored_with_a_warning(world):
    decision = world.decide(edition="enterprise")

    assert decision.edition.name == "core" and decision.edition.origin == "default"
    assert any("edition='enterprise'" in w for w in decision.warnings)


# -- the dbt profile: only what dbt itself reads ---------------------------------------------------


@pytest.mark.parametrize(
    "layer, write",
    [
        ("user_config", lambda w: w.write_user(f"{KEY} = false\n", mode=0o600)),
        ("admin_lock", lambda w: w.write_policy('telemetry = "off"\nlocked = true\n')),
        ("system_default", lambda w: w.write_policy('telemetry = "off"\n')),
    ],
)
def test_dbt_never_reads_our_user_config_or_policy_so_they_never_decide(world, layer, write):
    path = write(world)

    decision = world.decide()

    assert decision.enabled, "dbt tracks: it never reads this file"
    assert decision.decided_by == "edition_default"
    shown = decision.layer(layer)
    assert (shown.opinion, shown.status, shown.unread) == (None, "no_opinion", True)
    assert shown.raw == "false" if layer == "user_config" else shown.raw == "off"
    assert shown.detail == "dbt does not read this file: it has no effect on dbt"
    [warning] = [w for w in decision.warnings if str(path) in w]
    assert "dbt does not read this file, so its opt-out has no effect on dbt" in warning
    assert "telemetry disable --shell" in warning and "telemetry disable --project" in warning
    check_contract(decision)


def test_dbt_never_takes_an_edition_from_the_policy(world):
    world.write_policy('edition = "cloud"\n')
    decision = world.decide(env={**world.env, "DO_NOT_TRACK": "1"})
    assert decision.edition.name == "core" and not decision.enabled


def test_the_strict_reading_reads_every_layer(strict_world):
    from consent.readings import reading_of

    assert all(reading_of(strict_world.profile).reads(name) for name in LAYER_ORDER)
