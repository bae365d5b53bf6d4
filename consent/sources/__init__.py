"""One small source per layer: each reads one place and returns a :class:`~consent.Layer`.

Sources never raise: a problem becomes a layer with status ``error``, opinion ``off`` (fail
closed) and a warning that names the file, the line, the key and the fix.
"""

from .env import do_not_track_layer, env_var_layer, host_flag_layer
from .policy import Policy, read_policy
from .project import find_project_file, project_file_layer
from .reading import DbtReading, StrictReading, reading_of
from .user import user_config_layer

__all__ = [
    "DbtReading",
    "Policy",
    "StrictReading",
    "do_not_track_layer",
    "env_var_layer",
    "find_project_file",
    "host_flag_layer",
    "project_file_layer",
    "read_policy",
    "reading_of",
    "user_config_layer",
]
