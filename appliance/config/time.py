"""The [time] section: which sources the kiosk trusts for the time, and when a clock jump is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from appliance.config.common import StrictModel

TimeSourceName = Literal["ntp", "rtc", "gps", "hq"]


def _all_sources() -> list[TimeSourceName]:
    return ["ntp", "rtc", "gps", "hq"]


class SimulatedTimeSources(StrictModel):
    """The simulated back-end's sources, each relative to the real time of the machine it runs on."""

    ntp_synchronized: bool = Field(
        default=True, title="NTP synchronised",
        description="Whether the simulated NTP daemon says the system clock is synchronised (then the system "
        "clock is trusted as it is).",
    )
    ntp_maxerror_s: float = Field(default=0.05, ge=0, title="NTP maximum error (s)",
                                  description="The simulated kernel's maximum error of a synchronised clock.")
    rtc_offset_s: float | None = Field(
        default=None, title="RTC offset (s)",
        description="Seconds the simulated RTC is ahead of real time (negative: behind); unset: no RTC fitted.",
    )
    gps_offset_s: float | None = Field(
        default=None, title="GPS offset (s)",
        description="Seconds the simulated GPS fix is ahead of real time; unset: no GPS fix.",
    )
    boot_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$", title="Boot id",
        description="The simulated board's boot id, used instead of the kernel's so a rehearsal can boot the "
        "board again without rebooting the machine; unset: the kernel's.",
    )


class TimeSection(StrictModel):
    backend: Literal["simulated", "system"] = Field(
        default="simulated", title="Time source back-end",
        description="'system' reads the kernel's RTC (sysfs), NTP state (adjtimex) and gpsd; 'simulated' uses "
        "[time.simulated].",
    )
    sources: list[TimeSourceName] = Field(
        default_factory=_all_sources, title="Trusted sources",
        description="Sources whose time the kiosk trusts, best first; 'hq' is the signed time in HQ's receipts. "
        "Leave one out to ignore it.",
    )
    rtc_path: Path = Field(
        default=Path("/sys/class/rtc/rtc0/since_epoch"), title="RTC sysfs file",
        description="The kernel's seconds-since-epoch file of the RTC (DS3231, PCF85063 or the Pi 5's own).",
    )
    rtc_uncertainty_s: float = Field(default=2.0, gt=0, title="RTC uncertainty (s)",
                                     description="How far an RTC reading may be off (whole seconds, drift).")
    gpsd_host: str = Field(default="127.0.0.1", title="gpsd host", description="Host of gpsd's JSON socket.")
    gpsd_port: int = Field(default=2947, ge=1, le=65535, title="gpsd port", description="Port of gpsd's JSON socket.")
    gps_uncertainty_s: float = Field(default=0.5, gt=0, title="GPS uncertainty (s)",
                                     description="How far gpsd's TPV time may be off without a PPS line.")
    hq_uncertainty_s: float = Field(
        default=5.0, gt=0, title="HQ time uncertainty (s)",
        description="How far HQ's signed time in a receipt may be from the moment the kiosk reads it (transit).",
    )
    supervisor_uncertainty_s: float = Field(
        default=60.0, gt=0, title="Supervisor's time uncertainty (s)",
        description="How far a time set by a supervisor from a watch or phone may be off.",
    )
    drift_ppm: float = Field(
        default=50.0, ge=0, le=1000, title="Board clock drift (ppm)",
        description="How fast the board's own oscillator may drift; the uncertainty of a time carried forward "
        "from a source grows by this much.",
    )
    tolerance_s: float = Field(
        default=2.0, gt=0, title="Backwards tolerance (s)",
        description="A clock step backwards larger than this is a jump (audited).",
    )
    max_forward_jump_s: float = Field(
        default=120.0, gt=0, title="Forward jump bound (s)",
        description="A clock step forwards larger than this while the kiosk runs is a jump (audited).",
    )
    check_interval_s: float = Field(
        default=30.0, gt=0, le=3600, title="Check interval (s)",
        description="How often the service compares the clock with the last time it saw and reads the sources.",
    )
    simulated: SimulatedTimeSources = Field(
        default_factory=SimulatedTimeSources, title="Simulated sources",
        description="Settings of the simulated back-end.",
    )
