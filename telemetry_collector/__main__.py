"""``python -m telemetry_collector``: run the local collector as its own process.

Tests and benchmarks spawn it with ``--port 0 --ready-file PATH`` and read
the URL from PATH once it exists; SIGTERM or SIGINT stops it with exit 0.
"""

from __future__ import annotations

import argparse
import sys

from ._net import LOOPBACK_HOST, bind_problem
from .server import DEFAULT_PORT, serve_forever
from .store import DEFAULT_MAX_BYTES, DEFAULT_MAX_EVENTS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m telemetry_collector",
        description="Local Snowplow collector with the Snowplow Micro API "
        "(/micro/good, /micro/bad, /micro/ui, ...).",
    )
    parser.add_argument(
        "--host",
        default=None,
        help=f"address to bind (default {LOOPBACK_HOST}); "
        "giving it explicitly allows non-loopback addresses",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0 = any free port)",
    )
    parser.add_argument("--ready-file", help="write the collector URL here once listening")
    parser.add_argument(
        "--schema-root",
        action="append",
        default=[],
        metavar="DIR",
        help="extra Iglu schema root (vendor/name/format/version layout); repeatable",
    )
    parser.add_argument(
        "--max-events",
        type=int,
        default=DEFAULT_MAX_EVENTS,
        help=f"good and bad events kept in memory, each (default {DEFAULT_MAX_EVENTS:,}); "
        "older ones are evicted and counted",
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=DEFAULT_MAX_BYTES,
        help=f"bytes the kept events may take in all (default {DEFAULT_MAX_BYTES:,}, at least "
        "1 MiB); older ones are evicted and counted",
    )
    parser.add_argument("--verbose", action="store_true", help="log one line per request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    host = args.host or LOOPBACK_HOST
    try:
        serve_forever(
            host,
            args.port,
            ready_file=args.ready_file,
            schema_roots=args.schema_root,
            max_events=args.max_events,
            max_bytes=args.max_bytes,
            verbose=args.verbose,
            allow_non_loopback=args.host is not None,
        )
    except OSError as exc:
        print(f"collector: {bind_problem(host, args.port, exc)}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"collector: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
