"""The benchmark host's profile, shared by the host script and the harness (which acknowledges
its first-run notice in each isolated state dir before the run)."""

from __future__ import annotations

from tracking import TrackedProfile

NAME = "benchapp"
ENV_PREFIX = "BENCHAPP_"


def make_profile(collector: str | None) -> TrackedProfile:
    return TrackedProfile(
        name=NAME,
        env_prefix=ENV_PREFIX,
        project_files=("benchapp_project.yml",),
        collector_endpoint=collector,
        tool_version="1.0.0",
        # flush_deadline and consent_version: the defaults (1 s, 2), as a real host ships them.
    )
