"""Power from the kernel's power_supply class (/sys/class/power_supply): UPS HATs, PiJuice-style drivers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from appliance.domain import clock
from appliance.domain.reasons import N_
from appliance.errors import DeviceError
from appliance.hw.power import LastReadingPowerSource, PowerReading

if TYPE_CHECKING:
    from appliance.config import HardwareSection, PowerSysfsSettings

EXTERNAL_TYPES = {"Mains", "USB", "Wireless"}


class SysfsPowerSource(LastReadingPowerSource):
    """Reads ``capacity``, ``status``, ``voltage_now`` and ``capacity_level`` of one battery supply,
    and ``online`` of the mains/USB supplies next to it."""

    backend = "sysfs"
    hint = N_("enable the UPS HAT's driver (dtoverlay in /boot/firmware/config.txt); "
            "check hardware.power_sysfs.root and battery")
    name = "sysfs"

    def __init__(self, settings: PowerSysfsSettings) -> None:
        super().__init__()
        self.root = Path(settings.root)
        self.battery = settings.battery or self._find_battery()

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        return str(hardware.power_sysfs.root / (hardware.power_sysfs.battery or "*"))

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> SysfsPowerSource:
        """Raises DeviceError if the directory or the battery is missing or unreadable."""
        return cls(hardware.power_sysfs)._first_read()

    def _find_battery(self) -> str:
        try:
            supplies = sorted(entry for entry in self.root.iterdir())
        except OSError as exc:
            raise DeviceError(f"sysfs power: cannot list {self.root}: {exc} (no power_supply driver loaded?)") from None
        for entry in supplies:
            if _read(entry / "type", missing="") == "Battery":
                return entry.name
        names = ", ".join(entry.name for entry in supplies) or "none"
        raise DeviceError(f"sysfs power: no supply of type Battery in {self.root} (found: {names}); "
                          "is the UPS HAT driver (device-tree overlay) enabled?")

    def _measure(self) -> PowerReading:
        """Raises DeviceError naming the file if the battery cannot be read or holds nonsense."""
        battery = self.root / self.battery
        if not battery.is_dir():
            raise DeviceError(f"sysfs power: battery {battery} is gone")
        capacity_text = _read(battery / "capacity")
        try:
            percent = float(capacity_text)
        except ValueError:
            percent = -1.0
        if not 0 <= percent <= 100:
            raise DeviceError(f"sysfs power: {battery / 'capacity'} holds {capacity_text!r}, not a percentage")
        status = _read(battery / "status", missing="Unknown")
        voltage_text = _read(battery / "voltage_now", missing="")
        voltage = round(int(voltage_text) / 1_000_000, 3) if voltage_text.lstrip("-").isdigit() else None
        level = _read(battery / "capacity_level", missing="")
        on_mains = None
        for entry in sorted(self.root.iterdir()):
            if entry.name != self.battery and _read(entry / "type", missing="") in EXTERNAL_TYPES:
                online = _read(entry / "online", missing="") == "1"
                on_mains = bool(on_mains) or online
        return PowerReading(
            battery_percent=percent,
            charging={"Charging": True, "Discharging": False, "Not charging": False, "Full": False}.get(status),
            on_mains=on_mains,
            solar_watts=None,
            voltage=voltage,
            read_at=clock.utcnow(),
            low_battery=level == "Critical",
        )

    def _detail(self, last: PowerReading | None) -> str:
        where = f"{self.root / self.battery}"
        if last is None:
            return where
        return f"battery {last.battery_percent:g}% ({where})"


def _read(path: Path, missing: str | None = None) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if missing is not None:
            return missing
        raise DeviceError(f"sysfs power: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DeviceError(f"sysfs power: cannot read {path}: {exc}") from None
