"""An opt-in tool on a real terminal: the host asks once instead of telling, and only there.

The host program (``tests/support/host.py``: the ``testapp`` profile, opt-in here) runs on a
REAL pty that is its controlling terminal, against the real collector; the answer is typed into
the pty.
"""

from __future__ import annotations

import json
import sys
import tomllib

import pytest

from consent import decide
from consent.advice import explain_winner
from tests.support.terminal import CTRL_C, CTRL_D, ENTER, HANG_S, PtyRun, run_on_pty
from tests.support.tracking import DELIVER_S, HOST_MODULE

OPT_IN = {"HOST_CONSENT_MODEL": "opt_in", "HOST_MODELS": "2", "HOST_CONSENT_VERSION": "2"}
QUESTION = "Share anonymous usage statistics with testapp?"
#: For runs that answer: long enough that a loaded machine never times out before the keys.
ANSWER_WITHIN = {"TESTAPP_TELEMETRY_PROMPT_TIMEOUT": "20"}
#: For runs nobody answers: short (the profile's default is 15 s).
NO_ANSWER = {"TESTAPP_TELEMETRY_PROMPT_TIMEOUT": "0.5"}


def _host_on_pty(world, keys: bytes | None = None, **extra: str) -> tuple[PtyRun, dict]:
    env = {**world.env, "HOST_COLLECTOR": world.collector_url, **OPT_IN, **extra}
    run = run_on_pty([sys.executable, "-m", HOST_MODULE], env, keys=keys, cwd=world.project)
    lines = [line for line in run.screen.replace("\r", "").splitlines() if line.startswith("{")]
    reports = [json.loads(line) for line in lines]
    return run, next((r for r in reports if "main_done_wall" in r), {})


def _profile(world):
    return world.tracked_profile(consent_model="opt_in", consent_version=2)


def _stored(world) -> dict | None:
    path = world.user_config_path()
    return tomllib.loads(path.read_text()) if path.exists() else None


def test_yes_is_stored_and_counts_in_this_run(tracking_world, collector):
    world = tracking_world

    run, report = _host_on_pty(world, b"y" + ENTER, **ANSWER_WITHIN)

    assert QUESTION in run.screen and "Every field: `telemetry events`." in run.screen
    assert run.returncode == 0 and "Traceback" not in run.screen
    assert report["plan"] == "record", run.screen
    assert _stored(world) == {"send_anonymous_usage_stats": True, "consent_version": 2}
    decision = decide(_profile(world), env=world.env, cwd=str(world.project))
    assert decision.decided_by == "user_config"
    assert explain_winner(decision).startswith("your user config")
    assert collector.wait_for(good=4, timeout=DELIVER_S), "1 start + 2 model runs + 1 end"

    again, report = _host_on_pty(world, **NO_ANSWER)

    assert QUESTION not in again.screen, "asked once"
    assert report["plan"] == "record"


@pytest.mark.parametrize("keys", [b"n" + ENTER, ENTER], ids=["n", "Enter"])
def test_no_is_stored_as_off_and_nothing_is_sent_or_asked_again(tracking_world, collector, keys):
    world = tracking_world

    run, report = _host_on_pty(world, keys, **ANSWER_WITHIN)

    assert QUESTION in run.screen and run.typed
    assert report["plan"] == "off" and report["snowplow_imported"] is False
    assert _stored(world) == {"send_anonymous_usage_stats": False, "consent_version": 2}
    assert "testapp/anonymous_id" not in " ".join(world.files())

    again, report = _host_on_pty(world, **NO_ANSWER)

    assert QUESTION not in again.screen
    assert report["plan"] == "off"
    assert collector.totals()["total"] == 0


@pytest.mark.parametrize(
    ("keys", "extra"),
    [(CTRL_D, ANSWER_WITHIN), (CTRL_C, ANSWER_WITHIN), (None, NO_ANSWER)],
    ids=["Ctrl-D", "Ctrl-C", "timeout"],
)
def test_no_answer_stores_nothing_sends_nothing_and_asks_again(
    tracking_world, collector, keys, extra
):
    world = tracking_world

    run, report = _host_on_pty(world, keys, **extra)

    assert QUESTION in run.screen
    assert "asked again next time" in run.screen
    assert run.returncode == 0, "the host's own exit code, Ctrl-C included"
    assert report["plan"] == "off" and report["stats"]["recorded"] == 0
    assert world.files() == [], "nothing written: no answer, no id, no notice mark"

    again, _ = _host_on_pty(world, **NO_ANSWER)

    assert QUESTION in again.screen, "asked again next time"
    assert collector.totals()["total"] == 0


def test_a_yes_for_an_older_consent_version_is_asked_again(tracking_world, collector):
    world = tracking_world
    world.write(
        world.user_config_path(), "send_anonymous_usage_stats = true\nconsent_version = 1\n"
    )

    run, report = _host_on_pty(world, b"n" + ENTER, **ANSWER_WITHIN)

    assert QUESTION in run.screen
    assert report["plan"] == "off"
    assert _stored(world) == {"send_anonymous_usage_stats": False, "consent_version": 2}


def test_a_no_for_an_older_consent_version_still_holds(tracking_world, collector):
    world = tracking_world
    world.write(
        world.user_config_path(), "send_anonymous_usage_stats = false\nconsent_version = 1\n"
    )

    run, report = _host_on_pty(world, **NO_ANSWER)

    assert QUESTION not in run.screen
    assert report["plan"] == "off"


# -- never without a terminal, never in CI, never waiting ---------------------------------------


def test_never_asks_without_a_terminal_and_writes_nothing(tracking_world, collector):
    world = tracking_world

    run = world.run_host(env={**OPT_IN, "TESTAPP_TELEMETRY_PROMPT_TIMEOUT": "600"})

    assert run.returncode == 0
    assert QUESTION not in run.stderr and run.stderr == ""
    assert run.report["plan"] == "off" and run.report["snowplow_imported"] is False
    assert run.elapsed_s < HANG_S, "and never waits (the question would wait 600 s)"
    assert world.files() == []


@pytest.mark.parametrize("variable", ["CI", "GITLAB_CI"])
def test_never_asks_in_ci_even_on_a_terminal(tracking_world, collector, variable):
    world = tracking_world

    run, report = _host_on_pty(
        world, **{variable: "true", "TESTAPP_TELEMETRY_PROMPT_TIMEOUT": "600"}
    )

    assert QUESTION not in run.screen
    assert report["plan"] == "off"
    assert run.elapsed_s < HANG_S
    assert world.files() == []


def test_an_opt_out_in_the_environment_is_never_questioned(tracking_world, collector):
    world = tracking_world

    run, report = _host_on_pty(world, DO_NOT_TRACK="1", **NO_ANSWER)

    assert QUESTION not in run.screen
    assert report["plan"] == "off"
    assert world.files() == []


def test_the_cloud_edition_tells_instead_of_asking_a_question_it_could_not_honour(
    tracking_world, collector
):
    """Telemetry is mandatory there: a "no" could not be honoured, so nothing is asked."""
    world = tracking_world

    run, _report = _host_on_pty(world, HOST_EDITION="cloud", **ANSWER_WITHIN)

    assert QUESTION not in run.screen
    assert "cannot be turned off" in run.screen
    assert _stored(world) is None


def test_a_yes_that_cannot_be_written_sends_nothing_and_is_asked_again(tracking_world, collector):
    world = tracking_world
    # A file where the config dir should be: no answer can be stored there (even as root).
    blocker = world.write(world.user_config_path().parent, "not a directory\n")

    run, report = _host_on_pty(world, b"y" + ENTER, **ANSWER_WITHIN)

    assert QUESTION in run.screen
    assert "Your answer is not saved" in run.screen and "Traceback" not in run.screen
    assert report["plan"] == "off" and run.returncode == 0
    assert blocker.read_text() == "not a directory\n"
    assert collector.totals()["total"] == 0


# -- with the rule of when sending may start ---------------------------------------------------


def test_a_stored_yes_is_not_asked_again_and_sends_from_this_run(tracking_world, collector):
    from consent.layers.user_config import write_user_choice

    world = tracking_world
    write_user_choice(_profile(world), True)  # `telemetry enable`

    run, report = _host_on_pty(world, **NO_ANSWER)

    assert QUESTION not in run.screen and "collects anonymous usage statistics" not in run.screen
    assert report["plan"] == "record"
    assert collector.wait_for(good=4, timeout=DELIVER_S)


def test_a_project_files_on_is_not_the_users_yes_so_the_user_is_asked(tracking_world, collector):
    world = tracking_world
    world.write(
        world.project / "testapp_project.yml", "flags:\n  send_anonymous_usage_stats: true\n"
    )

    run, report = _host_on_pty(world, b"n" + ENTER, **ANSWER_WITHIN)

    assert QUESTION in run.screen
    assert report["plan"] == "off"
    decision = decide(_profile(world), env=world.env, cwd=str(world.project))
    assert not decision.enabled and decision.decided_by == "user_config", "the no sticks"


def test_a_project_files_on_off_a_terminal_is_told_not_asked_and_sends_nothing(
    tracking_world, collector
):
    world = tracking_world
    world.write(
        world.project / "testapp_project.yml", "flags:\n  send_anonymous_usage_stats: true\n"
    )

    run = world.run_host(env={**OPT_IN, "TESTAPP_TELEMETRY_PROMPT_TIMEOUT": "600"})

    assert QUESTION not in run.stderr
    assert "not shown on a terminal" in run.stderr
    assert run.report["plan"] == "notice" and run.elapsed_s < HANG_S
    assert _stored(world) is None
    assert collector.totals()["total"] == 0
