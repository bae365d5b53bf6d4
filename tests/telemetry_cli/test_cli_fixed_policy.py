"""The admin lock at the platform's fixed location holds, whatever ``XDG_CONFIG_DIRS`` says.

The fixed location is ``/etc/xdg/<app>/telemetry-policy.toml`` on Linux, a literal path no variable
moves. These tests never touch the machine's real one: each command runs inside a private mount
namespace (``unshare -rm``) with a fresh tmpfs mounted over ``/etc/xdg``, where the test writes
the administrator's file; the namespace and the tmpfs vanish with the command. Where namespaces
are not permitted (a container without the privilege, AppArmor's
``kernel.apparmor_restrict_unprivileged_userns``), the tests skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from consent import DEFAULT_PROFILE
from tests.support import strict_cli
from tests.support.cli import flat, table_rows
from tests.support.tracking import HOST_MODULE
from tests.support.world import STRICT_PROFILE, World, no_traceback

FIXED_DIR = "/etc/xdg"
LOCK_OFF = 'telemetry = "off"\nlocked = true\n'
LOCK_ON = 'telemetry = "on"\nlocked = true\n'

#: Inside the namespace: a tmpfs over /etc/xdg, the administrator's file written there from
#: $FIXED_POLICY_SOURCE (when given) for $FIXED_POLICY_APP, then the command.
_IN_NAMESPACE = (
    'mount -t tmpfs tmpfs "$FIXED_DIR" || exit 90\n'
    'if [ -n "$FIXED_POLICY_SOURCE" ]; then\n'
    '  mkdir -p "$FIXED_DIR/$FIXED_POLICY_APP" || exit 91\n'
    '  cp "$FIXED_POLICY_SOURCE" "$FIXED_DIR/$FIXED_POLICY_APP/telemetry-policy.toml" || exit 91\n'
    "fi\n"
    'exec "$@"\n'
)


def _namespaces_refused() -> str | None:
    """Why a private mount namespace with a tmpfs over /etc/xdg cannot be made here (None: it
    can)."""
    if not sys.platform.startswith("linux"):
        return "the fixed location is tested on Linux only (a mount namespace)"
    unshare = shutil.which("unshare")
    if unshare is None:
        return "no unshare command (util-linux) on this machine"
    if not os.path.isdir(FIXED_DIR):
        return f"{FIXED_DIR} does not exist here, so nothing can be mounted over it"
    probe = subprocess.run(
        [unshare, "-rm", "sh", "-c", f"mount -t tmpfs tmpfs {FIXED_DIR}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return (
            "private mount namespaces are not permitted here (unshare -rm: "
            f"{probe.stderr.strip() or probe.returncode}); on Ubuntu 24.04 runners AppArmor "
            "restricts unprivileged user namespaces"
        )
    return None


_REFUSED = _namespaces_refused()
pytestmark = [
    pytest.mark.skipif(_REFUSED is not None, reason=_REFUSED or ""),
    pytest.mark.reliability,  # docs/guarantees.md: the admin lock at the fixed location holds
]


class Machine:
    """A world whose administrator wrote ``fixed`` at the fixed location (inside the namespace)."""

    def __init__(self, world: World, app: str, fixed: str | None) -> None:
        self.world = world
        self.app = app
        self.source: Path | None = None
        if fixed is not None:
            self.source = world.root / "admin" / "telemetry-policy.toml"
            self.source.parent.mkdir(parents=True, exist_ok=True)
            self.source.write_text(fixed)

    @property
    def fixed_path(self) -> str:
        return f"{FIXED_DIR}/{self.app}/telemetry-policy.toml"

    def run(self, argv: list[str], cwd: Path | None = None, **env: str | None):
        full = self.world.env_with(**env)
        full.update(
            FIXED_DIR=FIXED_DIR,
            FIXED_POLICY_APP=self.app,
            FIXED_POLICY_SOURCE=str(self.source) if self.source else "",
        )
        proc = subprocess.run(
            ["unshare", "-rm", "sh", "-c", _IN_NAMESPACE, "sh", *argv],
            cwd=cwd or self.world.cwd,
            env=full,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode not in (90, 91), f"the namespace could not be set up: {proc.stderr}"
        no_traceback(proc.stdout, proc.stderr)
        return proc

    def status(self, *args: str, cloud: bool = False, **env: str | None):
        """``telemetry status`` for the app (the strict test profile's host, or the dbt one)."""
        if self.app == STRICT_PROFILE.name:
            argv = [sys.executable, "-m", strict_cli.MODULE, *(["--cloud"] if cloud else [])]
        else:
            argv = [sys.executable, "-m", "telemetry_cli"]
        return self.run([*argv, "status", *args], **env)


def _doc(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, STRICT_PROFILE)


def _user_policy(world: World, text: str) -> Path:
    """A policy file in a directory the user controls, named by the user's XDG_CONFIG_DIRS."""
    return world.write_policy(text)


def test_a_lock_off_at_the_fixed_location_holds_against_the_users_xdg_config_dirs(world):
    machine = Machine(world, STRICT_PROFILE.name, LOCK_OFF)
    user_lock_on = _user_policy(world, LOCK_ON)

    doc = _doc(machine.status("--json"))

    assert doc["enabled"] is False
    assert doc["decided_by"] == "admin_lock"
    lock = next(layer for layer in doc["layers"] if layer["name"] == "admin_lock")
    assert lock["origin"] == f"{machine.fixed_path}:1"
    assert doc["policy_files"] == [
        {"path": machine.fixed_path, "fixed": True},
        {"path": str(user_lock_on), "fixed": False},
    ]


@pytest.mark.parametrize(
    "xdg", ["elsewhere", "empty", "unset"], ids=["XDG_CONFIG_DIRS elsewhere", "empty", "unset"]
)
def test_pointing_xdg_config_dirs_away_does_not_bypass_the_lock(world, xdg):
    machine = Machine(world, STRICT_PROFILE.name, LOCK_OFF)
    env: dict[str, str | None] = {
        "elsewhere": {"XDG_CONFIG_DIRS": str(world.root / "nothing-here")},
        "empty": {"XDG_CONFIG_DIRS": ""},
        "unset": {"XDG_CONFIG_DIRS": None},
    }[xdg]

    doc = _doc(machine.status("--json", DO_NOT_TRACK=None, **env))
    on = machine.status("--expect", "on", **env)

    assert (doc["enabled"], doc["decided_by"]) == (False, "admin_lock")
    assert on.returncode == 1, "and --expect on says so"


def test_a_users_cloud_policy_cannot_turn_tracking_on_against_a_lock_off(world):
    machine = Machine(world, STRICT_PROFILE.name, LOCK_OFF)
    user_cloud = _user_policy(world, 'edition = "cloud"\n')

    doc = _doc(machine.status("--json"))

    assert doc["edition"]["name"] == "core"
    assert (doc["enabled"], doc["mandatory"], doc["decided_by"]) == (False, False, "admin_lock")
    [why] = [w for w in doc["warnings"] if str(user_cloud) in w]
    assert 'edition = "cloud" is ignored' in why and machine.fixed_path in why


def test_a_users_cloud_policy_alone_is_ignored_with_a_warning(world):
    machine = Machine(world, STRICT_PROFILE.name, None)
    user_cloud = _user_policy(world, 'edition = "cloud"\n')

    proc = machine.status(COLUMNS="300", DO_NOT_TRACK="1")

    assert proc.returncode == 0, proc.stderr
    text = flat(proc.stdout)
    assert "are OFF for strictapp (core edition)" in text, "the user's opt-out still works"
    assert f'{user_cloud}:1: edition = "cloud" is ignored' in text


def test_the_cloud_edition_counts_from_the_fixed_location(world):
    machine = Machine(world, STRICT_PROFILE.name, 'edition = "cloud"\n')

    doc = _doc(machine.status("--json", DO_NOT_TRACK="1"))

    assert doc["edition"] == {"name": "cloud", "origin": f"{machine.fixed_path}:1"}
    assert (doc["enabled"], doc["mandatory"]) == (True, True)


def test_an_unlocked_default_at_the_fixed_location_loses_to_a_lock_off_anywhere(world):
    machine = Machine(world, STRICT_PROFILE.name, 'telemetry = "on"\n')
    user_lock_off = _user_policy(world, LOCK_OFF)

    doc = _doc(machine.status("--json"))

    assert (doc["enabled"], doc["decided_by"]) == (False, "admin_lock")
    lock = next(layer for layer in doc["layers"] if layer["name"] == "admin_lock")
    assert lock["origin"] == f"{user_lock_off}:1"


def test_status_lists_every_policy_file_it_read(world):
    machine = Machine(world, STRICT_PROFILE.name, 'telemetry = "on"\n')
    user_file = _user_policy(world, 'telemetry = "off"\n')

    proc = machine.status(COLUMNS="300")

    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("System policy:"))
    assert f"{machine.fixed_path} (the fixed system location)" in line
    assert f"{user_file} (along XDG_CONFIG_DIRS)" in line
    assert line.index(machine.fixed_path) < line.index(str(user_file))


def test_dbt_never_reads_the_lock_and_status_says_so(world):
    world.profile = DEFAULT_PROFILE
    machine = Machine(world, "dbt", LOCK_OFF)

    proc = machine.status(COLUMNS="300")
    doc = _doc(machine.status("--json"))

    assert doc["enabled"] is True, "dbt tracks: it never reads our policy file"
    assert doc["decided_by"] == "edition_default"
    rows = {row["layer"]: row for row in table_rows(proc.stdout)}
    assert rows["admin lock"]["effect"] == "not read by dbt"
    text = flat(proc.stdout)
    assert f"{machine.fixed_path}:1: dbt does not read this file" in text
    assert "telemetry disable --shell" in text


def test_a_host_under_a_fixed_lock_off_records_nothing_and_writes_nothing(world):
    from telemetry_collector import Collector

    machine = Machine(world, "testapp", LOCK_OFF)
    world.write_policy(LOCK_ON, app="testapp")  # the user's attempt along XDG_CONFIG_DIRS

    with Collector() as collector:
        # Audit hooks end the host at its first socket (exit 97) or file write (98).
        proc = machine.run(
            [sys.executable, "-m", HOST_MODULE],
            HOST_COLLECTOR=collector.url,
            HOST_MODELS="5",
            HOST_FORBID_NETWORK="1",
            HOST_FORBID_WRITES="1",
        )
        assert proc.returncode == 0, proc.stderr
        assert collector.totals()["total"] == 0
    assert not world.state_dir("testapp").exists(), "no state, no spool, no id"
    assert proc.stderr == "", "no notice either: nothing would ever be sent"


def test_a_lock_on_at_the_fixed_location_is_the_administrators_and_beats_do_not_track(world):
    """The one place that may impose "on": the lock there holds against every opt-out, and
    ``disable`` is refused with nothing written."""
    machine = Machine(world, STRICT_PROFILE.name, LOCK_ON)
    doc = _doc(machine.status("--json", DO_NOT_TRACK="1"))
    assert (doc["enabled"], doc["decided_by"]) == (True, "admin_lock")
    disable = machine.run([sys.executable, "-m", strict_cli.MODULE, "disable"])
    assert disable.returncode == 3, disable.stderr
    assert "cannot be turned off" in disable.stderr
    assert not world.user_config_path().exists()


def test_a_lock_on_along_xdg_config_dirs_is_only_a_default(world):
    """Finding: a ``locked = true`` + ``on`` file along XDG_CONFIG_DIRS (a repository's .envrc
    can point there) beat DO_NOT_TRACK=1. It is the machine's default now, below every opt-out."""
    machine = Machine(world, STRICT_PROFILE.name, None)
    _user_policy(world, LOCK_ON)
    doc = _doc(machine.status("--json", DO_NOT_TRACK="1"))
    assert (doc["enabled"], doc["decided_by"]) == (False, "do_not_track")
    assert any("is read as an unlocked default" in str(w) for w in doc["warnings"])
