"""Real, isolated worlds for the ``telemetry`` CLI: temp HOME, XDG dirs, a project tree.

Every command is driven the way a user drives it — a real subprocess with its own environment
and working directory — except for the many small permutations, which go through click's
``CliRunner`` against ``telemetry_cli.telemetry_group()`` in the same isolated world (same files,
same environment, patched with ``monkeypatch``) because they are ten times faster.

Both ways of running (``World.run`` here, the ``invoke`` fixture in conftest.py) fail the test
outright when a traceback appears in any output: a telemetry command must never show one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from consent.ci import CI_VARIABLES

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "contracts" / "status.schema.json"

#: PRODUCT.md §2, highest first. Hard-coded on purpose: the JSON contract promises this order.
PRECEDENCE = (
    "edition_mandate",
    "admin_lock",
    "do_not_track",
    "host_flag",
    "env_var",
    "project_file",
    "user_config",
    "system_default",
    "ci_default",
    "edition_default",
)
#: The words ``status`` shows for each layer, in the same order.
TITLES = (
    "edition mandate",
    "admin lock",
    "DO_NOT_TRACK",
    "host flag",
    "environment variable",
    "project file",
    "user config",
    "system policy default",
    "CI default",
    "edition default",
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: Variables that would make a world depend on the machine running the tests.
_SCRUBBED_PREFIXES = ("DBT_", "FAKEAPP_", "MYTOOL_", "TELEMETRY_CONSENT_", "XDG_", "_TELEMETRY_")
_SCRUBBED = {
    "DO_NOT_TRACK",
    "HOME",
    "COLUMNS",
    "LINES",
    "NO_COLOR",
    "FORCE_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "TERM",
    "PYTHONSTARTUP",
    "PYTHONWARNINGS",
    "COMP_WORDS",
    "COMP_CWORD",
    *CI_VARIABLES,  # CI runs the suite with CI=true: a world is not CI unless a test says so
}


def no_traceback(*outputs: str | None) -> None:
    for text in outputs:
        assert "Traceback" not in (text or ""), f"a traceback reached the user:\n{text}"


@dataclass
class Outcome:
    """What a user sees: exit code, stdout, stderr."""

    code: int
    out: str
    err: str
    args: tuple[str, ...] = ()
    #: CliRunner only: an exception that escaped the command instead of a clean exit.
    exception: BaseException | None = None

    @property
    def text(self) -> str:
        return self.out + self.err

    def json(self):
        return json.loads(self.out)

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        escaped = f", escaped={self.exception!r}" if self.exception is not None else ""
        return (
            f"Outcome(args={self.args!r}, code={self.code}{escaped})\n"
            f"--- stdout ---\n{self.out}--- stderr ---\n{self.err}"
        )


@dataclass
class World:
    """A machine with one user, one (optional) project, and an (optional) admin policy.

    The project lives under HOME (``~/work/jaffle``) and the command runs from its
    ``models/`` subdirectory, as a dbt user would.
    """

    root: Path
    env_extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home = self.root / "home"
        self.config_home = self.home / ".config"
        self.state_home = self.home / ".local" / "state"
        self.system_dir = self.root / "etc" / "xdg"
        self.project = self.home / "work" / "jaffle"
        self.cwd = self.project / "models"
        self.cwd.mkdir(parents=True)
        # Only HOME and the cwd exist: config and state dirs must be created by the product.

    # -- paths a user would look at ------------------------------------------------------------
    def user_config(self, app: str = "dbt") -> Path:
        return self.config_home / app / "telemetry.toml"

    def policy(self, app: str = "dbt") -> Path:
        return self.system_dir / app / "telemetry-policy.toml"

    def state(self, app: str = "dbt") -> Path:
        return self.state_home / app

    @property
    def project_file(self) -> Path:
        return self.project / "dbt_project.yml"

    # -- making the world ----------------------------------------------------------------------
    @staticmethod
    def _write(path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def write_project(self, text: str = "name: jaffle\n") -> Path:
        return self._write(self.project_file, text)

    def project_flag(self, value: str) -> Path:
        return self.write_project(
            f"name: jaffle\nversion: '1.0'\nflags:\n  send_anonymous_usage_stats: {value}\n"
        )

    def write_user(self, text: str, app: str = "dbt") -> Path:
        path = self._write(self.user_config(app), text)
        path.chmod(0o600)
        return path

    def user_flag(self, value: str, app: str = "dbt") -> Path:
        return self.write_user(f"send_anonymous_usage_stats = {value}\n", app)

    def write_policy(self, text: str, app: str = "dbt") -> Path:
        return self._write(self.policy(app), text)

    def write_anonymous_id(self, value: str | None = None, app: str = "dbt") -> str:
        value = value or str(uuid.uuid4())
        self._write(self.state(app) / "anonymous_id", value + "\n")
        return value

    def write_log(self, records: list[dict], app: str = "dbt", tail: str = "") -> Path:
        lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        return self._write(self.state(app) / "events.log", lines + tail)

    # -- the environment -----------------------------------------------------------------------
    def env(self, **extra: str | None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in _SCRUBBED and not k.startswith(_SCRUBBED_PREFIXES)
        }
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.config_home),
            XDG_STATE_HOME=str(self.state_home),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            XDG_CONFIG_DIRS=str(self.system_dir),
            PYTHONDONTWRITEBYTECODE="1",
        )
        for key, value in {**self.env_extra, **extra}.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    # -- running -------------------------------------------------------------------------------
    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        timeout: float = 30,
        script: list[str] | None = None,
        **env: str | None,
    ) -> Outcome:
        """``telemetry ARGS`` as a real subprocess (``python -m telemetry_cli``)."""
        argv = (script or [sys.executable, "-m", "telemetry_cli"]) + list(args)
        proc = subprocess.run(
            argv,
            cwd=cwd or self.cwd,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        no_traceback(proc.stdout, proc.stderr)
        return Outcome(proc.returncode, proc.stdout, proc.stderr, tuple(args))


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def flat(text: str) -> str:
    """The text with line breaks and runs of spaces collapsed: what a reader sees across wraps."""
    return " ".join(text.split())


def line_with(text: str, needle: str) -> str:
    """The first line containing ``needle`` (fails clearly when there is none)."""
    for line in text.splitlines():
        if needle in line:
            return line
    raise AssertionError(f"no line contains {needle!r} in:\n{text}")


_BLOCK = re.compile(r"^(\d+)\. (.+?): (decides|overridden|no opinion|error \(counts as off\))$")


def table_rows(text: str) -> list[dict[str, str]]:
    """The layers of ``status`` as rows: layer, value, origin, effect.

    Reads both layouts: the table (a terminal wide enough) and one block per layer (plain
    output: piped, NO_COLOR, or a narrow terminal), so a test about what a layer says does not
    depend on where the output went. A table row folded over several lines is joined back (cells
    joined with a space, which is right for words; a path folded mid-name gains a space, and
    tests about folding say so).
    """
    rows: list[dict[str, str]] = []
    lines = text.splitlines()
    if not any("│" in line for line in lines):
        for line in lines:
            block = _BLOCK.match(line)
            if block:
                rows.append(
                    {"layer": block.group(2), "value": "—", "origin": "—", "effect": block.group(3)}
                )
            elif rows and line.startswith("   value: "):
                rows[-1]["value"] = line[len("   value: ") :]
            elif rows and line.startswith("   from: "):
                rows[-1]["origin"] = line[len("   from: ") :]
        return rows
    for line in lines:
        if "│" not in line:
            continue
        cells = [c.strip() for c in line.split("│")]
        if len(cells) != 4:
            continue
        if cells[0]:
            rows.append(dict(zip(("layer", "value", "origin", "effect"), cells)))
        elif rows:
            for key, cell in zip(("layer", "value", "origin", "effect"), cells):
                if cell:
                    rows[-1][key] = f"{rows[-1][key]} {cell}".strip()
    return rows


def above_layers(text: str) -> str:
    """What ``status`` prints before its layers (the headline and the cloud note)."""
    for marker in ("layer ", "1. edition mandate: "):
        at = text.find("\n" + marker)
        if at >= 0:
            return text[:at]
    raise AssertionError(f"no layers in:\n{text}")


def hint_steps(text: str) -> tuple[str, list[str]]:
    """``("on"|"off", [steps])`` from the ``To turn it on/off:`` line of a wide status."""
    line = line_with(text, "To turn it ")
    match = re.match(r"\s*To turn it (on|off): (.*)$", line)
    assert match, line
    goal, rest = match.groups()
    # "telemetry disable (everywhere for you), or DO_NOT_TRACK=1 …": the first way is the step.
    rest = rest.split(" (", 1)[0]
    return goal, [step.strip() for step in rest.split(", then ")]


def build(
    world: World,
    *,
    project: str | None = None,
    project_text: str | None = None,
    user: str | None = None,
    user_text: str | None = None,
    policy: str | None = None,
    **env: str,
) -> dict:
    """Write the files a case names; return its environment."""
    if project is not None:
        world.project_flag(project)
    if project_text is not None:
        world.write_project(project_text)
    if user is not None:
        world.user_flag(user)
    if user_text is not None:
        world.write_user(user_text)
    if policy is not None:
        world.write_policy(policy)
    return dict(env)
