"""Opt-in tools (docs/decision.md, "Opt-in tools"): off until the user says yes, and a yes holds
only for the consent version it was given for; a no always holds."""

from __future__ import annotations

import pytest

from consent import AppProfile, decide
from consent.advice import explain_winner

KEY = "send_anonymous_usage_stats"


def _profile(model: str = "opt_in", version: int = 2, edition: str = "core") -> AppProfile:
    return AppProfile(
        name="askfirst",
        env_prefix="ASKFIRST_",
        project_files=("askfirst.yml",),
        consent_model=model,  # type: ignore[arg-type]
        consent_version=version,
        default_edition=edition,
    )


@pytest.fixture
def opt_in(world):
    world.profile = _profile()
    return world


def test_an_opt_in_tool_is_off_until_the_user_says_yes(opt_in):
    decision = opt_in.decide()

    assert not decision.enabled
    assert decision.decided_by == "edition_default"
    layer = decision.winner
    assert (layer.opinion, layer.raw) == ("off", "opt-in")
    assert "off until you say yes" in layer.detail
    assert explain_winner(decision) == "the opt-in default: off until you say yes"


def test_a_yes_for_this_version_turns_it_on_decided_by_your_user_config(opt_in):
    path = opt_in.write_user(f"{KEY} = true\nconsent_version = 2\n", mode=0o600)

    decision = opt_in.decide()

    assert decision.enabled and decision.decided_by == "user_config"
    assert explain_winner(decision) == f"your user config ({path}:1)"


def test_a_stale_yes_no_longer_counts_and_status_says_why(opt_in):
    opt_in.write_user(f"{KEY} = true\nconsent_version = 1\n", mode=0o600)

    decision = opt_in.decide()

    assert not decision.enabled and decision.decided_by == "edition_default"
    user = decision.layer("user_config")
    assert (user.status, user.raw, user.opinion) == ("no_opinion", "true", None)
    assert "version 1" in user.detail and "version 2" in user.detail


def test_a_stale_no_still_counts(opt_in):
    opt_in.write_user(f"{KEY} = false\nconsent_version = 1\n", mode=0o600)

    decision = opt_in.decide()

    assert not decision.enabled and decision.decided_by == "user_config"


def test_an_opt_out_tools_stale_yes_falls_to_the_default_so_the_user_is_told_again(world):
    world.profile = _profile(model="opt_out")
    world.write_user(f"{KEY} = true\nconsent_version = 1\n", mode=0o600)

    decision = world.decide()

    assert decision.enabled and decision.decided_by == "edition_default"
    assert explain_winner(decision) == "the core edition's default"


def test_every_opt_out_above_the_default_still_decides(opt_in):
    opt_in.write_user(f"{KEY} = true\nconsent_version = 2\n", mode=0o600)

    decision = opt_in.decide(env={**opt_in.env, "DO_NOT_TRACK": "1"})

    assert not decision.enabled and decision.decided_by == "do_not_track"


def test_the_cloud_edition_stays_mandatory_for_an_opt_in_tool(world):
    world.profile = _profile(edition="cloud")

    decision = world.decide()

    assert decision.enabled and decision.mandatory
    assert decision.layer("edition_default").opinion == "on"


def test_the_dbt_profile_stays_opt_out(world):
    assert world.profile.consent_model == "opt_out"
    assert world.decide().enabled


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"consent_model": "opt-in"}, "consent_model='opt-in'"),
        ({"consent_version": 0}, "consent_version=0"),
        ({"consent_version": True}, "consent_version=True"),
        ({"consent_version": "2"}, "consent_version='2'"),
    ],
)
def test_a_profile_with_a_bad_model_or_version_is_refused_by_name(fields, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        AppProfile(name="x", env_prefix="X_", project_files=("x.yml",), **fields)


def test_decide_needs_nothing_but_the_profile(opt_in):
    """The model is the profile's: no setting, file or variable switches it."""
    assert decide(_profile(), env=opt_in.env).decided_by == "edition_default"
