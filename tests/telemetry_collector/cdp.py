"""Headless Chromium driven over the DevTools protocol on a pipe, standard library only.

Why this driver: ``--dump-dom`` shows one moment of a page and cannot watch it refresh itself or
answer a click; Selenium needs a second binary (chromedriver) and a package; the DevTools
WebSocket needs a WebSocket client.  ``--remote-debugging-pipe`` (what Playwright uses) speaks
the same protocol over two file descriptors, 3 (commands in) and 4 (answers and events out),
each message a JSON text ended by a NUL byte.  So the test can load a page, wait for the DOM to
reach a state (bounded), click, read every request the page made, and take a screenshot.

Chromium runs with the flags a closed, root-run machine needs: ``--no-sandbox`` (root),
``--disable-background-networking`` and friends (otherwise it keeps trying to reach Google),
and a fresh ``--user-data-dir``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
)
CALL_TIMEOUT = 30.0
_ONTO_3_AND_4 = (
    "import os, sys\n"
    "src_in, src_out = int(sys.argv[1]), int(sys.argv[2])\n"
    "os.dup2(src_in, 3); os.dup2(src_out, 4); os.close(src_in); os.close(src_out)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One headless browser with one page (a target attached in flat mode); *flags* are passed
    to Chromium after the ones above (e.g. ``--host-resolver-rules`` to map a name)."""

    def __init__(
        self,
        executable: str,
        profile_dir: Path,
        *,
        width: int = 1280,
        height: int = 800,
        flags: Sequence[str] = (),
    ) -> None:
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        # The child's ends go to fds 3 and 4 in a tiny Python trampoline that then execs
        # Chromium (subprocess cannot renumber fds, and preexec_fn is unsafe in a threaded
        # test). They are first moved above 9 so that neither can be clobbered by the other.
        child_in = fcntl.fcntl(commands_read, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(answers_write, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (commands_read, answers_write):
            os.close(fd)
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _ONTO_3_AND_4,
                str(child_in),
                str(child_out),
                executable,
                *FLAGS,
                *flags,
                f"--user-data-dir={profile_dir}",
                "--remote-debugging-pipe",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(child_in, child_out),
        )
        os.close(child_in)
        os.close(child_out)
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="cdp-reader", daemon=True)
        self._reader.start()
        self._stderr: list[bytes] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        self._session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.call(f"{domain}.enable", session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": height,
                "deviceScaleFactor": 1,
                "mobile": False,
            },
            session=True,
        )

    # -- the protocol -----------------------------------------------------------------------

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._answers, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._changed:
                    self._changed.notify_all()
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._changed:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self.events.append(message)
                self._changed.notify_all()

    def _drain_stderr(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            if len(self._stderr) < 200:
                self._stderr.append(line)

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: bool = False,
        timeout: float = CALL_TIMEOUT,
    ) -> dict[str, Any]:
        with self._changed:
            self._next_id += 1
            call_id = self._next_id
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._changed:
            while call_id not in self._replies:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._process.poll() is not None:
                    raise BrowserError(
                        f"{method}: no answer within {timeout} s; "
                        f"chromium said: {self.stderr_tail()}"
                    )
                self._changed.wait(remaining)
            reply = self._replies.pop(call_id)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def stderr_tail(self) -> str:
        return b"".join(self._stderr[-10:]).decode("utf-8", "replace")

    # -- what a test does ----------------------------------------------------------------------

    def open(self, url: str, *, timeout: float = CALL_TIMEOUT) -> None:
        """Navigate and wait for the load event."""
        loads_before = self._count("Page.loadEventFired")
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_until(
            lambda: self._count("Page.loadEventFired") > loads_before,
            timeout=timeout,
            what=f"{url} to load",
        )

    def _count(self, method: str) -> int:
        with self._changed:
            return sum(1 for event in self.events if event.get("method") == method)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (promises are awaited)."""
        result = self.call(
            "Runtime.evaluate",
            {
                "expression": expression,
                "returnByValue": True,
                "awaitPromise": True,
            },
            session=True,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float = 15.0) -> Any:
        """Poll a JavaScript expression until it is truthy; its value. Bounded."""
        value: Any = None

        def truthy() -> bool:
            nonlocal value
            value = self.evaluate(expression)
            return bool(value)

        self.wait_until(truthy, timeout=timeout, what=expression)
        return value

    def wait_until(self, predicate: Any, *, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.05)

    def requested_urls(self) -> list[str]:
        with self._changed:
            return [
                event["params"]["request"]["url"]
                for event in self.events
                if event.get("method") == "Network.requestWillBeSent"
            ]

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        with contextlib.suppress(BrowserError):
            self.call("Browser.close", timeout=5)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        for fd in (self._commands, self._answers):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
