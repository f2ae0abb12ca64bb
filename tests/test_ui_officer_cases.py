"""The touchscreen's exceptions in Debian's Chromium: document problems, French reasons, long names,
the supervisor's decision, open referrals, unlocking, and a crossing in progress kept.

Each test drives the real app as an officer would (on-screen keys only) at 800x480, and
screenshots every screen it checks (also at 1024x600 and in French where it says so).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from appliance.domain import mrz
from appliance.workflow.crossings import get

from .conftest import OFFICER_PIN, SUPERVISOR_PIN
from .samples import PERSON_HIT_DOE
from .ui.fixtures import LARGE, SMALL, check_screen, login, page, tap_keys, ui_kiosk  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EXPIRED_PASSPORT = mrz.compose("TD3", document_number="XP1234567", surname="NDIAYE", given_names="AWA",
                               issuing_state="UTO", nationality="UTO", birth_date="1988-04-02",
                               expiry_date="2021-06-30", sex="F")


def _recorded_id(page) -> str:
    match = re.search(r"/crossings/([0-9a-f-]{36})", page.url)
    assert match, page.url
    return match.group(1)


def _french(page) -> None:
    page.goto("/login?lang=fr")
    expect(page.locator("html")).to_have_attribute("lang", "fr")


def _skip_captures(page, reason: str = "traveller refused") -> None:
    for kind in ("photo", "fingerprint"):
        expect(page.locator(f"#step-{kind}")).to_be_visible()
        page.locator(f"#{kind}-skip").click()
        page.locator(f'#{kind}-reasons [data-reason="{reason}"]').click()


def _type_mrz(page, text: str) -> None:
    page.locator("#doc-manual").click()
    tap_keys(page, "kb-mrz", text)


# -- 1. Document problems on the document step ------------------------------------------

@pytest.mark.parametrize("viewport,suffix", [(SMALL, ""), (LARGE, "-1024")])
def test_an_expired_passport_says_so_on_the_document_step(browser, ui_kiosk, viewport, suffix):
    context = browser.new_context(viewport=viewport, base_url=ui_kiosk.url)
    page = context.new_page()
    try:
        login(page, "alice", OFFICER_PIN)
        page.locator("#new-entry").click()
        ui_kiosk.present(EXPIRED_PASSPORT)
        expect(page.locator("#doc-name")).to_have_text("NDIAYE, AWA")
        # Every check digit is right, and the problem is said apart from them, before any capture.
        expect(page.locator("#doc-checks li.ok")).to_have_count(4)
        expect(page.locator("#doc-problems")).to_be_visible()
        expect(page.locator("#doc-problems li")).to_have_text(["document expired on 2021-06-30"])
        expect(page.locator("#reader-status")).to_have_text("Document problem (below): the traveller will be referred.")
        check_screen(page, f"70-expired-passport{suffix}")
    finally:
        context.close()


def test_typed_fields_of_an_expired_document_are_not_all_valid(page, ui_kiosk):
    login(page, "alice", OFFICER_PIN)
    page.locator("#new-entry").click()
    page.locator("#doc-fields").click()
    tap_keys(page, "kb-fields", "SOW")
    page.locator("#f-document_number").click()
    tap_keys(page, "kb-fields", "ID100200")
    page.locator("#f-issuing_state").click()
    tap_keys(page, "kb-fields", "UTO")
    page.locator("#f-expiry_date").click()
    tap_keys(page, "kb-fields", "20200115")
    expect(page.locator("#doc-next")).to_be_enabled()
    expect(page.locator("#field-message")).to_have_text(
        "All fields are valid, but: document expired on 2020-01-15. The traveller will be referred.")
    expect(page.locator("#field-message")).to_have_class(re.compile(r"\bbad\b"))
    check_screen(page, "71-fields-expired")
    # The typed MRZ of the same kind of document says it too.
    page.locator("#doc-manual").click()
    tap_keys(page, "kb-mrz", EXPIRED_PASSPORT)
    expect(page.locator("#mrz-message")).to_contain_text("Document problem: document expired on 2021-06-30")
    check_screen(page, "72-mrz-expired")


# -- 2. The reasons in the officer's language --------------------------------------------

def test_in_french_the_reasons_that_matter_are_french(page, ui_kiosk):
    _french(page)
    login(page, "alice", OFFICER_PIN)
    page.locator("#new-entry").click()
    # The typed-MRZ help is French while the MRZ is incomplete.
    _type_mrz(page, "P<UTO")
    expect(page.locator("#mrz-message")).to_contain_text("1 ligne de 5 caractères")
    page.locator("#kb-mrz [data-action=clear]").click()
    tap_keys(page, "kb-mrz", EXPIRED_PASSPORT)
    expect(page.locator("#mrz-message")).to_contain_text("document périmé depuis le 2021-06-30")
    check_screen(page, "73-mrz-expired-fr")
    page.locator("#kb-mrz [data-action=clear]").click()
    tap_keys(page, "kb-mrz", PERSON_HIT_DOE)
    page.locator("#doc-next").click()
    _skip_captures(page, "device not working")
    expect(page.locator("#verdict h1")).to_have_text(re.compile("ALERTE"))
    hit = page.locator("#hits li").first
    expect(hit).to_contain_text("Liste personnes")
    expect(hit).to_contain_text("nom et prénoms identiques")
    expect(hit).to_contain_text("date de naissance identique")
    expect(hit).to_contain_text("motif du signalement")
    expect(page.locator(".unavailable").first).to_contain_text("appareil en panne")
    for english in ("equal", "listed for", "birth date", "device not working", "List persons"):
        expect(page.locator("#result-details")).not_to_contain_text(english)
    check_screen(page, "74-result-hit-fr")
    stored = get(ui_kiosk.store, _recorded_id(page)).to_dict()
    # The stored crossing (and HQ) keep the English text and the codes beside it.
    [first] = [hit for hit in stored["screening"]["hits"] if hit["entry_id"] == "P-0001"]
    assert "surname and given names equal" in first["explanation"]
    assert {"name.equal", "birth_date.equal", "hit.listed_for"} <= {item["code"] for item in first["reasons"]}
    assert stored["unavailable"] == {"photo": "device not working", "fingerprint": "device not working"}
    assert stored["unavailable_reasons"]["photo"]["code"] == "unavailable.device_not_working"
