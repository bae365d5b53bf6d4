"""A host tool embedding our tracker the way a real one does (tests/tracking/host_app.py, timed).

``python ours_host.py run N URL``: one invocation (start, N model runs, end), then exit; the final
flush is left to the tracker's atexit handler, as a real tool leaves it.
``python ours_host.py throughput N URL``: the same burst, then ``tracker.close(timeout=120)``;
the bounded queue drops what does not fit, by design, and the stats say how many.
``python ours_host.py paced N URL``: the same, but every 1,000 events the host waits (sleeping)
while more than 5,000 are in flight, reading only the public ``tracker.stats``: what the sender
sustains when the host records no faster than it can send.
URL ``-`` means no collector. Consent comes from the environment (DO_NOT_TRACK=1 in "off").
"""

from __future__ import annotations

from _probe import PROBE, latency_summary  # first: the audit hook must see every import

import sys  # noqa: E402
import time  # noqa: E402

_t0 = time.perf_counter()
from tracking import Tracker  # noqa: E402

from ours_profile import make_profile  # noqa: E402


def main() -> int:
    mode, events, url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    tracker = Tracker(make_profile(None if url == "-" else url), project_name="bench_project")
    setup_s = time.perf_counter() - _t0  # import + consent decision (+ settings when on)
    sqls = [f"select * from source_{i} -- model_{i}" for i in range(events)]
    samples: list[int] = []
    clock = time.perf_counter_ns
    PROBE.mark("first_record")
    paced = mode == "paced"
    with tracker.invocation("run") as inv:
        for index, sql in enumerate(sqls):
            start = clock()
            inv.model_run(contents=sql, status="success", execution_time_s=0.01 * index,
                          materialization="table")
            samples.append(clock() - start)
            inv.count("model")
            if paced and index % 1000 == 999:
                _wait_for_sender(tracker.stats, in_flight=5000)
    PROBE.mark("recorded")
    if mode in ("throughput", "paced"):
        PROBE.extra["closed_in_time"] = tracker.close(timeout=120.0)
    PROBE.mark("work_end")
    PROBE.extra.update(modules=len(sys.modules), side="ours", tracking_mode=tracker.mode,
                       setup_s=setup_s, latency=latency_summary(samples),
                       snowplow_imported="snowplow_tracker" in sys.modules)
    PROBE.late(lambda: {"stats": tracker.stats.as_dict()})
    return 0


def _wait_for_sender(stats, in_flight: int, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and not stats.gave_up:
        handled = (stats.sent + stats.dropped_queue_full + stats.dropped_consent
                   + stats.dropped_failed + stats.dropped_closed + stats.invalid)
        if stats.recorded - handled <= in_flight:
            return
        time.sleep(0.001)


if __name__ == "__main__":
    sys.exit(main())
