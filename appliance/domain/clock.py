"""Time, in one place, so tests can move it and every record uses the same format.

A rehearsal runs whole processes on a shifted calendar: ``KIOSK_CLOCK_OFFSET_S`` (seconds,
may be negative) is added to the machine's clock by every reading here, in the kiosk and in
HQ alike. ``kiosk bench soak`` plays a month at a post with it: each simulated day is a
process started on that day's date, and a board whose clock restarted from the last saved
time is a kiosk whose offset lags the truth. Unset, the clock is the machine's.
"""

from __future__ import annotations

import math
import os
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from appliance.errors import ConfigError

OFFSET_VARIABLE = "KIOSK_CLOCK_OFFSET_S"
# Read once, on the first reading of the clock: a process keeps its calendar for its life.
_offset: timedelta | None = None


def _environment_offset() -> timedelta:
    text = os.environ.get(OFFSET_VARIABLE, "").strip()
    if not text:
        return timedelta(0)
    try:
        seconds = float(text)
    except ValueError:
        raise ConfigError(f"{OFFSET_VARIABLE}={text!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or abs(seconds) > 100 * 365 * 86400:
        raise ConfigError(f"{OFFSET_VARIABLE}={text!r} is not within a hundred years")
    return timedelta(seconds=seconds)


def offset() -> timedelta:
    """How far this process's calendar is from the machine's clock (``KIOSK_CLOCK_OFFSET_S``).
    Raises ConfigError for a value that is not a number of seconds within a hundred years."""
    global _offset
    if _offset is None:
        _offset = _environment_offset()
    return _offset


def utcnow() -> datetime:
    return datetime.now(timezone.utc) + offset()


def iso(moment: datetime) -> str:
    """UTC timestamp as stored in every table: 2026-11-23T19:03:00.123456Z (sorts as text)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def local_today(zone: str) -> date:
    """Today's date at the post (statistics and lists are cut into the post's local days)."""
    return utcnow().astimezone(ZoneInfo(zone)).date()


def day_bounds(first: date, zone: str, last: date | None = None) -> tuple[str, str]:
    """[since, until) as stored UTC timestamps covering post-local days ``first``..``last``."""
    tz = ZoneInfo(zone)
    end = (last or first) + timedelta(days=1)
    return iso(datetime.combine(first, time.min, tz)), iso(datetime.combine(end, time.min, tz))
