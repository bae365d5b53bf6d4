"""The pure resolver: layers in, a decision out. No environment, no files, no clock.

Precedence is the tuple :data:`consent.layers.LAYERS`; the only rules not expressed by that order
are declared by the layers and applied here:

- an error counts as off at its own level (fail closed, so a mistyped opt-out is never lost);
- layers that declare one ``level`` stand together, and an opt-out in any of them wins (between
  the project file and the user config, an opt-out sticks);
- a layer whose input makes the host refuse to run (``host_refuses``: dbt stops on an invalid
  DBT_SEND_ANONYMOUS_USAGE_STATS, or on both ``flags:`` and ``config:``) decides off over every
  layer below the ``managed`` ones (the edition, the administrator), whatever their order: a
  host that does not run sends nothing;
- the cloud edition is mandatory: on whatever the layers say, with every opt-out listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ._model import Decision, Edition, Layer, Opinion
from .layers import LAYERS, EditionMandate

__all__ = ["resolve"]

_MANDATE = next(source for source in LAYERS if isinstance(source, EditionMandate))


def _effective(layer: Layer) -> Opinion:
    if layer.is_error:
        return "off"
    return layer.opinion


def _pick_winner(layers: Sequence[Layer]) -> str:
    refusing = next((layer for layer in layers if layer.host_refuses), None)
    if refusing is not None:
        above = [
            layer.name
            for layer, source in zip(layers, LAYERS, strict=True)
            if source.managed and _effective(layer) is not None
        ]
        return above[0] if above else refusing.name
    index = 0
    while index < len(layers):
        level = LAYERS[index].level
        end = index + 1
        while level is not None and end < len(layers) and LAYERS[end].level == level:
            end += 1
        standing = layers[index:end]
        for wanted in ("off", "on"):
            for member in standing:
                if _effective(member) == wanted:
                    return member.name
        index = end
    # Unreachable with an edition_default layer present; fail closed rather than guess.
    return layers[-1].name if layers else LAYERS[-1].name


def resolve(app: str, edition: Edition, layers: Iterable[Layer]) -> Decision:
    """Combine ``layers`` (any order, one per name) into the decision, statuses filled in."""
    by_name = {layer.name: layer for layer in layers}
    cloud = edition.name == "cloud"
    # Layers given by hand (a recorded run, a test) are stamped here as ``decide`` stamps them.
    ordered = [source.stamp(by_name.get(source.name) or Layer(source.name)) for source in LAYERS]
    if cloud:
        ordered = [
            _MANDATE.stamp(EditionMandate.mandate(edition))
            if layer.name == EditionMandate.name
            else layer
            for layer in ordered
        ]
    winner_name = _pick_winner(ordered)
    winner_at = next(i for i, layer in enumerate(ordered) if layer.name == winner_name)
    enabled = _effective(ordered[winner_at]) == "on"
    winner_title = LAYERS[winner_at].title

    final: list[Layer] = []
    warnings: list[str] = []
    for layer, source in zip(ordered, LAYERS, strict=True):
        warnings.extend(layer.warnings)
        if layer.name == winner_name:
            final.append(layer.with_status("winner"))
        elif _effective(layer) is None:
            final.append(layer.with_status("no_opinion"))
        elif cloud:
            if _effective(layer) == "off" and source.choice:
                warnings.append(
                    f"your opt-out {source.opt_out_reference(layer)} is noted but does not "
                    "apply: the cloud edition makes telemetry mandatory"
                )
            final.append(layer.with_status("overridden", "overridden by the cloud edition"))
        else:
            final.append(layer.with_status("overridden", f"overridden by {winner_title}"))

    # Mandatory: the cloud edition, or an administrator's lock that says on.
    return Decision(
        app=app,
        edition=edition,
        enabled=enabled,
        mandatory=cloud or (LAYERS[winner_at].managed and enabled),
        decided_by=winner_name,
        layers=tuple(final),
        warnings=tuple(dict.fromkeys(warnings)),
    )
