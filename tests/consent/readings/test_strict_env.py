"""The strict reading of the environment (docs/decision.md, "The layers"): ``DO_NOT_TRACK``
and the tool's own variable, with real env mappings, through
:class:`consent.readings.strict.StrictReading` (the dbt reading's are ``test_dbt_reading.py``)."""

from __future__ import annotations

import pytest

from consent import DEFAULT_PROFILE, Edition, resolve
from consent.readings.strict import StrictReading

STRICT = StrictReading()
do_not_track_layer = STRICT.do_not_track
env_var_layer = STRICT.env_var


TRUE_SPELLINGS = ["1", "true", "yes", "y", "t", "on", "TRUE", "Yes", "Y", "T", "On", "oN", " 1 "]
FALSE_SPELLINGS = ["", "0", "false", "no", "n", "f", "off", "FALSE", "No", "N", "F", "OFF", " "]
GARBAGE = ["2", "maybe", "nope", "disable", "-1", "1.0", "true!", "ja", "\x1b[31mred"]
DBT = DEFAULT_PROFILE.env_var  # DBT_SEND_ANONYMOUS_USAGE_STATS
ENGINE = "DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS"


def single_line(warning: str) -> bool:
    return "\n" not in warning and "\r" not in warning


# -- DO_NOT_TRACK -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", TRUE_SPELLINGS)
def test_do_not_track_true_means_off(value):
    layer = do_not_track_layer({"DO_NOT_TRACK": value})
    assert layer.opinion == "off"
    assert layer.status != "error"
    assert layer.origin == "DO_NOT_TRACK"
    assert layer.raw == value
    assert layer.warnings == ()


@pytest.mark.parametrize("value", FALSE_SPELLINGS)
def test_do_not_track_false_is_no_opinion_never_force_on(value):
    layer = do_not_track_layer({"DO_NOT_TRACK": value})
    assert layer.opinion is None
    assert layer.status == "no_opinion"
    assert layer.warnings == ()


def test_do_not_track_unset_is_no_opinion():
    layer = do_not_track_layer({"PATH": "/usr/bin"})
    assert layer.opinion is None and layer.status == "no_opinion"


@pytest.mark.parametrize("value", GARBAGE)
def test_do_not_track_garbage_warns_and_counts_as_off(value):
    layer = do_not_track_layer({"DO_NOT_TRACK": value})
    assert layer.opinion == "off"
    assert layer.status == "error"
    assert len(layer.warnings) == 1
    warning = layer.warnings[0]
    assert "DO_NOT_TRACK" in warning and "Fix:" in warning
    assert single_line(warning)
    assert "\x1b" not in warning, "a control character must not reach the terminal"


def test_do_not_track_false_does_not_turn_tracking_back_on():
    layers = [
        do_not_track_layer({"DO_NOT_TRACK": "0"}),
        env_var_layer({DBT: "false", "DO_NOT_TRACK": "0"}, DEFAULT_PROFILE.env_vars),
    ]
    decision = resolve("dbt", Edition(), layers)
    assert not decision.enabled
    assert decision.decided_by == "env_var"


# -- <PREFIX>SEND_ANONYMOUS_USAGE_STATS -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "opinion"),
    [
        *((v, "on") for v in TRUE_SPELLINGS if v.strip()),
        *((v, "off") for v in FALSE_SPELLINGS if v.strip()),
    ],
)
def test_send_anonymous_usage_stats_true_and_false(value, opinion):
    layer = env_var_layer({DBT: value}, DEFAULT_PROFILE.env_vars)
    assert layer.opinion == opinion
    assert layer.status == "no_opinion"  # not an error; the resolver sets winner/overridden
    assert layer.origin == DBT
    assert layer.warnings == ()


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_send_anonymous_usage_stats_is_unset(value):
    layer = env_var_layer({DBT: value}, DEFAULT_PROFILE.env_vars)
    assert layer.opinion is None


@pytest.mark.parametrize("value", GARBAGE)
def test_send_anonymous_usage_stats_garbage_warns_and_counts_as_off(value):
    # dbt-core stops with a usage error here; a telemetry setting must never stop the host.
    layer = env_var_layer({DBT: value}, DEFAULT_PROFILE.env_vars)
    assert layer.opinion == "off"
    assert layer.status == "error"
    assert len(layer.warnings) == 1
    assert DBT in layer.warnings[0] and "Fix:" in layer.warnings[0]
    assert single_line(layer.warnings[0])


def test_the_engine_spelling_wins_over_the_old_one():
    # Measured: dbt-core 1.12.3 with DBT_ENGINE_…=false and DBT_…=true does not track.
    layer = env_var_layer({ENGINE: "false", DBT: "true"}, DEFAULT_PROFILE.env_vars)
    assert layer.opinion == "off"
    assert layer.origin == ENGINE
    assert DBT in (layer.detail or ""), "status must say the other spelling was also set"
    assert not resolve("dbt", Edition(), [layer]).enabled


def test_the_engine_spelling_alone_is_read():
    layer = env_var_layer({ENGINE: "0"}, DEFAULT_PROFILE.env_vars)
    assert (layer.opinion, layer.origin) == ("off", ENGINE)


def test_an_empty_engine_spelling_does_not_hide_the_old_one():
    layer = env_var_layer({ENGINE: "", DBT: "false"}, DEFAULT_PROFILE.env_vars)
    assert (layer.opinion, layer.origin) == ("off", DBT)


def test_garbage_in_the_engine_spelling_fails_closed_despite_the_old_one_being_true():
    layer = env_var_layer({ENGINE: "nah", DBT: "true"}, DEFAULT_PROFILE.env_vars)
    assert layer.opinion == "off" and layer.status == "error"
    assert ENGINE in layer.warnings[0]


def test_do_not_track_beats_send_anonymous_usage_stats_true():
    env = {"DO_NOT_TRACK": "1", DBT: "true"}
    layers = [do_not_track_layer(env), env_var_layer(env, DEFAULT_PROFILE.env_vars)]
    decision = resolve("dbt", Edition(), layers)
    assert not decision.enabled
    assert decision.decided_by == "do_not_track"
    assert decision.layer("env_var").status == "overridden"


def test_a_profile_with_its_own_prefix_reads_its_own_variable():
    names = ("MYTOOL_SEND_ANONYMOUS_USAGE_STATS",)
    assert env_var_layer({DBT: "false"}, names).opinion is None
    assert env_var_layer({names[0]: "false"}, names).opinion == "off"
