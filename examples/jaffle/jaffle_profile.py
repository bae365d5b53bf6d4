"""The jaffle tool's telemetry profile: everything telemetry-consent needs to know about it."""


from consent import AppProfile

PROFILE = AppProfile(
    name="jaffle",
    env_prefix="JAFFLE_",                      # JAFFLE_SEND_ANONYMOUS_USAGE_STATS, JAFFLE_TELEMETRY_*
    project_files=("jaffle_project.yml",),     # flags: send_anonymous_usage_stats: false
    host_flag_name="--send-anonymous-usage-stats",
    telemetry_command="python examples/jaffle telemetry",  # how users reach `telemetry status`
    # The local collector (`telemetry collector`) in development; a real tool puts its HTTPS
    # Snowplow collector here. JAFFLE_TELEMETRY_ENDPOINT overrides it.
    collector_endpoint="http://127.0.0.1:9090",
    tool_version="0.1.0",
)

__all__ = ["PROFILE"]
