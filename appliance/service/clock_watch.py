"""The clock watch: at start-up and every [time] check_interval_s, compare the clock with the last time
seen (a jump is audited) and read the time sources (workflow.timekeeping.check)."""

from __future__ import annotations

import logging
import threading

from appliance.config import Config
from appliance.storage.store import Store
from appliance.workflow import timekeeping

log = logging.getLogger(__name__)


class ClockWatch:
    def __init__(self, store: Store, config: Config) -> None:
        self.store, self.config = store, config
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        try:
            timekeeping.check(self.store, self.config)
        except Exception:
            # A source or the store failing must not stop the kiosk: crossings then say "system".
            log.exception("clock check failed")

    def start(self) -> None:
        self.check()  # at boot, before the first traveller: a clock restarted in the past is audited now
        self._thread = threading.Thread(target=self._loop, name="clock-watch", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.config.time.check_interval_s):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
