"""Fixtures of the CLI suite; the worlds themselves are built in ``cli_world.py``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # the helpers next to this file, in any import mode

from cli_world import SCHEMA_PATH, Outcome, World, no_traceback  # noqa: E402,F401


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


@pytest.fixture
def invoke(world: World, monkeypatch: pytest.MonkeyPatch):
    """``telemetry ARGS`` in-process through CliRunner, in the same isolated world.

    Returns an :class:`Outcome`; an exception escaping the command (anything but a clean exit)
    is kept on ``outcome.exception`` so tests can say what a user would have seen.
    """
    from click.testing import CliRunner

    from telemetry_cli import telemetry_group

    def _invoke(*args: str, group=None, cwd: Path | None = None, **env: str | None) -> Outcome:
        wanted = world.env(**env)
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
