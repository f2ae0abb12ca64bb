"""What the workflow, the face model and a kept crossing say, as a French-speaking officer reads it.

Three places used to show the kiosk's own English in French: the face model's error (a photo
hint and "Face not screened: ..."), the workflow's message inside "The crossing was NOT
recorded: ...", and a kept crossing's stored reason for a missing capture when it is not one
of the reason buttons. Each now comes as a reason code with parameters and is said in the
officer's language; the stored record and the API answer keep the English text.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from appliance.storage.officers import Officers
from appliance.workflow import biometrics, drafts

from .conftest import OFFICER_PIN
from .face_pack import built_pack
from .samples import CLEAR_OKAFOR, undecodable_png
from .test_reasons import ENGLISH
from .ui.fixtures import check_screen, login, page, ui_kiosk  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PHOTO_UNREADABLE_FR = "la photo n'est pas une image lisible : reprenez-la"


def _start_crossing(page, ui_kiosk) -> None:
    """A French-speaking officer starts an entry and the reader reads a clear traveller's passport."""
    page.goto("/login?lang=fr")
    login(page, "alice", OFFICER_PIN)
    with ui_kiosk.store.lock:
        ui_kiosk.store.conn.execute("DELETE FROM drafts")
    page.goto("/crossing?direction=entry")
    expect(page.locator("#reader-status")).to_be_visible()
    page.wait_for_timeout(2200)  # a reader call of an earlier page times out first
    ui_kiosk.present(CLEAR_OKAFOR)
    expect(page.locator("#doc-next")).to_be_enabled()
    page.locator("#doc-next").click()
    expect(page.locator("#step-photo")).to_be_visible()


def _fingerprint_and_purpose(page) -> None:
    page.locator("#fingerprint-take").click()
    expect(page.locator("#fingerprint-accept")).to_be_enabled(timeout=8000)
    page.locator("#fingerprint-accept").click()
    page.locator('[data-purpose="tourism"]').click()


def test_a_photo_the_face_model_cannot_read_is_told_in_french_on_the_photo_and_the_result(page, ui_kiosk,
                                                                                          tmp_path):
    # The installed face pack, and a camera whose image has a PNG header over junk: the camera
    # takes it, the face model cannot decode it.
    camera = ui_kiosk.devices.camera
    (tmp_path / "junk.png").write_bytes(undecodable_png())
    ui_kiosk.config.screening.face_pack = built_pack()
    camera.directory = tmp_path
    try:
        _start_crossing(page, ui_kiosk)
        page.locator("#photo-take").click()
        expect(page.locator("#photo-hints")).to_contain_text(PHOTO_UNREADABLE_FR)
        hints = page.locator("#photo-hints").inner_text()
        # The photo's own quick check and the face model's, both in French.
        expect(page.locator("#photo-hints")).to_contain_text("photo illisible : reprenez-la")
        assert not ENGLISH.search(hints), hints
        check_screen(page, "90-fr-photo-face-model-cannot-read", fits=False)
        page.locator("#photo-accept").click()
        _fingerprint_and_purpose(page)
        expect(page).to_have_url(re.compile(r"/crossings/.+\?new=1$"))
        expect(page.locator("#face-not-screened")).to_have_text(f"Visage non contrôlé : {PHOTO_UNREADABLE_FR}")
        check_screen(page, "91-fr-result-face-not-screened-unreadable")
    finally:
        ui_kiosk.config.screening.face_pack = None
        camera.directory = None
    crossing_id = re.search(r"/crossings/([0-9a-f-]{36})", page.url).group(1)
    [stored] = [item for item in ui_kiosk.crossings() if item["id"] == crossing_id]
    face = stored["screening"]["face"]
    # HQ and a technician keep the model's own words beside the code.
    assert face["reason"] == {"code": "face.photo_unreadable", "params": {},
                              "text": "the photo cannot be read as an image: retake it"}
    assert face["error"].startswith("the photo cannot be decoded as JPEG or PNG")
    assert stored["screening"]["warnings"] == [f"face not screened: {face['error']}"]


def test_a_crossing_whose_photo_was_purged_is_not_recorded_and_says_why_in_french(page, ui_kiosk):
    _start_crossing(page, ui_kiosk)
    page.locator("#photo-take").click()
    expect(page.locator("#photo-accept")).to_be_enabled()
    page.locator("#photo-accept").click()
    # Housekeeping purges captures no crossing claimed (the officer was away too long).
    assert biometrics.purge_unlinked(ui_kiosk.store, older_than=timedelta(0)) >= 1
    count = len(ui_kiosk.crossings())
    with page.expect_response(lambda response: response.url.endswith("/api/crossings")) as answer:
        _fingerprint_and_purpose(page)
    expect(page.locator("#record-status")).to_have_text(
        "Le passage n'a PAS été enregistré : une photo ou une empreinte de ce passage n'est plus sur le kiosque "
        "(gardée trop longtemps, ou prise sur un autre kiosque) : reprenez-la")
    expect(page.locator("#record-retry")).to_be_visible()
    check_screen(page, "92-fr-record-refused-capture-purged", fits=False)
    # The API keeps the workflow's English and gives the code beside it.
    body = answer.value.json()
    assert answer.value.status == 422 and body["kind"] == "WorkflowError"
    assert body["error"].startswith("unknown capture ") and body["error"].endswith("(expired, or taken on another kiosk?)")
    assert body["reason"]["code"] == "record.capture_unknown"
    assert len(ui_kiosk.crossings()) == count


def test_the_fingerprint_modules_notes_are_told_in_french(page, ui_kiosk):
    _start_crossing(page, ui_kiosk)
    page.locator("#photo-take").click()
    expect(page.locator("#photo-accept")).to_be_enabled()
    page.locator("#photo-accept").click()
    # The first image is smudged; the module reads the finger at its second attempt.
    ui_kiosk.devices.fingerprint.simulator.image_results.append(0x06)
    page.locator("#fingerprint-take").click()
    expect(page.locator("#fingerprint-accept")).to_be_enabled(timeout=8000)
    hints = page.locator("#fingerprint-hints")
    expect(hints).to_contain_text("image brouillée : essuyez la vitre et le doigt, puis appuyez à plat")
    expect(hints).to_contain_text("lue à la tentative 2 sur ")
    assert not ENGLISH.search(hints.inner_text()), hints.inner_text()
    check_screen(page, "94-fr-fingerprint-notes", fits=False)


@pytest.mark.parametrize("stored, shown", [
    ("photo capture is not installed on this kiosk", "Indisponible : La capture « photo » n'est pas installée sur cette borne"),
    ("device unavailable: no camera", "Indisponible : appareil indisponible : pas de caméra"),
])
def test_a_kept_crossings_missing_photo_reason_is_told_in_french_when_it_is_reopened(page, ui_kiosk, stored, shown):
    page.goto("/login?lang=fr")
    login(page, "alice", OFFICER_PIN)
    # Kept at the photo step with a reason no button gives (the kiosk said it had no camera).
    drafts.save(ui_kiosk.store, _officer(ui_kiosk, "alice"),
                {"direction": "entry", "step": "photo", "mode": "reader", "mrz": CLEAR_OKAFOR, "document": None,
                 "captures": {}, "unavailable": {"photo": stored}})
    page.goto("/crossing?direction=entry")
    expect(page.locator("#step-photo")).to_be_visible()
    expect(page.locator("#photo-status")).to_have_text(shown)
    check_screen(page, "93-fr-draft-photo-reason", fits=False)
    with ui_kiosk.store.lock:
        ui_kiosk.store.conn.execute("DELETE FROM drafts")


def _officer(ui_kiosk, officer_id: str):
    return Officers(ui_kiosk.store, ui_kiosk.config.security).get(officer_id)


def test_the_record_call_answers_a_refusal_with_its_code_in_the_officers_language(ui_kiosk):
    # The same refusal in English and in French: the error and the code stay, the message follows the cookie.
    client = TestClient(ui_kiosk.app)
    token = client.post("/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN}).json()["token"]
    client.headers["Authorization"] = f"Bearer {token}"
    body = {"direction": "entry", "mrz": CLEAR_OKAFOR, "capture_ids": ["0" * 32]}
    english = client.post("/api/crossings", json=body)
    client.cookies.set("kiosk_lang", "fr")
    french = client.post("/api/crossings", json=body)
    assert english.status_code == french.status_code == 422
    assert english.json()["error"] == french.json()["error"] == (
        f"unknown capture {'0' * 32!r} (expired, or taken on another kiosk?)")
    assert english.json()["reason"] == french.json()["reason"] == {
        "code": "record.capture_unknown", "params": {},
        "text": "a photo or fingerprint of this crossing is no longer on the kiosk (kept too long, or taken on "
                "another kiosk): take it again"}
    assert english.json()["message"] == english.json()["reason"]["text"]
    assert french.json()["message"].startswith("une photo ou une empreinte de ce passage n'est plus sur le kiosque")
    # A purpose the kiosk no longer offers: its own word, said in French.
    refused = client.post("/api/crossings", json={"direction": "entry", "mrz": CLEAR_OKAFOR, "purpose": "pilgrimage"})
    assert refused.status_code == 422 and refused.json()["reason"]["code"] == "record.purpose"
    assert refused.json()["message"] == "le motif 'pilgrimage' n'est plus proposé sur ce kiosque : choisissez à nouveau"
