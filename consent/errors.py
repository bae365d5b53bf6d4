"""One exception family for consent; every message names the file, the key and the fix.

Nothing in ``consent`` raises these into a host while deciding (bad input becomes a layer in
``error`` with a warning); they are raised by the explicit write operations (``enable``,
``disable``, ``reset``) and by profile lookup, where the caller asked for an action and must
learn why it did not happen.
"""

from __future__ import annotations

__all__ = [
    "ConsentError",
    "EditRefused",
    "NoProjectFile",
    "ProfileLoadError",
    "RefusedByPolicy",
    "UnknownAppError",
    "WriteError",
]


class ConsentError(Exception):
    """Base of every error this package raises on purpose."""

    #: The CLI's exit code for this kind of error: 2 usage, 3 refused or not in effect, 4 a write
    #: failed (docs/cli.md, "Exit codes").
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


class EditRefused(ConsentError):
    """A file was left as it is because no safe, minimal edit gives the asked-for result (it is
    over the size limit, not valid YAML, an alias bomb, or the edit would make the host refuse to
    run); nothing was written."""

    exit_code = 3


class WriteError(ConsentError):
    """A choice could not be written (a read-only file or dir, a directory in the way, a full
    disk)."""

    exit_code = 4


class ProfileLoadError(ConsentError):
    """An installed tool registers a profile that fails to load (an import error, a bug)."""


class NoProjectFile(ConsentError):
    """``--project`` was asked for outside any project."""

    exit_code = 2
