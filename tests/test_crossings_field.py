"""Recording at a busy post: one crossing per record call whatever repeats it, the same document again
within minutes, the purpose of travel and a visa, and where they are counted (kiosk, CLI, HQ)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from appliance.domain import clock, mrz
from appliance.errors import WorkflowError
from appliance.workflow import crossings, stats
from appliance.web.app import create_app

from .conftest import OFFICER_PIN, with_screening  # noqa: F401
from .samples import CLEAR_OKAFOR, import_demo_lists

VISA = mrz.compose("MRVA", document_number="V7731942", surname="NAKAMURA", given_names="AIKO",
                   issuing_state="UTO", nationality="JPN", birth_date="1990-04-02", expiry_date="2031-06-30",
                   sex="F", document_code="VC")


@pytest.fixture
def client(store, config, officers):
    import_demo_lists(store)
    return TestClient(create_app(config, store))


def _login(client):
    token = client.post("/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def _count(store) -> int:
    return store.conn.execute("SELECT count(*) FROM crossings").fetchone()[0]


def test_a_repeated_record_call_answers_the_first_crossing(client, store):
    headers = _login(client)
    body = {"direction": "entry", "mrz": CLEAR_OKAFOR, "request_id": "a1b2c3d4-0001"}
    first = client.post("/api/crossings", json=body, headers=headers)
    again = client.post("/api/crossings", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert first.json()["request_id"] == "a1b2c3d4-0001"
    assert _count(store) == 1
    # One message for HQ, one audit entry: the repeat left no trace of its own.
    assert store.conn.execute("SELECT count(*) FROM outbox WHERE kind = 'crossing'").fetchone()[0] == 1
    assert store.conn.execute("SELECT count(*) FROM audit WHERE action = 'crossing.record'").fetchone()[0] == 1
    # Another traveller (another request id) is another crossing.
    other = client.post("/api/crossings", json={**body, "request_id": "a1b2c3d4-0002"}, headers=headers)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert _count(store) == 2


def test_two_record_calls_at_once_with_one_request_id_record_once(store, config, officers):
    import_demo_lists(store)
    officer = officers.get("alice")
    request = crossings.CrossingRequest(direction="exit", mrz=CLEAR_OKAFOR, request_id="race-0000-0001")
    answers: list[str] = []
    start = threading.Barrier(4)

    def call() -> None:
        start.wait()
        answers.append(crossings.record(store, config, officer, request).crossing.id)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4 and len(set(answers)) == 1
    assert _count(store) == 1


def test_a_bad_request_id_is_refused_and_stores_nothing(client, store):
    headers = _login(client)
    for bad in ("short", "has space 123", "x" * 65):
        response = client.post("/api/crossings", json={"direction": "entry", "mrz": CLEAR_OKAFOR, "request_id": bad},
                               headers=headers)
        assert response.status_code == 422, bad
        assert response.json()["kind"] == "RequestValidationError" and "request_id" in response.json()["error"]
    assert _count(store) == 0


def test_the_same_document_in_the_same_direction_within_the_window_is_flagged(store, config, officers):
    import_demo_lists(store)
    officer = officers.get("alice")
    now = clock.utcnow()
    first = crossings.record(store, config, officer, crossings.CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR),
                             now=now - timedelta(minutes=10))
    assert first.repeat_of is None
    again = crossings.record(store, config, officer, crossings.CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR),
                             now=now)
    assert again.repeat_of == {"id": first.crossing.id, "seq": first.crossing.seq,
                               "recorded_at": first.crossing.recorded_at, "officer_id": "alice"}
    assert again.to_dict()["repeat_of"]["id"] == first.crossing.id
    assert crossings.earlier_same_document(store, config, again.crossing)["id"] == first.crossing.id
    # The other direction is no repeat, and neither is the same direction after the window.
    exit_ = crossings.record(store, config, officer, crossings.CrossingRequest(direction="exit", mrz=CLEAR_OKAFOR),
                             now=now + timedelta(minutes=1))
    assert exit_.repeat_of is None
    late = crossings.record(store, config, officer, crossings.CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR),
                            now=now + timedelta(minutes=config.crossings.repeat_window_minutes + 1))
    assert late.repeat_of is None


def _older_copies(store, crossing_id: str, count: int, direction: str, seq_below: int) -> None:
    """``count`` earlier crossings like ``crossing_id`` (same document): an hour apart going back, seq below ``seq_below``."""
    columns = [row[1] for row in store.conn.execute("PRAGMA table_info(crossings)")]
    picked = ", ".join({"id": "id || '-' || ?", "seq": "?", "direction": "?",
                        "recorded_at": "strftime('%Y-%m-%dT%H:%M:%fZ', recorded_at, '-' || ? || ' hours')"}
                       .get(c, c) for c in columns)
    with store.transaction():
        for n in range(1, count + 1):
            store.conn.execute(f"INSERT INTO crossings ({', '.join(columns)}) SELECT {picked} FROM crossings "
                               "WHERE id = ?", (f"{direction}{n}", seq_below - n, direction, n + 1, crossing_id))


def test_the_repeat_check_reads_the_same_work_however_often_the_document_crossed(store, config, officers):
    # The check runs inside every record call: it must not read all of a frequent traveller's
    # crossings (or the one passport a bench records 50,000 times).
    import_demo_lists(store)
    officer = officers.get("alice")
    first = crossings.record(store, config, officer, crossings.CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR))
    latest = crossings.record(store, config, officer, crossings.CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR))

    def steps() -> int:
        counted = [0]

        def tick() -> int:
            counted[0] += 1
            return 0

        store.conn.set_progress_handler(tick, 10)
        try:
            assert crossings.earlier_same_document(store, config, latest.crossing)["id"] == first.crossing.id
        finally:
            store.conn.set_progress_handler(None, 0)
        return counted[0]

    few = steps()
    _older_copies(store, first.crossing.id, 3000, "entry", first.crossing.seq)  # before the window
    _older_copies(store, first.crossing.id, 3000, "exit", -10_000)  # the other direction
    assert steps() <= few + 2


def test_purpose_and_an_mrv_visa_are_stored_sent_to_hq_and_counted(store, config, officers):
    import_demo_lists(store)
    officer = officers.get("alice")
    recorded = crossings.record(store, config, officer, crossings.CrossingRequest(
        direction="entry", mrz=VISA, purpose="study"))
    stored = crossings.get(store, recorded.crossing.id).to_dict()
    assert (stored["purpose"], stored["visa_number"], stored["visa_type"]) == ("study", "V7731942", "VC")
    passport = crossings.record(store, config, officer, crossings.CrossingRequest(
        direction="entry", mrz=CLEAR_OKAFOR, purpose="business", visa_number="X1234567", visa_type="V"))
    assert (passport.crossing.visa_number, passport.crossing.visa_type) == ("X1234567", "V")
    crossings.record(store, config, officer, crossings.CrossingRequest(direction="exit", mrz=CLEAR_OKAFOR))

    payloads = [json.loads(row[0]) for row in store.conn.execute(
        "SELECT payload FROM outbox WHERE kind = 'crossing' ORDER BY seq")]
    assert [(p["purpose"], p["visa_number"], p["visa_type"]) for p in payloads] == [
        ("study", "V7731942", "VC"), ("business", "X1234567", "V"), (None, None, None)]
    # The fields HQ's scripts read are all still there.
    for key in ("id", "seq", "post_id", "kiosk_id", "direction", "recorded_at", "surname", "document_number",
                "nationality", "decision", "screening", "decision_reason"):
        assert key in payloads[0]

    today = clock.utcnow().date()
    day = stats.daily(store, today, today, config.kiosk.timezone)[0]
    assert day["by_purpose"] == {"study": 1, "business": 1, "unknown": 1}


def test_a_purpose_not_configured_and_a_bad_visa_are_refused(store, config, officers):
    officer = officers.get("alice")
    for request, message in [
        (crossings.CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR, purpose="smuggling"), "purpose 'smuggling'"),
        (crossings.CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR, visa_number="V-1"), "visa_number"),
        (crossings.CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR, visa_type="VXX"), "visa_type"),
    ]:
        with pytest.raises(WorkflowError, match=message):
            crossings.record(store, config, officer, request)
    assert _count(store) == 0


def test_cli_records_a_purpose_and_counts_it(run_cli, store, officers, tmp_path):
    import_demo_lists(store)
    path = tmp_path / "okafor.mrz"
    path.write_text(CLEAR_OKAFOR + "\n")
    done = run_cli("crossings", "record", "--direction", "entry", "--mrz-file", str(path), "--officer", "alice",
                   "--purpose", "transit", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["purpose"] == "transit"
    refused = run_cli("crossings", "record", "--direction", "entry", "--mrz-file", str(path), "--officer", "alice",
                      "--purpose", "holiday")
    assert refused.exit_code == 1 and "error: purpose 'holiday' is not one of tourism" in refused.stderr
    daily = run_cli("stats", "daily")
    assert "purpose: transit 1" in daily.stdout
    assert json.loads(run_cli("stats", "daily", "--json").stdout)["days"][0]["by_purpose"] == {"transit": 1}

