"""What Snowplow's Enrich makes of one event: the canonical (enriched) event.

Snowplow Micro's ``/micro/good`` entries carry the event as Enrich leaves it with every optional
enrichment off, in the shape of the Scala Analytics SDK's ``Event`` case class: the same field
names, in the same order, ISO-8601 timestamps, ``contexts`` as a ``contexts`` self-describing
wrapper (``{}`` when there are none) and ``unstruct_event`` as an ``unstruct_event`` wrapper (null
when there is none).  Fields only an enrichment would fill (geo, IP lookups, user-agent parsing,
campaign and referer attribution, currency conversion) are null.

:func:`parse_atomic` does, once per event, what Enrich's ``Transform`` step does: it maps each
tracker parameter to its field and converts it (event codes, platforms, UUIDs, integers,
decimals, booleans, ``WxH`` dimensions, millisecond timestamps), and every value Enrich would
refuse becomes a reason naming the parameter and the field.  :func:`canonical_event` expands
what it kept to the full field list when an entry is read, so the store keeps only what was sent.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "CONTEXTS_URI",
    "EVENT_TYPES",
    "FIELDS",
    "SNOWPLOW",
    "UNSTRUCT_EVENT_URI",
    "UUID_PATTERN",
    "canonical_event",
    "event_schema",
    "iso",
    "new_event_id",
    "parse_atomic",
]

SNOWPLOW = "com.snowplowanalytics.snowplow"
CONTEXTS_URI = f"iglu:{SNOWPLOW}/contexts/jsonschema/1-0-0"
UNSTRUCT_EVENT_URI = f"iglu:{SNOWPLOW}/unstruct_event/jsonschema/1-0-0"

#: Tracker-protocol ``e`` codes and the canonical ``event`` each becomes (Enrich's
#: ``extractEventType``; ``ev`` is the legacy code for ``se``).
EVENT_TYPES: Mapping[str, str] = {
    "se": "struct",
    "ev": "struct",
    "ue": "unstruct",
    "ad": "ad_impression",
    "tr": "transaction",
    "ti": "transaction_item",
    "pv": "page_view",
    "pp": "page_ping",
}

#: The schema Enrich gives each built-in event type (``SchemaEnrichment``); ``unstruct`` takes
#: the self-describing event's own schema.  ``ad_impression`` has none, so Enrich fails it.
_BUILT_IN_SCHEMAS: Mapping[str, str] = {
    "page_view": f"iglu:{SNOWPLOW}/page_view/jsonschema/1-0-0",
    "page_ping": f"iglu:{SNOWPLOW}/page_ping/jsonschema/1-0-0",
    "struct": "iglu:com.google.analytics/event/jsonschema/1-0-0",
    "transaction": f"iglu:{SNOWPLOW}/transaction/jsonschema/1-0-0",
    "transaction_item": f"iglu:{SNOWPLOW}/transaction_item/jsonschema/1-0-0",
}

_PLATFORMS = frozenset({"web", "iot", "app", "mob", "pc", "cnsl", "tv", "srv", "headset"})
UUID_PATTERN = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_DIMENSIONS = re.compile(r"^(\d{1,10})x(\d{1,10})$")  # 10 digits hold any 32-bit int
_INT_MAX = 2**31 - 1  # Enrich stores these as Java Integers
#: Enrich refuses timestamps it could not load into Redshift: years 0 to 9999.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS_MIN = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
_MS_MAX = (datetime(10000 - 1, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) // timedelta(
    milliseconds=1
)

#: Every field of the Scala Analytics SDK's ``Event``, in its order.
FIELDS: tuple[str, ...] = (
    "app_id", "platform", "etl_tstamp", "collector_tstamp", "dvce_created_tstamp", "event",
    "event_id", "txn_id", "name_tracker", "v_tracker", "v_collector", "v_etl", "user_id",
    "user_ipaddress", "user_fingerprint", "domain_userid", "domain_sessionidx", "network_userid",
    "geo_country", "geo_region", "geo_city", "geo_zipcode", "geo_latitude", "geo_longitude",
    "geo_region_name", "ip_isp", "ip_organization", "ip_domain", "ip_netspeed", "page_url",
    "page_title", "page_referrer", "page_urlscheme", "page_urlhost", "page_urlport",
    "page_urlpath", "page_urlquery", "page_urlfragment", "refr_urlscheme", "refr_urlhost",
    "refr_urlport", "refr_urlpath", "refr_urlquery", "refr_urlfragment", "refr_medium",
    "refr_source", "refr_term", "mkt_medium", "mkt_source", "mkt_term", "mkt_content",
    "mkt_campaign", "contexts", "se_category", "se_action", "se_label", "se_property", "se_value",
    "unstruct_event", "tr_orderid", "tr_affiliation", "tr_total", "tr_tax", "tr_shipping",
    "tr_city", "tr_state", "tr_country", "ti_orderid", "ti_sku", "ti_name", "ti_category",
    "ti_price", "ti_quantity", "pp_xoffset_min", "pp_xoffset_max", "pp_yoffset_min",
    "pp_yoffset_max", "useragent", "br_name", "br_family", "br_version", "br_type",
    "br_renderengine", "br_lang", "br_features_pdf", "br_features_flash", "br_features_java",
    "br_features_director", "br_features_quicktime", "br_features_realplayer",
    "br_features_windowsmedia", "br_features_gears", "br_features_silverlight", "br_cookies",
    "br_colordepth", "br_viewwidth", "br_viewheight", "os_name", "os_family", "os_manufacturer",
    "os_timezone", "dvce_type", "dvce_ismobile", "dvce_screenwidth", "dvce_screenheight",
    "doc_charset", "doc_width", "doc_height", "tr_currency", "tr_total_base", "tr_tax_base",
    "tr_shipping_base", "ti_currency", "ti_price_base", "base_currency", "geo_timezone",
    "mkt_clickid", "mkt_network", "etl_tags", "dvce_sent_tstamp", "refr_domain_userid",
    "refr_dvce_tstamp", "derived_contexts", "domain_sessionid", "derived_tstamp", "event_vendor",
    "event_name", "event_format", "event_version", "event_fingerprint", "true_tstamp",
)  # fmt: skip


class _Refused(ValueError):
    """A parameter value Enrich would refuse; the message says what it expected."""


def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        raise _Refused(f"not a valid event type (one of {', '.join(EVENT_TYPES)})")
    return EVENT_TYPES[value]


def _platform(value: str) -> str:
    if value not in _PLATFORMS:
        raise _Refused(f"not a valid platform (one of {', '.join(sorted(_PLATFORMS))})")
    return value


def _uuid(value: str) -> str:
    if not UUID_PATTERN.match(value):
        raise _Refused("not a UUID")
    return value.lower()


def _integer(value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise _Refused("not an integer") from None
    if not -_INT_MAX - 1 <= number <= _INT_MAX:
        raise _Refused("out of range for a 32-bit integer")
    return number


def _decimal(value: str) -> float:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise _Refused("not a number") from None
    if not number.is_finite():
        raise _Refused("not a finite number")
    double = float(number)
    if math.isinf(double):  # 1e400 is finite as a decimal, and no JSON number as a double
        raise _Refused("out of range for a double")
    return double


def _boolean(value: str) -> bool:
    if value not in ("0", "1"):
        raise _Refused("not 0 or 1")
    return value == "1"


def _timestamp(value: str) -> int:
    try:
        ms = int(value)
    except ValueError:
        raise _Refused("not in the expected format: ms since epoch") from None
    if not _MS_MIN <= ms <= _MS_MAX:
        raise _Refused("outside the years 0001-9999")
    return ms


def _dimensions(value: str) -> tuple[int, int]:
    match = _DIMENSIONS.match(value)
    if match is None:
        raise _Refused("not WIDTHxHEIGHT")
    width, height = int(match.group(1)), int(match.group(2))
    if width > _INT_MAX or height > _INT_MAX:
        raise _Refused("out of range for a 32-bit integer")
    return width, height


_Setter = tuple[Callable[[str], Any], tuple[str, ...]]


def _one(convert: Callable[[str], Any], field: str) -> _Setter:
    return convert, (field,)


#: Tracker parameter -> (converter, the field(s) it sets), as in Enrich's ``Transform``.
_CONVERTED: Mapping[str, _Setter] = {
    "e": _one(_event_type, "event"),
    "p": _one(_platform, "platform"),
    "tid": _one(_integer, "txn_id"),
    "vid": _one(_integer, "domain_sessionidx"),
    "sid": _one(_uuid, "domain_sessionid"),
    "dtm": _one(_timestamp, "dvce_created_tstamp"),
    "ttm": _one(_timestamp, "true_tstamp"),
    "stm": _one(_timestamp, "dvce_sent_tstamp"),
    "f_pdf": _one(_boolean, "br_features_pdf"),
    "f_fla": _one(_boolean, "br_features_flash"),
    "f_java": _one(_boolean, "br_features_java"),
    "f_dir": _one(_boolean, "br_features_director"),
    "f_qt": _one(_boolean, "br_features_quicktime"),
    "f_realp": _one(_boolean, "br_features_realplayer"),
    "f_wma": _one(_boolean, "br_features_windowsmedia"),
    "f_gears": _one(_boolean, "br_features_gears"),
    "f_ag": _one(_boolean, "br_features_silverlight"),
    "cookie": _one(_boolean, "br_cookies"),
    "res": (_dimensions, ("dvce_screenwidth", "dvce_screenheight")),
    "ds": (_dimensions, ("doc_width", "doc_height")),
    "vp": (_dimensions, ("br_viewwidth", "br_viewheight")),
    "eid": _one(_uuid, "event_id"),
    "ev_va": _one(_decimal, "se_value"),
    "se_va": _one(_decimal, "se_value"),
    "tr_tt": _one(_decimal, "tr_total"),
    "tr_tx": _one(_decimal, "tr_tax"),
    "tr_sh": _one(_decimal, "tr_shipping"),
    "ti_pr": _one(_decimal, "ti_price"),
    "ti_qu": _one(_integer, "ti_quantity"),
    "pp_mix": _one(_integer, "pp_xoffset_min"),
    "pp_max": _one(_integer, "pp_xoffset_max"),
    "pp_miy": _one(_integer, "pp_yoffset_min"),
    "pp_may": _one(_integer, "pp_yoffset_max"),
}

#: Tracker parameter -> the field it sets as it is (Enrich only strips tabs and newlines).
_TEXT: Mapping[str, str] = {
    "ip": "user_ipaddress",
    "aid": "app_id",
    "uid": "user_id",
    "duid": "domain_userid",
    "nuid": "network_userid",
    "ua": "useragent",
    "fp": "user_fingerprint",
    "tna": "name_tracker",
    "tv": "v_tracker",
    "cv": "v_collector",
    "lang": "br_lang",
    "cd": "br_colordepth",
    "tz": "os_timezone",
    "refr": "page_referrer",
    "url": "page_url",
    "page": "page_title",
    "cs": "doc_charset",
    "ev_ca": "se_category",
    "ev_ac": "se_action",
    "ev_la": "se_label",
    "ev_pr": "se_property",
    "se_ca": "se_category",
    "se_ac": "se_action",
    "se_la": "se_label",
    "se_pr": "se_property",
    "tr_id": "tr_orderid",
    "tr_af": "tr_affiliation",
    "tr_ci": "tr_city",
    "tr_st": "tr_state",
    "tr_co": "tr_country",
    "ti_id": "ti_orderid",
    "ti_sk": "ti_sku",
    "ti_na": "ti_name",
    "ti_nm": "ti_name",
    "ti_ca": "ti_category",
    "tr_cu": "tr_currency",
    "ti_cu": "ti_currency",
}


def parse_atomic(params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The atomic fields the parameters set, converted, and a reason for each refused value.

    ``tnuid`` beats ``nuid`` (Enrich sets it last).  Values that are not strings are left to the
    ``payload_data`` check, which already refuses them.
    """
    fields: dict[str, Any] = {}
    errors: list[str] = []
    for name, value in params.items():
        if type(value) is not str:
            continue
        field = _TEXT.get(name)
        if field is not None:
            fields[field] = value
            continue
        setter = _CONVERTED.get(name)
        if setter is None:
            continue
        convert, targets = setter
        try:
            converted = convert(value)
        except _Refused as exc:
            errors.append(f"{name}: {_shown(value)} is {exc} (field {targets[0]})")
            continue
        if len(targets) == 1:
            fields[targets[0]] = converted
        else:
            fields.update(zip(targets, converted, strict=True))
    tnuid = params.get("tnuid")
    if type(tnuid) is str:
        fields["network_userid"] = tnuid
    if fields.get("event") == "ad_impression":
        errors.append(
            "e: 'ad' (ad_impression) has no event schema, so Snowplow's Enrich fails "
            "it; track a self-describing event instead (field event)"
        )
    return fields, errors


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:80] + "...")


def iso(ms: int) -> str:
    """Milliseconds since the epoch as ``java.time.Instant`` prints them (the SDK's encoding):
    ``2024-05-01T10:00:00.120Z``, and no fraction at all on a whole second."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    text = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"  # %Y does not pad years below 1000
    fraction = ms % 1000
    return f"{text}.{fraction:03d}Z" if fraction else f"{text}Z"


def event_schema(event_type: str | None, unstruct: Mapping[str, Any] | None) -> str | None:
    """The schema Enrich gives the event: the self-describing event's own, or a built-in one."""
    if event_type == "unstruct":
        inner = unstruct.get("data") if isinstance(unstruct, Mapping) else None
        schema = inner.get("schema") if isinstance(inner, Mapping) else None
        return schema if isinstance(schema, str) else None
    return _BUILT_IN_SCHEMAS.get(event_type or "")


def _url_parts(url: str | None) -> dict[str, Any] | None:
    """scheme, host, port (80/443 when absent), path, query, fragment; None if not a URL."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return {
        "urlscheme": parts.scheme,
        "urlhost": parts.hostname,
        "urlport": port,
        "urlpath": parts.path or None,
        "urlquery": parts.query or None,
        "urlfragment": parts.fragment or None,
    }


def _derived_tstamp(fields: Mapping[str, Any], collector_ms: int) -> int:
    """``true_tstamp`` if sent; else the collector time less the device's send delay."""
    if "true_tstamp" in fields:
        return int(fields["true_tstamp"])
    created, sent = fields.get("dvce_created_tstamp"), fields.get("dvce_sent_tstamp")
    if isinstance(created, int) and isinstance(sent, int) and created < sent:
        return collector_ms - (sent - created)
    return collector_ms


def canonical_event(
    fields: Mapping[str, Any],
    *,
    event_id: str,
    collector_ms: int,
    etl_ms: int,
    source_name: str,
    ip_address: str | None,
    useragent: str | None,
    network_userid: str | None,
    unstruct: Mapping[str, Any] | None,
    contexts: list[Any],
) -> dict[str, Any]:
    """The full canonical event, every field of the SDK's ``Event`` in order (null if unknown).

    *fields* comes from :func:`parse_atomic`; the keyword arguments are what the collector knows
    about the request (Enrich's defaults, which parameters may override) and the decoded
    self-describing parts, already validated.
    """
    event: dict[str, Any] = dict.fromkeys(FIELDS)
    event.update(
        event_id=event_id,
        v_collector=source_name,
        v_etl=source_name,
        network_userid=network_userid,
        user_ipaddress=ip_address,
        useragent=useragent,
    )
    event.update(fields)
    for name in ("dvce_created_tstamp", "dvce_sent_tstamp", "true_tstamp"):
        if event[name] is not None:
            event[name] = iso(event[name])
    event["collector_tstamp"] = iso(collector_ms)
    event["etl_tstamp"] = iso(etl_ms)
    event["derived_tstamp"] = iso(_derived_tstamp(fields, collector_ms))
    for prefix, url in (("page_", event["page_url"]), ("refr_", event["page_referrer"])):
        for key, value in (_url_parts(url) or {}).items():
            event[prefix + key] = value
    event["contexts"] = {"schema": CONTEXTS_URI, "data": list(contexts)} if contexts else {}
    event["derived_contexts"] = {}
    inner = unstruct.get("data") if isinstance(unstruct, Mapping) else None
    event["unstruct_event"] = (
        {"schema": UNSTRUCT_EVENT_URI, "data": inner} if isinstance(inner, Mapping) else None
    )
    schema = event_schema(event["event"], unstruct)
    if schema is not None:
        vendor, name, fmt, version = schema.removeprefix("iglu:").split("/")
        event.update(event_vendor=vendor, event_name=name, event_format=fmt, event_version=version)
    return event


def new_event_id() -> str:
    """Enrich gives an event that came without ``eid`` a random one."""
    return str(uuid.uuid4())
