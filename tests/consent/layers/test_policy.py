"""The administrator's policy (docs/decision.md): ``telemetry-policy.toml`` on XDG_CONFIG_DIRS."""

from __future__ import annotations

import pytest

from consent import DEFAULT_PROFILE, ReadContext
from consent.layers import AdminLock, SystemDefault
from consent.layers.policy import read_policy


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


def test_the_cloud_edition_comes_from_the_policy_with_its_origin(world):
    path = world.write_policy('# fleet policy\n\n\nedition = "cloud"\n')
    found = policy(world)
    assert found.edition is not None
    assert (found.edition.name, found.edition.origin) == ("cloud", f"{path}:4")


@pytest.mark.parametrize("value", ["on", "off"])
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


def test_the_first_policy_found_along_xdg_config_dirs_wins(world):
    first = world.write_policy('telemetry = "off"\nlocked = true\n', index=0)
    world.write_policy('edition = "cloud"\ntelemetry = "on"\nlocked = true\n', index=1)
    found = policy(world)
    assert found.edition is None
    assert found.admin_lock().opinion == "off"
    assert found.admin_lock().origin == f"{first}:1"


def test_a_later_dir_is_used_when_the_first_has_no_file(world):
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
