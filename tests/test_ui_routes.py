"""The touchscreen's page routes on the real app and store (no browser): session cookie, errors, catalogue."""

from __future__ import annotations

import html
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file

from appliance.web.app import create_app
from appliance.workflow.crossings import CrossingRequest, get, record
from appliance.hw.camera import describe_image
from appliance.hw.photo_quality import PREVIEW_WIDTH
from appliance.web import charts
from appliance.web.i18n import catalogue, choose, translator
from appliance.web.deps import SESSION_COOKIE
from appliance.web.pages.feedback import mrz_feedback

from .conftest import OFFICER_PIN, SUPERVISOR_PIN
from .samples import CLEAR_OKAFOR, PERSON_HIT_DOE, import_demo_lists, with_bad_check_digit
from .web_client import BrowserClient

UI = {"X-Kiosk-UI": "1"}
PACKAGE = Path(__file__).parent.parent / "appliance"


@pytest.fixture
def client(store, config, officers):
    import_demo_lists(store)
    return BrowserClient(create_app(config, store))


def _login(client, officer_id="alice", pin=OFFICER_PIN):
    response = client.post("/login", data={"officer_id": officer_id, "pin": pin}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/", response.text
    return response


def _sessions(store) -> int:
    with store.lock:
        return store.conn.execute("SELECT count(*) FROM sessions").fetchone()[0]


def _rows(store) -> dict[str, int]:
    """Rows of every table a crossing, a capture or an officer's action writes to."""
    with store.lock:
        return {table: store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("crossings", "captures", "audit", "outbox")}


def _last_seen(store) -> list[str]:
    with store.lock:
        return [row[0] for row in store.conn.execute("SELECT last_seen_at FROM sessions ORDER BY last_seen_at")]


# A national identity card without an MRZ, as the officer types it on the fields screen.
TYPED = {"surname": "MBALLA", "given_names": "AMINA", "nationality": "UTO", "sex": "F",
         "document_number": "ID4471203", "document_code": "I", "issuing_state": "UTO",
         "birth_date": "1991-07-14", "expiry_date": "2031-02-28"}


def test_pages_need_a_session_and_login_sets_a_strict_httponly_cookie(client):
    for path in ("/crossing?direction=entry", "/history", "/stats", "/diagnostics", "/crossings/x"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    cookie = _login(client).headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    for path in ("/", "/crossing?direction=entry", "/history", "/stats", "/diagnostics"):
        assert client.get(path).status_code == 200, path


def test_wrong_pin_then_lockout_then_right_pin_still_refused(client, store):
    for attempt in range(2):
        page = client.post("/login", data={"officer_id": "alice", "pin": "000000"})
        assert page.status_code == 401
        assert f"Unknown officer ID or wrong PIN. Tries left before this ID is locked out: {2 - attempt}." in page.text
    page = client.post("/login", data={"officer_id": "alice", "pin": "000001"})
    assert page.status_code == 423 and "locked out until" in page.text
    page = client.post("/login", data={"officer_id": "alice", "pin": OFFICER_PIN})
    assert page.status_code == 423 and SESSION_COOKIE not in page.headers.get("set-cookie", "")
    assert _sessions(store) == 0


def test_empty_login_fields_are_refused_without_touching_any_account(client, store, officers):
    before = officers.get("alice")
    for data in ({"officer_id": "", "pin": OFFICER_PIN}, {"officer_id": "alice", "pin": ""}, {}):
        page = client.post("/login", data=data)
        assert page.status_code == 422 and "Enter your officer ID and your PIN." in page.text
    assert officers.get("alice") == before and _sessions(store) == 0


def test_logout_ends_the_session_and_clears_the_cookie(client, store):
    _login(client)
    token = client.cookies.get(SESSION_COOKIE)
    response = client.post("/logout", follow_redirects=False)
    assert response.headers["location"] == "/login?note=bye" and f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]
    assert _sessions(store) == 0
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_api_takes_the_cookie_only_with_the_ui_header(client):
    _login(client)
    # Without the header a cross-site form could replay the cookie; with it, a page of
    # another origin would need a CORS preflight the app never grants.
    assert client.get("/api/me").status_code == 401
    assert client.post("/api/crossings", json={"direction": "entry", "mrz": CLEAR_OKAFOR}).status_code == 401
    assert client.get("/api/me", headers=UI).json() == {"id": "alice", "role": "officer"}
    # An explicit bearer header wins over the cookie, and a bad one is not rescued by it.
    assert client.get("/api/me", headers={**UI, "Authorization": "Bearer nonsense"}).status_code == 401


def test_mrz_check_names_each_check_digit(client):
    assert client.post("/ui/mrz-check", json={"text": CLEAR_OKAFOR}).status_code == 401
    _login(client)
    assert client.post("/ui/mrz-check", json={"text": CLEAR_OKAFOR}).status_code == 401  # no UI header
    good = client.post("/ui/mrz-check", json={"text": CLEAR_OKAFOR}, headers=UI).json()
    assert good["complete"] and good["valid"] and good["fields"]["surname"] == "OKAFOR"
    assert {check["name"]: check["ok"] for check in good["checks"]} == {
        "document_number": True, "birth_date": True, "expiry_date": True, "composite": True}
    bad = client.post("/ui/mrz-check", json={"text": with_bad_check_digit(CLEAR_OKAFOR)}, headers=UI).json()
    failed = {check["name"] for check in bad["checks"] if not check["ok"]}
    assert not bad["valid"] and "document_number" in failed and "birth_date" not in failed
    partial = client.post("/ui/mrz-check", json={"text": "P<UTOOKAFOR"}, headers=UI).json()
    assert partial["complete"] is False and "line" in partial["message"] and partial["checks"] == []
    assert client.post("/ui/mrz-check", json={"text": "x" * 401}, headers=UI).status_code == 422


def test_document_check_names_each_wrong_field_and_records_nothing(client, store):
    assert client.post("/ui/document-check", json={"fields": TYPED}).status_code == 401
    _login(client)
    assert client.post("/ui/document-check", json={"fields": TYPED}).status_code == 401  # no UI header
    before = _rows(store)

    good = client.post("/ui/document-check", json={"fields": TYPED}, headers=UI).json()
    assert good["valid"] and good["errors"] == {} and good["document"] == TYPED

    # Every field wrong in its own way: each one is named, with the rule the officer reads,
    # and the workflow's own reason alongside.
    bad = {"surname": "MB4LLA", "given_names": "AMINA-JO", "nationality": "U2O", "sex": "Q",
           "document_number": "ID-4471", "document_code": "PAS", "issuing_state": "",
           "birth_date": "2999-01-01", "expiry_date": "2031-02-30"}
    answer = client.post("/ui/document-check", json={"fields": bad}, headers=UI).json()
    assert not answer["valid"] and answer["document"] is None
    assert sorted(answer["errors"]) == sorted(bad)
    assert answer["errors"]["nationality"] == "An ICAO code of 1 to 3 letters, such as UTO or D."
    assert answer["errors"]["issuing_state"].startswith("Required:")
    assert "in the future" in answer["details"]["birth_date"]
    assert "expiry_date must be a date" in answer["details"]["expiry_date"]
    assert "sex must be M, F or X" in answer["details"]["sex"]

    # One field wrong, the others untouched by it.
    one = client.post("/ui/document-check", json={"fields": {**TYPED, "issuing_state": "UT0"}}, headers=UI).json()
    assert list(one["errors"]) == ["issuing_state"]

    # Optional fields left empty take the workflow's defaults (P, X, no dates); the
    # required ones are still asked for.
    minimal = {"surname": "MBALLA", "document_number": "X1", "issuing_state": "UTO",
               "given_names": "", "nationality": "", "sex": "", "document_code": "", "birth_date": "", "expiry_date": ""}
    answer = client.post("/ui/document-check", json={"fields": minimal}, headers=UI).json()
    assert answer["valid"] and answer["document"] == {"document_number": "X1", "issuing_state": "UTO",
                                                      "surname": "MBALLA"}
    empty = client.post("/ui/document-check", json={"fields": {}}, headers=UI).json()
    assert sorted(empty["errors"]) == ["document_number", "issuing_state", "surname"]

    # Not a field of the workflow, or far too long: refused as bad input.
    assert client.post("/ui/document-check", json={"fields": {**TYPED, "height": "180"}}, headers=UI).status_code == 422
    assert client.post("/ui/document-check", json={"fields": {"surname": "A" * 101}}, headers=UI).status_code == 422

    # The messages come in the officer's language.
    client.get("/login", params={"lang": "fr"})
    french = client.post("/ui/document-check", json={"fields": {**TYPED, "nationality": "U2O"}}, headers=UI).json()
    assert french["errors"]["nationality"] == "Code OACI de 1 à 3 lettres, comme UTO ou D."

    after = _rows(store)
    assert after == before, "the document check must record nothing"


def test_typed_fields_are_recorded_as_a_document_and_bad_ones_store_nothing(client, store):
    _login(client)
    before = _rows(store)
    bad = client.post("/ui/document-check", json={"fields": {**TYPED, "nationality": "U2O"}}, headers=UI).json()
    assert bad["document"] is None
    # The record call checks the same rules: a document the screen would refuse is a 422.
    refused = client.post("/api/crossings", json={"direction": "entry", "document": {**TYPED, "nationality": "U2O"}},
                          headers=UI)
    assert refused.status_code == 422 and "nationality" in refused.json()["error"]
    assert _rows(store)["crossings"] == before["crossings"] and _rows(store)["outbox"] == before["outbox"]

    document = client.post("/ui/document-check", json={"fields": TYPED}, headers=UI).json()["document"]
    recorded = client.post("/api/crossings", json={"direction": "entry", "document": document}, headers=UI)
    assert recorded.status_code == 201, recorded.text
    crossing = recorded.json()
    assert crossing["document_source"] == "manual" and crossing["mrz"] is None
    assert {key: crossing[key] for key in TYPED} == TYPED
    assert "typed by hand: no check digits to verify" in crossing["document_checks"]["problems"]


def test_document_check_takes_a_year_only_birth_date_and_it_is_recorded_as_typed(client, store):
    _login(client)
    before = _rows(store)
    # The card prints "XX/XX/1975": only the year is typed, and the field is valid as it is.
    year_only = client.post("/ui/document-check", json={"fields": {**TYPED, "birth_date": "1975"}}, headers=UI).json()
    assert year_only["valid"] and year_only["errors"] == {} and year_only["details"] == {}
    assert year_only["document"]["birth_date"] == "1975"
    year_month = client.post("/ui/document-check", json={"fields": {**TYPED, "birth_date": "1975-03"}},
                             headers=UI).json()
    assert year_month["valid"] and year_month["document"]["birth_date"] == "1975-03"

    # A month that does not exist: the field's rule, which says what is accepted, and the
    # workflow's reason.
    bad = client.post("/ui/document-check", json={"fields": {**TYPED, "birth_date": "1975-13"}}, headers=UI).json()
    assert not bad["valid"] and list(bad["errors"]) == ["birth_date"]
    assert bad["errors"]["birth_date"] == (
        "1980-05-31, or partial: 1980-05 or 1980; not in the future; empty if unknown.")
    assert "birth_date must be YYYY-MM-DD, YYYY-MM or YYYY (got '1975-13'): the month must be 01-12" in (
        bad["details"]["birth_date"])
    assert _rows(store) == before, "the document check must record nothing"

    recorded = client.post("/api/crossings", json={"direction": "entry", "document": year_only["document"]}, headers=UI)
    assert recorded.status_code == 201, recorded.text
    crossing = recorded.json()
    assert crossing["birth_date"] == "1975" and crossing["document_source"] == "manual"
    assert get(store, crossing["id"]).to_dict()["birth_date"] == "1975"
    refused = client.post("/api/crossings", json={"direction": "entry", "document": {**TYPED, "birth_date": "75"}},
                          headers=UI)
    assert refused.status_code == 422 and "(got '75')" in refused.json()["error"]
    assert _rows(store)["crossings"] == before["crossings"] + 1

    client.get("/login", params={"lang": "fr"})
    french = client.post("/ui/document-check", json={"fields": {**TYPED, "birth_date": "1975-13"}}, headers=UI).json()
    assert french["errors"]["birth_date"] == (
        "1980-05-31, ou partielle : 1980-05, 1980 ; pas future ; vide si inconnue.")


def test_camera_preview_needs_a_session_and_stores_nothing(store, config, officers):
    from appliance.hw import open_devices

    devices = open_devices(config.hardware)
    try:
        client = BrowserClient(create_app(config, store, devices))
        assert client.get("/ui/camera/preview").status_code == 401
        _login(client)
        assert client.get("/ui/camera/preview").status_code == 401  # no UI header
        before, seen = _rows(store), _last_seen(store)

        for _ in range(3):
            frame = client.get("/ui/camera/preview", headers=UI)
            assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
            assert frame.headers["cache-control"] == "no-store" and frame.content.startswith(b"\xff\xd8")
            assert describe_image(frame.content)[1] <= PREVIEW_WIDTH

        # A failing camera answers 503 with the reason, as a capture does; preview frames
        # are never counted as photos taken.
        devices.camera.fail_next("lens covered")
        failed = client.get("/ui/camera/preview", headers=UI)
        assert failed.status_code == 503 and "lens covered" in failed.json()["error"]
        assert devices.camera.captures == []

        # Nothing stored, nothing audited, and the session's idle timer is not refreshed:
        # a screen left open on the photo step still times out.
        assert _rows(store) == before and _last_seen(store) == seen

        with store.transaction():
            store.conn.execute("UPDATE sessions SET last_seen_at = '2000-01-01T00:00:00.000000Z'")
        assert client.get("/ui/camera/preview", headers=UI).status_code == 401

        technician = BrowserClient(create_app(config, store, devices))
        _login(technician, "tech", "615283")
        assert technician.get("/ui/camera/preview", headers=UI).status_code == 403
    finally:
        devices.close()

    no_camera = BrowserClient(create_app(config, store, None))
    _login(no_camera)
    missing = no_camera.get("/ui/camera/preview", headers=UI)
    assert missing.status_code == 503 and "no camera" in missing.json()["error"]


def test_mrz_feedback_never_raises_on_junk():
    for text in ("", "\n\n", "é" * 88, "<" * 88, "P<" * 200):
        assert mrz_feedback(text)["complete"] in (True, False)


def test_supervisor_outcome_needs_a_supervisor_pin_and_changes_nothing_otherwise(client, store, config, officers):
    hit = record(store, config, officers.get("alice"),
                 CrossingRequest(direction="entry", mrz=PERSON_HIT_DOE)).to_dict()
    clear = record(store, config, officers.get("alice"),
                   CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR)).to_dict()
    _login(client)
    url = f"/crossings/{hit['id']}/outcome"
    why = {"reason": "listed_person_confirmed"}
    cases = [
        ({"supervisor_id": "sam", "pin": SUPERVISOR_PIN, "outcome": "maybe", **why}, 422, "Choose cleared or refused."),
        ({"supervisor_id": "sam", "pin": SUPERVISOR_PIN, "outcome": "refused"}, 422, "Choose the reason"),
        ({"supervisor_id": "sam", "pin": SUPERVISOR_PIN, "outcome": "refused", "reason": "because"}, 422,
         "Choose the reason"),
        ({"supervisor_id": "sam", "pin": SUPERVISOR_PIN, "outcome": "refused", "reason": "other"}, 422,
         "Say why in the note"),
        ({"supervisor_id": "", "pin": "", "outcome": "refused", **why}, 422, "must enter their ID and PIN"),
        ({"supervisor_id": "sam", "pin": "000000", "outcome": "refused", **why}, 401,
         "Unknown supervisor ID or wrong PIN. Tries left: 2."),
        ({"supervisor_id": "alice", "pin": OFFICER_PIN, "outcome": "refused", **why}, 403,
         "You recorded this crossing"),
        ({"supervisor_id": "tech", "pin": "615283", "outcome": "refused", **why}, 403, "Only a supervisor"),
    ]
    for data, status, message in cases:
        page = client.post(url, data=data)
        assert page.status_code == status and message in page.text, (data, page.status_code)
        assert get(store, hit["id"]).to_dict()["outcome"] is None
    page = client.post(f"/crossings/{clear['id']}/outcome",
                       data={"supervisor_id": "sam", "pin": SUPERVISOR_PIN, "outcome": "refused", **why})
    assert page.status_code == 409 and get(store, clear["id"]).to_dict()["outcome"] is None
    sessions = _sessions(store)
    done = client.post(url, data={"supervisor_id": "sam", "pin": SUPERVISOR_PIN, "outcome": "refused", **why,
                                  "note": "seen"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/crossings/{hit['id']}"
    stored = get(store, hit["id"]).to_dict()
    assert (stored["outcome"], stored["outcome_by"], stored["outcome_reason"], stored["outcome_note"]) == (
        "refused", "sam", "listed_person_confirmed", "seen")
    assert _sessions(store) == sessions  # the supervisor's confirmation leaves no session open
    assert "Outcome: Refused" in client.get(f"/crossings/{hit['id']}").text
    assert client.get("/crossings/no-such-id").status_code == 404


def test_one_supervisor_login_answers_the_unlock_and_the_outcome_forms_alike(store, officers):
    from appliance.web.pages.render import Refusal, supervisor_session

    _ = translator("fr")
    with supervisor_session(officers, "sam", SUPERVISOR_PIN, _) as session:
        assert not isinstance(session, Refusal) and session.officer.id == "sam"
        assert officers.session(session.token).officer.id == "sam"
    assert _sessions(store) == 0  # logged out once the form is done
    answers = []
    for supervisor_id, pin in [("ghost", SUPERVISOR_PIN), ("sam", "000000"), ("sam", "000000"), ("sam", "000000"),
                               ("sam", SUPERVISOR_PIN)]:
        with supervisor_session(officers, supervisor_id, pin, _) as refused:
            answers.append(refused)
    assert answers == [
        Refusal("Identifiant de superviseur inconnu ou code PIN erroné.", 401),
        Refusal("Superviseur inconnu ou code PIN erroné. Essais restants : 2.", 401),
        Refusal("Superviseur inconnu ou code PIN erroné. Essais restants : 1.", 401),
        # The third wrong PIN starts the lockout (max_failed_logins = 3); the right PIN is then refused too.
        Refusal("Ce superviseur est bloqué après trop de codes PIN erronés.", 423),
        Refusal("Ce superviseur est bloqué après trop de codes PIN erronés.", 423),
    ]
    assert _sessions(store) == 0


def test_result_page_explains_a_hit_and_a_clear(client, store, config, officers):
    hit = record(store, config, officers.get("alice"),
                 CrossingRequest(direction="exit", mrz=PERSON_HIT_DOE)).to_dict()
    clear = record(store, config, officers.get("alice"),
                   CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR)).to_dict()
    _login(client)
    page = client.get(f"/crossings/{hit['id']}?new=1").text
    assert 'class="alert"' in page and "ALERT: watchlist hit" in page and 'data-alarm="1"' in page
    assert "P-0001" in page and 'id="supervisor"' in page
    # Seen again from the history, it does not sound the alarm again.
    assert 'data-alarm="0"' in client.get(f"/crossings/{hit['id']}").text
    page = client.get(f"/crossings/{clear['id']}?new=1").text
    assert "verdict-cleared" in page and 'id="supervisor"' not in page and 'data-alarm="0"' in page


def test_devices_that_are_missing_are_offered_as_unavailable(store, config, officers):
    from appliance.hw import open_devices

    _ = officers
    no_devices = BrowserClient(create_app(config, store, None))
    _login(no_devices)
    page = no_devices.get("/crossing?direction=entry").text
    assert '"photo": {"reason": "device unavailable: no camera"' in page
    assert '"fingerprint": {"reason": "device unavailable: no fingerprint reader"' in page

    without_finger = config.model_copy(update={"hardware": config.hardware.model_copy(update={"fingerprint": "none"})})
    devices = open_devices(without_finger.hardware)
    try:
        client = BrowserClient(create_app(without_finger, store, devices))
        _login(client)
        page = client.get("/crossing?direction=entry").text
        assert '"fingerprint": {"reason": "device unavailable: no fingerprint reader"' in page
        assert '"photo":' not in page.split('id="crossing-config"')[1]
    finally:
        devices.close()


def test_a_technician_cannot_open_the_crossing_screen(client):
    _login(client, "tech", "615283")
    page = client.get("/crossing?direction=entry")
    assert page.status_code == 403 and "Your role cannot record crossings." in page.text
    assert 'id="new-entry"' not in client.get("/").text


def test_history_searches_todays_crossings(client, store, config, officers):
    for text in (CLEAR_OKAFOR, PERSON_HIT_DOE):
        record(store, config, officers.get("alice"), CrossingRequest(direction="entry", mrz=text))
    _login(client)
    page = client.get("/history").text
    assert "OKAFOR" in page and "DOE" in page and "(2)" in page
    page = client.get("/history", params={"q": "okafor"}).text
    assert "OKAFOR" in page and "DOE, JOHN" not in page
    assert "No crossing matches." in client.get("/history", params={"q": "NOBODY"}).text
    assert client.get("/history", params={"page": -1}).status_code == 422


def test_status_bar_needs_no_session_and_does_not_keep_one_alive(client, store):
    bar = client.get("/ui/status")
    assert bar.status_code == 200 and "Battery: unknown" in bar.text and "Lists:" in bar.text
    _login(client)
    with store.lock:
        seen = store.conn.execute("SELECT last_seen_at FROM sessions").fetchone()[0]
    client.get("/ui/status")
    with store.lock:
        assert store.conn.execute("SELECT last_seen_at FROM sessions").fetchone()[0] == seen


def test_training_banner(store, config, officers):
    training = config.model_copy(update={"kiosk": config.kiosk.model_copy(update={"training": True})})
    client = BrowserClient(create_app(training, store))
    assert "TRAINING MODE" in client.get("/login").text


def test_static_assets_only_from_the_ui_folder(client):
    script = client.get("/ui/static/kiosk.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert client.get("/ui/static/kiosk.css").headers["content-type"].startswith("text/css")
    for name in ("..%2Fi18n.py", "i18n.py", "nothing.css", ".hidden.css"):
        assert client.get(f"/ui/static/{name}").status_code == 404, name


def test_language_is_chosen_at_login_and_kept(client):
    response = client.get("/login", params={"lang": "fr"}, follow_redirects=False)
    assert response.status_code == 303 and "kiosk_lang=fr" in response.headers["set-cookie"]
    page = html.unescape(client.get("/login").text)
    assert '<html lang="fr">' in page and "Connexion de l'agent" in page
    _login(client)
    assert "Nouvelle entrée" in client.get("/").text
    assert "<h1>Statistiques" in client.get("/stats").text
    client.get("/login", params={"lang": "xx"})  # not offered: back to the default
    assert '<html lang="en">' in client.get("/").text
    assert choose("de") == "en"
    with pytest.raises(LookupError, match="not offered"):
        catalogue("de")


def _source_messages() -> set[str]:
    keywords = {"_": None, "N_": None}
    found = set()
    sources = [("jinja2", path) for path in (PACKAGE / "web" / "templates").glob("*.html")]
    sources += [("python", path) for path in (PACKAGE / "web").rglob("*.py")]
    # The reasons' templates and terms are rendered on screen by appliance.web.reasons.
    sources += [("python", PACKAGE / "domain" / "reasons.py")]
    # What to check when a device fails its self-test: the back-ends' and the self-test's hints.
    sources += [("python", path) for path in (PACKAGE / "hw").glob("*.py")]
    sources += [("python", PACKAGE / "workflow" / "selftest.py")]
    for method, path in sources:
        for _line, message, _comments, _context in extract_from_file(method, str(path), keywords=keywords):
            found.add(message if isinstance(message, str) else message[0])
    return found


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_string_on_screen_is_in_the_french_catalogue():
    messages = _source_messages()
    french = catalogue("fr")
    assert len(messages) > 100
    missing = sorted(messages - set(french))
    assert not missing, f"add these to appliance/web/locale/fr/LC_MESSAGES/messages.po: {missing}"
    assert not sorted(set(french) - messages), "the French catalogue has strings no screen uses"
    for message in messages:
        assert _fields(french[message]) == _fields(message), f"placeholders differ in {message!r}"
    assert translator("fr")("{count} to send", count=3) == "3 à envoyer"


def test_charts_show_their_numbers_to_screen_readers():
    bars = str(charts.bar_chart("By nationality", [("UTO", 3), ("<b>", 1)]))
    assert 'role="img"' in bars and 'aria-label="By nationality: UTO 3, &lt;b&gt; 1"' in bars
    assert "<b>" not in bars
    empty = str(charts.bar_chart("By direction", [("Entry", 0)], empty="No crossings"))
    assert "No crossings" in empty and "<rect" not in empty
    days = [{"date": "2026-01-0%d" % day, "total": day, "by_direction": {"entry": day, "exit": 0}} for day in (1, 2)]
    column = str(charts.day_chart("Per day", days, "Entry", "Exit"))
    assert 'aria-label="Per day: 01-01 1, 01-02 2"' in column
    heights = [float(h) for h in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill="#0b3d91"', column)]
    legend, first, second = heights  # the legend's entry swatch, then one column per day
    assert legend == 14 and second == pytest.approx(2 * first)


def test_a_failed_self_test_says_what_to_check_in_french(store, config, officers, tmp_path):
    # The simulated reader's samples file is missing: its row fails with the back-end's hint.
    simulated = config.hardware.simulated.model_copy(update={"mrz_file": tmp_path / "missing.mrz"})
    broken = config.model_copy(update={"hardware": config.hardware.model_copy(update={"simulated": simulated})})
    client = BrowserClient(create_app(broken, store))
    client.get("/login", params={"lang": "fr"})
    _login(client, "tech", "615283")
    page = html.unescape(client.post("/diagnostics/selftest").text)
    assert "À vérifier" in page  # the hint column, shown because a device failed
    assert "vérifiez hardware.simulated.mrz_file" in page
    assert "check hardware.simulated.mrz_file" not in page
