"""snowplow-tracker builds the payloads, and its import side effects never reach the host.

Measured on snowplow-tracker 1.1.0: importing it calls ``logging.basicConfig()`` (a stderr
handler on the host's root logger) and sets its loggers to INFO, so its chatter would appear in
the host's terminal. Checked in a fresh process, since this test process may have imported it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.tracking import decode_b64
from tracking._snowplow import PAYLOAD_DATA_SCHEMA, PayloadBuilder
from tracking.catalog import DEFAULT_CATALOG

IGLU = Path(__file__).resolve().parents[2] / "tracking" / "iglu" / "schemas"


def _fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_the_bare_library_does_touch_the_host_logging():
    """The quirk we work around is real (if this fails, the workaround may be dropped)."""
    out = _fresh("""
        import logging
        import snowplow_tracker
        print(len(logging.getLogger().handlers))
        logging.getLogger("snowplow_tracker.emitters").info("LIBRARY CHATTER")
    """)
    assert out.stdout.strip() == "1"
    assert "LIBRARY CHATTER" in out.stderr


def test_our_import_leaves_the_host_logging_as_it_was_and_silences_the_library():
    out = _fresh("""
        import json, logging
        root = logging.getLogger()
        before = (list(root.handlers), root.level)
        from tracking._snowplow import import_snowplow
        import_snowplow()
        after = (list(root.handlers), root.level)
        for name in ("snowplow_tracker.emitters", "snowplow_tracker.snowplow", "snowplow_tracker"):
            logging.getLogger(name).warning("LIBRARY CHATTER")
        logging.getLogger("snowplow_tracker.emitters").error("LIBRARY CHATTER")
        quiet = logging.getLogger("snowplow_tracker.emitters")
        print(json.dumps({"same": before == after, "propagate": quiet.propagate,
                          "null": all(isinstance(h, logging.NullHandler) for h in quiet.handlers)}))
    """)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"same": True, "propagate": False, "null": True}
    assert out.stderr == ""


def test_a_host_that_configured_logging_keeps_its_configuration():
    out = _fresh("""
        import logging, sys
        logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format="HOST %(message)s")
        from tracking._snowplow import import_snowplow
        import_snowplow()
        logging.getLogger("host").debug("still mine")
        logging.getLogger("snowplow_tracker.emitters").info("LIBRARY CHATTER")
    """)
    assert out.stdout == "HOST still mine\n"
    assert out.stderr == ""


def test_payloads_are_tracker_protocol_strings_that_payload_data_accepts():
    jsonschema = pytest.importorskip("jsonschema")
    payload_schema = json.loads(
        (
            IGLU / "com.snowplowanalytics.snowplow" / "payload_data" / "jsonschema" / "1-0-4"
        ).read_text()
    )
    payload_schema = {k: v for k, v in payload_schema.items() if k not in ("$schema", "self")}
    spec = DEFAULT_CATALOG.get("model_run")
    platform = DEFAULT_CATALOG.get("platform")

    builder = PayloadBuilder(namespace="testapp", app_id="testapp")
    cx = builder.encode_contexts([(platform.iglu_uri, platform.example)])
    payload = builder.build(spec.iglu_uri, spec.example, dtm=1_700_000_000_123, cx=cx)

    assert all(isinstance(v, str) for v in payload.values())
    jsonschema.Draft4Validator(payload_schema).validate([payload])
    # dtm is when the host recorded the event (as snowplow's track() sets it); no ttm.
    assert payload["e"] == "ue" and payload["dtm"] == "1700000000123" and "ttm" not in payload
    assert payload["tv"].startswith("py-") and payload["tna"] == "testapp"
    assert decode_b64(payload["ue_px"])["data"] == {"schema": spec.iglu_uri, "data": spec.example}
    assert decode_b64(payload["cx"])["data"] == [
        {"schema": platform.iglu_uri, "data": platform.example}
    ]
    assert PAYLOAD_DATA_SCHEMA == (
        "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
    )


def test_payloads_are_exactly_what_the_library_s_own_tracker_builds():
    """PayloadBuilder uses snowplow-tracker's pieces instead of ``Tracker.track`` (which cost three
    times as much per event): same fields, same encoding, same values but the per-event ids."""
    from tracking._snowplow import import_snowplow

    sp = import_snowplow()

    class Keep:
        def __init__(self):
            self.payloads = []

        def input(self, payload):
            self.payloads.append(payload)

        def flush(self):
            pass

    spec = DEFAULT_CATALOG.get("model_run")
    contexts = [
        (DEFAULT_CATALOG.get(name).iglu_uri, DEFAULT_CATALOG.get(name).example)
        for name in ("platform", "invocation")
    ]
    kept = Keep()
    reference = sp.Tracker(namespace="testapp", emitters=kept, app_id="testapp", encode_base64=True)
    reference.track(
        sp.SelfDescribing(
            sp.SelfDescribingJson(spec.iglu_uri, spec.example),
            context=[sp.SelfDescribingJson(uri, data) for uri, data in contexts],
        )
    )
    expected = {key: str(value) for key, value in kept.payloads[0].items()}

    builder = PayloadBuilder(namespace="testapp", app_id="testapp")
    cx = builder.encode_contexts(contexts)
    built = builder.build(spec.iglu_uri, spec.example, dtm=1_700_000_000_123, cx=cx)
    kept = builder.build(
        spec.iglu_uri,
        spec.example,
        dtm="1700000000999",
        cx=cx,
        eid="5f2b8a6e-6c1d-4f0a-9b7e-2d4c6a8e0f13",
    )

    for payload in (built, kept):
        assert set(payload) == set(expected)
        assert {k: v for k, v in payload.items() if k not in ("eid", "dtm")} == {
            k: v for k, v in expected.items() if k not in ("eid", "dtm")
        }
        assert all(isinstance(v, str) for v in payload.values())
    assert built["dtm"] == "1700000000123" and "ttm" not in built
    assert kept["dtm"] == "1700000000999" and built["eid"] != kept["eid"]
    # The id an event was recorded with survives a retry: duplicates can be counted.
    assert kept["eid"] == "5f2b8a6e-6c1d-4f0a-9b7e-2d4c6a8e0f13"
    assert builder.encode_contexts([]) is None
    assert "cx" not in builder.build(spec.iglu_uri, spec.example, dtm=1)
