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


def _purpose(page) -> None:
    """The purpose of travel, when the post asks it: one tap (the first purpose)."""
    page.wait_for_function("() => location.pathname.startsWith('/crossings/')"
                           " || (document.getElementById('step-purpose') && !document.getElementById('step-purpose').hidden)")
    if "/crossings/" not in page.url:
        page.locator("#step-purpose [data-purpose]").first.click()
    expect(page).to_have_url(re.compile(r"/crossings/[0-9a-f-]{36}\?new=1$"))


def _skip_captures(page, reason: str = "traveller refused") -> None:
    for kind in ("photo", "fingerprint"):
        expect(page.locator(f"#step-{kind}")).to_be_visible()
        page.locator(f"#{kind}-skip").click()
        page.locator(f'#{kind}-reasons [data-reason="{reason}"]').click()
    _purpose(page)


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
        expect(page.locator("#doc-problems li")).to_have_text(["document expired on 2021\u201106\u201130"])
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
        "Fields valid, but document expired on 2020\u201101\u201115: referred.")
    expect(page.locator("#field-message")).to_have_class(re.compile(r"\bwarn\b"))
    check_screen(page, "71-fields-expired")
    # The typed MRZ of the same kind of document says it too.
    page.locator("#doc-manual").click()
    tap_keys(page, "kb-mrz", EXPIRED_PASSPORT)
    expect(page.locator("#mrz-message")).to_contain_text("Document problem: document expired on 2021\u201106\u201130")
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
    expect(page.locator("#mrz-message")).to_contain_text("document périmé depuis le 2021\u201106\u201130")
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


# -- 4. A long typed name is kept whole and screened whole -------------------------------

LONG_SURNAME = "ABDULRAHMAN AL MUSTAFA BIN SULTAN AL NAHYAN QASIMI"  # 50 characters
LONG_GIVEN = "MOHAMMED"


def test_a_long_typed_name_is_kept_whole_and_screened_with_it(page, ui_kiosk, tmp_path):
    from appliance.lists.csv_import import import_csv

    listed = tmp_path / "national.csv"
    listed.write_text("id,surname,given_names,aliases,birth_date,sex,nationality,document_issuer,document_number,"
                      f"reason\nN-0050,{LONG_SURNAME},{LONG_GIVEN},,1979-02-11,M,UTO,,,alerte nationale\n",
                      encoding="utf-8")
    import_csv(ui_kiosk.store, "persons", listed, list_name="national", actor="test")
    login(page, "alice", OFFICER_PIN)
    page.locator("#new-entry").click()
    page.locator("#doc-fields").click()
    tap_keys(page, "kb-fields", LONG_SURNAME)
    expect(page.locator("#f-surname")).to_have_value(LONG_SURNAME)
    # The whole name is shown, though the box is narrower than it.
    expect(page.locator("#field-message")).to_have_text(f"Surname: {LONG_SURNAME}")
    check_screen(page, "75-fields-long-name")
    page.locator("#kb-fields [data-action=next]").click()
    tap_keys(page, "kb-fields", LONG_GIVEN)
    page.locator("#f-document_number").click()
    tap_keys(page, "kb-fields", "NA5550001")
    page.locator("#f-issuing_state").click()
    tap_keys(page, "kb-fields", "UTO")
    page.locator("#f-birth_date").click()
    tap_keys(page, "kb-fields", "19790211")
    expect(page.locator("#doc-next")).to_be_enabled()
    page.locator("#doc-next").click()
    _skip_captures(page)
    expect(page.locator("#verdict h1")).to_have_text("ALERT: watchlist hit")
    stored = get(ui_kiosk.store, _recorded_id(page)).to_dict()
    assert stored["surname"] == LONG_SURNAME
    [hit] = [hit for hit in stored["screening"]["hits"] if hit["list"] == "national"]
    assert hit["entry_id"] == "N-0050" and hit["explanation"].startswith("surname and given names equal")
    expect(page.locator("p.traveller")).to_contain_text(LONG_SURNAME)
    check_screen(page, "76-result-long-name")


# -- 5, 6, 11. The supervisor's decision: the case, a reason, four eyes, open referrals ---

def _hit_recorded_by(page, officer_id: str, pin: str) -> str:
    login(page, officer_id, pin)
    page.locator("#new-exit").click()
    _type_mrz(page, PERSON_HIT_DOE)
    page.locator("#doc-next").click()
    _skip_captures(page)
    expect(page.locator("#verdict")).to_have_attribute("data-hits", re.compile("[1-9]"))
    return _recorded_id(page)


def _decide(page, outcome: str, reason: str, supervisor_id: str, pin: str, note: str = "") -> None:
    page.locator(f"#outcome-{outcome}").click()
    page.locator(f"#reason-{reason}").click()
    if note:
        page.locator("#outcome_note").click()
        tap_keys(page, "kb-note", note)
    page.locator("#sup-next").click()
    if page.locator("#supervisor_id").input_value() != supervisor_id:
        page.locator("#supervisor_id").fill("")
        page.locator("#supervisor_id").click()
        tap_keys(page, "kb-sup-id", supervisor_id)
    page.locator("#supervisor_pin").click()
    tap_keys(page, "kb-sup-pin", pin)
    page.locator("#outcome-submit").click()


SUE_PIN = "864213"


def test_four_eyes_a_reason_and_the_open_referrals(page, ui_kiosk):
    from appliance.storage.officers import Officers

    Officers(ui_kiosk.store, ui_kiosk.config.security).add("sue", "supervisor", SUE_PIN, actor="test")
    # A supervisor records a hit themselves: they cannot decide it alone.
    crossing_id = _hit_recorded_by(page, "sam", SUPERVISOR_PIN)
    # The way home leaves it open, and home counts it.
    page.locator("#leave-open").click()
    count = int(page.locator("#referral-count").inner_text())
    assert count >= 1
    expect(page.locator("#go-referrals")).to_have_class(re.compile(r"\bwaiting\b"))
    check_screen(page, "77-home-referrals-waiting")
    page.locator("#go-referrals").click()
    expect(page.locator("#referral-list")).to_contain_text("DOE, JOHN")
    expect(page.locator("#referral-list")).to_contain_text("Watchlist hit: list persons")
    check_screen(page, "78-open-referrals")
    page.locator(f'a[href="/crossings/{crossing_id}"]').click()
    expect(page.locator("#verdict h1")).to_have_text("ALERT: watchlist hit")

    page.locator("#open-supervisor").click()
    # Nothing chosen: the form says what is missing, nothing is sent.
    page.locator("#sup-next").click()
    expect(page.locator("#sup-needed")).to_have_text("Choose Refuse or Clear traveller.")
    page.locator("#outcome-cleared").click()
    page.locator("#reason-other").click()
    page.locator("#sup-next").click()
    expect(page.locator("#sup-needed")).to_have_text("Say why in the note: the reason is Other.")
    page.locator("#outcome_note").click()
    expect(page.locator("#kb-note")).to_be_visible()
    check_screen(page, "79-supervisor-note")
    tap_keys(page, "kb-note", "NAMESAKE CHECKED")
    page.locator("#sup-next").click()
    expect(page.locator("#sup-summary")).to_have_text("Clear traveller — Other (say why in the note) — NAMESAKE CHECKED")
    tap_keys(page, "kb-sup-id", "sam")
    page.locator("#supervisor_pin").click()
    tap_keys(page, "kb-sup-pin", SUPERVISOR_PIN)
    page.locator("#outcome-submit").click()
    expect(page.locator("#outcome-error")).to_have_text("You recorded this crossing: another supervisor must decide it.")
    expect(page.locator("#supervisor_id")).to_have_value("sam")
    check_screen(page, "80-supervisor-four-eyes")
    assert get(ui_kiosk.store, crossing_id).outcome is None

    # Another supervisor decides it; the reason and the note are recorded and shown.
    page.locator("#supervisor_id").fill("")
    page.locator("#supervisor_id").click()
    tap_keys(page, "kb-sup-id", "sue")
    page.locator("#supervisor_pin").click()
    tap_keys(page, "kb-sup-pin", SUE_PIN)
    page.locator("#outcome-submit").click()
    expect(page.locator("#verdict h1")).to_have_text("Outcome: Cleared")
    expect(page.locator("#outcome-reason-text")).to_have_text("Reason: Other (say why in the note)")
    expect(page.locator("#outcome-note-text")).to_have_text("Note: NAMESAKE CHECKED")
    check_screen(page, "81-outcome-with-note")
    stored = get(ui_kiosk.store, crossing_id)
    assert (stored.outcome, stored.outcome_by, stored.outcome_reason, stored.outcome_note) == (
        "cleared", "sue", "other", "NAMESAKE CHECKED")
    page.goto("/")
    assert int(page.locator("#referral-count").inner_text()) == count - 1


def test_the_supervisor_form_in_french_at_both_sizes(browser, ui_kiosk):
    for viewport, suffix in ((SMALL, ""), (LARGE, "-1024")):
        context = browser.new_context(viewport=viewport, base_url=ui_kiosk.url)
        page = context.new_page()
        try:
            _french(page)
            _hit_recorded_by(page, "alice", OFFICER_PIN)
            page.locator("#open-supervisor").click()
            expect(page.locator("#sup-case")).to_contain_text("nom et prénoms identiques")
            check_screen(page, f"82-supervisor-fr{suffix}")
            page.locator("#outcome-refused").click()
            page.locator("#reason-listed_person_confirmed").click()
            page.locator("#sup-next").click()
            expect(page.locator("#sup-summary")).to_have_text("Refuser — La personne signalée, confirmée")
            check_screen(page, f"83-supervisor-pin-fr{suffix}")
        finally:
            context.close()


# -- 12. A supervisor unlocks an officer from the screen ---------------------------------

def test_a_supervisor_unlocks_a_locked_out_officer(page, ui_kiosk):
    from .ui.fixtures import LOCKME_PIN

    login(page, "lockme", "111110")
    expect(page.locator("#login-error")).to_have_text(
        "Unknown officer ID or wrong PIN. Tries left before this ID is locked out: 2.")
    login(page, "lockme", "111112")
    expect(page.locator("#login-error")).to_contain_text("locked out: 1.")
    login(page, "lockme", "111113")
    expect(page.locator("#login-error")).to_contain_text("locked out until")
    check_screen(page, "84-login-locked-unlock")
    page.locator("#unlock-open").click()
    expect(page.locator("h1")).to_have_text("Unlock officer lockme")
    tap_keys(page, "kb-unlock-id", "sam")
    page.locator("#supervisor_pin").click()
    tap_keys(page, "kb-unlock-pin", "000001")
    page.locator("#kb-unlock-pin button[type=submit]").click()
    expect(page.locator("#unlock-error")).to_have_text("Unknown supervisor ID or wrong PIN. Tries left: 2.")
    expect(page.locator("#supervisor_id")).to_have_value("sam")
    check_screen(page, "85-unlock-wrong-pin")
    tap_keys(page, "kb-unlock-pin", SUPERVISOR_PIN)
    page.locator("#kb-unlock-pin button[type=submit]").click()
    expect(page.locator("#unlocked")).to_have_text("The officer is unlocked: log in again.")
    with ui_kiosk.store.lock:
        actor = ui_kiosk.store.conn.execute(
            "SELECT actor FROM audit WHERE action = 'officer.unlock' ORDER BY seq DESC LIMIT 1").fetchone()[0]
    assert actor == "sam"
    login(page, "lockme", LOCKME_PIN)
    expect(page.locator("#new-entry")).to_be_visible()


# -- 13. A crossing in progress survives a reload, a new login, and an ended session -----

def test_a_crossing_in_progress_survives_reload_and_login(page, ui_kiosk):
    before = len(ui_kiosk.crossings())
    login(page, "alice", OFFICER_PIN)
    page.locator("#new-entry").click()
    ui_kiosk.present(EXPIRED_PASSPORT)
    expect(page.locator("#doc-next")).to_be_enabled()
    page.locator("#doc-next").click()
    page.locator("#photo-take").click()
    expect(page.locator("#photo-status")).to_have_text(re.compile("Quality is (good|poor)"))
    page.wait_for_function("() => true")
    page.wait_for_timeout(300)  # the draft is saved after the capture answers
    page.reload()
    # Back on the photo step with the photo taken.
    expect(page.locator("#step-photo")).to_be_visible()
    expect(page.locator("#photo-status")).to_have_text("Taken before: kept. Retake if you wish.")
    expect(page.locator("#photo-accept")).to_be_enabled()
    check_screen(page, "86-draft-after-reload")
    page.locator("#photo-accept").click()
    expect(page.locator("#step-fingerprint")).to_be_visible()
    page.wait_for_timeout(300)

    # The session ends (as after the idle timeout): the screen says plainly nothing was recorded.
    with ui_kiosk.store.transaction():
        ui_kiosk.store.conn.execute("UPDATE sessions SET last_seen_at = '2000-01-01T00:00:00.000000Z'")
    page.locator("#fingerprint-take").click()
    expect(page.locator("#not-recorded")).to_contain_text("the traveller was NOT recorded")
    check_screen(page, "87-session-ended-not-recorded")
    assert len(ui_kiosk.crossings()) == before

    login(page, "alice", OFFICER_PIN)
    expect(page.locator("#resume-draft")).to_be_visible()
    check_screen(page, "88-home-resume")
    page.locator("#resume-draft").click()
    expect(page.locator("#step-fingerprint")).to_be_visible()
    page.locator("#fingerprint-take").click()
    expect(page.locator("#fingerprint-status")).to_have_text(re.compile("Quality is (good|poor)"))
    page.locator("#fingerprint-accept").click()
    _purpose(page)
    stored = get(ui_kiosk.store, _recorded_id(page)).to_dict()
    assert stored["surname"] == "NDIAYE" and sorted(c["kind"] for c in stored["captures"]) == ["face", "fingerprint"]
    # Recorded: nothing is kept any more, and another officer never saw it.
    page.goto("/")
    expect(page.locator("#resume-draft")).to_have_count(0)
