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
            "state_at": kiosk["state_at"],
            "solar_w": health.get("solar_w"),
            # The data partition against the kiosk's storage budget (ok, warn, thin, full), from its health.
            "storage": health.get("storage") if isinstance(health.get("storage"), dict) else None,
            "list_versions": {name: info.get("version") for name, info in (health.get("lists") or {}).items()
                              if isinstance(info, dict)} or dict(kiosk["lists"] or {}),
        })
        rows[-1]["problems"] = problems(rows[-1])
    return rows


# What makes a kiosk need a look, worst first; the console lists kiosks with problems first.
LOW_BATTERY_PERCENT = 25
STALE_LIST_S = 7 * 86400
OLD_UNSENT_S = 86400


def problems(row: dict[str, Any]) -> list[str]:
    """Problem codes of one fleet row (the console translates them), worst first."""
    found = []
    if row["audit_alarm"]:
        found.append("audit_alarm")
    if row["state"] in ("offline", "silent", "never seen", "unknown"):
        found.append(row["state"].replace(" ", "_"))
    if row["battery_percent"] is not None and row["battery_percent"] < LOW_BATTERY_PERCENT and not row["charging"]:
        found.append("low_battery")
    if (row["oldest_unsent_age_s"] or 0) > OLD_UNSENT_S:
        found.append("old_unsent")
    if (row["list_age_s"] or 0) > STALE_LIST_S:
        found.append("stale_list")
    if row["rejected_messages"]:
        found.append("rejected")
    if row["storage"] and row["storage"].get("level") in ("warn", "thin", "full"):
        found.append("storage_full" if row["storage"]["level"] in ("thin", "full") else "storage_warn")
    return found


def problems_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Kiosks with the most problems first, then by post and kiosk."""
    return sorted(rows, key=lambda row: (-len(row["problems"]), row["post_id"], row["kiosk_id"]))


def list_matrix(db: HQDatabase, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per list: the version in force at HQ (the newest pushed, else the newest any kiosk holds), what HQ
    pushed to whom, and which kiosk holds which version; kiosks holding another version are behind."""
    pushes = db.query("SELECT post_id, kiosk_id, list, version, chunks, pushed_at FROM list_pushes ORDER BY pushed_at")
    names = sorted({name for row in rows for name in row["list_versions"]} | {p[2] for p in pushes})
    lists = []
    for name in names:
        pushed = [{"post_id": p, "kiosk_id": k, "version": v, "chunks": c, "pushed_at": at}
                  for p, k, n, v, c, at in pushes if n == name]
        held = {(row["post_id"], row["kiosk_id"]): row["list_versions"].get(name) for row in rows}
        current = pushed[-1]["version"] if pushed else max((v for v in held.values() if v), default=None)
        kiosks = [{"post_id": post, "kiosk_id": kiosk, "version": version,
                   "pushed": next((p["version"] for p in reversed(pushed)
                                   if (p["post_id"], p["kiosk_id"]) == (post, kiosk)), None),
                   "behind": version != current}
                  for (post, kiosk), version in sorted(held.items())]
        lists.append({"name": name, "current": current, "pushes": pushed[::-1], "kiosks": kiosks,
                      "behind": sum(1 for k in kiosks if k["behind"])})
    return {"lists": lists}


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _storage(storage: dict[str, Any] | None) -> str:
    if not storage or storage.get("percent") is None:
        return "-"
    return f"{storage['percent']:.0f}% {storage.get('level', '')}".strip()


def render_table(rows: list[dict[str, Any]]) -> str:
    headers = ["post", "kiosk", "state", "last seen", "battery", "outbox", "list age", "storage", "version", "audit"]
    body = []
    for row in rows:
        battery = "-" if row["battery_percent"] is None else f"{row['battery_percent']:.0f}%" + (
            "+" if row["charging"] else "")
        body.append([row["post_id"], row["kiosk_id"], row["state"], row["last_seen"] or "never",
                     battery, "-" if row["outbox_depth"] is None else str(row["outbox_depth"]),
                     _age(row["list_age_s"]), _storage(row["storage"]), row["version"] or "-",
                     "ALARM: " + row["audit_alarm"] if row["audit_alarm"] else "ok"])
    if not body:
        return "no kiosks enrolled (kiosk-hq enrol POST KIOSK KEY)"
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *body)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in body]
    return "\n".join(lines)
