"""The crossing workflow: screening, decisions, referral to a supervisor, training, nothing half-stored."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from appliance import audit, crossings, stats
from appliance.crossings import CrossingRequest, ManualDocument
from appliance.errors import Forbidden, MRZError, WorkflowError

from .samples import (CLEAR_OKAFOR, EXPIRED_ERIKSSON, PERSON_HIT_DOE, STOLEN_DOC_MARTIN, import_demo_lists,
                      with_bad_check_digit)


@pytest.fixture
def kiosk(store, config, officers):
    import_demo_lists(store)
    return store, config, officers


def _counts(store):
    return tuple(store.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("crossings", "outbox", "audit"))


def _record(kiosk, mrz=None, officer="alice", **kw):
    store, config, officers = kiosk
    return crossings.record(store, config, officers.get(officer), CrossingRequest(mrz=mrz, **{"direction": "entry", **kw}))


def test_clear_traveller_is_cleared_and_queued_for_hq(kiosk):
    store = kiosk[0]
    before = _counts(store)
    crossing = _record(kiosk, CLEAR_OKAFOR, note="first")
    assert crossing["decision"] == "cleared" and crossing["screening"]["hits"] == []
    assert crossing["surname"] == "OKAFOR" and crossing["given_names"] == "CHIDI"
    assert crossing["post_id"] == "POST-T" and crossing["kiosk_id"] == "K9" and crossing["officer_id"] == "alice"
    assert crossing["recorded_at"].endswith("Z") and crossing["seq"] == 1
    assert set(crossing["screening"]["lists"]) == {"persons", "documents"}
    assert _counts(store) == (before[0] + 1, before[1] + 1, before[2] + 1)
    queued = store.conn.execute("SELECT kind, ref_id FROM outbox").fetchone()
    assert queued == ("crossing", crossing["id"])
    assert crossings.get(store, crossing["id"])["note"] == "first"


def test_person_hit_is_referred_even_if_officer_clears(kiosk):
    crossing = _record(kiosk, PERSON_HIT_DOE, decision="cleared")
    assert crossing["decision"] == "referred"
    hit = crossing["screening"]["hits"][0]
    assert hit["list"] == "persons" and hit["entry_id"] == "P-0001" and hit["score"] >= 0.7


def test_stolen_document_is_referred(kiosk):
    crossing = _record(kiosk, STOLEN_DOC_MARTIN, direction="exit")
    assert crossing["decision"] == "referred" and crossing["direction"] == "exit"
    assert crossing["document_format"] == "TD1"
    assert any(hit["list"] == "documents" for hit in crossing["screening"]["hits"])


def test_expired_document_goes_to_secondary_unless_the_officer_decides(kiosk):
    crossing = _record(kiosk, EXPIRED_ERIKSSON)
    assert crossing["decision"] == "referred" and crossing["document_checks"]["expired"] is True
    assert "expired" in crossing["decision_reason"]
    decided = _record(kiosk, EXPIRED_ERIKSSON, decision="refused", note="expired passport")
    assert decided["decision"] == "refused"


def test_failed_check_digit_is_recorded_and_sent_to_the_officer(kiosk):
    crossing = _record(kiosk, with_bad_check_digit(CLEAR_OKAFOR))
    assert crossing["document_checks"]["failed_checks"] == ["document_number", "composite"]
    assert crossing["decision"] == "referred"


@pytest.mark.parametrize("kwargs, error", [
    ({"mrz": "HELLO WORLD"}, MRZError),
    ({"mrz": CLEAR_OKAFOR, "direction": "sideways"}, WorkflowError),
    ({"mrz": CLEAR_OKAFOR, "decision": "maybe"}, WorkflowError),
    ({"mrz": None}, WorkflowError),
    ({"mrz": CLEAR_OKAFOR, "note": "x" * 2001}, WorkflowError),
    ({"document": ManualDocument(document_number="AB-12", issuing_state="UTOPIA", surname="")}, WorkflowError),
    ({"document": ManualDocument(document_number="AB12", issuing_state="UTO", surname="DOE",
                                 birth_date="2099-01-01")}, WorkflowError),
    ({"document": ManualDocument(document_number="AB12", issuing_state="UTO", surname="DOE",
                                 expiry_date="31/12/2030")}, WorkflowError),
])
def test_bad_requests_store_nothing(kiosk, kwargs, error):
    before = _counts(kiosk[0])
    with pytest.raises(error):
        _record(kiosk, **kwargs)
    assert _counts(kiosk[0]) == before


def test_manual_entry_error_names_every_bad_field(kiosk):
    with pytest.raises(WorkflowError) as caught:
        _record(kiosk, document=ManualDocument(document_number="AB-12#", issuing_state="UTOPIA", surname="", sex="Q"))
    for field in ("document_number", "issuing_state", "surname", "sex"):
        assert field in str(caught.value)


def test_manual_entry_is_screened_too(kiosk):
    crossing = _record(kiosk, document=ManualDocument(
        document_number="ZZ9876543", issuing_state="uto", surname="Martin", given_names="Claire",
        birth_date="1990-07-21", sex="F", expiry_date="2029-07-20", document_code="I"))
    assert crossing["document_source"] == "manual" and crossing["issuing_state"] == "UTO"
    assert crossing["decision"] == "referred" and crossing["screening"]["hits"]


def test_technician_does_not_process_travellers(kiosk):
    with pytest.raises(Forbidden):
        _record(kiosk, CLEAR_OKAFOR, officer="tech")


def test_supervisor_resolves_a_referral_once(kiosk):
    store, _, officers = kiosk
    referred = _record(kiosk, PERSON_HIT_DOE)
    with pytest.raises(Forbidden):
        crossings.resolve(store, officers.get("alice"), referred["id"], "cleared")
    resolved = crossings.resolve(store, officers.get("sam"), referred["id"], "refused", "identity confirmed")
    assert resolved["outcome"] == "refused" and resolved["outcome_by"] == "sam"
    with pytest.raises(WorkflowError, match="already has outcome refused"):
        crossings.resolve(store, officers.get("sam"), referred["id"], "cleared")
    cleared = _record(kiosk, CLEAR_OKAFOR)
    with pytest.raises(WorkflowError, match="not referred"):
        crossings.resolve(store, officers.get("sam"), cleared["id"], "refused")
    kinds = [row[0] for row in store.conn.execute("SELECT kind FROM outbox ORDER BY seq")]
    # The hit also queues an alert, which the uplink sends ahead of any backlog.
    assert kinds == ["crossing", "alert", "crossing_outcome", "crossing"]
    assert audit.verify(store)[1] == []


def test_training_records_are_marked_and_never_queued(kiosk):
    store, config, officers = kiosk
    config.kiosk.training = True
    crossing = _record(kiosk, CLEAR_OKAFOR)
    assert crossing["training"] is True
    assert store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def test_sequence_is_monotonic(kiosk):
    seqs = [_record(kiosk, CLEAR_OKAFOR)["seq"] for _ in range(4)]
    assert seqs == [1, 2, 3, 4]
    assert [c["seq"] for c in crossings.list_crossings(kiosk[0])] == [4, 3, 2, 1]


def test_daily_statistics(kiosk):
    store = kiosk[0]
    noon = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    for mrz, direction in ((CLEAR_OKAFOR, "entry"), (PERSON_HIT_DOE, "exit"), (STOLEN_DOC_MARTIN, "entry")):
        crossings.record(store, kiosk[1], kiosk[2].get("alice"), CrossingRequest(direction=direction, mrz=mrz), now=noon)
    day, empty = stats.daily(store, date(2026, 11, 20), date(2026, 11, 21))
    assert day["total"] == 3 and empty["total"] == 0
    assert day["by_direction"] == {"entry": 2, "exit": 1}
    assert day["by_nationality"] == {"UTO": 3}
    assert day["by_sex"] == {"F": 1, "M": 2}
    # Born 1985-03-14, 1980-01-01 and 1990-07-21: 41, 46 and 36 on 2026-11-20.
    assert day["by_age_band"] == {"0-17": 0, "18-29": 0, "30-44": 2, "45-59": 1, "60+": 0}
    assert day["by_decision"] == {"cleared": 1, "referred": 2}
    with pytest.raises(WorkflowError, match="reversed"):
        stats.daily(store, date(2026, 11, 21), date(2026, 11, 20))
