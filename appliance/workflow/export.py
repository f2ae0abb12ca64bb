"""Exports of crossings with their personal data: for a supervisor only, and each one audited.

The statistics (``stats``) are for everyone; a list of travellers leaving the kiosk is not.
An export is refused to any other role (Forbidden), and the audit entry, committed before
the rows are handed over, says who exported which days and how many crossings.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

from appliance.domain import clock
from appliance.errors import WorkflowError
from appliance.storage import audit
from appliance.storage.officers import Officer, require_role
from appliance.storage.store import Store
from appliance.workflow import crossings

FORMATS = ("csv", "json")
MAX_DAYS = 366
# The columns of the CSV, in order: the record as stored, nested parts as JSON text.
CSV_FIELDS = ("id", "seq", "post_id", "kiosk_id", "officer_id", "direction", "recorded_at", "training",
              "document_source", "document_code", "issuing_state", "document_number", "surname", "given_names",
              "nationality", "birth_date", "sex", "expiry_date", "decision", "outcome", "outcome_by", "outcome_at",
              "note", "screening")


def export_crossings(store: Store, officer: Officer, first: date, last: date, zone: str,
                     fmt: str = "json") -> list[dict[str, Any]]:
    """Crossings of the post-local days ``first``..``last``, oldest first, for a supervisor; audited.

    Raises Forbidden for any other role, WorkflowError for a reversed range, a range over
    ``MAX_DAYS`` or an unknown format; nothing is audited then.
    """
    require_role(officer, "supervisor")
    if fmt not in FORMATS:
        raise WorkflowError(f"export format {fmt!r} is not one of {', '.join(FORMATS)}")
    if last < first:
        raise WorkflowError(f"export range ends ({last}) before it starts ({first})")
    if (last - first).days + 1 > MAX_DAYS:
        raise WorkflowError(f"export range {first}..{last} is longer than {MAX_DAYS} days: export it in parts")
    since, until = clock.day_bounds(first, zone, last)
    items = [item.to_dict() for item in reversed(crossings.list_crossings(store, since=since, until=until,
                                                                          limit=10**9))]
    audit.record(store, officer.id, "crossings.export", "", {
        "from": first.isoformat(), "to": last.isoformat(), "count": len(items), "format": fmt})
    return items


def to_csv(items: list[dict[str, Any]]) -> str:
    """The exported crossings as CSV (header row; ``screening`` as JSON text)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow({**item, "screening": json.dumps(item.get("screening"), sort_keys=True)})
    return out.getvalue()
