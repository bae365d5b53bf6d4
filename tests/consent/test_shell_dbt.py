"""``telemetry disable --shell`` is judged by real dbt-core started from new shells.

In a fresh HOME, each dbt-core venv that ``dbt_agreement.py`` created under ``.dbt-venvs/`` runs
``dbt_probe.py`` (dbt's own click parsing and project reading, up to the call that starts its
tracker) from ``bash -ic``, ``bash -lc`` and ``sh -lc``: the login and interactive shells a user
opens. Before: dbt tracks; after ``SHELL=/bin/bash telemetry disable --shell``: off in every one;
after ``telemetry enable --shell``: tracks again, and every startup file holds exactly the bytes
it had before. Skips, saying how to create the venvs, when there are none (tests never install).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.consent import dbt_agreement
from tests.support.world import REPO, no_traceback

SHELLS = (("bash", "-ic"), ("bash", "-lc"), ("sh", "-lc"))
#: Every file a shell of this machine could read at startup from HOME (what must come back).
STARTUP = (".profile", ".bashrc", ".bash_profile", ".bash_login", ".zshenv", ".config/fish")

_VENVS = dbt_agreement.find_dbt_venvs()

pytestmark = pytest.mark.skipif(
    not _VENVS,
    reason="no dbt-core venv under .dbt-venvs/: run "
    "`.venv/bin/python tests/consent/dbt_agreement.py` once to create them",
)


def _home_world(tmp_path: Path, skeleton: bool) -> tuple[Path, Path, dict[str, str]]:
    home, project = tmp_path / "home", tmp_path / "shop"
    (home / ".dbt").mkdir(parents=True)
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: shop\nprofile: shop\n")
    if skeleton:  # a user's real files: Debian's skeleton, a .bashrc without a final newline
        for name in (".profile", ".bashrc"):
            source = Path("/etc/skel") / name
            text = source.read_bytes() if source.exists() else b"# " + name.encode() + b"\n"
            (home / name).write_bytes(text.rstrip(b"\n") if name == ".bashrc" else text)
    env = {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "SHELL": "/bin/bash",
        "LC_ALL": "C.UTF-8",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_DIRS": str(tmp_path / "etc"),
        "TERM": "dumb",
    }
    return home, project, env


def _startup_bytes(home: Path) -> dict[str, bytes]:
    found = {}
    for name in STARTUP:
        path = home / name
        for file in [path] if path.is_file() else sorted(path.rglob("*")) if path.exists() else []:
            found[str(file.relative_to(home))] = file.read_bytes()
    return found


def _dbt_from_shells(python: str, project: Path, env: dict[str, str]) -> dict[str, str]:
    """What dbt decides when started from each new shell (the probe inherits its environment)."""
    case = json.dumps({"cwd": str(project), "env": None, "args": ["parse"]})
    outcomes = {}
    for shell, flags in SHELLS:
        if shutil.which(shell) is None:
            continue
        done = subprocess.run(
            [shell, flags, f"exec {python} {dbt_agreement.PROBE}"],
            input=case + "\n",
            capture_output=True,
            text=True,
            env=env,
            cwd=project,
            timeout=300,
            check=False,
        )
        lines = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
        assert done.returncode == 0 and len(lines) == 2, (shell, flags, done.stderr[-2000:])
        outcomes[f"{shell} {flags}"] = lines[1]["outcome"]
    return outcomes


def _telemetry(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "telemetry_cli", *args],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(REPO)},
        cwd=cwd,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    no_traceback(done.stdout, done.stderr)
    return done


@pytest.mark.timeout(900)
@pytest.mark.parametrize("version", sorted(_VENVS))
@pytest.mark.parametrize("skeleton", [False, True], ids=["fresh HOME", "skeleton files"])
def test_dbt_started_from_a_new_shell_decides_what_the_shell_opt_out_says(
    tmp_path: Path, version: str, skeleton: bool
):
    python = _VENVS[version]
    home, project, env = _home_world(tmp_path, skeleton)
    before = _startup_bytes(home)
    shells = _dbt_from_shells(python, project, env)
    assert set(shells.values()) == {"tracks"}, shells
    assert len(shells) >= 2, "bash and sh are on this machine"

    disabled = _telemetry("disable", "--shell", env=env, cwd=project)
    assert disabled.returncode == 0, disabled.stderr
    assert "~/.profile" in disabled.stdout and "~/.bashrc" in disabled.stdout
    assert _dbt_from_shells(python, project, env) == dict.fromkeys(shells, "off")

    enabled = _telemetry("enable", "--shell", env=env, cwd=project)
    assert enabled.returncode == 0, enabled.stderr
    assert _dbt_from_shells(python, project, env) == shells
    assert _startup_bytes(home) == before, "every startup file is back, byte for byte"
