"""The jaffle tool's telemetry profile: everything telemetry-consent needs to know about it."""

import os
import shlex

from tracking import TrackedProfile

_HERE = os.path.dirname(os.path.abspath(__file__))


def _command_here() -> str:
    """How to run jaffle from the working directory: the notice and status print commands a user
    copies, so they must work where the user is (``python .. telemetry`` from ``demo/``)."""
    try:
        relative = os.path.relpath(_HERE)
    except ValueError:  # another drive (Windows), or no working directory any more
        relative = _HERE
    # Up more than two levels, a relative path is harder to read than the whole one.
    path = _HERE if relative.split(os.sep)[:3] == [os.pardir] * 3 else relative
    return f"python {shlex.quote(path)} telemetry"


PROFILE = TrackedProfile(
    name="jaffle",
    env_prefix="JAFFLE_",  # JAFFLE_SEND_ANONYMOUS_USAGE_STATS, ..._TELEMETRY_*
    project_files=("jaffle_project.yml",),  # flags: send_anonymous_usage_stats: false
    host_flag_name="--send-anonymous-usage-stats",
    telemetry_command=_command_here(),  # how users reach `telemetry status` from here
    # The local collector (`telemetry collector`) in development; a real tool puts its HTTPS
    # Snowplow collector here. JAFFLE_TELEMETRY_ENDPOINT overrides it.
    collector_endpoint="http://127.0.0.1:9090",
    tool_version="0.1.0",
    # In CI: off unless the job opts in (JAFFLE_SEND_ANONYMOUS_USAGE_STATS=true); the default,
    # spelled out. "as_upstream" is for a profile that mirrors a host without a CI rule.
    ci_policy="off",
)

__all__ = ["PROFILE"]
