"""A host in CI: no notice ever; nothing sent without an explicit opt-in (the ``testapp`` profile's
CI policy is ``off``); with one, events go from the first run, carrying the ``ci`` context, the
vendor's constant anonymous id and no project id, the same from every fresh container.

Real host subprocesses against the real collector; each "container" is a fresh HOME.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tracking import DELIVER_S

CI_CONTEXT = "iglu:dev.telemetry-consent/ci/jsonschema/1-0-0"
INVOCATION = "iglu:dev.telemetry-consent/invocation/jsonschema/1-0-1"
OPT_IN = {"TESTAPP_SEND_ANONYMOUS_USAGE_STATS": "true"}
#: In CI the host delivers before it exits, within 1 s by default; a loaded test machine may need
#: more for a cold interpreter (these tests are about what arrives, not how fast).
PATIENT = {"TESTAPP_TELEMETRY_FLUSH_DEADLINE": "10"}


def fresh_home(root: Path, name: str) -> dict[str, str]:
    """The variables of a new container's user: an empty HOME and XDG dirs of its own."""
    home = root / name
    home.mkdir(parents=True)
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def contexts_of(event: dict) -> dict[str, dict]:
    return {c["schema"]: c["data"] for c in event["event"]["contexts"]["data"]}


@pytest.mark.parametrize(
    "ci_env,vendor,user_id",
    [
        ({"GITHUB_ACTIONS": "true", "CI": "true"}, "GitHub Actions", "ci-github-actions"),
        ({"GITLAB_CI": "true"}, "GitLab CI", "ci-gitlab-ci"),
        ({"CI": "true"}, "unknown", "ci-unknown"),
    ],
)
def test_ci_with_an_explicit_opt_in_sends_from_the_first_run_with_the_vendor_id(
    tracking_world, collector, ci_env, vendor, user_id
):
    world = tracking_world
    homes = [fresh_home(world.root, f"container-{n}") for n in range(2)]

    for home in homes:
        run = world.run_host(
            env={**home, **ci_env, **OPT_IN, **PATIENT, "HOST_MODELS": "1", "HOST_PROJECT": "shop"}
        )

        assert run.returncode == 0
        assert run.stderr == ""  # no notice in CI, ever
        assert run.report["plan"] == "record"
        assert run.report["delivery"] == "inline"

    assert collector.wait_for(good=6, timeout=DELIVER_S)
    good = collector.good()
    assert len(good) == 6 and collector.bad() == []
    for event in good:
        contexts = contexts_of(event)
        assert contexts[CI_CONTEXT] == {"vendor": vendor}
        invocation = contexts[INVOCATION]
        # The same id from every fresh container, and no project id (not even a keyed one).
        assert invocation["anonymous_user_id"] == user_id
        assert invocation["project_id"] is None
    for home in homes:
        # No per-container id was minted (only the secret that keys the model hashes).
        assert "anonymous_id" not in " ".join(files_under(Path(home["HOME"])))


@pytest.mark.parametrize(
    "ci_env",
    [
        {"CI": "true"},
        {"GITHUB_ACTIONS": "true"},
        {"BUILD_ID": "7", "BUILD_URL": "https://jenkins.example/7"},
        {"BUILDKITE": "true"},
    ],
)
def test_ci_without_an_opt_in_sends_nothing_prints_nothing_writes_nothing(
    tracking_world, collector, ci_env
):
    world = tracking_world
    home = fresh_home(world.root, "container")
    # Told on this runner before (a persistent HOME): still not a yes, and CI says off.
    world.acknowledge()

    for env in ({**ci_env, "HOST_MODELS": "2"}, {**home, **ci_env, "HOST_MODELS": "2"}):
        run = world.run_host(env={**env, "HOST_FORBID_NETWORK": "1"})

        assert run.returncode == 0, run.stderr
        assert run.stderr == ""
        assert run.report["plan"] == "off"
    assert files_under(Path(home["HOME"])) == []
    assert collector.totals()["total"] == 0


def test_in_ci_a_project_file_saying_on_prints_no_notice_and_sends_nothing(
    tracking_world, collector
):
    world = tracking_world
    world.write_project("flags:\n  send_anonymous_usage_stats: true\n")

    run = world.run_host(env={"CI": "true", "HOST_MODELS": "1"}, terminal=True)

    assert run.returncode == 0
    assert run.stderr == ""  # even on a terminal: in CI no notice is printed
    assert run.report["plan"] == "untold"
    assert run.report["stats"]["recorded"] == 0
    assert not world.state_dir().exists()
    assert collector.totals()["total"] == 0


def test_outside_ci_ci_false_or_0_is_not_ci(tracking_world, collector):
    world = tracking_world
    world.acknowledge()

    for value in ("false", "0"):
        run = world.run_host(env={"CI": value, "GITHUB_ACTIONS": "true", "HOST_MODELS": "1"})

        assert run.report["plan"] == "record" and run.report["delivery"] == "detached"
    assert collector.wait_for(good=6, timeout=DELIVER_S)
    assert world.wait_delivered()
    for event in collector.good():
        contexts = contexts_of(event)
        assert CI_CONTEXT not in contexts
        assert not contexts[INVOCATION]["anonymous_user_id"].startswith("ci-")


def test_the_cloud_edition_sends_from_ci_at_once_without_a_notice(tracking_world, collector):
    world = tracking_world  # a cloud build: the edition comes from the host's code
    run = world.run_host(
        env={
            "GITHUB_ACTIONS": "true",
            "DO_NOT_TRACK": "1",
            "HOST_MODELS": "1",
            "HOST_EDITION": "cloud",
            **PATIENT,
        }
    )

    assert run.returncode == 0
    assert run.stderr == ""
    assert run.report["plan"] == "record"
    assert collector.wait_for(good=3, timeout=DELIVER_S)
    for event in collector.good():
        assert contexts_of(event)[INVOCATION]["anonymous_user_id"] == "ci-github-actions"
        assert contexts_of(event)[CI_CONTEXT] == {"vendor": "GitHub Actions"}


@pytest.mark.parametrize("ci_env", [{"CI": "true"}, {"GITHUB_ACTIONS": "true"}])
def test_as_upstream_in_ci_is_on_yet_prints_no_notice_and_sends_nothing_until_a_yes(
    tracking_world, collector, ci_env
):
    """A profile that mirrors a host without a CI rule is on in CI as elsewhere; still no notice
    is printed there, so nothing is sent until the job says yes."""
    world = tracking_world
    policy = {"HOST_CI_POLICY": "as_upstream", "HOST_MODELS": "1", **ci_env}

    untold = world.run_host(env=policy, terminal=True)

    assert untold.returncode == 0
    assert untold.stderr == ""
    assert untold.report["plan"] == "untold"
    assert not world.state_dir().exists()

    said_yes = world.run_host(env={**policy, **OPT_IN, **PATIENT})

    assert said_yes.report["plan"] == "record" and said_yes.stderr == ""
    assert collector.wait_for(good=3, timeout=DELIVER_S)
