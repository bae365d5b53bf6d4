"""Runs inside a venv that has dbt-core (never the project's): dbt's own tracking decision.

For each case read from stdin (one JSON object a line: ``cwd``, ``env``, ``args``) it forks, puts
the child in that environment (``env`` null: the one the probe inherited, as from a shell) and
working directory, and runs ``dbt <args>`` through dbt's real
click entry point. dbt parses its flags, env vars, ``dbt_project.yml`` and ``profiles.yml`` its
own way and then calls ``dbt.tracking.initialize_from_flags(send_anonymous_usage_stats, ...)``:
that call is the seam. It is replaced by one that records the value and stops the run, so no
command runs and nothing is tracked. A run that stops before reaching it is a refusal (a usage
error, or dbt's "do not specify both 'config' ... and 'flags'").

Prints one JSON line first (``{"dbt": version}``), then one per case: ``{"outcome": "tracks" |
"off" | "refuses", "error": ...}``. Standard library and dbt only. Any connection to a
non-loopback address ends the child at once (exit 97): nothing may leave the machine.
"""

from __future__ import annotations

import json
import os
import sys


def _guard(event: str, args: tuple) -> None:
    if event == "socket.connect":
        address = args[1]
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1"):
            os._exit(97)
    elif event == "socket.getaddrinfo" and args[0] not in ("127.0.0.1", "::1", "localhost"):
        os._exit(97)


sys.addaudithook(_guard)

import dbt.cli.main as dbt_main  # noqa: E402
import dbt.cli.requires as requires  # noqa: E402
import dbt.version  # noqa: E402


class _Decided(BaseException):
    """Stops the run at the seam; a BaseException so that no `except Exception` in dbt eats it."""


_seen: dict[str, bool] = {}


def _initialize_from_flags(send_anonymous_usage_stats: object, profiles_dir: object) -> None:
    _seen["send"] = bool(send_anonymous_usage_stats)
    raise _Decided()


requires.initialize_from_flags = _initialize_from_flags


def _child(case: dict) -> dict:
    os.chdir(case["cwd"])
    if case.get("env") is not None:  # None: the environment this probe was started with
        os.environ.clear()
        os.environ.update(case["env"])
    args = list(case.get("args", ["parse"]))
    sys.argv = ["dbt", *args]
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # dbt logs to the real stdout/stderr: keep them off the report pipe
    os.dup2(devnull, 2)
    error: BaseException | None = None
    try:
        dbt_main.cli.main(args=args, prog_name="dbt", standalone_mode=False)
    except BaseException as exc:  # noqa: BLE001 - every way out is a result to report
        error = exc
    if "send" in _seen:
        return {"outcome": "tracks" if _seen["send"] else "off"}
    inner = getattr(error, "exception", None) or error
    return {
        "outcome": "refuses",
        "error": f"{type(inner).__name__}: {' '.join(str(inner).split())[:300]}",
    }


def run_case(case: dict) -> dict:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            result = _child(case)
        except BaseException as exc:  # noqa: BLE001
            result = {"outcome": "probe error", "error": repr(exc)[:300]}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        return {"outcome": "probe error", "error": f"child ended with status {status}"}
    return json.loads(b"".join(chunks))


def main() -> None:
    print(json.dumps({"dbt": str(dbt.version.installed).lstrip("=")}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(run_case(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
