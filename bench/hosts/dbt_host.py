"""The same host tool, using dbt-core's tracker (``dbt.tracking``) the way dbt-core 1.10 does.

Runs in the dbt venv (bench/.venv-dbt), never in the project's. Mirrors dbt-core's own calls:
``dbt.cli.requires.preflight`` -> ``initialize_from_flags(SEND_ANONYMOUS_USAGE_STATS,
PROFILES_DIR)`` and ``track_run`` (``track_invocation_start`` / ``track_invocation_end`` /
``flush()``); ``dbt.task.run.track_model_run`` -> the options dict it builds (md5 of the model's
unique id and contents, timings, ...) and ``dbt.tracking.track_model_run``.

dbt's emitter is built at import time for its hard-coded https collector and has no setting to
change that; it is repointed at the loopback URL right after import, before any event exists,
and the probe's audit hook kills the process on any non-loopback connect or name look-up.

``python dbt_host.py run|throughput N URL`` (URL ``-``: no collector; a closed loopback port).
Consent: ``DO_NOT_TRACK`` exactly as ``dbt.cli.flags`` reads it.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time

from _probe import PROBE, latency_summary  # first: the audit hook must see every import

_t0 = time.perf_counter()
import dbt.tracking as tracking  # noqa: E402

IMPORT_S = time.perf_counter() - _t0
from snowplow_tracker import Emitter  # noqa: E402  (already imported by dbt.tracking)


def _md5(text: str) -> str:  # dbt.utils.md5
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _timing(index: int) -> list[dict]:
    # RunModelResult.timing -> [t.to_dict(omit_none=True)]: compile and execute steps.
    stamp = "2025-01-01T00:00:00.000000Z"
    return [
        {"name": "compile", "started_at": stamp, "completed_at": stamp},
        {"name": "execute", "started_at": stamp, "completed_at": stamp},
    ]


def main() -> int:
    mode, events, url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    base = "http://127.0.0.1:9" if url == "-" else url
    tracking.emitter.endpoint = Emitter.as_collector_uri(base, protocol="http")
    send = os.getenv("DO_NOT_TRACK", "").lower() not in ("1", "t", "true", "y", "yes")
    tracking.initialize_from_flags(send, os.path.join(os.path.expanduser("~"), ".dbt"))
    setup_s = time.perf_counter() - _t0
    context = tracking.get_base_invocation_context()
    context["command"] = "run"
    models = [
        (f"model.bench_project.model_{i}", f"select * from source_{i} -- model_{i}")
        for i in range(events)
    ]
    samples: list[int] = []
    clock = time.perf_counter_ns
    PROBE.mark("first_record")
    tracking.track_invocation_start(context)
    for index, (unique_id, sql) in enumerate(models):
        start = clock()
        tracking.track_model_run(
            {
                "invocation_id": tracking.get_invocation_id(),
                "index": index + 1,
                "total": events,
                "execution_time": 0.01 * index,
                "run_status": "SUCCESS",
                "run_skipped": False,
                "run_error": False,
                "model_materialization": "table",
                "model_incremental_strategy": None,
                "model_id": _md5(unique_id),
                "hashed_contents": _md5(sql),
                "timing": _timing(index),
                "language": "sql",
                "has_group": False,
                "contract_enforced": False,
                "access": "protected",
                "versioned": False,
                "adapter_info": {},
            }
        )
        samples.append(clock() - start)
    tracking.track_invocation_end(context, result_type="ok")
    PROBE.mark("recorded")
    if mode == "throughput":
        tracking.flush()  # dbt's track_run flushes in its ``finally``
        PROBE.mark("work_end")
    else:
        PROBE.mark("work_end")  # the host's work is done; what follows is telemetry's
        tracking.flush()
    user = tracking.active_user
    mode_now = "off" if user is None or user.do_not_track else "send"
    PROBE.extra.update(
        modules=len(sys.modules),
        side="dbt",
        calls=events + 2,
        tracking_mode=mode_now,
        setup_s=setup_s,
        import_s=IMPORT_S,
        latency=latency_summary(samples),
        snowplow_imported="snowplow_tracker" in sys.modules,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
