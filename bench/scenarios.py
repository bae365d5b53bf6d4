"""The scenarios, each host run a fresh process in a fresh isolated world.

Every function returns a dict of lists of :class:`~measure.Run` (``{"ours": [...], "dbt":
[...]}``, or named series); a Run's ``server`` dict holds what the collector, fault server or eid
counter saw, and ``extra`` what the harness measured around it (when the events arrived, what
the uploader reported). Which figures are read from them is report.py's business.

Measuring a host that leaves an uploader behind needs care on a small, shared machine:

- before each timed run of ours, the harness waits until none of its uploaders runs (so that no
  run shares the CPU with the previous run's delivery);
- wall-time figures that compare two runs come from **interleaved pairs** (off, on; healthy,
  fault) run back to back, at least 15 of them, and the table shows the median of the paired
  differences with its interquartile range: drift of the machine's load cancels out.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from measure import (
    Run,
    World,
    bench_uploaders,
    make_world,
    run_on_pty,
    run_process,
    spool_idle,
    spool_state,
    spool_waiting,
    wait_no_uploader,
)
from servers import CollectorProcess, EidCounter, fault_server

HOSTS = Path(__file__).resolve().parent / "hosts"
#: A loopback port nothing listens on: where "off" hosts would send if consent let them.
NOWHERE = "http://127.0.0.1:9"
APP = "benchapp"  # hosts/ours_profile.py
#: Faults of the issue, as (row label, FaultServer kind, options).
FAULTS = (
    ("refused", "refused", {}),
    ("HTTP 500", "status", {"status": 500}),
    ("black hole", "blackhole", {}),
    ("slow (answers after 5 s)", "slow", {"delay": 5.0}),
    ("closes mid-answer", "close", {}),
)
#: How long the opt-in question waits on a terminal where nobody answers (the profile's default
#: is 15 s; a user may set ``<PREFIX>TELEMETRY_PROMPT_TIMEOUT``, as here).
PROMPT_TIMEOUT_S = 0.5
#: The opt-in tool where it must not ask, then where it asks and nobody answers, as (row label,
#: how stdin is given: "pipe" or a real "pty", extra env for both runs of a pair).
OPT_IN_CASES = (
    ("opt-in, stdin a pipe", "pipe", {}),
    ("opt-in, CI=true on a terminal", "pty", {"CI": "true"}),
    (
        "opt-in, terminal, nobody answers",
        "pty",
        {"BENCHAPP_TELEMETRY_PROMPT_TIMEOUT": str(PROMPT_TIMEOUT_S)},
    ),
)
#: The cap on one opt-in run: a host that waited on its stdin would be killed here, not hang.
OPT_IN_CAP_S = 60.0
#: The spool's bounds raised for the throughput scenario (the default keeps 10,000 events).
UNBOUNDED = {
    "BENCHAPP_TELEMETRY_SPOOL_MAX_EVENTS": "10000000",
    "BENCHAPP_TELEMETRY_SPOOL_MAX_BYTES": str(1 << 33),
}


@dataclass(frozen=True)
class Side:
    name: str  # "ours" | "dbt"
    python: str
    script: Path


@dataclass
class Config:
    events: int = 500
    pairs: int = 15
    runs: int = 5  # dbt's unpaired fault runs, decide runs
    throughput_events: int = 100_000
    throughput_runs: int = 3
    outage_runs: int = 5
    dbt_long_runs: int = 1  # dbt's black hole, slow and throughput (35-90 s each)
    decide_calls: int = 1000
    timeout: float = 300.0
    dbt_blackhole_cap: float = 120.0
    #: Processes are counted this long after the last host of the fault scenarios exited.
    orphan_check_s: float = 35.0


class Bench:
    def __init__(self, config: Config, sides: list[Side], log) -> None:
        self.config = config
        self.sides = sides
        self.log = log
        self._collector: CollectorProcess | None = None
        self.last_fault_exit: float | None = None

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

    def _side(self, name: str) -> Side | None:
        return next((s for s in self.sides if s.name == name), None)

    def host(
        self,
        side: Side,
        mode: str,
        events: int,
        url: str,
        world: World,
        *,
        timeout: float | None = None,
        after_uploader: bool = True,
    ) -> Run:
        """One host run in ``world`` (kept: the caller removes it). ``after_uploader``: wait
        first until no uploader of ours runs (every timed run does)."""
        if side.name == "ours" and after_uploader:
            waited = wait_no_uploader()
            if waited > 30:
                self.log(f"    ! waited {waited:.0f} s for a previous uploader to end")
        run = run_process(
            [side.python, str(side.script), mode, str(events), url],
            world,
            timeout or self.config.timeout,
        )
        if run.rc != 0 or not run.report:
            what = "killed at the cap" if run.killed else f"exit {run.rc}"
            self.log(f"    ! {side.name} {mode}: {what}; stderr: {run.stderr.strip()[-400:]!r}")
        return run

    def once(
        self,
        side: Side,
        mode: str,
        events: int,
        url: str,
        *,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Run:
        world = self.world(side, env)
        try:
            return self.host(side, mode, events, url, world, timeout=timeout)
        finally:
            if side.name == "ours":
                spool_idle(world, APP)
            world.remove()

    def warm_up(self) -> None:
        """One discarded run per side, so .pyc files and the page cache are warm for all."""
        for side in self.sides:
            self.once(side, "run", 20, self.collector.url)
            self.once(side, "run", 20, NOWHERE, env={"DO_NOT_TRACK": "1"})

    def _healthy(self, side: Side) -> Run:
        """A healthy run, measured until its events are at the collector and delivery is over."""
        collector = self.collector
        collector.reset()
        world = self.world(side)
        try:
            run = self.host(side, "run", self.config.events, collector.url, world)
            expected = self.config.events + 2
            arrived = collector.wait_total(expected, limit=20.0)
            run.extra["arrived_after_exit_s"] = (
                None if arrived is None else max(0.0, arrived - run.end_wall)
            )
            if side.name == "ours":
                spool_idle(world, APP)
                run.extra["uploader"] = spool_state(world, APP).get("last_upload") or {}
            run.server = collector.settle()
        finally:
            world.remove()
        return run

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

    def healthy(self) -> dict[str, list[Run]]:
        """Interleaved pairs per side: consent off, then consent on against a healthy collector.

        ``off`` and ``healthy`` hold the runs in pair order (off[i] and healthy[i] are a pair).
        """
        out: dict[str, list[Run]] = {}
        for side in self.sides:
            offs, ons = [], []
            for _ in range(self.config.pairs):
                offs.append(
                    self.once(side, "run", self.config.events, NOWHERE, env={"DO_NOT_TRACK": "1"})
                )
                ons.append(self._healthy(side))
            out[f"{side.name}_off"] = offs
            out[side.name] = ons
        return out

    def faults(self) -> dict[str, dict[str, list[Run]]]:
        """Per fault: ours in interleaved pairs (healthy, fault), each fault run kept until its
        uploader has given up, to count what still waits; dbt unpaired (its black hole and slow
        runs cost 85 s each)."""
        c = self.config
        out: dict[str, dict[str, list[Run]]] = {}
        for label, kind, options in FAULTS:
            self.log(f"  {label} ...")
            results: dict[str, list[Run]] = {}
            ours = self._side("ours")
            if ours is not None:
                healthy, faulty = [], []
                server = fault_server(kind, **options)
                try:
                    for _ in range(c.pairs):
                        healthy.append(self._healthy(ours))
                        faulty.append(self._fault_run(ours, server))
                finally:
                    server.stop()
                results["ours_healthy"], results["ours"] = healthy, faulty
            dbt = self._side("dbt")
            if dbt is not None:
                long = kind in ("blackhole", "slow")
                count = c.dbt_long_runs if long else c.runs
                cap = c.dbt_blackhole_cap if long else None
                runs = []
                for _ in range(count):
                    server = fault_server(kind, **options)
                    try:
                        run = self.once(dbt, "run", c.events, server.url, timeout=cap)
                        run.server = {"requests": server.requests}
                    finally:
                        server.stop()
                    runs.append(run)
                results["dbt"] = runs
            out[label] = results
        return out

    def _fault_run(self, side: Side, server) -> Run:
        world = self.world(side)
        try:
            before = server.requests
            run = self.host(side, "run", self.config.events, server.url, world)
            self.last_fault_exit = max(self.last_fault_exit or 0.0, run.end_wall)
            idle = spool_idle(world, APP)
            run.extra["uploader_ended"] = idle
            run.extra["waiting"] = spool_waiting(world, APP)
            state = spool_state(world, APP)
            run.extra["dropped"] = state.get("dropped") or {}
            run.extra["uploader"] = state.get("last_upload") or {}
            run.server = {"requests": server.requests - before}
        finally:
            world.remove()
        return run

    def orphans(self) -> dict[str, float | int | None]:
        """Our uploaders still running ``orphan_check_s`` after the last host of the fault
        scenarios exited (each should have ended by itself, long before its 30 s cap)."""
        if self.last_fault_exit is None:
            return {}
        wait = self.last_fault_exit + self.config.orphan_check_s - time.time()
        if wait > 0:
            self.log(f"  waiting {wait:.0f} s to count what is left ...")
            time.sleep(wait)
        return {"alive": len(bench_uploaders()), "after_s": time.time() - self.last_fault_exit}

    def recovery(self) -> dict[str, object]:
        """N runs against a dead collector (the port refuses), then one against a healthy one
        on the same address: how many of the recorded events arrive, lost, twice."""
        ours = self._side("ours")
        if ours is None:
            return {}
        c = self.config
        world = self.world(ours)
        counter: EidCounter | None = None
        try:
            dead = fault_server("refused")
            url, port = dead.url, dead.port
            recorded = started = 0
            try:
                # Commands run one after another, as a script or a user at work runs them: a
                # failing uploader may still be running (waiting out a short backoff) when the
                # next one ends. Spaced further apart, each run's uploader fails on its own and
                # the backoff grows past WAIT_OUT_S (16 s after 5): the first healthy run then
                # leaves the events to a later one (docs/delivery.md, "After an outage").
                for _ in range(c.outage_runs):
                    run = self.host(ours, "run", c.events, url, world, after_uploader=False)
                    recorded += run.report.get("stats", {}).get("recorded", 0)
                    started += run.report.get("counts", {}).get("processes_started", 0)
                spool_idle(world, APP)
            finally:
                dead.stop()
            waiting_after_outage = spool_waiting(world, APP)
            self.collector.reset()
            counter = EidCounter(self.collector.url, port)
            # The backoff the failures left. The healthy run does not wait for it: a short one
            # is the uploader's to wait out (docs/delivery.md, "After an outage").
            not_before = (spool_state(world, APP).get("backoff", {}).get(url) or {}).get(
                "not_before", 0.0
            )
            backoff_left = max(0.0, float(not_before) - time.time())
            back = time.monotonic()
            run = self.host(ours, "run", c.events, url, world)
            recorded += run.report.get("stats", {}).get("recorded", 0)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (
                spool_waiting(world, APP) or not spool_idle(world, APP, 0.1)
            ):
                time.sleep(0.05)
            recovered_s = time.monotonic() - back
            totals = self.collector.settle()
            return {
                "runs": c.outage_runs,
                "recorded": recorded,
                "uploads_during_outage": started,
                "waiting_after_outage": waiting_after_outage,
                "delivered": counter.distinct,
                "duplicates": counter.duplicates,
                "collector_good": totals.get("good"),
                "backoff_left_s": backoff_left,
                "recovered_s": recovered_s,
                "still_waiting": spool_waiting(world, APP),
            }
        finally:
            if counter is not None:
                counter.stop()
            spool_idle(world, APP)
            world.remove()

    def throughput(self) -> dict[str, object]:
        """Ours: the uploader alone, on a spool of N events recorded while the collector was
        down, timed as a process (start to exit) into the local collector. dbt: its
        synchronous emitter, events/s from the first event to the end of its flush."""
        c = self.config
        n = c.throughput_events
        out: dict[str, object] = {}
        ours = self._side("ours")
        if ours is not None:
            out["ours"] = [self._uploader_alone(ours, n) for _ in range(c.throughput_runs)]
        dbt = self._side("dbt")
        if dbt is not None:
            runs = []
            for _ in range(c.dbt_long_runs):
                collector = self.collector
                collector.reset()
                run = self.once(dbt, "throughput", n, collector.url)
                run.server = collector.settle()
                runs.append(run)
            out["dbt"] = runs
        return out

    def _uploader_alone(self, side: Side, events: int) -> Run:
        world = self.world(side, UNBOUNDED)
        collector: CollectorProcess | None = None
        try:
            dead = fault_server("refused")
            url, port = dead.url, dead.port
            try:
                self.host(side, "throughput", events, url, world, timeout=600)
                spool_idle(world, APP)
                # An uploader of the run may still be waiting out a short backoff (it retries
                # while a run records): let it fail against the dead port and end first, or it
                # would deliver part of the spool before the timed one starts.
                wait_no_uploader()
            finally:
                dead.stop()
            spooled = spool_waiting(world, APP)
            collector = CollectorProcess(port)
            spool = Path(world.env["XDG_STATE_HOME"]) / APP / "spool"
            # The uploader reads its settings from the environment it inherits.
            world.env.update(
                {
                    "BENCHAPP_TELEMETRY_UPLOAD_TIME_LIMIT": "300",
                    "BENCHAPP_TELEMETRY_BATCH_SIZE": "200",
                    "BENCHAPP_TELEMETRY_REQUEST_TIMEOUT": "30",
                }
            )
            wait_no_uploader()
            run = run_process(
                [
                    sys.executable,
                    "-m",
                    "tracking.uploader",
                    "--spool",
                    str(spool),
                    "--env-prefix",
                    "BENCHAPP_",
                    "--force",
                ],
                world,
                320,
            )
            report = spool_state(world, APP).get("last_upload") or {}
            run.server = collector.settle()
            run.extra.update(spooled=spooled, uploader=report)
            return run
        finally:
            if collector is not None:
                collector.stop()
            world.remove()

    def opt_in(self) -> dict[str, dict[str, object]]:
        """The opt-in profile (``consent_model="opt_in"``, nobody has answered) in interleaved
        pairs with the same host under the opt-out profile and consent off (DO_NOT_TRACK=1),
        per case of :data:`OPT_IN_CASES`: where it must not ask (stdin a pipe nobody writes
        to; CI=true on a real terminal) it must cost what consent off costs; on a terminal
        where nobody answers it waits the timeout, then goes on."""
        ours = self._side("ours")
        if ours is None:
            return {}
        out: dict[str, dict[str, object]] = {}
        for label, how, env in OPT_IN_CASES:
            self.log(f"  {label} ...")
            offs, opts = [], []
            for _ in range(self.config.pairs):
                offs.append(self._opt_in_run(ours, "run", how, {**env, "DO_NOT_TRACK": "1"}))
                opts.append(self._opt_in_run(ours, "opt_in", how, env))
            timeout = PROMPT_TIMEOUT_S if "BENCHAPP_TELEMETRY_PROMPT_TIMEOUT" in env else None
            out[label] = {"ours_off": offs, "ours": opts, "prompt_timeout_s": timeout}
        return out

    def _opt_in_run(self, side: Side, mode: str, how: str, env: dict[str, str]) -> Run:
        world = self.world(side, env)
        try:
            wait_no_uploader()
            argv = [side.python, str(side.script), mode, str(self.config.events), NOWHERE]
            if how == "pty":
                run = run_on_pty(argv, world, OPT_IN_CAP_S)
            else:
                run = run_process(argv, world, OPT_IN_CAP_S, stdin="pipe")
            if run.rc != 0 or not run.report:
                what = "killed at the cap" if run.killed else f"exit {run.rc}"
                self.log(f"    ! {side.name} {mode} ({how}): {what}; {run.stderr[-400:]!r}")
            run.extra["asked"] = "[y/N]" in run.stderr
        finally:
            world.remove()
        return run

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
                inproc_runs.append(
                    run_process(
                        [
                            sys.executable,
                            str(HOSTS / "decide_host.py"),
                            str(self.config.decide_calls),
                        ],
                        world,
                        120,
                    )
                )
            finally:
                world.remove()
        return {"status": status_runs, "inprocess": inproc_runs}


def _acknowledge_notice(world: World) -> None:
    """The first-run notice, acknowledged in the world's state dir (else nothing is sent)."""
    from hosts.ours_profile import make_profile

    from tracking.state import acknowledge_notice

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
        "name: bench\nversion: '1.0'\nflags:\n  send_anonymous_usage_stats: true\n"
    )
    (Path(env["HOME"]) / ".dbt" / "profiles.yml").write_text(
        "config:\n  send_anonymous_usage_stats: true\nbench:\n  target: dev\n"
    )
    return world


def _telemetry_command() -> list[str]:
    """The ``telemetry`` console script next to this interpreter (else ``-m consent.cli``)."""
    script = Path(sys.executable).parent / "telemetry"
    return [str(script)] if script.exists() else [sys.executable, "-m", "telemetry_cli"]
