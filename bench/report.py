"""From runs to the table: one row per figure, ours and dbt-core side by side, the ratio
ours/theirs, the target and whether it is met. Figures are medians with (min–max) over runs,
except paired differences: their median with the interquartile range (p25–p75)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from measure import Run, quartiles, spread

COLUMNS = ("scenario", "figure", "ours", "dbt-core", "ours/dbt", "target", "verdict")
#: What recording may add to a run, and what a broken collector may add to a healthy one.
ADDED_TARGET_S = 0.030
#: Events must be at the collector this soon after the host exited (median).
ARRIVAL_TARGET_S = 2.0
THROUGHPUT_TARGET = 20_000


@dataclass
class Cell:
    median: float | None = None
    low: float | None = None
    high: float | None = None
    text: str | None = None  # instead of a number: "—", "n/a", "≥ 120"
    runs: int = 0

    @classmethod
    def of(cls, values: list[float | None]) -> Cell:
        med, low, high = spread(values)
        return cls(med, low, high, runs=len([v for v in values if v is not None]))

    @classmethod
    def paired(cls, values: list[float | None]) -> Cell:
        """Median of paired differences with their interquartile range."""
        med, low, high = quartiles(values)
        return cls(med, low, high, runs=len([v for v in values if v is not None]))

    def show(self, digits: int) -> str:
        if self.text is not None:
            return self.text
        if self.median is None:
            return "—"
        out = _num(self.median, digits)
        spread = self.low is not None and self.high is not None and self.low != self.high
        if self.runs > 1 and spread:
            out += f" ({_num(self.low, digits)}–{_num(self.high, digits)})"
        return out


def _num(value: float, digits: int) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


@dataclass
class Row:
    scenario: str
    figure: str
    ours: Cell
    dbt: Cell
    digits: int = 3
    target: str = ""
    verdict: str = ""
    ratio: str | None = None

    def cells(self) -> list[str]:
        ratio = self.ratio
        if ratio is None:
            a, b = self.ours.median, self.dbt.median
            ratio = (
                f"{a / b:.3g}×"
                if a is not None
                and b is not None
                and a >= 0
                and b > 0
                and self.ours.text is None
                and self.dbt.text is None
                else "—"
            )
        return [
            self.scenario,
            self.figure,
            self.ours.show(self.digits),
            self.dbt.show(self.digits),
            ratio,
            self.target,
            self.verdict,
        ]


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in row.cells()) + " |")
    return "\n".join(lines)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


# -- reading runs ----------------------------------------------------------------------------
def _runs(results: dict, side: str) -> list[Run]:
    value = results.get(side)
    return value if isinstance(value, list) else []


def _values(results: dict, side: str, get) -> list[float | None]:
    values: list[float | None] = []
    for run in _runs(results, side):
        try:
            values.append(get(run))
        except (KeyError, TypeError, AttributeError, ValueError, ZeroDivisionError):
            values.append(None)
    return values


def _cell(results: dict, side: str, get, *, skipped: str = "—") -> Cell:
    if not _runs(results, side):
        return Cell(text=skipped)
    return Cell.of(_values(results, side, get))


def _paired(results: dict, base: str, other: str) -> Cell:
    """Median (IQR) of other[i].wall − base[i].wall over interleaved pairs."""
    a, b = _runs(results, base), _runs(results, other)
    if not a or not b:
        return Cell(text="—")
    return Cell.paired([y.wall_s - x.wall_s for x, y in zip(a, b, strict=False)])


def _wall(run: Run) -> float:
    return run.wall_s


def _mark(run: Run, name: str) -> float | None:
    return run.report.get("marks", {}).get(name, run.marks.get(name))


def _recorded(run: Run) -> int:
    stats = run.report.get("stats")
    return stats["recorded"] if stats else run.report["calls"]


def _delivered_rate(run: Run) -> float:
    start, end = _mark(run, "first_record"), _mark(run, "work_end")
    return run.server["good"] / (end - start)


def _sockets(run: Run) -> int:
    counts = run.report["counts"]
    return counts["sockets"] + counts["connects"] + counts["lookups"]


def _uploader(run: Run, key: str) -> float:
    value = run.extra["uploader"][key]
    if value is None:
        raise ValueError(key)
    return float(value)


def _kept_or_sent(run: Run) -> float:
    """Of what a fault run recorded: still waiting, or delivered by its uploader (slow)."""
    sent = (run.extra.get("uploader") or {}).get("sent") or 0
    return (run.extra["waiting"] + sent) / _recorded(run)


def verdict_at_most(cell: Cell, limit: float) -> str:
    return verdict(None if cell.median is None else cell.median <= limit)


# -- the table -------------------------------------------------------------------------------
def build_rows(all_results: dict, has_dbt: bool) -> list[Row]:
    rows: list[Row] = []
    dbt_skipped = "—" if has_dbt else "skipped"

    def cell(results, side, get):
        return _cell(results, side, get, skipped=dbt_skipped if side == "dbt" else "—")

    base = all_results.get("baseline", {})
    rows.append(
        Row(
            "baseline",
            "`python -c pass` wall (s)",
            cell(base, "ours", _wall),
            cell(base, "dbt", _wall),
        )
    )

    healthy = all_results.get("healthy")
    if healthy is not None:
        off = {"ours": healthy.get("ours_off", []), "dbt": healthy.get("dbt_off", [])}
        _off_rows(rows, off, base, cell, has_dbt, dbt_skipped)
        _healthy_rows(rows, healthy, cell, has_dbt, dbt_skipped)
    faults = all_results.get("faults")
    if faults is not None:
        _fault_rows(rows, faults, healthy or {}, cell, dbt_skipped)
    orphans = all_results.get("orphans")
    if orphans:
        alive = orphans.get("alive")
        rows.append(
            Row(
                "faults",
                f"uploaders still running {orphans['after_s']:.0f} s after the last host exited",
                Cell(alive, runs=1),
                Cell(text="n/a"),
                digits=0,
                target="0",
                verdict=verdict(alive == 0),
            )
        )
    recovery = all_results.get("recovery")
    if recovery:
        _recovery_rows(rows, recovery)
    tp = all_results.get("throughput")
    if tp is not None:
        _throughput_rows(rows, tp, cell)
    decide = all_results.get("decide")
    if decide is not None:
        _decide_rows(rows, decide, cell)
    opt_in = all_results.get("opt_in")
    if opt_in:
        _opt_in_rows(rows, opt_in, cell)
    return rows


def _off_rows(rows, off, base, cell, has_dbt, dbt_skipped) -> None:
    rows.append(Row("off", "wall (s)", cell(off, "ours", _wall), cell(off, "dbt", _wall)))
    added = {side: _added(off, base, side) for side in ("ours", "dbt")}
    target_ok = None
    if added["ours"].median is not None and added["dbt"].median is not None:
        target_ok = added["ours"].median <= added["dbt"].median / 3
    rows.append(
        Row(
            "off",
            "added over `python -c pass` (s)",
            added["ours"],
            added["dbt"] if has_dbt else Cell(text=dbt_skipped),
            target="≤ ⅓ of dbt's (≈ `import dbt.tracking`)",
            verdict=verdict(target_ok),
        )
    )
    rows.append(
        Row(
            "off",
            "in-host import + decide (s)",
            cell(off, "ours", lambda r: r.report["setup_s"]),
            cell(off, "dbt", lambda r: r.report["setup_s"]),
        )
    )
    for figure, get in (
        ("sockets opened (new+connect+lookup)", _sockets),
        ("threads started", lambda r: r.report["counts"]["threads_started"]),
        ("processes started", lambda r: r.report["counts"]["processes_started"]),
        ("files written in HOME/XDG/cwd", lambda r: len(r.files)),
    ):
        ours = cell(off, "ours", get)
        ok = None if ours.high is None else ours.high == 0
        rows.append(
            Row(
                "off",
                figure,
                ours,
                cell(off, "dbt", get),
                digits=0,
                target="0",
                verdict=verdict(ok),
            )
        )
    rows.append(
        Row(
            "off",
            "modules loaded at work end",
            cell(off, "ours", lambda r: r.report["modules"]),
            cell(off, "dbt", lambda r: r.report["modules"]),
            digits=0,
        )
    )


def _healthy_rows(rows, healthy, cell, has_dbt, dbt_skipped) -> None:
    rows.append(
        Row("healthy", "wall (s)", cell(healthy, "ours", _wall), cell(healthy, "dbt", _wall))
    )
    pairs = len(_runs(healthy, "ours"))
    ours_added = _paired(healthy, "ours_off", "ours")
    dbt_added = _paired(healthy, "dbt_off", "dbt") if has_dbt else Cell(text=dbt_skipped)
    rows.append(
        Row(
            "healthy",
            f"wall added over consent off (median of {pairs} paired differences, p25–p75) (s)",
            ours_added,
            dbt_added,
            target=f"≤ {ADDED_TARGET_S:.3f}",
            verdict=verdict_at_most(ours_added, ADDED_TARGET_S),
        )
    )
    for name in ("median_us", "p99_us"):
        ours = cell(healthy, "ours", lambda r, n=name: r.report["latency"][n])
        rows.append(
            Row(
                "healthy",
                f"record latency {name[:-3]} (µs)",
                ours,
                cell(healthy, "dbt", lambda r, n=name: r.report["latency"][n]),
                digits=1,
                target="≤ 50" if name == "p99_us" else "",
                verdict=verdict_at_most(ours, 50) if name == "p99_us" else "",
            )
        )
    arrival = cell(healthy, "ours", lambda r: r.extra["arrived_after_exit_s"])
    rows.append(
        Row(
            "healthy",
            "events at the collector, after the host exited (s)",
            arrival,
            cell(healthy, "dbt", lambda r: r.extra["arrived_after_exit_s"]),
            target=f"≤ {ARRIVAL_TARGET_S:g} (median)",
            verdict=verdict_at_most(arrival, ARRIVAL_TARGET_S),
        )
    )
    fraction = cell(healthy, "ours", lambda r: r.server["good"] / _recorded(r))
    ok = None if fraction.low is None else fraction.low >= 1.0 and fraction.high <= 1.0
    rows.append(
        Row(
            "healthy",
            "delivered / recorded",
            fraction,
            cell(healthy, "dbt", lambda r: r.server["good"] / _recorded(r)),
            target="1.000 (all)",
            verdict=verdict(ok),
        )
    )
    connects = cell(healthy, "ours", lambda r: r.report["counts"]["connects"])
    rows.append(
        Row(
            "healthy",
            "connects made by the host process",
            connects,
            cell(healthy, "dbt", lambda r: r.report["counts"]["connects"]),
            digits=0,
            target="0 (the uploader sends)",
            verdict=verdict(None if connects.high is None else connects.high == 0),
        )
    )
    rows.append(
        Row(
            "healthy",
            "processes started by the host",
            cell(healthy, "ours", lambda r: r.report["counts"]["processes_started"]),
            cell(healthy, "dbt", lambda r: r.report["counts"]["processes_started"]),
            digits=0,
        )
    )
    rows.append(
        Row(
            "healthy",
            "uploader CPU time per run (s)",
            cell(healthy, "ours", lambda r: _uploader(r, "cpu_s")),
            Cell(text="n/a"),
        )
    )
    rows.append(
        Row(
            "healthy",
            "uploader peak RSS per run (MB)",
            cell(healthy, "ours", lambda r: _uploader(r, "maxrss_kb") / 1024),
            Cell(text="n/a"),
            digits=1,
        )
    )
    rows.append(
        Row(
            "healthy",
            "host peak RSS (MB)",
            cell(healthy, "ours", lambda r: r.maxrss_mb),
            cell(healthy, "dbt", lambda r: r.maxrss_mb),
            digits=1,
        )
    )


def _fault_rows(rows, faults, healthy, cell, dbt_skipped) -> None:
    dbt_healthy = _median(healthy, "dbt", _wall)
    for label, results in faults.items():
        pairs = len(_runs(results, "ours"))
        ours_added = _paired(results, "ours_healthy", "ours")
        dbt_runs = _runs(results, "dbt")
        if dbt_runs and dbt_healthy is not None:
            if any(r.killed for r in dbt_runs):
                dbt_added = Cell(
                    text=f"≥ {max(r.wall_s for r in dbt_runs) - dbt_healthy:.1f} (capped)"
                )
            else:
                dbt_added = Cell.of([r.wall_s - dbt_healthy for r in dbt_runs])
        else:
            dbt_added = Cell(text=dbt_skipped)
        rows.append(
            Row(
                label,
                f"wall added over a healthy run (median of {pairs} paired "
                "differences, p25–p75; dbt: unpaired) (s)",
                ours_added,
                dbt_added,
                target=f"≤ {ADDED_TARGET_S:.3f}",
                verdict=verdict_at_most(ours_added, ADDED_TARGET_S),
            )
        )
        rows.append(
            Row(
                label, "wall (s)", cell(results, "ours", _wall), _capped_wall(dbt_runs, dbt_skipped)
            )
        )
        kept = cell(results, "ours", _kept_or_sent)
        ok = None if kept.low is None else kept.low >= 1.0
        rows.append(
            Row(
                label,
                "events kept for later (or sent) / recorded",
                kept,
                Cell(text="0 (dropped)") if dbt_runs else Cell(text=dbt_skipped),
                target="1.000 (none lost)",
                verdict=verdict(ok),
            )
        )
        stderr = cell(results, "ours", lambda r: r.stderr_lines)
        rows.append(
            Row(
                label,
                "host stderr lines",
                stderr,
                cell(results, "dbt", lambda r: r.stderr_lines),
                digits=0,
                target="0",
                verdict=verdict(None if stderr.high is None else stderr.high == 0),
            )
        )
        rows.append(
            Row(
                label,
                "requests the server saw (per run)",
                cell(results, "ours", lambda r: r.server["requests"]),
                cell(results, "dbt", lambda r: r.server["requests"]),
                digits=0,
            )
        )
        ended = cell(results, "ours", lambda r: 1.0 if r.extra["uploader_ended"] else 0.0)
        rows.append(
            Row(
                label,
                "uploaders that ended by themselves (fraction)",
                ended,
                Cell(text="n/a"),
                target="1.000",
                verdict=verdict(None if ended.low is None else ended.low >= 1.0),
            )
        )


def _recovery_rows(rows, recovery) -> None:
    recorded = recovery["recorded"]
    delivered = recovery["delivered"]
    runs = f"{recovery.get('runs', '?')} runs refused, then 1 healthy"
    rows.append(
        Row(
            "outage, then recovery",
            f"events recorded ({runs})",
            Cell(recorded, runs=1),
            Cell(text="n/a"),
            digits=0,
        )
    )
    started = recovery.get("uploads_during_outage")
    rows.append(
        Row(
            "outage, then recovery",
            "uploaders started during the outage (the persisted backoff spares the other runs)",
            Cell(started, runs=1) if started is not None else Cell(text="—"),
            Cell(text="n/a"),
            digits=0,
        )
    )
    fraction = delivered / recorded if recorded else None
    rows.append(
        Row(
            "outage, then recovery",
            "delivered (distinct eids) / recorded",
            Cell(fraction, runs=1),
            Cell(text="0 (dbt drops them)"),
            target="1.000 (up to the cap)",
            verdict=verdict(None if fraction is None else fraction >= 1.0),
        )
    )
    lost = recorded - delivered
    rows.append(
        Row(
            "outage, then recovery",
            "lost",
            Cell(lost, runs=1),
            Cell(text="n/a"),
            digits=0,
            target="0",
            verdict=verdict(lost == 0),
        )
    )
    rows.append(
        Row(
            "outage, then recovery",
            "duplicates (counted by eid)",
            Cell(recovery["duplicates"], runs=1),
            Cell(text="n/a"),
            digits=0,
        )
    )
    rows.append(
        Row(
            "outage, then recovery",
            "backoff left when the collector came back (s)",
            Cell(recovery.get("backoff_left_s"), runs=1),
            Cell(text="n/a"),
            digits=1,
        )
    )
    recovered = recovery.get("recovered_s")
    rows.append(
        Row(
            "outage, then recovery",
            "from the healthy run's start to everything delivered, nobody else running (s)",
            Cell(recovered, runs=1) if recovered is not None else Cell(text="—"),
            Cell(text="n/a"),
            digits=1,
            target="≤ the backoff left + 2",
            verdict=verdict(
                None
                if recovered is None
                else recovered <= (recovery.get("backoff_left_s") or 0.0) + 2.0
            ),
        )
    )


def _throughput_rows(rows, tp, cell) -> None:
    def rate(run: Run) -> float:
        return run.server["good"] / run.wall_s

    ours = cell(tp, "ours", rate)
    dbt = cell(tp, "dbt", _delivered_rate)
    rows.append(
        Row(
            "throughput",
            "delivered events/s (ours: the uploader process, start to exit; dbt: synchronous)",
            ours,
            dbt,
            digits=0,
            target=f"≥ {THROUGHPUT_TARGET:,}",
            verdict=verdict(None if ours.median is None else ours.median >= THROUGHPUT_TARGET),
        )
    )
    rows.append(
        Row(
            "throughput",
            "delivered / spooled",
            cell(tp, "ours", lambda r: r.server["good"] / r.extra["spooled"]),
            cell(tp, "dbt", lambda r: r.server["good"] / _recorded(r)),
        )
    )
    rows.append(
        Row(
            "throughput",
            "uploader CPU time (s)",
            cell(tp, "ours", lambda r: r.cpu_s),
            cell(tp, "dbt", lambda r: r.cpu_s),
            digits=2,
        )
    )
    rows.append(
        Row(
            "throughput",
            "uploader peak RSS (MB)",
            cell(tp, "ours", lambda r: r.maxrss_mb),
            cell(tp, "dbt", lambda r: r.maxrss_mb),
            digits=1,
        )
    )


def _decide_rows(rows, decide, cell) -> None:
    rows.append(
        Row(
            "decide",
            "`telemetry status --json` wall (s)",
            cell(decide, "status", _wall),
            Cell(text="n/a (no equivalent)"),
        )
    )
    rows.append(
        Row(
            "decide",
            "in-process `consent.decide()` median (µs)",
            cell(decide, "inprocess", lambda r: r.report["median_us"]),
            Cell(text="n/a"),
            digits=1,
        )
    )
    rows.append(
        Row(
            "decide",
            "in-process `consent.decide()` p99 (µs)",
            cell(decide, "inprocess", lambda r: r.report["p99_us"]),
            Cell(text="n/a"),
            digits=1,
        )
    )
    rows.append(
        Row(
            "decide",
            "layers that gave an opinion (of 9; DO_NOT_TRACK, host flag, "
            "admin lock, mandate: none)",
            cell(
                decide,
                "inprocess",
                lambda r: sum(1 for s in r.report["layers"].values() if s != "no_opinion"),
            ),
            Cell(text="n/a"),
            digits=0,
        )
    )


def _opt_in_rows(rows, opt_in, cell) -> None:
    """Per case: the opt-in host's wall time over the same host with consent off (paired), and
    whether it asked, went on and recorded nothing. dbt-core has no opt-in model."""
    no_opt_in = Cell(text="n/a (no opt-in)")
    for label, results in opt_in.items():
        timeout = results.get("prompt_timeout_s")
        pairs = len(_runs(results, "ours"))
        added = _paired(results, "ours_off", "ours")
        name = f"wall added over consent off (median of {pairs} paired differences, p25–p75) (s)"
        if timeout is None:
            rows.append(
                Row(
                    label,
                    name,
                    added,
                    no_opt_in,
                    target=f"≤ {ADDED_TARGET_S:.3f} (never waits)",
                    verdict=verdict_at_most(added, ADDED_TARGET_S),
                )
            )
        else:
            rows.append(
                Row(
                    label,
                    name,
                    added,
                    no_opt_in,
                    target=f"waits the timeout ({timeout:g} s), then goes on",
                )
            )
            a, b = _runs(results, "ours_off"), _runs(results, "ours")
            beyond = Cell.paired(
                [y.wall_s - x.wall_s - timeout for x, y in zip(a, b, strict=False)]
            )
            rows.append(
                Row(
                    label,
                    f"added beyond the {timeout:g} s timeout (s)",
                    beyond,
                    no_opt_in,
                    target=f"≤ {ADDED_TARGET_S:.3f}",
                    verdict=verdict_at_most(beyond, ADDED_TARGET_S),
                )
            )
        rows.append(Row(label, "wall (s)", cell(results, "ours", _wall), no_opt_in))
        asked = cell(results, "ours", lambda r: 1.0 if r.extra["asked"] else 0.0)
        want = 0.0 if timeout is None else 1.0
        ok = None if asked.low is None else asked.low == want and asked.high == want
        rows.append(
            Row(
                label,
                "asked the question (fraction of runs)",
                asked,
                no_opt_in,
                target="0 (cannot ask)" if timeout is None else "1.000",
                verdict=verdict(ok),
            )
        )
        went_on = cell(
            results,
            "ours",
            lambda r: 1.0 if r.rc == 0 and not r.killed and "work_end" in r.marks else 0.0,
        )
        rows.append(
            Row(
                label,
                "went on: work done, exit 0 (fraction of runs)",
                went_on,
                no_opt_in,
                target="1.000",
                verdict=verdict(None if went_on.low is None else went_on.low >= 1.0),
            )
        )
        recorded = cell(results, "ours", _recorded)
        rows.append(
            Row(
                label,
                "events recorded",
                recorded,
                no_opt_in,
                digits=0,
                target="0",
                verdict=verdict(None if recorded.high is None else recorded.high == 0),
            )
        )
        stderr = cell(results, "ours", lambda r: r.stderr_lines)
        rows.append(
            Row(
                label,
                "host stderr lines" + ("" if timeout is None else " (the question, no answer)"),
                stderr,
                no_opt_in,
                digits=0,
                target="0" if timeout is None else "",
                verdict="" if timeout is not None else verdict_at_most(stderr, 0),
            )
        )


def _median(results: dict, side: str, get) -> float | None:
    return _cell(results, side, get).median


def _added(off: dict, base: dict, side: str) -> Cell:
    runs, base_med = _runs(off, side), _median(base, side, _wall)
    if not runs or base_med is None:
        return Cell(text="—")
    return Cell.of([r.wall_s - base_med for r in runs])


def _capped_wall(runs: list[Run], skipped: str) -> Cell:
    if not runs:
        return Cell(text=skipped)
    if any(r.killed for r in runs):
        return Cell(text=f"≥ {max(r.wall_s for r in runs):.1f} (capped)")
    return Cell.of([r.wall_s for r in runs])
