"""The servers hosts send to, all on 127.0.0.1: the real collector as its own process
(``python -m tracking.collector``), and fault servers (in this process, to read ``.requests``)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tracking.collector import FaultServer

#: The Iglu schemas dbt-core 1.10's events name (dbt.tracking's ``*_SPEC`` constants). The
#: collector ships only Snowplow's and ours; permissive stand-ins let dbt's events count as
#: good (its envelope is still fully checked), so "delivered" means the same for both sides.
DBT_SCHEMAS = (
    "adapter_info/1-0-1", "deprecation_warn/1-0-0", "deprecated_version_invocation/1-0-0",
    "behavior_change_warn/1-0-0", "experimental_parser/1-0-0", "invocation_env/1-0-0",
    "invocation/1-0-2", "load_all_timing/1-0-3", "package_install/1-0-0", "partial_parser/1-0-1",
    "platform/1-0-0", "project_id/1-0-1", "resource_counts/1-0-1", "rpc_request/1-0-1",
    "runnable/1-0-0", "run_model/1-1-0", "plugin_get_nodes/1-0-0", "artifact_upload/1-0-0",
)


def write_dbt_schemas(root: Path) -> Path:
    for item in DBT_SCHEMAS:
        name, version = item.split("/")
        target = root / "com.dbt" / name / "jsonschema" / version
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({
            "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
            "self": {"vendor": "com.dbt", "name": name, "format": "jsonschema", "version": version},
            "type": "object",
        }))
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
    """``python -m tracking.collector --port 0`` on 127.0.0.1, with dbt's schema stand-ins."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="bench-collector-"))
        schemas = write_dbt_schemas(self._dir / "schemas")
        ready = self._dir / "ready"
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tracking.collector", "--port", "0", "--ready-file", str(ready),
             "--schema-root", str(schemas), "--max-events", "1000"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = _wait_ready(ready, self._proc)

    def _get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def totals(self) -> dict:
        return self._get("/micro/all")

    def reset(self) -> None:
        self._get("/micro/reset")

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


def fault_server(kind: str, **options) -> FaultServer:
    """A started fault server on 127.0.0.1 (``blackhole``, ``refused``, ``status``, ``slow``)."""
    return FaultServer(kind, **options).start()


class Sink:
    """An HTTP server on 127.0.0.1 that answers every POST 200 at once, without validating:
    what a sender achieves when the collector costs nothing. Counts events (the ``data`` list of
    each tp2 body) and keeps the first body, to replay against the real collector."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        sink = self
        self.events = 0
        self.requests = 0
        self.first_body: bytes | None = None
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    count = len(json.loads(body)["data"])
                except (ValueError, KeyError, TypeError):
                    count = 0
                with sink._lock:
                    sink.requests += 1
                    sink.events += count
                    if sink.first_body is None and count > 1:
                        sink.first_body = body
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # a client closing without reading the answer resets the connection

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def replay_rate(url: str, body: bytes, seconds: float = 2.0) -> float:
    """Events/s the collector at ``url`` accepts when ``body`` (a tp2 batch) is posted back to
    back on one keep-alive connection: the ceiling for any single-connection sender."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    per_body = len(json.loads(body)["data"])
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    sent, start = 0, time.perf_counter()
    try:
        while time.perf_counter() - start < seconds:
            conn.request("POST", "/com.snowplowanalytics.snowplow/tp2", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if 200 <= response.status < 300:
                sent += per_body
    finally:
        conn.close()
    return sent / (time.perf_counter() - start)
