"""Decide whether a command-line tool may send anonymous usage statistics, and explain why.

The public API: an :class:`AppProfile` describes the host; :func:`decide` reads every layer
(:data:`LAYERS`, in precedence order) and returns a :class:`Decision` with its provenance;
:func:`resolve` is the pure rule underneath. The rules: docs/decision.md.

``consent`` decides and writes the user's choices; it imports nothing from ``tracking`` (which
sends) nor from ``telemetry_cli`` (the command line on top of both).
"""

from ._model import Decision, Edition, Layer, PolicyFile, file_origin
from .context import ReadContext
from .decide import decide, gather
from .errors import (
    ConsentError,
    EditRefused,
    NoProjectFile,
    ProfileLoadError,
    RefusedByPolicy,
    UnknownAppError,
    WriteError,
)
from .layers import LAYER_ORDER, LAYERS, LayerSource, find_project_file, source_of
from .profile import DEFAULT_PROFILE, AppProfile, LegacyFlagFile, get_profile, known_profiles
from .resolver import resolve

__all__ = [
    "DEFAULT_PROFILE",
    "LAYERS",
    "LAYER_ORDER",
    "AppProfile",
    "ConsentError",
    "Decision",
    "EditRefused",
    "Edition",
    "Layer",
    "LayerSource",
    "LegacyFlagFile",
    "NoProjectFile",
    "PolicyFile",
    "ProfileLoadError",
    "ReadContext",
    "RefusedByPolicy",
    "UnknownAppError",
    "WriteError",
    "decide",
    "file_origin",
    "find_project_file",
    "gather",
    "get_profile",
    "known_profiles",
    "resolve",
    "source_of",
]
