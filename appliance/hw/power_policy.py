"""The power policy: battery state → warn the officer, defer heavy work, or finish, flush, notify HQ
and shut down cleanly before the battery runs dry; each reading goes to the battery history.

Levels, from the configured thresholds (``hardware.power_policy``):

- ``normal``;
- ``warn`` (percent <= warn_percent, or mains lost on a pin-only UPS): banner and one
  buzzer pattern;
- ``defer`` (<= defer_percent): heavy work (list rebuilds, photo uploads) should wait;
  ``heavy_work_allowed()`` says so;
- ``critical`` (<= critical_percent, or the UPS's low-battery signal) and not charging:
  wait for the crossing being recorded to commit (the store's write lock), queue a
  "power.shutdown" notice for HQ, checkpoint the WAL, give the uplink a moment to send
  the notice, then run the shutdown command.

The policy writes no records itself: the notice, the checkpoint and the history are the
``PowerRecords`` the service gives it (``appliance.service.power_records``).

A level is entered as soon as its threshold is crossed downwards, but left only once
the battery is ``hysteresis_percent`` above it, so a battery hovering at a threshold (a
cloud over the panel) does not make the banner and buzzer flap.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable, Protocol

from appliance.domain import clock
from appliance.errors import DeviceError

if TYPE_CHECKING:
    from appliance.config import PowerPolicySettings
    from appliance.hw.power import PowerReading, PowerSource

log = logging.getLogger(__name__)

LEVELS = ("normal", "warn", "defer", "critical")
RANK = {level: rank for rank, level in enumerate(LEVELS)}
SHUTDOWN_COMMAND_TIMEOUT_S = 60
# The shutdown command is tried again after this long if it failed.
SHUTDOWN_RETRY_S = 60.0
# How often the shutdown waits look whether HQ has receipted the notice.
NOTICE_POLL_S = 0.5


class PowerRecords(Protocol):
    """What the policy records and asks of the kiosk's records."""

    def shutdown_notice(self, notice: dict[str, Any]) -> None:
        """Queue ``notice`` (the "power.shutdown" message for HQ, ``notice["id"]`` its id) with an
        audit entry, then make the database safe to lose power. Waits for the crossing being
        recorded to commit and keeps the next one out until done; raises if it cannot be written."""

    def notice_pending(self, notice_id: str) -> bool:
        """True while the notice is still queued for HQ."""

    def uplink_connected(self) -> bool:
        """True when the uplink is connected now, so waiting for HQ's receipt can help."""

    def battery_reading(self, reading: PowerReading, level: str, keep_days: float) -> None:
        """Keep one reading in the battery history and drop what is older than ``keep_days``."""


class PowerPolicy:
    """Polls a power source and acts on its level. ``poll()`` is one step; ``start()`` runs it in a thread.

    ``transitions`` records every level change as (from, to, percent), for tests and logs.
    ``records`` keeps the notice and the history (None: nothing is recorded, the kiosk still
    warns and shuts down). ``run`` runs the shutdown command (``subprocess.run`` by default).
    """

    def __init__(self, settings: PowerPolicySettings, source: PowerSource, records: PowerRecords | None = None,
                 indicators: Any = None, *, run: Callable[..., Any] = subprocess.run,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.source = source
        self.records = records
        self.indicators = indicators
        self.run = run
        self.monotonic = monotonic
        self.level = "normal"
        self.reading: PowerReading | None = None
        self.message = "power not read yet"
        self.transitions: list[tuple[str, str, float | None]] = []
        self.shutdown_started = False
        self.shutdown_notice_id: str | None = None
        self._last_shutdown_attempt: float | None = None
        self._last_history: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the decision -------------------------------------------------------------

    def level_for(self, reading: PowerReading, current: str) -> str:
        """The level ``reading`` puts the kiosk in, coming from level ``current`` (pure)."""
        s = self.settings
        if reading.low_battery:
            return "critical"
        percent = reading.battery_percent
        if percent is None:
            # A pin-only UPS: lost mains is worth a warning, nothing more until "low".
            return "warn" if reading.on_mains is False else "normal"
        thresholds = {"warn": s.warn_percent, "defer": s.defer_percent, "critical": s.critical_percent}
        worse = max((level for level, limit in thresholds.items() if percent <= limit), key=RANK.__getitem__, default="normal")
        if RANK[worse] >= RANK[current]:
            return worse
        # Improving: step out of each level only when clear of its threshold plus hysteresis.
        for level in reversed(LEVELS[1: RANK[current] + 1]):
            if percent <= thresholds[level] + s.hysteresis_percent:
                return level
        return "normal"

    # --- one step -------------------------------------------------------------------

    def poll(self) -> dict[str, Any]:
        """Read the source once and act on the level; returns ``snapshot()``. Never raises for a
        sensor fault: an unreadable gauge keeps the last level and says so in the message."""
        try:
            reading = self.source.read()
        except DeviceError as exc:
            with self._lock:
                self.message = f"power sensor unreadable: {exc}"
            log.warning("power policy: %s", exc)
            return self.snapshot()
        with self._lock:
            previous = self.level
            level = "critical" if self.shutdown_started else self.level_for(reading, previous)
            self.level, self.reading = level, reading
            if level != previous:
                self.transitions.append((previous, level, reading.battery_percent))
                log.warning("power level %s -> %s (%s)", previous, level, _describe(reading))
            self.message = self._message(level, reading)
        self._record_history(reading, level, changed=level != previous)
        self._act(previous, level, reading)
        return self.snapshot()

    def _act(self, previous: str, level: str, reading: PowerReading) -> None:
        if RANK[level] > RANK[previous] and self.indicators is not None:
            # One pattern per step down, never a repeating alarm at a post that runs on battery.
            try:
                self.indicators.pattern("power_critical" if level == "critical" else "power_warning")
            except Exception:
                log.exception("power warning on the indicators failed")
        if level == "critical" and reading.charging is not True:
            now = self.monotonic()
            if self._last_shutdown_attempt is None or now - self._last_shutdown_attempt >= SHUTDOWN_RETRY_S:
                self._last_shutdown_attempt = now
                self.shutdown(reading)

    def _message(self, level: str, reading: PowerReading) -> str:
        what = _describe(reading)
        if self.shutdown_started:
            return f"battery critical ({what}): shutting down"
        return {
            "normal": f"power ok ({what})",
            "warn": f"battery low ({what}): connect power or reduce use",
            "defer": f"battery very low ({what}): list updates and photo uploads are paused",
            "critical": (f"battery critical ({what}) but charging: shutdown held" if reading.charging
                         else f"battery critical ({what}): finishing the current crossing, then shutting down"),
        }[level]

    def shutdown(self, reading: PowerReading | None = None) -> None:
        """Finish, flush, notify HQ, power off. Safe to call again if the command failed."""
        reading = reading or self.reading
        with self._lock:
            self.shutdown_started = True
            self.message = f"battery critical ({_describe(reading) if reading else 'unknown'}): shutting down"
        log.critical("power critical: shutting down (%s)", _describe(reading) if reading else "no reading")
        if self.records is not None and self.shutdown_notice_id is None:
            self._notify_and_flush(self.records, reading)
        self._wait_for_notice()
        command = list(self.settings.shutdown_command)
        log.critical("running shutdown command %s", command)
        try:
            result = self.run(command, check=False, timeout=SHUTDOWN_COMMAND_TIMEOUT_S)
            failed = getattr(result, "returncode", 0) != 0 and f"exit status {result.returncode}"
        except (OSError, subprocess.SubprocessError) as exc:
            failed = str(exc)
        if failed:
            log.error("shutdown command %s failed: %s; trying again in %gs", command, failed, SHUTDOWN_RETRY_S)
            with self._lock:
                self.message = f"battery critical: shutdown command failed ({failed}); shut the kiosk down by hand"

    def _notify_and_flush(self, records: PowerRecords, reading: PowerReading | None) -> None:
        notice_id = str(uuid.uuid4())
        records.shutdown_notice({
            "id": notice_id,
            "at": clock.iso(clock.utcnow()),
            "level": "critical",
            "battery_percent": reading.battery_percent if reading else None,
            "voltage": reading.voltage if reading else None,
            "charging": reading.charging if reading else None,
            "low_battery": reading.low_battery if reading else None,
            "command": list(self.settings.shutdown_command),
        })
        self.shutdown_notice_id = notice_id

    def _wait_for_notice(self) -> None:
        """Give a connected uplink up to shutdown_grace_s to have HQ receipt the notice."""
        records, notice_id = self.records, self.shutdown_notice_id
        if records is None or notice_id is None or self.settings.shutdown_grace_s <= 0:
            return
        try:
            if not records.uplink_connected():
                return  # nobody to send it now; it stays queued for the next boot
        except Exception:
            log.exception("uplink status unavailable; not waiting for the shutdown notice")
            return
        deadline = self.monotonic() + self.settings.shutdown_grace_s
        while self.monotonic() < deadline and not self._stop.is_set():
            if not records.notice_pending(notice_id):
                return
            time.sleep(NOTICE_POLL_S)

    # --- history ------------------------------------------------------------------------

    def _record_history(self, reading: PowerReading, level: str, changed: bool) -> None:
        if self.records is None:
            return
        now = self.monotonic()
        due = self._last_history is None or now - self._last_history >= self.settings.history_interval_s
        if not (due or changed):
            return
        self._last_history = now
        try:
            self.records.battery_reading(reading, level, self.settings.history_days)
        except Exception:
            # History is telemetry: losing a row must never stop the policy from acting.
            log.exception("could not record battery history")

    # --- what others read -----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """{"level", "percent", "charging", "message"} for the UI banner, the API and telemetry."""
        with self._lock:
            reading = self.reading
            return {
                "level": self.level,
                "percent": None if reading is None else reading.battery_percent,
                "charging": None if reading is None else reading.charging,
                "message": self.message,
            }

    def heavy_work_allowed(self) -> bool:
        """False at the defer and critical levels: list rebuilds and photo uploads should wait."""
        return RANK[self.level] < RANK["defer"]

    # --- thread ------------------------------------------------------------------------

    def start(self) -> None:
        """Poll now and then every poll_interval_s on a thread named "power-policy"."""
        self._thread = threading.Thread(target=self._loop, name="power-policy", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:
                log.exception("power policy step failed")
            self._stop.wait(self.settings.poll_interval_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _describe(reading: PowerReading) -> str:
    parts = []
    if reading.battery_percent is not None:
        parts.append(f"{reading.battery_percent:g}%")
    if reading.voltage is not None:
        parts.append(f"{reading.voltage:g} V")
    if reading.charging:
        parts.append("charging")
    if reading.on_mains is False:
        parts.append("mains lost")
    if reading.low_battery:
        parts.append("UPS reports battery low")
    return ", ".join(parts) or "no figures"
