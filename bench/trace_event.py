"""The path of one event, from ``Tracker.track`` to the collector: which files and functions of
the library it passes, and how often it hops from one file to another.

``python bench/trace_event.py [--list]`` records one ``invocation_start`` and delivers it
(``flush``; the ``close`` after it is not counted) to a stand-in collector on 127.0.0.1 that
answers every POST with 200 (its code is not the library's, so it is not counted). Delivery
runs in this process (the ``CI`` rule: in-process delivery) so that the uploader's part of the
path is traced too; a detached uploader runs the same :class:`tracking.uploader.Uploader` code
in its own process (with the recorded run's consent re-read: ``records.redecide``).

Counted: every Python call into a module of ``tracking`` or ``consent`` (imports and the
tracker's set-up before ``track`` are not). A *hop* is a call whose file is not its caller's;
*returns* count the hops back into ``tracker.py`` or ``uploader.py``, the two files a reader
kept coming back to.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OURS = tuple(str(REPO / package) + os.sep for package in ("tracking", "consent"))


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


class _Path:
    """Calls into our files while ``on``, any thread: ``(file, function, caller's file)``."""

    def __init__(self) -> None:
        self.on = False
        self.calls: list[tuple[str, str, str | None]] = []

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if not self.on or event != "call":
            return
        file = frame.f_code.co_filename
        if not file.startswith(OURS) or frame.f_code.co_name == "<module>":
            return
        caller = frame.f_back
        while caller is not None and not caller.f_code.co_filename.startswith(OURS):
            caller = caller.f_back
        self.calls.append(
            (
                os.path.relpath(file, REPO),
                frame.f_code.co_qualname
                if hasattr(frame.f_code, "co_qualname")
                else frame.f_code.co_name,
                os.path.relpath(caller.f_code.co_filename, REPO) if caller is not None else None,
            )
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print every hop")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    home = tempfile.mkdtemp(prefix="trace-event-")
    os.environ.update(
        {
            "HOME": home,
            "XDG_CONFIG_HOME": f"{home}/.config",
            "XDG_STATE_HOME": f"{home}/.local/state",
            "XDG_CACHE_HOME": f"{home}/.cache",
            "XDG_CONFIG_DIRS": f"{home}/etc",
            "CI": "true",
            "TESTAPP_SEND_ANONYMOUS_USAGE_STATS": "true",
        }
    )
    os.environ.pop("DO_NOT_TRACK", None)
    os.chdir(home)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    from tests.support.tracking import make_profile
    from tracking import Tracker
    from tracking.state import acknowledge_notice

    path = _Path()
    threading.setprofile(path)
    sys.setprofile(path)
    profile = make_profile(url)
    acknowledge_notice(profile)
    tracker = Tracker(profile, host_flag=True)
    assert tracker.plan.kind == "record", tracker.plan
    path.on = True
    tracker.track("invocation_start", {"command": "run"})
    delivered = tracker.flush(10)
    path.on = False
    tracker.close()
    sys.setprofile(None)
    threading.setprofile(None)  # type: ignore[arg-type]
    server.shutdown()

    hops = [(f, fn, c) for f, fn, c in path.calls if c is not None and c != f]
    files = sorted({f for f, _, _ in path.calls})
    returns = sum(1 for _, _, c in hops if os.path.basename(c) in ("tracker.py", "uploader.py"))
    in_tracking = [h for h in hops if h[0].startswith("tracking") and h[2].startswith("tracking")]
    into_consent = [h for h in hops if h[0].startswith("consent") and h[2].startswith("tracking")]
    spool_trips = sum(
        1 for f, _, c in hops if os.path.basename(f) == "spool.py" and c.endswith("uploader.py")
    )
    if args.list:
        for file, function, caller in hops:
            print(f"  {caller} -> {file}:{function}")
    print(f"delivered: {delivered}")
    print(f"calls into the library: {len(path.calls)}")
    print(f"files: {len(files)} ({', '.join(files)})")
    print(f"hops between files: {len(hops)}")
    print(f"hops from tracker.py / uploader.py out and back: {returns}")
    tracking_files = sorted({f for f, _, _ in path.calls if f.startswith("tracking")})
    print(
        f"within tracking: {len(in_tracking)} hops over {len(tracking_files)} files, "
        f"{spool_trips} uploader -> spool calls; calls from tracking into consent: "
        f"{len(into_consent)} (its own decision: {len(hops) - len(in_tracking) - len(into_consent)}"
        " hops inside consent)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
