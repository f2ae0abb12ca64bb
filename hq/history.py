"""Each kiosk's health as a time series (raw for a week, hourly after) and its log of events.

Every health message becomes one raw sample keyed by the kiosk's own ``sent_at``, so a
retained message delivered again (an ingest worker reconnecting) is not a second sample.
``compact`` folds raw samples older than ``raw_days`` into one row per hour (averages
weighted by the samples they stand for) and drops what is older than ``keep_days``: a
fleet of hundreds of kiosks keeps a year of history in a few hundred thousand rows.

The log holds what the charts cannot show: the uplink going up and down (status
messages), reboots (a new boot id), list versions changing (what the kiosk reports after
applying a list or refusing one), with the kiosk's time of each.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from appliance.domain import clock
from hq.db import HQDatabase

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS health_samples (
        post_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, resolution TEXT NOT NULL, at TEXT NOT NULL,
        samples INTEGER NOT NULL, battery DOUBLE PRECISION, charging DOUBLE PRECISION, solar DOUBLE PRECISION,
        temperature DOUBLE PRECISION, outbox DOUBLE PRECISION, oldest_unsent DOUBLE PRECISION,
        PRIMARY KEY (post_id, kiosk_id, resolution, at))""",
    """CREATE TABLE IF NOT EXISTS kiosk_log (
        post_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL,
        PRIMARY KEY (post_id, kiosk_id, at, kind))""",
)

# Health fields kept, by column; each is a number or a flag in the kiosk's health message.
FIELDS = {"battery": "battery_percent", "charging": "charging", "solar": "solar_w", "temperature": "cpu_temp_c",
          "outbox": "outbox_depth", "oldest_unsent": "oldest_unsent_age_s"}
COLUMNS = tuple(FIELDS)
RAW, HOURLY = "raw", "hour"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    return None


def record_health(db: HQDatabase, post_id: str, kiosk_id: str, payload: dict[str, Any], sent_at: str) -> None:
    """One raw sample, and a log line when the kiosk's list versions changed or a new list refusal came."""
    db.ensure(SCHEMA)
    at = sent_at or clock.iso(clock.utcnow())
    values = [_number(payload.get(field)) for field in FIELDS.values()]
    lists = {name: info.get("version") for name, info in (payload.get("lists") or {}).items()
             if isinstance(info, dict)}
    previous = db.query("SELECT detail FROM kiosk_log WHERE post_id = ? AND kiosk_id = ? AND kind = 'lists'"
                        " ORDER BY at DESC LIMIT 1", (post_id, kiosk_id))
    refusal = payload.get("last_list_error")
    last_refusal = db.query("SELECT detail FROM kiosk_log WHERE post_id = ? AND kiosk_id = ? AND kind = 'list_refused'"
                            " ORDER BY at DESC LIMIT 1", (post_id, kiosk_id))
    with db.transaction():
        db.run(f"INSERT INTO health_samples(post_id, kiosk_id, resolution, at, samples, {', '.join(COLUMNS)})"
               f" VALUES (?, ?, ?, ?, 1, {', '.join('?' * len(COLUMNS))})"
               " ON CONFLICT (post_id, kiosk_id, resolution, at) DO NOTHING",
               (post_id, kiosk_id, RAW, at, *values))
        if lists and (not previous or json.loads(previous[0][0]) != lists):
            _log(db, post_id, kiosk_id, at, "lists", lists)
        # Each health repeats the last refusal until a bundle applies: log it once.
        if isinstance(refusal, str) and refusal and (
                not last_refusal or json.loads(last_refusal[0][0]).get("error") != refusal):
            _log(db, post_id, kiosk_id, at, "list_refused", {"error": refusal})


def record_status(db: HQDatabase, post_id: str, kiosk_id: str, payload: dict[str, Any], sent_at: str) -> None:
    """Log the uplink going up or down, and a reboot when an ``online`` comes with a new boot id."""
    db.ensure(SCHEMA)
    at = sent_at or clock.iso(clock.utcnow())
    state = str(payload.get("state"))
    boot_id = payload.get("boot_id")
    last_online = db.query("SELECT detail FROM kiosk_log WHERE post_id = ? AND kiosk_id = ? AND kind = 'online'"
                           " AND at < ? ORDER BY at DESC LIMIT 1", (post_id, kiosk_id, at))
    with db.transaction():
        _log(db, post_id, kiosk_id, at, state, {"boot_id": boot_id, "version": payload.get("version")})
        if state == "online" and last_online and json.loads(last_online[0][0]).get("boot_id") != boot_id:
            _log(db, post_id, kiosk_id, at, "reboot", {"boot_id": boot_id})


def _log(db: HQDatabase, post_id: str, kiosk_id: str, at: str, kind: str, detail: dict[str, Any]) -> None:
    db.run("INSERT INTO kiosk_log(post_id, kiosk_id, at, kind, detail) VALUES (?, ?, ?, ?, ?)"
           " ON CONFLICT (post_id, kiosk_id, at, kind) DO NOTHING",
           (post_id, kiosk_id, at, kind, json.dumps(detail, sort_keys=True)))


def compact(db: HQDatabase, now: datetime | None = None, raw_days: int = 7, keep_days: int = 400) -> dict[str, int]:
    """Fold raw samples older than ``raw_days`` into hourly rows; drop rows and log older than ``keep_days``.

    The cut is on an hour boundary, so an hour is folded whole. A raw sample that arrives
    late for an hour already folded is merged into that hour's row. Returns the counts.
    """
    db.ensure(SCHEMA)
    now = now or clock.utcnow()
    cut = clock.iso((now - timedelta(days=raw_days)).replace(minute=0, second=0, microsecond=0))
    oldest = clock.iso(now - timedelta(days=keep_days))
    raw = db.query(f"SELECT post_id, kiosk_id, at, samples, {', '.join(COLUMNS)} FROM health_samples"
                   " WHERE resolution = ? AND at < ? ORDER BY post_id, kiosk_id, at", (RAW, cut))
    hours: dict[tuple[str, str, str], list[tuple]] = {}
    for post_id, kiosk_id, at, samples, *values in raw:
        hours.setdefault((post_id, kiosk_id, at[:13] + ":00:00.000000Z"), []).append((samples, *values))
    # Read before the transaction: a read inside it would end it on PostgreSQL (see HQDatabase.query).
    existing = {key: db.query(f"SELECT samples, {', '.join(COLUMNS)} FROM health_samples WHERE post_id = ?"
                              " AND kiosk_id = ? AND resolution = ? AND at = ?", (key[0], key[1], HOURLY, key[2]))
                for key in hours}
    with db.transaction():
        for (post_id, kiosk_id, hour), rows in hours.items():
            merged = _weighted(rows + [tuple(row) for row in existing[(post_id, kiosk_id, hour)]])
            db.run("DELETE FROM health_samples WHERE post_id = ? AND kiosk_id = ? AND resolution = ? AND at = ?",
                   (post_id, kiosk_id, HOURLY, hour))
            db.run(f"INSERT INTO health_samples(post_id, kiosk_id, resolution, at, samples, {', '.join(COLUMNS)})"
                   f" VALUES (?, ?, ?, ?, ?, {', '.join('?' * len(COLUMNS))})",
                   (post_id, kiosk_id, HOURLY, hour, *merged))
        folded = db.run("DELETE FROM health_samples WHERE resolution = ? AND at < ?", (RAW, cut))
        dropped = db.run("DELETE FROM health_samples WHERE at < ?", (oldest,))
        dropped += db.run("DELETE FROM kiosk_log WHERE at < ?", (oldest,))
    return {"folded": folded, "hours": len(hours), "dropped": dropped}


def _weighted(rows: list[tuple]) -> list[Any]:
    """[samples, mean of each column] over rows of (samples, *values); a column nobody reported stays None."""
    total = sum(row[0] for row in rows)
    means: list[Any] = [total]
    for index in range(1, len(COLUMNS) + 1):
        known = [(row[0], row[index]) for row in rows if row[index] is not None]
        weight = sum(count for count, _ in known)
        means.append(sum(count * value for count, value in known) / weight if weight else None)
    return means


def series(db: HQDatabase, post_id: str, kiosk_id: str, since: datetime) -> list[dict[str, Any]]:
    """The kiosk's samples since ``since``, oldest first: hourly rows where raw ones were folded."""
    db.ensure(SCHEMA)
    rows = db.query(f"SELECT at, resolution, samples, {', '.join(COLUMNS)} FROM health_samples"
                    " WHERE post_id = ? AND kiosk_id = ? AND at >= ? ORDER BY at",
                    (post_id, kiosk_id, clock.iso(since)))
    return [{"at": at, "resolution": resolution, "samples": samples, **dict(zip(COLUMNS, values))}
            for at, resolution, samples, *values in rows]


def log(db: HQDatabase, post_id: str, kiosk_id: str, since: datetime, limit: int = 200) -> list[dict[str, Any]]:
    """The kiosk's log lines since ``since``, newest first."""
    db.ensure(SCHEMA)
    rows = db.query("SELECT at, kind, detail FROM kiosk_log WHERE post_id = ? AND kiosk_id = ? AND at >= ?"
                    " ORDER BY at DESC, kind DESC LIMIT ?", (post_id, kiosk_id, clock.iso(since), limit))
    return [{"at": at, "kind": kind, "detail": json.loads(detail)} for at, kind, detail in rows]


def uplink_spans(db: HQDatabase, post_id: str, kiosk_id: str, since: datetime,
                 until: datetime | None = None) -> list[tuple[str, str, bool | None]]:
    """(from, to, up) spans of the uplink since ``since``, from the online/offline lines of the log;
    ``up`` is None before the first line HQ has."""
    db.ensure(SCHEMA)
    start, end = clock.iso(since), clock.iso(until or clock.utcnow())
    before = db.query("SELECT kind FROM kiosk_log WHERE post_id = ? AND kiosk_id = ? AND at < ?"
                      " AND kind IN ('online', 'offline') ORDER BY at DESC LIMIT 1", (post_id, kiosk_id, start))
    changes = db.query("SELECT at, kind FROM kiosk_log WHERE post_id = ? AND kiosk_id = ? AND at >= ?"
                       " AND kind IN ('online', 'offline') ORDER BY at", (post_id, kiosk_id, start))
    spans: list[tuple[str, str, bool | None]] = []
    state: bool | None = before[0][0] == "online" if before else None
    since_at = start
    for at, kind in changes:
        if at > since_at:
            spans.append((since_at, at, state))
        state, since_at = kind == "online", at
    spans.append((since_at, end, state))
    return spans
