"""The local API on the real app and a real store: authentication on every route, crossings, stats."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from appliance.web.api.health import health
from appliance.web.app import create_app

from .conftest import OFFICER_PIN, SUPERVISOR_PIN
from .samples import CLEAR_OKAFOR, PERSON_HIT_DOE, import_demo_lists


@pytest.fixture
def client(store, config, officers):
    import_demo_lists(store)
    return TestClient(create_app(config, store))


def _login(client, officer_id="alice", pin=OFFICER_PIN):
    response = client.post("/api/login", json={"officer_id": officer_id, "pin": pin})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_health_needs_no_login(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["kiosk_id"] == "K9" and body["training"] is False


def test_every_other_api_route_needs_an_officer(client):
    public = {"/api/health", "/api/login"}
    checked = 0
    # The OpenAPI paths, not app.routes: FastAPI keeps an included router as one entry there.
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        if not path.startswith("/api/") or path in public:
            continue
        for method in (name.upper() for name in operations):
            url = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
            response = client.request(method, url, json={})
            assert response.status_code == 401, f"{method} {path} answered {response.status_code}"
            assert response.headers["WWW-Authenticate"] == "Bearer"
            bad_token = client.request(method, url, json={}, headers={"Authorization": "Bearer forged"})
            assert bad_token.status_code == 401
            checked += 1
    assert checked >= 9


def test_openapi_is_served(client):
    spec = client.get("/openapi.json").json()
    assert "/api/crossings" in spec["paths"]


def test_wrong_pin_then_lockout(client):
    for _ in range(2):
        assert client.post("/api/login", json={"officer_id": "alice", "pin": "000999"}).status_code == 401
    locked = client.post("/api/login", json={"officer_id": "alice", "pin": "000999"})
    assert locked.status_code == 423 and "locked out" in locked.json()["error"]
    assert client.post("/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN}).status_code == 423


def test_record_read_list_and_stats(client):
    auth = _login(client)
    created = client.post("/api/crossings", json={"direction": "entry", "mrz": CLEAR_OKAFOR}, headers=auth)
    assert created.status_code == 201, created.text
    crossing = created.json()
    assert crossing["decision"] == "cleared"
    assert client.get(f"/api/crossings/{crossing['id']}", headers=auth).json()["seq"] == crossing["seq"]
    listed = client.get("/api/crossings", headers=auth, params={"date": crossing["recorded_at"][:10]}).json()
    assert [c["id"] for c in listed["crossings"]] == [crossing["id"]]
    assert client.get("/api/crossings", headers=auth, params={"date": "2001-01-01"}).json()["count"] == 0
    day = client.get("/api/stats/daily", headers=auth).json()["days"][0]
    assert day["total"] == 1 and day["by_direction"]["entry"] == 1
    assert client.get("/api/crossings/nope", headers=auth).status_code == 404


def test_manual_document_entry(client):
    auth = _login(client)
    created = client.post("/api/crossings", headers=auth, json={"direction": "exit", "document": {
        "document_number": "C01X00T47", "issuing_state": "D", "surname": "MUSTERMANN", "given_names": "ERIKA",
        "nationality": "D", "birth_date": "1964-08-12", "sex": "F", "expiry_date": "2030-10-31"}})
    assert created.status_code == 201, created.text
    assert created.json()["document_source"] == "manual"


def test_manual_document_with_a_partial_birth_date_is_listed_and_counted_as_sent(client):
    auth = _login(client)
    created = client.post("/api/crossings", headers=auth, json={"direction": "entry", "document": {
        "document_number": "C01X00T48", "issuing_state": "D", "surname": "MUSTERMANN", "birth_date": "1964-08"}})
    assert created.status_code == 201, created.text
    crossing = created.json()
    assert crossing["birth_date"] == "1964-08"
    assert client.get(f"/api/crossings/{crossing['id']}", headers=auth).json()["birth_date"] == "1964-08"
    listed = client.get("/api/crossings", headers=auth, params={"date": crossing["recorded_at"][:10]}).json()
    assert [c["birth_date"] for c in listed["crossings"]] == ["1964-08"]
    day = client.get("/api/stats/daily", headers=auth).json()["days"][0]
    assert day["total"] == 1 and sum(day["by_age_band"].values()) == 1 and "unknown" not in day["by_age_band"]


@pytest.mark.parametrize("body, status", [
    ({"direction": "entry", "mrz": "NOT AN MRZ"}, 422),
    ({"direction": "entry", "mrz": CLEAR_OKAFOR, "surprise": 1}, 422),
    ({"direction": "upward", "mrz": CLEAR_OKAFOR}, 422),
    ({"direction": "entry"}, 422),
    ({"direction": "entry", "document": {"document_number": "!!", "issuing_state": "UTO", "surname": "X"}}, 422),
    ({"direction": "entry", "document": {"document_number": "A1", "issuing_state": "UTO", "surname": "X",
                                         "birth_date": "1964-13"}}, 422),
])
def test_bad_requests_are_refused_and_store_nothing(client, store, body, status):
    auth = _login(client)
    response = client.post("/api/crossings", json=body, headers=auth)
    assert response.status_code == status
    assert store.conn.execute("SELECT count(*) FROM crossings").fetchone()[0] == 0


def test_referral_resolved_by_supervisor_only(client):
    officer = _login(client)
    crossing = client.post("/api/crossings", json={"direction": "entry", "mrz": PERSON_HIT_DOE}, headers=officer).json()
    assert crossing["decision"] == "referred"
    assert client.post(f"/api/crossings/{crossing['id']}/outcome", json={"outcome": "cleared"},
                       headers=officer).status_code == 403
    supervisor = _login(client, "sam", SUPERVISOR_PIN)
    # A reason is needed, as on the touchscreen and the CLI (appliance.workflow.crossings.outcome_problem).
    no_reason = client.post(f"/api/crossings/{crossing['id']}/outcome",
                            json={"outcome": "cleared", "note": "namesake, different person"}, headers=supervisor)
    assert no_reason.status_code == 422 and "an outcome needs a reason" in no_reason.json()["error"]
    resolved = client.post(f"/api/crossings/{crossing['id']}/outcome",
                           json={"outcome": "cleared", "note": "namesake, different person",
                                 "reason": "not_the_listed_person"}, headers=supervisor)
    assert resolved.status_code == 200 and resolved.json()["outcome"] == "cleared"


def test_logout_ends_the_session(client):
    auth = _login(client)
    assert client.post("/api/logout", headers=auth).status_code == 200
    assert client.get("/api/me", headers=auth).status_code == 401


def test_lists_and_ui_shell(client):
    auth = _login(client)
    names = {item["name"] for item in client.get("/api/lists", headers=auth).json()["lists"]}
    assert names == {"persons", "documents"}
    page = client.get("/")
    assert page.status_code == 200 and "<form id=\"login\">" in page.text


def test_devices_and_reader_with_the_simulators(store, config, officers):
    from appliance.hw import open_devices

    devices = open_devices(config.hardware)
    client = TestClient(create_app(config, store, devices))
    auth = _login(client)
    status = client.get("/api/devices", headers=auth).json()["devices"]
    assert {name: device["backend"] for name, device in status.items()} == {
        "mrz_reader": "simulated", "camera": "simulated", "power": "simulated",
        "fingerprint": "simulated", "indicators": "simulated"}
    devices.mrz_reader.present(PERSON_HIT_DOE)
    read = client.post("/api/reader/read", params={"timeout": 1}, headers=auth).json()
    assert read["mrz"] == PERSON_HIT_DOE and read["parsed"]["surname"] == "DOE"
    devices.mrz_reader.present("GARBAGE")
    assert client.post("/api/reader/read", params={"timeout": 1}, headers=auth).status_code == 422
    assert store.conn.execute("SELECT count(*) FROM crossings").fetchone()[0] == 0
    devices.close()


def test_every_error_has_one_shape(client):
    auth = _login(client)
    refused = client.post("/api/crossings", json={"direction": "upward"}, headers=auth)
    assert refused.status_code == 422 and set(refused.json()) == {"error", "kind"}
    assert refused.json()["kind"] == "RequestValidationError" and "direction" in refused.json()["error"]
    missing = client.get("/api/no-such-route", headers=auth)
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found", "kind": "NotFound"}
    no_reader = client.post("/api/reader/read", params={"timeout": 0}, headers=auth)
    assert no_reader.status_code == 503
    assert no_reader.json() == {"error": "this kiosk has no MRZ reader configured", "kind": "DeviceError"}
    assert set(client.get("/api/me").json()) == {"error", "kind"}


def test_handlers_are_plain_functions(config):
    assert health(config)["kiosk_id"] == "K9"
