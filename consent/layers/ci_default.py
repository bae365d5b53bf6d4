"""The CI default: what running in CI means for this tool, between the system default and the
edition's default (docs/decision.md).

CI is detected by :func:`consent.ci.detect_ci` (one table of variables; ``CI=false``/``CI=0`` is
not CI), and the layer names the variable that revealed it. What CI *means* is the profile's
``ci_policy``:

- ``off`` (the default for every tool's own profile): off, unless a layer above says on. A CI
  job runs in a fresh container nobody watches: a first-run notice there is read by no one, and
  a new id per container inflates "unique users" (Nuxt, Angular and Flutter send nothing from
  CI without explicit consent). The hint names the variable to set in the job to opt in.
- ``as_upstream`` (the built-in dbt profile): no opinion, and says so. dbt-core has no CI rule
  (it tracks in CI exactly as elsewhere), and the dbt profile exists to say what dbt decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._model import Layer
from ..values import shown
from .base import LayerSource, Step, Want

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["CiDefault"]


class CiDefault(LayerSource):
    """Off in CI (policy ``off``), or no opinion (``as_upstream``); no opinion outside CI."""

    name = "ci_default"
    title = "CI default"
    below_user = True
    # Where the process runs is nobody's opt-out: the cloud edition does not list it.
    choice = False

    def read(self, ctx: ReadContext) -> Layer:
        from ..ci import detect_ci

        found = detect_ci(ctx.env)
        if found is None:
            raw = (ctx.env.get("CI") or "").strip()
            if raw:  # a value of CI that says "not CI" (false, 0, no, ...)
                return Layer(self.name, detail=f"not CI: CI={shown(raw)} says so")
            return Layer(self.name, detail="not CI (no CI variable is set)")
        value = shown(ctx.env.get(found.variable) or "")
        seen = f"{found.variable}={value}"
        if ctx.profile.ci_policy == "as_upstream":
            return Layer(
                self.name,
                None,
                value,
                found.variable,
                detail=f"CI detected ({seen}); {ctx.profile.label} treats CI like any other "
                "run: set DO_NOT_TRACK=1 to opt out",
            )
        return Layer(
            self.name,
            "off",
            value,
            found.variable,
            detail=f"CI detected ({seen}): off unless something above says on",
        )

    def describe(self, layer: Layer) -> str:
        return (
            f"the CI default: CI detected ({layer.origin}={layer.raw}), off unless something "
            "above says on"
        )

    def change(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        # A user config written in a CI job is gone with its container: name the variable.
        variable = profile.env_var if profile is not None else "<PREFIX>SEND_ANONYMOUS_USAGE_STATS"
        if want == "on":
            return Step(f"set {variable}=true in the CI job's environment", "env_var", "on")
        return Step("set DO_NOT_TRACK=1 in the CI job's environment", "do_not_track", "off")

    def rewrite(self, layer: Layer, step: Step, want: Want, profile: AppProfile | None) -> Step:
        """In CI, a step that writes the user config (``telemetry enable/disable``) would be
        lost with the job's container, and an opt-out in shell startup files (``disable
        --shell``) is not where a job's variables live: name the variable to set in the job."""
        in_the_job = step.layer == "user_config" or (
            want == "off" and step.layer in ("do_not_track", "env_var")
        )
        if layer.origin is None or not in_the_job:
            return step
        return self.change(layer, want, profile)
