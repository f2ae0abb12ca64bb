"""HQ counts the purpose of travel the kiosks send with each crossing (hq.records' statistics)."""

from __future__ import annotations

from appliance.domain import clock


def test_hq_statistics_count_the_purpose():
    from hq.db import HQDatabase
    from hq import records

    today = clock.utcnow().date()
    with HQDatabase("sqlite:///:memory:") as db:
        items = []
        for seq, purpose in enumerate(["work", "work", None], start=1):
            record = {"id": f"c-{seq}", "seq": seq, "post_id": "POST-T", "kiosk_id": "K9", "direction": "entry",
                      "recorded_at": clock.iso(clock.utcnow()), "decision": "cleared", "nationality": "UTO",
                      "sex": "F", "birth_date": "1990-01-01", "training": False}
            if purpose:
                record["purpose"] = purpose
            items.append({"kind": "crossing", "id": f"c-{seq}", "seq": seq, "data": record})
        db.store_items("POST-T", "K9", items)
        table = records.statistics(db, today, today)["purpose"]
    assert {row["key"]: row["total"] for row in table} == {"work": 2, "unknown": 1}
