"""The edition: where it comes from, its mandate (highest layer) and its default (lowest).

The edition comes from the host's code (a cloud build passes it), else the administrator's
system policy, else the profile's default; never from a project file or the user config, which
the user controls (:attr:`consent.context.ReadContext.edition` chooses it, once per decision).
The cloud edition makes telemetry mandatory; the core edition's default is on, and every layer
above may opt out, or, for a profile of the opt-in model, off until the user says yes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._model import Edition, Layer
from .base import LayerSource, Step, Want

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["EditionDefault", "EditionMandate"]


class EditionMandate(LayerSource):
    """The cloud edition: on, whatever the layers below say (the resolver applies it)."""

    name = "edition_mandate"
    title = "edition mandate"
    managed = True

    def read(self, ctx: ReadContext) -> Layer:
        return Layer(
            self.name,
            detail=f"{ctx.edition.name} edition: telemetry is not mandatory",
            warnings=ctx.edition_warnings,
        )

    @classmethod
    def mandate(cls, edition: Edition) -> Layer:
        """The layer of a mandatory edition, which decides."""
        return Layer(
            cls.name,
            "on",
            edition.name,
            edition.origin,
            detail=f"the {edition.name} edition makes telemetry mandatory",
        )

    def describe(self, layer: Layer) -> str:
        return f"the {layer.raw or 'cloud'} edition, where telemetry is mandatory"

    def step(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        return Step(f"not possible: the {layer.raw or 'cloud'} edition makes telemetry mandatory")


class EditionDefault(LayerSource):
    """The edition's default, the lowest layer: core is on and the user may opt out, unless the
    profile declares the opt-in model: then core is off until the user says yes."""

    name = "edition_default"
    title = "edition default"
    below_user = True

    def read(self, ctx: ReadContext) -> Layer:
        edition = ctx.edition.name
        if edition == "core" and ctx.profile.consent_model == "opt_in":
            return Layer(
                self.name,
                "off",
                "opt-in",
                None,
                detail=f"{ctx.profile.label} asks first: off until you say yes",
            )
        return Layer(
            self.name,
            "on",
            edition,
            None,
            detail=f"{edition} edition: on by default"
            + (", you may opt out" if edition == "core" else ""),
        )

    def describe(self, layer: Layer) -> str:
        if layer.opinion == "off":
            # The opt-in model: nobody has said yes (or a yes was for an older consent version).
            return "the opt-in default: off until you say yes"
        return f"the {layer.raw} edition's default"
