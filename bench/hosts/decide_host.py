"""In-process cost of one consent decision with every layer present (the world is set up by the
harness: policy file, project file, legacy profiles.yml, user config, env var).

``python decide_host.py N``: times N ``consent.decide()`` calls; prints ``BENCH_REPORT <json>``.
"""

from __future__ import annotations

import json
import sys
import time

_t0 = time.perf_counter()
import consent  # noqa: E402

IMPORT_S = time.perf_counter() - _t0


def main() -> int:
    calls = int(sys.argv[1])
    profile = consent.DEFAULT_PROFILE
    first = consent.decide(profile)
    samples = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        start = clock()
        consent.decide(profile)
        samples.append(clock() - start)
    samples.sort()
    layers = {layer.name: layer.status for layer in first.layers}
    print(
        "BENCH_REPORT "
        + json.dumps(
            {
                "import_s": IMPORT_S,
                "median_us": samples[len(samples) // 2] / 1000.0,
                "p99_us": samples[min(len(samples) - 1, int(0.99 * len(samples)))] / 1000.0,
                "enabled": first.enabled,
                "layers": layers,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
