"""The benchmark host's profile, shared by the host script and the harness (which acknowledges
its first-run notice in each isolated state dir before the run)."""

from __future__ import annotations

from tracking import TrackedProfile

NAME = "benchapp"
ENV_PREFIX = "BENCHAPP_"


def make_profile(collector: str | None, consent_model: str = "opt_out") -> TrackedProfile:
    """``consent_model="opt_in"``: the same tool, asking [y/N] instead of telling (the opt-in
    scenarios)."""
    return TrackedProfile(
        name=NAME,
        env_prefix=ENV_PREFIX,
        project_files=("benchapp_project.yml",),
        collector_endpoint=collector,
        tool_version="1.0.0",
        consent_model=consent_model,  # type: ignore[arg-type]
        # flush_deadline and consent_version: the defaults (1 s, 2), as a real host ships them.
    )
