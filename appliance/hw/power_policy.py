"""The power policy: battery state → warn the officer, defer heavy work, or finish, flush, notify HQ
and shut down cleanly before the battery runs dry. It also keeps the battery history.

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
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable

from appliance.domain import clock
from appliance.errors import DeviceError
from appliance.storage import audit
from appliance.uplink import outbox

if TYPE_CHECKING:
    from appliance.config import PowerPolicySettings
    from appliance.hw.power import PowerReading, PowerSource
    from appliance.storage.store import Store

log = logging.getLogger(__name__)

LEVELS = ("normal", "warn", "defer", "critical")
RANK = {level: rank for rank, level in enumerate(LEVELS)}
SHUTDOWN_COMMAND_TIMEOUT_S = 60
# The shutdown command is tried again after this long if it failed.
SHUTDOWN_RETRY_S = 60.0


class PowerPolicy:
    """Polls a power source and acts on its level. ``poll()`` is one step; ``start()`` runs it in a thread.

    ``transitions`` records every level change as (from, to, percent), for tests and logs.
    ``run`` runs the shutdown command (``subprocess.run`` by default).
    """

    def __init__(self, settings: PowerPolicySettings, source: PowerSource, store: Store | None = None,
                 indicators: Any = None, *, run: Callable[..., Any] = subprocess.run,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.source = source
        self.store = store
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
        worse = max((level for level, limit in thresholds.items() if percent <= limit), key=RANK.get, default="normal")
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
        if self.store is not None and self.shutdown_notice_id is None:
            self._notify_and_flush(reading)
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

    def _notify_and_flush(self, reading: PowerReading | None) -> None:
        store = self.store
        notice_id = str(uuid.uuid4())
        payload = {
            "id": notice_id,
            "at": clock.iso(clock.utcnow()),
            "level": "critical",
            "battery_percent": reading.battery_percent if reading else None,
            "voltage": reading.voltage if reading else None,
            "charging": reading.charging if reading else None,
            "low_battery": reading.low_battery if reading else None,
            "command": list(self.settings.shutdown_command),
        }
        # The store's lock is held for the whole of a crossing's transaction: taking it
        # here waits for a crossing being recorded to commit, and keeps the next one out
        # until the notice and the checkpoint are done.
        with store.lock:
            with store.transaction():
                outbox.enqueue(store, "power.shutdown", notice_id, payload)
                audit.append(store, "system", "power.shutdown", notice_id,
                             {k: payload[k] for k in ("battery_percent", "voltage", "charging")})
            # Fold the WAL into the main file: the next boot starts from a clean database.
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.shutdown_notice_id = notice_id

    def _wait_for_notice(self) -> None:
        """Give a connected uplink up to shutdown_grace_s to have HQ receipt the notice."""
        if self.store is None or self.shutdown_notice_id is None or self.settings.shutdown_grace_s <= 0:
            return
        try:
            from appliance.uplink.status import snapshot

            if not snapshot(self.store).get("connected"):
                return  # nobody to send it now; it stays queued for the next boot
        except Exception:
            log.exception("uplink status unavailable; not waiting for the shutdown notice")
            return
        deadline = self.monotonic() + self.settings.shutdown_grace_s
        while self.monotonic() < deadline and not self._stop.is_set():
            with self.store.lock:
                queued = self.store.conn.execute("SELECT 1 FROM outbox WHERE ref_id = ?",
                                                 (self.shutdown_notice_id,)).fetchone()
            if queued is None:
                return
            time.sleep(0.5)

    # --- history ------------------------------------------------------------------------

    def _record_history(self, reading: PowerReading, level: str, changed: bool) -> None:
        if self.store is None:
            return
        now = self.monotonic()
        due = self._last_history is None or now - self._last_history >= self.settings.history_interval_s
        if not (due or changed):
            return
        self._last_history = now
        cutoff = clock.iso(clock.utcnow() - timedelta(days=self.settings.history_days))
        try:
            with self.store.transaction():
                self.store.conn.execute(
                    "INSERT INTO power_history(at, percent, voltage, charging, on_mains, solar_watts, level)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (clock.iso(reading.read_at), reading.battery_percent, reading.voltage,
                     _flag(reading.charging), _flag(reading.on_mains), reading.solar_watts, level),
                )
                self.store.conn.execute("DELETE FROM power_history WHERE at < ?", (cutoff,))
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


def history(store: Store, since: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """Battery history rows, oldest first, optionally from ISO time ``since``."""
    with store.lock:
        rows = store.conn.execute(
            "SELECT at, percent, voltage, charging, on_mains, solar_watts, level FROM power_history"
            " WHERE at >= ? ORDER BY at LIMIT ?", (since or "", limit),
        ).fetchall()
    return [
        {"at": at, "percent": percent, "voltage": voltage, "charging": _unflag(charging),
         "on_mains": _unflag(on_mains), "solar_watts": solar, "level": level}
        for at, percent, voltage, charging, on_mains, solar, level in rows
    ]


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _unflag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


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
