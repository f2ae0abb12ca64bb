"""The touchscreen in Debian's Chromium against the real app: whole crossings, lockout, language, layout.

Every screen is screenshotted (artefacts in $KIOSK_TEST_ARTIFACTS, default tests/artifacts/)
and checked for accessibility (axe-core's WCAG 2.0/2.1 A and AA rules, and tests/ui/a11y.js:
names, contrast, 48 px touch targets) and, on the main flow, for content that would need
scrolling at 800x480.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from appliance.workflow.crossings import get

from .conftest import OFFICER_PIN, SUPERVISOR_PIN
from .samples import CLEAR_OKAFOR, PERSON_HIT_DOE
from .ui.fixtures import (LARGE, LOCKME_PIN, SMALL, TECH_PIN, check_screen, login, page,  # noqa: F401
                          tap_keys, ui_kiosk)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _crossing(ui_kiosk, crossing_id: str) -> dict:
    """The stored crossing's JSON, as the API answers it."""
    return get(ui_kiosk.store, crossing_id).to_dict()


def _recorded_id(page) -> str:
    match = re.search(r"/crossings/([0-9a-f-]{36})", page.url)
    assert match, page.url
    return match.group(1)


def _capture(page, kind: str, prefix: str) -> None:
    """Take the photo or fingerprint and check the quality feedback, then go on."""
    expect(page.locator(f"#step-{kind}")).to_be_visible()
    page.locator(f"#{kind}-take").click()
    expect(page.locator(f"#{kind}-status")).to_have_text(re.compile("Quality is (good|poor)"))
    expect(page.locator(f"#{kind}-take")).to_have_text("Retake")
    if kind == "photo":
        expect(page.locator("#photo-preview")).to_have_attribute("src", re.compile("^data:image/"))
    check_screen(page, f"{prefix}-{kind}")
    page.locator(f"#{kind}-accept").click()


def test_clear_traveller_whole_flow(page, ui_kiosk):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    check_screen(page, "01-login")
    login(page, "alice", OFFICER_PIN)
    expect(page.locator("#new-entry")).to_be_visible()
    expect(page.locator("#battery")).to_contain_text("76")
    expect(page.locator("#uplink")).to_contain_text("offline")
    expect(page.locator("#lists")).to_contain_text("Lists")
    check_screen(page, "02-home")

    page.locator("#new-entry").click()
    expect(page.locator("#reader-status")).to_have_text("Place the document on the reader…")
    expect(page.locator(".progress li.current")).to_contain_text("Document")
    check_screen(page, "03-scan-waiting")
    ui_kiosk.present(CLEAR_OKAFOR)
    expect(page.locator("#doc-name")).to_have_text("OKAFOR, CHIDI")
    expect(page.locator("#doc-checks li.bad")).to_have_count(0)
    expect(page.locator("#doc-checks li.ok")).to_have_count(4)
    check_screen(page, "04-scan-read")
    page.locator("#doc-next").click()

    _capture(page, "photo", "05-clear")
    _capture(page, "fingerprint", "05-clear")
    # The result step asks the purpose of travel: one tap records.
    expect(page.locator("#step-purpose")).to_be_visible()
    check_screen(page, "05-clear-purpose")
    page.locator('[data-purpose="tourism"]').click()

    expect(page).to_have_url(re.compile(r"/crossings/.+\?new=1$"))
    expect(page.locator("#verdict")).to_have_class(re.compile("verdict-cleared"))
    expect(page.locator("#verdict h1")).to_have_text("Cleared")
    check_screen(page, "06-result-cleared")

    stored = _crossing(ui_kiosk, _recorded_id(page))
    assert stored["decision"] == "cleared" and stored["surname"] == "OKAFOR"
    assert stored["direction"] == "entry" and stored["officer_id"] == "alice"
    assert sorted(capture["kind"] for capture in stored["captures"]) == ["face", "fingerprint"]
    assert stored["unavailable"] == {}

    page.locator("#next-traveller").click()
    expect(page.locator("#reader-status")).to_have_text("Place the document on the reader…")
    page.locator("#cancel-document").click()
    expect(page.locator("#go-history")).to_be_visible()


def test_watchlist_hit_typed_by_hand_and_supervisor_refuses(page, ui_kiosk):
    login(page, "alice", OFFICER_PIN)
    page.locator("#new-exit").click()
    page.locator("#doc-manual").click()
    expect(page.locator("#manual")).to_be_visible()
    line1, line2 = PERSON_HIT_DOE.split("\n")
    wrong = line2[:-1] + str((int(line2[-1]) + 1) % 10)
    # Typed on the on-screen MRZ keyboard, with a wrong last (composite) check digit.
    tap_keys(page, "kb-mrz", line1 + "\n" + wrong)
    expect(page.locator('#mrz-checks li[data-check="composite"]')).to_have_class("bad")
    expect(page.locator('#mrz-checks li[data-check="document_number"]')).to_have_class("ok")
    expect(page.locator('#mrz-checks li[data-check="birth_date"]')).to_have_class("ok")
    check_screen(page, "10-manual-mrz-bad-digit")
    page.locator("#kb-mrz [data-action=backspace]").click()
    tap_keys(page, "kb-mrz", line2[-1])
    expect(page.locator("#mrz-checks li.bad")).to_have_count(0)
    expect(page.locator("#mrz-message")).to_contain_text("DOE, JOHN")
    check_screen(page, "11-manual-mrz-ok")
    page.locator("#doc-next").click()

    # No photo: the traveller refuses, and the reason is recorded.
    expect(page.locator("#step-photo")).to_be_visible()
    page.locator("#photo-skip").click()
    check_screen(page, "12-hit-photo-reasons")
    page.locator('#photo-reasons [data-reason="traveller refused"]').click()
    # The fingerprint module finds no finger: the step says why and offers a retake.
    scanner = ui_kiosk.devices.fingerprint
    scanner.simulator.finger = False
    page.locator("#fingerprint-take").click()
    expect(page.locator("#fingerprint-status")).to_have_text(
        "No fingerprint was read: ask the traveller to press one finger flat on the glass, then try again.")
    check_screen(page, "12-hit-fingerprint-failed")
    scanner.simulator.finger = True
    page.locator("#fingerprint-take").click()
    expect(page.locator("#fingerprint-status")).to_have_text(re.compile("Quality is (good|poor)"))
    page.locator("#fingerprint-accept").click()
    page.locator('[data-purpose="business"]').click()

    expect(page.locator("body")).to_have_class("alert")
    expect(page.locator("#verdict h1")).to_have_text("ALERT: watchlist hit")
    expect(page.locator("#verdict")).to_contain_text("Refer to a supervisor")
    expect(page.locator("#hits li").first).to_contain_text("persons")
    expect(page.locator("body")).to_have_attribute("data-alarm", re.compile("on|unavailable"))
    check_screen(page, "13-result-hit")
    crossing_id = _recorded_id(page)
    stored = _crossing(ui_kiosk, crossing_id)
    assert stored["decision"] == "referred"
    assert stored["unavailable"] == {"photo": "traveller refused"}
    assert [capture["kind"] for capture in stored["captures"]] == ["fingerprint"]
    assert "pattern watchlist_hit" in ui_kiosk.devices.indicators.events

    page.locator("#open-supervisor").click()
    expect(page.locator("body")).to_have_attribute("data-alarm", "off")
    expect(page.locator("#supervisor")).to_be_visible()
    # The case beside the decision: the hit the supervisor decides on.
    expect(page.locator("#sup-case")).to_contain_text("DOE, JOHN")
    expect(page.locator("#sup-hits")).to_contain_text("P-0001")
    check_screen(page, "14-supervisor")
    page.locator("#outcome-refused").click()
    page.locator("#reason-listed_person_confirmed").click()
    page.locator("#sup-next").click()
    expect(page.locator("#sup-summary")).to_have_text("Refuse — The listed person, confirmed")
    expect(page.locator("#supervisor_id")).to_be_focused()
    tap_keys(page, "kb-sup-id", "sam")
    page.locator("#supervisor_pin").click()
    tap_keys(page, "kb-sup-pin", "000000")
    page.locator("#outcome-submit").click()
    expect(page.locator("#outcome-error")).to_have_text("Unknown supervisor ID or wrong PIN. Tries left: 2.")
    check_screen(page, "15-supervisor-wrong-pin")
    assert _crossing(ui_kiosk, crossing_id)["outcome"] is None

    # The supervisor ID and the decision are kept: only the PIN is typed again.
    expect(page.locator("#supervisor_id")).to_have_value("sam")
    expect(page.locator("#sup-summary")).to_have_text("Refuse — The listed person, confirmed")
    page.locator("#supervisor_pin").click()
    tap_keys(page, "kb-sup-pin", SUPERVISOR_PIN)
    page.locator("#outcome-submit").click()
    expect(page.locator("#verdict h1")).to_have_text("Outcome: Refused")
    expect(page.locator("#verdict")).to_contain_text("sam")
    check_screen(page, "16-result-refused")
    expect(page.locator("#outcome-reason-text")).to_have_text("Reason: The listed person, confirmed")
    stored = _crossing(ui_kiosk, crossing_id)
    assert (stored["outcome"], stored["outcome_by"], stored["direction"]) == ("refused", "sam", "exit")
    assert stored["outcome_reason"] == "listed_person_confirmed"


def _captures(ui_kiosk) -> int:
    with ui_kiosk.store.lock:
        return ui_kiosk.store.conn.execute("SELECT count(*) FROM captures").fetchone()[0]


def _frames(page) -> int:
    return int(page.locator("#photo-live").get_attribute("data-frames"))


def test_traveller_recorded_from_typed_fields_with_live_preview(page, ui_kiosk):
    login(page, "alice", OFFICER_PIN)
    page.locator("#new-entry").click()
    page.locator("#doc-fields").click()
    expect(page.locator("#doc-form")).to_be_visible()
    expect(page.locator("#f-surname")).to_be_focused()
    expect(page.locator("#doc-next")).to_be_disabled()
    check_screen(page, "60-fields-empty")

    # Typed with the on-screen keyboard, moving on with its "next field" key.
    next_field = page.locator("#kb-fields [data-action=next]")
    tap_keys(page, "kb-fields", "MBALLA")
    next_field.click()
    tap_keys(page, "kb-fields", "AMINA")
    next_field.click()
    expect(page.locator("#f-nationality")).to_be_focused()
    tap_keys(page, "kb-fields", "U2")
    expect(page.locator('[data-field="nationality"]')).to_have_class(re.compile(r"\bbad\b"))
    expect(page.locator("#f-nationality")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#field-message")).to_have_text("Nationality: An ICAO code of 1 to 3 letters, such as UTO or D.")
    check_screen(page, "61-fields-bad-nationality")
    page.locator("#kb-fields [data-action=backspace]").click()
    tap_keys(page, "kb-fields", "TO")
    expect(page.locator('[data-field="nationality"]')).not_to_have_class(re.compile(r"\bbad\b"))
    page.locator('#doc-form [data-sex="F"]').click()
    expect(page.locator('#doc-form [data-sex="F"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#f-nationality")).to_be_focused()  # the sex buttons leave the focus where it was

    page.locator("#f-document_number").click()
    tap_keys(page, "kb-fields", "ID4471203")
    next_field.click()
    tap_keys(page, "kb-fields", "I")
    next_field.click()
    tap_keys(page, "kb-fields", "UTO")
    next_field.click()
    tap_keys(page, "kb-fields", "19910714")  # the dashes come by themselves
    expect(page.locator("#f-birth_date")).to_have_value("1991-07-14")
    next_field.click()
    tap_keys(page, "kb-fields", "20310230")  # no 30 February
    expect(page.locator('[data-field="expiry_date"]')).to_have_class(re.compile(r"\bbad\b"))
    expect(page.locator("#field-message")).to_contain_text("Expiry date: Year-month-day")
    expect(page.locator("#doc-next")).to_be_disabled()
    check_screen(page, "62-fields-bad-date")
    page.locator("#kb-fields [data-action=backspace]").click()
    page.locator("#kb-fields [data-action=backspace]").click()
    tap_keys(page, "kb-fields", "28")
    expect(page.locator("#doc-next")).to_be_enabled()
    expect(page.locator("#doc-form .bad")).to_have_count(0)
    expect(page.locator("#field-message")).to_contain_text("the traveller will be referred")
    check_screen(page, "63-fields-ok")
    page.locator("#doc-next").click()

    # The live preview: the first frame fails (the camera is unavailable for a moment),
    # the step says so, then frames come a few times a second.
    captures = _captures(ui_kiosk)
    ui_kiosk.devices.camera.fail_next("lens covered")
    expect(page.locator("#step-photo")).to_be_visible()
    # In plain words: the camera's own ("camera unavailable: lens covered") is for the log and diagnostics.
    expect(page.locator("#photo-live-status")).to_have_text("No live view: the camera does not answer.")
    check_screen(page, "64-photo-preview-unavailable")
    page.wait_for_function("() => Number(document.getElementById('photo-live').dataset.frames) >= 3", timeout=8000)
    expect(page.locator("#photo-live")).to_be_visible()
    assert page.evaluate("() => document.getElementById('photo-live').naturalWidth") > 0
    expect(page.locator("#photo-live-status")).to_have_text("")
    check_screen(page, "64-photo-live")
    page.locator("#photo-take").click()
    expect(page.locator("#photo-status")).to_have_text(re.compile("Quality is (good|poor)"))
    expect(page.locator("#photo-preview")).to_be_visible()
    shown = _frames(page)
    page.wait_for_function(f"() => Number(document.getElementById('photo-live').dataset.frames) > {shown}")
    check_screen(page, "65-photo-live-and-taken")
    page.locator("#photo-accept").click()

    # Leaving the step stops the preview.
    expect(page.locator("#step-fingerprint")).to_be_visible()
    stopped = _frames(page)
    page.wait_for_timeout(1000)
    assert _frames(page) <= stopped + 1  # at most the frame already on its way
    settled = _frames(page)
    page.wait_for_timeout(700)
    assert _frames(page) == settled
    page.locator("#fingerprint-take").click()
    expect(page.locator("#fingerprint-status")).to_have_text(re.compile("Quality is (good|poor)"))
    page.locator("#fingerprint-accept").click()
    page.locator('[data-purpose="work"]').click()

    expect(page).to_have_url(re.compile(r"/crossings/.+\?new=1$"))
    expect(page.locator("#verdict h1")).to_have_text("Refer to supervisor")
    expect(page.locator("#problems")).to_contain_text("typed by hand")
    check_screen(page, "66-result-typed-fields")
    stored = _crossing(ui_kiosk, _recorded_id(page))
    assert stored["document_source"] == "manual" and stored["mrz"] is None
    assert {key: stored[key] for key in ("surname", "given_names", "nationality", "sex", "document_number",
                                         "document_code", "issuing_state", "birth_date", "expiry_date")} == {
        "surname": "MBALLA", "given_names": "AMINA", "nationality": "UTO", "sex": "F",
        "document_number": "ID4471203", "document_code": "I", "issuing_state": "UTO",
        "birth_date": "1991-07-14", "expiry_date": "2031-02-28"}
    assert stored["decision"] == "referred" and stored["direction"] == "entry"
    assert sorted(capture["kind"] for capture in stored["captures"]) == ["face", "fingerprint"]
    # Dozens of preview frames, and only the two captures were stored.
    assert _captures(ui_kiosk) == captures + 2


def _message_fits(page) -> bool:
    """The one line under the fields is shown whole (it is cut with an ellipsis otherwise)."""
    return page.evaluate("() => { const m = document.getElementById('field-message');"
                         " return m.scrollWidth <= m.clientWidth; }")


def test_a_year_only_birth_date_typed_on_the_fields_screen_is_recorded(page, ui_kiosk):
    # An identity card printing "XX/XX/1975": the officer types the year alone.
    login(page, "alice", OFFICER_PIN)
    page.locator("#new-entry").click()
    page.locator("#doc-fields").click()
    expect(page.locator("#f-surname")).to_be_focused()
    tap_keys(page, "kb-fields", "KAMARA")
    page.locator("#kb-fields [data-action=next]").click()
    tap_keys(page, "kb-fields", "FATOU")
    page.locator("#f-document_number").click()
    tap_keys(page, "kb-fields", "CI8840021")

    # The rule of the focused field says a partial date is taken.
    page.locator("#f-birth_date").click()
    rule = "Date of birth: 1980-05-31, or partial: 1980-05 or 1980; not in the future; empty if unknown."
    expect(page.locator("#field-message")).to_have_text(rule)
    # A month that does not exist is refused; the dashes come by themselves.
    tap_keys(page, "kb-fields", "197513")
    expect(page.locator("#f-birth_date")).to_have_value("1975-13")
    expect(page.locator('[data-field="birth_date"]')).to_have_class(re.compile(r"\bbad\b"))
    expect(page.locator("#f-birth_date")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#field-message")).to_have_text(rule)
    assert _message_fits(page), "the rule (in bold, as a refusal) is cut off at 800x480"
    # Deleting the month leaves the year, without a dangling dash, and it is valid.
    page.locator("#kb-fields [data-action=backspace]").click()
    expect(page.locator("#f-birth_date")).to_have_value("1975-1")
    page.locator("#kb-fields [data-action=backspace]").click()
    expect(page.locator("#f-birth_date")).to_have_value("1975")
    expect(page.locator('[data-field="birth_date"]')).not_to_have_class(re.compile(r"\bbad\b"))
    expect(page.locator("#f-birth_date")).not_to_have_attribute("aria-invalid", "true")

    page.locator("#f-issuing_state").click()
    tap_keys(page, "kb-fields", "UTO")
    expect(page.locator("#doc-next")).to_be_enabled()
    expect(page.locator("#doc-form .bad")).to_have_count(0)
    expect(page.locator("#field-message")).to_contain_text("the traveller will be referred")
    expect(page.locator("#f-birth_date")).to_have_value("1975")
    check_screen(page, "67-fields-year-only-birth-date")
    page.locator("#doc-next").click()

    for kind in ("photo", "fingerprint"):
        expect(page.locator(f"#step-{kind}")).to_be_visible()
        page.locator(f"#{kind}-skip").click()
        page.locator(f'#{kind}-reasons [data-reason="traveller refused"]').click()
    page.locator('[data-purpose="family"]').click()

    expect(page).to_have_url(re.compile(r"/crossings/.+\?new=1$"))
    expect(page.locator("#verdict h1")).to_have_text("Refer to supervisor")
    check_screen(page, "68-result-year-only-birth-date")
    stored = _crossing(ui_kiosk, _recorded_id(page))
    assert (stored["surname"], stored["given_names"], stored["birth_date"]) == ("KAMARA", "FATOU", "1975")
    assert stored["document_source"] == "manual" and stored["screening"]["hits"] == []
    assert stored["unavailable"] == {"photo": "traveller refused", "fingerprint": "traveller refused"}


def test_login_lockout_message(page, ui_kiosk):
    for attempt in range(2):
        login(page, "lockme", "999999"[:5] + str(attempt))
        expect(page.locator("#login-error")).to_have_text(
            f"Unknown officer ID or wrong PIN. Tries left before this ID is locked out: {2 - attempt}.")
    check_screen(page, "20-login-wrong-pin")
    login(page, "lockme", "888888")
    expect(page.locator("#login-error")).to_contain_text("locked out until")
    check_screen(page, "21-login-locked-out")
    # The right PIN does not help while the lockout lasts.
    login(page, "lockme", LOCKME_PIN)
    expect(page.locator("#login-error")).to_contain_text("locked out until")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_language_switch_to_french(page, ui_kiosk):
    page.goto("/login")
    page.locator("#lang-fr").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("label[for=officer_id]")).to_have_text("Identifiant d'agent")
    check_screen(page, "30-login-fr")
    login(page, "alice", OFFICER_PIN)
    expect(page.locator("#new-entry")).to_contain_text("Nouvelle entrée")
    expect(page.locator("#logout")).to_have_text("Déconnexion")
    expect(page.locator("#uplink")).to_contain_text("Liaison coupée")
    check_screen(page, "31-home-fr")
    page.locator("#new-entry").click()
    expect(page.locator("#reader-status")).to_have_text("Posez le document sur le lecteur…")
    check_screen(page, "32-scan-fr")
    page.locator("#doc-fields").click()
    expect(page.locator("label[for=f-surname]")).to_have_text("Nom *")
    expect(page.locator("label[for=f-issuing_state]")).to_have_text("État émetteur *")
    expect(page.locator("#field-message")).to_contain_text("Nom : Obligatoire")
    check_screen(page, "34-fields-fr")
    # The date of birth's rule, the longest, still fits on its line in French.
    page.locator("#f-birth_date").click()
    tap_keys(page, "kb-fields", "197513")
    expect(page.locator("#field-message")).to_have_text(
        "Date de naissance : 1980-05-31, ou partielle : 1980-05, 1980 ; pas future ; vide si inconnue.")
    expect(page.locator("#field-message")).to_have_class(re.compile(r"\bbad\b"))
    assert _message_fits(page), "the French rule is cut off at 800x480"
    page.locator("#cancel-document").click()
    page.locator("#logout").click()
    expect(page.locator("h1")).to_have_text("Connexion de l'agent")
    check_screen(page, "33-logged-out-fr")
    page.locator("#lang-en").click()
    expect(page.locator("h1")).to_have_text("Officer login")


def test_other_screens_and_roles(page, ui_kiosk):
    login(page, "alice", OFFICER_PIN)
    page.goto("/crossing")
    expect(page.locator("#step-direction")).to_be_visible()
    check_screen(page, "39-crossing-direction")
    page.goto("/history")
    expect(page.locator("table.list tbody tr").first).to_be_visible()
    check_screen(page, "40-history")
    page.locator("#q").click()
    tap_keys(page, "kb-search", "DOE")
    check_screen(page, "40-history-keyboard")
    page.locator("#search").click()
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    expect(page.locator("table.list")).to_contain_text("DOE, JOHN")
    check_screen(page, "40-history-search")
    page.locator(".rowlink").first.click()
    expect(page.locator("#verdict h1")).to_contain_text("Refused")
    check_screen(page, "40-history-result")
    page.goto("/stats")
    expect(page.locator("#chart-direction svg")).to_have_attribute("aria-label", re.compile(r"Entry \d+, Exit \d+"))
    check_screen(page, "41-stats")
    page.goto("/diagnostics")
    check_screen(page, "42-diagnostics-before-selftest", fits=False)
    page.locator("#run-selftest").click()
    expect(page.locator("#selftest")).to_be_visible()
    expect(page.locator("#devices")).to_contain_text("MRZ reader")
    check_screen(page, "42-diagnostics", fits=False)
    page.locator("#logout").click()
    expect(page.locator(".message.notice")).to_have_text("You are logged out.")
    check_screen(page, "43-logged-out")

    # A technician sees diagnostics but no crossing buttons, and cannot open the flow.
    login(page, "tech", TECH_PIN)
    expect(page.locator("#go-diagnostics")).to_be_visible()
    expect(page.locator("#new-entry")).to_have_count(0)
    check_screen(page, "44-home-technician")
    page.goto("/crossing?direction=entry")
    expect(page.locator("h1")).to_have_text("Not allowed")
    check_screen(page, "45-not-allowed")


def test_main_flow_fits_1024x600(browser, ui_kiosk):
    context = browser.new_context(viewport=LARGE, base_url=ui_kiosk.url)
    page = context.new_page()
    try:
        login(page, "alice", OFFICER_PIN)
        check_screen(page, "50-home-1024")
        page.locator("#new-entry").click()
        ui_kiosk.present(CLEAR_OKAFOR)
        expect(page.locator("#doc-next")).to_be_enabled()
        check_screen(page, "51-scan-1024")
        page.locator("#doc-rescan").click()
        page.locator("#doc-manual").click()
        check_screen(page, "52-manual-1024")
        page.locator("#doc-fields").click()
        expect(page.locator("#doc-form")).to_be_visible()
        expect(page.locator("#manual")).to_be_hidden()
        check_screen(page, "53-fields-1024")
    finally:
        context.close()


def test_a_page_without_a_session_goes_to_login(page, ui_kiosk):
    page.set_viewport_size(SMALL)
    for path in ("/", "/crossing?direction=entry", "/history", "/stats", "/diagnostics"):
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/login(\?.*)?$"))
    check_screen(page, "46-login-without-session")


def test_screen_check_reports_axe_violations(page):
    # The checker itself: a page breaking axe-core rules fails with rule, impact, target and screen.
    page.set_content('<html><head><title>x</title></head><body><main>'
                     '<button id="unnamed"></button><p id="faint" style="color:#bbbbbb">faint text</p>'
                     '</main></body></html>')
    with pytest.raises(AssertionError) as failure:
        check_screen(page, "99-checker-self-test", fits=False)
    report = str(failure.value)
    assert "screen 99-checker-self-test" in report
    assert "axe html-has-lang (serious): html" in report
    assert "axe button-name (critical): #unnamed" in report
    assert "axe color-contrast (serious): #faint" in report
