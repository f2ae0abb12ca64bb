"""The crossing workflow: screening, decisions, referral to a supervisor, training, nothing half-stored."""

from __future__ import annotations

import html
import json
from datetime import date, datetime, timezone

import numpy as np
import pytest

from appliance.domain.reasons import REASONS
from appliance.storage import audit
from appliance.workflow import crossings, stats
from appliance.workflow.crossings import CrossingRequest, ManualDocument
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
    """The recorded crossing's JSON, as the API answers it."""
    store, config, officers = kiosk
    request = CrossingRequest(mrz=mrz, **{"direction": "entry", **kw})
    return crossings.record(store, config, officers.get(officer), request).to_dict()


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
    assert crossings.get(store, crossing["id"]).note == "first"


def test_the_json_of_a_crossing_keeps_its_keys_and_their_order(kiosk):
    store = kiosk[0]
    document = ["mrz", "document_format", "document_code", "issuing_state", "document_number", "surname",
                "given_names", "nationality", "birth_date", "sex", "expiry_date"]
    outcome = ["outcome", "outcome_by", "outcome_at", "outcome_note"]
    # Added keys come last: HQ reads the others.
    added = ["purpose", "visa_number", "visa_type", "request_id", "outcome_reason",
             "time_source", "time_uncertainty_s", "boot_id", "boot_s"]
    recorded = _record(kiosk, CLEAR_OKAFOR)
    # As recorded: in the order the row is written, seq drawn last; then why it was decided.
    assert list(recorded) == ["id", "post_id", "kiosk_id", "officer_id", "direction", "recorded_at", "training",
                              "document_source", *document, "document_checks", "screening", "decision", "note",
                              "unavailable", "seq", *outcome, "captures", "unavailable_reasons", *added,
                              "decision_reason", "repeat_of"]
    # As stored: in the crossings table's column order.
    stored = crossings.get(store, recorded["id"]).to_dict()
    assert list(stored) == ["id", "seq", "post_id", "kiosk_id", "officer_id", "direction", "recorded_at", "training",
                            "document_source", *document, "document_checks", "screening", "decision", "note",
                            *outcome, "unavailable", "captures", "unavailable_reasons", *added]
    assert {key: value for key, value in recorded.items() if key not in ("decision_reason", "repeat_of")} == stored
    # No face model on this kiosk: the face record says so rather than being left out.
    assert list(stored["screening"]) == ["hits", "lists", "stale", "warnings", "refer", "face"]
    assert stored["screening"]["face"]["reason"]["code"] == "face.no_model"
    assert list(stored["document_checks"]) == ["failed_checks", "expired", "problems", "reasons"]


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


# -- Partial dates of birth on a typed document ---------------------------------------------------

NOON = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)


def _typed(kiosk, birth_date, surname="KAMARA", given_names="FATOU", sex="F", now=NOON):
    store, config, officers = kiosk
    document = ManualDocument(document_number="CI8840021", issuing_state="UTO", surname=surname,
                              given_names=given_names, birth_date=birth_date, sex=sex, document_code="I")
    return crossings.record(store, config, officers.get("alice"),
                            CrossingRequest(direction="entry", document=document), now=now).to_dict()


# A card printing "XX/XX/1975" or "XX/03/1975"; this year and this month (November 2026)
# are not in the future.
@pytest.mark.parametrize("birth_date", ["1975", "1975-03", "2026", "2026-11", "1900"])
def test_a_partial_birth_date_is_recorded_as_typed(kiosk, birth_date):
    store = kiosk[0]
    before = _counts(store)
    crossing = _typed(kiosk, birth_date)
    assert crossing["birth_date"] == birth_date
    assert crossings.get(store, crossing["id"]).document.birth_date == birth_date
    assert _counts(store) == (before[0] + 1, before[1] + 1, before[2] + 1)
    # Screened like any other traveller: no hit, referred only because it was typed by hand.
    assert crossing["screening"]["hits"] == [] and crossing["decision"] == "referred"
    queued = json.loads(store.conn.execute("SELECT payload FROM outbox WHERE ref_id = ?",
                                           (crossing["id"],)).fetchone()[0])
    assert queued["birth_date"] == birth_date


FORMS = "manual document entry: birth_date must be YYYY-MM-DD, YYYY-MM or YYYY"


@pytest.mark.parametrize("birth_date, message", [
    ("1975-13", f"{FORMS} (got '1975-13'): the month must be 01-12"),
    ("1975-00", f"{FORMS} (got '1975-00'): the month must be 01-12"),
    ("75", f"{FORMS} (got '75')"),
    ("1975-3", f"{FORMS} (got '1975-3')"),
    ("03/1975", f"{FORMS} (got '03/1975')"),
    ("1975-02-30", f"{FORMS} (got '1975-02-30'): 1975-02 has no day 30"),
    ("1899", f"{FORMS} (got '1899'): the year must be 1900 or later"),
    ("2027", "manual document entry: birth_date 2027 is in the future"),
    ("2026-12", "manual document entry: birth_date 2026-12 is in the future"),
    ("2026-11-21", "manual document entry: birth_date 2026-11-21 is in the future"),
])
def test_a_bad_partial_birth_date_is_refused_with_its_reason_and_stores_nothing(kiosk, birth_date, message):
    before = _counts(kiosk[0])
    with pytest.raises(WorkflowError) as caught:
        _typed(kiosk, birth_date)
    assert str(caught.value) == message
    assert _counts(kiosk[0]) == before


def test_the_expiry_date_stays_a_full_date(kiosk):
    store, config, officers = kiosk
    document = ManualDocument(document_number="CI8840021", issuing_state="UTO", surname="KAMARA",
                              birth_date="1975", expiry_date="2030")
    before = _counts(store)
    with pytest.raises(WorkflowError, match=r"expiry_date must be a date YYYY-MM-DD \(got '2030'\)"):
        crossings.record(store, config, officers.get("alice"), CrossingRequest(direction="entry", document=document))
    assert _counts(store) == before


def test_a_birth_year_reaches_screening_and_finds_the_listed_full_date(kiosk):
    # DOE, JOHN is listed born 1980-01-01; his card gives only the year.
    crossing = _typed(kiosk, "1980", surname="DOE", given_names="JOHN", sex="M")
    assert crossing["birth_date"] == "1980" and crossing["decision"] == "referred"
    hit = crossing["screening"]["hits"][0]
    assert (hit["list"], hit["entry_id"], hit["score"]) == ("persons", "P-0001", 0.9)
    assert "birth date compatible (list: 1980-01-01, traveller: 1980)" in hit["explanation"]
    # Another year is no hit at the default threshold.
    assert _typed(kiosk, "1981", surname="DOE", given_names="JOHN", sex="M")["screening"]["hits"] == []


def test_technician_does_not_process_travellers(kiosk):
    with pytest.raises(Forbidden):
        _record(kiosk, CLEAR_OKAFOR, officer="tech")


def test_supervisor_resolves_a_referral_once(kiosk):
    store, _, officers = kiosk
    referred = _record(kiosk, PERSON_HIT_DOE)
    with pytest.raises(Forbidden):
        crossings.resolve(store, officers.get("alice"), referred["id"], "cleared", reason="not_the_listed_person",
                          four_eyes=True)
    resolved = crossings.resolve(store, officers.get("sam"), referred["id"], "refused", "identity confirmed",
                                 reason="listed_person_confirmed", four_eyes=True)
    assert resolved.outcome == "refused" and resolved.outcome_by == "sam"
    with pytest.raises(WorkflowError, match="already has outcome refused"):
        crossings.resolve(store, officers.get("sam"), referred["id"], "cleared", reason="not_the_listed_person",
                          four_eyes=True)
    cleared = _record(kiosk, CLEAR_OKAFOR)
    with pytest.raises(WorkflowError, match="not referred"):
        crossings.resolve(store, officers.get("sam"), cleared["id"], "refused", reason="listed_person_confirmed", four_eyes=True)
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
    assert [c.seq for c in crossings.list_crossings(kiosk[0])] == [4, 3, 2, 1]


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


def test_daily_statistics_count_partial_birth_dates(kiosk):
    store = kiosk[0]
    # Taken as 1 July 1997 (29 on 2026-11-20), 15 May 2008 (18) and 15 December 2008 (17).
    for birth_date in ("1997", "2008-05", "2008-12"):
        _typed(kiosk, birth_date)
    day, = stats.daily(store, date(2026, 11, 20), date(2026, 11, 20))
    assert day["total"] == 3
    assert day["by_age_band"] == {"0-17": 1, "18-29": 2, "30-44": 0, "45-59": 0, "60+": 0}


@pytest.mark.parametrize("birth_date, on, band", [
    # A year alone is taken as 1 July: 18 from 1 July 2026 on.
    ("2008", date(2026, 6, 30), "0-17"),
    ("2008", date(2026, 7, 1), "18-29"),
    # A year and month, as the 15th: 60 from 15 March 2026 on.
    ("1966-03", date(2026, 3, 14), "45-59"),
    ("1966-03", date(2026, 3, 15), "60+"),
    # A full date as it is.
    ("1996-11-21", date(2026, 11, 20), "18-29"),
    ("1996-11-20", date(2026, 11, 20), "30-44"),
    # Nothing usable: counted, as unknown.
    (None, date(2026, 11, 20), "unknown"),
    ("1975-02-30", date(2026, 11, 20), "unknown"),
    ("XX/XX/1975", date(2026, 11, 20), "unknown"),
])
def test_age_band_of_partial_birth_dates(birth_date, on, band):
    assert stats.age_band(birth_date, on) == band


# -- Face photos screened by the kiosk's own embedder ---------------------------------------------

FACE_ON_FILE = {"id": "P-FACE", "surname": "NOBODY", "given_names": "", "aliases": "", "birth_date": "", "sex": "",
                "nationality": "", "document_issuer": "", "document_number": "", "reason": "face on file"}


@pytest.fixture
def face_kiosk(config_path, face_models, store, officers, tmp_path):
    """A kiosk with the reference face models, a simulated camera over one file, and a persons
    list whose only entry is known by the embedding of photo A (as HQ would compute it)."""
    import secrets

    from appliance import config as config_module
    from appliance.inference.face_embedder import FaceEmbedder
    from appliance.lists.apply import apply_bundle
    from hq import lists as hq_lists

    from .conftest import with_screening
    from .samples import portrait_png

    private, public = tmp_path / "hq-list.key", tmp_path / "hq-list.pub"
    hq_lists.keygen(private, public)
    camera_dir = tmp_path / "camera"
    camera_dir.mkdir()
    with_screening(config_path, f'trusted_key = "{public}"\n'
                                f'face_embedder_model = "{face_models["embedder"]}"\n'
                                f'face_detector_model = "{face_models["detector"]}"\n'
                                f'[hardware.simulated]\ncamera_dir = "{camera_dir}"\n')
    config = config_module.load(config_path, environ={"KIOSK_SECURITY_BIOMETRIC_KEY": secrets.token_hex(32)})
    # HQ embeds the listed face with the same models the kiosk runs.
    listed = FaceEmbedder(face_models["embedder"], face_models["detector"]).embed(portrait_png()).vector
    bundle = hq_lists.publish("persons", "persons", "f1", [dict(FACE_ON_FILE, face=listed.tolist())],
                              hq_lists.load_private_key(private))
    apply_bundle(store, config, bundle)
    return store, config, officers, camera_dir


def _record_with_photo(face_kiosk, photo: bytes, **request):
    """Take a photo with the simulated camera (showing ``photo``), then record a clear traveller with it."""
    from appliance.workflow import biometrics
    from appliance.hw.camera_simulated import SimulatedCamera

    store, config, officers, camera_dir = face_kiosk
    (camera_dir / "traveller.png").write_bytes(photo)
    camera = SimulatedCamera.from_config(config.hardware)
    try:
        devices = type("Devices", (), {"camera": camera})()
        capture = biometrics.capture_photo(store, config, devices, officers.get("alice"))
    finally:
        camera.close()
    crossing = crossings.record(store, config, officers.get("alice"), CrossingRequest(
        direction="entry", mrz=CLEAR_OKAFOR, capture_ids=(capture["capture_id"],), **request))
    return crossing.to_dict(), capture["capture_id"]


def _outbox_kinds(store):
    return [row[0] for row in store.conn.execute("SELECT kind FROM outbox ORDER BY seq")]


def test_the_photo_taken_is_screened_by_face(face_kiosk):
    from appliance.inference import litert

    from .samples import portrait_png

    store, config = face_kiosk[:2]
    crossing, capture_id = _record_with_photo(face_kiosk, portrait_png())
    assert crossing["decision"] == "referred"
    [hit] = crossing["screening"]["hits"]
    assert (hit["list"], hit["entry_id"]) == ("persons", "P-FACE")
    assert hit["explanation"].startswith("face similarity 1.00 (threshold 0.60)")
    face = crossing["screening"]["face"]
    assert face["source"] == "photo" and face["capture_id"] == capture_id and "error" not in face
    assert face["model"] == {"embedder": litert.sha256(config.screening.face_embedder_model),
                             "detector": litert.sha256(config.screening.face_detector_model)}
    assert face["dim"] == 128 and len(face["face_box"]) == 4 and face["detector_score"] >= 0.5
    assert crossing["screening"]["warnings"] == []
    assert crossings.get(store, crossing["id"]).screening.to_dict()["face"] == face
    assert _outbox_kinds(store) == ["crossing", "capture", "alert"]


def test_another_face_is_no_hit(face_kiosk):
    from .samples import portrait_png

    other = portrait_png(background=(90, 140, 90), skin=(170, 120, 90), hair=(20, 20, 20), centre=(150, 210))
    crossing, _ = _record_with_photo(face_kiosk, other)
    assert crossing["decision"] == "cleared" and crossing["screening"]["hits"] == []
    assert crossing["screening"]["face"]["source"] == "photo" and "error" not in crossing["screening"]["face"]
    assert crossing["screening"]["lists"] == {"persons": "f1"}


@pytest.mark.parametrize("photo, reason, code", [
    ("undecodable", "face not screened: the photo cannot be decoded as JPEG or PNG", "face.photo_unreadable"),
    ("blank", "face not screened: no face found in the photo (best score 0.12 < 0.50)", "face.no_face"),
])
def test_a_photo_that_cannot_be_embedded_is_recorded_with_the_reason(face_kiosk, photo, reason, code):
    from .web_client import BrowserClient

    from appliance.web.app import create_app

    from .conftest import OFFICER_PIN
    from .samples import blank_png, undecodable_png

    store, config = face_kiosk[:2]
    data = undecodable_png() if photo == "undecodable" else blank_png()
    crossing, capture_id = _record_with_photo(face_kiosk, data)
    # Recorded as it would have been without a face: no hit, nothing referred, the capture
    # linked and queued; only the reason is added, for the officer and for HQ.
    assert crossing["decision"] == "cleared" and crossing["screening"]["hits"] == []
    [warning] = crossing["screening"]["warnings"]
    assert warning.startswith(reason)
    face = crossing["screening"]["face"]
    assert {key: face[key] for key in ("source", "capture_id", "error")} == {
        "source": "photo", "capture_id": capture_id, "error": warning.removeprefix("face not screened: ")}
    # The officer reads the code's text; the model's own words stay in ``error`` for HQ.
    assert face["reason"]["code"] == code and face["reason"]["text"] == REASONS[code].text
    assert face["threshold"] == config.screening.face_threshold and "model" not in face
    assert crossing["captures"] == [{"id": capture_id, "kind": "face"}]
    assert _outbox_kinds(store) == ["crossing", "capture"]
    queued = json.loads(store.conn.execute("SELECT payload FROM outbox WHERE kind = 'crossing'").fetchone()[0])
    assert queued["screening"]["face"]["error"] == crossing["screening"]["face"]["error"]
    client = BrowserClient(create_app(config, store))
    client.post("/login", data={"officer_id": "alice", "pin": OFFICER_PIN})
    page = client.get(f"/crossings/{crossing['id']}").text
    assert "Face not screened: " + REASONS[code].text in html.unescape(page)


def test_a_given_embedding_wins_over_the_photo(face_kiosk):
    from .samples import portrait_png

    rng = np.random.default_rng(3)
    stranger = rng.standard_normal(128).astype(np.float32)
    crossing, _ = _record_with_photo(face_kiosk, portrait_png(), face_embedding=tuple(stranger.tolist()))
    assert crossing["decision"] == "cleared" and crossing["screening"]["hits"] == []
    # The client's embedding was searched (not the photo's): how close the closest listed face came.
    face = crossing["screening"]["face"]
    assert set(face) == {"source", "best_similarity", "best_list"} and face["source"] == "request"
    assert face["best_list"] == "persons" and face["best_similarity"] < 0.5


def test_a_model_that_no_longer_loads_does_not_stop_the_crossing(face_kiosk, tmp_path):
    from .samples import portrait_png

    store, config = face_kiosk[:2]
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"overwritten by a failed copy")
    config.screening.face_embedder_model = broken
    crossing, _ = _record_with_photo(face_kiosk, portrait_png())
    assert crossing["decision"] == "cleared"
    assert crossing["screening"]["face"]["error"] == f"{broken} is not a TFLite model (no TFL3 file identifier): " \
                                                     "give a .tflite file"
    assert crossing["screening"]["face"]["reason"]["code"] == "face.model_unusable"
    assert store.conn.execute("SELECT count(*) FROM crossings").fetchone()[0] == 1


def test_without_an_embedder_the_photo_is_not_embedded(store, config, officers):
    from appliance.workflow import biometrics
    from appliance.hw.camera_simulated import SimulatedCamera

    camera = SimulatedCamera()
    capture = biometrics.capture_photo(store, config, type("Devices", (), {"camera": camera})(), officers.get("alice"))
    crossing = crossings.record(store, config, officers.get("alice"), CrossingRequest(
        direction="entry", mrz=CLEAR_OKAFOR, capture_ids=(capture["capture_id"],))).to_dict()
    face = crossing["screening"]["face"]
    assert face["reason"]["code"] == "face.no_model" and face["error"] == "no face model is installed on this kiosk"
    assert "embedding" not in face and "model" not in face and crossing["decision"] == "cleared"
    # The kiosk's own state, not this traveller's: on the result screen, not in the warnings HQ counts.
    assert not any(w.startswith("face not screened") for w in crossing["screening"]["warnings"])


def _republish_faces(face_kiosk, face_model, version):
    """HQ publishes the list's face again as a full bundle naming ``face_model``."""
    from appliance.inference.face_embedder import FaceEmbedder
    from appliance.lists.apply import apply_bundle
    from hq import lists as hq_lists

    from .samples import portrait_png

    store, config = face_kiosk[:2]
    listed = FaceEmbedder(config.screening.face_embedder_model, config.screening.face_detector_model) \
        .embed(portrait_png()).vector
    key = hq_lists.load_private_key(config.screening.trusted_key.parent / "hq-list.key")
    apply_bundle(store, config, hq_lists.publish("persons", "persons", version, [dict(FACE_ON_FILE,
                 face=listed.tolist())], key, face_model=face_model))


def test_a_list_naming_the_kiosks_model_is_screened_by_face_as_before(face_kiosk):
    from appliance.inference import litert

    from .samples import portrait_png

    config = face_kiosk[1]
    _republish_faces(face_kiosk, litert.sha256(config.screening.face_embedder_model), "f2")
    crossing, _ = _record_with_photo(face_kiosk, portrait_png())
    assert crossing["decision"] == "referred"
    assert [(h["list"], h["entry_id"]) for h in crossing["screening"]["hits"]] == [("persons", "P-FACE")]
    assert crossing["screening"]["warnings"] == [] and "skipped_lists" not in crossing["screening"]["face"]


@pytest.mark.parametrize("policy, decision", [("warn", "cleared"), ("refer", "referred")])
def test_a_list_of_another_face_model_is_not_searched_and_the_officer_is_told(face_kiosk, policy, decision):
    from .web_client import BrowserClient

    from appliance.web.app import create_app
    from appliance.inference import face_embedder, litert

    from .conftest import OFFICER_PIN
    from .samples import portrait_png

    store, config = face_kiosk[:2]
    config.screening.face_model_mismatch = policy
    listed_by = "b" * 64  # the same vector, said to come from another model: it must not be compared
    _republish_faces(face_kiosk, listed_by, "f2")
    crossing, _ = _record_with_photo(face_kiosk, portrait_png())
    ours = litert.sha256(config.screening.face_embedder_model)
    warning = (f"face not screened against list persons: its faces were embedded by model {listed_by[:12]}, "
               f"this kiosk's photo by {ours[:12]}")
    assert crossing["screening"]["hits"] == [] and crossing["screening"]["warnings"] == [warning]
    assert crossing["screening"]["face"]["skipped_lists"] == [{"list": "persons", "face_model": listed_by}]
    assert crossing["screening"]["face"]["model"]["embedder"] == ours
    assert crossing["decision"] == decision
    if policy == "refer":
        assert crossing["decision_reason"] == warning + ": the face-model policy refers the traveller to secondary"
    else:
        assert crossing["screening"]["refer"] is None
    client = BrowserClient(create_app(config, store))
    client.post("/login", data={"officer_id": "alice", "pin": OFFICER_PIN})
    page = client.get(f"/crossings/{crossing['id']}").text
    assert "Face not screened against list persons: its faces come from another face model" in page
    # A client's embedding is of unknown model: that list is searched as before.
    given, _ = _record_with_photo(face_kiosk, portrait_png(), face_embedding=tuple(
        face_embedder.for_settings(config.screening).embed(portrait_png()).vector.tolist()))
    assert [h["entry_id"] for h in given["screening"]["hits"]] == ["P-FACE"]
    assert given["screening"]["warnings"] == []
