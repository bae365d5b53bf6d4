"""How many connections the collector holds open, and which one to let go when that is too many.

Each connection costs a thread and a file descriptor. A client that opens a thousand and sends
nothing used to exhaust the descriptors: ``accept()`` then failed with EMFILE on every turn of
the serving loop (the listening socket stays readable), one core spun at 100 % and nobody else
got in until the idle ones timed out. So the connections are bounded (below the process's
descriptor limit), and when a new one arrives at the bound, or ``accept()`` runs out of
descriptors, the connection that has waited longest for its next request is closed: a request
in progress is never cut, and a real client gets in at once. Only when every connection is busy
is a new one answered ``503`` and closed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

try:
    import resource
except ImportError:  # Windows: no descriptor limit to read
    resource = None  # type: ignore[assignment]

__all__ = ["BUSY_ANSWER", "DEFAULT_MAX_CONNECTIONS", "ConnectionTable", "connection_bound"]

DEFAULT_MAX_CONNECTIONS = 256
#: Descriptors kept for everything but client connections (the listening socket, schema files,
#: the interpreter's own), out of the process's limit.
_FD_RESERVE = 32

_BUSY = b'{"error":"every connection the collector holds is busy; retry shortly"}'
BUSY_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nRetry-After: 1\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY), _BUSY)
)


def connection_bound(wanted: int = DEFAULT_MAX_CONNECTIONS) -> int:
    """*wanted*, or fewer when the descriptor limit would run out first (at least 8)."""
    if resource is None:
        return wanted
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, soft - _FD_RESERVE))


class ConnectionTable:
    """The open connections, each idle (waiting for a request, since when) or busy. Thread-safe."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._idle_since: dict[socket.socket, float | None] = {}
        self._lock = threading.Lock()

    def admit(self, sock: socket.socket) -> bool:
        """Take a new connection, closing the idlest one if at the bound; False when every one
        is busy (then answer *sock* with :data:`BUSY_ANSWER` and close it)."""
        with self._lock:
            if len(self._idle_since) >= self.bound and not self._drop_idlest():
                return False
            self._idle_since[sock] = time.monotonic()  # nothing sent yet: idle
            return True

    def out_of_descriptors(self) -> None:
        """``accept()`` failed for want of descriptors: free one, if any connection is idle."""
        with self._lock:
            self._drop_idlest()

    def idle(self, sock: socket.socket) -> None:
        with self._lock:
            if sock in self._idle_since:
                self._idle_since[sock] = time.monotonic()

    def busy(self, sock: socket.socket) -> None:
        with self._lock:
            if sock in self._idle_since:
                self._idle_since[sock] = None

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._idle_since.pop(sock, None)

    def drop_all(self) -> None:
        """Unblock every handler thread; each then closes its own socket."""
        with self._lock:
            open_now = list(self._idle_since)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _drop_idlest(self) -> bool:
        """(Lock held.) Shut the connection idle longest; its thread sees EOF and closes it."""
        idle = [(since, id(s), s) for s, since in self._idle_since.items() if since is not None]
        if not idle:
            return False
        sock = min(idle)[2]
        self._idle_since[sock] = None  # closing: never picked twice
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return True
