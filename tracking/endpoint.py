"""Where events go: the profile's collector, or ``<PREFIX>TELEMETRY_ENDPOINT``, checked.

Pure and cheap (standard library only): ``telemetry status`` calls :func:`endpoint_for` to show
where events would go, and the tracker calls the same check before it sends anything.

Events travel over HTTPS. Plain ``http://`` is accepted only to a loopback address (127.0.0.0/8,
::1, ``localhost``): the local collector of development and tests. The URL is rebuilt from its
checked parts (scheme, host, port, path) rather than passed on as typed, so that no URL-parser
disagreement between this check and the HTTP client can send events somewhere else.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from consent.values import shown

if TYPE_CHECKING:
    from .profile import TrackedProfile

__all__ = ["TP2_PATH", "check_endpoint", "endpoint_for", "is_loopback", "resolve_endpoint"]

#: Snowplow's tracker-protocol POST path, appended to the collector's base URL.
TP2_PATH = "/com.snowplowanalytics.snowplow/tp2"
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
_USERINFO = re.compile(r"(^|//)[^/@]*@")
_PATH = re.compile(r"^[A-Za-z0-9._~/-]*$")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_endpoint(raw: str, source: str) -> tuple[str | None, str | None]:
    """``(base_url, None)`` when ``raw`` may receive events, else ``(None, why)``.

    ``source`` names where ``raw`` came from (a variable, "the profile") for the message.
    """
    text = raw.strip()
    if not text:
        return None, None
    if "://" not in text:
        text = "https://" + text  # as snowplow-tracker does: a bare host means HTTPS

    def refused(why: str, fix: str) -> tuple[None, str]:
        # Never echo credentials someone put in the URL: they would land in CI logs.
        safe = _USERINFO.sub(r"\1***@", raw)
        return None, f"{source}={shown(safe)!r} {why}, so events are not sent. Fix: {fix}"

    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        return refused(
            f"is not a valid URL ({exc})",
            "give the collector's base URL, e.g. https://collector.example.com",
        )
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("http", "https"):
        return refused(f"uses {scheme}://", "use https://")
    if parts.username is not None or parts.password is not None:
        return refused("carries a user name or password", "remove them from the URL")
    if parts.query or parts.fragment or not _PATH.match(parts.path):
        return refused(
            "is not a plain base URL (query, fragment or unusual characters)",
            "give only scheme, host, port and path",
        )
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None and not _HOSTNAME.match(host):
        return refused("has no valid host name", "give the collector's base URL")
    if scheme == "http" and not is_loopback(host):
        return refused(
            "uses plain http:// to another machine",
            "use https:// (plain http is allowed only to 127.0.0.1, ::1 or localhost)",
        )
    if scheme == "http" and address is None:
        # "localhost" by name would be resolved, and a resolver (or "localhost." going to DNS)
        # could send plain-HTTP events elsewhere: pin the loopback address itself.
        host = "127.0.0.1"
    path = parts.path.rstrip("/")
    if path.endswith(TP2_PATH):  # a full tp2 URL was given: keep the base
        path = path[: -len(TP2_PATH)]
    shown_host = f"[{host}]" if address is not None and address.version == 6 else host
    netloc = f"{shown_host}:{port}" if port is not None else shown_host
    return f"{scheme}://{netloc}{path}", None


def endpoint_for(
    profile: TrackedProfile, env: Mapping[str, str] | None = None
) -> tuple[str | None, str | None]:
    """Where ``profile``'s events would go now: ``(url, None)``, ``(None, why)``, ``(None, None)``.

    ``<PREFIX>TELEMETRY_ENDPOINT`` (when set and not blank) overrides the profile's collector.
    ``(None, None)`` means the profile sends nowhere, which is not a problem to report.
    """
    env = os.environ if env is None else env
    return resolve_endpoint(profile, env.get(profile.endpoint_env_var))


def resolve_endpoint(
    profile: TrackedProfile, override: str | None
) -> tuple[str | None, str | None]:
    """:func:`endpoint_for` with the override already read by the tracker, with its settings."""
    if override is not None and override.strip():
        return check_endpoint(override, profile.endpoint_env_var)
    if not profile.collector_endpoint:
        return None, None
    return check_endpoint(
        profile.collector_endpoint, f"the {profile.name} profile's collector_endpoint"
    )
