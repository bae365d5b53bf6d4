"""Is this process running in CI, and which CI? A pure function of the environment.

:func:`detect_ci` reads nothing but the mapping it is given. The one table below, :data:`VENDORS`,
says which variables reveal which vendor (after the npm package ``ci-info``'s vendor list, which
Astro's and Nuxt's telemetry use too), checked in order; a truthy generic ``CI`` comes last.

Rules:

- A vendor matches when every variable it names is set to a non-empty value (Jenkins needs both
  ``BUILD_ID`` and ``BUILD_URL``: ``BUILD_ID`` alone is too common a name), or, for vendors that
  share a variable (``CI_NAME``), when it holds that vendor's value (any case).
- ``CI`` set to a false word (``false``, ``0``, ``no``, ``off``, ``n``, ``f``, any case) says
  "not CI" explicitly, whatever else is set: a user who runs a CI-like shell on purpose can say
  so. Only ``CI=false`` (exactly) is ``ci-info``'s reading; ours is broader on purpose, the
  false words every other switch of this library accepts.
- Any other non-empty ``CI`` is CI (vendor ``unknown``, revealed by ``CI``). An empty ``CI`` is
  nothing.

Why it matters: a CI runner reaps the processes a step leaves behind, so a host in CI
delivers its events in-process within a short deadline instead of handing them to a detached
uploader (see docs/delivery.md); and the ``ci_default`` layer of the decision
(:mod:`consent.layers.ci_default`) says what CI means for the profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

__all__ = ["CI_VARIABLES", "VENDORS", "CiEnvironment", "CiVendor", "detect_ci"]

#: Values of ``CI`` that say "this is not CI".
_NOT_CI = frozenset({"false", "0", "no", "off", "n", "f"})


class CiVendor(NamedTuple):
    """One CI system: its name and the variables that reveal it.

    ``variables`` must all be set (non-empty); when ``value`` is given, the first variable must
    also hold it (compared case-insensitively).
    """

    name: str
    variables: tuple[str, ...]
    value: str | None = None
    # (NamedTuples, not dataclasses: a host imports this at start-up, and a frozen dataclass
    # costs about a millisecond to create.)


class CiEnvironment(NamedTuple):
    """The CI a process runs in: the vendor's name and the variable that revealed it."""

    vendor: str
    variable: str


def _v(name: str, *variables: str, value: str | None = None) -> CiVendor:
    return CiVendor(name, variables, value)


#: Known CI systems, checked in this order (the first match wins).
VENDORS: tuple[CiVendor, ...] = (
    _v("GitHub Actions", "GITHUB_ACTIONS"),
    _v("GitLab CI", "GITLAB_CI"),
    _v("Jenkins", "BUILD_ID", "BUILD_URL"),
    _v("Jenkins", "JENKINS_URL", "BUILD_ID"),
    _v("CircleCI", "CIRCLECI"),
    _v("Travis CI", "TRAVIS"),
    _v("Azure Pipelines", "TF_BUILD"),
    _v("Azure Pipelines", "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI"),
    _v("Buildkite", "BUILDKITE"),
    _v("TeamCity", "TEAMCITY_VERSION"),
    _v("AppVeyor", "APPVEYOR"),
    _v("AWS CodeBuild", "CODEBUILD_BUILD_ID"),
    _v("AWS CodeBuild", "CODEBUILD_BUILD_ARN"),
    _v("Bitbucket Pipelines", "BITBUCKET_BUILD_NUMBER"),
    _v("Bitbucket Pipelines", "BITBUCKET_COMMIT"),
    _v("Google Cloud Build", "BUILDER_OUTPUT"),
    _v("Bamboo", "bamboo_planKey"),
    _v("Bitrise", "BITRISE_IO"),
    _v("Buddy", "BUDDY_WORKSPACE_ID"),
    _v("Cirrus CI", "CIRRUS_CI"),
    _v("Codefresh", "CF_BUILD_ID"),
    _v("Codemagic", "CM_BUILD_ID"),
    _v("Codeship", "CI_NAME", value="codeship"),
    _v("Sourcehut", "CI_NAME", value="sourcehut"),
    _v("Drone", "DRONE"),
    _v("dsari", "DSARI"),
    _v("Earthly", "EARTHLY_CI"),
    _v("Expo Application Services", "EAS_BUILD"),
    _v("Gerrit", "GERRIT_PROJECT"),
    _v("Gitea Actions", "GITEA_ACTIONS"),
    _v("GoCD", "GO_PIPELINE_LABEL"),
    _v("Harness CI", "HARNESS_BUILD_ID"),
    _v("Hudson", "HUDSON_URL"),
    _v("LayerCI", "LAYERCI"),
    _v("Magnum CI", "MAGNUM"),
    _v("Netlify CI", "NETLIFY"),
    _v("Nevercode", "NEVERCODE"),
    _v("Prow", "PROW_JOB_ID"),
    _v("ReleaseHub", "RELEASE_BUILD_ID"),
    _v("Render", "RENDER"),
    _v("Sail CI", "SAILCI"),
    _v("Screwdriver", "SCREWDRIVER"),
    _v("Semaphore", "SEMAPHORE"),
    _v("Shippable", "SHIPPABLE"),
    _v("Solano CI", "TDDIUM"),
    _v("Strider CD", "STRIDER"),
    _v("TaskCluster", "TASK_ID", "RUN_ID"),
    _v("Vela", "VELA"),
    _v("Vercel", "NOW_BUILDER"),
    _v("Vercel", "VERCEL"),
    _v("Visual Studio App Center", "APPCENTER_BUILD_ID"),
    _v("Appcircle", "AC_APPCIRCLE"),
    _v("Woodpecker", "CI", value="woodpecker"),
    _v("Xcode Cloud", "CI_XCODE_PROJECT"),
    _v("Xcode Server", "XCS"),
)

#: Every variable the table reads, ``CI`` included: what a test world must remove so that the
#: developer's shell (or CI itself) never decides for a test.
CI_VARIABLES: tuple[str, ...] = tuple(
    dict.fromkeys(["CI", *(name for vendor in VENDORS for name in vendor.variables)])
)


def _matches(vendor: CiVendor, env: Mapping[str, str]) -> bool:
    values = [env.get(name) for name in vendor.variables]
    if not all(values):
        return False
    if vendor.value is not None:
        return str(values[0]).strip().lower() == vendor.value
    return True


def detect_ci(env: Mapping[str, str]) -> CiEnvironment | None:
    """The CI ``env`` describes, or None. Never raises; reads only ``env``."""
    try:
        generic = (env.get("CI") or "").strip()
        if generic.lower() in _NOT_CI:
            return None
        for vendor in VENDORS:
            if _matches(vendor, env):
                return CiEnvironment(vendor.name, vendor.variables[0])
        if generic:
            return CiEnvironment("unknown", "CI")
    except Exception:  # noqa: BLE001 - an odd mapping must not break the host: not CI
        return None
    return None
