"""Retention: personal data of crossings HQ has receipted is removed after the configured days, statistics kept.

Two stages ([retention] in the config): first the biometrics (captures: face photos,
fingerprint templates; the face box in the screening record), then the identity (MRZ,
names, document and visa numbers, expiry date, notes, the hits' explanations). What the
statistics count stays: time, direction, nationality, sex, decision, outcome, purpose;
the date of birth is cut to the year (or year and month) whose age band, on the day of
the crossing, is the full date's, so ``stats.daily`` gives the same counts after a purge.

Only crossings HQ holds are purged: no outbox row of the crossing, nor of any of its
captures, is still waiting for a receipt (the kiosk's copy may be the only one until
then). Training crossings are never sent to HQ, so never receipted, and are not purged.
Each batch is one transaction with its audit entry naming the crossings purged.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from appliance.config import Config
from appliance.domain import clock
from appliance.storage import audit
from appliance.storage.store import Store
from appliance.workflow.stats import age_band

BATCH = 500
STAGES = ("biometrics", "personal_data")
IDENTITY_COLUMNS = ("mrz", "document_number", "surname", "given_names", "expiry_date", "visa_number")

# Receipted by HQ: nothing of the crossing (its record, outcome, alert or any capture) waits in the outbox.
_RECEIPTED = """
    c.training = 0
    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.ref_id = c.id)
    AND NOT EXISTS (SELECT 1 FROM outbox o JOIN captures k ON o.ref_id = k.id WHERE k.crossing_id = c.id)
"""
_HAS_BIOMETRICS = "(EXISTS (SELECT 1 FROM captures k WHERE k.crossing_id = c.id) OR c.screening LIKE '%\"face_box\"%')"
_HAS_IDENTITY = "(" + " OR ".join(f"c.{column} IS NOT NULL" for column in IDENTITY_COLUMNS) + ")"


def _cutoff(days: int | None, now: datetime) -> str | None:
    return clock.iso(now - timedelta(days=days)) if days is not None else None


def _due(store: Store, stage: str, cutoff: str, limit: int) -> list[dict[str, Any]]:
    condition = _HAS_BIOMETRICS if stage == "biometrics" else f"({_HAS_IDENTITY} OR {_HAS_BIOMETRICS})"
    with store.lock:
        return list(store.db.query(
            f"SELECT c.* FROM crossings c WHERE c.recorded_at < ? AND {_RECEIPTED} AND {condition}"
            " ORDER BY c.seq LIMIT ?", [cutoff, limit]))


def coarse_birth_date(birth_date: str | None, on: date) -> str | None:
    """The least precise form of ``birth_date`` (year, year-month, or the date) in the same age band on ``on``."""
    if not birth_date:
        return birth_date
    band = age_band(birth_date, on)
    for candidate in (birth_date[:4], birth_date[:7]):
        if len(candidate) < len(birth_date) and age_band(candidate, on) == band:
            return candidate
    return birth_date


def _without_face_box(screening: dict[str, Any]) -> dict[str, Any]:
    face = screening.get("face")
    if isinstance(face, dict):
        screening["face"] = {key: value for key, value in face.items() if key not in ("face_box", "detector_score")}
    return screening


def _anonymous_hits(screening: dict[str, Any]) -> dict[str, Any]:
    # Which list entry was hit, and how strongly, stays; why (names, numbers compared) goes.
    screening["hits"] = [{**hit, "explanation": "", "reasons": []} for hit in screening.get("hits") or []]
    return screening


def _purge_biometrics(store: Store, rows: list[dict[str, Any]]) -> int:
    captures = 0
    for row in rows:
        captures += store.conn.execute("DELETE FROM captures WHERE crossing_id = ?", (row["id"],)).rowcount
        screening = _without_face_box(json.loads(row["screening"]))
        store.conn.execute("UPDATE crossings SET screening = ? WHERE id = ?", (json.dumps(screening), row["id"]))
    return captures


def _purge_identity(store: Store, rows: list[dict[str, Any]], zone: ZoneInfo) -> None:
    for row in rows:
        day = clock.parse_iso(row["recorded_at"]).astimezone(zone).date()
        screening = _anonymous_hits(_without_face_box(json.loads(row["screening"])))
        store.conn.execute(
            "UPDATE crossings SET " + ", ".join(f"{column} = NULL" for column in IDENTITY_COLUMNS)
            + ", birth_date = ?, note = '', outcome_note = CASE WHEN outcome_note IS NULL THEN NULL ELSE '' END,"
            " screening = ? WHERE id = ?",
            (coarse_birth_date(row["birth_date"], day), json.dumps(screening), row["id"]))


def purge(store: Store, config: Config, now: datetime | None = None, actor: str = "system",
          dry_run: bool = False) -> dict[str, int]:
    """Apply the retention policy now; returns {"biometrics": crossings, "captures": n, "personal_data": crossings}.

    With ``dry_run`` nothing changes and the counts say what would go. Each batch of up to
    ``BATCH`` crossings is one transaction with one audit entry (``retention.biometrics``
    or ``retention.personal_data``) naming the crossings, so a power cut leaves each batch
    done or not done.
    """
    now = now or clock.utcnow()
    section = config.retention
    zone = ZoneInfo(config.kiosk.timezone)
    done = {"biometrics": 0, "captures": 0, "personal_data": 0}
    for stage, days in (("biometrics", section.biometrics_days), ("personal_data", section.personal_data_days)):
        cutoff = _cutoff(days, now)
        if cutoff is None:
            continue
        if dry_run:
            due = _due(store, stage, cutoff, 10**9)
            done[stage] = len(due)
            if stage == "biometrics":
                with store.lock:
                    done["captures"] = sum(store.conn.execute(
                        "SELECT COUNT(*) FROM captures WHERE crossing_id = ?", (row["id"],)).fetchone()[0] for row in due)
            continue
        while True:
            with store.transaction():
                rows = _due(store, stage, cutoff, BATCH)
                if not rows:
                    break
                captures = _purge_biometrics(store, rows)
                if stage == "personal_data":
                    _purge_identity(store, rows, zone)
                audit.append(store, actor, f"retention.{stage}", "", {
                    "crossings": [row["id"] for row in rows], "captures": captures, "older_than_days": days,
                    "recorded_before": cutoff})
            done[stage] += len(rows)
            done["captures"] += captures
    return done
