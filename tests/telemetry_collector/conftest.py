"""Fixtures of the collector's own suite: test schemas on disk and a collector that knows them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from telemetry_collector import Collector
from tests.telemetry_collector.micro_kit import write_test_schemas


@pytest.fixture(autouse=True)
def _quiet_tracker() -> None:
    # snowplow-tracker logs every request at INFO (it calls logging.basicConfig on import and
    # sets its modules' loggers to INFO).
    for name in ("snowplow_tracker", "snowplow_tracker.emitters", "snowplow_tracker.snowplow"):
        logging.getLogger(name).setLevel(logging.WARNING)


@pytest.fixture
def schema_root(tmp_path: Path) -> Path:
    return write_test_schemas(tmp_path / "schemas")


@pytest.fixture
def collector(schema_root: Path) -> Iterator[Collector]:
    with Collector(schema_roots=[schema_root]) as running:
        yield running
