"""``DO_NOT_TRACK``: the cross-tool opt-out (consoledonottrack.com). It beats even the host's own
flag: dbt-core applies it after every other setting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._model import Layer
from ..values import FALSE_WORDS, TRUE_WORDS, env_bool, shown
from .base import EnvironmentLayer, Step, Want

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["NOT_A_BOOLEAN", "DoNotTrack", "read_do_not_track"]

#: Why a value that is neither true nor false counts as off (shared with the env var).
NOT_A_BOOLEAN = "it is not a true/false value"


class DoNotTrack(EnvironmentLayer):
    """A true value means off; a false value is no opinion, never "on" (the reading decides
    which spellings are which: docs/decision.md)."""

    name = "do_not_track"
    title = "DO_NOT_TRACK"

    def read(self, ctx: ReadContext) -> Layer:
        return ctx.reading.do_not_track(ctx.env)

    def opt_out_reference(self, layer: Layer) -> str:
        return self.assignment(layer) or self.title

    def change(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        return Step("unset DO_NOT_TRACK", self.name, None)


def read_do_not_track(env: Mapping[str, str]) -> Layer:
    """``DO_NOT_TRACK``: a true spelling means off; a false spelling is *no opinion*, never "on"."""
    raw = env.get("DO_NOT_TRACK")
    if raw is None:
        return Layer("do_not_track", detail="not set")
    flag = env_bool(raw)
    if flag is True:
        return Layer("do_not_track", "off", shown(raw), "DO_NOT_TRACK")
    if flag is False:
        return Layer(
            "do_not_track",
            None,
            shown(raw),
            "DO_NOT_TRACK",
            detail="a false value means no opinion (it never turns tracking on)",
        )
    # It was read: it is simply not a true/false word. Off, because the likeliest meaning of
    # setting DO_NOT_TRACK at all is "do not track".
    message = (
        f"DO_NOT_TRACK={shown(raw)!s} in the environment is not a true/false value; treated as "
        "off. Fix: set DO_NOT_TRACK=1 to opt out, or unset it."
    )
    return Layer(
        "do_not_track",
        "off",
        shown(raw),
        "DO_NOT_TRACK",
        status="error",
        detail=f"{NOT_A_BOOLEAN} ({', '.join(sorted(TRUE_WORDS))} or "
        f"{', '.join(sorted(w for w in FALSE_WORDS if w))})",
        warnings=(message,),
    )
