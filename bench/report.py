"""From runs to the table: one row per figure, ours and dbt-core side by side, the ratio
ours/theirs, the target and whether it is met. Figures are medians, with (min–max) over runs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from measure import Run, spread

COLUMNS = ("scenario", "figure", "ours", "dbt-core", "ours/dbt", "target", "verdict")
#: "Beyond the last batch's round trip" within this is noise (GIL hand-offs, timestamps).
EXIT_NOISE_S = 0.010
EXIT_TARGET_S = 1.1  # the profile's flush deadline (1 s) + 0.1 s


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

    def show(self, digits: int) -> str:
        if self.text is not None:
            return self.text
        if self.median is None:
            return "—"
        out = _num(self.median, digits)
        if self.runs > 1 and self.low is not None and self.high is not None and self.low != self.high:
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
            ratio = (f"{a / b:.3g}×" if a is not None and b not in (None, 0)
                     and self.ours.text is None and self.dbt.text is None else "—")
        return [self.scenario, self.figure, self.ours.show(self.digits),
                self.dbt.show(self.digits), ratio, self.target, self.verdict]


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


def _cell(results: dict, side: str, get, *, skipped: str = "—") -> Cell:
    runs = _runs(results, side)
    if not runs:
        return Cell(text=skipped)
    values = []
    for run in runs:
        try:
            values.append(get(run))
        except (KeyError, TypeError, AttributeError, ValueError, ZeroDivisionError):
            values.append(None)
    return Cell.of(values)


def _wall(run: Run) -> float:
    return run.wall_s


def _exit(run: Run) -> float | None:
    return run.exit_delay_s


def _mark(run: Run, name: str) -> float | None:
    return run.report.get("marks", {}).get(name, run.marks.get(name))


def _beyond_last_rtt(run: Run) -> float | None:
    """Time the exit flush waited for anything but the last batch's round trip."""
    work_end, hook = _mark(run, "work_end"), _mark(run, "exit_hook")
    if work_end is None or hook is None:
        return None
    last = run.report.get("last_send")
    if last is not None and last > work_end:
        return last - work_end  # catching up: imports, building and sending earlier batches
    return hook - work_end


def _recorded(run: Run) -> int:
    stats = run.report.get("stats")
    return stats["recorded"] if stats else run.report["calls"]


def _delivered_rate(run: Run) -> float:
    start, end = _mark(run, "first_record"), _mark(run, "work_end")
    return run.server["good"] / (end - start)


def _sending_rate(run: Run) -> float:
    first, end = run.report["first_send"], _mark(run, "work_end")
    return run.server["good"] / (end - first)


def _sockets(run: Run) -> int:
    counts = run.report["counts"]
    return counts["sockets"] + counts["connects"] + counts["lookups"]


# -- the table -------------------------------------------------------------------------------
def build_rows(all_results: dict, has_dbt: bool) -> list[Row]:
    rows: list[Row] = []
    dbt_skipped = "—" if has_dbt else "skipped"

    def cell(results, side, get):
        return _cell(results, side, get, skipped=dbt_skipped if side == "dbt" else "—")

    base = all_results.get("baseline", {})
    rows.append(Row("baseline", "`python -c pass` wall (s)", cell(base, "ours", _wall),
                    cell(base, "dbt", _wall)))

    # 1. off
    off = all_results.get("off")
    if off is not None:
        rows.append(Row("off", "wall (s)", cell(off, "ours", _wall), cell(off, "dbt", _wall)))
        added = {side: _added(off, base, side) for side in ("ours", "dbt")}
        target_ok = None
        if added["ours"].median is not None and added["dbt"].median is not None:
            target_ok = added["ours"].median <= added["dbt"].median / 3
        rows.append(Row("off", "added over `python -c pass` (s)", added["ours"],
                        added["dbt"] if has_dbt else Cell(text=dbt_skipped),
                        target="≤ ⅓ of dbt's (≈ `import dbt.tracking`)", verdict=verdict(target_ok)))
        rows.append(Row("off", "in-host import + decide (s)",
                        cell(off, "ours", lambda r: r.report["setup_s"]),
                        cell(off, "dbt", lambda r: r.report["setup_s"])))
        rows.append(Row("off", "in-host `import dbt.tracking` (s)", Cell(text="—"),
                        cell(off, "dbt", lambda r: r.report["import_s"])))
        for figure, get in (("sockets opened (new+connect+lookup)", _sockets),
                            ("threads started", lambda r: r.report["counts"]["threads_started"]),
                            ("threads alive at exit, besides main",
                             lambda r: len(r.report["threads_alive_at_exit"]) - 1),
                            ("files written in HOME/XDG/cwd", lambda r: len(r.files))):
            ours = cell(off, "ours", get)
            ok = None if ours.high is None else ours.high == 0
            rows.append(Row("off", figure, ours, cell(off, "dbt", get), digits=0,
                            target="0", verdict=verdict(ok)))

        rows.append(Row("off", "modules loaded at work end", 
                        cell(off, "ours", lambda r: r.report["modules"]),
                        cell(off, "dbt", lambda r: r.report["modules"]), digits=0))

    # 2. healthy
    healthy = all_results.get("healthy")
    if healthy is not None:
        rows.append(Row("healthy", "wall (s)", cell(healthy, "ours", _wall),
                        cell(healthy, "dbt", _wall)))
        rows.append(Row("healthy", "exit delay: work end → process gone (s)",
                        cell(healthy, "ours", _exit), cell(healthy, "dbt", _exit)))
        beyond = cell(healthy, "ours", _beyond_last_rtt)
        ok = None if beyond.median is None else beyond.median <= EXIT_NOISE_S
        rows.append(Row("healthy", "exit wait beyond the last batch's round trip (s)", beyond,
                        cell(healthy, "dbt", _beyond_last_rtt),
                        target=f"≈ 0 (≤ {EXIT_NOISE_S * 1000:.0f} ms)", verdict=verdict(ok)))
        for name in ("median_us", "p99_us"):
            ours = cell(healthy, "ours", lambda r, n=name: r.report["latency"][n])
            ok = None
            if name == "p99_us" and ours.median is not None:
                ok = ours.median <= 50
            rows.append(Row("healthy", f"record latency {name[:-3]} (µs)", ours,
                            cell(healthy, "dbt", lambda r, n=name: r.report["latency"][n]),
                            digits=1, target="≤ 50" if name == "p99_us" else "",
                            verdict=verdict(ok) if name == "p99_us" else ""))
        fraction = cell(healthy, "ours", lambda r: r.server["good"] / _recorded(r))
        ok = None if fraction.low is None else fraction.low >= 1.0
        rows.append(Row("healthy", "delivered / recorded", fraction,
                        cell(healthy, "dbt", lambda r: r.server["good"] / _recorded(r)),
                        target="1.000 (all)", verdict=verdict(ok)))
        rows.append(Row("healthy", "peak RSS (MB)", cell(healthy, "ours", lambda r: r.maxrss_mb),
                        cell(healthy, "dbt", lambda r: r.maxrss_mb), digits=1))

    # 3-6. faults
    for key, label in (("blackhole", "black hole"), ("refused", "refused"),
                       ("status500", "HTTP 500"), ("slow", "slow (2 s)")):
        results = all_results.get(key)
        if results is None:
            continue
        ours_wall = cell(results, "ours", _wall)
        dbt_wall = _capped_wall(results, dbt_skipped)
        floor = _median(all_results.get("off", {}), "ours", _wall)
        wall_ok, wall_target = _tenfold(ours_wall, dbt_wall, floor)
        rows.append(Row(label, "wall (s)", ours_wall, dbt_wall, target=wall_target,
                        verdict=verdict(wall_ok)))
        ours_exit = cell(results, "ours", _exit)
        dbt_exit = cell(results, "dbt", _exit)
        if dbt_wall.text and dbt_wall.text.startswith("≥"):
            dbt_exit = Cell(text="killed at the cap")
        ok = None if ours_exit.high is None else ours_exit.median <= EXIT_TARGET_S
        rows.append(Row(label, "exit delay: work end → process gone (s)", ours_exit, dbt_exit,
                        target=f"≤ {EXIT_TARGET_S} (deadline + 0.1)", verdict=verdict(ok)))
        rows.append(Row(label, "requests the server saw", 
                        cell(results, "ours", lambda r: r.server["requests"]),
                        cell(results, "dbt", lambda r: r.server["requests"]), digits=0))
        rows.append(Row(label, "connect attempts by the host",
                        cell(results, "ours", lambda r: r.report["counts"]["connects"]),
                        cell(results, "dbt", lambda r: r.report["counts"]["connects"]), digits=0))
        rows.append(Row(label, "retries (tracker's count)",
                        cell(results, "ours", lambda r: r.report["stats"]["retries"]),
                        Cell(text="n/a (not counted)") if has_dbt else Cell(text=dbt_skipped),
                        digits=0))
        rows.append(Row(label, "stderr lines", cell(results, "ours", lambda r: r.stderr_lines),
                        cell(results, "dbt", lambda r: r.stderr_lines), digits=0))

    # 7. throughput
    tp = all_results.get("throughput")
    if tp is not None:
        ours = cell(tp, "ours", _delivered_rate)
        ok = None if ours.median is None else ours.median >= 20_000
        rows.append(Row("throughput", "delivered events/s (ours paced; dbt synchronous)", ours,
                        cell(tp, "dbt", _delivered_rate), digits=0, target="≥ 20,000",
                        verdict=verdict(ok)))
        rows.append(Row("throughput", "delivered / recorded",
                        cell(tp, "ours", lambda r: r.server["good"] / _recorded(r)),
                        cell(tp, "dbt", lambda r: r.server["good"] / _recorded(r))))
        rss = cell(tp, "ours", lambda r: r.maxrss_mb)
        ok = None if rss.median is None else rss.high <= 100
        rows.append(Row("throughput", "peak RSS (MB)", rss, cell(tp, "dbt", lambda r: r.maxrss_mb),
                        digits=1, target="≤ 100", verdict=verdict(ok)))
        rows.append(Row("throughput", "wall (s)", cell(tp, "ours", _wall), cell(tp, "dbt", _wall),
                        digits=2))
        burst = {"ours": tp.get("ours_burst", [])}
        rows.append(Row("throughput", "burst: delivered", cell(burst, "ours", lambda r: r.server["good"]),
                        Cell(text="—"), digits=0))
        rows.append(Row("throughput", "burst: dropped, queue full (by design)",
                        cell(burst, "ours", lambda r: r.report["stats"]["dropped_queue_full"]),
                        Cell(text="—"), digits=0))
        rows.append(Row("throughput", "burst: delivered events/s while sending",
                        cell(burst, "ours", _sending_rate), Cell(text="—"), digits=0))
        rows.append(Row("throughput", "burst: first POST after first event (s)",
                        cell(burst, "ours", lambda r: r.report["first_send"] - _mark(r, "first_record")),
                        Cell(text="—")))
        sink = {"ours": tp.get("ours_sink", [])}
        rows.append(Row("throughput", "ceiling: ours paced to a no-op sink (events/s)",
                        cell(sink, "ours", _delivered_rate), Cell(text="—"), digits=0))
        ceiling = tp.get("collector_ceiling")
        rows.append(Row("throughput", "ceiling: collector, captured batch replayed (events/s)",
                        Cell(ceiling, runs=1) if ceiling is not None else Cell(text="—"),
                        Cell(text="—"), digits=0))

    # 8. decide
    decide = all_results.get("decide")
    if decide is not None:
        rows.append(Row("decide", "`telemetry status --json` wall (s)",
                        cell(decide, "status", _wall), Cell(text="n/a (no equivalent)")))
        rows.append(Row("decide", "in-process `consent.decide()` median (µs)",
                        cell(decide, "inprocess", lambda r: r.report["median_us"]),
                        Cell(text="n/a"), digits=1))
        rows.append(Row("decide", "in-process `consent.decide()` p99 (µs)",
                        cell(decide, "inprocess", lambda r: r.report["p99_us"]),
                        Cell(text="n/a"), digits=1))
        rows.append(Row("decide", "layers that gave an opinion (of 9; DO_NOT_TRACK, host flag, admin lock, mandate: none)",
                        cell(decide, "inprocess", lambda r: sum(
                            1 for s in r.report["layers"].values() if s != "no_opinion")),
                        Cell(text="n/a"), digits=0))
    return rows


def _median(results: dict, side: str, get) -> float | None:
    return _cell(results, side, get).median


def _added(off: dict, base: dict, side: str) -> Cell:
    runs, base_med = _runs(off, side), _median(base, side, _wall)
    if not runs or base_med is None:
        return Cell(text="—")
    return Cell.of([r.wall_s - base_med for r in runs])


def _capped_wall(results: dict, skipped: str) -> Cell:
    runs = _runs(results, "dbt")
    if not runs:
        return Cell(text=skipped)
    if any(r.killed for r in runs):
        return Cell(text=f"≥ {max(r.wall_s for r in runs):.1f} (capped)")
    return Cell.of([r.wall_s for r in runs])


def _tenfold(ours: Cell, dbt: Cell, floor: float | None) -> tuple[bool | None, str]:
    """Ours at least 10× below dbt's whole-process figure, unless dbt's is too small for that:
    below 10× what a host with our library costs with consent off (``floor``)."""
    if ours.median is None:
        return None, "≤ dbt / 10"
    if dbt.text and dbt.text.startswith("≥"):
        dbt_value = float(dbt.text.split()[1])
        return ours.median * 10 <= dbt_value, "≤ dbt / 10"
    if dbt.median is None:
        return None, "≤ dbt / 10"
    if floor is not None and dbt.median < 10 * floor:
        return None, f"≤ dbt / 10: impossible (dbt {dbt.median:.2f} s < 10 × our off run {floor:.3f} s)"
    return ours.median * 10 <= dbt.median, "≤ dbt / 10"
