"""Power back-ends: sysfs tree, INA219 on a simulated I2C bus, UPS pins on gpiozero's MockFactory,
and a Modbus RTU charge controller played by pymodbus's own slave on a pty pair."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from appliance.config import (
    HardwareSection,
    PowerGpioSettings,
    PowerINA219Settings,
    PowerModbusSettings,
    PowerSysfsSettings,
)
from appliance.errors import DeviceError
from appliance.hw.ina219_simulated import SimulatedINA219Bus
from appliance.hw.modbus_simulated import SolarChargerSimulator
from appliance.hw.power import percent_from_voltage
from appliance.hw.power_gpio import GpioPowerSource
from appliance.hw.power_ina219 import INA219PowerSource
from appliance.hw.power_modbus import ModbusPowerSource
from appliance.hw.power_signals import SignalledPowerSource
from appliance.hw.power_sysfs import SysfsPowerSource


def test_percent_from_voltage_is_linear_and_clamped() -> None:
    assert [percent_from_voltage(v, 6.0, 8.4) for v in (5.0, 6.0, 7.2, 8.4, 9.0)] == [0, 0, 50, 100, 100]


# --- sysfs --------------------------------------------------------------------------------


def supply(root: Path, name: str, **files: str) -> None:
    (root / name).mkdir(parents=True)
    for key, value in files.items():
        (root / name / key).write_text(value + "\n")


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    root = tmp_path / "power_supply"
    supply(root, "AC", type="Mains", online="1")
    supply(root, "ups-battery", type="Battery", capacity="64", status="Charging",
           voltage_now="7912000", capacity_level="Normal")
    return root


def sysfs_source(root: Path, battery: str = "") -> SysfsPowerSource:
    return SysfsPowerSource.from_config(HardwareSection(power="sysfs",
                                                        power_sysfs=PowerSysfsSettings(root=root, battery=battery)))


def test_sysfs_finds_the_battery_and_reads_it(sysfs: Path) -> None:
    source = sysfs_source(sysfs)
    reading = source.read()
    assert source.battery == "ups-battery"
    assert (reading.battery_percent, reading.charging, reading.on_mains, reading.voltage, reading.low_battery) == (
        64, True, True, 7.912, False)

    (sysfs / "AC" / "online").write_text("0\n")
    (sysfs / "ups-battery" / "status").write_text("Discharging\n")
    (sysfs / "ups-battery" / "capacity").write_text("4\n")
    (sysfs / "ups-battery" / "capacity_level").write_text("Critical\n")
    reading = source.read()
    assert (reading.battery_percent, reading.charging, reading.on_mains, reading.low_battery) == (4, False, False, True)
    assert source.status().detail.startswith("battery 4%")


def test_sysfs_without_a_battery_names_what_it_found(tmp_path: Path) -> None:
    supply(tmp_path / "ps", "AC", type="Mains", online="1")
    with pytest.raises(DeviceError, match=r"no supply of type Battery .*\(found: AC\)"):
        sysfs_source(tmp_path / "ps")
    with pytest.raises(DeviceError, match="cannot list"):
        sysfs_source(tmp_path / "missing")


def test_sysfs_nonsense_and_a_vanished_battery_are_device_errors(sysfs: Path) -> None:
    source = sysfs_source(sysfs, battery="ups-battery")
    (sysfs / "ups-battery" / "capacity").write_text("lots\n")
    with pytest.raises(DeviceError, match="capacity holds 'lots', not a percentage"):
        source.read()
    assert source.status().ok is False
    for entry in (sysfs / "ups-battery").iterdir():
        entry.unlink()
    (sysfs / "ups-battery").rmdir()
    with pytest.raises(DeviceError, match="is gone"):
        source.read()


# --- INA219 --------------------------------------------------------------------------------


def ina(bus: SimulatedINA219Bus, **settings) -> INA219PowerSource:
    return INA219PowerSource.from_config(
        HardwareSection(power="ina219", power_ina219=PowerINA219Settings(**settings)), bus=bus)


def test_ina219_voltage_current_and_byte_order() -> None:
    bus = SimulatedINA219Bus()
    bus.set(volts=7.8, amps=0.5)
    source = ina(bus)

    reading = source.read()

    # The configuration register is written big-endian through the little-endian SMBus word.
    assert bus.writes == [(0x40, 0x00, 0x9F39)]
    assert (reading.voltage, reading.battery_percent, reading.charging) == (7.8, 75.0, True)
    bus.set(volts=6.6, amps=-0.9)
    assert (source.read().battery_percent, source.read().charging) == (25.0, False)


def test_ina219_overflow_and_a_silent_chip_are_clear() -> None:
    bus = SimulatedINA219Bus()
    bus.set(volts=7.0, overflow=True)
    with pytest.raises(DeviceError, match="math overflow"):
        ina(bus)
    assert bus.closed, "a failed open releases the bus"

    with pytest.raises(DeviceError, match=r"nothing answers at 0x41 on I2C bus 1 \(check wiring; `i2cdetect -y 1`\)"):
        ina(SimulatedINA219Bus(), address=0x41)

    bus = SimulatedINA219Bus()
    bus.set(volts=8.0)
    source = ina(bus)
    bus.present = False
    with pytest.raises(DeviceError, match="nothing answers"):
        source.read()
    assert source.status().ok is False
    bus.present = True
    assert source.read().voltage == 8.0


def test_ina219_without_an_i2c_bus_says_how_to_enable_it() -> None:
    with pytest.raises(DeviceError, match=r"no I2C bus /dev/i2c-17 .*raspi-config"):
        INA219PowerSource.from_config(HardwareSection(power="ina219", power_ina219=PowerINA219Settings(bus=17)))


def test_voltage_range_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="empty_voltage .* must be below full_voltage"):
        PowerINA219Settings(empty_voltage=8.4, full_voltage=6.0)


# --- gpio -----------------------------------------------------------------------------------


@pytest.fixture
def mock_pins():
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = None


def test_gpio_ups_signals(mock_pins) -> None:
    source = GpioPowerSource.from_config(HardwareSection(
        power="gpio", power_gpio=PowerGpioSettings(mains_lost_pin=5, low_battery_pin=6)))
    mains, low = mock_pins.pin(5), mock_pins.pin(6)
    reading = source.read()
    assert (reading.battery_percent, reading.on_mains, reading.low_battery) == (None, True, False)

    mains.drive_low()  # active low: the UPS pulls the line down when mains is lost
    assert source.read().on_mains is False
    low.drive_low()
    assert source.read().low_battery is True
    assert source.status().detail == "MAINS LOST, BATTERY LOW (mains_lost GPIO5, low_battery GPIO6)"
    source.close()
    with pytest.raises(DeviceError, match="closed"):
        source.read()


def test_gpio_active_high_and_configuration_errors(mock_pins) -> None:
    source = GpioPowerSource.from_config(HardwareSection(
        power="gpio", power_gpio=PowerGpioSettings(low_battery_pin=6, active_low=False)))
    assert source.read().on_mains is None
    mock_pins.pin(6).drive_high()
    assert source.read().low_battery is True
    with pytest.raises(DeviceError, match="low_battery_pin"):
        GpioPowerSource.from_config(HardwareSection(power="gpio"))
    with pytest.raises(DeviceError, match="UPS signal on GPIO6: .*in use"):
        GpioPowerSource.from_config(HardwareSection(power="gpio", power_gpio=PowerGpioSettings(low_battery_pin=6)))


# --- Modbus -----------------------------------------------------------------------------------


@pytest.fixture
def charger(tmp_path: Path):
    simulator = SolarChargerSimulator(tmp_path / "ttyRS485", unit=3)
    simulator.set(battery_volts=12.64, charge_amps=4.25, pv_watts=87.5, soc=81)
    yield simulator
    simulator.close()


@pytest.fixture(autouse=True)
def quiet_pymodbus(caplog):
    # pymodbus logs every timeout and exception reply at ERROR; the tests expect them.
    caplog.set_level(logging.CRITICAL, logger="pymodbus")


def modbus(port: str, **settings) -> ModbusPowerSource:
    # A generous answer timeout: the slave's thread may be starved on a loaded machine; the
    # tests of silence set a short one.
    defaults = dict(port=port, unit=3, timeout_s=2.0, baudrate=115200)
    return ModbusPowerSource.from_config(
        HardwareSection(power="modbus", power_modbus=PowerModbusSettings(**{**defaults, **settings})))


def test_modbus_reads_the_epever_registers(charger: SolarChargerSimulator) -> None:
    source = modbus(charger.path)
    reading = source.read()
    assert (reading.battery_percent, reading.voltage, reading.solar_watts, reading.charging) == (81, 12.64, 87.5, True)

    charger.set(battery_volts=11.95, charge_amps=0, pv_watts=0, soc=9)
    reading = source.read()
    assert (reading.battery_percent, reading.voltage, reading.solar_watts, reading.charging) == (9, 11.95, 0, False)
    assert source.status().detail.startswith("battery 9% (11.95 V), solar 0 W")
    source.close()


def test_modbus_without_soc_register_uses_the_voltage_curve(charger: SolarChargerSimulator) -> None:
    source = modbus(charger.path, soc_register=None, pv_power_register=None, charge_current_register=None)
    charger.set(battery_volts=12.3)
    reading = source.read()
    assert (reading.battery_percent, reading.solar_watts, reading.charging) == (50.0, None, None)
    source.close()


def test_modbus_32_bit_pv_power_spans_two_registers(charger: SolarChargerSimulator) -> None:
    charger.set(battery_volts=12.0, pv_watts=1234.56)  # 123456 > 65535: needs the high word
    source = modbus(charger.path)
    assert source.read().solar_watts == 1234.56
    source.close()


def test_modbus_exception_replies_name_the_registers(charger: SolarChargerSimulator) -> None:
    with pytest.raises(DeviceError, match=r"refused registers 0x9000-0x9000: Modbus exception 2 \(illegal data address\)"):
        modbus(charger.path, soc_register=0x9000)


def test_modbus_wrong_unit_or_silence_is_a_clear_error(charger: SolarChargerSimulator) -> None:
    with pytest.raises(DeviceError, match="unit 9"):
        modbus(charger.path, unit=9, timeout_s=0.3)


def test_modbus_controller_unplugged_then_back(tmp_path: Path, charger: SolarChargerSimulator) -> None:
    source = modbus(charger.path)
    assert source.read().battery_percent == 81
    charger.close()
    with pytest.raises(DeviceError, match="charge controller"):
        source.read()
    assert source.status().ok is False

    back = SolarChargerSimulator(tmp_path / "ttyRS485", unit=3)
    try:
        back.set(battery_volts=12.1, soc=55)
        assert source.read().battery_percent == 55
        assert source.status().ok is True
    finally:
        source.close()
        back.close()


def test_modbus_missing_port_is_named() -> None:
    with pytest.raises(DeviceError, match="charge controller: /dev/ttyNOPE does not exist"):
        modbus("/dev/ttyNOPE")


# --- a gauge with the UPS's signal pins ---------------------------------------------------------


def signalled(bus: SimulatedINA219Bus, **pins) -> SignalledPowerSource:
    hardware = HardwareSection(power="ina219", power_signals="gpio", power_gpio=PowerGpioSettings(**pins))
    return SignalledPowerSource(INA219PowerSource.from_config(hardware, bus=bus), GpioPowerSource.from_config(hardware))


def test_the_pins_flags_lie_over_the_gauge_reading(mock_pins) -> None:
    bus = SimulatedINA219Bus()
    bus.set(volts=7.8, amps=0.5)
    source = signalled(bus, mains_lost_pin=5, low_battery_pin=6)
    reading = source.read()
    assert (reading.battery_percent, reading.voltage, reading.on_mains, reading.low_battery, reading.charging) == (
        75.0, 7.8, True, False, True)

    mock_pins.pin(5).drive_low()  # the UPS says the mains is gone while the gauge still sees current
    reading = source.read()
    assert (reading.battery_percent, reading.on_mains, reading.charging) == (75.0, False, False)
    mock_pins.pin(6).drive_low()  # its supervisor says the battery is low before the gauge's curve does
    assert source.read().low_battery is True
    assert source.backend == "ina219+gpio"
    assert source.status().detail.endswith("pins: MAINS LOST, BATTERY LOW (mains_lost GPIO5, low_battery GPIO6)")
    source.close()
    with pytest.raises(DeviceError, match="closed"):
        source.read()


def test_an_unreadable_gauge_leaves_the_pins_in_charge(mock_pins) -> None:
    bus = SimulatedINA219Bus()
    bus.set(volts=7.8, amps=0.5)
    source = signalled(bus, low_battery_pin=6)
    source.read()
    bus.present = False  # a loose wire to the gauge
    mock_pins.pin(6).drive_low()
    reading = source.read()
    assert (reading.battery_percent, reading.low_battery) == (None, True)
    ok, detail = source.health()
    assert not ok and detail.startswith("ina219: ") and "BATTERY LOW" in detail
    source.close()


def test_open_devices_wraps_the_power_back_end_and_config_is_checked(mock_pins) -> None:
    from pydantic import ValidationError

    from appliance.hw import open_devices

    hardware = HardwareSection(power="simulated", power_signals="gpio", fingerprint="none", indicators="none",
                               power_gpio=PowerGpioSettings(mains_lost_pin=5))
    devices = open_devices(hardware)
    try:
        assert devices.power.backend == "simulated+gpio"
        assert devices.power.read().on_mains is True
        mock_pins.pin(5).drive_low()
        assert devices.power.read().on_mains is False
    finally:
        devices.close()
    with pytest.raises(ValidationError, match="with power = 'gpio' the pins are already read"):
        HardwareSection(power="gpio", power_signals="gpio", power_gpio=PowerGpioSettings(mains_lost_pin=5))
    with pytest.raises(ValidationError, match="power_signals = 'gpio' needs power_gpio.mains_lost_pin"):
        HardwareSection(power="ina219", power_signals="gpio")
