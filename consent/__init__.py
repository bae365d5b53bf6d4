"""Decide whether a command-line tool may send anonymous usage statistics, and explain why.

The public API: an :class:`AppProfile` describes the host; :func:`decide` reads every layer and
returns a :class:`Decision` with its provenance; :func:`resolve` is the pure rule underneath.
"""

from ._model import LAYER_ORDER, Decision, Edition, Layer
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
from .profile import DEFAULT_PROFILE, AppProfile, LegacyFlagFile, get_profile, known_profiles
from .resolver import resolve

__all__ = [
    "DEFAULT_PROFILE",
    "LAYER_ORDER",
    "AppProfile",
    "ConsentError",
    "Decision",
    "EditRefused",
    "Edition",
    "Layer",
    "LegacyFlagFile",
    "NoProjectFile",
    "ProfileLoadError",
    "RefusedByPolicy",
    "UnknownAppError",
    "WriteError",
    "decide",
    "gather",
    "get_profile",
    "known_profiles",
    "resolve",
]
