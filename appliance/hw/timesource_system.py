"""The board's own time sources: the kernel's RTC through sysfs, the kernel's NTP state, gpsd."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import socket
from datetime import datetime, timezone
from pathlib import Path

from appliance.config.time import TimeSection
from appliance.hw.timesource import TimeReading, TimeSource

log = logging.getLogger(__name__)

TIME_ERROR = 5  # adjtimex's return value for an unsynchronised clock
STA_UNSYNC = 0x0040
GPSD_TIMEOUT_S = 2.0


class _Timex(ctypes.Structure):
    # struct timex of <sys/timex.h>; ctypes lays it out with the platform's alignment (arm64 as x86-64).
    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


class AdjtimexNtpSource(TimeSource):
    """NTP or chrony, whichever runs: both tell the kernel when the clock is synchronised,
    and adjtimex(2) with no modes reads that (and the maximum error) without privileges."""

    name = "ntp"
    disciplines_system_clock = True

    _libc: ctypes.CDLL | None = None

    def __init__(self) -> None:
        # find_library runs ldconfig: once per process, not once per crossing.
        if AdjtimexNtpSource._libc is None:
            AdjtimexNtpSource._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.libc = AdjtimexNtpSource._libc

    @classmethod
    def from_config(cls, section: TimeSection) -> AdjtimexNtpSource:
        return cls()

    def read(self, wall: datetime) -> TimeReading | None:
        timex = _Timex()
        state = self.libc.adjtimex(ctypes.byref(timex))
        if state < 0 or state == TIME_ERROR or timex.status & STA_UNSYNC:
            return None
        return TimeReading(self.name, wall, timex.maxerror / 1e6)


class SysfsRtcSource(TimeSource):
    """A hardware RTC (DS3231, PCF85063, the Pi 5's own) through the kernel's rtc class: whole seconds."""

    name = "rtc"

    def __init__(self, path: Path, uncertainty_s: float) -> None:
        self.path = path
        self.uncertainty_s = uncertainty_s

    @classmethod
    def from_config(cls, section: TimeSection) -> SysfsRtcSource:
        return cls(section.rtc_path, section.rtc_uncertainty_s)

    def read(self, wall: datetime) -> TimeReading | None:
        try:
            seconds = int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None  # no RTC, or a driver that lost the time (it then refuses the read)
        return TimeReading(self.name, datetime.fromtimestamp(seconds, timezone.utc), self.uncertainty_s)


class GpsdSource(TimeSource):
    """GPS time from gpsd's JSON protocol: the first TPV report with a fix and a time."""

    name = "gps"

    def __init__(self, host: str, port: int, uncertainty_s: float) -> None:
        self.host, self.port, self.uncertainty_s = host, port, uncertainty_s

    @classmethod
    def from_config(cls, section: TimeSection) -> GpsdSource:
        return cls(section.gpsd_host, section.gpsd_port, section.gps_uncertainty_s)

    def read(self, wall: datetime) -> TimeReading | None:
        try:
            with socket.create_connection((self.host, self.port), timeout=GPSD_TIMEOUT_S) as conn:
                conn.sendall(b'?WATCH={"enable":true,"json":true}\n')
                stream = conn.makefile("r", encoding="utf-8", errors="replace")
                for _ in range(20):
                    line = stream.readline()
                    if not line:
                        return None
                    reading = self._tpv(line)
                    if reading is not None:
                        return reading
        except OSError:
            return None
        return None

    def _tpv(self, line: str) -> TimeReading | None:
        try:
            report = json.loads(line)
        except ValueError:
            return None
        if not isinstance(report, dict) or report.get("class") != "TPV" or int(report.get("mode") or 0) < 2:
            return None
        try:
            at = datetime.strptime(str(report["time"]).rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f")
        except (KeyError, ValueError):
            return None
        # gpsd's own error estimate of the time, when it gives one, widens the configured bound.
        extra = float(report.get("ept") or 0.0)
        return TimeReading(self.name, at.replace(tzinfo=timezone.utc), self.uncertainty_s + extra)
