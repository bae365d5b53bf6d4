"""Consent is obeyed to the letter: off means no socket and no file; a revocation stops what is
queued; the cloud edition is honest about being mandatory and cannot be faked from user files.

"No socket" is proven twice: an audit hook inside the host process that ends it at the first
``socket.*`` event (and another at the first file write), and — for the example tool, exactly as a
user runs it — ``strace -f -e trace=connect`` showing no ``connect`` at all.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import pytest

from consent.layers.user_config import write_user_choice
from tests.reliability import reliability_kit as kit
from tests.support.testapp_cli import MODULE as TESTAPP_CLI
from tests.support.tracking import finish_host, make_profile, wait_idle
from tests.support.world import REPO, STRICT_PROFILE
from tracking.state import acknowledge_notice

pytestmark = pytest.mark.reliability

JAFFLE = REPO / "examples" / "jaffle"


def _testapp_paths(world):
    return {
        "user_config": world.user_config_path("testapp"),
        "policy": world.policy_path(app="testapp"),
        "project_file": world.project / "testapp_project.yml",
    }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# -- consent off: nothing at all -------------------------------------------------------------------
OFF_REASONS = {
    "DO_NOT_TRACK=1": lambda w, p: {"DO_NOT_TRACK": "1"},
    "env var false": lambda w, p: {"TESTAPP_SEND_ANONYMOUS_USAGE_STATS": "false"},
    "project file false": lambda w, p: _write(
        p["project_file"], "name: shop\nflags:\n  send_anonymous_usage_stats: false\n"
    ),
    "user config false (telemetry disable)": lambda w, p: write_user_choice(
        w.tracked_profile(), False
    ),
    "admin lock off": lambda w, p: _write(p["policy"], 'telemetry = "off"\nlocked = true\n'),
    "garbage DO_NOT_TRACK (fail closed)": lambda w, p: {"DO_NOT_TRACK": "maybe"},
    "broken user config (fail closed)": lambda w, p: _write(p["user_config"], "send = [\n"),
}


@pytest.mark.parametrize("reason", list(OFF_REASONS))
def test_consent_off_opens_no_socket_and_writes_no_file(tracking_world, collector, reason):
    world = tracking_world
    world.acknowledge()  # even a user who was told long ago: off is off
    made = OFF_REASONS[reason](world, _testapp_paths(world))
    env = made if isinstance(made, dict) else {}
    before = kit.tree(world.root)

    run = world.run_host(
        endpoint=world.collector_url,
        env={**env, "HOST_FORBID_NETWORK": "1", "HOST_FORBID_WRITES": "1"},
    )

    assert "NETWORK USED" not in run.stderr, run.stderr
    assert "PROCESS STARTED" not in run.stderr, run.stderr
    assert "FILE WRITTEN" not in run.stderr, run.stderr
    assert run.returncode == 0, run.stderr
    assert run.stderr_lines == []
    assert run.report["plan"] == "off"
    assert run.report["threads_at_main_end"] == 1
    assert run.report["snowplow_imported"] is False
    assert run.report["requests_imported"] is False
    assert kit.tree(world.root) == before, "consent off, yet the file tree changed"
    assert collector.totals()["total"] == 0


def test_the_first_run_tells_the_user_and_opens_no_socket(tracking_world, collector):
    """Consent on but the user not told yet: the notice, and nothing sent in this run."""
    world = tracking_world
    run = world.run_host(endpoint=world.collector_url, env={"HOST_FORBID_NETWORK": "1"})
    assert run.returncode == 0
    assert "NETWORK USED" not in run.stderr
    assert "anonymous usage statistics" in run.stderr and "disable" in run.stderr
    assert collector.totals()["total"] == 0


@pytest.mark.parametrize("guard,code", [("HOST_FORBID_NETWORK", 97), ("HOST_FORBID_WRITES", 98)])
def test_the_guards_do_catch_a_tracking_host(tracking_world, guard, code):
    """The guards above are real: with consent on they stop the host at its first write (the
    spool) or at the uploader it starts at exit (the network guard also forbids processes)."""
    world = tracking_world
    world.acknowledge()
    run = world.run_host(endpoint=world.collector_url, env={guard: "1"})
    assert run.returncode == code, (run.returncode, run.stderr)


# -- the example tool under strace -----------------------------------------------------------------
def _jaffle(tmp: Path, env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, str]:
    demo = tmp / "demo"
    if not demo.exists():
        shutil.copytree(JAFFLE / "demo", demo)
        shutil.rmtree(demo / "target", ignore_errors=True)
    trace = tmp / f"strace-{time.monotonic_ns()}.txt"
    proc = subprocess.run(
        [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=connect",
            "-o",
            str(trace),
            sys.executable,
            str(JAFFLE),
            "run",
            *args,
        ],
        cwd=demo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc, trace.read_text()


@pytest.fixture
def jaffle_env(tracking_world):
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (CI installs it with apt: .ci/run)")
    probe = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=connect", "-o", os.devnull, "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here ({probe.stderr.strip()[:200]})")
    env = {k: v for k, v in tracking_world.env.items() if not k.startswith("JAFFLE_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.mark.parametrize(
    "off",
    [
        {"DO_NOT_TRACK": "1"},
        {"JAFFLE_SEND_ANONYMOUS_USAGE_STATS": "0"},
        "--no-send-anonymous-usage-stats",
    ],
    ids=str,
)
def test_the_example_tool_makes_no_connect_call_when_off(tracking_world, jaffle_env, tmp_path, off):
    world = tracking_world
    acknowledge_notice(replace(make_profile(None), name="jaffle"))  # told long ago
    before = kit.tree(world.home)
    env, args = (dict(jaffle_env), ())
    if isinstance(off, dict):
        env.update(off)
    else:
        args = (off,)
    proc, trace = _jaffle(tmp_path, env, *args)

    assert proc.returncode == 0, proc.stderr
    assert "Done: 4 of 4 models built" in proc.stdout  # the tool really ran
    connects = [line for line in trace.splitlines() if "connect(" in line]
    assert connects == [], "connect() with consent off:\n" + "\n".join(connects)
    assert proc.stderr == ""
    assert kit.tree(world.home) == before


def test_strace_does_see_the_example_tool_connect_when_on(
    tracking_world, collector, jaffle_env, tmp_path
):
    """The strace check is real: consent on, told, a collector: connect() shows up."""
    acknowledge_notice(replace(make_profile(None), name="jaffle"))
    env = {
        **jaffle_env,
        "JAFFLE_TELEMETRY_ENDPOINT": collector.url,
        "JAFFLE_TELEMETRY_FLUSH_DEADLINE": "10",
    }
    proc, trace = _jaffle(tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert f"htons({collector.port})" in trace
    assert collector.wait_for(good=6, timeout=10)


# -- revocation ------------------------------------------------------------------------------------
def _cli_in_another_process(world, *args: str) -> subprocess.CompletedProcess:
    """``mytool telemetry ARGS`` for the testapp profile, as a separate process (a host's mount)."""
    return subprocess.run(
        [sys.executable, "-m", TESTAPP_CLI, world.collector_url, *args],
        cwd=world.project,
        env=world.env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("scope", ["--global", "--project"])
def test_events_recorded_before_disable_are_never_sent(tracking_world, collector, tmp_path, scope):
    """`telemetry disable` (run from another process while the host still runs) deletes what the
    run recorded: its uploader finds nothing to send, and no anonymous id is ever made."""
    world = tracking_world
    world.acknowledge()
    _write(_testapp_paths(world)["project_file"], "name: shop\n")
    ack, go = tmp_path / "recorded", tmp_path / "go"
    started = time.time()
    host = world.start_host(
        endpoint=world.collector_url, env={"HOST_ACK_FILE": str(ack), "HOST_WAIT_FILE": str(go)}
    )
    deadline = time.monotonic() + 30
    while not ack.exists() and time.monotonic() < deadline and host.poll() is None:
        time.sleep(0.01)
    assert ack.exists(), "the host never finished recording"
    assert world.spool().waiting().events == 52

    cli = _cli_in_another_process(world, "disable", scope)
    go.touch()
    run = finish_host(host, started)
    assert wait_idle(world.spool(), 20)

    assert cli.returncode == 0, cli.stderr
    assert "Deleted 52 events that were waiting to be sent." in cli.stdout
    assert run.returncode == 0 and run.stderr_lines == [], run.stderr
    assert run.report["stats"]["recorded"] == 52
    assert collector.totals()["total"] == 0
    assert world.spool().waiting().events == 0
    assert not (world.state_dir() / "events.log").exists()
    assert not (world.state_dir() / "anonymous_id").exists()


class _DisableThen503(http.server.BaseHTTPRequestHandler):
    """A collector that fails the first POST — and the user turns telemetry off meanwhile."""

    requests: ClassVar[list[float]] = []
    disable = staticmethod(lambda: None)

    def do_POST(self):  # http.server names it so
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).requests.append(time.time())
        if len(type(self).requests) == 1:
            type(self).disable()
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_retry_after_disable_is_never_sent(tracking_world):
    """The uploader's own check: the opt-out is written (not through the CLI, so nothing empties
    the spool) while the collector fails the first attempt; the retry a second later sees it."""
    world = tracking_world
    world.acknowledge()
    _DisableThen503.requests = []
    _DisableThen503.disable = staticmethod(
        lambda: write_user_choice(world.tracked_profile(), False)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DisableThen503)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        run = world.run_host(endpoint=f"http://127.0.0.1:{server.server_port}")
        assert wait_idle(world.spool(), 20)
        time.sleep(1.5)  # a retry (one second after the failure) would be here by now
    finally:
        server.shutdown()
        server.server_close()

    assert run.returncode == 0 and run.stderr_lines == [], run.stderr
    assert len(_DisableThen503.requests) == 1, "a batch was sent again after `telemetry disable`"
    waiting = world.spool().waiting()
    assert waiting.events == 0 and waiting.dropped == {"revoked": 52}


# -- the cloud edition -----------------------------------------------------------------------------
def test_cloud_edition_is_mandatory_and_says_so_honestly(world):
    # The cloud edition comes from the host's code (a cloud build): the strict test profile's
    # host, since dbt never reads our user config or an edition.
    world.profile, world.cloud = STRICT_PROFILE, True
    world.project_flag("false")
    world.user_flag("false")
    env = {"DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "COLUMNS": "200"}

    doc = world.run("status", "--json", **env).json()
    text = world.run("status", **env)
    disable = world.run("disable", **env)
    disable_project = world.run("disable", "--project", **env)

    assert (doc["enabled"], doc["mandatory"], doc["edition"]["name"]) == (True, True, "cloud")
    overridden = {layer["name"] for layer in doc["layers"] if layer["status"] == "overridden"}
    assert {"do_not_track", "env_var", "project_file", "user_config"} <= overridden
    assert "cannot be turned off" in text.out
    for opt_out in ("DO_NOT_TRACK=1", "DBT_SEND_ANONYMOUS_USAGE_STATS=false"):
        assert opt_out in text.out
    assert disable.code == 3 and disable_project.code == 3
    assert world.user_config_path().read_text() == "send_anonymous_usage_stats = false\n"
    assert "send_anonymous_usage_stats: false" in world.project_file_path().read_text()


FAKE_CLOUD = {
    "project file, top level": ("project", "name: jaffle\nedition: cloud\n"),
    "project file, under flags": ("project", "name: jaffle\nflags:\n  edition: cloud\n"),
    "user config": ("user", 'edition = "cloud"\n'),
    "user config, table": ("user", '[policy]\nedition = "cloud"\n'),
}


@pytest.mark.parametrize("case", list(FAKE_CLOUD))
def test_no_project_or_user_file_can_turn_on_the_cloud_edition(world, case):
    where, text = FAKE_CLOUD[case]
    (world.write_project if where == "project" else world.write_user)(text)
    doc = world.run("status", "--json", DBT_EDITION="cloud", TELEMETRY_EDITION="cloud").json()
    assert doc["edition"]["name"] == "core"
    assert doc["mandatory"] is False
    # ...so an opt-out still works there:
    off = world.run("status", "--json", DO_NOT_TRACK="1").json()
    assert off["enabled"] is False


@pytest.mark.parametrize(
    "where,text",
    [
        ("user", 'edition = "core"\n'),
        ("project", "name: jaffle\nedition: core\n"),
        ("project", "name: jaffle\nflags:\n  edition: core\n"),
    ],
)
def test_no_project_or_user_file_can_leave_the_cloud_edition(world, where, text):
    world.profile, world.cloud = STRICT_PROFILE, True  # the host's code passes the cloud edition
    (world.write_project if where == "project" else world.write_user)(text)
    doc = world.run("status", "--json", DBT_EDITION="core").json()
    assert (doc["edition"]["name"], doc["enabled"], doc["mandatory"]) == ("cloud", True, True)


# -- where events may go ---------------------------------------------------------------------------
#: Plain http is for loopback only. Each of these tries to smuggle events to another machine.
NOT_LOOPBACK = [
    "http://192.0.2.1:80",
    "http://127.0.0.1@192.0.2.1",
    "http://localhost:80@192.0.2.1",
    "http://localhost.evil.example",
    "http://127.0.0.1.nip.io",
    "http://[::ffff:192.0.2.1]",
    "http://0x7f000001",
    "http://2130706433",
    "http://127.1",
    "http://0.0.0.0",
    "http://evil.example#@127.0.0.1",
    "http://127.0.0.1%2f@evil.example",
    "ftp://127.0.0.1",
    "http://127.0.0.1 .evil.example",
    "http://localhost\t.evil.example",
]


def _audit(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("endpoint", NOT_LOOPBACK)
def test_plain_http_never_leaves_the_machine(tracking_world, tmp_path, endpoint):
    world = tracking_world
    world.acknowledge()
    audit = tmp_path / "audit.jsonl"
    # CI=true: the host delivers in-process, so its audit hook would see any connect at all;
    # in CI a tool's own profile tracks only with an explicit opt-in.
    run = world.run_host(
        endpoint=world.collector_url,
        env={
            "TESTAPP_TELEMETRY_ENDPOINT": endpoint,
            "HOST_AUDIT_FILE": str(audit),
            "CI": "true",
            "TESTAPP_SEND_ANONYMOUS_USAGE_STATS": "true",
        },
    )
    assert run.returncode == 0 and "Traceback" not in run.stderr
    assert len(run.stderr_lines) == 1, run.stderr  # one line saying why nothing is sent
    assert "events are not sent" in run.stderr
    assert _audit(audit) == [], "a refused endpoint was still looked up or connected to"


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}",
        "http://localhost:{port}",
        "http://[::1]:{port}",
        "http://127.0.0.1:{port}/../x",
        "http://LOCALHOST.:{port}",
    ],
)
def test_loopback_endpoints_connect_to_loopback_only(tracking_world, tmp_path, collector, template):
    world = tracking_world
    world.acknowledge()
    audit = tmp_path / "audit.jsonl"
    # CI=true: the host delivers in-process, where its audit hook sees every look-up and connect;
    # in CI a tool's own profile tracks only with an explicit opt-in.
    run = world.run_host(
        endpoint=world.collector_url,
        env={
            "TESTAPP_TELEMETRY_ENDPOINT": template.format(port=collector.port),
            "HOST_AUDIT_FILE": str(audit),
            "CI": "true",
            "TESTAPP_SEND_ANONYMOUS_USAGE_STATS": "true",
        },
    )
    assert run.returncode == 0 and run.stderr_lines == [], run.stderr
    events = _audit(audit)
    assert events, "nothing was even tried"
    for event, target in events:
        if event == "socket.connect":
            assert target.startswith(("('127.", "('::1'")), f"connected to {target}"
        else:  # a name only /etc/hosts answers; anything else may be asked of a DNS server
            assert target in ("'127.0.0.1'", "'::1'", "'localhost'"), f"looked up {target}"
