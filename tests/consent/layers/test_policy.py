"""The administrator's policy (docs/decision.md): ``telemetry-policy.toml`` at the platform's fixed
system location and along XDG_CONFIG_DIRS, every file read, the most restrictive winning.

The fixed location itself (``/etc/xdg/<app>/``) is only ever written inside a private mount
namespace (tests/telemetry_cli/test_cli_fixed_policy.py); here :func:`read_policy` is given a
stand-in path for it."""

from __future__ import annotations

import pytest

from consent import DEFAULT_PROFILE, ReadContext
from consent.layers import AdminLock, SystemDefault
from consent.policy_file import read_policy
from consent.system_location import fixed_config_dir


class Read:
    """The system policy as the layers read it: once, shared by the lock and the default."""

    def __init__(self, world):
        self.ctx = ReadContext.now(DEFAULT_PROFILE, env=world.env)
        self.edition = self.ctx.policy.edition

    def admin_lock(self):
        return AdminLock().read(self.ctx)

    def system_default(self):
        return SystemDefault().read(self.ctx)


def policy(world):
    return Read(world)


def test_the_candidates_follow_xdg_config_dirs_in_order(world):
    assert DEFAULT_PROFILE.system_policy_paths() == [
        str(world.policy_path(0)),
        str(world.policy_path(1)),
    ]


def test_no_policy_file_means_no_lock_no_default_no_edition(world):
    found = policy(world)
    assert found.edition is None
    lock, default = found.admin_lock(), found.system_default()
    assert (lock.opinion, lock.status) == (None, "no_opinion")
    assert (default.opinion, default.status) == (None, "no_opinion")


def test_the_cloud_edition_comes_only_from_the_fixed_location_with_its_origin(world):
    fixed = world.write(
        "fixed/dbt/telemetry-policy.toml", '# fleet policy\n\n\nedition = "cloud"\n'
    )
    found = read_policy(world.profile.system_policy_paths(), str(fixed))
    assert found.edition is not None
    assert (found.edition.name, found.edition.origin) == ("cloud", f"{fixed}:4")
    assert found.warnings == ()


def test_a_cloud_edition_along_xdg_config_dirs_is_ignored_with_a_warning(world):
    path = world.write_policy('# fleet policy\n\n\nedition = "cloud"\n')
    found = read_policy(world.profile.system_policy_paths(), str(world.root / "no-fixed"))
    assert found.edition is None
    [warning] = found.warnings
    assert warning.startswith(f'{path}:4: edition = "cloud" is ignored')
    assert "XDG_CONFIG_DIRS" in warning
    assert f"the fixed system location ({world.root / 'no-fixed'})" in warning, "names it"
    assert "Fix:" in warning and "\n" not in warning


def test_the_fixed_location_is_literal_per_platform():
    # No variable moves it: XDG_CONFIG_DIRS, WIN_PD_OVERRIDE_COMMON_APPDATA, ALLUSERSPROFILE.
    assert fixed_config_dir("dbt", "linux") == "/etc/xdg/dbt"
    assert fixed_config_dir("dbt", "freebsd14") == "/etc/xdg/dbt"
    assert fixed_config_dir("dbt", "darwin") == "/Library/Application Support/dbt"
    assert DEFAULT_PROFILE.fixed_policy_path() == "/etc/xdg/dbt/telemetry-policy.toml"


def test_a_lock_on_along_xdg_config_dirs_is_only_the_machine_default(world):
    """Only the fixed location can impose "on" (tests/telemetry_cli/test_cli_fixed_policy.py):
    a file along XDG_CONFIG_DIRS is wherever the environment points."""
    path = world.write_policy('telemetry = "on"\nlocked = true\n')
    found = policy(world)
    assert found.admin_lock().opinion is None
    default = found.system_default()
    assert default.opinion == "on"
    assert default.origin == f"{path}:1"
    read = read_policy(world.profile.system_policy_paths(), str(world.root / "no-fixed"))
    [warning] = read.warnings
    assert warning.startswith(f'{path}:1: locked = true with telemetry = "on" is read as an')


@pytest.mark.parametrize("value", ["off"])
def test_a_locked_policy_is_an_admin_lock(world, value):
    path = world.write_policy(f'telemetry = "{value}"\nlocked = true\n')
    found = policy(world)
    lock = found.admin_lock()
    assert lock.opinion == value
    assert lock.status == "no_opinion"  # valid; the resolver makes it the winner
    assert lock.origin == f"{path}:1"
    assert found.system_default().opinion is None, "a lock is not also a default"


@pytest.mark.parametrize("value", ["on", "off"])
@pytest.mark.parametrize("locked", ["", "locked = false\n"])
def test_an_unlocked_policy_is_the_machine_default(world, value, locked):
    path = world.write_policy(f'{locked}telemetry = "{value}"\n')
    found = policy(world)
    assert found.admin_lock().opinion is None
    default = found.system_default()
    assert default.opinion == value
    assert default.origin == f"{path}:{2 if locked else 1}"


def _merged(world, fixed_text: str | None, *xdg_texts: str | None):
    """The policy read from a stand-in fixed file and the world's XDG_CONFIG_DIRS files."""
    fixed = world.root / "fixed" / "dbt" / "telemetry-policy.toml"
    if fixed_text is not None:
        world.write(fixed, fixed_text)
    for index, text in enumerate(xdg_texts):
        if text is not None:
            world.write_policy(text, index=index)
    return read_policy(world.profile.system_policy_paths(), str(fixed)), fixed


LOCK_OFF = 'telemetry = "off"\nlocked = true\n'
LOCK_ON = 'telemetry = "on"\nlocked = true\n'


@pytest.mark.parametrize(
    "fixed, xdg, locked, telemetry",
    [
        # any lock off locks off, wherever it is and whatever the others say
        (LOCK_OFF, [LOCK_ON], True, "off"),
        (LOCK_ON, [LOCK_OFF], True, "off"),
        (None, [LOCK_ON, LOCK_OFF], True, "off"),
        ('telemetry = "on"\n', [LOCK_OFF], True, "off"),
        # a lock off beats an unlocked default on
        (LOCK_OFF, ['telemetry = "on"\n'], True, "off"),
        # a lock on holds only when no file says off
        (LOCK_ON, ['telemetry = "on"\n'], True, "on"),
        (LOCK_ON, ['telemetry = "off"\n'], False, "off"),
        # unlocked defaults: off beats on
        ('telemetry = "on"\n', ['telemetry = "off"\n'], False, "off"),
        ('telemetry = "off"\n', ['telemetry = "on"\n'], False, "off"),
        (None, ['telemetry = "on"\n', 'telemetry = "off"\n'], False, "off"),
    ],
)
def test_every_policy_file_is_read_and_the_most_restrictive_wins(
    world, fixed, xdg, locked, telemetry
):
    merged, _ = _merged(world, fixed, *xdg)
    assert (merged.locked, merged.telemetry) == (locked, telemetry)
    expected_files = (1 if fixed else 0) + len(xdg)
    assert len(merged.files) == expected_files


def test_the_files_read_are_listed_fixed_first(world):
    merged, fixed = _merged(world, LOCK_ON, None, 'telemetry = "on"\n')
    assert [(f.path, f.fixed) for f in merged.files] == [
        (str(fixed), True),
        (str(world.policy_path(1)), False),
    ]


def test_a_lock_on_undone_by_another_file_says_why(world):
    merged, fixed = _merged(world, LOCK_ON, 'telemetry = "off"\n')
    assert not merged.locked
    [warning] = merged.warnings
    assert f"{fixed}:1 locks telemetry on" in warning and str(world.policy_path(0)) in warning
    assert "most restrictive wins" in warning


def test_a_user_cloud_policy_cannot_turn_tracking_on_against_a_lock_off(world):
    merged, fixed = _merged(world, LOCK_OFF, 'edition = "cloud"\n')
    assert merged.edition is None
    assert (merged.locked, merged.telemetry, merged.telemetry_origin) == (True, "off", f"{fixed}:1")
    assert any("is ignored" in w for w in merged.warnings)


def test_the_fixed_location_named_in_xdg_config_dirs_is_read_once(world):
    fixed = world.write("fixed/dbt/telemetry-policy.toml", LOCK_OFF)
    found = read_policy([str(fixed), *world.profile.system_policy_paths()], str(fixed))
    assert [f.fixed for f in found.files] == [True]


def test_a_broken_user_file_does_not_take_the_fixed_locations_edition_away(world):
    merged, fixed = _merged(world, 'edition = "cloud"\n', 'telemetry = "of"\n')
    assert merged.problem is not None, "the broken file still fails closed"
    assert merged.edition is not None
    assert (merged.edition.name, merged.edition.origin) == ("cloud", f"{fixed}:1")


def test_a_broken_file_anywhere_locks_off_although_another_locks_on(world):
    merged, _ = _merged(world, LOCK_ON, 'telemetry = "of"\n')
    assert merged.problem is not None
    assert len(merged.files) == 2


def test_a_later_dir_is_read_when_the_first_has_no_file(world):
    second = world.write_policy('telemetry = "off"\n', index=1)
    found = policy(world)
    assert found.system_default().origin == f"{second}:1"


BAD = {
    # id: (content, line or None, words the warning must also contain)
    "malformed toml": ('telemetry = "off\n', 1, "TOML"),
    "an unknown edition": ('edition = "enterprise"\n', 1, "edition"),
    "edition of the wrong type": ("edition = 1\n", 1, "edition"),
    "telemetry as a boolean": ("telemetry = false\nlocked = true\n", 1, "telemetry"),
    "telemetry misspelt": ('telemetry = "of"\n', 1, "telemetry"),
    "locked as a string": ('telemetry = "off"\nlocked = "yes"\n', 2, "locked"),
    "locked without saying what": ("locked = true\n", 1, "locked"),
    "an unknown key": ('telemetry = "off"\nlockd = true\n', 2, "lockd"),
    "not utf-8": (b'telemetry = "off" # \xff\n', None, "UTF-8"),
    "nested too deeply": ("x = " + "[" * 5000 + "]" * 5000 + "\n", None, "TOML"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_policy_fails_closed_as_locked_off(world, case):
    text, line, mentions = BAD[case]
    path = world.write_policy(text)
    found = policy(world)

    lock = found.admin_lock()
    assert (lock.status, lock.opinion) == ("error", "off")
    where = f"{path}:{line}" if line else str(path)
    assert lock.origin == where
    assert len(lock.warnings) == 1
    warning = lock.warnings[0]
    assert warning.startswith(f"{where}: ")
    assert "\n" not in warning
    assert "Fix:" in warning and mentions in warning
    assert found.system_default().opinion is None
    assert found.edition is None


def test_a_directory_in_place_of_the_policy_fails_closed(world):
    world.policy_path(0).mkdir(parents=True)
    lock = policy(world).admin_lock()
    assert (lock.status, lock.opinion) == ("error", "off")


@pytest.mark.parametrize(
    "text, shown",
    [
        ("telemetry = false\n", 'telemetry must be "on" or "off" (quoted), not false'),
        ("telemetry = true\n", 'telemetry must be "on" or "off" (quoted), not true'),
        (
            'locked = "yes"\ntelemetry = "off"\n',
            'locked must be true or false (no quotes), not "yes"',
        ),
    ],
)
def test_a_wrong_value_is_quoted_back_as_toml_not_python(world, text, shown):
    world.write_policy(text)

    warning = read_policy(world.profile.system_policy_paths()).warnings[0]

    assert shown in warning, warning
    assert "False" not in warning and "True" not in warning
