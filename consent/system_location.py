"""The platform's fixed system config directory: where an administrator's policy always lives.

platformdirs' ``site_config_dir`` cannot be that place: the user's environment redirects it
(``XDG_CONFIG_DIRS`` replaces ``/etc/xdg`` on Linux and, since platformdirs 4.14, on macOS too;
``WIN_PD_OVERRIDE_COMMON_APPDATA`` and ``ALLUSERSPROFILE`` on Windows), so a lock read only there
could be switched off by pointing a variable elsewhere. Here the paths are literal, read from no
variable at all:

- Linux and the BSDs: ``/etc/xdg/<app>`` (what the XDG spec and platformdirs default to);
- macOS: ``/Library/Application Support/<app>`` (root-owned; Homebrew's share dir is not used:
  it is writable by the user);
- Windows: ``<ProgramData>\\<app>``, with ProgramData asked of the shell's known-folder API
  (``SHGetKnownFolderPath``), never of ``%ProgramData%``.
"""

from __future__ import annotations

import os
import sys

__all__ = ["fixed_config_dir"]

#: FOLDERID_ProgramData (KnownFolders.h).
_PROGRAM_DATA = "{62AB5D82-FDC1-4DC3-A9DD-070D1D495D97}"


def fixed_config_dir(app: str, platform: str = sys.platform) -> str | None:
    """The fixed system config directory of ``app`` on ``platform``; None when the platform's
    own API cannot say (Windows without the shell's known folders)."""
    if platform == "darwin":
        return os.path.join("/Library/Application Support", app)
    if platform == "win32":
        base = _windows_program_data()
        return None if base is None else os.path.join(base, app)
    return os.path.join("/etc/xdg", app)


def _windows_program_data() -> str | None:  # pragma: no cover - Windows only
    try:
        import ctypes
        from ctypes import wintypes

        class _Guid(ctypes.Structure):
            _fields_ = [
                ("Data1", wintypes.DWORD),
                ("Data2", wintypes.WORD),
                ("Data3", wintypes.WORD),
                ("Data4", wintypes.BYTE * 8),
            ]

        guid = _Guid()
        ole32 = ctypes.windll.ole32  # type: ignore[attr-defined]
        if ole32.CLSIDFromString(ctypes.c_wchar_p(_PROGRAM_DATA), ctypes.byref(guid)) != 0:
            return None
        found = ctypes.c_wchar_p()
        shell32 = ctypes.windll.shell32  # type: ignore[attr-defined]
        if shell32.SHGetKnownFolderPath(ctypes.byref(guid), 0, None, ctypes.byref(found)) != 0:
            return None
        try:
            return found.value or None
        finally:
            ole32.CoTaskMemFree(found)
    except Exception:  # noqa: BLE001 - no known folder: only the other candidates are read
        return None
