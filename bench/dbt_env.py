"""dbt-core for the comparison lives in its own venv, never in the project's: ``bench/.venv-dbt``,
created on first use with ``python -m venv`` + ``pip install dbt-core==1.10.23``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DBT_VERSION = "1.10.23"
VENV = Path(__file__).resolve().parent / ".venv-dbt"


def installed_version(python: str) -> str | None:
    probe = "import importlib.metadata as m; print(m.version('dbt-core'))"
    try:
        done = subprocess.run(
            [python, "-c", probe], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_dbt_python(log, python: str | None = None) -> str:
    """An interpreter with dbt-core ``DBT_VERSION``: ``python`` if given, else the bench venv,
    created (or repaired) here when missing."""
    if python is not None:
        version = installed_version(python)
        if version != DBT_VERSION:
            raise SystemExit(f"{python} has dbt-core {version}, not {DBT_VERSION}")
        return python
    venv_python = VENV / "bin" / "python"
    if venv_python.exists() and installed_version(str(venv_python)) == DBT_VERSION:
        return str(venv_python)
    log(f"creating {VENV} with dbt-core=={DBT_VERSION} (once; about a minute) ...")
    if not venv_python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    done = subprocess.run(
        [
            str(venv_python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            f"dbt-core=={DBT_VERSION}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"pip install dbt-core=={DBT_VERSION} failed:\n{done.stderr[-3000:]}")
    if installed_version(str(venv_python)) != DBT_VERSION:
        raise SystemExit(f"could not install dbt-core=={DBT_VERSION} into {VENV}")
    return str(venv_python)
