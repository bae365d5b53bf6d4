"""App profiles: the built-in dbt one, real entry-point discovery, and where files live."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from consent import (
    DEFAULT_PROFILE,
    AppProfile,
    ProfileLoadError,
    UnknownAppError,
    get_profile,
    known_profiles,
)
from tracking import tracked

GROUP = "telemetry_consent.profiles"


def fake_distribution(root: Path, name: str, entry_points: dict[str, str], module: str) -> Path:
    """A real installed distribution, as pip leaves it: ``<name>-1.0.dist-info`` + a module."""
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{ep} = {target}\n" for ep, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{lines}")
    (root / f"{name}_profile.py").write_text(textwrap.dedent(module))
    return root


FAKEAPP = """
    from tracking import TrackedProfile

    PROFILE = TrackedProfile(
        name="fakeapp",
        env_prefix="FAKEAPP_",
        project_files=("fakeapp.yml",),
        display_name="Fake App",
        collector_endpoint="http://127.0.0.1:9/",
    )

    def make_profile():
        return PROFILE

    NOT_A_PROFILE = {"name": "fakeapp"}
"""


@pytest.fixture
def installed(tmp_path, monkeypatch):
    site = fake_distribution(
        tmp_path / "site",
        "fakeapp",
        {
            "fakeapp": "fakeapp_profile:PROFILE",
            "fakefactory": "fakeapp_profile:make_profile",
            "fakewrong": "fakeapp_profile:NOT_A_PROFILE",
            "fakemissing": "no_such_module_anywhere:PROFILE",
        },
        FAKEAPP,
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "fakeapp_profile", raising=False)
    yield site
    sys.modules.pop("fakeapp_profile", None)


def test_the_default_profile_is_dbt():
    profile = get_profile()
    assert profile is DEFAULT_PROFILE
    assert get_profile("dbt") is DEFAULT_PROFILE
    assert profile.env_var == "DBT_SEND_ANONYMOUS_USAGE_STATS"
    assert profile.env_vars == (
        "DBT_ENGINE_SEND_ANONYMOUS_USAGE_STATS",
        "DBT_SEND_ANONYMOUS_USAGE_STATS",
    )
    assert profile.project_files == ("dbt_project.yml",)
    assert profile.flag_key_path == ("flags", "send_anonymous_usage_stats")


def test_an_unknown_app_names_the_known_ones(installed):
    with pytest.raises(UnknownAppError) as caught:
        get_profile("nope")
    message = str(caught.value)
    assert "'nope'" in message
    assert "dbt" in message and "fakeapp" in message
    assert caught.value.exit_code == 2
    assert "dbt" in caught.value.known


def test_an_installed_profile_is_discovered_through_its_entry_point(installed):
    assert "fakeapp" in known_profiles()
    profile = get_profile("fakeapp")
    assert isinstance(profile, AppProfile)
    assert (profile.name, profile.label, profile.env_var) == (
        "fakeapp",
        "Fake App",
        "FAKEAPP_SEND_ANONYMOUS_USAGE_STATS",
    )


def test_an_entry_point_may_name_a_factory(installed):
    assert get_profile("fakefactory").name == "fakeapp"


@pytest.mark.parametrize(
    "name, why",
    [
        ("fakewrong", "fakeapp_profile:NOT_A_PROFILE is a dict, not an AppProfile"),
        ("fakemissing", "ModuleNotFoundError: No module named 'no_such_module_anywhere'"),
    ],
)
def test_a_broken_plugin_says_its_profile_failed_to_load_and_why(installed, name, why):
    with pytest.raises(ProfileLoadError) as caught:
        get_profile(name)
    message = str(caught.value)
    assert message.startswith(f"{name}'s profile failed to load: {why}"), message
    assert "unknown app" not in message, "it is installed; it is broken"
    assert "TELEMETRY_CONSENT_TRACEBACK=1" in message and "Fix:" in message
    assert caught.value.exit_code == 2


def test_discovery_works_in_a_fresh_process_through_pythonpath(installed, world):
    # The path users take: the plugin is installed, a new interpreter finds it.
    env = {**world.env, "PYTHONPATH": os.pathsep.join([str(installed), *sys.path])}
    script = (
        "from consent import get_profile; p = get_profile('fakeapp'); "
        "print(p.name, p.user_config_path())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out == ["fakeapp", str(world.config_home / "fakeapp" / "telemetry.toml")]


def test_paths_honour_the_xdg_variables_at_the_moment_they_are_asked(world, monkeypatch):
    profile = AppProfile(name="fakeapp", env_prefix="FAKEAPP_", project_files=("fakeapp.yml",))
    assert profile.user_config_path() == str(world.config_home / "fakeapp" / "telemetry.toml")
    assert tracked(profile).state_dir() == str(world.state_home / "fakeapp")
    assert profile.system_policy_paths() == [
        str(d / "fakeapp" / "telemetry-policy.toml") for d in world.policy_dirs
    ]

    # Changed after the first use: still honoured (nothing is cached at import or first call).
    elsewhere = world.root / "other-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(elsewhere))
    assert profile.user_config_path() == str(elsewhere / "fakeapp" / "telemetry.toml")
    assert DEFAULT_PROFILE.user_config_path() == str(elsewhere / "dbt" / "telemetry.toml")


def test_without_xdg_config_home_the_config_lives_in_home_dot_config(world, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert DEFAULT_PROFILE.user_config_path() == str(
        world.home / ".config" / "dbt" / "telemetry.toml"
    )
