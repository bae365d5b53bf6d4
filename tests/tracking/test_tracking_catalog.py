"""The catalog: what ``telemetry events`` shows, cheap to import, and open to a profile's own
events."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from pydantic import Field

from tests.support.tracking import DELIVER_S
from tracking import Tracker
from tracking.catalog import (
    DEFAULT_CATALOG,
    Catalog,
    CatalogError,
    ContextSpec,
    EventInvalid,
    EventSpec,
    load_catalog,
)
from tracking.events import TelemetryModel

HEAVY = ("snowplow_tracker", "requests", "rich", "pydantic_settings", "urllib3")


def _imported_after(code: str) -> list[str]:
    probe = textwrap.dedent(f"""
        import sys
        {code}
        print(__import__("json").dumps(sorted({{m.split(".")[0] for m in sys.modules}})))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    "code",
    [
        "import tracking.catalog; tracking.catalog.DEFAULT_CATALOG.describe()",
        "import tracking",
        "from tracking.endpoint import endpoint_for",
        "from tracking import Tracker",
    ],
)
def test_rendering_the_catalog_or_importing_tracking_loads_nothing_heavy(code):
    loaded = _imported_after(code)
    assert not [name for name in HEAVY if name in loaded], loaded


def test_import_tracking_alone_does_not_even_load_pydantic():
    assert "pydantic" not in _imported_after("import tracking")


def test_the_default_catalog_describes_every_event_and_context():
    doc = DEFAULT_CATALOG.describe()
    assert [e["name"] for e in doc["events"]] == ["invocation_start", "invocation_end", "model_run"]
    assert [c["name"] for c in doc["contexts"]] == ["platform", "invocation", "ci"]
    for entry in doc["events"] + doc["contexts"]:
        assert entry["schema"].startswith("iglu:dev.telemetry-consent/")
        assert entry["description"] and entry["example"]
        assert all(field["description"] for field in entry["fields"]), entry["name"]
    json.dumps(doc)  # one JSON document, as `telemetry events --json` prints it
    model_run = next(e for e in doc["events"] if e["name"] == "model_run")
    status = next(f for f in model_run["fields"] if f["name"] == "status")
    assert status["values"] == ["success", "error", "skipped", "fail", "warn", "pass"]


def test_load_catalog_follows_the_profile_reference():
    assert load_catalog("tracking.catalog:DEFAULT_CATALOG") is DEFAULT_CATALOG
    assert len(load_catalog(None)) == 0


@pytest.mark.parametrize(
    "reference",
    ["no.such.module:X", "tracking.catalog:NOPE", "json:dumps", "tracking.catalog:VENDOR"],
)
def test_a_broken_catalog_reference_is_one_clear_error(reference):
    with pytest.raises(CatalogError, match="Fix:"):
        load_catalog(reference)


def test_a_name_declared_twice_is_refused():
    with pytest.raises(CatalogError, match="twice"):
        DEFAULT_CATALOG + Catalog(events=(DEFAULT_CATALOG.get("model_run"),))


def test_an_invalid_event_is_refused_with_its_schema_named():
    with pytest.raises(EventInvalid, match="model_run"):
        DEFAULT_CATALOG.get("model_run").validate({"status": "success"})


# -- a profile's own events ------------------------------------------------------------------
class TestRun(TelemetryModel):
    __test__ = False
    suite_size: int = Field(ge=0, le=100_000, description="How many tests ran.")


def _own_schema(root, name, properties, required):
    path = root / "com.example" / name / "jsonschema" / "1-0-0"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
                "self": {
                    "vendor": "com.example",
                    "name": name,
                    "format": "jsonschema",
                    "version": "1-0-0",
                },
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            }
        )
    )


def test_a_profile_adds_its_own_event_and_context_and_they_are_sent(
    tracking_world, tmp_path, monkeypatch
):
    from telemetry_collector import Collector

    schemas = tmp_path / "schemas"
    _own_schema(
        schemas,
        "test_run",
        {"suite_size": {"type": "integer", "minimum": 0, "maximum": 100000}},
        ["suite_size"],
    )
    _own_schema(
        schemas,
        "ci",
        {"provider": {"type": "string", "maxLength": 16, "pattern": "^[a-z]+$"}},
        ["provider"],
    )
    own = Catalog(
        events=(
            EventSpec(
                name="test_run",
                model=TestRun,
                description="A test suite ran.",
                example={"suite_size": 12},
                vendor="com.example",
                schema_root=schemas,
            ),
        ),
        contexts=(
            ContextSpec(
                name="ci",
                description="Where CI runs.",  # no model: plain data
                example={"provider": "github"},
                vendor="com.example",
                schema_root=schemas,
            ),
        ),
    )
    module = tmp_path / "mytool_catalog.py"
    module.write_text("CATALOG = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import mytool_catalog

    mytool_catalog.CATALOG = DEFAULT_CATALOG + own
    with Collector(schema_roots=[schemas]) as collector:
        world = tracking_world
        profile = world.tracked_profile(
            endpoint=collector.url, event_catalog="mytool_catalog:CATALOG"
        )
        world.acknowledge()
        tracker = Tracker(profile)
        with tracker.invocation("test") as inv:
            inv.track("test_run", {"suite_size": 12}, contexts=[("ci", {"provider": "github"})])
            inv.track(TestRun(suite_size=7))  # a typed model of the catalog works too
            # Built without pydantic's check: the uploader's schema check refuses it (the host
            # has no checks for a profile's own schemas: it imports no schema library).
            inv.track(TestRun.model_construct(suite_size=-1))
            inv.track("test_run", {"suite_size": 1}, contexts=[("nope", {})])  # unknown context
        assert tracker.flush(DELIVER_S) is False  # one was dropped

        assert collector.totals() == {
            "total": 4,
            "good": 4,
            "bad": 0,
            "duplicates": 0,
            "evicted": 0,
        }
        mine = collector.good(schema="iglu:com.example/test_run/jsonschema/1-0-0")
        assert [e["event"]["unstruct_event"]["data"]["data"] for e in mine[::-1]] == [
            {"suite_size": 12},
            {"suite_size": 7},
        ]
        assert "iglu:com.example/ci/jsonschema/1-0-0" in mine[-1]["contexts"]
        assert tracker.stats.invalid == 1  # the unknown context, refused on the host
        assert world.spool().waiting().dropped == {"invalid": 1}  # the bad one, by the uploader
        tracker.close()
