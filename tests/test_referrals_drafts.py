"""A supervisor's decision (reason, four eyes), the open referrals, and each officer's crossing in progress."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from appliance.domain import clock
from appliance.errors import Forbidden, FourEyes, WorkflowError
from appliance.web.app import create_app
from appliance.workflow import crossings, drafts

from .conftest import OFFICER_PIN, SUPERVISOR_PIN
from .samples import CLEAR_OKAFOR, PERSON_HIT_DOE, import_demo_lists


@pytest.fixture
def kiosk(store, config, officers):
    import_demo_lists(store)
    officers.add("sue", "supervisor", "864213")
    return store, config, officers


def _record(kiosk, mrz, officer="alice"):
    store, config, officers = kiosk
    return crossings.record(store, config, officers.get(officer), crossings.CrossingRequest(direction="entry", mrz=mrz))


def _outbox(store, kind):
    return [json.loads(row[0]) for row in store.conn.execute("SELECT payload FROM outbox WHERE kind = ?", (kind,))]


def test_the_recording_supervisor_cannot_decide_alone_under_four_eyes(kiosk):
    store, config, officers = kiosk
    assert config.security.four_eyes is True  # the default: a one-person post turns it off
    hit = _record(kiosk, PERSON_HIT_DOE, officer="sam").crossing
    with pytest.raises(FourEyes, match="sam recorded crossing .*another supervisor must decide it"):
        crossings.resolve(store, officers.get("sam"), hit.id, "refused", reason="listed_person_confirmed",
                          four_eyes=True)
    assert crossings.get(store, hit.id).outcome is None and _outbox(store, "crossing_outcome") == []
    done = crossings.resolve(store, officers.get("sue"), hit.id, "refused", "checked", reason="listed_person_confirmed",
                             four_eyes=True)
    assert (done.outcome, done.outcome_by, done.outcome_reason, done.outcome_note) == (
        "refused", "sue", "listed_person_confirmed", "checked")
    # HQ gets the reason beside the fields it already reads.
    [sent] = _outbox(store, "crossing_outcome")
    assert sent["outcome_reason"] == "listed_person_confirmed" and sent["outcome_note"] == "checked"
    # A one-person post: the same supervisor may decide.
    other = _record(kiosk, PERSON_HIT_DOE, officer="sam").crossing
    assert crossings.resolve(store, officers.get("sam"), other.id, "cleared", reason="not_the_listed_person",
                             four_eyes=False).outcome == "cleared"


@pytest.mark.parametrize("reason,note,message", [
    ("because", "", "outcome reason 'because' is not one of"),
    ("other", "  ", "outcome reason 'other' needs a note"),
])
def test_a_bad_outcome_reason_is_refused_and_changes_nothing(kiosk, reason, note, message):
    store, _config, officers = kiosk
    hit = _record(kiosk, PERSON_HIT_DOE).crossing
    with pytest.raises(WorkflowError, match=message):
        crossings.resolve(store, officers.get("sam"), hit.id, "refused", note, reason=reason, four_eyes=True)
    assert crossings.get(store, hit.id).outcome is None and _outbox(store, "crossing_outcome") == []


def test_open_referrals_of_any_day_oldest_first(kiosk):
    store, config, officers = kiosk
    first = _record(kiosk, PERSON_HIT_DOE).crossing
    _record(kiosk, CLEAR_OKAFOR)
    second = _record(kiosk, PERSON_HIT_DOE).crossing
    assert [item.id for item in crossings.open_referrals(store)] == [first.id, second.id]
    assert crossings.count_open_referrals(store) == 2
    crossings.resolve(store, officers.get("sue"), first.id, "cleared", reason="not_the_listed_person", four_eyes=True)
    assert [item.id for item in crossings.open_referrals(store)] == [second.id]
    client = TestClient(create_app(config, store))
    token = client.post("/api/login", json={"officer_id": "sue", "pin": "864213"}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    answer = client.get("/api/referrals", headers=headers).json()
    assert answer["count"] == 1 and answer["referrals"][0]["id"] == second.id
    assert client.get("/api/referrals").status_code == 401
    # The API's outcome takes the reason, and keeps four eyes.
    refused = client.post(f"/api/crossings/{second.id}/outcome", headers=headers,
                          json={"outcome": "refused", "reason": "nope"})
    assert refused.status_code == 422 and "outcome reason 'nope'" in refused.json()["error"]
    done = client.post(f"/api/crossings/{second.id}/outcome", headers=headers,
                       json={"outcome": "refused", "reason": "document_invalid", "note": "forged"})
    assert done.status_code == 200 and done.json()["outcome_reason"] == "document_invalid"
    assert client.get("/api/referrals", headers=headers).json()["count"] == 0


def test_four_eyes_over_the_api(kiosk):
    store, config, _officers = kiosk
    hit = _record(kiosk, PERSON_HIT_DOE, officer="sam").crossing
    client = TestClient(create_app(config, store))
    token = client.post("/api/login", json={"officer_id": "sam", "pin": SUPERVISOR_PIN}).json()["token"]
    answer = client.post(f"/api/crossings/{hit.id}/outcome", headers={"Authorization": f"Bearer {token}"},
                         json={"outcome": "cleared", "reason": "not_the_listed_person"})
    assert answer.status_code == 403 and answer.json()["kind"] == "FourEyes"
    assert crossings.get(store, hit.id).outcome is None


def test_a_draft_is_the_officers_own_and_expires(kiosk):
    store, _config, officers = kiosk
    alice, sam = officers.get("alice"), officers.get("sam")
    body = {"direction": "entry", "step": "photo", "mode": "reader", "mrz": CLEAR_OKAFOR, "document": None,
            "captures": {"photo": "c-1"}, "unavailable": {}}
    now = clock.utcnow()
    drafts.save(store, alice, body, now=now)
    kept = drafts.load(store, alice, 30, now=now + timedelta(minutes=29))
    assert kept is not None and {key: kept[key] for key in body} == body
    assert drafts.load(store, sam, 30, now=now) is None  # another officer never sees it
    assert drafts.load(store, alice, 30, now=now + timedelta(minutes=31)) is None  # too old: dropped
    assert store.conn.execute("SELECT count(*) FROM drafts").fetchone()[0] == 0
    with pytest.raises(WorkflowError, match="at most 16000 bytes"):
        drafts.save(store, alice, {**body, "mrz": "X" * 20000})
    with pytest.raises(Forbidden):
        drafts.save(store, officers.get("tech"), body)
    assert store.conn.execute("SELECT count(*) FROM drafts").fetchone()[0] == 0


def test_recording_drops_the_draft(kiosk):
    store, config, officers = kiosk
    client = TestClient(create_app(config, store))
    token = client.post("/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN}).json()["token"]
    drafts.save(store, officers.get("alice"), {"direction": "entry", "step": "fingerprint", "mrz": CLEAR_OKAFOR})
    answer = client.post("/api/crossings", headers={"Authorization": f"Bearer {token}"},
                         json={"direction": "entry", "mrz": CLEAR_OKAFOR})
    assert answer.status_code == 201
    assert drafts.load(store, officers.get("alice"), 30) is None
