"""``kiosk crossings resolve`` keeps the touchscreen's rules: a reason from the same list, and four eyes."""

from __future__ import annotations

import json

import pytest

from appliance.workflow import crossings

from .conftest import SUPERVISOR_PIN
from .samples import PERSON_HIT_DOE, import_demo_lists

SECOND_PIN = "508317"


@pytest.fixture
def referral(run_cli, store, officers, tmp_path):
    """Record a watchlist hit from the CLI; returns a function taking the recording officer."""
    import_demo_lists(store)
    officers.add("sue", "supervisor", SECOND_PIN)
    mrz = tmp_path / "hit.mrz"
    mrz.write_text(PERSON_HIT_DOE + "\n")

    def record(officer: str = "alice") -> str:
        result = run_cli("crossings", "record", "--direction", "entry", "--mrz-file", str(mrz), "--officer", officer,
                         "--json")
        assert result.exit_code == 0, result.output
        crossing = json.loads(result.stdout)
        assert crossing["decision"] == "referred"
        return crossing["id"]

    return record


def _resolve(run_cli, crossing_id, *args, supervisor="sam", pin=SUPERVISOR_PIN):
    return run_cli("crossings", "resolve", crossing_id, "--supervisor", supervisor, *args, input=f"{pin}\n")


def _untouched(store, officers, crossing_id):
    """No outcome, no outcome message for HQ, no resolve in the audit log, no PIN try spent."""
    assert crossings.get(store, crossing_id).outcome is None
    assert store.conn.execute("SELECT count(*) FROM outbox WHERE kind = 'crossing_outcome'").fetchone()[0] == 0
    assert store.conn.execute("SELECT count(*) FROM audit WHERE action = 'crossing.resolve'").fetchone()[0] == 0
    assert officers.get("sam").failed_logins == 0


@pytest.mark.parametrize("args,message", [
    (["--outcome", "cleared"],
     "error: an outcome needs a reason: one of not_the_listed_person, listed_person_confirmed, "
     "document_checked_valid, document_invalid, other"),
    (["--outcome", "cleared", "--reason", "because"], "error: outcome reason 'because' is not one of"),
    (["--outcome", "refused", "--reason", "other"], "error: outcome reason 'other' needs a note saying why"),
    (["--outcome", "refused", "--reason", "other", "--note", "   "], "error: outcome reason 'other' needs a note"),
])
def test_resolve_needs_a_reason_from_the_touchscreens_list_and_changes_nothing(run_cli, store, officers, referral,
                                                                                args, message):
    crossing_id = referral()
    # A wrong PIN on purpose: the decision is refused before the PIN is checked, so it costs no try.
    result = _resolve(run_cli, crossing_id, *args, pin="000999")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(message), result.stderr
    _untouched(store, officers, crossing_id)


def test_resolve_keeps_four_eyes_like_the_touchscreen(run_cli, store, officers, referral):
    crossing_id = referral(officer="sam")
    # The supervisor who recorded it: refused before the PIN, even the right one.
    own = _resolve(run_cli, crossing_id, "--outcome", "refused", "--reason", "listed_person_confirmed")
    assert own.exit_code == 1, own.output
    assert own.stderr.strip() == (f"error: supervisor sam recorded crossing {crossing_id}: another supervisor "
                                  "must decide it (security.four_eyes)")
    _untouched(store, officers, crossing_id)
    other = _resolve(run_cli, crossing_id, "--outcome", "refused", "--reason", "listed_person_confirmed",
                     "--note", "identity confirmed", supervisor="sue", pin=SECOND_PIN)
    assert other.exit_code == 0, other.output
    assert other.stdout.startswith("resolved #") and "-> refused" in other.stdout
    shown = json.loads(run_cli("crossings", "show", crossing_id).stdout)
    assert (shown["outcome"], shown["outcome_by"], shown["outcome_reason"], shown["outcome_note"]) == (
        "refused", "sue", "listed_person_confirmed", "identity confirmed")
    [audited] = store.conn.execute("SELECT actor FROM audit WHERE action = 'crossing.resolve'").fetchall()
    assert audited[0] == "sue"


def test_a_one_person_post_lets_the_recording_supervisor_decide(run_cli, store, officers, referral, config_path):
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("session_idle_minutes = 10", "session_idle_minutes = 10\nfour_eyes = false"),
                           encoding="utf-8")
    crossing_id = referral(officer="sam")
    result = _resolve(run_cli, crossing_id, "--outcome", "cleared", "--reason", "not_the_listed_person")
    assert result.exit_code == 0, result.output
    assert crossings.get(store, crossing_id).outcome_by == "sam"


def test_resolve_refuses_an_unknown_crossing_and_a_wrong_pin_as_the_other_commands_do(run_cli, store, officers,
                                                                                      referral):
    unknown = _resolve(run_cli, "no-such-id", "--outcome", "cleared", "--reason", "not_the_listed_person")
    assert unknown.exit_code == 1 and unknown.stderr.startswith("error: ") and "no-such-id" in unknown.stderr
    crossing_id = referral()
    wrong = _resolve(run_cli, crossing_id, "--outcome", "cleared", "--reason", "not_the_listed_person", pin="000999")
    assert wrong.exit_code == 1 and "wrong PIN" in wrong.stderr
    assert officers.get("sam").failed_logins == 1  # a real try: the same lockout as at the screen
    assert crossings.get(store, crossing_id).outcome is None
