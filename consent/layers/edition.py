"""The edition: where it comes from, its mandate (highest layer) and its default (lowest).

The edition comes from the host's code (a cloud build passes it), else the administrator's
system policy, else the profile's default; never from a project file or the user config, which
the user controls. The cloud edition makes telemetry mandatory; the core edition's default is on,
and every layer above may opt out, or, for a profile of the opt-in model, off until the user says
yes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from .._model import Edition, Layer
from .base import LayerSource, Step, Want

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["EDITIONS", "EditionDefault", "EditionMandate", "choose_edition"]

EDITIONS = ("core", "cloud")


def choose_edition(ctx: ReadContext) -> tuple[Edition, tuple[str, ...]]:
    """The edition of this run and where it came from, with a warning if the host's was bad."""
    host = ctx.host_edition
    warnings: tuple[str, ...] = ()
    if host is not None and host not in EDITIONS:
        warnings = (
            f'the host passed edition={host!r}, which is not "core" or "cloud"; it is '
            'ignored. Fix (for the tool\'s author): pass edition="core" or "cloud"',
        )
        host = None
    if host is not None:
        return Edition("cloud" if host == "cloud" else "core", "host"), warnings
    # A host that never reads the system policy (dbt) never takes an edition from it either.
    policy = ctx.policy if ctx.reading.reads("admin_lock") else None
    if policy is not None and policy.edition is not None:
        return policy.edition, warnings
    default: Literal["core", "cloud"] = (
        "cloud" if ctx.profile.default_edition == "cloud" else "core"
    )
    return Edition(default, "default"), warnings


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
