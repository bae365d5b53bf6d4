"""Shared fixtures: a real, isolated world for consent, the CLI and tracking tests.

A ``world`` is a temp directory tree standing in for a machine: a HOME, the XDG config/state
dirs (platformdirs reads them from ``os.environ``, so they are set there), two system policy
dirs on ``XDG_CONFIG_DIRS``, and a project tree the test runs inside. The variables a user
would set (``DO_NOT_TRACK``, ``DBT_*``) are removed from ``os.environ`` and are passed
explicitly through ``world.env``, so a developer's own shell never leaks into a test.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

# tests/consent and tests/tracking mirror the package names (STYLE.md), and pytest's default
# "prepend" import mode puts tests/ on sys.path, where those directories would be picked up as
# namespace packages shadowing the real (editable-installed) ones. A regular package anywhere on
# sys.path beats a namespace portion, so the repository root makes `import consent` mean the code.
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)
# Hypothesis caches beside the code by default; tests leave the working tree as they found it.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY",
    os.path.join(tempfile.gettempdir(), "telemetry-consent-hypothesis"),
)

from consent import DEFAULT_PROFILE, AppProfile, Decision, decide
from consent.ci import CI_VARIABLES

#: Variables that carry a user's choice; never inherited from the developer's shell.
_CHOICE_PREFIXES = ("DBT_", "DO_NOT_TRACK", "NO_COLOR", "FORCE_COLOR")


@dataclass
class World:
    root: Path
    home: Path
    config_home: Path
    state_home: Path
    #: ``XDG_CONFIG_DIRS`` entries, in order (the first found policy file wins).
    policy_dirs: list[Path]
    #: The project root (holds ``dbt_project.yml`` when a test writes one); also the cwd.
    project: Path
    #: The environment to pass as ``env=`` (a full copy of ``os.environ`` after isolation, so it
    #: also works for subprocesses); tests add DO_NOT_TRACK / DBT_* here.
    env: dict[str, str]
    profile: AppProfile = DEFAULT_PROFILE

    @property
    def policy_dir(self) -> Path:
        return self.policy_dirs[0]

    def write(self, path: str | os.PathLike, content: str | bytes, mode: int | None = None) -> Path:
        """Write ``content`` at ``path`` (relative paths are under the world root)."""
        target = Path(path)
        if not target.is_absolute():
            target = self.root / target
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
        if mode is not None:
            target.chmod(mode)
        return target

    # -- the places each layer is read from ------------------------------------------------
    @property
    def user_config_path(self) -> Path:
        return self.config_home / self.profile.name / "telemetry.toml"

    def policy_path(self, index: int = 0) -> Path:
        return self.policy_dirs[index] / self.profile.name / "telemetry-policy.toml"

    @property
    def state_dir(self) -> Path:
        return self.state_home / self.profile.name

    def user_config(self, text: str | bytes, mode: int | None = None) -> Path:
        return self.write(self.user_config_path, text, mode)

    def policy(self, text: str | bytes, index: int = 0) -> Path:
        return self.write(self.policy_path(index), text)

    def project_file(self, text: str | bytes, subdir: str = "") -> Path:
        return self.write(self.project / subdir / self.profile.project_files[0], text)

    def decide(self, **kwargs) -> Decision:
        kwargs.setdefault("env", self.env)
        return decide(self.profile, **kwargs)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    root = tmp_path / "world"
    home = root / "home"
    config_home = home / ".config"
    state_home = home / ".local" / "state"
    policy_dirs = [root / "etc" / "xdg", root / "usr" / "share" / "xdg"]
    project = root / "work" / "project"
    for d in (home, config_home, state_home, *policy_dirs, project):
        d.mkdir(parents=True, exist_ok=True)

    for name in list(os.environ):
        # CI's own variables too (CI runs this suite with CI=true): a test that wants CI sets it.
        if name.startswith(_CHOICE_PREFIXES) or name in CI_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    monkeypatch.setenv("XDG_STATE_HOME", str(state_home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", os.pathsep.join(str(d) for d in policy_dirs))
    monkeypatch.chdir(project)

    return World(
        root=root,
        home=home,
        config_home=config_home,
        state_home=state_home,
        policy_dirs=policy_dirs,
        project=project,
        env=dict(os.environ),
    )
