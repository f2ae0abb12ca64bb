"""Periodic clean-up while the kiosk runs: personal data that no crossing needs is not kept.

Captures never linked to a crossing (the traveller walked away after the photo) are
deleted an hour after they were taken, with an audit entry. With the config, each round
also keeps the data partition under its storage budget (``workflow/storage_budget.py``:
photos thinned, crossings never dropped).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any, Callable

from appliance.config import Config
from appliance.storage.store import Store
from appliance.workflow import biometrics, retention, storage_budget

log = logging.getLogger(__name__)

INTERVAL_S = 15 * 60
UNLINKED_CAPTURE_AGE = timedelta(hours=1)


class Housekeeping:
    def __init__(self, store: Store, interval_s: float = INTERVAL_S, config: Config | None = None,
                 heavy_work_allowed: Callable[[], bool] | None = None) -> None:
        self.store = store
        self.interval_s = interval_s
        self.config = config
        # The power policy's say: thumbnails (decoding photos) wait while the battery is low.
        self.heavy_work_allowed = heavy_work_allowed or (lambda: True)
        self.last_storage: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> dict[str, int]:
        """One round of clean-up; returns what was removed."""
        removed = {"unlinked_captures": biometrics.purge_unlinked(self.store, UNLINKED_CAPTURE_AGE)}
        if self.config is not None:
            self.last_storage = storage_budget.enforce(self.store, self.config,
                                                       thumbnails_allowed=self.heavy_work_allowed())
            removed["photos_deleted"] = self.last_storage["photos_deleted"]
            removed["thumbnails"] = self.last_storage["thumbnails"]
            for stage, count in retention.purge(self.store, self.config).items():
                removed[f"retention_{stage}"] = count
        return removed

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="housekeeping", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                removed = self.run_once()
                if any(removed.values()):
                    log.info("housekeeping removed %s", removed)
            except Exception:
                # Clean-up failing must never take the kiosk down; it is tried again later.
                log.exception("housekeeping failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
