"""Layers read from the environment and from the host's own flag."""

from __future__ import annotations

from collections.abc import Mapping

from .._model import Layer
from .._values import env_bool, opinion_of, shown


def host_flag_layer(value: bool | None, flag_name: str) -> Layer:
    if value is None:
        return Layer("host_flag", detail="not passed")
    return Layer("host_flag", opinion_of(value), str(value).lower(), flag_name)


def do_not_track_layer(env: Mapping[str, str]) -> Layer:
    """``DO_NOT_TRACK``: a true spelling means off; a false spelling is *no opinion*, never "on"."""
    raw = env.get("DO_NOT_TRACK")
    if raw is None:
        return Layer("do_not_track", detail="not set")
    flag = env_bool(raw)
    if flag is True:
        return Layer("do_not_track", "off", shown(raw), "DO_NOT_TRACK")
    if flag is False:
        return Layer(
            "do_not_track", None, shown(raw), "DO_NOT_TRACK",
            detail="a false value means no opinion (it never turns tracking on)",
        )
    message = (
        f"DO_NOT_TRACK={shown(raw)!s} in the environment is not a recognised value; treated as "
        "off. Fix: set DO_NOT_TRACK=1 to opt out, or unset it."
    )
    return Layer(
        "do_not_track", "off", shown(raw), "DO_NOT_TRACK", status="error",
        detail="unrecognised value, treated as off", warnings=(message,),
    )


def env_var_layer(env: Mapping[str, str], names: tuple[str, ...]) -> Layer:
    """``<PREFIX>SEND_ANONYMOUS_USAGE_STATS`` and any preferred spelling that beats it."""
    present = [(name, env[name]) for name in names if env.get(name) is not None]
    # An empty value is the same as unset (shells export empty strings easily).
    present = [(n, v) for n, v in present if v.strip() != ""]
    if not present:
        return Layer("env_var", detail=f"{' / '.join(names)} not set")
    name, raw = present[0]
    shadowed = [n for n, _ in present[1:]]
    note = f"{', '.join(shadowed)} also set, {name} takes precedence" if shadowed else None
    flag = env_bool(raw)
    if flag is None:
        message = (
            f"{name}={shown(raw)!s} in the environment is not true or false; treated as off. "
            f"Fix: set {name}=false (or true), or unset it."
        )
        return Layer(
            "env_var", "off", shown(raw), name, status="error",
            detail="unrecognised value, treated as off", warnings=(message,),
        )
    return Layer("env_var", opinion_of(flag), shown(raw), name, detail=note)
