"""The servers hosts send to, all on 127.0.0.1: the real collector as its own process
(``python -m telemetry_collector``), fault servers (in this process, to read ``.requests``), and
an eid-counting pass-through (duplicates are counted by the bench itself)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# The broken collectors are the tests' own (tests/support/faults.py, not shipped): the bench runs
# from the repository, whose root is not on sys.path of a script in bench/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.faults import FaultServer

#: The Iglu schemas dbt-core 1.10's events name (dbt.tracking's ``*_SPEC`` constants). The
#: collector ships only Snowplow's and ours; permissive stand-ins let dbt's events count as
#: good (its envelope is still fully checked), so "delivered" means the same for both sides.
DBT_SCHEMAS = (
    "adapter_info/1-0-1",
    "deprecation_warn/1-0-0",
    "deprecated_version_invocation/1-0-0",
    "behavior_change_warn/1-0-0",
    "experimental_parser/1-0-0",
    "invocation_env/1-0-0",
    "invocation/1-0-2",
    "load_all_timing/1-0-3",
    "package_install/1-0-0",
    "partial_parser/1-0-1",
    "platform/1-0-0",
    "project_id/1-0-1",
    "resource_counts/1-0-1",
    "rpc_request/1-0-1",
    "runnable/1-0-0",
    "run_model/1-1-0",
    "plugin_get_nodes/1-0-0",
    "artifact_upload/1-0-0",
)


def write_dbt_schemas(root: Path) -> Path:
    for item in DBT_SCHEMAS:
        name, version = item.split("/")
        target = root / "com.dbt" / name / "jsonschema" / version
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            json.dumps(
                {
                    "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
                    "self": {
                        "vendor": "com.dbt",
                        "name": name,
                        "format": "jsonschema",
                        "version": version,
                    },
                    "type": "object",
                }
            )
        )
    return root


def _wait_ready(ready: Path, proc: subprocess.Popen, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists():
            return ready.read_text().strip()
        if proc.poll() is not None:
            raise RuntimeError(f"collector exited with {proc.returncode}")
        time.sleep(0.02)
    proc.kill()
    raise RuntimeError("collector did not start")


class CollectorProcess:
    """``python -m telemetry_collector`` on 127.0.0.1 (a free port, or ``port``), with dbt's
    schema stand-ins."""

    def __init__(self, port: int = 0) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="bench-collector-"))
        schemas = write_dbt_schemas(self._dir / "schemas")
        ready = self._dir / "ready"
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "telemetry_collector",
                "--port",
                str(port),
                "--ready-file",
                str(ready),
                "--schema-root",
                str(schemas),
                "--max-events",
                "1000",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.url = _wait_ready(ready, self._proc)

    def wait_total(self, total: int, limit: float = 20.0, poll: float = 0.005) -> float | None:
        """Wall-clock time (``time.time()``) at which ``/micro/all`` first counted ``total``
        events, or None after ``limit`` seconds."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.totals()["total"] >= total:
                return time.time()
            time.sleep(poll)
        return None

    def _get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def totals(self) -> dict:
        return self._get("/micro/all")

    def reset(self) -> None:
        request = urllib.request.Request(
            self.url + "/micro/reset",
            data=b"{}",
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def settle(self, quiet: float = 0.15, limit: float = 10.0) -> dict:
        """Totals once they stop moving (requests already in flight when a host exits)."""
        last, stable_since, deadline = self.totals(), time.monotonic(), time.monotonic() + limit
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.totals()
            if now != last:
                last, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since >= quiet:
                break
        return last

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()


class EidCounter:
    """A pass-through in front of the collector, on ``port``, that counts every event id it
    forwards: delivered (distinct eids) and duplicates, counted here by the bench itself, not
    read from the collector's entries (their shapes are the collector's business)."""

    def __init__(self, collector_url: str, port: int = 0) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        counter = self
        self.eids: dict[str, int] = {}
        self._lock = threading.Lock()
        target = urlsplit(collector_url)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                try:
                    conn.request(
                        "POST", self.path, body, {"Content-Type": "application/json; charset=utf-8"}
                    )
                    answer = conn.getresponse()
                    payload, status = answer.read(), answer.status
                finally:
                    conn.close()
                if 200 <= status < 300:
                    try:
                        eids = [event.get("eid", "") for event in json.loads(body)["data"]]
                    except (ValueError, KeyError, TypeError, AttributeError):
                        eids = []
                    with counter._lock:
                        for eid in eids:
                            counter.eids[eid] = counter.eids.get(eid, 0) + 1
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address) -> None:
                pass

        self._server = Server(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def distinct(self) -> int:
        with self._lock:
            return len(self.eids)

    @property
    def duplicates(self) -> int:
        with self._lock:
            return sum(n - 1 for n in self.eids.values())

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def fault_server(kind: str, **options) -> FaultServer:
    """A started fault server on 127.0.0.1 (``blackhole``, ``refused``, ``status``, ``slow``)."""
    return FaultServer(kind, **options).start()
