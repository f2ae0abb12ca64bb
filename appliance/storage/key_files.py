"""Private key files on the kiosk's disk: read only if no one but their owner can read them.

A key readable by group or others (a copied file, a wrong umask, a config folder opened
up for a technician) is a key any local account or service can take; the kiosk refuses
to run with one rather than quietly use it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from appliance.errors import ConfigError


def check_private(path: Path, what: str) -> None:
    """Raises ConfigError naming ``what``, the file and the fix if it is missing, not a file, or group/other-readable."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{what} {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(f"{what} {path} has mode {mode:04o}: group or others may read or change it, so the "
                          f"kiosk does not use it; make it private with `chmod 600 {path}` (owner only)")


def read_private(path: Path, what: str) -> bytes:
    """The bytes of a private key file, after ``check_private``; raises ConfigError."""
    check_private(path, what)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from None
