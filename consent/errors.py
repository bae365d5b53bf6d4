"""One exception family for consent; every message names the file, the key and the fix.

Nothing in ``consent`` raises these into a host while deciding (bad input becomes a layer in
``error`` with a warning); they are raised by the explicit write operations (``enable``,
``disable``, ``reset``) and by profile lookup, where the caller asked for an action and must
learn why it did not happen.
"""

from __future__ import annotations


class ConsentError(Exception):
    """Base of every error this package raises on purpose."""

    #: The CLI's exit code for this kind of error (PRODUCT.md §3).
    exit_code = 2


class UnknownAppError(ConsentError):
    """``--app NAME`` names no installed profile."""

    def __init__(self, name: str, known: list[str]):
        self.name = name
        self.known = known
        super().__init__(
            f"unknown app {name!r}: known apps are {', '.join(sorted(known))}; "
            "install the tool that registers it, or pick one of these with --app"
        )


class RefusedByPolicy(ConsentError):
    """A write was refused because a higher layer makes it moot (cloud edition, admin lock)."""

    exit_code = 3


class WriteError(ConsentError):
    """A choice could not be written (permissions, a directory in the way, a full disk)."""

    exit_code = 2


class NoProjectFile(ConsentError):
    """``--project`` was asked for outside any project."""

    exit_code = 2
