"""The two layers the administrator's system policy gives (:mod:`consent.policy_file`): the
admin lock (second highest) and the system default (above the edition's).

The policy is read once per decision (:attr:`consent.context.ReadContext.policy`) and shared by
both layers and by the choice of the edition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._model import Layer
from .base import LayerSource, Step, Want

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["AdminLock", "SystemDefault"]


class AdminLock(LayerSource):
    """``locked = true`` in the system policy: its ``telemetry`` wins over everything below the
    edition. A policy file that cannot be used counts as locked off (fail closed)."""

    name = "admin_lock"
    title = "admin lock"
    managed = True
    lasting = True

    def read(self, ctx: ReadContext) -> Layer:
        policy = ctx.policy
        if policy.problem:
            return Layer(
                self.name,
                "off",
                None,
                policy.path,
                status="error",
                detail=f"{policy.problem}, so it counts as locked off",
                warnings=policy.warnings,
            )
        if policy.path is None:
            return Layer(self.name, detail="no system policy file")
        # The merge's own warnings (an edition ignored, files that disagree) go with the lock.
        if not policy.locked:
            return Layer(
                self.name, None, None, policy.path, detail="not locked", warnings=policy.warnings
            )
        return Layer(
            self.name,
            policy.telemetry,
            policy.telemetry,
            policy.telemetry_origin,
            detail="locked by the system policy",
            warnings=policy.warnings,
        )

    def watched(self, ctx: ReadContext) -> tuple[str, ...]:
        return ctx.policy.places

    def describe(self, layer: Layer) -> str:
        if layer.origin is None:  # decide()'s last resort: nothing could be read at all
            return "a failure to read the settings"
        return f"the administrator's lock ({layer.origin})"

    def step(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        return Step(f"only an administrator can (system policy {layer.origin})")


class SystemDefault(LayerSource):
    """``telemetry = "on" | "off"`` in an unlocked system policy: the machine's default."""

    name = "system_default"
    title = "system policy default"
    below_user = True
    lasting = True

    def read(self, ctx: ReadContext) -> Layer:
        policy = ctx.policy
        if policy.path is None or policy.problem:
            return Layer(self.name, detail="no system policy default")
        if policy.locked:
            return Layer(
                self.name,
                None,
                None,
                policy.telemetry_origin,
                detail="the policy is locked (see admin lock)",
            )
        if policy.telemetry is None:
            return Layer(self.name, None, None, policy.path, detail="no telemetry key")
        return Layer(self.name, policy.telemetry, policy.telemetry, policy.telemetry_origin)

    def watched(self, ctx: ReadContext) -> tuple[str, ...]:
        return ctx.policy.places
