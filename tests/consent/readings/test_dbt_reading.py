"""The dbt reading (README "Two readings"): the built-in profile decides what dbt-core decides.

Every world of the differential check (``tests/consent/dbt_agreement.py``) is run through
``consent.decide`` here, without dbt-core: each case carries the answer real dbt-core gave when
measured, and ``test_dbt_agreement.py`` re-measures it whenever a dbt-core venv exists. The
warnings, which dbt has no equivalent of, are checked case by case below.
"""

from __future__ import annotations

import functools
import os
from dataclasses import replace

import pytest

from consent import DEFAULT_PROFILE, Edition, decide, resolve
from consent.readings import dbt
from tests.consent import dbt_agreement as agreement


@functools.cache
def rows() -> dict:
    """Our decision in every world of the check (one subprocess for all of them)."""
    return {row.case.name: row for row in agreement.compare({})}


@pytest.mark.parametrize("name", [case.name for case in agreement.CASES])
def test_decides_what_dbt_core_decided(name):
    row = rows()[name]

    assert row.ours["outcome"] == row.case.dbt, (
        f"dbt-core {row.case.dbt}, ours {row.ours['outcome']} "
        f"(decided by {row.ours['decided_by']}; warnings {row.ours['warnings']})"
    )


def _warning(name: str) -> str:
    warnings = rows()[name].ours["warnings"]
    assert len(warnings) == 1, warnings
    return warnings[0]


@pytest.mark.parametrize("value", ["on", "banana", " 1"])
def test_do_not_track_values_dbt_ignores_are_named_with_the_fix(value):
    warning = _warning(f"DO_NOT_TRACK={value!r}")
    typed = value if value == value.strip() else repr(value)  # spaces made visible

    assert warning.startswith(
        f"dbt does not read DO_NOT_TRACK={typed} as an opt-out: use DO_NOT_TRACK=1"
    )


@pytest.mark.parametrize("value", ["0", "false", ""])
def test_false_do_not_track_values_need_no_warning(value):
    assert rows()[f"DO_NOT_TRACK={value!r}"].ours["warnings"] == []


def test_an_invalid_variable_says_dbt_refuses_to_run_and_sends_nothing():
    warning = _warning("DBT_SEND_ANONYMOUS_USAGE_STATS='maybe'")

    assert warning.startswith("dbt will refuse to run with DBT_SEND_ANONYMOUS_USAGE_STATS=maybe")
    assert "nothing is sent" in warning and "Fix:" in warning


def test_an_invalid_variable_in_the_headline_is_not_could_not_be_read():
    from consent.advice import explain_winner

    decision = decide(DEFAULT_PROFILE, env={"DBT_SEND_ANONYMOUS_USAGE_STATS": "maybe"}, cwd=os.sep)
    text = explain_winner(decision)

    assert "could not be read" not in text
    assert "dbt refuses to run with it" in text and "nothing is sent" in text


def test_an_opt_out_overwritten_by_a_duplicate_key_is_named():
    warning = _warning("project flag set twice, false then true")

    assert "set 2 times (lines 3 and 4)" in warning
    assert "dbt uses the last one (the boolean true)" in warning
    assert "it tracks although an opt-out is written above it" in warning


@pytest.mark.parametrize(
    "name, shown",
    [
        ("project flag oFF", "the string 'oFF'"),
        ('project flag "false"', "the string 'false'"),
        ("project flag 0", "the number 0"),
    ],
)
def test_a_flag_dbt_does_not_read_as_a_boolean_says_it_drops_every_flag(name, shown):
    warning = _warning(name)

    assert f"dbt reads send_anonymous_usage_stats as {shown}, not a boolean" in warning
    assert "ignores every setting under flags: and tracks" in warning


def test_another_flag_of_the_wrong_type_drops_the_opt_out_too():
    warning = _warning("project flag false beside partial_parse: maybe")

    assert "partial_parse is the string 'maybe', not a boolean" in warning
    assert "send_anonymous_usage_stats at" in warning and "included, and tracks" in warning


def test_both_places_set_is_a_refusal_naming_both_files_and_the_fix():
    warning = _warning("both set: config with another key, flags false")

    assert "dbt_project.yml:2: flags: is set here and config: is set in" in warning
    assert "profiles.yml:1" in warning and "dbt refuse to run" in warning
    assert "Fix: move what is under config:" in warning


def test_a_refusal_beats_every_layer_below_the_admin_lock():
    refusing = dbt.env_var_layer(
        {"DBT_SEND_ANONYMOUS_USAGE_STATS": "maybe"}, DEFAULT_PROFILE.env_vars
    )
    host_on = resolve(
        "dbt",
        Edition(),
        [
            refusing,
            replace(
                refusing,
                name="host_flag",
                opinion="on",
                status="no_opinion",
                host_refuses=False,
                warnings=(),
            ),
        ],
    )
    from consent import Layer

    locked = resolve("dbt", Edition(), [refusing, Layer("admin_lock", "on", "on", "policy")])

    assert (host_on.enabled, host_on.decided_by) == (False, "env_var")
    assert host_on.layer("host_flag").status == "overridden"
    assert (locked.enabled, locked.decided_by) == (True, "admin_lock")


def test_other_profiles_keep_the_strict_reading():
    strict = replace(DEFAULT_PROFILE, name="strictdbt", reading="strict")
    env = {"DO_NOT_TRACK": "on", "DBT_SEND_ANONYMOUS_USAGE_STATS": "maybe"}

    decision = decide(strict, env=env, cwd=os.sep)

    assert decision.enabled is False and decision.decided_by == "do_not_track"
    assert not decision.winner.host_refuses
    assert decision.layer("env_var").status == "error"


def test_a_profile_with_an_unknown_reading_is_refused_at_once():
    with pytest.raises(ValueError, match="reading"):
        replace(DEFAULT_PROFILE, reading="lenient")


@pytest.mark.parametrize(
    "name, line",
    [
        ("user_settings.yml flag false", 2),
        ("user_settings.yml flag null", 2),
        ("user_settings.yml flag false in a flow mapping", 1),
        ("user_settings.yml flag false with CRLF line ends", 2),
        ("user_settings.yml flag set twice, true then false", 3),
        ("user_settings.yml with an unknown top-level key", 3),
    ],
)
def test_user_settings_setting_the_flag_is_named_as_never_applied(name, line):
    warnings = [w for w in rows()[name].ours["warnings"] if "user_settings.yml" in w]

    assert len(warnings) == 1, rows()[name].ours["warnings"]
    expected = f".dbt/user_settings.yml:{line}: dbt never applies send_anonymous_usage_stats"
    assert expected in warnings[0]
    assert "telemetry disable --shell" in warnings[0] and "changes nothing" in warnings[0]


@pytest.mark.parametrize(
    "name",
    [
        "user_settings.yml invalid YAML",
        "user_settings.yml flags: false (not a mapping)",
        "user_settings.yml flag false at the top level, no flags:",
        "user_settings.yml is a directory",
        "user_settings.yml empty",
    ],
)
def test_user_settings_without_the_flag_under_flags_says_nothing(name):
    assert not [w for w in rows()[name].ours["warnings"] if "user_settings.yml" in w]
