"""CI detection: one table, a pure function of the environment it is given."""

from __future__ import annotations

import pytest

from consent.ci import CI_VARIABLES, VENDORS, CiEnvironment, detect_ci


@pytest.mark.parametrize(
    "env,expected",
    [
        ({}, None),
        ({"CI": ""}, None),
        ({"CI": "false"}, None),
        ({"CI": "0"}, None),
        ({"CI": "FALSE"}, None),
        ({"CI": "true"}, CiEnvironment("unknown", "CI")),
        ({"CI": "1"}, CiEnvironment("unknown", "CI")),
        ({"CI": "yes please"}, CiEnvironment("unknown", "CI")),
        (
            {"GITHUB_ACTIONS": "true", "CI": "true"},
            CiEnvironment("GitHub Actions", "GITHUB_ACTIONS"),
        ),
        ({"GITLAB_CI": "true"}, CiEnvironment("GitLab CI", "GITLAB_CI")),
        ({"BUILD_ID": "12", "BUILD_URL": "https://ci/12"}, CiEnvironment("Jenkins", "BUILD_ID")),
        ({"BUILD_ID": "12"}, None),  # too common a name alone
        ({"JENKINS_URL": "https://ci", "BUILD_ID": "12"}, CiEnvironment("Jenkins", "JENKINS_URL")),
        ({"CIRCLECI": "true"}, CiEnvironment("CircleCI", "CIRCLECI")),
        ({"TRAVIS": "true"}, CiEnvironment("Travis CI", "TRAVIS")),
        ({"TF_BUILD": "True"}, CiEnvironment("Azure Pipelines", "TF_BUILD")),
        ({"BUILDKITE": "true"}, CiEnvironment("Buildkite", "BUILDKITE")),
        ({"TEAMCITY_VERSION": "2024.1"}, CiEnvironment("TeamCity", "TEAMCITY_VERSION")),
        ({"APPVEYOR": "True"}, CiEnvironment("AppVeyor", "APPVEYOR")),
        ({"CODEBUILD_BUILD_ID": "b:1"}, CiEnvironment("AWS CodeBuild", "CODEBUILD_BUILD_ID")),
        (
            {"BITBUCKET_BUILD_NUMBER": "7"},
            CiEnvironment("Bitbucket Pipelines", "BITBUCKET_BUILD_NUMBER"),
        ),
        ({"CI_NAME": "codeship"}, CiEnvironment("Codeship", "CI_NAME")),
        ({"CI_NAME": "Sourcehut"}, CiEnvironment("Sourcehut", "CI_NAME")),
        ({"CI_NAME": "something"}, None),
        ({"CI": "woodpecker"}, CiEnvironment("Woodpecker", "CI")),
        ({"TASK_ID": "a", "RUN_ID": "0"}, CiEnvironment("TaskCluster", "TASK_ID")),
        ({"TASK_ID": "a"}, None),
        ({"GITHUB_ACTIONS": ""}, None),  # empty is unset
        ({"CI": "false", "GITHUB_ACTIONS": "true"}, None),  # said explicitly: not CI (as ci-info)
    ],
)
def test_the_table(env, expected):
    assert detect_ci(env) == expected


def test_every_vendor_of_the_table_is_found_by_its_own_variables():
    for vendor in VENDORS:
        env = {name: (vendor.value or "true") for name in vendor.variables}
        found = detect_ci(env)
        assert found is not None and found.variable == vendor.variables[0], vendor
        assert all(name in CI_VARIABLES for name in vendor.variables)
    assert "CI" in CI_VARIABLES and len(set(CI_VARIABLES)) == len(CI_VARIABLES)


def test_it_reads_only_what_it_is_given_and_never_raises():
    class Hostile(dict):
        def get(self, key, default=None):
            raise RuntimeError("no")

    assert detect_ci(Hostile()) is None
