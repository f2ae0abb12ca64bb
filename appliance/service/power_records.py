"""What the power policy records in the kiosk's store: the shutdown notice for HQ with its audit
entry, the WAL checkpoint before power-off, and the battery history."""

from __future__ import annotations

from typing import Any

from appliance.hw.power import PowerReading
from appliance.storage import audit, battery_history
from appliance.storage.store import Store
from appliance.uplink import outbox
from appliance.uplink import status as uplink_status

# The notice's figures the audit entry keeps (the rest is in the outbox row).
AUDITED = ("battery_percent", "voltage", "charging")


class StorePowerRecords:
    """The policy's ``PowerRecords`` on one store (``appliance.hw.power_policy.PowerRecords``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def shutdown_notice(self, notice: dict[str, Any]) -> None:
        """Queue the "power.shutdown" notice (outbox) with its audit entry, then checkpoint the WAL.

        Raises sqlite3.Error if the store cannot be written, KeyError if the protocol has no
        such kind.
        """
        store = self.store
        # The store's lock is held for the whole of a crossing's transaction: taking it
        # here waits for a crossing being recorded to commit, and keeps the next one out
        # until the notice and the checkpoint are done.
        with store.lock:
            with store.transaction():
                outbox.enqueue(store, "power.shutdown", notice["id"], notice)
                audit.append(store, "system", "power.shutdown", notice["id"], {key: notice[key] for key in AUDITED})
            # Fold the WAL into the main file: the next boot starts from a clean database.
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def notice_pending(self, notice_id: str) -> bool:
        with self.store.lock:
            return self.store.conn.execute("SELECT 1 FROM outbox WHERE ref_id = ?", (notice_id,)).fetchone() is not None

    def uplink_connected(self) -> bool:
        return bool(uplink_status.snapshot(self.store).get("connected"))

    def battery_reading(self, reading: PowerReading, level: str, keep_days: float) -> None:
        battery_history.append(self.store, at=reading.read_at, percent=reading.battery_percent,
                               voltage=reading.voltage, charging=reading.charging, on_mains=reading.on_mains,
                               solar_watts=reading.solar_watts, level=level, keep_days=keep_days)
