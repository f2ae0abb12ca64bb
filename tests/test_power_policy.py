"""The power policy driven by a scripted battery: warn → defer → critical shutdown, with hysteresis."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

from appliance.storage import audit
from appliance.config import HardwareSection, PowerPolicySettings
from appliance.errors import DeviceError
from appliance.hw.indicators_simulated import SimulatedIndicators
from appliance.hw.power_simulated import SimulatedPowerSource
from appliance.hw.power_policy import PowerPolicy
from appliance.service.power_records import StorePowerRecords
from appliance.storage import battery_history

from .waiting import wait_until


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "powered-off"


def settings_for(marker: Path, **overrides) -> PowerPolicySettings:
    # A harmless shutdown command: it leaves a file behind instead of powering off.
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('off\\n')"]
    values = dict(warn_percent=35, defer_percent=25, critical_percent=12, hysteresis_percent=3,
                  shutdown_command=command, shutdown_grace_s=0, history_interval_s=0)
    return PowerPolicySettings(**{**values, **overrides})


@pytest.fixture
def battery() -> SimulatedPowerSource:
    return SimulatedPowerSource(80, on_mains=False)


@pytest.fixture
def indicators():
    indicators = SimulatedIndicators.from_config(HardwareSection())
    yield indicators
    indicators.close()


def drive(policy: PowerPolicy, battery: SimulatedPowerSource, levels: list[float], **state) -> list[str]:
    seen = []
    for percent in levels:
        battery.set(percent=percent, **state)
        seen.append(policy.poll()["level"])
    return seen


def test_discharge_walks_warn_defer_critical_and_shuts_down(store, battery, indicators, marker) -> None:
    policy = PowerPolicy(settings_for(marker), battery, StorePowerRecords(store), indicators)

    seen = drive(policy, battery, [80, 36, 35, 30, 25, 20, 13])
    assert seen == ["normal", "normal", "warn", "warn", "defer", "defer", "defer"]
    assert policy.heavy_work_allowed() is False
    assert not marker.exists()
    assert [e for e in indicators.events if e.startswith("pattern")] == ["pattern power_warning"] * 2

    # Someone is recording a crossing: the store's lock is held until it commits.
    store.lock.acquire()
    done = threading.Event()
    threading.Thread(target=lambda: (drive(policy, battery, [12]), done.set())).start()
    time.sleep(0.3)
    assert not done.is_set() and not marker.exists(), "shutdown waits for the crossing being recorded"
    store.lock.release()
    assert done.wait(10)

    assert marker.read_text() == "off\n"
    assert policy.snapshot() == {"level": "critical", "percent": 12, "charging": False,
                                 "message": "battery critical (12%, mains lost): shutting down"}
    [(kind, payload)] = store.conn.execute("SELECT kind, payload FROM outbox").fetchall()
    notice = json.loads(payload)
    assert kind == "power.shutdown" and notice["battery_percent"] == 12 and notice["id"] == policy.shutdown_notice_id
    assert store.conn.execute("SELECT action FROM audit ORDER BY seq DESC LIMIT 1").fetchone()[0] == "power.shutdown"
    assert audit.verify(store)[1] == []
    assert indicators.events[-1] == "pattern power_critical"
    # The WAL was folded into the database file before powering off.
    wal = Path(str(store.path) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0

    # Shutting down is final: a reading that recovers does not undo it.
    assert drive(policy, battery, [60]) == ["critical"]
    assert marker.read_text() == "off\n", "the command ran once"


def test_hysteresis_keeps_a_hovering_battery_from_flapping(store, battery, marker) -> None:
    policy = PowerPolicy(settings_for(marker), battery, StorePowerRecords(store))
    seen = drive(policy, battery, [35, 36, 37, 38, 38.5, 34, 24, 26, 28, 28.5, 40])
    assert seen == ["warn", "warn", "warn", "warn", "normal", "warn", "defer", "defer", "defer", "warn", "normal"]
    assert policy.transitions == [("normal", "warn", 35), ("warn", "normal", 38.5), ("normal", "warn", 34),
                                  ("warn", "defer", 24), ("defer", "warn", 28.5), ("warn", "normal", 40)]
    assert policy.heavy_work_allowed() is True


def test_charging_holds_the_shutdown(store, battery, marker) -> None:
    policy = PowerPolicy(settings_for(marker), battery, StorePowerRecords(store))
    assert drive(policy, battery, [10], charging=True) == ["critical"]
    assert not marker.exists()
    assert "but charging: shutdown held" in policy.snapshot()["message"]
    assert drive(policy, battery, [9], charging=False) == ["critical"]
    assert marker.exists()


def test_pin_only_ups_flags(store, marker) -> None:
    from appliance.domain import clock
    from appliance.hw.power import PowerReading

    class Pins:
        state = {"on_mains": True, "low_battery": False}

        def read(self):
            return PowerReading(None, None, self.state["on_mains"], None, None, clock.utcnow(),
                                low_battery=self.state["low_battery"])

    pins = Pins()
    policy = PowerPolicy(settings_for(marker), pins, StorePowerRecords(store))
    assert policy.poll()["level"] == "normal"
    pins.state["on_mains"] = False
    assert policy.poll() == {"level": "warn", "percent": None, "charging": None,
                             "message": "battery low (mains lost): connect power or reduce use"}
    pins.state["low_battery"] = True
    assert policy.poll()["level"] == "critical" and marker.exists()


def test_an_unreadable_gauge_keeps_the_level_and_says_so(store, tmp_path, marker) -> None:
    level = tmp_path / "battery"
    level.write_text("30")
    battery = SimulatedPowerSource(battery_file=level)
    policy = PowerPolicy(settings_for(marker), battery, StorePowerRecords(store))
    assert policy.poll()["level"] == "warn"
    level.write_text("garbage")
    snapshot = policy.poll()
    assert snapshot["level"] == "warn" and snapshot["message"].startswith("power sensor unreadable:")


def test_a_failing_shutdown_command_is_reported(store, battery) -> None:
    settings = settings_for(Path("/nonexistent"), shutdown_command=[sys.executable, "-c", "raise SystemExit(3)"])
    policy = PowerPolicy(settings, battery, StorePowerRecords(store))
    assert drive(policy, battery, [5]) == ["critical"]
    assert "shutdown command failed (exit status 3); shut the kiosk down by hand" in policy.snapshot()["message"]
    assert store.conn.execute("SELECT count(*) FROM outbox WHERE kind = 'power.shutdown'").fetchone()[0] == 1

    missing = PowerPolicy(settings_for(Path("/x"), shutdown_command=["/no/such/poweroff"]), battery,
                          StorePowerRecords(store))
    missing.poll()
    assert "shutdown command failed" in missing.snapshot()["message"]


def test_history_is_kept_and_pruned(store, battery, marker) -> None:
    now = [0.0]
    policy = PowerPolicy(settings_for(marker, history_interval_s=300, history_days=1), battery,
                         StorePowerRecords(store), monotonic=lambda: now[0])
    store.conn.execute("INSERT INTO power_history(at, percent, level) VALUES ('2000-01-01T00:00:00Z', 50, 'normal')")
    for percent, at in [(80, 0), (79, 10), (34, 20), (33, 400)]:
        now[0] = at
        battery.set(percent=percent)
        policy.poll()
    rows = battery_history.read(store)
    # Every 300 s, plus the level change at 34%; the row older than a day is gone.
    assert [(row["percent"], row["level"]) for row in rows] == [(80, "normal"), (34, "warn"), (33, "warn")]
    assert rows[0]["charging"] is False and rows[0]["on_mains"] is False


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="critical_percent < defer_percent < warn_percent"):
        PowerPolicySettings(warn_percent=20, defer_percent=25, critical_percent=10)


def test_the_thread_polls_and_stops(store, battery, marker) -> None:
    policy = PowerPolicy(settings_for(marker, poll_interval_s=0.05), battery, StorePowerRecords(store))
    policy.start()
    battery.set(percent=30)
    wait_until(lambda: policy.level == "warn", what="the policy's thread to read 30%")
    policy.stop()
    assert policy.level == "warn"
    assert policy._thread.name == "power-policy" and not policy._thread.is_alive()


def test_the_service_starts_the_policy_and_exposes_it(config) -> None:
    from appliance.service.daemon import KioskService

    service = KioskService(config)
    service.init_store()
    service.init_devices()
    service.init_api()
    service.init_power_policy()
    try:
        policy = service.app.state.power_policy
        assert policy is service.power_policy
        wait_until(lambda: policy.snapshot()["percent"] is not None, what="the first reading")
        assert policy.snapshot() == {"level": "normal", "percent": 100, "charging": False,
                                     "message": "power ok (100%)"}
    finally:
        service.stop()


def test_policy_can_be_disabled(config) -> None:
    from appliance.service.daemon import KioskService

    config.hardware.power_policy.enabled = False
    service = KioskService(config)
    service.init_store()
    service.init_devices()
    service.init_api()
    service.init_power_policy()
    try:
        assert service.app.state.power_policy is None
    finally:
        service.stop()


def test_simulated_source_errors_are_device_errors(tmp_path) -> None:
    battery = SimulatedPowerSource(battery_file=tmp_path / "absent")
    with pytest.raises(DeviceError):
        battery.read()




def test_health_telemetry_carries_a_thin_battery_history(store, config, battery, marker) -> None:
    from appliance.uplink.telemetry import battery_summary, collect

    assert battery_summary(store) is None
    policy = PowerPolicy(settings_for(marker), battery, StorePowerRecords(store))
    for percent in (80, 62, 71):
        battery.set(percent=percent)
        policy.poll()
    summary = collect(store, config)["battery_24h"]
    assert summary["min"] == 62 and summary["max"] == 80
    # One point per hour, the hour's last reading: three readings a moment apart give one
    # point (two if the test happens to straddle the top of an hour).
    assert len(summary["points"]) in (1, 2) and summary["points"][-1][1] == 71
