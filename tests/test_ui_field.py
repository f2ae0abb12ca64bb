"""The touchscreen ready for the field (issue 14): what a sun-lit, gloved, queued post needs, in Chromium.

Each test drives the real app in Debian's Chromium (tests/ui/fixtures.py) and checks one
finding of the user test at 800x480 and 1024x600; the last walks every screen at both
sizes in both languages and writes the screenshots to $KIOSK_TEST_ARTIFACTS/screens/.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from .conftest import OFFICER_PIN, SUPERVISOR_PIN
from .samples import CLEAR_OKAFOR, PERSON_HIT_DOE
from .ui.fixtures import (LARGE, SMALL, TECH_PIN, artifacts_dir, check_screen, login, page,  # noqa: F401
                          tap_keys, ui_kiosk)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_api_docs_load_with_no_network(page, ui_kiosk):
    # Everything not served by the kiosk itself is cut off, as at an offline post.
    outside: list[str] = []
    kiosk = urlparse(ui_kiosk.url).netloc

    def only_the_kiosk(route):
        if urlparse(route.request.url).netloc == kiosk:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_kiosk)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Border kiosk", timeout=15000)
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert outside == [], f"/docs asked outside the kiosk for {outside}"
    assert page.request.get("/docs/assets/../app.py").status == 404
    assert page.request.get("/docs/assets/swagger-ui.css.map").status == 404


# -- helpers -------------------------------------------------------------------------

def _record(ui_kiosk, officer="alice", **fields):
    """A crossing recorded through the workflow, as the screens would (a quick way to fill the lists)."""
    from appliance.workflow import crossings

    officer = ui_kiosk.app.state.officers.get(officer)
    request = crossings.CrossingRequest(**{"direction": "entry", **fields})
    return crossings.record(ui_kiosk.store, ui_kiosk.config, officer, request).crossing


def _typed(surname, given_names="", nationality="", number="ZX0000001", state="UTO", **extra):
    from appliance.workflow.crossings import ManualDocument

    return ManualDocument(surname=surname, given_names=given_names, nationality=nationality, document_number=number,
                          issuing_state=state, **extra)


def _count(ui_kiosk) -> int:
    with ui_kiosk.store.lock:
        return ui_kiosk.store.conn.execute("SELECT count(*) FROM crossings").fetchone()[0]


def _french(page):
    page.goto("/login?lang=fr")


def _inside_viewport(page, selector: str) -> list[str]:
    """Elements matching ``selector`` that reach past the right or bottom edge of the screen."""
    return page.evaluate("""(selector) => Array.from(document.querySelectorAll(selector))
        .filter((el) => el.getClientRects().length)
        .map((el) => [el, el.getBoundingClientRect()])
        .filter(([el, box]) => box.right > innerWidth + 0.5 || box.bottom > innerHeight + 0.5)
        .map(([el, box]) => `${el.tagName}#${el.id}.${el.className} right=${box.right} bottom=${box.bottom}`)""",
                         selector)


def _no_draft(ui_kiosk):
    # A crossing left half-done by an earlier test would be taken up again (drafts): start afresh.
    with ui_kiosk.store.lock:
        ui_kiosk.store.conn.execute("DELETE FROM drafts")


def _present(page, ui_kiosk, mrz):
    # A reader call of a page left a moment ago may still be waiting on the server (2 s at
    # most) and would take the document: let it time out first.
    expect(page.locator("#reader-status")).to_be_visible()
    page.wait_for_timeout(2200)
    ui_kiosk.present(mrz)


def _to_photo(page, ui_kiosk, mrz=CLEAR_OKAFOR, direction="entry"):
    _no_draft(ui_kiosk)
    page.goto(f"/crossing?direction={direction}")
    _present(page, ui_kiosk, mrz)
    expect(page.locator("#doc-next")).to_be_enabled()
    page.locator("#doc-next").click()
    expect(page.locator("#step-photo")).to_be_visible()


def _skip_captures(page):
    for kind in ("photo", "fingerprint"):
        expect(page.locator(f"#step-{kind}")).to_be_visible()
        page.locator(f"#{kind}-skip").click()
        page.locator(f'#{kind}-reasons [data-reason="traveller refused"]').click()


# -- 3, 22: today's crossings at 800x480 ------------------------------------------------

def test_todays_crossings_keep_every_column_on_screen_whatever_the_names(page, ui_kiosk):
    long = "WOLFESCHLEGELSTEINHAUSENBERGERDORFF VANDERBERGHE MONTGOMERY"
    _record(ui_kiosk, document=_typed(long, "MARIA ANTONIA CONCEPCION DE LOS ANGELES", "UTO", number="LN0000001"))
    _record(ui_kiosk, document=_typed("NGUYEN", "THI MINH KHAI PHUONG LINH", number="LN0000002"),
            decision="refused")
    login(page, "alice", OFFICER_PIN)
    page.goto("/history")
    expect(page.locator("table.list")).to_contain_text("WOLFESCHLEGEL")
    check_screen(page, "70-history-long-names")
    assert _inside_viewport(page, "table.list th, table.list td, .actions .button, .actions button") == []
    # Referred (waiting for a supervisor) and refused rows are told apart by colour as well as by word.
    colours = page.evaluate("""() => ['decision-referred', 'decision-refused'].map((name) => {
        const row = document.querySelector(`tr.${name} td`); return row && getComputedStyle(row).backgroundColor; })""")
    assert None not in colours and colours[0] != colours[1], colours


# -- 21: a space key on the search keyboard ---------------------------------------------

def test_history_search_keyboard_types_a_space(page, ui_kiosk):
    _record(ui_kiosk, document=_typed("ABARA", "KOFI MENSAH", number="SP0000001"))
    login(page, "alice", OFFICER_PIN)
    page.goto("/history")
    page.locator("#q").click()
    tap_keys(page, "kb-search", "ABARA KOFI")
    expect(page.locator("#q")).to_have_value("ABARA KOFI")
    page.locator("#search").click()
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    expect(page.locator("table.list")).to_contain_text("ABARA, KOFI MENSAH")


# -- 7: the MRZ keyboard fixes one character in the middle --------------------------------

def test_mrz_keyboard_moves_the_cursor_and_fixes_one_character(page, ui_kiosk):
    login(page, "alice", OFFICER_PIN)
    _no_draft(ui_kiosk)
    page.goto("/crossing?direction=entry")
    page.locator("#doc-manual").click()
    line1, line2 = CLEAR_OKAFOR.split("\n")
    wrong = line2[:3] + ("8" if line2[3] != "8" else "7") + line2[4:]  # one wrong character in the document number
    tap_keys(page, "kb-mrz", line1 + "\n" + wrong)
    expect(page.locator('#mrz-checks li[data-check="document_number"]')).to_have_class("bad")
    # The officer taps just after the wrong character (the browser puts the cursor there)...
    offset = len(line1) + 1 + 5
    page.evaluate("(at) => { const t = document.getElementById('mrz-text'); t.focus(); t.setSelectionRange(at, at); }",
                  offset)
    # ...moves one left and back with the cursor keys, then deletes it and types the right one.
    page.locator("#kb-mrz [data-action=left]").click()
    page.locator("#kb-mrz [data-action=left]").click()
    page.locator("#kb-mrz [data-action=right]").click()
    page.locator("#kb-mrz [data-action=backspace]").click()
    tap_keys(page, "kb-mrz", line2[3])
    expect(page.locator("#mrz-text")).to_have_value(line1 + "\n" + line2)
    expect(page.locator("#mrz-checks li.bad")).to_have_count(0)
    expect(page.locator("#mrz-message")).to_contain_text("OKAFOR, CHIDI")
    assert page.evaluate("() => document.getElementById('mrz-text').selectionStart") == len(line1) + 1 + 4
    check_screen(page, "71-manual-mrz-fixed-in-the-middle")


# -- 8, 25: messages wrap; French wording --------------------------------------------

def test_long_messages_wrap_and_read_right_in_french(page, ui_kiosk):
    _french(page)
    login(page, "alice", OFFICER_PIN)
    _no_draft(ui_kiosk)
    page.goto("/crossing?direction=exit")
    page.locator("#doc-manual").click()
    line1, line2 = PERSON_HIT_DOE.split("\n")
    tap_keys(page, "kb-mrz", line1 + "\n" + line2[:-1] + str((int(line2[-1]) + 1) % 10))
    composite = page.locator('#mrz-checks li[data-check="composite"]')
    expect(composite).to_have_text("Contrôle composite : chiffre de contrôle faux")
    message = page.locator("#mrz-message")
    expect(message).to_contain_text("orienté")
    # Whole, on as many lines as it needs: nothing cut, no tooltip holding the rest.
    shown = page.evaluate("""() => { const m = document.getElementById('mrz-message'); const s = getComputedStyle(m);
        return {whiteSpace: s.whiteSpace, overflowX: m.scrollWidth - m.clientWidth, overflowY: m.scrollHeight - m.clientHeight,
                title: m.getAttribute('title'), lines: Math.round(m.getBoundingClientRect().height / parseFloat(s.lineHeight || 20))}; }""")
    page.screenshot(path=str(artifacts_dir() / "72-fr-manual-mrz-refer-message.png"))
    assert shown["whiteSpace"] == "normal" and shown["overflowX"] <= 0 and shown["overflowY"] <= 0, shown
    assert not shown["title"], shown
    check_screen(page, "72-fr-manual-mrz-refer-message")
    # The list age in French units, and an outcome whose word agrees with "Décision".
    expect(page.locator("#lists")).to_have_text(re.compile(r"^\s*Listes : \d+ (s|min|h \d\d min|j \d\d h)\s*$"))
    from appliance.workflow import crossings

    hit = _record(ui_kiosk, mrz=PERSON_HIT_DOE, direction="exit")
    crossings.resolve(ui_kiosk.store, ui_kiosk.app.state.officers.get("sam"), hit.id, "refused",
                      reason="listed_person_confirmed", four_eyes=True)
    page.goto(f"/crossings/{hit.id}")
    expect(page.locator("#verdict h1")).to_have_text("Décision : refusée")
    check_screen(page, "73-fr-outcome-refused")


# -- 9: the photo step's question is never printed over the live view ----------------------

@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["800x480", "1024x600"])
def test_no_photo_question_does_not_cover_the_live_view(page, ui_kiosk, size):
    page.set_viewport_size(size)
    login(page, "alice", OFFICER_PIN)
    _to_photo(page, ui_kiosk)
    page.wait_for_function("() => Number(document.getElementById('photo-live').dataset.frames) >= 1", timeout=8000)
    page.locator("#photo-skip").click()
    reasons = page.locator("#photo-reasons")
    expect(reasons).to_be_visible()
    overlap = page.evaluate("""() => {
        const r = document.getElementById('photo-reasons').getBoundingClientRect();
        return Array.from(document.querySelectorAll('#step-photo .live, #step-photo img, #step-photo .capture-text p'))
          .filter((el) => el.getClientRects().length)
          .map((el) => [el.id || el.className, el.getBoundingClientRect()])
          .filter(([name, b]) => b.bottom > r.top + 0.5 && b.top < r.bottom - 0.5 && b.right > r.left && b.left < r.right)
          .map(([name]) => name); }""")
    assert overlap == [], f"printed over: {overlap}"
    assert _inside_viewport(page, "#photo-reasons button, #step-photo .actions > *") == []
    check_screen(page, f"74-photo-why-none-{size['width']}")


# -- 10: two taps on the last step record once; a repeat within minutes is named ----------

def test_two_taps_together_on_the_last_step_record_one_crossing(page, ui_kiosk):
    login(page, "alice", OFFICER_PIN)
    _to_photo(page, ui_kiosk)
    page.locator("#photo-skip").click()
    page.locator('#photo-reasons [data-reason="traveller refused"]').click()
    page.locator("#fingerprint-skip").click()
    page.locator('#fingerprint-reasons [data-reason="traveller refused"]').click()
    expect(page.locator("#step-purpose")).to_be_visible()
    before = _count(ui_kiosk)
    # Two clicks in the same moment, as a gloved double tap delivers them.
    page.evaluate("() => { const b = document.querySelector('[data-purpose=\"tourism\"]'); b.click(); b.click(); }")
    expect(page).to_have_url(re.compile(r"/crossings/.+\?new=1$"))
    page.wait_for_timeout(500)
    assert _count(ui_kiosk) == before + 1
    # The kiosk itself answers a repeated call (same request id) with the first crossing.
    body = {"direction": "entry", "mrz": CLEAR_OKAFOR, "request_id": "tap-twice-0001"}
    answers = page.evaluate("(body) => Promise.all([api('POST', '/api/crossings', body), api('POST', '/api/crossings', body)])"
                            ".then((both) => both.map((a) => [a.status, a.data.id]))", body)
    assert answers[0][0] == answers[1][0] == 201 and answers[0][1] == answers[1][1], answers
    assert _count(ui_kiosk) == before + 2
    # OKAFOR entered three times within minutes: the result says so, with a link to the one before.
    page.goto(f"/crossings/{answers[0][1]}")
    warning = page.locator("#repeat-warning")
    expect(warning).to_contain_text("Same document, same direction")
    expect(warning).to_contain_text("a double entry?")
    check_screen(page, "75-result-repeat-warning")
    page.locator("#repeat-link").click()
    expect(page).to_have_url(re.compile(r"/crossings/[0-9a-f-]{36}$"))


# -- 18: "Silence alarm" only where an alarm sounds ---------------------------------------

def test_silence_alarm_only_while_the_alarm_sounds(page, ui_kiosk):
    login(page, "alice", OFFICER_PIN)
    referred = _record(ui_kiosk, document=_typed("PLAINREF", number="PR0000001"))
    assert referred.decision == "referred" and not referred.screening.hits
    page.goto(f"/crossings/{referred.id}?new=1")
    expect(page.locator("#open-supervisor")).to_be_visible()
    expect(page.locator("#silence")).to_have_count(0)
    hit = _record(ui_kiosk, mrz=PERSON_HIT_DOE, direction="exit")
    page.goto(f"/crossings/{hit.id}?new=1")
    expect(page.locator("#silence")).to_be_visible()
    page.goto(f"/crossings/{hit.id}")  # opened again later: nothing sounds
    expect(page.locator("#silence")).to_have_count(0)


# -- 19: the uplink pill turns red only for an old queue ----------------------------------

def test_uplink_is_red_only_when_the_queue_is_old(page, ui_kiosk):
    from datetime import timedelta

    from appliance.domain import clock

    _record(ui_kiosk, mrz=CLEAR_OKAFOR)
    login(page, "alice", OFFICER_PIN)
    pill = page.locator("#uplink")
    expect(pill).to_contain_text("Uplink offline")
    expect(pill).not_to_have_class(re.compile(r"\bold\b"))
    red = "rgb(163, 0, 0)"
    assert page.evaluate("() => getComputedStyle(document.getElementById('uplink')).backgroundColor") != red
    with ui_kiosk.store.lock:
        old = clock.iso(clock.utcnow() - timedelta(minutes=ui_kiosk.config.ui.uplink_alarm_minutes + 61))
        ui_kiosk.store.conn.execute("UPDATE outbox SET created_at = ? WHERE kind = 'crossing'", (old,))
    page.reload()
    expect(pill).to_have_class(re.compile(r"\bold\b"))
    expect(pill).to_contain_text("oldest 3 h")
    assert page.evaluate("() => getComputedStyle(document.getElementById('uplink')).backgroundColor") == red
    check_screen(page, "76-home-uplink-old")
    with ui_kiosk.store.lock:
        ui_kiosk.store.conn.execute("UPDATE outbox SET created_at = ? WHERE kind = 'crossing'", (clock.iso(clock.utcnow()),))


# -- 17: text an officer reads is 18 px or more; keys 56 px; a high-contrast theme ---------

SMALL_TEXT = """() => {
  const small = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || !el.getClientRects().length) continue;
    if (el.closest('.visually-hidden, [hidden], script, style, title')) continue;
    let size = parseFloat(getComputedStyle(el).fontSize);
    const svg = el.closest('svg');
    if (svg) {  // SVG text as drawn: its font size scaled with the picture (letterboxed: the smaller ratio)
      const box = svg.viewBox && svg.viewBox.baseVal;
      const shown = svg.getBoundingClientRect();
      if (box && box.width) size = size * Math.min(shown.width / box.width, shown.height / box.height);
    }
    if (size < 17.5) small.push(`${el.tagName}.${el.className && el.className.baseVal !== undefined ? el.className.baseVal : el.className} "${node.textContent.trim().slice(0, 30)}" ${size.toFixed(1)}px`);
  }
  return small;
}"""
KEYS = """() => Array.from(document.querySelectorAll('.keyboard:not([hidden]) .key'))
  .filter((key) => key.getClientRects().length)
  .map((key) => key.getBoundingClientRect())
  .filter((box) => box.height < 56).map((box) => `${box.width}x${box.height}`)"""


def _readable(page, name):
    page.wait_for_load_state("load")
    small = page.evaluate(SMALL_TEXT)
    assert small == [], f"{name}: text under 18 px: " + "; ".join(small)
    assert page.evaluate(KEYS) == [], f"{name}: keys under 56 px high"


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["800x480", "1024x600"])
def test_text_is_18_px_and_keys_56_px_on_the_officer_screens(page, ui_kiosk, size):
    page.set_viewport_size(size)
    page.goto("/login")
    page.locator("#officer_id").click()
    _readable(page, "login")
    login(page, "alice", OFFICER_PIN)
    expect(page.locator("#new-entry")).to_be_visible()
    _readable(page, "home")
    _no_draft(ui_kiosk)
    page.goto("/crossing?direction=entry")
    ui_kiosk.present(CLEAR_OKAFOR)
    expect(page.locator("#doc-next")).to_be_enabled()
    _readable(page, "scan read")
    page.locator("#doc-rescan").click()
    page.locator("#doc-manual").click()
    tap_keys(page, "kb-mrz", CLEAR_OKAFOR)
    expect(page.locator("#mrz-checks li")).to_have_count(4)
    _readable(page, "manual MRZ")
    page.locator("#doc-fields").click()
    _readable(page, "typed fields")
    page.locator("#doc-manual").click()
    page.locator("#doc-next").click()
    page.locator("#photo-take").click()
    expect(page.locator("#photo-status")).to_have_text(re.compile("Quality"))
    _readable(page, "photo")
    page.locator("#photo-accept").click()
    page.locator("#fingerprint-skip").click()
    _readable(page, "fingerprint")
    page.locator('#fingerprint-reasons [data-reason="device not working"]').click()
    _readable(page, "purpose")
    page.locator('[data-purpose="business"]').click()
    expect(page.locator("#verdict")).to_be_visible()
    _readable(page, "result")
    for path in ("/history", "/stats", "/stats?part=decisions"):
        page.goto(path)
        _readable(page, path)


def test_high_contrast_theme_from_the_home_screen_and_from_config(page, ui_kiosk):
    login(page, "alice", OFFICER_PIN)
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bhc\b"))
    page.locator("#contrast").click()
    expect(page.locator("body")).to_have_class(re.compile(r"\bhc\b"))
    expect(page.locator("#contrast")).to_have_text("Normal contrast")
    muted = page.evaluate("() => getComputedStyle(document.querySelector('.hint')).color")
    assert muted == "rgb(0, 0, 0)"
    check_screen(page, "77-home-high-contrast")
    page.goto("/crossing?direction=entry")
    expect(page.locator("body")).to_have_class(re.compile(r"\bhc\b"))  # kept on every screen
    check_screen(page, "77-scan-high-contrast")
    page.goto("/")
    page.locator("#contrast").click()
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bhc\b"))
    ui_kiosk.config.ui.high_contrast = True
    try:
        page.reload()
        expect(page.locator("body")).to_have_class(re.compile(r"\bhc\b"))
    finally:
        ui_kiosk.config.ui.high_contrast = False


# -- 20: statistics add up, today is named, decisions and sex shown ------------------------

def _chart_values(page, figure):
    label = page.locator(f"#chart-{figure} svg").get_attribute("aria-label")
    pairs = label.split(": ", 1)[1].split(", ") if ": " in label else []
    return {pair.rsplit(" ", 1)[0]: int(pair.rsplit(" ", 1)[1]) for pair in pairs}


def test_statistics_add_up_name_today_and_show_sex_decisions_and_purposes(page, ui_kiosk):
    for index, nation in enumerate(("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG")):
        _record(ui_kiosk, document=_typed("STAT", nationality=nation, number=f"ST{index:07d}", sex="F"),
                purpose="study")
    login(page, "alice", OFFICER_PIN)
    page.goto("/stats")
    total = int(re.search(r"(\d+) crossings", page.locator("h1 .count").inner_text()).group(1))
    nationality = _chart_values(page, "nationality")
    assert "other" in nationality and sum(nationality.values()) == total, nationality
    assert sum(_chart_values(page, "age").values()) == total
    expect(page.locator("#chart-days svg text", has_text="today")).to_have_count(1)
    check_screen(page, "78-stats")
    page.locator("#stats-more").click()
    for figure in ("sex", "decision", "purpose"):
        assert sum(_chart_values(page, figure).values()) == total, figure
    assert _chart_values(page, "sex")["Female"] >= 7
    assert _chart_values(page, "purpose")["Study"] >= 7
    check_screen(page, "78-stats-decisions")


# -- 22: the traveller line without empty parts -------------------------------------------

def test_result_line_has_no_empty_parts_and_dates_do_not_break(page, ui_kiosk):
    crossing = _record(ui_kiosk, document=_typed("NONATION", "ALI", "", number="NN0000001"))
    login(page, "alice", OFFICER_PIN)
    page.goto(f"/crossings/{crossing.id}")
    line = page.locator("#traveller").inner_text()
    assert "· ·" not in " ".join(line.split()) and "NN0000001" in line, line
    white = page.evaluate("() => Array.from(document.querySelectorAll('#traveller .nowrap')).map((e) => getComputedStyle(e).whiteSpace)")
    assert white and set(white) == {"nowrap"}


# -- 23: diagnostics for a technician -----------------------------------------------------

def test_diagnostics_reads_as_a_technician_expects(page, ui_kiosk):
    login(page, "tech", TECH_PIN)
    page.goto("/diagnostics")
    page.locator("#run-selftest").click()
    expect(page.locator("#selftest")).to_be_visible()
    text = page.locator("main").inner_text()
    for raw in ("oldest_pending_at", "last_receipt_at", "False", "True", "None", "mrz_reader"):
        assert raw not in text, raw
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text), "an ISO UTC time is shown raw"
    expect(page.locator("#uplink-panel")).to_contain_text("Crossings to send")
    expect(page.locator("#uplink-panel")).to_contain_text("Connected to HQ")
    expect(page.locator("#power-panel")).to_contain_text("76 %")
    # Every self-test cell says something: a hint where one failed, no empty column when none did.
    empty = page.evaluate("() => Array.from(document.querySelectorAll('#selftest td')).filter((td) => !td.textContent.trim()).length")
    assert empty == 0
    check_screen(page, "79-diagnostics-readable", fits=False)


# -- 24: the kiosk's own error page -------------------------------------------------------

def test_bad_page_parameters_and_unknown_pages_show_the_kiosks_error_page(page, ui_kiosk):
    login(page, "alice", OFFICER_PIN)
    for path, status, title in (("/history?page=abc", 422, "Cannot show this screen"),
                                ("/stats?days=many", 422, "Cannot show this screen"),
                                ("/no-such-screen", 404, "Page not found")):
        response = page.goto(path)
        assert response.status == status, path
        expect(page.locator("h1")).to_have_text(title)
        expect(page.locator("#logout")).to_be_visible()  # the status bar and the officer's session stay
        page.locator("main .actions a.button").click()
        expect(page.locator("#new-entry")).to_be_visible()
    page.goto("/no-such-screen")
    check_screen(page, "80-error-page")
    # The API keeps its JSON shape.
    for path, status in (("/api/no-such-route", 404), ("/api/crossings?date=tomorrow", 422)):
        answer = page.request.get(path, headers={"X-Kiosk-UI": "1"})
        assert answer.status == status and set(answer.json()) == {"error", "kind"}, path
    _french(page)
    page.goto("/history?page=abc")
    expect(page.locator("h1")).to_have_text("Impossible d'afficher cet écran")


# -- 29: purpose of travel, and an MRV's visa ----------------------------------------------

def test_purpose_is_one_tap_on_the_result_step_and_a_visa_is_recorded(page, ui_kiosk):
    from appliance.domain import mrz

    visa = mrz.compose("MRVA", document_number="V7731942", surname="NAKAMURA", given_names="AIKO",
                       issuing_state="UTO", nationality="JPN", birth_date="1990-04-02", expiry_date="2031-06-30",
                       sex="F", document_code="VC")
    login(page, "alice", OFFICER_PIN)
    _to_photo(page, ui_kiosk, mrz=visa)
    _skip_captures(page)
    expect(page.locator(".progress li.current")).to_contain_text("Result")
    expect(page.locator("#visa-line")).to_have_text("Visa VC V7731942, read from the document")
    expect(page.locator("[data-purpose]")).to_have_count(len(ui_kiosk.config.crossings.purposes))
    check_screen(page, "81-purpose-visa")
    page.locator('[data-purpose="study"]').click()
    expect(page).to_have_url(re.compile(r"/crossings/.+\?new=1$"))
    expect(page.locator("#purpose-line")).to_have_text("· Purpose: Study · Visa VC V7731942")
    stored = ui_kiosk.crossings()[0]
    assert (stored["purpose"], stored["visa_number"], stored["visa_type"]) == ("study", "V7731942", "VC")
    # A post that does not ask: the fingerprint step records at once, with no purpose.
    ui_kiosk.config.crossings.ask_purpose = False
    try:
        _to_photo(page, ui_kiosk)
        _skip_captures(page)
        expect(page).to_have_url(re.compile(r"/crossings/.+\?new=1$"))
        assert ui_kiosk.crossings()[0]["purpose"] is None
    finally:
        ui_kiosk.config.crossings.ask_purpose = True


# -- Every screen at both sizes in both languages, and the taps of the everyday crossing ----

FITS = """() => { const main = document.querySelector('main'); const doc = document.scrollingElement;
  return doc.scrollWidth <= innerWidth && doc.scrollHeight <= innerHeight
    && main.scrollWidth <= main.clientWidth + 1 && main.scrollHeight <= main.clientHeight + 1; }"""


class Walk:
    """Screenshots one screen after another into $KIOSK_TEST_ARTIFACTS/screens/, and counts the officer's taps."""

    def __init__(self, page, prefix: str):
        self.page, self.prefix, self.index, self.taps = page, prefix, 0, 0
        self.folder = artifacts_dir() / "screens"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.overflowing: list[str] = []

    def shot(self, name: str, fits: bool = True) -> None:
        self.page.wait_for_load_state("load")
        self.index += 1
        self.page.screenshot(path=str(self.folder / f"{self.prefix}-{self.index:02d}-{name}.png"))
        if fits and not self.page.evaluate(FITS):
            # By how much, so a failure says whether a line or a layout is too much.
            self.overflowing.append(name + " " + self.page.evaluate(
                "() => { const m = document.querySelector('main'); const d = document.scrollingElement;"
                " return `page ${d.scrollWidth}x${d.scrollHeight}, main ${m.scrollWidth}x${m.scrollHeight}"
                " in ${m.clientWidth}x${m.clientHeight}`; }"))

    def tap(self, selector: str) -> None:
        self.taps += 1
        self.page.locator(selector).first.click()


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["800x480", "1024x600"])
def test_every_screen_at_both_sizes_in_both_languages(browser, ui_kiosk, size, lang):
    from appliance.workflow import crossings

    context = browser.new_context(viewport=size, base_url=ui_kiosk.url)
    page = context.new_page()
    walk = Walk(page, f"{lang}-{size['width']}x{size['height']}")
    try:
        page.goto(f"/login?lang={lang}")
        walk.shot("login")
        login(page, "alice", OFFICER_PIN)
        expect(page.locator("#new-entry")).to_be_visible()
        walk.shot("home")
        _no_draft(ui_kiosk)

        # The everyday crossing: reader, photo, fingerprint, purpose. Its taps are counted.
        walk.taps = 0
        walk.tap("#new-entry")
        expect(page.locator("#reader-status")).to_be_visible()
        walk.shot("scan-waiting")
        _present(page, ui_kiosk, CLEAR_OKAFOR)
        expect(page.locator("#doc-next")).to_be_enabled()
        walk.shot("scan-read")
        walk.tap("#doc-next")
        page.wait_for_function("() => Number(document.getElementById('photo-live').dataset.frames) >= 1", timeout=8000)
        walk.shot("photo-live")
        walk.tap("#photo-take")
        expect(page.locator("#photo-preview")).to_be_visible()
        walk.shot("photo-taken")
        walk.tap("#photo-accept")
        walk.shot("fingerprint")
        walk.tap("#fingerprint-take")
        expect(page.locator("#fingerprint-accept")).to_be_enabled()
        walk.shot("fingerprint-taken")
        walk.tap("#fingerprint-accept")
        expect(page.locator("#step-purpose")).to_be_visible()
        walk.shot("purpose")
        walk.tap('[data-purpose="tourism"]')
        expect(page.locator("#verdict")).to_have_class(re.compile("verdict-cleared"))
        walk.shot("result-cleared")
        assert walk.taps == 7, f"a clear traveller took {walk.taps} taps"

        # Typed by hand: the MRZ keyboard, the fields, the photo step's question; referred.
        _no_draft(ui_kiosk)
        page.goto("/crossing")
        walk.shot("direction")
        page.locator("#choose-exit").click()
        page.locator("#doc-manual").click()
        tap_keys(page, "kb-mrz", PERSON_HIT_DOE[:-1] + str((int(PERSON_HIT_DOE[-1]) + 1) % 10))
        expect(page.locator("#mrz-checks li.bad")).to_have_count(1)
        walk.shot("manual-mrz-wrong-digit")
        page.locator("#doc-fields").click()
        tap_keys(page, "kb-fields", "MBALLA")
        walk.shot("typed-fields")
        # The boxes' labels are 18 px too, in both languages: ten boxes in two rows at 800 px.
        _readable(page, f"typed fields ({lang})")
        page.locator("#doc-rescan").click()
        walk.shot("scan-again")

        # A watchlist hit from the reader, to the supervisor's form; its taps are counted.
        _no_draft(ui_kiosk)
        page.goto("/")
        walk.taps = 0
        walk.tap("#new-exit")
        _present(page, ui_kiosk, PERSON_HIT_DOE)
        expect(page.locator("#doc-next")).to_be_enabled()
        walk.tap("#doc-next")
        walk.tap("#photo-skip")
        walk.shot("photo-why-none")
        walk.tap('#photo-reasons [data-reason="traveller refused"]')
        walk.tap("#fingerprint-take")
        expect(page.locator("#fingerprint-accept")).to_be_enabled()
        walk.tap("#fingerprint-accept")
        walk.tap('[data-purpose="business"]')
        expect(page.locator("body")).to_have_class(re.compile(r"\balert\b"))
        walk.shot("result-hit")
        walk.tap("#open-supervisor")
        expect(page.locator("#supervisor")).to_be_visible()
        walk.shot("supervisor")
        hit_taps_to_form = walk.taps
        hit_id = re.search(r"/crossings/([0-9a-f-]{36})", page.url).group(1)
        crossings.resolve(ui_kiosk.store, ui_kiosk.app.state.officers.get("sam"), hit_id, "refused",
                          reason="listed_person_confirmed", four_eyes=True)
        page.goto(f"/crossings/{hit_id}")
        walk.shot("outcome-refused")
        assert hit_taps_to_form == 8, f"a hit took {hit_taps_to_form} taps to the supervisor's form"

        referred = _record(ui_kiosk, document=_typed("MBALLA", "AMINA", "UTO", number="WK0000001"))
        page.goto(f"/crossings/{referred.id}?new=1")
        walk.shot("result-referred")

        page.goto("/history")
        walk.shot("history")
        page.locator("#q").click()
        walk.shot("history-keyboard")
        page.goto("/stats")
        walk.shot("stats")
        page.goto("/stats?part=decisions")
        walk.shot("stats-decisions")
        page.goto("/diagnostics")
        page.locator("#run-selftest").click()
        expect(page.locator("#selftest")).to_be_visible()
        walk.shot("diagnostics", fits=False)
        page.goto("/no-such-screen")
        walk.shot("error-page")
        page.goto("/contrast?mode=high")
        walk.shot("home-high-contrast")
        page.goto("/contrast?mode=normal")
        page.locator("#logout").click()
        walk.shot("logged-out")
        login(page, "tech", TECH_PIN)
        expect(page.locator("#go-diagnostics")).to_be_visible()
        walk.shot("home-technician")
        page.goto("/crossing?direction=entry")
        walk.shot("not-allowed")
        assert walk.overflowing == [], f"screens that scroll at {size}: {walk.overflowing}"
    finally:
        context.close()
