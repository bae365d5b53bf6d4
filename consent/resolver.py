"""The pure resolver: layers in, a decision out. No environment, no files, no clock.

Precedence is the tuple ``LAYER_ORDER``; the only rules not expressed by that order are:
- an error counts as off at its own level (fail closed, so a mistyped opt-out is never lost);
- between the project file and the user config, an opt-out sticks (either one saying off wins);
- a layer whose input makes the host refuse to run (``host_refuses``: dbt stops on an invalid
  DBT_SEND_ANONYMOUS_USAGE_STATS, or on both ``flags:`` and ``config:``) decides off over every
  layer below the admin lock, whatever their order: a host that does not run sends nothing;
- the cloud edition is mandatory: on whatever the layers say, with every opt-out listed.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._model import LAYER_ORDER, Decision, Edition, Layer

#: Layers that stand at one level, where an opt-out in either sticks.
_OPT_OUT_STICKS = ("project_file", "user_config")
#: Layers above the host itself: the edition and the administrator decide even for a host that
#: refuses to run (the product contract orders them first).
_ABOVE_THE_HOST = ("edition_mandate", "admin_lock")


def _effective(layer: Layer) -> str | None:
    if layer.is_error:
        return "off"
    return layer.opinion


def _pick_winner(layers: list[Layer]) -> str:
    refusing = next((layer for layer in layers if layer.host_refuses), None)
    if refusing is not None:
        above = [layer.name for layer in layers
                 if layer.name in _ABOVE_THE_HOST and _effective(layer) is not None]
        return above[0] if above else refusing.name
    index = 0
    while index < len(layers):
        layer = layers[index]
        if layer.name == _OPT_OUT_STICKS[0] and index + 1 < len(layers) \
                and layers[index + 1].name == _OPT_OUT_STICKS[1]:
            pair = layers[index:index + 2]
            for wanted in ("off", "on"):
                for member in pair:
                    if _effective(member) == wanted:
                        return member.name
            index += 2
            continue
        if _effective(layer) is not None:
            return layer.name
        index += 1
    # Unreachable with an edition_default layer present; fail closed rather than guess.
    return layers[-1].name if layers else "edition_default"


def resolve(app: str, edition: Edition, layers: Iterable[Layer]) -> Decision:
    """Combine ``layers`` (any order, one per name) into the decision, statuses filled in."""
    by_name = {layer.name: layer for layer in layers}
    ordered = [by_name.get(name) or Layer(name) for name in LAYER_ORDER]
    cloud = edition.name == "cloud"
    if cloud:
        ordered[0] = Layer("edition_mandate", "on", "cloud", edition.origin,
                           detail="the cloud edition makes telemetry mandatory")
    winner_name = _pick_winner(ordered)
    winner = by_name.get(winner_name) or next(l for l in ordered if l.name == winner_name)
    enabled = _effective(next(l for l in ordered if l.name == winner_name)) == "on"

    final: list[Layer] = []
    warnings: list[str] = []
    for layer in ordered:
        warnings.extend(layer.warnings)
        if layer.name == winner_name:
            final.append(layer.with_status("winner"))
        elif _effective(layer) is None:
            final.append(layer.with_status("no_opinion"))
        else:
            why = f"overridden by {winner.title}"
            if cloud:
                why = "overridden by the cloud edition"
                if _effective(layer) == "off":
                    if layer.name == "do_not_track":
                        ref = f"{layer.origin}={layer.raw}"
                    elif layer.name == "env_var":
                        ref = f"in the {layer.title} {layer.origin}={layer.raw}"
                    else:
                        ref = f"{layer.title} ({layer.origin})" if layer.origin else layer.title
                    warnings.append(
                        f"your opt-out {ref} is noted but does not apply: "
                        "the cloud edition makes telemetry mandatory"
                    )
            final.append(layer.with_status("overridden", why))

    admin_forces_on = winner_name == "admin_lock" and enabled
    return Decision(
        app=app,
        edition=edition,
        enabled=enabled,
        mandatory=cloud or admin_forces_on,
        decided_by=winner_name,
        layers=tuple(final),
        warnings=tuple(dict.fromkeys(warnings)),
    )
