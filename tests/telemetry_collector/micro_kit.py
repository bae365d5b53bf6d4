"""What the collector tests share: JSON Schemas of Snowplow Micro's entries, trackers, schemas.

``GOOD_EVENT`` and ``BAD_EVENT`` are written from Snowplow's sources, not from our code: Micro
3.x's ``GoodEvent(rawEvent, eventType, schema, contexts, event, incomplete)`` and
``BadEvent(collectorPayload, rawEvent, errors)``; Enrich's ``RawEvent`` and ``CollectorPayload``;
and the Scala Analytics SDK's ``Event`` case class, whose every field is listed below in its
order with its Scala type.  A GoodEvent entry must match them field by field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from snowplow_tracker import Emitter, SelfDescribingJson, Tracker
from snowplow_tracker.events import SelfDescribing

from telemetry_collector import Collector

SIGNUP = "iglu:acme.test/signup/jsonschema/1-0-0"
TEAM = "iglu:acme.test/team/jsonschema/1-0-0"
PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
CONTEXTS = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"
UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
TIMEOUT = 5.0

# -- the shapes -----------------------------------------------------------------------------

_ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$"  # java.time.Instant, millisecond precision
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_IGLU = r"^iglu:[a-zA-Z0-9_.-]+/[a-zA-Z0-9_-]+/jsonschema/\d+-\d+-\d+$"


def _maybe(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _record(properties: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly these keys."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_STRING = {"type": "string"}
_INSTANT = {"type": "string", "pattern": _ISO}
_SELF_DESCRIBING = _record({"schema": {"type": "string", "pattern": _IGLU}, "data": {}})
#: The SDK's ``Contexts``: ``{}`` when empty, else the ``contexts`` wrapper.
_CONTEXTS = {
    "anyOf": [
        {"type": "object", "maxProperties": 0},
        _record(
            {
                "schema": {"const": CONTEXTS},
                "data": {"type": "array", "items": _SELF_DESCRIBING, "minItems": 1},
            }
        ),
    ]
}
_UNSTRUCT = _maybe(_record({"schema": {"const": UNSTRUCT}, "data": _SELF_DESCRIBING}))

# Scala type -> JSON Schema, for the SDK's field table below.
_TYPES = {
    "Option[String]": _maybe(_STRING),
    "Option[Int]": _maybe({"type": "integer"}),
    "Option[Double]": _maybe({"type": "number"}),
    "Option[Boolean]": _maybe({"type": "boolean"}),
    "Option[Instant]": _maybe(_INSTANT),
    "Instant": _INSTANT,
    "UUID": {"type": "string", "pattern": _UUID},
    "String": _STRING,
    "Contexts": _CONTEXTS,
    "UnstructEvent": _UNSTRUCT,
}

#: ``com.snowplowanalytics.snowplow.analytics.scalasdk.Event``, field by field, in order.
SDK_EVENT_FIELDS = """
app_id Option[String]; platform Option[String]; etl_tstamp Option[Instant];
collector_tstamp Instant; dvce_created_tstamp Option[Instant]; event Option[String];
event_id UUID; txn_id Option[Int]; name_tracker Option[String]; v_tracker Option[String];
v_collector String; v_etl String; user_id Option[String]; user_ipaddress Option[String];
user_fingerprint Option[String]; domain_userid Option[String]; domain_sessionidx Option[Int];
network_userid Option[String]; geo_country Option[String]; geo_region Option[String];
geo_city Option[String]; geo_zipcode Option[String]; geo_latitude Option[Double];
geo_longitude Option[Double]; geo_region_name Option[String]; ip_isp Option[String];
ip_organization Option[String]; ip_domain Option[String]; ip_netspeed Option[String];
page_url Option[String]; page_title Option[String]; page_referrer Option[String];
page_urlscheme Option[String]; page_urlhost Option[String]; page_urlport Option[Int];
page_urlpath Option[String]; page_urlquery Option[String]; page_urlfragment Option[String];
refr_urlscheme Option[String]; refr_urlhost Option[String]; refr_urlport Option[Int];
refr_urlpath Option[String]; refr_urlquery Option[String]; refr_urlfragment Option[String];
refr_medium Option[String]; refr_source Option[String]; refr_term Option[String];
mkt_medium Option[String]; mkt_source Option[String]; mkt_term Option[String];
mkt_content Option[String]; mkt_campaign Option[String]; contexts Contexts;
se_category Option[String]; se_action Option[String]; se_label Option[String];
se_property Option[String]; se_value Option[Double]; unstruct_event UnstructEvent;
tr_orderid Option[String]; tr_affiliation Option[String]; tr_total Option[Double];
tr_tax Option[Double]; tr_shipping Option[Double]; tr_city Option[String];
tr_state Option[String]; tr_country Option[String]; ti_orderid Option[String];
ti_sku Option[String]; ti_name Option[String]; ti_category Option[String];
ti_price Option[Double]; ti_quantity Option[Int]; pp_xoffset_min Option[Int];
pp_xoffset_max Option[Int]; pp_yoffset_min Option[Int]; pp_yoffset_max Option[Int];
useragent Option[String]; br_name Option[String]; br_family Option[String];
br_version Option[String]; br_type Option[String]; br_renderengine Option[String];
br_lang Option[String]; br_features_pdf Option[Boolean]; br_features_flash Option[Boolean];
br_features_java Option[Boolean]; br_features_director Option[Boolean];
br_features_quicktime Option[Boolean]; br_features_realplayer Option[Boolean];
br_features_windowsmedia Option[Boolean]; br_features_gears Option[Boolean];
br_features_silverlight Option[Boolean]; br_cookies Option[Boolean];
br_colordepth Option[String]; br_viewwidth Option[Int]; br_viewheight Option[Int];
os_name Option[String]; os_family Option[String]; os_manufacturer Option[String];
os_timezone Option[String]; dvce_type Option[String]; dvce_ismobile Option[Boolean];
dvce_screenwidth Option[Int]; dvce_screenheight Option[Int]; doc_charset Option[String];
doc_width Option[Int]; doc_height Option[Int]; tr_currency Option[String];
tr_total_base Option[Double]; tr_tax_base Option[Double]; tr_shipping_base Option[Double];
ti_currency Option[String]; ti_price_base Option[Double]; base_currency Option[String];
geo_timezone Option[String]; mkt_clickid Option[String]; mkt_network Option[String];
etl_tags Option[String]; dvce_sent_tstamp Option[Instant]; refr_domain_userid Option[String];
refr_dvce_tstamp Option[Instant]; derived_contexts Contexts; domain_sessionid Option[String];
derived_tstamp Option[Instant]; event_vendor Option[String]; event_name Option[String];
event_format Option[String]; event_version Option[String]; event_fingerprint Option[String];
true_tstamp Option[Instant]
"""
SDK_FIELDS: list[tuple[str, str]] = [
    tuple(item.split())
    for item in SDK_EVENT_FIELDS.replace("\n", " ").split(";")  # type: ignore[misc]
]

CANONICAL_EVENT = _record({name: _TYPES[scala] for name, scala in SDK_FIELDS})

_API = _record({"vendor": _STRING, "version": _STRING})
_SOURCE = _record({"name": _STRING, "encoding": {"const": "UTF-8"}, "hostname": _maybe(_STRING)})
_CONTEXT = _record(
    {
        "timestamp": _INSTANT,
        "ipAddress": _maybe(_STRING),
        "useragent": _maybe(_STRING),
        "refererUri": _maybe(_STRING),
        "headers": {"type": "array", "items": {"type": "string", "pattern": r"^[^:]+: "}},
        "userId": _maybe({"type": "string", "pattern": _UUID}),
    }
)
RAW_EVENT = _record(
    {
        "api": _API,
        "parameters": {"type": "object", "additionalProperties": _maybe(_STRING)},
        "contentType": _maybe(_STRING),
        "source": _SOURCE,
        "context": _CONTEXT,
    }
)
COLLECTOR_PAYLOAD = _record(
    {
        "api": _API,
        "querystring": {"type": "array", "items": {"type": "string", "pattern": "="}},
        "contentType": _maybe(_STRING),
        "body": _maybe(_STRING),
        "source": _SOURCE,
        "context": _CONTEXT,
    }
)
GOOD_EVENT = _record(
    {
        "rawEvent": RAW_EVENT,
        "eventType": _maybe(_STRING),
        "schema": _maybe({"type": "string", "pattern": _IGLU}),
        "contexts": {"type": "array", "items": {"type": "string", "pattern": _IGLU}},
        "event": CANONICAL_EVENT,
        "incomplete": {"const": False},
    }
)
BAD_EVENT = _record(
    {
        "collectorPayload": _maybe(COLLECTOR_PAYLOAD),
        "rawEvent": _maybe(RAW_EVENT),
        "errors": {"type": "array", "items": _STRING, "minItems": 1},
    }
)
SUMMARY = _record(
    {
        name: {"type": "integer", "minimum": 0}
        for name in ("total", "good", "bad", "duplicates", "evicted")
    }
)


def check_shape(entry: Any, schema: dict[str, Any]) -> None:
    """Fail naming every field that does not match (not just the first)."""
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(entry), key=str)
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(entry)'}: {e.message}" for e in errors[:20]
    )


def check_good(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        check_shape(entry, GOOD_EVENT)
        assert list(entry["event"]) == [name for name, _ in SDK_FIELDS]  # the SDK's order


def check_bad(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        check_shape(entry, BAD_EVENT)


# -- schemas and trackers -----------------------------------------------------------------


def write_schema(root: Path, uri: str, body: dict[str, Any]) -> None:
    vendor, name, fmt, version = uri.removeprefix("iglu:").split("/")
    path = root / vendor / name / fmt / version
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = {
        "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/"
        "jsonschema/1-0-0#",
        "self": {"vendor": vendor, "name": name, "format": fmt, "version": version},
        **body,
    }
    path.write_text(json.dumps(schema), encoding="utf-8")


def write_test_schemas(root: Path) -> Path:
    write_schema(
        root,
        SIGNUP,
        {
            "type": "object",
            "properties": {
                "plan": {"type": "string", "enum": ["free", "pro"]},
                "seats": {"type": "integer", "minimum": 1},
                "note": {"type": "string"},
            },
            "required": ["plan"],
            "additionalProperties": False,
        },
    )
    write_schema(
        root,
        TEAM,
        {
            "type": "object",
            "properties": {"size": {"type": "integer"}},
            "additionalProperties": False,
        },
    )
    return root


def snowplow_tracker(
    collector: Collector,
    *,
    method: str = "post",
    encode_base64: bool = True,
    sent: list[dict[str, Any]] | None = None,
) -> Tracker:
    """Snowplow's own Python tracker, one event per request; *sent* collects what it sent."""
    emitter = Emitter(
        collector.url.removeprefix("http://"),
        protocol="http",
        method=method,  # type: ignore[arg-type]
        batch_size=1,
        request_timeout=TIMEOUT,
        on_success=sent.extend if sent is not None else None,
    )
    return Tracker("tests", emitter, app_id="collector-tests", encode_base64=encode_base64)


def signup(
    data: dict[str, Any], contexts: list[SelfDescribingJson] | None = None
) -> SelfDescribing:
    return SelfDescribing(SelfDescribingJson(SIGNUP, data), context=contexts)


def unstruct_data(entry: dict[str, Any]) -> Any:
    """The self-describing event's own data, from a GoodEvent entry."""
    return entry["event"]["unstruct_event"]["data"]["data"]


def context_entities(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The attached contexts ``[{schema, data}]``, from a GoodEvent entry."""
    return entry["event"]["contexts"].get("data", [])
