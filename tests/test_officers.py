"""Officers: slow salted PIN hashes, login lockout, idle sessions, roles."""

from __future__ import annotations

from datetime import timedelta

import pytest

from appliance.storage import audit
from appliance.domain import clock
from appliance.errors import AuthError, Forbidden, KioskError, LockedOut, NotFound
from appliance.storage.officers import InvalidPin, check_pin, hash_pin, require_role

from .conftest import OFFICER_PIN


def test_pin_hash_is_salted_and_slow_scheme():
    first, second = hash_pin("482915"), hash_pin("482915")
    assert first != second and first.startswith("scrypt$16384$")
    assert "482915" not in first
    assert check_pin("482915", first) and not check_pin("482916", first)


def test_pin_is_not_stored_in_clear(store, officers):
    row = store.conn.execute("SELECT pin_hash FROM officers WHERE id='alice'").fetchone()
    assert OFFICER_PIN not in row[0]


@pytest.mark.parametrize("pin, message", [
    ("12a456", "digits only"), ("4829", "at least 6"), ("111111", "repeated or consecutive"),
    ("234567", "repeated or consecutive"), ("", "digits only"),
])
def test_weak_or_malformed_pins_are_refused(officers, pin, message):
    with pytest.raises(InvalidPin, match=message):
        officers.add("bob", "officer", pin)
    with pytest.raises(NotFound):
        officers.get("bob")


def test_bad_id_role_and_duplicates(officers):
    with pytest.raises(KioskError, match="not valid"):
        officers.add("bad id!", "officer", "482915")
    with pytest.raises(KioskError, match="role 'admin'"):
        officers.add("bob", "admin", "482915")
    with pytest.raises(KioskError, match="already exists"):
        officers.add("alice", "officer", "918273")


def test_login_and_session(officers):
    session = officers.login("alice", OFFICER_PIN)
    assert officers.session(session.token).officer.id == "alice"
    officers.logout(session.token)
    with pytest.raises(AuthError, match="no such session"):
        officers.session(session.token)


def test_wrong_pin_then_lockout_even_for_right_pin(officers, store):
    now = clock.utcnow()
    for left in (2, 1):
        with pytest.raises(AuthError, match=f"{left} tries left"):
            officers.login("alice", "000999", now=now)
    with pytest.raises(LockedOut, match="locked out until"):
        officers.login("alice", "000999", now=now)
    with pytest.raises(LockedOut):
        officers.login("alice", OFFICER_PIN, now=now + timedelta(minutes=4))
    # The lockout (5 minutes in the test config) ends by itself.
    assert officers.login("alice", OFFICER_PIN, now=now + timedelta(minutes=6)).officer.id == "alice"
    actions = [row[0] for row in store.conn.execute("SELECT action FROM audit WHERE subject='alice'")]
    assert actions.count("login.refused") == 2 and "login.lockout" in actions
    assert audit.verify(store)[1] == []


def test_supervisor_unlock(officers):
    now = clock.utcnow()
    for _ in range(3):
        with pytest.raises(AuthError):
            officers.login("alice", "000999", now=now)
    officers.unlock("alice")
    assert officers.login("alice", OFFICER_PIN, now=now).officer.id == "alice"


def test_unknown_officer_gives_the_same_message(officers):
    with pytest.raises(AuthError, match="unknown officer id or wrong PIN"):
        officers.login("nobody", OFFICER_PIN)


def test_idle_session_expires(officers):
    now = clock.utcnow()
    session = officers.login("alice", OFFICER_PIN, now=now)
    officers.session(session.token, now=now + timedelta(minutes=9))  # use refreshes the idle timer
    officers.session(session.token, now=now + timedelta(minutes=18))
    with pytest.raises(AuthError, match="expired after inactivity"):
        officers.session(session.token, now=now + timedelta(minutes=29))


def test_disabled_officer_cannot_log_in_and_loses_sessions(officers):
    session = officers.login("alice", OFFICER_PIN)
    officers.set_active("alice", False)
    with pytest.raises(AuthError):
        officers.session(session.token)
    with pytest.raises(AuthError):
        officers.login("alice", OFFICER_PIN)


def test_roles(officers):
    require_role(officers.get("sam"), "supervisor")
    with pytest.raises(Forbidden, match="has role officer"):
        require_role(officers.get("alice"), "supervisor")


def test_cli_add_reads_pin_from_stdin(run_cli, store, config):
    result = run_cli("officers", "add", "olga", "--role", "supervisor", input="593817\n")
    assert result.exit_code == 0, result.output
    assert "593817" not in result.output
    listed = run_cli("officers", "list", "--json")
    assert [o["id"] for o in __import__("json").loads(listed.stdout)] == ["olga"]
    weak = run_cli("officers", "add", "petr", "--role", "officer", input="12\n")
    assert weak.exit_code == 1 and "at least 6" in weak.stderr
