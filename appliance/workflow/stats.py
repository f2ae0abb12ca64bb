"""The post's statistics: crossings per local day by direction, nationality, sex, age band, decision."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from appliance.domain import clock
from appliance.domain.dates import parse_partial_date
from appliance.errors import WorkflowError
from appliance.storage.store import Store

# Bands used in IOM/MIDAS-style border statistics; "unknown" when no birth date was read.
# A partial birth date (year, or year and month) is counted too: see age_band.
AGE_BANDS = ((0, 17, "0-17"), (18, 29, "18-29"), (30, 44, "30-44"), (45, 59, "45-59"), (60, 200, "60+"))
MAX_DAYS = 366


def age_band(birth_date: str | None, on: date) -> str:
    """The age band on ``on`` of a birth date ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``.

    "unknown" when there is no birth date, or one that cannot be read: one odd row must
    not stop a day's statistics. Never raises.
    """
    if not birth_date:
        return "unknown"
    try:
        year, month, day = parse_partial_date(birth_date)
    except ValueError:
        return "unknown"
    # A partial date (typed from a document that shows only the year, or year and month)
    # is taken at the middle of the span it leaves open: 1 July for a year, the 15th for
    # a month. The age is then off by at most six months (half a month when the month is
    # known), so the band is right except for a traveller within that of a band's edge.
    if month is None:
        month, day = 7, 1
    elif day is None:
        day = 15
    age = on.year - year - ((on.month, on.day) < (month, day))
    for low, high, label in AGE_BANDS:
        if low <= age <= high:
            return label
    return "unknown"


def daily(store: Store, first: date, last: date, zone: str = "UTC", training: bool = False) -> list[dict[str, Any]]:
    """One entry per local day from ``first`` to ``last`` inclusive (days without crossings too).

    Raises WorkflowError if the range is reversed or longer than a year.
    """
    if last < first:
        raise WorkflowError(f"date range is reversed: {first} is after {last}")
    if (last - first).days >= MAX_DAYS:
        raise WorkflowError(f"date range {first}..{last} is longer than {MAX_DAYS} days")
    tz = ZoneInfo(zone)
    since, until = clock.day_bounds(first, zone, last)
    with store.lock:
        rows = list(store.db.query(
            "SELECT recorded_at, direction, nationality, sex, birth_date, decision, outcome, purpose FROM crossings "
            "WHERE recorded_at >= ? AND recorded_at < ? AND training = ?",
            [since, until, int(training)],
        ))
    days: dict[date, dict[str, Counter]] = {}
    for offset in range((last - first).days + 1):
        days[first + timedelta(days=offset)] = {
            key: Counter() for key in ("direction", "nationality", "sex", "age_band", "decision", "purpose")
        }
    for row in rows:
        local_day = clock.parse_iso(row["recorded_at"]).astimezone(tz).date()
        buckets = days[local_day]
        buckets["direction"][row["direction"]] += 1
        buckets["nationality"][row["nationality"] or "unknown"] += 1
        buckets["sex"][row["sex"] or "X"] += 1
        buckets["age_band"][age_band(row["birth_date"], local_day)] += 1
        buckets["decision"][row["outcome"] or row["decision"]] += 1
        # "unknown": recorded where the purpose was not asked (or before it was).
        buckets["purpose"][row["purpose"] or "unknown"] += 1
    return [
        {
            "date": day.isoformat(),
            "total": sum(buckets["direction"].values()),
            "by_direction": {"entry": buckets["direction"]["entry"], "exit": buckets["direction"]["exit"]},
            "by_nationality": dict(buckets["nationality"].most_common()),
            "by_sex": dict(sorted(buckets["sex"].items())),
            "by_age_band": {label: buckets["age_band"][label] for *_, label in AGE_BANDS}
            | ({"unknown": buckets["age_band"]["unknown"]} if buckets["age_band"]["unknown"] else {}),
            "by_decision": dict(sorted(buckets["decision"].items())),
            "by_purpose": dict(buckets["purpose"].most_common()),
        }
        for day, buckets in days.items()
    ]
