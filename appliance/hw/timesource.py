"""Time sources: the seam (``TimeSource``), the board's boot reference, and the back-ends by config name.

A Pi has no battery-backed clock of its own: after a flat battery it boots with the last
saved time. What the kiosk may trust instead is read here: the kernel's RTC, the kernel's
NTP state, gpsd, each returning a ``TimeReading`` (UTC and how far it may be off) or None
when it has nothing trustworthy. HQ's signed time arrives with receipts instead
(appliance.uplink.client). The boot reference is CLOCK_BOOTTIME, which runs on through a
suspend and never steps, whatever is done to the wall clock; with the boot id it lets a
time from a source be carried forward, and lets HQ re-anchor a run of crossings later.
Back-ends ("system", "simulated") are registered by dotted path, as in ``appliance.hw``.
"""

from __future__ import annotations

import importlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from appliance.config.time import TimeSection
from appliance.errors import DeviceError

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")

# back-end name ([time] backend) -> source name -> "module:Class"
BACKENDS: dict[str, dict[str, str]] = {
    "system": {
        "ntp": "appliance.hw.timesource_system:AdjtimexNtpSource",
        "rtc": "appliance.hw.timesource_system:SysfsRtcSource",
        "gps": "appliance.hw.timesource_system:GpsdSource",
    },
    "simulated": {
        "ntp": "appliance.hw.timesource_simulated:SimulatedNtpSource",
        "rtc": "appliance.hw.timesource_simulated:SimulatedRtcSource",
        "gps": "appliance.hw.timesource_simulated:SimulatedGpsSource",
    },
}
# Sources read on demand; "hq" is pushed by receipts and has no back-end.
POLLED = ("ntp", "rtc", "gps")


@dataclass(frozen=True)
class TimeReading:
    source: str
    utc: datetime
    uncertainty_s: float


class TimeSource(ABC):
    """One source of the time. ``read`` never raises: a source that fails has nothing to say."""

    name: str = ""
    # A source that is itself the system clock (NTP disciplines it): its reading is the wall clock.
    disciplines_system_clock = False

    @classmethod
    @abstractmethod
    def from_config(cls, section: TimeSection) -> TimeSource: ...

    @abstractmethod
    def read(self, wall: datetime) -> TimeReading | None:
        """The source's time now (``wall`` is the system clock's, for sources that vouch for it), or None."""


def boot_id(section: TimeSection | None = None) -> str:
    """This boot's id: the simulated board's when ``section`` sets one, else the kernel's random
    boot_id; "" when the kernel does not expose it."""
    if section is not None and section.backend == "simulated" and section.simulated.boot_id:
        return section.simulated.boot_id
    try:
        return BOOT_ID_PATH.read_text().strip()
    except OSError:
        return ""


def boot_seconds() -> float:
    """Seconds since boot on a clock that never steps and runs through a suspend."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def open_sources(section: TimeSection, kinds: tuple[str, ...] = POLLED) -> list[TimeSource]:
    """The configured polled sources of ``kinds``, best first. Raises DeviceError for a back-end that cannot load."""
    known = BACKENDS[section.backend]
    sources: list[TimeSource] = []
    for name in section.sources:
        if name not in kinds or name not in known:
            continue
        module_name, _, class_name = known[name].partition(":")
        try:
            cls: type[TimeSource] = getattr(importlib.import_module(module_name), class_name)
        except ImportError as exc:
            raise DeviceError(f"time source {name!r} of back-end {section.backend!r} cannot be loaded: {exc}") from exc
        sources.append(cls.from_config(section))
    return sources
