"""When sending may start: one rule, a pure function. Told (on a terminal, earlier) or said yes.

Table-driven, no files, no environment: the decision comes from the pure resolver.
"""

from __future__ import annotations

import pytest

from consent import Edition, Layer, resolve
from tracking.may_send import Start, may_send, said_yes
from tracking.plan import Plan, plan
from tracking.settings import TrackerSettings


def decision(*layers: Layer, edition: str = "core"):
    return resolve("testapp", Edition(edition, "host"), [*layers, Layer("edition_default", "on")])


ON_BY_DEFAULT = decision()
OFF = decision(Layer("do_not_track", "off"))
HOST_FLAG = decision(Layer("host_flag", "on"))
ENV_VAR = decision(Layer("env_var", "on"))
USER_CONFIG = decision(Layer("user_config", "on"))
PROJECT_FILE = decision(Layer("project_file", "on"))
SYSTEM_DEFAULT = decision(Layer("system_default", "on"))
ADMIN_LOCK_ON = decision(Layer("admin_lock", "on"))
# A project file saying on next to the user's own `telemetry enable`: the user said yes.
PROJECT_AND_USER = decision(Layer("project_file", "on"), Layer("user_config", "on"))
# The user's yes overridden by an opt-out above it: off, whatever it says.
YES_BUT_DNT = decision(Layer("do_not_track", "off"), Layer("env_var", "on"))
# An env var that is not a boolean is an error (off), never a yes.
BROKEN_ENV_VAR = decision(Layer("env_var", "on", status="error"))
CLOUD = decision(Layer("do_not_track", "off"), edition="cloud")
CI_OPT_IN = decision(Layer("env_var", "on"), Layer("ci_default", "off"))


@pytest.mark.parametrize(
    "case,decided,told,ci,expected",
    [
        ("consent off", OFF, False, False, Start(False, False, "off")),
        ("no decision", None, True, False, Start(False, False, "off")),
        ("on by default, never told", ON_BY_DEFAULT, False, False, Start(False, True, "not told")),
        ("on by default, told", ON_BY_DEFAULT, True, False, Start(True, False, "told")),
        ("on by default, CI: no notice", ON_BY_DEFAULT, False, True,
         Start(False, False, "not told in CI")),
        ("host flag on: yes at once", HOST_FLAG, False, False, Start(True, False, "said yes")),
        ("env var on: yes at once", ENV_VAR, False, False, Start(True, False, "said yes")),
        ("user config on: yes at once", USER_CONFIG, False, False, Start(True, False, "said yes")),
        ("a project file is not a yes", PROJECT_FILE, False, False,
         Start(False, True, "not told")),
        ("a system default is not a yes", SYSTEM_DEFAULT, False, False,
         Start(False, True, "not told")),
        ("an admin lock on is not a yes", ADMIN_LOCK_ON, False, False,
         Start(False, True, "not told")),
        ("project on + the user's own on", PROJECT_AND_USER, False, False,
         Start(True, False, "said yes")),
        ("a yes overridden is no yes", YES_BUT_DNT, False, False, Start(False, False, "off")),
        ("a broken env var is no yes", BROKEN_ENV_VAR, False, False, Start(False, False, "off")),
        ("cloud does not wait", CLOUD, False, False, Start(True, True, "mandatory")),
        ("cloud told: no notice", CLOUD, True, False, Start(True, False, "mandatory")),
        ("cloud in CI: no notice", CLOUD, False, True, Start(True, False, "mandatory")),
        ("CI + explicit opt-in sends", CI_OPT_IN, False, True, Start(True, False, "said yes")),
        ("a project file in CI", PROJECT_FILE, False, True,
         Start(False, False, "not told in CI")),
    ],
)  # fmt: skip
def test_the_rule(case, decided, told, ci, expected):
    assert may_send(decided, told=told, ci=ci) == expected, case


def test_said_yes_only_for_the_users_own_layers():
    assert [said_yes(d) for d in (HOST_FLAG, ENV_VAR, USER_CONFIG)] == [True] * 3
    assert [said_yes(d) for d in (PROJECT_FILE, SYSTEM_DEFAULT, ON_BY_DEFAULT, OFF)] == [False] * 4


URL = "https://collector.example.com"


@pytest.mark.parametrize(
    "start,expected",
    [
        (Start(False, True, "not told"), Plan("notice", URL, notice=True)),
        (Start(False, False, "not told in CI"), Plan("untold", URL)),
        (Start(True, False, "said yes"), Plan("record", URL)),
        (Start(True, True, "mandatory"), Plan("record", URL, notice=True)),
    ],
)
def test_the_plan_follows_the_rule(start, expected):
    assert plan(ON_BY_DEFAULT, TrackerSettings(), URL, None, start) == expected
