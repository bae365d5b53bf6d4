"""Benchmarks: our tracker and dbt-core's (``dbt.tracking``) on the same scenarios.

    .venv/bin/python bench/run.py              # full run (creates bench/.venv-dbt on first use)
    .venv/bin/python bench/run.py --ours-only --events 20 --pairs 1 --quick   # the smoke test's

Prints the table (markdown) on stdout and writes it to bench/results/latest.md; progress goes
to stderr. Every host is a fresh process in a fresh isolated HOME / XDG_* / cwd; every server is
on 127.0.0.1. See bench/README.md for what each figure means and how it is measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

# Run as a script (``python bench/run.py``): its directory is first on sys.path, so the bench's
# own modules import by name.
from report import build_rows, markdown
from scenarios import HOSTS, Bench, Config, Side

BENCH = Path(__file__).resolve().parent

SCENARIOS = ("baseline", "healthy", "faults", "recovery", "throughput", "decide", "opt_in")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--ours-only",
        action="store_true",
        help="measure our library only (no dbt venv is created or used)",
    )
    parser.add_argument(
        "--dbt-python",
        help="an interpreter that has dbt-core 1.10.23 "
        "(default: bench/.venv-dbt, created if missing)",
    )
    parser.add_argument("--events", type=int, default=500, help="model runs per invocation (500)")
    parser.add_argument(
        "--pairs", type=int, default=15, help="interleaved pairs per comparison (15)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=5,
        help="runs of unpaired figures: baseline, dbt's faults, decide (5)",
    )
    parser.add_argument(
        "--outage-runs",
        type=int,
        default=5,
        help="runs against a dead collector before the healthy one (5)",
    )
    parser.add_argument(
        "--throughput-events",
        type=int,
        default=None,
        help="events the uploader sends in one go (100,000; 2,000 with --quick)",
    )
    parser.add_argument(
        "--dbt-long-runs",
        type=int,
        default=1,
        help="runs of dbt's black hole, slow and throughput scenarios (1)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one run where several are the default, small throughput",
    )
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of: {','.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--markdown",
        default=str(BENCH / "results" / "latest.md"),
        help="where to write the table (bench/results/latest.md)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}")

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    config = Config(
        events=args.events,
        pairs=args.pairs,
        runs=args.runs,
        outage_runs=args.outage_runs,
        dbt_long_runs=args.dbt_long_runs,
    )
    if args.quick:
        config.throughput_runs = 1
        config.decide_calls = 100
        config.throughput_events = 2_000
        config.outage_runs = min(config.outage_runs, 2)
        config.orphan_check_s = 5.0
    if args.throughput_events is not None:
        config.throughput_events = args.throughput_events

    started = time.monotonic()
    sides = [Side("ours", sys.executable, HOSTS / "ours_host.py")]
    if not args.ours_only:
        from dbt_env import DBT_VERSION, ensure_dbt_python

        dbt_python = ensure_dbt_python(log, args.dbt_python)
        log(f"dbt-core {DBT_VERSION}: {dbt_python} ({time.monotonic() - started:.0f} s)")
        sides.append(Side("dbt", dbt_python, HOSTS / "dbt_host.py"))

    bench = Bench(config, sides, log)
    results: dict[str, object] = {}
    try:
        log("warming up (one discarded run per side) ...")
        bench.warm_up()
        for name in SCENARIOS:
            if name not in wanted:
                continue
            t0 = time.monotonic()
            log(f"{name} ...")
            results[name] = getattr(bench, name)()
            if name == "faults":
                results["orphans"] = bench.orphans()
            log(f"{name} done in {time.monotonic() - t0:.1f} s")
    finally:
        bench.close()

    table = markdown(build_rows(results, has_dbt=not args.ours_only))
    header = _header(args, config, time.monotonic() - started)
    print(header + "\n\n" + table)
    out = Path(args.markdown)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + "\n\n" + table + "\n")
    log(f"written to {out}")
    return 0


def _header(args: argparse.Namespace, config: Config, elapsed: float) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    which = "ours only" if args.ours_only else "ours vs dbt-core 1.10.23"
    return "\n".join(
        [
            f"## Benchmarks ({which}) — {when}",
            "",
            f"`{' '.join(['python', 'bench/run.py', *sys.argv[1:]])}` · Python "
            f"{platform.python_version()} · {os.cpu_count()} CPUs · {platform.system()} · "
            f"total {elapsed:.0f} s",
            f"Scenario host: 1 start + {config.events} model runs + 1 end, whole process, fresh "
            "isolated HOME/XDG per run. Comparisons of two runs: "
            f"{config.pairs} interleaved pairs, median of the paired differences (p25–p75); "
            "before each of our timed runs, the previous "
            f"run's uploader has ended. Other cells: median (min–max) over {config.runs} runs "
            f"(dbt's black hole and slow: {config.dbt_long_runs}); throughput "
            f"{config.throughput_events:,} events, ours {config.throughput_runs} runs.",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
