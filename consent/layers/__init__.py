"""The layers of the decision, one small object each, and their order: the tuple :data:`LAYERS`.

Highest first; the first layer with an opinion decides (docs/decision.md has the rules and the
exceptions the resolver states). Adding a layer is one new module with a
:class:`~consent.layers.base.LayerSource` subclass, and one entry in :data:`LAYERS` (then the
contract's list of names, ``contracts/status.schema.json``, and the docs that list them).
"""

from __future__ import annotations

from ..project_location import find_project_file
from .base import EnvironmentLayer, LayerSource, Scope, Step, Written
from .ci_default import CiDefault
from .do_not_track import DoNotTrack
from .edition import EditionDefault, EditionMandate
from .env_var import EnvVar
from .host_flag import HostFlag
from .policy import AdminLock, SystemDefault
from .project_file import ProjectFile
from .user_config import UserConfig

__all__ = [
    "LAYERS",
    "LAYER_ORDER",
    "AdminLock",
    "CiDefault",
    "DoNotTrack",
    "EditionDefault",
    "EditionMandate",
    "EnvVar",
    "EnvironmentLayer",
    "HostFlag",
    "LayerSource",
    "ProjectFile",
    "Scope",
    "Step",
    "SystemDefault",
    "UserConfig",
    "Written",
    "find_project_file",
    "source_of",
    "writable_in",
]

#: Every layer, in precedence order, highest first. The names are the public contract of
#: ``telemetry status --json``.
LAYERS: tuple[LayerSource, ...] = (
    EditionMandate(),
    AdminLock(),
    DoNotTrack(),
    HostFlag(),
    EnvVar(),
    ProjectFile(),
    UserConfig(),
    SystemDefault(),
    CiDefault(),
    EditionDefault(),
)

#: The layers' names, in the same order.
LAYER_ORDER: tuple[str, ...] = tuple(source.name for source in LAYERS)

_BY_NAME: dict[str, LayerSource] = {source.name: source for source in LAYERS}


def source_of(name: str) -> LayerSource:
    """The layer called ``name``; raises KeyError for a name that is not a layer."""
    return _BY_NAME[name]


def writable_in(scope: Scope) -> LayerSource:
    """The layer ``telemetry enable/disable`` writes for ``scope`` (``global``, ``project``)."""
    return next(source for source in LAYERS if source.scope == scope)
