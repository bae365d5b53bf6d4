"""The shell opt-out block: which startup files, byte-minimal edits, and exact removal.

Real files in a temp HOME; what real shells and real dbt make of them is
``test_shell_dbt.py``'s job (and ``tests/telemetry_cli/test_cli_shell.py`` runs the commands).
"""

from __future__ import annotations

import stat
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from consent import DEFAULT_PROFILE, EditRefused, WriteError
from consent.shell_startup import (
    apply_edits,
    find_blocks,
    plan_shell_change,
    shell_status,
    startup_files,
)

VAR = "DBT_SEND_ANONYMOUS_USAGE_STATS"


def _env(home: Path, shell: str | None = "/bin/bash", **more: str) -> dict[str, str]:
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), **more}
    if shell is not None:
        env["SHELL"] = shell
    return env


def _change(home: Path, enabled: bool, **env: str) -> list[str]:
    edits, _ = plan_shell_change(DEFAULT_PROFILE, enabled, _env(home, **env))
    apply_edits(edits)
    return [e.path for e in edits]


def _login_sh_value(home: Path, rc: str = ".profile") -> str:
    """What ``sh`` gets from sourcing ``rc`` (the variable, or <unset>)."""
    done = subprocess.run(
        ["sh", "-c", f'. "$HOME/{rc}"; printf %s "${{{VAR}-<unset>}}"'],
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


# -- which files ----------------------------------------------------------------------------------


def test_a_fresh_home_with_bash_gets_profile_and_bashrc_and_nothing_that_would_hide_profile(home):
    changed = _change(home, False)

    assert changed == ["~/.profile", "~/.bashrc"]
    assert sorted(p.name for p in home.iterdir()) == [".bashrc", ".profile"]
    assert not (home / ".bash_profile").exists(), "bash -l would stop reading ~/.profile"
    assert _login_sh_value(home) == "false"
    assert _login_sh_value(home, ".bashrc") == "false"


def test_the_bash_login_file_that_exists_is_written_and_only_the_first(home):
    (home / ".bash_login").write_text("# mine\n")
    (home / ".bash_profile").write_text("# bash reads this one\n")

    assert _change(home, False) == ["~/.profile", "~/.bash_profile", "~/.bashrc"]
    assert (home / ".bash_login").read_text() == "# mine\n", "bash never reads it then"


@pytest.mark.parametrize(
    "shell,setup,expected",
    [
        ("/usr/bin/zsh", None, ["~/.profile", "~/.zshenv"]),
        ("/bin/sh", ".zshrc", ["~/.profile", "~/.zshenv"]),
        (None, None, ["~/.profile"]),
        (
            "/usr/bin/fish",
            None,
            ["~/.profile", "~/.config/fish/conf.d/telemetry-consent-dbt.fish"],
        ),
    ],
    ids=["zsh login shell", "a .zshrc", "no SHELL", "fish"],
)
def test_each_shell_gets_the_file_it_reads_at_every_start(home, shell, setup, expected):
    if setup:
        (home / setup).write_text("# zsh user\n")
    assert _change(home, False, shell=shell) == expected


def test_fish_gets_a_drop_in_of_its_own_that_enable_removes_whole(home):
    fish_dir = home / ".config" / "fish"
    fish_dir.mkdir(parents=True)
    _change(home, False, shell="/bin/sh")  # noqa: S604 - our $SHELL, not a subprocess shell
    drop_in = fish_dir / "conf.d" / "telemetry-consent-dbt.fish"
    assert f"set -gx {VAR} false\n" in drop_in.read_text()

    _change(home, True)
    assert not drop_in.exists()


def test_zdotdir_moves_zshenv(home, tmp_path):
    zdot = tmp_path / "zdot"
    zdot.mkdir()
    files = startup_files(DEFAULT_PROFILE, _env(home, "/bin/zsh", ZDOTDIR=str(zdot)))
    assert [f.path for f in files if f.shell == "zsh"] == [str(zdot / ".zshenv")]


# -- byte-minimal edits, exact removal ------------------------------------------------------------

ORIGINALS = {
    "final newline": b"alias ll='ls -l'\n",
    "no final newline": b"alias ll='ls -l'",
    "CRLF": b"alias ll='ls -l'\r\nexport EDITOR=vi\r\n",
    "CRLF, no final newline": b"alias ll='ls -l'\r\nexport EDITOR=vi",
    "not UTF-8": b"# caf\xe9\nPS1='$ '\n",
    "empty": b"",
}


@pytest.mark.parametrize("original", list(ORIGINALS.values()), ids=list(ORIGINALS))
def test_the_block_is_appended_and_enable_gives_back_the_exact_bytes(home, original):
    rc = home / ".bashrc"
    rc.write_bytes(original)
    rc.chmod(0o640)

    _change(home, False)
    written = rc.read_bytes()
    assert written.startswith(original), "every byte before is kept"
    block = written[len(original) :]
    assert b"\r" not in block, "LF only: a CR would become part of the value"
    assert f"export {VAR}=false\n".encode() in block
    assert stat.S_IMODE(rc.stat().st_mode) == 0o640, "the file's mode is kept"
    assert _login_sh_value(home, ".bashrc") == "false"

    _change(home, True)
    assert rc.read_bytes() == original
    assert stat.S_IMODE(rc.stat().st_mode) == 0o640
    assert (home / ".profile").exists() is False, "the file created for the block goes too"


def test_twice_is_one_block_and_the_second_time_changes_nothing(home):
    (home / ".bashrc").write_text("# mine\n")
    _change(home, False)
    first = {p: p.read_bytes() for p in home.iterdir()}
    mtimes = {p: p.stat().st_mtime_ns for p in home.iterdir()}

    edits, unchanged = plan_shell_change(DEFAULT_PROFILE, False, _env(home))
    assert edits == [] and unchanged == ["~/.profile", "~/.bashrc"]
    apply_edits(edits)
    assert {p: p.read_bytes() for p in home.iterdir()} == first
    assert {p: p.stat().st_mtime_ns for p in home.iterdir()} == mtimes, "not even rewritten"
    assert (home / ".bashrc").read_text().count(">>> telemetry-consent") == 1


def test_lines_the_user_added_after_the_block_survive_its_removal(home):
    rc = home / ".bashrc"
    rc.write_bytes(b"first")
    _change(home, False)
    with rc.open("ab") as fh:
        fh.write(b"alias later=1\n")

    _change(home, True)
    assert rc.read_bytes() == b"first\nalias later=1\n", "no line joined to another"


def test_a_block_someone_edited_is_replaced_by_the_real_one(home):
    rc = home / ".bashrc"
    rc.write_text("# mine\n")
    _change(home, False)
    rc.write_text(rc.read_text().replace(f"{VAR}=false", f"{VAR}=true"))
    assert [b.value for b in find_blocks(DEFAULT_PROFILE, _env(home)) if "bashrc" in b.path] == [
        "true"
    ]

    _change(home, False)
    assert rc.read_text().count(f"export {VAR}=false") == 1
    assert f"{VAR}=true" not in rc.read_text()
    _change(home, True)
    assert rc.read_text() == "# mine\n"


def test_a_symlinked_rc_is_edited_where_it_points_and_named_so(home, tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "bashrc"
    real.write_text("# managed by my dotfiles\n")
    (home / ".bashrc").symlink_to(real)

    changed = _change(home, False)
    assert f"~/.bashrc → {real}" in changed
    assert (home / ".bashrc").is_symlink(), "the link itself stays a link"
    assert f"export {VAR}=false" in real.read_text()

    _change(home, True)
    assert (home / ".bashrc").is_symlink() and real.read_text() == "# managed by my dotfiles\n"


def test_a_dangling_symlinked_rc_is_refused_by_name(home, tmp_path):
    (home / ".bashrc").symlink_to(tmp_path / "gone")
    with pytest.raises(EditRefused, match=r"\.bashrc is a symlink to .*gone, which does not exist"):
        plan_shell_change(DEFAULT_PROFILE, False, _env(home))


def test_a_block_without_its_end_line_is_refused_with_file_and_line(home):
    _change(home, False)
    rc = home / ".bashrc"
    rc.write_text("\n".join(rc.read_text().splitlines()[:-1]) + "\n# more\n")

    with pytest.raises(EditRefused, match=r"\.bashrc:1: the telemetry-consent block begins here"):
        plan_shell_change(DEFAULT_PROFILE, True, _env(home))


def test_a_read_only_rc_fails_the_whole_change_and_nothing_is_written(home):
    # Also for root, who could write it: the write bit says "do not edit me".
    rc = home / ".bashrc"
    rc.write_text("# read-only on purpose\n")
    rc.chmod(0o444)
    with pytest.raises(WriteError, match=r"\.bashrc is read-only"):
        _change(home, False)
    assert sorted(p.name for p in home.iterdir()) == [".bashrc"], "~/.profile not created"
    assert rc.read_text() == "# read-only on purpose\n"


def test_a_failed_write_puts_back_the_files_already_written(home, tmp_path):
    # ~/.bashrc points into a directory that is not a directory any more at write time: the
    # write of ~/.profile before it must be undone.
    (home / ".bashrc").write_text("# mine\n")
    edits, _ = plan_shell_change(DEFAULT_PROFILE, False, _env(home))
    assert [e.path for e in edits] == ["~/.profile", "~/.bashrc"]
    (home / ".bashrc").unlink()
    (home / ".bashrc").mkdir()  # the second edit now fails

    with pytest.raises((WriteError, EditRefused)):
        apply_edits(edits)
    assert not (home / ".profile").exists(), "the first file's change was undone"


def test_a_profile_exports_its_own_variable_in_its_own_block(home):
    mytool = replace(DEFAULT_PROFILE, name="mytool", env_prefix="MYTOOL_", preferred_env_vars=())
    edits, _ = plan_shell_change(mytool, False, _env(home))
    apply_edits(edits)

    done = subprocess.run(
        ["sh", "-c", '. "$HOME/.profile"; env'],
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "MYTOOL_SEND_ANONYMOUS_USAGE_STATS=false" in done.stdout.splitlines()
    assert VAR not in done.stdout
    assert "# >>> telemetry-consent: mytool opt-out >>>" in (home / ".profile").read_text()
    assert find_blocks(DEFAULT_PROFILE, _env(home)) == [], "not dbt's block"


# -- what status reads ----------------------------------------------------------------------------


def test_status_reads_every_block_with_its_line_and_this_shells_value(home):
    (home / ".bashrc").write_text("# one\n# two\n")
    _change(home, False)

    pending = shell_status(DEFAULT_PROFILE, _env(home))
    assert pending.state == "pending"
    assert [(Path(b.path).name, b.line, b.value) for b in pending.blocks] == [
        (".profile", 4, "false"),
        (".bashrc", 6, "false"),
    ]
    assert pending.source == str(home / ".bashrc")
    assert shell_status(DEFAULT_PROFILE, _env(home, **{VAR: "false"})).state == "applied"
    assert shell_status(DEFAULT_PROFILE, _env(home, **{VAR: "true"})).state == "differs"
    _change(home, True)
    assert shell_status(DEFAULT_PROFILE, _env(home)).state == "none"
