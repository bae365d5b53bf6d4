"""Socket helpers shared by the collector and the fault servers.

Both bind listening sockets that tests, benchmarks and tool authors point
trackers at.  They must never be reachable from the network by accident, so
binding anything but a loopback address needs an explicit opt-in.
"""

from __future__ import annotations

import socket

# One definition of "only reachable from this machine", shared with the tracker's endpoint check.
from ..endpoint import is_loopback

LOOPBACK_HOST = "127.0.0.1"


def check_bind_host(host: str, allow_non_loopback: bool) -> None:
    """Refuse non-loopback addresses unless the caller asked for them explicitly."""
    if not allow_non_loopback and not is_loopback(host):
        raise ValueError(
            f"refusing to bind {host!r}: only loopback addresses are allowed "
            "unless the host is given explicitly (allow_non_loopback=True / --host)"
        )


def family_for(host: str) -> socket.AddressFamily:
    """IPv6 literals need an AF_INET6 socket; everything else is IPv4."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def url_for(scheme: str, host: str, port: int) -> str:
    """A URL a local client can connect to (wildcard binds map to loopback)."""
    host = host.strip("[]")
    if host in ("", "0.0.0.0"):
        host = LOOPBACK_HOST
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"
