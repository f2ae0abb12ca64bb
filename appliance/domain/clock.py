"""Time, in one place, so tests can move it and every record uses the same format."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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
