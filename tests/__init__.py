"""The test suites of telemetry-consent (a package so that helpers are imported, not path-hacked)."""
