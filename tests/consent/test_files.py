"""consent.files: only regular files are read, and no read ever waits (a FIFO, a device)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from consent.files import NotRegularFile, create_once, read_text


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "file"
    os.mkfifo(path)
    return path


def _device(tmp_path: Path) -> Path:
    path = tmp_path / "file"
    path.symlink_to(os.devnull)
    return path


def _socket(tmp_path: Path) -> Path:
    path = tmp_path / "file"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()  # the socket file stays
    return path


def _directory(tmp_path: Path) -> Path:
    path = tmp_path / "file"
    path.mkdir()
    return path


SPECIAL = {
    "a fifo": (_fifo, "a FIFO (named pipe)"),
    "a character device": (_device, "a character device"),
    "a socket": (_socket, "a socket"),
    "a directory": (_directory, "a directory"),
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("case", SPECIAL)
def test_read_text_names_what_is_there_instead_of_a_regular_file(tmp_path, case):
    make, kind = SPECIAL[case]
    read = read_text(str(make(tmp_path)))

    assert read is not None and read.text is None
    assert read.problem == f"is {kind}, not a regular file"


@pytest.mark.timeout(10)
def test_create_once_refuses_a_fifo_at_its_path_instead_of_waiting_for_a_writer(tmp_path):
    path = _fifo(tmp_path)

    with pytest.raises(NotRegularFile, match="FIFO"):
        create_once(str(path), b"new\n")

    assert path.is_fifo(), "left as it is"


@pytest.mark.timeout(10)
def test_create_once_still_creates_once_and_then_reads_back(tmp_path):
    path = tmp_path / "state" / "id"

    assert create_once(str(path), b"first\n") == b"first\n"
    assert create_once(str(path), b"second\n") == b"first\n"
