"""Fixtures of the CLI suite; the world itself is ``tests/support/world.py``'s."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.cli import SCHEMA_PATH
from tests.support.world import Outcome, World, no_traceback


@pytest.fixture
def invoke(world: World, monkeypatch: pytest.MonkeyPatch):
    """``telemetry ARGS`` in-process through CliRunner, in the same isolated world.

    Returns an :class:`Outcome`; an exception escaping the command (anything but a clean exit)
    is kept on ``outcome.exception`` so tests can say what a user would have seen.
    """
    from click.testing import CliRunner

    from telemetry_cli import telemetry_group

    def _invoke(*args: str, group=None, cwd: Path | None = None, **env: str | None) -> Outcome:
        wanted = world.env_with(**env)
        for key in list(os.environ):
            monkeypatch.delenv(key)
        for key, value in wanted.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(cwd or world.cwd)
        runner = CliRunner()
        result = runner.invoke(
            group or telemetry_group(), list(args), prog_name="telemetry", catch_exceptions=True
        )
        no_traceback(result.stdout, result.stderr)
        exc = result.exception
        escaped = None if exc is None or isinstance(exc, SystemExit) else exc
        return Outcome(result.exit_code, result.stdout, result.stderr, tuple(args), escaped)

    return _invoke


@pytest.fixture(scope="session")
def status_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)
