"""Retention: personal data of receipted crossings goes after N days (biometrics first), audited, statistics kept."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from appliance import config as config_module
from appliance.domain import clock
from appliance.errors import ConfigError
from appliance.hw import open_devices
from appliance.service.housekeeping import Housekeeping
from appliance.storage import audit
from appliance.uplink import outbox
from appliance.workflow import biometrics, crossings, retention, stats

from .samples import CLEAR_OKAFOR, PERSON_HIT_DOE, import_demo_lists

DAY = timedelta(days=1)


@pytest.fixture
def retention_config(config_path):
    config_path.write_text(config_path.read_text() + "\n[retention]\nbiometrics_days = 30\npersonal_data_days = 90\n")
    return config_module.load(config_path, environ={"KIOSK_SECURITY_BIOMETRIC_KEY": "ab" * 32})


@pytest.fixture
def devices(retention_config):
    opened = open_devices(retention_config.hardware)
    yield opened
    opened.close()


def _record(store, config, officer, devices, mrz=CLEAR_OKAFOR, days_ago=0):
    photo = biometrics.capture_photo(store, config, devices, officer)
    recorded = crossings.record(store, config, officer, crossings.CrossingRequest(
        direction="entry", mrz=mrz, capture_ids=(photo["capture_id"],)))
    crossing_id = recorded.crossing.id
    moved = clock.iso(clock.utcnow() - days_ago * DAY)
    with store.transaction():
        store.conn.execute("UPDATE crossings SET recorded_at = ? WHERE id = ?", (moved, crossing_id))
    return crossing_id


def _receipt(store, crossing_id):
    """HQ's receipt for everything of the crossing, as the uplink applies it."""
    with store.transaction():
        rows = store.conn.execute(
            "SELECT seq, ref_id FROM outbox WHERE ref_id = ? OR ref_id IN (SELECT id FROM captures WHERE crossing_id = ?)",
            (crossing_id, crossing_id)).fetchall()
        outbox.acknowledge(store, rows)


def _row(store, crossing_id):
    cursor = store.conn.execute("SELECT * FROM crossings WHERE id = ?", (crossing_id,))
    names = [column[0] for column in cursor.description]
    return dict(zip(names, cursor.fetchone()))


def _captures(store, crossing_id):
    return store.conn.execute("SELECT COUNT(*) FROM captures WHERE crossing_id = ?", (crossing_id,)).fetchone()[0]


def test_biometrics_then_identity_go_only_once_hq_has_receipted(store, retention_config, officers, devices):
    config = retention_config
    import_demo_lists(store)
    officer = officers.get("alice")
    recent = _record(store, config, officer, devices, days_ago=5)
    month_old = _record(store, config, officer, devices, days_ago=45)
    old_hit = _record(store, config, officer, devices, mrz=PERSON_HIT_DOE, days_ago=120)
    unsent = _record(store, config, officer, devices, days_ago=200)  # HQ never receipted it
    for crossing_id in (recent, month_old, old_hit):
        _receipt(store, crossing_id)
    today = clock.local_today(config.kiosk.timezone)
    before_stats = stats.daily(store, today - timedelta(days=210), today, config.kiosk.timezone)
    before = {crossing_id: _row(store, crossing_id) for crossing_id in (recent, month_old, old_hit, unsent)}

    assert retention.purge(store, config, dry_run=True) == {"biometrics": 2, "captures": 2, "personal_data": 1}
    assert _captures(store, month_old) == 1  # a dry run changes nothing

    assert retention.purge(store, config) == {"biometrics": 2, "captures": 2, "personal_data": 1}
    # Recent: untouched. Unsent: untouched, whatever its age (the kiosk may hold the only copy).
    assert _row(store, recent) == before[recent] and _captures(store, recent) == 1
    assert _row(store, unsent) == before[unsent] and _captures(store, unsent) == 1
    # A month old: the photo is gone, the names stay.
    assert _captures(store, month_old) == 0
    assert _row(store, month_old)["surname"] == before[month_old]["surname"] == "OKAFOR"
    # Four months old: photo, MRZ, names, numbers and the hit's explanation gone; what statistics count stays.
    purged = _row(store, old_hit)
    assert _captures(store, old_hit) == 0
    assert all(purged[column] is None for column in ("mrz", "surname", "given_names", "document_number", "expiry_date"))
    for column in ("direction", "recorded_at", "nationality", "sex", "decision", "seq", "officer_id"):
        assert purged[column] == before[old_hit][column], column
    assert len(purged["birth_date"]) < len(before[old_hit]["birth_date"])
    hits = json.loads(purged["screening"])["hits"]
    assert hits and all(hit["explanation"] == "" and hit["reasons"] == [] for hit in hits)
    assert "DOE" not in purged["screening"] and before[old_hit]["surname"] not in json.dumps(purged)
    # Statistics give the same counts, age bands included.
    assert stats.daily(store, today - timedelta(days=210), today, config.kiosk.timezone) == before_stats
    # Audited: one entry per batch and stage, naming the crossings; the chain still verifies.
    entries = list(store.db.query("SELECT action, details FROM audit WHERE action LIKE 'retention.%' ORDER BY seq"))
    assert [entry["action"] for entry in entries] == ["retention.biometrics", "retention.personal_data"]
    assert set(json.loads(entries[0]["details"])["crossings"]) == {month_old, old_hit}
    assert json.loads(entries[1]["details"])["crossings"] == [old_hit]
    assert audit.verify(store)[1] == []
    # Idempotent: a second run finds nothing and audits nothing.
    assert retention.purge(store, config) == {"biometrics": 0, "captures": 0, "personal_data": 0}
    assert store.conn.execute("SELECT COUNT(*) FROM audit WHERE action LIKE 'retention.%'").fetchone()[0] == 2
    # The purged crossing still reads, lists and shows.
    assert crossings.get(store, old_hit).to_dict()["document_number"] is None


def test_housekeeping_applies_the_policy(store, retention_config, officers, devices):
    crossing_id = _record(store, retention_config, officers.get("alice"), devices, days_ago=100)
    _receipt(store, crossing_id)
    removed = Housekeeping(store, config=retention_config).run_once()
    assert removed["retention_personal_data"] == 1 and _row(store, crossing_id)["surname"] is None


def test_without_a_policy_nothing_is_purged(store, config, officers):
    recorded = crossings.record(store, config, officers.get("alice"),
                                crossings.CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR))
    _receipt(store, recorded.crossing.id)
    assert retention.purge(store, config, now=clock.utcnow() + 3650 * DAY) == {
        "biometrics": 0, "captures": 0, "personal_data": 0}


def test_cli_purge_reports_what_went(run_cli, config_path, store, officers):
    config_path.write_text(config_path.read_text() + "\n[retention]\npersonal_data_days = 1\n")
    config = config_module.load(config_path, environ={})
    recorded = crossings.record(store, config, officers.get("alice"),
                                crossings.CrossingRequest(direction="exit", mrz=CLEAR_OKAFOR))
    _receipt(store, recorded.crossing.id)
    with store.transaction():
        store.conn.execute("UPDATE crossings SET recorded_at = ?", (clock.iso(clock.utcnow() - 3 * DAY),))
    dry = run_cli("retention", "purge", "--dry-run", "--json")
    assert dry.exit_code == 0 and json.loads(dry.output)["personal_data"] == 1
    assert _row(store, recorded.crossing.id)["surname"] == "OKAFOR"
    done = run_cli("retention", "purge")
    assert done.exit_code == 0 and "1 crossing(s)" in done.output
    assert _row(store, recorded.crossing.id)["surname"] is None


@pytest.mark.parametrize("text, fragment", [
    ("biometrics_days = 100\npersonal_data_days = 30\n", "must not be more than"),
    ("personal_data_days = 0\n", "retention.personal_data_days"),
    ("keep_forever = true\n", "unknown key 'retention.keep_forever'"),
])
def test_a_bad_policy_is_a_config_error(config_path, text, fragment):
    config_path.write_text(config_path.read_text() + "\n[retention]\n" + text)
    with pytest.raises(ConfigError, match=fragment):
        config_module.load(config_path, environ={})


@pytest.mark.parametrize("birth, on, expected", [
    ("1980-05-31", date(2026, 3, 1), "1980"),     # 45 either way
    ("2008-02-10", date(2026, 3, 1), "2008-02"),  # 18 on the day; the year alone (1 July) says 17
    ("2008-02-28", date(2026, 3, 1), "2008-02"),
    ("2008-03-01", date(2026, 3, 1), "2008-03-01"),  # 18 that very day: only the full date says so
    ("1975", date(2026, 3, 1), "1975"),
    (None, date(2026, 3, 1), None),
])
def test_the_birth_date_keeps_its_age_band(birth, on, expected):
    assert retention.coarse_birth_date(birth, on) == expected
    assert stats.age_band(expected, on) == stats.age_band(birth, on)
