"""Who may do what: every route and page of the app × officer, supervisor, technician and anonymous; CSRF; sessions.

The matrix is read from the app's own route table, so a route added without a rule in
``ACCESS`` fails ``test_every_route_has_an_access_rule`` naming the line to add.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from appliance.domain import clock
from appliance.storage.officers import Officers
from appliance.web import csrf
from appliance.web.app import create_app
from appliance.web.deps import SESSION_COOKIE, UI_HEADER
from appliance.workflow import crossings

from .broker import free_port
from .conftest import OFFICER_PIN, SUPERVISOR_PIN
from .samples import CLEAR_OKAFOR, EXPIRED_ERIKSSON, import_demo_lists
from .web_client import BrowserClient

TECH_PIN = "615283"
PINS = {"officer": ("alice", OFFICER_PIN), "supervisor": ("sam", SUPERVISOR_PIN), "technician": ("tech", TECH_PIN)}
ROLES = ("anonymous", "officer", "supervisor", "technician")

ANYONE = frozenset(ROLES)
STAFF = frozenset({"officer", "supervisor", "technician"})
TRAVELLERS = frozenset({"officer", "supervisor"})  # who processes travellers, and sees who crossed
SUPERVISORS = frozenset({"supervisor"})


@dataclass(frozen=True)
class Rule:
    """Roles that may use a route, and a request that gets past validation to the role check."""

    allowed: frozenset[str]
    json: Any = None
    data: dict[str, str] | None = None
    params: dict[str, str] = field(default_factory=dict)


LOGIN_FORM = {"officer_id": "alice", "pin": OFFICER_PIN}
RECORD = {"direction": "entry", "mrz": CLEAR_OKAFOR}

# (method, route path as declared) -> rule. API routes are called with a bearer token,
# pages and the page script's routes with the session cookie (and X-Kiosk-UI, CSRF token).
ACCESS: dict[tuple[str, str], Rule] = {
    ("GET", "/openapi.json"): Rule(ANYONE),
    ("GET", "/docs"): Rule(ANYONE),
    ("GET", "/docs/assets/{name}"): Rule(ANYONE),
    ("GET", "/api/health"): Rule(ANYONE),
    ("POST", "/api/login"): Rule(ANYONE, json={"officer_id": "alice", "pin": OFFICER_PIN}),
    ("POST", "/api/logout"): Rule(STAFF),
    ("GET", "/api/me"): Rule(STAFF),
    ("POST", "/api/crossings"): Rule(TRAVELLERS, json=RECORD),
    ("GET", "/api/crossings"): Rule(TRAVELLERS),
    ("GET", "/api/crossings/{crossing_id}"): Rule(TRAVELLERS),
    ("GET", "/api/referrals"): Rule(TRAVELLERS),
    ("POST", "/api/crossings/{crossing_id}/outcome"): Rule(SUPERVISORS, json={"outcome": "cleared", "note": ""}),
    ("GET", "/api/stats/daily"): Rule(STAFF),
    ("GET", "/api/exports/crossings"): Rule(SUPERVISORS),
    ("GET", "/api/lists"): Rule(STAFF),
    ("GET", "/api/devices"): Rule(STAFF),
    ("GET", "/api/uplink"): Rule(STAFF),
    # Crossings to HQ and HQ's receipt back on a USB stick: a supervisor's (no stick here: 404).
    ("GET", "/api/stick"): Rule(SUPERVISORS),
    ("POST", "/api/stick/export"): Rule(SUPERVISORS, json={}),
    ("POST", "/api/stick/receipt"): Rule(SUPERVISORS, json={}),
    ("POST", "/api/reader/read"): Rule(STAFF, params={"timeout": "0"}),
    ("POST", "/api/captures/photo"): Rule(TRAVELLERS),
    ("POST", "/api/captures/fingerprint"): Rule(TRAVELLERS, json={"timeout": 0.1}),
    ("GET", "/login"): Rule(ANYONE),
    ("POST", "/login"): Rule(ANYONE, data=LOGIN_FORM),
    ("POST", "/logout"): Rule(ANYONE, data={}),
    ("GET", "/setup"): Rule(ANYONE),  # the login page once a supervisor exists
    ("POST", "/setup"): Rule(ANYONE, data={}),  # likewise: closed for good
    ("GET", "/"): Rule(STAFF),
    ("GET", "/crossing"): Rule(TRAVELLERS, params={"direction": "entry"}),
    ("POST", "/ui/mrz-check"): Rule(STAFF, json={"text": CLEAR_OKAFOR}),
    ("POST", "/ui/document-check"): Rule(STAFF, json={"fields": {"surname": "A"}}),
    ("GET", "/ui/camera/preview"): Rule(TRAVELLERS),
    ("GET", "/crossings/{crossing_id}"): Rule(TRAVELLERS),
    # The form's own check is the supervisor's PIN typed on it (test_ui_routes); a technician's
    # screen is refused before it, since a refused form shows the crossing again.
    ("POST", "/crossings/{crossing_id}/outcome"): Rule(TRAVELLERS, data={}),
    ("GET", "/history"): Rule(TRAVELLERS),
    ("GET", "/referrals"): Rule(TRAVELLERS),
    ("PUT", "/ui/draft"): Rule(STAFF, json={}),
    ("DELETE", "/ui/draft"): Rule(STAFF),
    # A supervisor unlocks an officer from the login page with their own ID and PIN on the form.
    ("GET", "/login/unlock"): Rule(ANYONE),
    ("POST", "/login/unlock"): Rule(ANYONE, data={}),
    ("GET", "/stats"): Rule(STAFF),
    ("GET", "/diagnostics"): Rule(STAFF),
    ("POST", "/diagnostics/selftest"): Rule(STAFF, data={}),
    ("GET", "/stick"): Rule(SUPERVISORS),
    ("POST", "/stick/export"): Rule(SUPERVISORS, data={}),
    ("POST", "/stick/receipt"): Rule(SUPERVISORS, data={}),
    ("GET", "/ui/status"): Rule(ANYONE),  # no personal data, refreshes no session
    ("GET", "/ui/static/{name}"): Rule(ANYONE),
    ("GET", "/contrast"): Rule(ANYONE),  # the screen's theme cookie
}


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every endpoint, through included routers (FastAPI keeps each as one entry)."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from _walk(original.routes, prefix + getattr(route.include_context, "prefix", ""))
        elif isinstance(route, Mount):
            yield "MOUNT", prefix + route.path
        else:
            for method in sorted(set(getattr(route, "methods", None) or ()) - {"HEAD"}):
                yield method, prefix + route.path


@pytest.fixture
def app(store, config, officers):
    import_demo_lists(store)
    return create_app(config, store)


def _routes(app) -> list[tuple[str, str]]:
    return sorted(set(_walk(app.routes)))


def test_every_route_has_an_access_rule(app):
    missing = [route for route in _routes(app) if route not in ACCESS]
    assert not missing, (
        "routes without an access rule: add each to ACCESS in tests/test_access.py, e.g.\n"
        + "\n".join(f'    ("{method}", "{path}"): Rule(STAFF),' for method, path in missing))


def _referred(store, config, officers) -> str:
    return crossings.record(store, config, officers.get("alice"),
                            crossings.CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR, decision="referred")).crossing.id


def _url(path: str, crossing_id: str) -> str:
    values = {"crossing_id": crossing_id, "name": "kiosk.css"}
    return re.sub(r"\{(\w+)\}", lambda match: values.get(match.group(1), "x"), path)


def _call(app, role: str, method: str, path: str, rule: Rule, url: str, officers: Officers) -> httpx.Response:
    client = BrowserClient(app)
    headers: dict[str, str] = {}
    if role != "anonymous":
        token = officers.login(*PINS[role]).token
        if path.startswith("/api/"):
            headers["Authorization"] = f"Bearer {token}"
        else:
            client.cookies.set(SESSION_COOKIE, token)
    if not path.startswith("/api/"):
        headers[UI_HEADER] = "1"
    return client.request(method, url, json=rule.json, data=rule.data, params=rule.params, headers=headers,
                          follow_redirects=False)


def _denied(response: httpx.Response) -> bool:
    return response.status_code in (401, 403) or (
        response.status_code == 303 and response.headers["location"].startswith("/login")
        and "note=bye" not in response.headers["location"])


def test_role_matrix(app, store, config, officers):
    problems = []
    for method, path in _routes(app):
        rule = ACCESS.get((method, path))
        if rule is None or method == "MOUNT":
            continue  # test_every_route_has_an_access_rule names it
        for role in ROLES:
            url = _url(path, _referred(store, config, officers))
            response = _call(app, role, method, path, rule, url, officers)
            where = f"{method} {path} as {role}: {response.status_code} {response.text[:120]!r}"
            if response.status_code >= 500 and response.status_code != 503:
                problems.append(f"{where} (server error)")
            elif role in rule.allowed:
                if rule.allowed != ANYONE and _denied(response) or response.status_code in (401, 403):
                    problems.append(f"{where} (should be allowed)")
            elif role == "anonymous":
                if response.status_code != 401 and not (response.status_code == 303
                                                        and response.headers["location"].startswith("/login")):
                    problems.append(f"{where} (anonymous should get 401 or the login page)")
            elif response.status_code != 403:
                problems.append(f"{where} (should be 403)")
    assert not problems, "\n".join(problems)


# -- Who crossed: for the roles that process travellers, never a technician ---------------------

# Every route that shows stored crossings with their travellers' data (names, document numbers,
# photos, fingerprints). A technician flashes cards and runs the self-test: they read counts
# (/api/stats/daily, /stats), the uplink and its queue (/api/uplink), devices and diagnostics.
PERSONAL_DATA = (
    ("GET", "/api/crossings"),
    ("GET", "/api/crossings/{crossing_id}"),
    ("GET", "/api/referrals"),
    ("GET", "/api/exports/crossings"),
    ("GET", "/crossings/{crossing_id}"),
    ("POST", "/crossings/{crossing_id}/outcome"),
    ("GET", "/history"),
    ("GET", "/referrals"),
)
# The traveller recorded below, as any screen or answer would spell them.
ERIKSSON = ("ERIKSSON", "ANNA MARIA", "L898902C3")


def _eriksson_referred(store, config, officers) -> str:
    # Another traveller than the matrix's Okafor, whose MRZ the matrix itself sends to the checks.
    return crossings.record(store, config, officers.get("alice"), crossings.CrossingRequest(
        direction="entry", mrz=EXPIRED_ERIKSSON, decision="referred")).crossing.id


def _shows_eriksson(response: httpx.Response) -> list[str]:
    return [text for text in ERIKSSON if text in response.text]


def test_a_technician_is_refused_every_crossing_with_personal_data(app, store, config, officers):
    crossing_id = _eriksson_referred(store, config, officers)
    for method, path in PERSONAL_DATA:
        rule = ACCESS[(method, path)]
        assert "technician" not in rule.allowed and "supervisor" in rule.allowed, f"{method} {path}: {rule.allowed}"
        for role in ("officer", "supervisor", "technician"):
            response = _call(app, role, method, path, rule, _url(path, crossing_id), officers)
            where = f"{method} {path} as {role}: {response.status_code} {response.text[:200]!r}"
            if role in rule.allowed:
                # Allowed, and the traveller is there: the check below cannot pass by looking in the wrong place.
                assert not _denied(response) and _shows_eriksson(response), where
                continue
            assert response.status_code == 403 and not _shows_eriksson(response), where
            if path.startswith("/api/"):
                assert response.json()["kind"] == "Forbidden" and f"has role {role}" in response.json()["error"], where
            else:
                assert "Not allowed" in response.text, where
                if role == "technician":
                    assert "Your role cannot see travellers&#39; personal data." in response.text, where
    # Refused before anything happened: no outcome was recorded by the technician's form.
    assert crossings.get(store, crossing_id).outcome is None


def test_no_route_a_technician_may_use_shows_who_crossed(app, store, config, officers):
    crossing_id = _eriksson_referred(store, config, officers)
    seen = []
    for method, path in _routes(app):
        rule = ACCESS.get((method, path))
        if rule is None or method == "MOUNT" or "technician" not in rule.allowed:
            continue
        response = _call(app, "technician", method, path, rule, _url(path, crossing_id), officers)
        assert not _shows_eriksson(response), f"{method} {path} shows {_shows_eriksson(response)} to a technician"
        seen.append(path)
    # What a technician keeps: counts, the uplink's queue, devices, diagnostics and the home screen.
    assert {"/api/stats/daily", "/api/uplink", "/api/devices", "/stats", "/diagnostics", "/"} <= set(seen)
    home = _call(app, "technician", "GET", "/", ACCESS[("GET", "/")], "/", officers).text
    assert 'id="go-diagnostics"' in home and 'id="go-history"' not in home and 'id="go-referrals"' not in home


def test_every_state_changing_browser_request_needs_its_csrf_token(app, store, config, officers):
    unsafe = [(method, path) for method, path in _routes(app) if method in ("POST", "PUT", "PATCH", "DELETE")]
    assert len(unsafe) >= 10
    token = officers.login("sam", SUPERVISOR_PIN).token
    before = store.conn.execute("SELECT COUNT(*) FROM crossings").fetchone()[0]
    for method, path in unsafe:
        rule = ACCESS.get((method, path), Rule(STAFF))
        url = _url(path, "00000000-0000-0000-0000-000000000000")
        for sent in (None, "forged", csrf.token_of("another session's token")):
            client = TestClient(app)
            client.cookies.set(SESSION_COOKIE, token)
            headers = {UI_HEADER: "1"} | ({csrf.CSRF_HEADER: sent} if sent else {})
            response = client.request(method, url, json=rule.json, data=rule.data, params=rule.params,
                                      headers=headers, follow_redirects=False)
            assert response.status_code == 403, f"{method} {path} with token {sent!r}: {response.status_code}"
            assert response.json()["kind"] == "CsrfRefused" and "CSRF" in response.json()["error"] or \
                "no kiosk session" in response.json()["error"]
    assert store.conn.execute("SELECT COUNT(*) FROM crossings").fetchone()[0] == before
    # The same requests with the session's own token get past the check (to the route's own answer).
    client = BrowserClient(app)
    client.cookies.set(SESSION_COOKIE, token)
    recorded = client.post("/api/crossings", json=RECORD, headers={UI_HEADER: "1"})
    assert recorded.status_code == 201


def test_bearer_clients_need_no_csrf_token_and_cannot_borrow_the_cookie(app, officers):
    client = TestClient(app)
    token = client.post("/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN}).json()["token"]
    assert client.post("/api/crossings", json=RECORD, headers={"Authorization": f"Bearer {token}"}).status_code == 201
    # A cookie with a bearer header: the header decides, so no CSRF token is asked for and none is needed.
    client.cookies.set(SESSION_COOKIE, "someone else's cookie")
    assert client.post("/api/crossings", json=RECORD, headers={"Authorization": f"Bearer {token}"}).status_code == 201


def _page_token(html: str) -> str:
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    field_ = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert meta and field_ and meta.group(1) == field_.group(1)
    return meta.group(1)


def test_the_login_and_logout_forms_carry_their_token(app, store):
    client = TestClient(app)
    page = client.get("/login")
    assert csrf.PRESESSION_COOKIE in page.headers["set-cookie"] and "HttpOnly" in page.headers["set-cookie"]
    pre_token = _page_token(page.text)
    assert client.post("/login", data=LOGIN_FORM, follow_redirects=False).status_code == 403
    assert store.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    logged_in = client.post("/login", data={**LOGIN_FORM, "csrf_token": pre_token}, follow_redirects=False)
    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/"
    home = client.get("/")
    token = _page_token(home.text)
    assert token != pre_token  # the session's own token from now on
    assert client.post("/logout", data={"csrf_token": pre_token}, follow_redirects=False).status_code == 403
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert store.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)


def test_every_posting_form_in_the_templates_carries_the_token():
    folder = Path(__file__).parents[1] / "appliance" / "web" / "templates"
    missing = []
    for template in sorted(folder.glob("*.html")):
        for attributes, body in FORM.findall(template.read_text(encoding="utf-8")):
            posts = 'method="post"' in attributes or 'formmethod="post"' in body
            if posts and 'name="csrf_token"' not in body:
                missing.append(f"{template.name}: <form{attributes}>")
    assert not missing, ('add <input type="hidden" name="csrf_token" value="{{ csrf_token }}"> to: '
                         + "; ".join(missing))


# -- Sessions and PINs over HTTP -------------------------------------------------------------

def _age_sessions(store, minutes: int) -> None:
    then = clock.iso(clock.utcnow() - timedelta(minutes=minutes))
    with store.transaction():
        store.conn.execute("UPDATE sessions SET last_seen_at = ?", (then,))


def test_an_idle_session_expires_for_the_api_and_the_pages(app, store, config):
    client = BrowserClient(app)
    token = client.post("/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN}).json()["token"]
    client.post("/login", data=LOGIN_FORM)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=bearer).status_code == 200 and client.get("/history").status_code == 200
    _age_sessions(store, config.security.session_idle_minutes - 1)
    assert client.get("/api/me", headers=bearer).status_code == 200  # used: the idle timer starts again
    _age_sessions(store, config.security.session_idle_minutes + 1)
    expired = client.get("/api/me", headers=bearer)
    assert expired.status_code == 401 and "expired" in expired.json()["error"]
    page = client.get("/history", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?note=expired"
    assert store.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    actions = [row[0] for row in store.conn.execute("SELECT action FROM audit WHERE subject = 'alice'")]
    assert actions.count("session.expired") == 2


def test_pin_guessing_is_locked_out_on_every_way_in_until_the_lockout_ends(app, store, config, officers):
    client = BrowserClient(app)
    limit = config.security.max_failed_logins
    for attempt in range(limit - 1):
        assert client.post("/api/login", json={"officer_id": "alice", "pin": "000111"}).status_code == 401
    assert client.post("/api/login", json={"officer_id": "alice", "pin": "000111"}).status_code == 423
    # Locked: the right PIN is refused too, by the API, the login page and the supervisor form's PIN check alike.
    assert client.post("/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN}).status_code == 423
    assert client.post("/login", data=LOGIN_FORM).status_code == 423
    assert store.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    with store.transaction():  # alice's lockout ends early, so her screen can be used for the next part
        store.conn.execute("UPDATE officers SET locked_until = NULL, failed_logins = 0 WHERE id = 'alice'")
    # Guessing a supervisor's PIN on the outcome form counts towards that supervisor's lockout.
    client.post("/login", data={"officer_id": "alice", "pin": OFFICER_PIN})
    crossing_id = _referred(store, config, officers)
    for attempt in range(limit):
        client.post(f"/crossings/{crossing_id}/outcome", data={"supervisor_id": "sam", "pin": "000111",
                                                               "outcome": "cleared", "reason": "not_the_listed_person",
                                                               "note": "checked"})
    assert officers.get("sam").locked_until is not None
    assert crossings.get(store, crossing_id).outcome is None
    # The lockout ends by itself after lockout_minutes.
    with store.transaction():
        store.conn.execute("UPDATE officers SET locked_until = ? WHERE id = 'alice'",
                           (clock.iso(clock.utcnow() - timedelta(seconds=1)),))
    assert client.post("/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN}).status_code == 200
    actions = [row[0] for row in store.conn.execute("SELECT action FROM audit WHERE subject = 'alice'")]
    assert actions.count("login.refused") == limit - 1 and actions.count("login.lockout") == 1


# -- Where the API listens -------------------------------------------------------------------

def _listening(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:
                found.add(address)
    return found


def _serve(config_path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "appliance", "run"], env={**os.environ, "KIOSK_CONFIG": str(config_path)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_listening(port: int, process: subprocess.Popen) -> set[str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kiosk run exited: {process.stderr.read().decode() if process.stderr else ''}")
        addresses = _listening(port)
        if addresses:
            return addresses
        time.sleep(0.1)
    raise AssertionError("kiosk run did not listen in 30 s")


@pytest.mark.parametrize("host, expected", [(None, {"0100007F"}), ("0.0.0.0", {"00000000"})])
def test_kiosk_run_listens_on_loopback_unless_configured(config_path, host, expected):
    port = free_port()
    with config_path.open("a") as handle:
        handle.write(f"\n[api]\nport = {port}\n" + (f'host = "{host}"\n' if host else ""))
    process = _serve(config_path)
    try:
        # 0100007F is 127.0.0.1 in /proc/net/tcp's byte order; 00000000 is every address.
        assert _wait_listening(port, process) == expected
    finally:
        process.terminate()
        process.wait(15)
