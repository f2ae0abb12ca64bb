"""A failing device, as a French-speaking officer meets it: plain words in their language, the device's own for a technician.

The simulated camera, fingerprint module and reader fail as the real ones do (a scripted
capture failure, no finger on the glass, a closed reader); the officer's screens say what
happened and what to do, chosen from the device and the error's kind, and never show the
device's own text, which the kiosk's log and the diagnostics screen keep.
"""

from __future__ import annotations

import logging
import re

import pytest
from playwright.sync_api import expect

from .conftest import OFFICER_PIN
from .samples import CLEAR_OKAFOR
from .ui.fixtures import SMALL, check_screen, login, page, ui_kiosk  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# What the simulated devices say about themselves: English, technical, for a technician.
CAMERA_TEXT = "sensor timeout 0x1f on csi-2 lane 1"
LIVE_VIEW_TEXT = "lens covered"


def _body_text(page) -> str:
    return page.locator("body").inner_text()


def test_a_failing_camera_and_fingerprint_module_are_told_in_french_without_their_own_words(page, ui_kiosk, caplog):
    caplog.set_level(logging.WARNING, logger="appliance.web.errors")
    camera, module = ui_kiosk.devices.camera, ui_kiosk.devices.fingerprint.simulator
    page.goto("/login?lang=fr")
    login(page, "alice", OFFICER_PIN)
    page.goto("/crossing?direction=entry")
    expect(page.locator("#reader-status")).to_be_visible()
    page.wait_for_timeout(2200)  # a reader call of an earlier page times out first
    ui_kiosk.present(CLEAR_OKAFOR)
    expect(page.locator("#doc-next")).to_be_enabled()

    # The live view's first frame fails.
    camera.fail_next(LIVE_VIEW_TEXT)
    page.locator("#doc-next").click()
    expect(page.locator("#photo-live-status")).to_have_text("Pas d'image en direct : la caméra ne répond pas.")
    assert LIVE_VIEW_TEXT not in _body_text(page)
    check_screen(page, "80-fr-photo-live-view-fails")
    page.wait_for_function("() => Number(document.getElementById('photo-live').dataset.frames) >= 1", timeout=8000)

    # The photo itself fails: a plain sentence, what to do, and the step can go on.
    camera.fail_next(CAMERA_TEXT)
    page.locator("#photo-take").click()
    expect(page.locator("#photo-status")).to_have_text(
        "La caméra n'a pas pris de photo : réessayez, ou dites pourquoi il n'y en a pas.")
    expect(page.locator("#photo-accept")).to_be_enabled()
    assert CAMERA_TEXT not in _body_text(page) and "camera unavailable" not in _body_text(page)
    check_screen(page, "81-fr-photo-capture-fails")
    page.locator("#photo-accept").click()

    # No finger on the glass before the module's timeout.
    module.finger = False
    try:
        expect(page.locator("#step-fingerprint")).to_be_visible()
        page.locator("#fingerprint-take").click()
        expect(page.locator("#fingerprint-status")).to_have_text(
            "Aucune empreinte lue : demandez au voyageur de poser un doigt à plat sur la vitre, puis réessayez.",
            timeout=8000)
    finally:
        module.finger = True
    assert "sensor" not in _body_text(page) and "glass" not in _body_text(page)
    check_screen(page, "82-fr-fingerprint-fails")
    page.locator("#fingerprint-accept").click()
    page.locator('[data-purpose="tourism"]').click()

    # Recorded with the reason an officer would give, which the result screen says in French.
    expect(page).to_have_url(re.compile(r"/crossings/.+\?new=1$"))
    crossing_id = re.search(r"/crossings/([0-9a-f-]{36})", page.url).group(1)
    [stored] = [item for item in ui_kiosk.crossings() if item["id"] == crossing_id]
    assert stored["unavailable"] == {"photo": "device not working", "fingerprint": "device not working"}
    expect(page.locator(".unavailable").first).to_contain_text("appareil en panne")
    text = _body_text(page)
    assert CAMERA_TEXT not in text and "device unavailable" not in text and "finger on" not in text

    # The technician's places keep the device's own words: the log, and diagnostics.
    logged = [record.getMessage() for record in caplog.records if record.name == "appliance.web.errors"]
    assert any(CAMERA_TEXT in line and "/api/captures/photo" in line for line in logged), logged
    assert any(LIVE_VIEW_TEXT in line and "/ui/camera/preview" in line for line in logged), logged
    assert any("no finger on the fingerprint sensor" in line for line in logged), logged
    page.goto("/diagnostics")
    expect(page.locator("#devices")).to_contain_text(f"last capture failed: {CAMERA_TEXT}")


def test_a_reader_that_stops_working_is_told_in_french_and_the_mrz_is_typed(browser, ui_kiosk):
    # A context of its own: the reader's 503 is what this test is about, not a page error.
    # Run last in this module: the reader stays closed.
    context = browser.new_context(viewport=SMALL, base_url=ui_kiosk.url)
    page = context.new_page()
    try:
        page.goto("/login?lang=fr")
        login(page, "alice", OFFICER_PIN)
        with ui_kiosk.store.lock:
            ui_kiosk.store.conn.execute("DELETE FROM drafts")
        ui_kiosk.devices.mrz_reader.close()
        page.goto("/crossing?direction=entry")
        expect(page.locator("#reader-status")).to_have_text(
            "Le lecteur de documents ne fonctionne pas : saisissez la MRZ.")
        expect(page.locator("#reader-status")).to_have_class(re.compile(r"\bbad\b"))
        assert "closed" not in _body_text(page) and "simulated" not in _body_text(page)
        # Straight to typing the MRZ, and the officer reads why under the typing box.
        expect(page.locator("#kb-mrz")).to_be_visible()
        expect(page.locator("#mrz-message")).to_be_visible()
        expect(page.locator("#mrz-message")).to_have_text("Le lecteur de documents ne fonctionne pas : saisissez la MRZ.")
        check_screen(page, "83-fr-reader-fails")
    finally:
        context.close()
