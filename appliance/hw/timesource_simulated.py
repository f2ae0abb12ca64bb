"""Simulated time sources: each reads the machine's real time shifted by [time.simulated], so a test can
move the kiosk's clock (appliance.domain.clock) and keep a source that knows better."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from appliance.config.time import TimeSection
from appliance.hw.timesource import TimeReading, TimeSource


def _real_now() -> datetime:
    # Deliberately not appliance.domain.clock: the simulated source must not follow a moved system clock.
    return datetime.now(timezone.utc)


class SimulatedNtpSource(TimeSource):
    name = "ntp"
    disciplines_system_clock = True

    def __init__(self, synchronized: bool, maxerror_s: float) -> None:
        self.synchronized, self.maxerror_s = synchronized, maxerror_s

    @classmethod
    def from_config(cls, section: TimeSection) -> SimulatedNtpSource:
        return cls(section.simulated.ntp_synchronized, section.simulated.ntp_maxerror_s)

    def read(self, wall: datetime) -> TimeReading | None:
        return TimeReading(self.name, wall, self.maxerror_s) if self.synchronized else None


class _Offset(TimeSource):
    def __init__(self, offset_s: float | None, uncertainty_s: float) -> None:
        self.offset_s, self.uncertainty_s = offset_s, uncertainty_s

    def read(self, wall: datetime) -> TimeReading | None:
        if self.offset_s is None:
            return None
        return TimeReading(self.name, _real_now() + timedelta(seconds=self.offset_s), self.uncertainty_s)


class SimulatedRtcSource(_Offset):
    name = "rtc"

    @classmethod
    def from_config(cls, section: TimeSection) -> SimulatedRtcSource:
        return cls(section.simulated.rtc_offset_s, section.rtc_uncertainty_s)


class SimulatedGpsSource(_Offset):
    name = "gps"

    @classmethod
    def from_config(cls, section: TimeSection) -> SimulatedGpsSource:
        return cls(section.simulated.gps_offset_s, section.gps_uncertainty_s)
