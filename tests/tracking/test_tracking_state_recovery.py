"""A damaged or planted ``state.json`` never stops delivery, and a persisted backoff never holds
it off for longer than the uploader's own longest wait.

Real host processes, the real collector, the CLI as a subprocess.
"""

from __future__ import annotations

import os
import sys
import time

import pytest

from tests.support.testapp_cli import MODULE as TESTAPP_CLI
from tests.support.tracking import DELIVER_S

pytestmark = pytest.mark.delivery

#: Shapes found in the wild or planted: each made ``Spool.not_before`` raise inside the host's
#: start of the uploader (which swallowed it), so no uploader ever started again.
MALFORMED = {
    "backoff null": '{"backoff": null}',
    "backoff a list": '{"backoff": [1, 2]}',
    "entry null": '{"backoff": {"%(url)s": null}}',
    "entry a string": '{"backoff": {"%(url)s": "soon"}}',
    "not_before a string": '{"backoff": {"%(url)s": {"not_before": "x", "failures": "y"}}}',
    "not_before NaN": '{"backoff": {"%(url)s": {"not_before": NaN}}}',
    "not a JSON object": "[1, 2, 3]",
    "truncated": '{"backoff": {"%(url)s": {"not_be',
}


def _plant(world, text: str) -> None:
    spool = world.spool()
    os.makedirs(spool.directory, mode=0o700, exist_ok=True)
    with open(spool.state_path, "w", encoding="utf-8") as fh:
        fh.write(text % {"url": world.collector_url} if "%(url)s" in text else text)


@pytest.mark.parametrize("text", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_state_never_stops_delivery(tracking_world, collector, text):
    world = tracking_world
    world.acknowledge()
    _plant(world, text)
    run = world.run_host()
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert collector.wait_for(good=52, timeout=DELIVER_S)
    assert world.wait_delivered()


@pytest.mark.parametrize("when", ["1e400", "time.time() + 30 * 86400"])
def test_a_backoff_beyond_the_longest_wait_is_not_honoured(tracking_world, when):
    """A clock that was ahead, or a planted state, held delivery off for weeks (and the 7-day
    age bound then dropped the events); ``status`` printed a traceback for ``1e400``."""
    world = tracking_world
    value = "1e400" if when == "1e400" else repr(time.time() + 30 * 86400)
    _plant(world, '{"backoff": {"%(url)s": {"not_before": ' + value + ', "failures": 3}}}')
    longest = 60.0  # the uploader's backoff_max_s default
    assert world.spool().not_before(world.collector_url, longest) == 0  # not one we wrote
    done = world.run(
        "status", "--json", script=[sys.executable, "-m", TESTAPP_CLI, world.collector_url]
    )
    assert done.code == 0, done  # World.run also checks that no traceback was printed
    done.json()


def test_a_backoff_no_longer_than_the_setting_lets_the_next_run_deliver(tracking_world, collector):
    """With the longest wait set to 1 s, a planted month-long backoff holds only that second."""
    world = tracking_world
    world.acknowledge()
    _plant(
        world, '{"backoff": {"%(url)s": {"not_before": ' + repr(time.time() + 30 * 86400) + "}}}"
    )
    time.sleep(1.2)
    run = world.run_host(env={"TESTAPP_TELEMETRY_BACKOFF_MAX_S": "1"})
    assert run.returncode == 0, run.stderr
    assert collector.wait_for(good=52, timeout=DELIVER_S)
