"""The data partition against its storage budget: how full it is, and at which level.

Used space is what the file system says is used, less the free pages inside the SQLite
file: SQLite reuses them for new rows before the file grows, so photos deleted to make
room count as room at once, without a VACUUM that would rewrite the whole database on
the card (and need as much free space again to do it).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from appliance.config import Config
    from appliance.storage.store import Store

# path -> (total, used, available to the kiosk) bytes of the file system holding it. A seam
# so that tests can play a small card with the real database on it; the kiosk uses statvfs.
DiskUsage = Callable[[Path], "tuple[int, int, int]"]
LEVELS = ("ok", "warn", "thin", "full")


def statvfs_usage(path: Path) -> tuple[int, int, int]:
    """(total, used, available) of the file system of ``path``; ext4's reserved blocks are neither used nor available."""
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize, (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_bavail * st.f_frsize


@dataclass(frozen=True)
class Fill:
    total_bytes: int
    used_bytes: int  # used by the file system, less what SQLite will reuse
    available_bytes: int
    reusable_bytes: int
    budget_bytes: int
    percent: float  # of the budget
    level: str  # ok, warn (officer and HQ told), thin (photos being thinned), full (at or over the budget)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def measure(config: Config, store: Store | None = None, disk_usage: DiskUsage = statvfs_usage) -> Fill:
    """The data partition's fill; ``store`` adds the SQLite free pages as room. Raises OSError if it cannot be read."""
    settings = config.storage
    # The data dir is made by the first start; before it (a technician's first self-test) the
    # file system it will be on is the one that counts.
    path = config.kiosk.data_dir
    while not path.exists() and path != path.parent:
        path = path.parent
    total, used, available = disk_usage(path)
    reusable = 0
    if store is not None:
        with store.lock:
            pages = store.conn.execute("PRAGMA freelist_count").fetchone()[0]
            reusable = pages * store.conn.execute("PRAGMA page_size").fetchone()[0]
    used = max(used - reusable, 0)
    budget = settings.budget_bytes or int(total * settings.budget_percent / 100)
    percent = round(100 * used / budget, 1) if budget else 100.0
    if percent >= 100:
        level = "full"
    elif percent >= settings.thin_percent:
        level = "thin"
    elif percent >= settings.warn_percent:
        level = "warn"
    else:
        level = "ok"
    return Fill(total, used, available, reusable, budget, percent, level)
