"""One real, isolated world for every suite: a temp HOME, XDG dirs, system policy dirs, a project.

A :class:`World` is a temp directory tree standing in for a machine with one user, one project
and (optionally) an admin policy:

- ``home`` with its XDG config and state dirs (only HOME and the working directory exist at
  first: config and state dirs must be created by the product);
- two system policy dirs on ``XDG_CONFIG_DIRS`` (every policy file found is read; the most
  restrictive wins; the fixed location, ``/etc/xdg/<app>/``, only ever inside a mount namespace:
  ``tests/telemetry_cli/test_cli_fixed_policy.py``);
- a project under HOME (``~/work/jaffle``), run from its ``models/`` subdirectory, as a dbt user
  would.

``world.env`` is the environment the world runs in: the inherited one minus every variable that
carries a user's choice or depends on the machine (``DO_NOT_TRACK``, ``*TELEMETRY_*``,
``*_SEND_ANONYMOUS_USAGE_STATS``, every CI variable of ``consent/ci.py``: CI runs this suite
with ``CI=true``), plus the world's HOME and XDG dirs and ``PYTHONPATH`` pointing at this
checkout (so a subprocess imports this code and can run ``python -m tests.support.host``).
The ``world`` fixture also puts it in ``os.environ`` and changes into ``world.cwd``, so
in-process code sees the same machine.

Commands run the way a user runs them (``world.run``: ``python -m telemetry_cli`` as a real
subprocess); any traceback in their output fails the test outright.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from consent import DEFAULT_PROFILE, AppProfile, Decision, decide
from consent.ci import CI_VARIABLES

REPO = Path(__file__).resolve().parents[2]

#: A strict profile with dbt's file names and variables, for the generic rules of the layers dbt
#: itself never reads (our user config, the system policy, an edition), which the built-in dbt
#: profile only shows. Its own name keeps its files apart from dbt's.
STRICT_PROFILE = replace(DEFAULT_PROFILE, name="strictapp", reading="strict")

#: Inherited variables a world never keeps: a user's choices, the profiles' own prefixes, the
#: terminal and CI (a test that wants CI, a terminal width or a choice sets it itself).
_SCRUBBED_PREFIXES = (
    "DBT_",
    "DO_NOT_TRACK",
    "FAKEAPP_",
    "MYTOOL_",
    "TESTAPP_",
    "JAFFLE_",
    "HOST_",
    "XDG_",
)
_SCRUBBED = frozenset(
    {
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
        *CI_VARIABLES,
    }
)


def scrubbed(name: str) -> bool:
    """Whether an inherited variable ``name`` is kept out of every world."""
    return (
        name in _SCRUBBED
        or name.startswith(_SCRUBBED_PREFIXES)
        or name.endswith("_SEND_ANONYMOUS_USAGE_STATS")
        or "TELEMETRY_" in name
    )


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

    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        escaped = f", escaped={self.exception!r}" if self.exception is not None else ""
        return (
            f"Outcome(args={self.args!r}, code={self.code}{escaped})\n"
            f"--- stdout ---\n{self.out}--- stderr ---\n{self.err}"
        )


class World:
    """A machine with one user, one (optional) project, and an (optional) admin policy."""

    def __init__(self, root: Path, profile: AppProfile = DEFAULT_PROFILE) -> None:
        self.root = root
        self.home = root / "home"
        self.config_home = self.home / ".config"
        self.state_home = self.home / ".local" / "state"
        #: ``XDG_CONFIG_DIRS`` entries, in order (every file found is read; most restrictive wins).
        self.policy_dirs = [root / "etc" / "xdg", root / "usr" / "share" / "xdg"]
        #: The project root (holds the project file when a test writes one).
        self.project = self.home / "work" / "jaffle"
        #: Where commands run: the project's ``models/`` subdirectory.
        self.cwd = self.project / "models"
        self.cwd.mkdir(parents=True)
        #: The profile whose files the path and writing helpers mean (and ``decide`` uses).
        self.profile = profile
        #: ``run`` for :data:`STRICT_PROFILE` (``tests/support/strict_cli.py``): whether that host
        #: passes the cloud edition from its code.
        self.cloud = False
        #: The tracking tests' local collector (set by the ``tracking_world`` fixture).
        self.collector_url: str | None = None
        env = {k: v for k, v in os.environ.items() if not scrubbed(k)}
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.config_home),
            XDG_STATE_HOME=str(self.state_home),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            XDG_CONFIG_DIRS=os.pathsep.join(str(d) for d in self.policy_dirs),
            PYTHONDONTWRITEBYTECODE="1",
            # Subprocesses import this checkout (and its test helpers), whatever the venv says.
            PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
        )
        #: The environment to pass as ``env=`` (complete, so it also works for subprocesses);
        #: tests add DO_NOT_TRACK / DBT_* here, or use :meth:`env_with` for one run.
        self.env: dict[str, str] = env

    def env_with(self, **changes: str | None) -> dict[str, str]:
        """A copy of ``env`` with ``changes`` (a ``None`` value removes the variable)."""
        env = dict(self.env)
        for key, value in changes.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    # -- the places each layer is read from ------------------------------------------------------
    def _app(self, app: str | None) -> str:
        return app or self.profile.name

    def user_config_path(self, app: str | None = None) -> Path:
        return self.config_home / self._app(app) / "telemetry.toml"

    def policy_path(self, index: int = 0, app: str | None = None) -> Path:
        return self.policy_dirs[index] / self._app(app) / "telemetry-policy.toml"

    def state_dir(self, app: str | None = None) -> Path:
        return self.state_home / self._app(app)

    def project_file_path(self, subdir: str = "") -> Path:
        return self.project / subdir / self.profile.project_files[0]

    # -- making the world ------------------------------------------------------------------------
    def write(
        self, path: str | os.PathLike[str], content: str | bytes, mode: int | None = None
    ) -> Path:
        """Write ``content`` at ``path`` as it is (relative paths are under the world root)."""
        target = Path(path)
        if not target.is_absolute():
            target = self.root / target
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
        if mode is not None:
            target.chmod(mode)
        return target

    @staticmethod
    def _text(content: str | bytes) -> str | bytes:
        return content if isinstance(content, bytes) else textwrap.dedent(content)

    def write_user(self, text: str | bytes, mode: int = 0o600, app: str | None = None) -> Path:
        """The user config file (private, as ``telemetry enable`` writes it, unless ``mode``)."""
        return self.write(self.user_config_path(app), self._text(text), mode)

    def user_flag(self, value: str, app: str | None = None) -> Path:
        return self.write_user(f"send_anonymous_usage_stats = {value}\n", app=app)

    def write_policy(self, text: str | bytes, index: int = 0, app: str | None = None) -> Path:
        return self.write(self.policy_path(index, app), self._text(text))

    def write_project(self, text: str | bytes = "name: jaffle\n", subdir: str = "") -> Path:
        return self.write(self.project_file_path(subdir), self._text(text))

    def project_flag(self, value: str) -> Path:
        return self.write_project(
            f"name: jaffle\nversion: '1.0'\nflags:\n  send_anonymous_usage_stats: {value}\n"
        )

    def write_anonymous_id(self, value: str | None = None, app: str | None = None) -> str:
        value = value or str(uuid.uuid4())
        self.write(self.state_dir(app) / "anonymous_id", value + "\n")
        return value

    def write_log(
        self, records: list[dict[str, Any]], app: str | None = None, tail: str = ""
    ) -> Path:
        lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        return self.write(self.state_dir(app) / "events.log", lines + tail)

    def files(self) -> list[str]:
        """Every file under HOME (state, config, anything a tracker may have written)."""
        return sorted(str(p.relative_to(self.home)) for p in self.home.rglob("*") if p.is_file())

    # -- deciding and running --------------------------------------------------------------------
    def decide(self, **kwargs: Any) -> Decision:
        kwargs.setdefault("env", self.env)
        return decide(self.profile, **kwargs)

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        timeout: float = 30,
        script: list[str] | None = None,
        **env: str | None,
    ) -> Outcome:
        """``telemetry ARGS`` as a real subprocess (``python -m telemetry_cli``; for
        :data:`STRICT_PROFILE`, the host that mounts the commands for it)."""
        if script is None and self.profile == STRICT_PROFILE:
            from tests.support.strict_cli import MODULE

            script = [sys.executable, "-m", MODULE, *(["--cloud"] if self.cloud else [])]
        argv = (script or [sys.executable, "-m", "telemetry_cli"]) + list(args)
        proc = subprocess.run(
            argv,
            cwd=cwd or self.cwd,
            env=self.env_with(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        no_traceback(proc.stdout, proc.stderr)
        return Outcome(proc.returncode, proc.stdout, proc.stderr, tuple(args))

    # -- the tracker's side (the ``tracking_world`` fixture sets the profile and the collector) ---
    def tracked_profile(self, endpoint: str | None = ..., **changes: Any):
        """The ``testapp`` profile, pointed at this world's collector unless ``endpoint``."""
        from tests.support.tracking import make_profile

        return make_profile(self.collector_url if endpoint is ... else endpoint, **changes)

    def acknowledge(self, **changes: Any) -> None:
        """The user has seen the notice already (so this run may send)."""
        from tracking.state import acknowledge_notice

        acknowledge_notice(self.tracked_profile(**changes))

    def spool(self):
        """The tracked profile's spool (in this world's state dir)."""
        from tracking.spool import Spool

        return Spool.for_state_dir(str(self.state_dir()))

    def wait_delivered(self, timeout: float = 20.0) -> bool:
        """Wait until nothing waits in the spool and no uploader holds its lock (bounded)."""
        from tests.support.tracking import settle

        return settle(self.spool(), timeout)

    def _host_env(self, env: dict[str, str] | None, endpoint: str | None) -> dict[str, str]:
        run_env = dict(self.env)
        url = self.collector_url if endpoint is ... else endpoint
        if url is not None:
            run_env["HOST_COLLECTOR"] = url
        run_env.update(env or {})
        return run_env

    def start_host(
        self, env: dict[str, str] | None = None, endpoint: str | None = ..., cwd: Path | None = None
    ) -> subprocess.Popen[str]:
        """The host program (``tests/support/host.py``) started in ``cwd`` (the project)."""
        from tests.support.tracking import HOST_MODULE

        return subprocess.Popen(
            [sys.executable, "-m", HOST_MODULE],
            env=self._host_env(env, endpoint),
            cwd=cwd or self.project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )

    def run_host(
        self,
        env: dict[str, str] | None = None,
        endpoint: str | None = ...,
        cwd: Path | None = None,
        timeout: float = 60.0,
        terminal: bool = False,
    ):
        """Run the host program to its end; its reports and timings as a ``HostRun``.

        ``terminal``: its stderr is a real pty, as for a user at a terminal (where the first-run
        notice counts as told); else a pipe, as in a log or a CI job."""
        from tests.support.tracking import HOST_MODULE, finish_host, run_host_on_terminal

        if terminal:
            argv = [sys.executable, "-m", HOST_MODULE]
            return run_host_on_terminal(
                argv, self._host_env(env, endpoint), cwd or self.project, timeout
            )
        started = time.time()
        return finish_host(self.start_host(env, endpoint, cwd), started, timeout)


def make_world(root: Path, monkeypatch: Any, profile: AppProfile = DEFAULT_PROFILE) -> World:
    """A :class:`World` at ``root`` that this process lives in too (``os.environ``, the cwd)."""
    world = World(root, profile)
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(world.cwd)
    return world


__all__ = [
    "REPO",
    "STRICT_PROFILE",
    "Outcome",
    "World",
    "make_world",
    "no_traceback",
    "scrubbed",
]
