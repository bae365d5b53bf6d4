"""What would change the outcome, worked out by asking the resolver, never guessed.

Both questions are answered by simulation on the current layers: "what would this write do?"
(so ``enable``/``disable`` can refuse when a higher layer makes the change moot) and "which steps
would flip the decision?" (so ``status`` prints the exact command or variable that helps now).
Each step is the deciding layer's own answer (:meth:`consent.layers.LayerSource.step`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from ._model import Decision, Layer, Opinion
from .layers import Scope, source_of, writable_in
from .profile import AppProfile
from .readings import reading_of
from .resolver import resolve

__all__ = ["ChangeOutcome", "describe", "explain_winner", "plan_change", "steps_to"]


def _with(decision: Decision, name: str, opinion: Opinion) -> Decision:
    """``decision`` again, with the layer ``name`` saying only ``opinion``."""
    layers = []
    for layer in decision.layers:
        if layer.name == name:
            layer = replace(
                layer,
                opinion=opinion,
                raw=opinion,
                status="no_opinion",
                detail=None,
                warnings=(),
                host_refuses=False,
                legacy=False,
            )
        layers.append(replace(layer, status="error") if layer.is_error else layer)
    return resolve(decision.app, decision.edition, layers)


def describe(layer: Layer) -> str:
    """The "decided by …" phrase for ``layer``."""
    return source_of(layer.name).describe(layer)


def explain_winner(decision: Decision) -> str:
    """``decided by …`` in words a user reads."""
    layer = decision.winner
    text = describe(layer)
    if layer.host_refuses:
        text += f": {layer.detail}"
    elif layer.is_error:
        text += ", which counts as off" + (f": {layer.detail}" if layer.detail else "")
    return text


@dataclass(frozen=True)
class ChangeOutcome:
    """What writing a choice would lead to, before anything is written."""

    scope: Scope
    enabled: bool
    #: True: nothing may be written (cloud edition, admin lock).
    refused: bool
    #: True: the write does not give the asked-for outcome now (exit code 3).
    moot: bool
    after: Decision
    reason: str | None = None


def plan_change(
    decision: Decision, enabled: bool, scope: Scope, profile: AppProfile | None = None
) -> ChangeOutcome:
    """What ``telemetry enable/disable`` in ``scope`` would lead to, before it writes."""
    want: Literal["on", "off"] = "on" if enabled else "off"
    target = writable_in(scope)
    if profile is not None and not reading_of(profile).reads(target.name):
        return ChangeOutcome(
            scope, enabled, True, True, decision, _not_read(decision, enabled, profile)
        )
    after = _with(decision, target.name, want)
    if after.enabled == enabled:
        return ChangeOutcome(scope, enabled, False, False, after)
    blocker = after.winner
    if source_of(blocker.name).managed:
        verb = "turned off" if not enabled else "turned on"
        return ChangeOutcome(
            scope,
            enabled,
            True,
            True,
            decision,
            f"refused: telemetry cannot be {verb} here, it is decided by {describe(blocker)}; "
            "nothing was written",
        )
    steps = ", then ".join(steps_to(after, enabled, profile)) or "see the status command"
    return ChangeOutcome(
        scope,
        enabled,
        False,
        True,
        after,
        f"your choice was written but does not apply now: {describe(blocker)} decides "
        f"({'off' if not after.enabled else 'on'}); {steps}",
    )


def _not_read(decision: Decision, enabled: bool, profile: AppProfile) -> str:
    """Why writing a file the host never reads is refused, and what works for that host."""
    host, cmd = profile.label, profile.telemetry_command
    verb = "enable" if enabled else "disable"
    if enabled:
        steps = ", then ".join(steps_to(decision, True, profile))
        works = f"{steps}" if steps else f"nothing to do: {host} tracks now"
    else:
        works = (
            f"`{cmd} disable --shell` for every new shell of yours, or "
            f"`{cmd} disable --project` for everyone in this project (in CI: DO_NOT_TRACK=1 "
            "in the job)"
        )
    return (
        f"refused: {host} does not read your user config (telemetry.toml), so `{cmd} {verb}` "
        f"would have no effect on {host}; nothing was written. What works for {host}: {works}"
    )


def steps_to(decision: Decision, enabled: bool, profile: AppProfile | None = None) -> list[str]:
    """The commands or variables that would make the decision ``enabled``, in order.

    Walks down from the winner: each step neutralises what decides now, then asks again. Ends
    with a sentence when only an administrator or a different edition could change it.
    """
    want: Literal["on", "off"] = "on" if enabled else "off"
    steps: list[str] = []
    current = decision
    for _ in range(len(decision.layers) + 1):
        if current.enabled == enabled:
            return steps
        layer = current.winner
        step = source_of(layer.name).step(layer, want, profile)
        for other in current.layers:  # a layer may say how its world changes the move (CI)
            step = source_of(other.name).rewrite(other, step, want, profile)
        steps.append(step.text)
        if step.layer is None:
            return steps
        current = _with(current, step.layer, step.opinion)
    return steps
