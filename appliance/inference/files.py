"""Index files written so that a power cut leaves either the whole file or none of it.

Every index build (documents, names, faces) writes its arrays with these helpers before
the list switch commits in SQLite, so a switched-to version is always complete on disk.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` to ``path`` and fsync it before returning."""
    with open(path, "wb") as handle:
        np.save(handle, array)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (new files, renames) durable too."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
