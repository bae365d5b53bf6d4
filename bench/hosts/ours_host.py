"""A host tool embedding our tracker the way a real one does (tests/support/host.py, timed).

``python ours_host.py run N URL``: one invocation (start, N model runs, end), then exit; the
hand-over to the uploader is left to the tracker's atexit handler, as a real tool leaves it.
``python ours_host.py opt_in N URL``: the same with the opt-in profile (nobody has answered its
question in the fresh world).
``python ours_host.py throughput N URL``: the same, for a large N (the spool's bounds are raised
by the harness for that scenario).
URL ``-`` means no collector. Consent comes from the environment (DO_NOT_TRACK=1 in "off").
"""

from __future__ import annotations

import sys
import time

from _probe import PROBE, latency_summary  # first: the audit hook must see every import

_t0 = time.perf_counter()
from ours_profile import make_profile  # noqa: E402

from tracking import Tracker  # noqa: E402


def main() -> int:
    mode, events, url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    model = "opt_in" if mode == "opt_in" else "opt_out"
    tracker = Tracker(
        make_profile(None if url == "-" else url, model), project_name="bench_project"
    )
    setup_s = time.perf_counter() - _t0  # import + consent decision (+ settings when on)
    sqls = [f"select * from source_{i} -- model_{i}" for i in range(events)]
    samples: list[int] = []
    clock = time.perf_counter_ns
    PROBE.mark("first_record")
    with tracker.invocation("run") as inv:
        for index, sql in enumerate(sqls):
            start = clock()
            inv.model_run(
                contents=sql,
                status="success",
                execution_time_s=0.01 * index,
                materialization="table",
            )
            samples.append(clock() - start)
            inv.count("model")
    PROBE.mark("recorded")
    PROBE.mark("work_end")
    PROBE.extra.update(
        modules=len(sys.modules),
        side="ours",
        tracking_mode=tracker.plan.kind,
        decided_by=tracker.decision.decided_by if tracker.decision else None,
        setup_s=setup_s,
        latency=latency_summary(samples),
        snowplow_imported="snowplow_tracker" in sys.modules,
    )
    PROBE.late(lambda: {"stats": tracker.stats.as_dict()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
