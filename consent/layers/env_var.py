"""``<PREFIX>SEND_ANONYMOUS_USAGE_STATS``: the tool's own switch, per shell (dbt:
``DBT_SEND_ANONYMOUS_USAGE_STATS``, and ``DBT_ENGINE_…`` before it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._model import Layer
from ..values import env_bool, opinion_of, shown
from .base import EnvironmentLayer, Step, Want
from .do_not_track import NOT_A_BOOLEAN

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["EnvVar", "read_env_var", "unset_layer"]


class EnvVar(EnvironmentLayer):
    """True or false in the spellings of the profile's reading; the first variable of the
    profile's list that holds a value counts (``AppProfile.env_vars``)."""

    name = "env_var"
    title = "environment variable"
    users_yes = True
    #: ``telemetry enable/disable --shell`` writes it in the user's shell startup files (the CLI
    #: calls :mod:`consent.shell_startup`: a write there is for new shells, not this process).
    scope = "shell"

    def read(self, ctx: ReadContext) -> Layer:
        return ctx.reading.env_var(ctx.env, ctx.profile.env_vars)

    def opt_out_reference(self, layer: Layer) -> str:
        return f"in the {self.title} {self.assignment(layer)}"

    def change(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        variable = layer.origin or (profile.env_var if profile else "the variable")
        if want == "on":
            return Step(f"unset {variable}", self.name, None)
        return Step(f"export {variable}=false", self.name, "off")


def unset_layer(names: tuple[str, ...], empty: list[str]) -> Layer:
    """The env_var layer when no variable gives a value: unset, or set but empty (shown as such:
    a user who exported it empty must not read "not set" and think it is missing)."""
    if empty:
        return Layer(
            "env_var",
            None,
            "",
            empty[0],
            detail=f"{' and '.join(empty)} {'is' if len(empty) == 1 else 'are'} set but "
            "empty, which means not set",
        )
    return Layer("env_var", detail=f"{' / '.join(names)} not set")


def read_env_var(env: Mapping[str, str], names: tuple[str, ...]) -> Layer:
    """``<PREFIX>SEND_ANONYMOUS_USAGE_STATS`` and any preferred spelling that beats it."""
    present = [(name, env[name]) for name in names if env.get(name) is not None]
    empty = [n for n, v in present if v.strip() == ""]
    # An empty value is the same as unset (shells export empty strings easily).
    present = [(n, v) for n, v in present if v.strip() != ""]
    if not present:
        return unset_layer(names, empty)
    name, raw = present[0]
    shadowed = [n for n, _ in present[1:]]
    note = f"{', '.join(shadowed)} also set, {name} takes precedence" if shadowed else None
    flag = env_bool(raw)
    if flag is None:
        message = (
            f"{name}={shown(raw)!s} in the environment is not true or false; treated as off. "
            f"Fix: set {name}=false (or true), or unset it."
        )
        return Layer(
            "env_var",
            "off",
            shown(raw),
            name,
            status="error",
            detail=NOT_A_BOOLEAN,
            warnings=(message,),
        )
    return Layer("env_var", opinion_of(flag), shown(raw), name, detail=note)
