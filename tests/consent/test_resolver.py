"""The pure resolver (docs/decision.md): layers in, a decision out, no I/O.

Every rule of the decision is encoded here as a table: the full precedence matrix, the opt-out
that sticks between the project file and the user config, errors failing closed, the cloud
edition's mandate and the admin lock.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent import LAYER_ORDER, Decision, Edition, Layer, resolve

CORE = Edition("core", "default")
CLOUD = Edition("cloud", "host")
#: Layers that carry an opinion read from somewhere; ``edition_mandate`` is derived from the
#: edition by the resolver itself and is tested separately.
OPINION_LAYERS = LAYER_ORDER[1:]
OPINIONS = ("on", "off")
STATUSES = {"winner", "overridden", "no_opinion", "error"}
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "contracts" / "status.schema.json").read_text()
)


def layer(name: str, opinion: str | None, **kwargs) -> Layer:
    kwargs.setdefault("raw", opinion)
    kwargs.setdefault("origin", f"<{name} origin>" if opinion is not None else None)
    return Layer(name, opinion, **kwargs)


def broken(name: str, opinion: str | None = "off") -> Layer:
    """A layer whose source could not read it: what a source returns for bad input."""
    message = f"<{name} origin>: cannot read it; treated as off. Fix: repair it"
    return Layer(
        name,
        opinion,
        "garbage",
        f"<{name} origin>",
        status="error",
        detail="unreadable; treated as off",
        warnings=(message,),
    )


def with_default(*layers: Layer) -> list[Layer]:
    """``layers`` plus the core edition default (on), as decide() always supplies it."""
    names = {layer.name for layer in layers}
    extra = [] if "edition_default" in names else [layer("edition_default", "on")]
    return [*layers, *extra]


def statuses(decision: Decision) -> dict[str, str]:
    return {layer.name: layer.status for layer in decision.layers}


def assert_well_formed(decision: Decision) -> None:
    assert [layer.name for layer in decision.layers] == list(LAYER_ORDER)
    assert decision.decided_by in LAYER_ORDER
    assert all(layer.status in STATUSES for layer in decision.layers)
    assert decision.layer(decision.decided_by).status in ("winner", "error")
    assert sum(layer.status == "winner" for layer in decision.layers) <= 1
    jsonschema.validate(decision.to_json(), SCHEMA)


# -- precedence: every higher layer beats every lower one ---------------------------------------

MATRIX = [
    (high, low, high_opinion, low_opinion)
    for i, high in enumerate(OPINION_LAYERS)
    for low in OPINION_LAYERS[i + 1 :]
    for high_opinion, low_opinion in itertools.product(OPINIONS, OPINIONS)
    # project_file "on" over user_config "off" is the one place an order is not enough: the
    # opt-out sticks (tested below with all nine combinations).
    if not (
        high == "project_file"
        and low == "user_config"
        and high_opinion == "on"
        and low_opinion == "off"
    )
]


@pytest.mark.parametrize(
    ("high", "low", "high_opinion", "low_opinion"),
    MATRIX,
    ids=[f"{h}={ho}>{low}={lo}" for h, low, ho, lo in MATRIX],
)
def test_a_higher_layer_beats_a_lower_one(high, low, high_opinion, low_opinion):
    layers = with_default(layer(high, high_opinion), layer(low, low_opinion))
    decision = resolve("dbt", CORE, layers)

    assert decision.decided_by == high
    assert decision.enabled is (high_opinion == "on")
    assert decision.layer(high).status == "winner"
    assert decision.layer(low).status == "overridden"
    assert decision.layer(high).title in (decision.layer(low).detail or "")
    assert_well_formed(decision)


def test_the_matrix_covers_every_pair_of_layers():
    pairs = {(h, low) for h, low, _, _ in MATRIX}
    assert len(pairs) == len(OPINION_LAYERS) * (len(OPINION_LAYERS) - 1) // 2


@pytest.mark.parametrize("opinion", OPINIONS)
def test_the_highest_of_all_present_layers_decides(opinion):
    # Every layer has an opinion opposite to the one above it; peel them off from the top.
    flip = {"on": "off", "off": "on"}
    for start, top in enumerate(OPINION_LAYERS):
        current, layers = opinion, []
        for name in OPINION_LAYERS[start:]:
            layers.append(layer(name, current))
            current = flip[current]
        decision = resolve("dbt", CORE, layers)
        expected = top
        if top == "project_file" and opinion == "on":
            expected = "user_config"  # its opt-out sticks
        assert decision.decided_by == expected, layers
        assert decision.enabled is (decision.layer(expected).opinion == "on")


def test_do_not_track_beats_the_hosts_own_flag():
    # dbt-core applies DO_NOT_TRACK after every other flag: `--send-anonymous-usage-stats` loses.
    decision = resolve(
        "dbt", CORE, with_default(layer("do_not_track", "off"), layer("host_flag", "on"))
    )
    assert not decision.enabled
    assert decision.decided_by == "do_not_track"


def test_with_no_opinion_anywhere_the_core_edition_default_is_on():
    decision = resolve(
        "dbt", CORE, [Layer(n) for n in OPINION_LAYERS[:-1]] + [layer("edition_default", "on")]
    )
    assert decision.enabled
    assert decision.decided_by == "edition_default"
    assert not decision.mandatory
    assert all(s == "no_opinion" for n, s in statuses(decision).items() if n != "edition_default")


def test_with_no_layers_at_all_it_fails_closed():
    decision = resolve("dbt", CORE, [])
    assert not decision.enabled
    assert_well_formed(decision)


def test_layers_may_come_in_any_order():
    layers = [layer(n, random.Random(i).choice(OPINIONS)) for i, n in enumerate(OPINION_LAYERS)]
    expected = resolve("dbt", CORE, layers)
    for seed in range(5):
        shuffled = layers[:]
        random.Random(seed).shuffle(shuffled)
        assert resolve("dbt", CORE, shuffled) == expected


# -- an opt-out sticks between the project file and the user config -----------------------------

STICKY = [
    # project, user -> enabled, decided_by
    ("on", "on", True, "project_file"),
    ("on", "off", False, "user_config"),  # a user may opt out inside a project that is on
    ("on", None, True, "project_file"),
    ("off", "on", False, "project_file"),  # a project cannot turn it back on for the user
    ("off", "off", False, "project_file"),
    ("off", None, False, "project_file"),
    (None, "on", True, "user_config"),
    (None, "off", False, "user_config"),
    (None, None, False, "system_default"),
]


@pytest.mark.parametrize(("project", "user", "enabled", "decided_by"), STICKY)
def test_an_opt_out_sticks_between_project_and_user(project, user, enabled, decided_by):
    # The system default is off so that "neither says anything" is visible as the next layer.
    layers = [
        layer("project_file", project),
        layer("user_config", user),
        layer("system_default", "off"),
        layer("edition_default", "on"),
    ]
    decision = resolve("dbt", CORE, layers)

    assert decision.enabled is enabled
    assert decision.decided_by == decided_by
    for name, opinion in (("project_file", project), ("user_config", user)):
        if name == decided_by:
            assert decision.layer(name).status == "winner"
        elif opinion is None:
            assert decision.layer(name).status == "no_opinion"
        else:
            assert decision.layer(name).status == "overridden"
    assert_well_formed(decision)


@pytest.mark.parametrize(("project", "user"), [("on", "off"), ("off", "on")])
def test_the_sticky_opt_out_still_loses_to_higher_layers(project, user):
    layers = with_default(
        layer("env_var", "on"), layer("project_file", project), layer("user_config", user)
    )
    decision = resolve("dbt", CORE, layers)
    assert decision.enabled
    assert decision.decided_by == "env_var"


# -- errors count as off at their own level -------------------------------------------------------


@pytest.mark.parametrize("name", OPINION_LAYERS)
@pytest.mark.parametrize("opinion", ["off", None])
def test_an_error_counts_as_off_at_its_own_level(name, opinion):
    below = [layer(n, "on") for n in OPINION_LAYERS[OPINION_LAYERS.index(name) + 1 :]]
    decision = resolve("dbt", CORE, with_default(broken(name, opinion), *below))

    assert not decision.enabled, "a layer that could not be read must fail closed"
    assert decision.decided_by == name
    assert decision.layer(name).status == "error"
    assert f"<{name} origin>: cannot read it; treated as off. Fix: repair it" in decision.warnings
    assert all(decision.layer(layer.name).status == "overridden" for layer in below)
    assert_well_formed(decision)


@pytest.mark.parametrize("name", OPINION_LAYERS[1:])
def test_an_error_below_the_winner_keeps_its_error_status(name):
    higher = OPINION_LAYERS[OPINION_LAYERS.index(name) - 1]
    decision = resolve("dbt", CORE, with_default(layer(higher, "on"), broken(name)))

    # (Over a project that is on, the user's unreadable config wins: its opt-out sticks.)
    sticky = (higher, name) == ("project_file", "user_config")
    assert decision.decided_by == ("user_config" if sticky else higher)
    assert decision.layer(name).status == "error"
    # ...and its warning still reaches the user even though it did not decide.
    assert any(name in w for w in decision.warnings)


def test_an_error_in_the_user_config_beats_a_project_that_is_on():
    # The mistyped opt-out of the user is never lost to a typo, even inside an "on" project.
    decision = resolve(
        "dbt", CORE, with_default(layer("project_file", "on"), broken("user_config"))
    )
    assert not decision.enabled
    assert decision.decided_by == "user_config"


# -- the cloud edition ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", OPINION_LAYERS)
@pytest.mark.parametrize("opinion", OPINIONS)
def test_cloud_is_on_and_mandatory_whatever_one_layer_says(name, opinion):
    decision = resolve("dbt", CLOUD, with_default(layer(name, opinion)))

    assert decision.enabled
    assert decision.mandatory
    assert decision.decided_by == "edition_mandate"
    mandate = decision.layer("edition_mandate")
    assert (mandate.opinion, mandate.status, mandate.origin) == ("on", "winner", "host")
    assert decision.layer(name).status == "overridden"
    assert_well_formed(decision)


def test_cloud_lists_every_opt_out_as_overridden_with_a_warning_naming_it():
    off_layers = [
        layer(n, "off") for n in OPINION_LAYERS if n not in ("edition_default", "ci_default")
    ]
    ci = layer("ci_default", "off")
    decision = resolve(
        "dbt",
        Edition("cloud", "/etc/xdg/dbt/telemetry-policy.toml:1"),
        with_default(*off_layers, ci),
    )

    assert decision.enabled and decision.mandatory
    overridden = {layer.name for layer in decision.overridden_opt_outs}
    assert overridden == {layer.name for layer in off_layers}
    # Running in CI is nobody's opt-out: overridden, but not listed or warned about as one.
    assert decision.layer("ci_default").status == "overridden"
    assert not [w for w in decision.warnings if "CI default" in w]
    for off in off_layers:
        got = decision.layer(off.name)
        assert got.status == "overridden"
        assert "cloud" in (got.detail or "")
        # DO_NOT_TRACK is named by its variable (its origin); other layers by title and origin.
        naming = [
            w
            for w in decision.warnings
            if off.origin in w and (got.title in w or off.name == "do_not_track")
        ]
        assert len(naming) == 1, (off.name, decision.warnings)
        assert "cloud edition" in naming[0]
    assert decision.layer("edition_mandate").origin == "/etc/xdg/dbt/telemetry-policy.toml:1"
    assert_well_formed(decision)


def test_cloud_does_not_warn_about_layers_that_are_on():
    decision = resolve("dbt", CLOUD, with_default(layer("user_config", "on")))
    assert decision.warnings == ()


def test_cloud_notes_an_unreadable_opt_out_too_and_keeps_it_an_error():
    decision = resolve("dbt", CLOUD, with_default(broken("project_file")))
    assert decision.enabled
    assert decision.layer("project_file").status == "error"
    assert any("project file" in w and "cloud edition" in w for w in decision.warnings)
    assert any("cannot read it" in w for w in decision.warnings)


def test_cloud_beats_even_an_admin_lock_off():
    decision = resolve("dbt", CLOUD, with_default(layer("admin_lock", "off")))
    assert decision.enabled
    assert decision.layer("admin_lock").status == "overridden"


def test_core_never_lets_the_mandate_layer_decide_when_it_has_no_opinion():
    mandate = Layer("edition_mandate", detail="core edition: telemetry is not mandatory")
    decision = resolve("dbt", CORE, [mandate, *with_default(layer("user_config", "off"))])
    assert decision.decided_by == "user_config"
    assert decision.layer("edition_mandate").status == "no_opinion"
    assert not decision.mandatory


# -- the admin lock -------------------------------------------------------------------------------


def test_admin_lock_off_beats_every_opt_in():
    ons = [layer(n, "on") for n in OPINION_LAYERS[1:]]
    decision = resolve("dbt", CORE, [layer("admin_lock", "off"), *ons])
    assert not decision.enabled
    assert decision.decided_by == "admin_lock"
    assert not decision.mandatory
    assert all(decision.layer(layer.name).status == "overridden" for layer in ons)


def test_admin_lock_on_beats_every_opt_out_and_no_user_setting_can_change_it():
    offs = [layer(n, "off") for n in OPINION_LAYERS[1:]]
    decision = resolve("dbt", CORE, [layer("admin_lock", "on"), *offs])
    assert decision.enabled
    assert decision.decided_by == "admin_lock"
    assert decision.mandatory  # schema: "true when no user setting can turn it off"
    opt_outs = {layer.name for layer in offs} - {"ci_default"}  # where it runs: not an opt-out
    assert {layer.name for layer in decision.overridden_opt_outs} == opt_outs


# -- provenance -----------------------------------------------------------------------------------


def test_layer_warnings_reach_the_decision_once_in_precedence_order():
    same = "a warning two layers share"
    layers = with_default(
        Layer("user_config", "off", warnings=("user warning", same)),
        Layer("do_not_track", None, warnings=("dnt warning", same)),
    )
    decision = resolve("dbt", CORE, layers)
    assert decision.warnings == ("dnt warning", same, "user warning")


def test_the_winner_keeps_its_raw_value_and_origin():
    decision = resolve(
        "dbt", CORE, with_default(Layer("project_file", "off", "no", "/p/dbt_project.yml:3"))
    )
    winner = decision.winner
    assert (winner.name, winner.raw, winner.origin) == (
        "project_file",
        "no",
        "/p/dbt_project.yml:3",
    )


REPRESENTATIVE = {
    "core default": (CORE, with_default()),
    "do not track": (CORE, with_default(layer("do_not_track", "off"), layer("host_flag", "on"))),
    "errors": (CORE, with_default(broken("env_var"), broken("project_file", None))),
    "cloud with opt-outs": (
        CLOUD,
        with_default(layer("do_not_track", "off"), layer("user_config", "off")),
    ),
    "admin lock on": (
        Edition("core", "/etc/xdg/dbt/telemetry-policy.toml:2"),
        with_default(layer("admin_lock", "on"), layer("project_file", "off")),
    ),
}


@pytest.mark.parametrize("case", REPRESENTATIVE)
def test_the_json_document_follows_the_status_contract(case):
    edition, layers = REPRESENTATIVE[case]
    decision = resolve("dbt", edition, layers)
    document = decision.to_json(anonymous_id=None, collector="https://collector.example")
    jsonschema.validate(document, SCHEMA)
    assert json.loads(json.dumps(document)) == document
    assert [layer["name"] for layer in document["layers"]] == list(LAYER_ORDER)
    assert document["decided_by"] in [layer["name"] for layer in document["layers"]]
    assert document["enabled"] is decision.enabled


# -- properties over random layer stacks ----------------------------------------------------------


def _expected(edition: str, stack: dict[str, str | None]) -> tuple[bool, str]:
    """docs/decision.md restated as plainly as possible (a second, independent reading)."""
    if edition == "cloud":
        return True, "edition_mandate"

    def effective(name):
        return "off" if stack.get(name) == "error" else stack.get(name)

    for name in OPINION_LAYERS:
        if name == "user_config":
            continue  # decided together with project_file
        if name == "project_file":
            pair = [n for n in ("project_file", "user_config") if effective(n)]
            offs = [n for n in pair if effective(n) == "off"]
            if offs:
                return False, offs[0]
            if pair:
                return True, pair[0]
            continue
        if effective(name):
            return effective(name) == "on", name
    return False, "edition_default"


@settings(max_examples=300, deadline=None, database=None)
@given(
    edition=st.sampled_from(["core", "cloud"]),
    stack=st.fixed_dictionaries(
        {n: st.sampled_from(["on", "off", None, "error"]) for n in OPINION_LAYERS}
    ),
)
def test_any_stack_of_layers_resolves_by_the_spec(edition, stack):
    layers = [broken(n) if v == "error" else layer(n, v) for n, v in stack.items()]
    decision = resolve("dbt", Edition(edition, "host"), layers)

    assert (decision.enabled, decision.decided_by) == _expected(edition, stack)
    assert decision.mandatory is (
        edition == "cloud" or (decision.decided_by == "admin_lock" and decision.enabled)
    )
    for got in decision.layers:
        given_value = stack.get(got.name)
        if given_value == "error":
            assert got.status == "error"
        elif got.name == decision.decided_by:
            assert got.status == "winner"
        elif got.opinion is None:
            assert got.status == "no_opinion"
        else:
            assert got.status == "overridden"
    assert_well_formed(decision)
