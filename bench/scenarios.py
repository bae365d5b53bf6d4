"""The scenarios of issue #5, each host run a fresh process in a fresh isolated world.

Every function returns ``{side: [Run, ...]}``; a Run's ``server`` dict holds what the collector
or fault server saw during that run. Which figures are read from them is report.py's business.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from measure import Run, World, make_world, run_process
from servers import CollectorProcess, Sink, fault_server, replay_rate

HOSTS = Path(__file__).resolve().parent / "hosts"
#: A loopback port nothing listens on: where "off" hosts would send if consent let them.
NOWHERE = "http://127.0.0.1:9"


@dataclass(frozen=True)
class Side:
    name: str  # "ours" | "dbt"
    python: str
    script: Path


@dataclass
class Config:
    events: int = 500
    throughput_events: int = 100_000
    runs: int = 5
    blackhole_runs: int = 3  # ours; dbt's black hole gets dbt_long_runs
    throughput_runs: int = 3  # ours
    dbt_long_runs: int = 1  # dbt's black hole, slow and throughput (35-90 s each)
    decide_calls: int = 1000
    slow_delay: float = 2.0
    timeout: float = 300.0
    dbt_blackhole_cap: float = 120.0


class Bench:
    def __init__(self, config: Config, sides: list[Side], log) -> None:
        self.config = config
        self.sides = sides
        self.log = log
        self._collector: CollectorProcess | None = None

    # -- plumbing ------------------------------------------------------------------------
    @property
    def collector(self) -> CollectorProcess:
        if self._collector is None:
            self._collector = CollectorProcess()
        return self._collector

    def close(self) -> None:
        if self._collector is not None:
            self._collector.stop()

    def world(self, side: Side, env: dict[str, str] | None = None) -> World:
        world = make_world(env)
        if side.name == "ours":
            _acknowledge_notice(world)
        return world

    def host(self, side: Side, mode: str, events: int, url: str, *,
             env: dict[str, str] | None = None, timeout: float | None = None) -> Run:
        world = self.world(side, env)
        try:
            run = run_process([side.python, str(side.script), mode, str(events), url], world,
                              timeout or self.config.timeout)
        finally:
            world.remove()
        if run.rc != 0 or not run.report:
            what = "killed at the cap" if run.killed else f"exit {run.rc}"
            self.log(f"    ! {side.name} {mode}: {what}; stderr: {run.stderr.strip()[-400:]!r}")
        return run

    def warm_up(self) -> None:
        """One discarded run per side, so .pyc files and the page cache are warm for all."""
        for side in self.sides:
            self.host(side, "run", 20, self.collector.url)
            self.host(side, "run", 20, NOWHERE, env={"DO_NOT_TRACK": "1"})

    def _runs(self, side: Side, default: int, dbt: int | None = None) -> int:
        return dbt if side.name == "dbt" and dbt is not None else default

    # -- scenarios -----------------------------------------------------------------------
    def baseline(self) -> dict[str, list[Run]]:
        """``python -c pass`` with each side's interpreter: what any process costs."""
        out: dict[str, list[Run]] = {}
        for side in self.sides:
            runs = []
            for _ in range(self.config.runs):
                world = make_world()
                try:
                    runs.append(run_process([side.python, "-c", "pass"], world, 60))
                finally:
                    world.remove()
            out[side.name] = runs
        return out

    def off(self) -> dict[str, list[Run]]:
        return {side.name: [self.host(side, "run", self.config.events, NOWHERE,
                                      env={"DO_NOT_TRACK": "1"})
                            for _ in range(self.config.runs)]
                for side in self.sides}

    def healthy(self) -> dict[str, list[Run]]:
        return {side.name: [self._collected(side, "run", self.config.events)
                            for _ in range(self.config.runs)]
                for side in self.sides}

    def throughput(self) -> dict[str, object]:
        """Ours paced (the sustained rate), ours as one burst (drops by design), dbt (synchronous,
        so never dropping); and two ceilings: ours to a sink that validates nothing, and the
        collector itself fed a captured batch back to back."""
        c = self.config
        n = c.throughput_events
        out: dict[str, object] = {}
        for side in self.sides:
            if side.name != "ours":
                out[side.name] = [self._collected(side, "throughput", n)
                                  for _ in range(c.dbt_long_runs)]
                continue
            out["ours"] = [self._collected(side, "paced", n) for _ in range(c.throughput_runs)]
            out["ours_burst"] = [self._collected(side, "throughput", n)
                                 for _ in range(c.throughput_runs)]
            sink = Sink()
            try:
                run = self.host(side, "paced", n, sink.url)
                run.server = {"good": sink.events, "requests": sink.requests}
                body = sink.first_body
            finally:
                sink.stop()
            out["ours_sink"] = [run]
            if body is not None:
                self.collector.reset()
                out["collector_ceiling"] = replay_rate(self.collector.url, body,
                                                       seconds=2.0 if n >= 10_000 else 0.3)
        return out

    def _collected(self, side: Side, mode: str, events: int) -> Run:
        collector = self.collector
        collector.reset()
        run = self.host(side, mode, events, collector.url)
        run.server = collector.settle()
        return run

    def fault(self, kind: str, **options) -> dict[str, list[Run]]:
        c = self.config
        out: dict[str, list[Run]] = {}
        for side in self.sides:
            if kind == "blackhole":
                count = self._runs(side, c.blackhole_runs, c.dbt_long_runs)
            elif kind == "slow":
                count = self._runs(side, c.runs, c.dbt_long_runs)
            else:
                count = c.runs
            cap = c.dbt_blackhole_cap if kind == "blackhole" and side.name == "dbt" else None
            runs = []
            for _ in range(count):
                server = fault_server(kind, **options)
                try:
                    run = self.host(side, "run", c.events, server.url, timeout=cap)
                    run.server = {"requests": server.requests}
                finally:
                    server.stop()
                runs.append(run)
            out[side.name] = runs
        return out

    def decide(self) -> dict[str, list[Run]]:
        """``telemetry status --json`` (whole process) and N in-process ``consent.decide()``."""
        status_cmd = _telemetry_command()
        status_runs, inproc_runs = [], []
        for _ in range(self.config.runs):
            world = _decide_world()
            try:
                status_runs.append(run_process([*status_cmd, "status", "--json"], world, 60))
            finally:
                world.remove()
        for _ in range(max(1, min(3, self.config.runs))):
            world = _decide_world()
            try:
                inproc_runs.append(run_process(
                    [sys.executable, str(HOSTS / "decide_host.py"), str(self.config.decide_calls)],
                    world, 120))
            finally:
                world.remove()
        return {"status": status_runs, "inprocess": inproc_runs}


def _acknowledge_notice(world: World) -> None:
    """The first-run notice, acknowledged in the world's state dir (else nothing is sent)."""
    from consent.state import acknowledge_notice

    from hosts.ours_profile import make_profile

    keys = ("HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: world.env[k] for k in keys})
    try:
        acknowledge_notice(make_profile(None))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _decide_world() -> World:
    """Every layer present for the default (dbt) profile; all of them say "on"."""
    world = make_world({"DBT_SEND_ANONYMOUS_USAGE_STATS": "true"})
    env = world.env
    policy = Path(env["XDG_CONFIG_DIRS"]) / "dbt" / "telemetry-policy.toml"
    policy.parent.mkdir(parents=True)
    policy.write_text('telemetry = "on"\n')
    user = Path(env["XDG_CONFIG_HOME"]) / "dbt" / "telemetry.toml"
    user.parent.mkdir(parents=True)
    user.write_text("send_anonymous_usage_stats = true\n")
    (world.cwd / "dbt_project.yml").write_text(
        "name: bench\nversion: '1.0'\nflags:\n  send_anonymous_usage_stats: true\n")
    (Path(env["HOME"]) / ".dbt" / "profiles.yml").write_text(
        "config:\n  send_anonymous_usage_stats: true\nbench:\n  target: dev\n")
    return world


def _telemetry_command() -> list[str]:
    """The ``telemetry`` console script next to this interpreter (else ``-m consent.cli``)."""
    script = Path(sys.executable).parent / "telemetry"
    return [str(script)] if script.exists() else [sys.executable, "-m", "consent.cli"]
