"""The lists in force, as officers, telemetry and screening see them: version, age, staleness."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from appliance.domain import clock
from appliance.storage.store import Store


def age_text(seconds: int) -> str:
    """A list age as an officer reads it: "45s", "12m", "3h 05m", "2d 04h"."""
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours < 1:
        return f"{minutes}m"
    if days < 1:
        return f"{hours}h {minutes % 60:02d}m"
    return f"{days}d {hours % 24:02d}h"


DEFAULT_MAX_AGE_HOURS = 14 * 24  # the config's default (screening.max_list_age_hours)


def list_status(store: Store, now: datetime | None = None,
                max_age_hours: float = DEFAULT_MAX_AGE_HOURS) -> list[dict[str, Any]]:
    """Every list in force, by name: kind, version, imported_at, published_at, age (seconds and
    text), stale, entries, sha256, source ('csv' import or signed 'bundle') and face_model
    (SHA-256 of the embedder that made a persons list's faces; None without faces or when
    the bundle did not say).

    The age counts from HQ's publication when the list came in a bundle (a bundle that
    waited a week on a USB stick is a week old), else from the import.
    """
    now = now or clock.utcnow()
    with store.lock:
        rows = store.conn.execute(
            "SELECT name, kind, version, imported_at, published_at, entries, source_sha256, source, face_model "
            "FROM lists ORDER BY name"
        ).fetchall()
    status = []
    for name, kind, version, imported_at, published_at, entries, sha256, source, face_model in rows:
        age = int((now - clock.parse_iso(published_at or imported_at)).total_seconds())
        status.append({"name": name, "kind": kind, "version": version, "imported_at": imported_at,
                       "published_at": published_at, "age_seconds": age, "age": age_text(age),
                       "stale": age > max_age_hours * 3600, "entries": entries, "sha256": sha256,
                       "source": source, "face_model": face_model})
    return status
