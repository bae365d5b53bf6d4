"""What would change the outcome, worked out by asking the resolver, never guessed.

Both questions are answered by simulation on the current layers: "what would this write do?"
(so ``enable``/``disable`` can refuse when a higher layer makes the change moot) and "which steps
would flip the decision?" (so ``status`` prints the exact command or variable that helps now).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from ._model import Decision, Layer
from .profile import AppProfile
from .resolver import resolve

Scope = Literal["global", "project"]
_BELOW_USER = ("project_file", "user_config", "system_default", "edition_default")
SCOPE_LAYER = {"global": "user_config", "project": "project_file"}


def _with(decision: Decision, name: str, opinion: str | None, origin: str | None = None) -> Decision:
    layers = []
    for layer in decision.layers:
        if layer.name == name:
            layer = Layer(name, opinion, opinion, origin or layer.origin)
        layers.append(replace(layer, status="error") if layer.is_error else layer)
    return resolve(decision.app, decision.edition, layers)


def _describe(layer: Layer) -> str:
    if layer.name == "edition_mandate":
        return "the cloud edition, where telemetry is mandatory"
    if layer.name == "admin_lock":
        if layer.origin is None:  # decide()'s last resort: nothing could be read at all
            return "a failure to read the settings"
        return f"the administrator's lock ({layer.origin})"
    if layer.name in ("do_not_track", "env_var"):
        return f"{layer.origin}={layer.raw} in your environment"
    if layer.name == "host_flag":
        return f"the host's flag {layer.origin}"
    if layer.name == "edition_default":
        return f"the {layer.raw} edition's default"
    if layer.legacy:
        return f"the deprecated user-wide setting in {layer.origin}"
    origin = f" ({layer.origin})" if layer.origin else ""
    return f"the {layer.title}{origin}"


def explain_winner(decision: Decision) -> str:
    """``decided by …`` in words a user reads."""
    layer = decision.winner
    text = _describe(layer)
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


def plan_change(decision: Decision, enabled: bool, scope: Scope,
                profile: AppProfile | None = None) -> ChangeOutcome:
    want = "on" if enabled else "off"
    layer_name = SCOPE_LAYER[scope]
    after = _with(decision, layer_name, want)
    if after.enabled == enabled:
        return ChangeOutcome(scope, enabled, False, False, after)
    blocker = after.winner
    if blocker.name in ("edition_mandate", "admin_lock"):
        verb = "turned off" if not enabled else "turned on"
        return ChangeOutcome(
            scope, enabled, True, True, decision,
            f"refused: telemetry cannot be {verb} here, it is decided by {_describe(blocker)}; "
            "nothing was written",
        )
    return ChangeOutcome(
        scope, enabled, False, True, after,
        f"your choice was written but does not apply now: {_describe(blocker)} decides "
        f"({'off' if not after.enabled else 'on'}); {', then '.join(steps_to(after, enabled, profile)) or 'see the status command'}",
    )


def steps_to(decision: Decision, enabled: bool, profile: AppProfile | None = None) -> list[str]:
    """The commands or variables that would make the decision ``enabled``, in order.

    Walks down from the winner: each step neutralises what decides now, then asks again. Ends
    with a sentence when only an administrator or a different edition could change it.
    """
    want = "on" if enabled else "off"
    cli = profile.telemetry_command if profile else "telemetry"
    steps: list[str] = []
    current = decision
    for _ in range(len(decision.layers) + 1):
        if current.enabled == enabled:
            return steps
        layer = current.winner
        if layer.name == "edition_mandate":
            steps.append("not possible: the cloud edition makes telemetry mandatory")
            return steps
        if layer.name == "admin_lock":
            steps.append(f"only an administrator can (system policy {layer.origin})")
            return steps
        if layer.is_error:
            # A file or value that cannot be read counts as off; the fix is to repair it (the
            # warning says how), except the user config, which `telemetry enable` rewrites whole.
            if layer.name == "user_config":
                steps.append(f"{cli} enable")
            elif layer.name in ("do_not_track", "env_var"):
                steps.append(f"unset {layer.origin}")
            elif layer.name == "project_file" and layer.raw is not None:
                # The YAML is fine, only the value is wrong: the command rewrites it.
                steps.append(f"{cli} enable --project" if enabled else f"{cli} disable --project")
            else:
                steps.append(f"fix {layer.origin or layer.title} (see the warning)")
            fixed = None if layer.name in ("do_not_track", "env_var") else want
            current = _with(current, layer.name, fixed)
            continue
        if not enabled and layer.name in _BELOW_USER:
            # An opt-out sticks at the user level, whatever the project or defaults say.
            steps.append(f"{cli} disable")
            current = _with(current, "user_config", "off")
            continue
        if layer.name == "do_not_track":
            steps.append("unset DO_NOT_TRACK")
            current = _with(current, "do_not_track", None)
        elif layer.name == "env_var":
            name = layer.origin or (profile.env_var if profile else "the variable")
            steps.append(f"unset {name}" if enabled else f"export {name}=false")
            current = _with(current, "env_var", None if enabled else "off")
        elif layer.name == "host_flag":
            flag = layer.origin or "the host flag"
            steps.append(f"run the tool without its {flag} option" if enabled
                         else f"run the tool with its {flag} option set off")
            current = _with(current, "host_flag", None if enabled else "off")
        elif layer.name == "project_file" and layer.legacy:
            # A user-wide setting in the host's deprecated place (dbt: profiles.yml's config:):
            # `enable --project` must not write beside it (dbt refuses both), and a project must
            # not undo a user-wide opt-out, so the step is to change that file itself.
            key = profile.legacy_flag_file.key_path[-1] \
                if profile and profile.legacy_flag_file else "the setting"
            steps.append(f"remove {key} from {layer.origin} (it applies to all your projects)")
            current = _with(current, "project_file", None)
        elif layer.name == "project_file":
            steps.append(f"{cli} enable --project" if enabled else f"{cli} disable --project")
            current = _with(current, "project_file", want)
        elif layer.name == "user_config":
            steps.append(f"{cli} enable" if enabled else f"{cli} disable")
            current = _with(current, "user_config", want)
        elif layer.name in ("system_default", "edition_default"):
            steps.append(f"{cli} enable")
            current = _with(current, "user_config", want)
        else:  # pragma: no cover - every layer is handled above
            return steps
    return steps
