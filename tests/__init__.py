"""The test suites of telemetry-consent (a package: helpers are imported, never path-hacked)."""
