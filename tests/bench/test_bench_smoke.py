"""The benchmark harness at tiny sizes, our side only, so it cannot rot.

No timing is asserted: only that the harness runs, prints the table with the expected rows, and
that each figure is a number (values belong to the benchmark, not to a test).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?( \(-?[\d,]+(\.\d+)?–-?[\d,]+(\.\d+)?\))?$")

#: (scenario, start of the figure's name) that the table must have, with a number for ours.
FAULT_LABELS = (
    "refused",
    "HTTP 500",
    "black hole",
    "slow (answers after 5 s)",
    "closes mid-answer",
)
#: The opt-in cases (bench/scenarios.py OPT_IN_CASES): two where it cannot ask, one where nobody
#: answers on a real pty (each of its runs waits a 0.5 s question: cheap at --pairs 1).
OPT_IN_LABELS = (
    "opt-in, stdin a pipe",
    "opt-in, CI=true on a terminal",
    "opt-in, terminal, nobody answers",
)
EXPECTED = [
    ("baseline", "`python -c pass` wall"),
    ("off", "wall"),
    ("off", "added over"),
    ("off", "in-host import + decide"),
    ("off", "sockets opened"),
    ("off", "threads started"),
    ("off", "processes started"),
    ("off", "files written"),
    ("healthy", "wall"),
    ("healthy", "wall added over consent off"),
    ("healthy", "record latency median"),
    ("healthy", "record latency p99"),
    ("healthy", "events at the collector"),
    ("healthy", "delivered / recorded"),
    ("healthy", "connects made by the host"),
    ("healthy", "processes started by the host"),
    ("healthy", "uploader CPU time"),
    ("healthy", "uploader peak RSS"),
    ("healthy", "host peak RSS"),
    *[
        (label, figure)
        for label in FAULT_LABELS
        for figure in (
            "wall added over a healthy run",
            "wall",
            "events kept for later",
            "host stderr lines",
            "requests the server saw",
            "uploaders that ended",
        )
    ],
    ("faults", "uploaders still running"),
    ("outage, then recovery", "events recorded"),
    ("outage, then recovery", "uploaders started"),
    ("outage, then recovery", "delivered (distinct eids) / recorded"),
    ("outage, then recovery", "lost"),
    ("outage, then recovery", "duplicates"),
    ("outage, then recovery", "backoff left when the collector came back"),
    ("outage, then recovery", "from the healthy run's start to everything delivered"),
    ("throughput", "delivered events/s"),
    ("throughput", "delivered / spooled"),
    ("throughput", "uploader CPU time"),
    ("throughput", "uploader peak RSS"),
    ("decide", "`telemetry status --json` wall"),
    ("decide", "in-process `consent.decide()` median"),
    ("decide", "in-process `consent.decide()` p99"),
    *[
        (label, figure)
        for label in OPT_IN_LABELS
        for figure in (
            "wall added over consent off",
            "wall",
            "asked the question",
            "went on",
            "events recorded",
            "host stderr lines",
        )
    ],
    ("opt-in, terminal, nobody answers", "added beyond the"),
]


def _table(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| scenario"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_bench_smoke(tmp_path: Path) -> None:
    markdown = tmp_path / "latest.md"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--ours-only",
            "--events",
            "20",
            "--runs",
            "1",
            "--pairs",
            "1",
            "--quick",
            "--markdown",
            str(markdown),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    failed_hosts = [line for line in done.stderr.splitlines() if line.startswith("    ! ")]
    assert not failed_hosts, failed_hosts
    rows = _table(done.stdout)
    assert rows, done.stdout
    assert all(len(row) == 7 for row in rows), rows
    for scenario, figure in EXPECTED:
        found = [row for row in rows if row[0] == scenario and row[1].startswith(figure)]
        assert found, f"no row {scenario!r} / {figure!r} in:\n{done.stdout}"
        ours = found[0][2]
        assert _NUMBER.match(ours), f"{scenario} / {found[0][1]}: {ours!r} is not a number"
    for row in rows:
        assert row[3] in ("skipped", "—") or row[3].startswith(("n/a", "0 (")), row  # no dbt run
        assert row[6] in ("", "met", "MISSED", "n/a"), row
    assert _table(markdown.read_text()) == rows
