"""The CI default layer: CI detected by its variable, and what it means per the profile's policy.

Policy ``off`` (a tool's own profile): off in CI unless a layer above says on; the hint names the
variable to set in the job. Policy ``as_upstream`` (the built-in dbt profile): no opinion, so the
dbt profile in CI decides exactly as it does outside CI, as dbt-core itself does.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from consent import DEFAULT_PROFILE, AppProfile, decide
from consent.advice import steps_to
from consent.ci import VENDORS

KEY = "send_anonymous_usage_stats"

STRICT = AppProfile(name="testapp", env_prefix="TESTAPP_", project_files=("testapp_project.yml",))

#: One environment per way CI is revealed: every vendor of the table by its own variables, and
#: a bare CI. Each id is the variable that reveals it.
CI_ENVIRONMENTS = [
    pytest.param(
        {name: (vendor.value or "true") for name in vendor.variables},
        vendor.variables[0],
        id=f"{vendor.name}:{'+'.join(vendor.variables)}",
    )
    for vendor in VENDORS
] + [
    pytest.param({"CI": "true"}, "CI", id="bare CI=true"),
    pytest.param({"CI": "1"}, "CI", id="CI=1"),
]

#: Environments that are not CI: CI said false (in any spelling we accept), or nothing set.
NOT_CI = [
    pytest.param({"CI": "false"}, id="CI=false"),
    pytest.param({"CI": "0"}, id="CI=0"),
    pytest.param({"CI": "false", "GITHUB_ACTIONS": "true"}, id="CI=false beats a vendor"),
    pytest.param({"CI": "0", "GITLAB_CI": "true"}, id="CI=0 beats a vendor"),
    pytest.param({"CI": ""}, id="CI empty"),
    pytest.param({}, id="nothing"),
]


@pytest.mark.parametrize("ci_env,variable", CI_ENVIRONMENTS)
def test_policy_off_says_off_in_ci_naming_the_variable(world, ci_env, variable):
    decision = decide(STRICT, env={**world.env, **ci_env})

    assert not decision.enabled
    assert decision.decided_by == "ci_default"
    ci = decision.layer("ci_default")
    assert ci.opinion == "off" and ci.status == "winner"
    assert ci.origin == variable
    assert ci.detail == (
        f"CI detected ({variable}={ci_env[variable]}): off unless something above says on"
    )
    # The hint names the variable to set in the job, not a user config the container loses.
    assert steps_to(decision, True, STRICT) == [
        "set TESTAPP_SEND_ANONYMOUS_USAGE_STATS=true in the CI job's environment"
    ]


@pytest.mark.parametrize("ci_env,variable", CI_ENVIRONMENTS)
def test_policy_as_upstream_has_no_opinion_in_ci_and_says_so(world, ci_env, variable):
    decision = decide(DEFAULT_PROFILE, env={**world.env, **ci_env})

    assert decision.enabled  # dbt tracks in CI as anywhere else
    assert decision.decided_by == "edition_default"
    ci = decision.layer("ci_default")
    assert ci.opinion is None and ci.status == "no_opinion"
    assert ci.origin == variable
    assert ci.detail == (
        f"CI detected ({variable}={ci_env[variable]}); dbt treats CI like any other run: "
        "set DO_NOT_TRACK=1 to opt out"
    )
    # In CI the way out is a variable of the job, as dbt's own docs say: not `telemetry disable`.
    assert steps_to(decision, False, DEFAULT_PROFILE) == [
        "set DO_NOT_TRACK=1 in the CI job's environment"
    ]


@pytest.mark.parametrize("profile", [STRICT, DEFAULT_PROFILE], ids=["off", "as_upstream"])
@pytest.mark.parametrize("env", NOT_CI)
def test_not_ci_has_no_opinion_under_both_policies(world, profile, env):
    decision = decide(profile, env={**world.env, **env})

    assert decision.enabled and decision.decided_by == "edition_default"
    ci = decision.layer("ci_default")
    assert ci.opinion is None and ci.origin is None
    if env.get("CI"):
        assert ci.detail == f"not CI: CI={env['CI']} says so"
    # Outside CI the user's own opt-out: `telemetry disable`, or for dbt (which never reads our
    # user config) its variable in the shell startup files.
    own = (
        "telemetry disable --shell"
        if profile is DEFAULT_PROFILE
        else f"{profile.telemetry_command} disable"
    )
    assert steps_to(decision, False, profile) == [own]


def test_anything_above_the_ci_default_that_says_on_wins_in_ci(world):
    ci = {**world.env, "GITHUB_ACTIONS": "true"}
    assert decide(STRICT, env={**ci, "TESTAPP_SEND_ANONYMOUS_USAGE_STATS": "true"}).enabled
    assert decide(STRICT, env=ci, host_flag=True).decided_by == "host_flag"
    world.write(
        world.config_home / "testapp" / "telemetry.toml",
        f"{KEY} = true\nconsent_version = {STRICT.consent_version}\n",
    )
    by_user = decide(STRICT, env=ci)
    assert by_user.enabled and by_user.decided_by == "user_config"
    world.write(world.config_home / "testapp" / "telemetry.toml", "")
    world.write(world.policy_dirs[0] / "testapp" / "telemetry-policy.toml", 'telemetry = "on"\n')
    by_policy = decide(STRICT, env=ci)
    assert by_policy.enabled and by_policy.decided_by == "system_default"


def test_the_cloud_edition_stays_mandatory_in_ci_and_ci_is_not_listed_as_an_opt_out(world):
    decision = decide(STRICT, env={**world.env, "CI": "true"}, edition="cloud")

    assert decision.enabled and decision.mandatory
    assert decision.decided_by == "edition_mandate"
    assert decision.layer("ci_default").status == "overridden"
    assert decision.overridden_opt_outs == ()
    assert decision.warnings == ()


# -- the dbt profile in CI decides exactly as outside CI ---------------------------------------

#: Worlds of the dbt profile: (env additions, project file text or None, host flag).
DBT_WORLDS = [
    ({}, None, None),
    ({"DO_NOT_TRACK": "1"}, None, None),
    ({"DO_NOT_TRACK": "on"}, None, None),  # dbt does not read "on" as an opt-out
    ({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}, None, None),
    ({"DBT_SEND_ANONYMOUS_USAGE_STATS": "banana"}, None, None),  # dbt refuses to run
    ({}, "flags:\n  send_anonymous_usage_stats: false\n", None),
    ({}, "flags:\n  send_anonymous_usage_stats: true\n", None),
    ({}, None, False),
    ({"DO_NOT_TRACK": "1"}, None, True),
]


@pytest.mark.parametrize("ci_env", [{"CI": "true"}, {"GITHUB_ACTIONS": "true", "CI": "true"}])
@pytest.mark.parametrize("extra,project,flag", DBT_WORLDS)
def test_the_dbt_profile_decides_in_ci_exactly_as_outside(world, ci_env, extra, project, flag):
    if project is not None:
        world.write_project(project)
    outside = decide(DEFAULT_PROFILE, env={**world.env, **extra}, host_flag=flag)
    inside = decide(DEFAULT_PROFILE, env={**world.env, **extra, **ci_env}, host_flag=flag)

    assert (inside.enabled, inside.decided_by) == (outside.enabled, outside.decided_by)

    def seen(decision):
        return [(x.name, x.opinion, x.status) for x in decision.layers if x.name != "ci_default"]

    assert seen(inside) == seen(outside)


def test_a_profile_declares_its_ci_policy_and_a_wrong_one_is_refused():
    assert STRICT.ci_policy == "off"
    assert DEFAULT_PROFILE.ci_policy == "as_upstream"
    with pytest.raises(ValueError, match=r"ci_policy='sometimes'.*off, as_upstream"):
        replace(STRICT, ci_policy="sometimes")
