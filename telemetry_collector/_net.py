"""Socket helpers shared by the collector and the fault servers.

Both bind listening sockets that tests, benchmarks and tool authors point
trackers at.  They must never be reachable from the network by accident, so
binding anything but a loopback address needs an explicit opt-in.
"""

from __future__ import annotations

import errno
import socket

# One definition of "only reachable from this machine", shared with the tracker's endpoint check.
from tracking.endpoint import is_loopback

LOOPBACK_HOST = "127.0.0.1"


def check_bind_host(host: str, allow_non_loopback: bool) -> None:
    """Refuse non-loopback addresses unless the caller asked for them explicitly."""
    if not allow_non_loopback and not is_loopback(host):
        raise ValueError(
            f"refusing to bind {host!r}: only loopback addresses are allowed "
            "unless the host is given explicitly (allow_non_loopback=True / --host)"
        )


def bind_problem(host: str, port: int, exc: OSError) -> str:
    """One line saying why *host*:*port* cannot be listened on, and the fix."""
    if isinstance(exc, socket.gaierror):
        return (
            f"{host!r} is neither an IP address nor a name this machine can resolve "
            f"({exc.strerror}). Fix: leave --host out to listen on {LOOPBACK_HOST}, or give "
            "an address of this machine"
        )
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use. Fix: pick another --port "
            "(0 picks a free one), or stop what listens there"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"{host} is not an address of this machine, so nothing can listen on it here. "
            f"Fix: leave --host out to listen on {LOOPBACK_HOST}, or give one of this "
            "machine's own addresses (see `ip address`)"
        )
    if exc.errno in (errno.EACCES, errno.EPERM) and 0 < port < 1024:
        return (
            f"port {port} is below 1024 and needs administrator rights. Fix: pick "
            "--port 9090, or 0 for a free one"
        )
    if exc.errno == errno.EAFNOSUPPORT:
        return (
            f"{host} is an IPv6 address and this machine has no IPv6. Fix: leave --host "
            f"out to listen on {LOOPBACK_HOST}"
        )
    return (
        f"cannot listen on {host}:{port}: {exc.strerror or exc}. Fix: check --host and "
        "--port (--port 0 picks a free one)"
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
