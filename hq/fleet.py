"""The fleet view: one row per enrolled kiosk, from its last status and health messages."""

from __future__ import annotations

from typing import Any

from appliance.domain import clock
from hq.db import HQDatabase


def fleet_rows(db: HQDatabase, silent_after_s: int) -> list[dict[str, Any]]:
    """Each kiosk's presence and vital signs; 'silent' when online but quiet too long."""
    now = clock.utcnow()
    rows = []
    for kiosk in db.fleet():
        health = kiosk["health"] or {}
        seen = kiosk["last_seen"]
        quiet_s = int((now - clock.parse_iso(seen)).total_seconds()) if seen else None
        state = kiosk["state"]
        if state == "online" and quiet_s is not None and quiet_s > silent_after_s:
            state = "silent"
        list_ages = [info["age_s"] for info in (health.get("lists") or {}).values()
                     if isinstance(info, dict) and info.get("age_s") is not None]
        rows.append({
            "post_id": kiosk["post_id"],
            "kiosk_id": kiosk["kiosk_id"],
            "state": state,
            "online": state == "online",
            "last_seen": seen,
            "version": kiosk["version"],
            "battery_percent": health.get("battery_percent"),
            "charging": health.get("charging"),
            "outbox_depth": health.get("outbox_depth"),
            "pending_crossings": health.get("pending_crossings"),
            "oldest_unsent_age_s": health.get("oldest_unsent_age_s"),
            "list_age_s": max(list_ages) if list_ages else None,
            "lists": kiosk["lists"],
            "health_at": kiosk["health_at"],
            "rejected_messages": kiosk["rejected"],
            "audit_head": health.get("audit_head"),
            "audit_alarm": db.audit_alarm(kiosk["post_id"], kiosk["kiosk_id"]),
        })
    return rows


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def render_table(rows: list[dict[str, Any]]) -> str:
    headers = ["post", "kiosk", "state", "last seen", "battery", "outbox", "list age", "version", "audit"]
    body = []
    for row in rows:
        battery = "-" if row["battery_percent"] is None else f"{row['battery_percent']:.0f}%" + (
            "+" if row["charging"] else "")
        body.append([row["post_id"], row["kiosk_id"], row["state"], row["last_seen"] or "never",
                     battery, "-" if row["outbox_depth"] is None else str(row["outbox_depth"]),
                     _age(row["list_age_s"]), row["version"] or "-",
                     "ALARM: " + row["audit_alarm"] if row["audit_alarm"] else "ok"])
    if not body:
        return "no kiosks enrolled (kiosk-hq enrol POST KIOSK KEY)"
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *body)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in body]
    return "\n".join(lines)
