"""The plan of a run is a pure function: decision, settings, endpoint, notice -> what happens.

Table-driven, no files, no environment: every way a run can turn out, and the one line it says.
"""

from __future__ import annotations

import pytest

from consent import Edition, Layer, resolve
from tracking.may_send import Start
from tracking.plan import Plan, plan
from tracking.settings import TrackerSettings

ON = resolve("testapp", Edition(), [Layer("edition_default", "on")])
OFF = resolve("testapp", Edition(), [Layer("do_not_track", "off"), Layer("edition_default", "on")])
URL = "https://collector.example.com"
DEBUG = TrackerSettings(debug=True)
PLAIN = TrackerSettings()
REFUSED = "TESTAPP_TELEMETRY_ENDPOINT='http://x' uses plain http:// to another machine"
#: What tracking.may_send says for a user not told yet, and for one told (or who said yes).
NOT_TOLD = Start(False, True, "not told")
TOLD = Start(True, False, "told")


@pytest.mark.parametrize(
    "case,decision,settings,url,problem,notice,expected",
    [
        ("consent off", OFF, PLAIN, URL, None, False, Plan("off")),
        ("consent off wins over debug", OFF, DEBUG, URL, None, True, Plan("off")),
        ("no decision (it failed)", None, PLAIN, URL, None, False, Plan("off")),
        ("debug prints", ON, DEBUG, URL, None, True, Plan("debug", URL)),
        ("debug names no refused endpoint", ON, DEBUG, None, REFUSED, False, Plan("debug")),
        (
            "a refused endpoint is one line",
            ON,
            PLAIN,
            None,
            REFUSED,
            False,
            Plan("off", None, (f"telemetry: {REFUSED}",)),
        ),
        ("no collector: silently off", ON, PLAIN, None, None, False, Plan("off")),
        ("first run: the notice", ON, PLAIN, URL, None, True, Plan("notice", URL, notice=True)),
        ("told: record", ON, PLAIN, URL, None, False, Plan("record", URL)),
    ],
)
def test_every_way_a_run_can_go(case, decision, settings, url, problem, notice, expected):
    start = NOT_TOLD if notice else TOLD
    assert plan(decision, settings, url, problem, start) == expected, case


def test_a_record_plan_carries_how_it_is_delivered_and_settings_problems_are_said():
    result = plan(
        ON,
        PLAIN,
        URL,
        None,
        TOLD,
        ("inline", "CI (GITHUB_ACTIONS)"),
        ("telemetry: TESTAPP_TELEMETRY_BATCH_SIZE='x' is ignored",),
    )
    assert result == Plan(
        "record",
        URL,
        ("telemetry: TESTAPP_TELEMETRY_BATCH_SIZE='x' is ignored",),
        "inline",
        "CI (GITHUB_ACTIONS)",
    )
