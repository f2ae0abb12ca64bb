"""HQ's health history (raw, then hourly), kiosk log and ingest counters, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from appliance.domain import clock
from hq import counters, history

from .test_hq import hq_db  # noqa: F401  (SQLite and a throw-away PostgreSQL database)


def _health(db, at, battery, outbox=0, lists=None):
    history.record_health(db, "P", "K", {"battery_percent": battery, "charging": False, "outbox_depth": outbox,
                                         "cpu_temp_c": 50.0, "lists": lists or {}}, clock.iso(at))


def test_samples_are_kept_raw_then_folded_hourly_then_dropped(hq_db):
    now = clock.utcnow().replace(minute=30, second=0, microsecond=0)
    old_hour = now - timedelta(days=10)
    for minute, battery in ((0, 80.0), (10, 70.0), (20, 60.0)):
        _health(hq_db, old_hour.replace(minute=minute), battery, outbox=minute)
    _health(hq_db, old_hour.replace(minute=20), 10.0)  # the same message delivered again: not a sample
    _health(hq_db, now - timedelta(hours=1), 55.0)
    _health(hq_db, now - timedelta(days=500), 99.0)
    assert len(history.series(hq_db, "P", "K", now - timedelta(days=11))) == 4

    result = history.compact(hq_db, now=now, raw_days=7, keep_days=400)
    assert result["hours"] == 2 and result["folded"] == 4 and result["dropped"] == 1
    rows = history.series(hq_db, "P", "K", now - timedelta(days=11))
    assert [(r["resolution"], r["samples"], r["battery"]) for r in rows] == [("hour", 3, 70.0), ("raw", 1, 55.0)]
    assert rows[0]["at"] == clock.iso(old_hour.replace(minute=0)) and rows[0]["outbox"] == 10.0

    # A late sample for an hour already folded is merged into it, weighted by the samples.
    _health(hq_db, old_hour.replace(minute=40), 30.0)
    history.compact(hq_db, now=now)
    [hour] = [r for r in history.series(hq_db, "P", "K", now - timedelta(days=11)) if r["resolution"] == "hour"]
    assert hour["samples"] == 4 and hour["battery"] == 60.0
    assert history.compact(hq_db, now=now) == {"folded": 0, "hours": 0, "dropped": 0}


def test_log_has_uplink_changes_reboots_and_list_changes(hq_db):
    start = clock.utcnow() - timedelta(hours=3)

    def status(minutes, state, boot):
        history.record_status(hq_db, "P", "K", {"state": state, "boot_id": boot, "version": "0.1.0"},
                              clock.iso(start + timedelta(minutes=minutes)))

    status(0, "online", "b1")
    _health(hq_db, start + timedelta(minutes=1), 90.0, lists={"persons": {"version": "v1", "age_s": 5}})
    _health(hq_db, start + timedelta(minutes=2), 90.0, lists={"persons": {"version": "v1", "age_s": 65}})
    status(30, "offline", "b1")
    status(60, "online", "b2")
    _health(hq_db, start + timedelta(minutes=61), 90.0, lists={"persons": {"version": "v2", "age_s": 5}})
    kinds = [line["kind"] for line in history.log(hq_db, "P", "K", start - timedelta(hours=1))]
    assert kinds == ["lists", "reboot", "online", "offline", "lists", "online"]
    spans = history.uplink_spans(hq_db, "P", "K", start - timedelta(minutes=10))
    assert [up for _, _, up in spans] == [None, True, False, True]


def test_a_list_refusal_the_kiosk_reports_is_logged_once(hq_db):
    start = clock.utcnow() - timedelta(hours=1)

    def health(minutes, error):
        history.record_health(hq_db, "P", "K", {"battery_percent": 80.0, "lists": {},
                                                "last_list_error": error}, clock.iso(start + timedelta(minutes=minutes)))

    refusal = "persons v9: the bundle's signature does not verify with HQ's key"
    health(0, None)
    health(1, refusal)
    health(2, refusal)  # every health repeats the last refusal until a bundle applies
    health(3, "persons v10: deferred until the battery recovers")
    log = history.log(hq_db, "P", "K", start - timedelta(minutes=5))
    refused = [line["detail"]["error"] for line in log if line["kind"] == "list_refused"]
    assert sorted(refused) == sorted([refusal, "persons v10: deferred until the battery recovers"])


def test_ingest_counters_add_up_over_workers_and_survive_a_restart(hq_db):
    first = counters.Counts(hq_db, "worker-a")
    first.add("messages", "crossings", 3)
    first.add("rejected", "health")
    first.flush()
    counters.Counts(hq_db, "worker-b").add("messages", "crossings")
    again = counters.Counts(hq_db, "worker-a")  # restarted with the same client id
    again.add("messages", "crossings")
    again.flush()
    stored = {(c["worker"], c["name"], c["topic"]): c["value"] for c in counters.totals(hq_db)}
    assert stored == {("worker-a", "messages", "crossings"): 4, ("worker-a", "rejected", "health"): 1}
