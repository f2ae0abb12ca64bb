"""Captures: encrypted at rest, linked to crossings in the crossing's transaction, and the capture routes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from appliance.workflow import biometrics, crossings
from appliance.domain import clock
from appliance.web.app import create_app
from appliance.config import Config
from appliance.errors import ConfigError, DeviceError, Forbidden, NotFound, WorkflowError
from appliance.hw import open_devices
from appliance.hw.fingerprint_simulated import sample_template

from .conftest import OFFICER_PIN
from .samples import CLEAR_OKAFOR, PERSON_HIT_DOE, import_demo_lists


@pytest.fixture
def devices(config: Config):
    opened = open_devices(config.hardware)
    yield opened
    opened.close()


def counts(store) -> tuple[int, int, int]:
    return tuple(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                 for table in ("captures", "crossings", "outbox"))


def record(store, config, officer, **request):
    """The recorded crossing's JSON, as the API answers it."""
    return crossings.record(store, config, officer, crossings.CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR,
                                                                            **request)).to_dict()


# --- capture and encryption ------------------------------------------------------------------


def test_photo_is_stored_encrypted_and_decrypts_with_the_key(store, config, officers, devices) -> None:
    result = biometrics.capture_photo(store, config, devices, officers.get("alice"))

    assert result["kind"] == "face" and result["quality"] == {"ok": True, "hints": [], "reasons": []}
    assert result["preview"].startswith("data:image/jpeg;base64,")
    kind, fmt, nonce, ciphertext, quality, crossing_id = store.conn.execute(
        "SELECT kind, format, nonce, ciphertext, quality, crossing_id FROM captures WHERE id = ?",
        (result["capture_id"],)).fetchone()
    assert (kind, fmt, len(nonce), crossing_id) == ("face", "image/png", 12, None)
    assert b"IHDR" not in ciphertext, "no plain image bytes at rest"
    assert json.loads(quality) == result["quality"]
    data, fmt = biometrics.read(store, config, result["capture_id"])
    assert data.startswith(b"\x89PNG") and fmt == "image/png"
    assert store.conn.execute("SELECT action, actor FROM audit ORDER BY seq DESC LIMIT 1").fetchone() == (
        "capture.face", "alice")


def test_fingerprint_template_round_trip(store, config, officers, devices) -> None:
    result = biometrics.capture_fingerprint(store, config, devices, officers.get("sam"))
    assert result == {"capture_id": result["capture_id"], "kind": "fingerprint",
                      "quality": {"ok": True, "hints": [], "reasons": []}}
    assert biometrics.read(store, config, result["capture_id"]) == (sample_template(), "r30x-char")


def test_ciphertext_is_bound_to_its_row_and_key(store, config, officers, devices) -> None:
    face = biometrics.capture_photo(store, config, devices, officers.get("alice"))["capture_id"]
    finger = biometrics.capture_fingerprint(store, config, devices, officers.get("alice"))["capture_id"]
    # Swap the two ciphertexts: each must refuse to decrypt as the other.
    rows = {cid: store.conn.execute("SELECT nonce, ciphertext FROM captures WHERE id = ?", (cid,)).fetchone()
            for cid in (face, finger)}
    store.conn.execute("UPDATE captures SET nonce = ?, ciphertext = ? WHERE id = ?", (*rows[finger], face))
    with pytest.raises(WorkflowError, match="does not decrypt"):
        biometrics.read(store, config, face)

    other_key = config.model_copy(deep=True)
    other_key.security.biometric_key = "ab" * 32
    with pytest.raises(WorkflowError, match="wrong security.biometric_key"):
        biometrics.read(store, other_key, finger)
    with pytest.raises(NotFound):
        biometrics.read(store, config, "nope")


def test_without_a_key_nothing_is_captured(store, config, officers, devices) -> None:
    config.security.biometric_key = None
    with pytest.raises(ConfigError, match="security.biometric_key is not set .*KIOSK_SECURITY_BIOMETRIC_KEY"):
        biometrics.capture_photo(store, config, devices, officers.get("alice"))
    assert devices.camera.captures == [], "the camera was not even used"
    assert counts(store)[0] == 0


def test_key_must_be_64_hex_and_may_come_from_the_environment(config_path) -> None:
    from appliance import config as config_module

    with pytest.raises(ConfigError, match="biometric_key must be 64 hex characters"):
        config_module.load(config_path, environ={"KIOSK_SECURITY_BIOMETRIC_KEY": "not-hex"})
    loaded = config_module.load(config_path, environ={"KIOSK_SECURITY_BIOMETRIC_KEY": "0f" * 32})
    assert loaded.security.biometric_key.get_secret_value() == "0f" * 32
    assert config_module.masked(loaded)["security"]["biometric_key"] == "********"


def test_technicians_do_not_capture_and_missing_devices_are_device_errors(store, config, officers, devices) -> None:
    with pytest.raises(Forbidden):
        biometrics.capture_photo(store, config, devices, officers.get("tech"))
    devices_without = type(devices)(devices.mrz_reader, devices.camera, devices.power)
    with pytest.raises(DeviceError, match="no fingerprint module is fitted"):
        biometrics.capture_fingerprint(store, config, devices_without, officers.get("alice"))
    devices.camera.fail_next("lens cover closed")
    with pytest.raises(DeviceError, match="lens cover closed"):
        biometrics.capture_photo(store, config, devices, officers.get("alice"))
    assert counts(store)[0] == 0


def test_busy_led_while_capturing(store, config, officers, devices) -> None:
    biometrics.capture_photo(store, config, devices, officers.get("alice"))
    assert devices.indicators.events[-2:] == ["state busy", "state ready"]


# --- linking to crossings ----------------------------------------------------------------------


def test_crossing_links_captures_and_queues_them(store, config, officers, devices) -> None:
    alice = officers.get("alice")
    face = biometrics.capture_photo(store, config, devices, alice)["capture_id"]
    finger = biometrics.capture_fingerprint(store, config, devices, alice)["capture_id"]

    crossing = record(store, config, alice, capture_ids=(face, finger))

    assert crossing["captures"] == [{"id": face, "kind": "face"}, {"id": finger, "kind": "fingerprint"}]
    assert crossing["unavailable"] == {}
    rows = store.conn.execute("SELECT kind, ref_id, payload FROM outbox ORDER BY seq").fetchall()
    assert [kind for kind, _, _ in rows] == ["crossing", "capture", "capture"]
    assert json.loads(rows[0][2])["captures"] == crossing["captures"]
    assert json.loads(rows[1][2]) == {"capture_id": face, "crossing_id": crossing["id"], "kind": "face",
                                      "format": "image/png"}
    assert json.loads(rows[2][2])["format"] == "r30x-char"
    assert crossings.get(store, crossing["id"]).to_dict()["captures"] == crossing["captures"]
    assert crossings.list_crossings(store)[0].to_dict()["captures"] == crossing["captures"]
    assert biometrics.uplink_reader(store, config)(face)[1] == "image/png"
    assert biometrics.uplink_reader(store, config)("gone") is None


def test_unavailable_reasons_are_recorded(store, config, officers) -> None:
    crossing = record(store, config, officers.get("alice"),
                      unavailable={"photo": "camera broken", "fingerprint": " traveller has no hands "})
    assert crossing["unavailable"] == {"photo": "camera broken", "fingerprint": "traveller has no hands"}
    assert crossings.get(store, crossing["id"]).unavailable == crossing["unavailable"]
    assert json.loads(store.conn.execute("SELECT payload FROM outbox").fetchone()[0])["unavailable"] == \
        crossing["unavailable"]


@pytest.mark.parametrize("request_, message", [
    ({"capture_ids": ("no-such-capture",)}, "unknown capture 'no-such-capture'"),
    ({"unavailable": {"iris": "no scanner"}}, "'iris' is not one of photo, fingerprint"),
    ({"unavailable": {"photo": "  "}}, "unavailable.photo: give the reason"),
    ({"unavailable": {"photo": "x" * 501}}, "longer than 500"),
])
def test_bad_capture_requests_store_nothing(store, config, officers, request_, message) -> None:
    before = counts(store)
    with pytest.raises(WorkflowError, match=message):
        record(store, config, officers.get("alice"), **request_)
    assert counts(store) == before


def test_a_capture_links_to_one_crossing_only(store, config, officers, devices) -> None:
    alice = officers.get("alice")
    face = biometrics.capture_photo(store, config, devices, alice)["capture_id"]
    first = record(store, config, alice, capture_ids=(face,))
    before = counts(store)
    with pytest.raises(WorkflowError, match=f"capture {face} already belongs to crossing {first['id']}"):
        record(store, config, alice, capture_ids=(face,))
    with pytest.raises(WorkflowError, match="both captured and declared unavailable"):
        second = biometrics.capture_photo(store, config, devices, alice)["capture_id"]
        before = counts(store)
        record(store, config, alice, capture_ids=(second,), unavailable={"photo": "blurred"})
    assert counts(store) == before
    assert store.conn.execute("SELECT crossing_id FROM captures WHERE id = ?", (second,)).fetchone()[0] is None
    with pytest.raises(WorkflowError, match="same capture twice"):
        record(store, config, alice, capture_ids=(second, second))


def test_training_crossings_link_captures_but_queue_nothing(store, config, officers, devices) -> None:
    config.kiosk.training = True
    face = biometrics.capture_photo(store, config, devices, officers.get("alice"))["capture_id"]
    crossing = record(store, config, officers.get("alice"), capture_ids=(face,))
    assert crossing["captures"] == [{"id": face, "kind": "face"}]
    assert counts(store)[2] == 0


def test_unlinked_captures_are_purged(store, config, officers, devices) -> None:
    alice = officers.get("alice")
    kept = biometrics.capture_photo(store, config, devices, alice)["capture_id"]
    record(store, config, alice, capture_ids=(kept,))
    biometrics.capture_photo(store, config, devices, alice)
    assert biometrics.purge_unlinked(store, timedelta(hours=1)) == 0
    assert biometrics.purge_unlinked(store, timedelta(hours=1), now=clock.utcnow() + timedelta(hours=2)) == 1
    assert [row[0] for row in store.conn.execute("SELECT id FROM captures")] == [kept]


def test_housekeeping_thread_purges_abandoned_captures(store, config, officers, devices) -> None:
    import time

    from appliance.service.housekeeping import Housekeeping

    alice = officers.get("alice")
    biometrics.capture_photo(store, config, devices, alice)
    # Taken two hours ago: the traveller never got as far as a recorded crossing.
    store.conn.execute("UPDATE captures SET created_at = ?", (clock.iso(clock.utcnow() - timedelta(hours=2)),))
    housekeeping = Housekeeping(store, interval_s=0.05)
    housekeeping.start()
    try:
        deadline = time.monotonic() + 5
        while store.conn.execute("SELECT count(*) FROM captures").fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        housekeeping.stop()
    assert store.conn.execute("SELECT count(*) FROM captures").fetchone()[0] == 0
    assert store.conn.execute("SELECT count(*) FROM audit WHERE action = 'capture.purge_unlinked'").fetchone()[0] == 1


# --- the API -----------------------------------------------------------------------------


@pytest.fixture
def client(store, config, officers, devices):
    import_demo_lists(store)
    client = TestClient(create_app(config, store, devices))
    token = client.post("/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN}).json()["token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_capture_routes_then_record_with_them(client, devices) -> None:
    photo = client.post("/api/captures/photo")
    assert photo.status_code == 201, photo.text
    assert set(photo.json()) == {"capture_id", "kind", "quality", "preview"}
    finger = client.post("/api/captures/fingerprint", json={"timeout": 2})
    assert finger.status_code == 201 and finger.json()["quality"] == {"ok": True, "hints": [], "reasons": []}

    recorded = client.post("/api/crossings", json={
        "direction": "entry", "mrz": CLEAR_OKAFOR,
        "capture_ids": [photo.json()["capture_id"], finger.json()["capture_id"]]})
    assert recorded.status_code == 201, recorded.text
    assert [c["kind"] for c in recorded.json()["captures"]] == ["face", "fingerprint"]

    reused = client.post("/api/crossings", json={"direction": "entry", "mrz": CLEAR_OKAFOR,
                                                 "capture_ids": [photo.json()["capture_id"]]})
    assert reused.status_code == 422 and "already belongs" in reused.json()["error"]


def test_failing_or_missing_devices_are_503(client, devices, store, config) -> None:
    devices.camera.fail_next("cable cut")
    failed = client.post("/api/captures/photo")
    assert failed.status_code == 503 and "cable cut" in failed.json()["error"]

    devices.fingerprint.simulator.finger = False
    no_finger = client.post("/api/captures/fingerprint", json={"timeout": 0.2})
    assert no_finger.status_code == 503 and "no finger" in no_finger.json()["error"]

    bare = TestClient(create_app(config, store, None))
    bare.headers.update(client.headers)
    assert bare.post("/api/captures/photo").status_code == 503
    assert bare.post("/api/captures/fingerprint").json()["error"] == "no fingerprint module is fitted on this kiosk"
    assert store.conn.execute("SELECT count(*) FROM captures").fetchone()[0] == 0


def test_capture_without_a_key_is_503_with_the_reason(client, config) -> None:
    config.security.biometric_key = None
    response = client.post("/api/captures/photo")
    assert response.status_code == 503 and "biometric_key is not set" in response.json()["error"]


def test_technician_may_not_capture(client, officers) -> None:
    token = client.post("/api/login", json={"officer_id": "tech", "pin": "615283"}).json()["token"]
    response = client.post("/api/captures/photo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_a_hit_sounds_the_buzzer(client, devices) -> None:
    recorded = client.post("/api/crossings", json={"direction": "entry", "mrz": PERSON_HIT_DOE})
    assert recorded.json()["decision"] == "referred"
    assert devices.indicators.events[-2:] == ["state alert", "pattern watchlist_hit"]


def test_app_state_keeps_devices_and_no_policy_by_default(client, devices) -> None:
    assert client.app.state.devices is devices
    assert client.app.state.power_policy is None
