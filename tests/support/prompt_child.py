"""A host stand-in that asks the opt-in question, run on a real pty by
tests/tracking/test_tracking_prompt.py (``python -m tests.support.prompt_child``).

argv: RESULT_FILE TIMEOUT_S [WAIT_FILE]. With WAIT_FILE it waits (bounded) until the file exists
before asking, so a test can type ahead first. It writes ``{"why_not", "answer"}`` as JSON to
RESULT_FILE, prints ``host goes on`` and exits 7: the host's own code, which asking must not
change, Ctrl-C included.
"""

from __future__ import annotations

import json
import os
import sys
import time

from tracking.prompt import ask, question, why_not_ask


def main() -> int:
    result, timeout = sys.argv[1], float(sys.argv[2])
    if len(sys.argv) > 3:
        ends = time.monotonic() + 30
        while not os.path.exists(sys.argv[3]) and time.monotonic() < ends:
            time.sleep(0.01)
    why_not = why_not_ask(os.environ, sys.stderr)
    answer = None
    if why_not is None:
        answer = ask(
            question("askfirst", "what it collects", "askfirst telemetry"), timeout, sys.stderr
        )
    with open(result, "w", encoding="utf-8") as fh:
        json.dump({"why_not": why_not, "answer": answer}, fh)
    print("host goes on", flush=True)
    return 7


if __name__ == "__main__":
    sys.exit(main())
