"""HQ's console over HTTP (the real app on a real database): logins, roles, CSRF, pages, exports, /metrics."""

from __future__ import annotations

import io
import json
import re
import textwrap
import uuid
from datetime import timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from appliance.domain import clock
from appliance.uplink import protocol
from hq import alerts, config as hq_config, history, records, users
from hq.cli import cli as hq_cli
from hq.db import HQDatabase
from hq.web.app import create_app

from .test_hq import POSTGRES_ADMIN_URL, hq_db  # noqa: F401

PASSWORD = "correct horse battery"
METRICS_TOKEN = "scrape-token-for-tests"


@pytest.fixture(params=["sqlite", "postgresql"])
def hq(request, tmp_path):
    """A console config and its database: SQLite, then a throw-away PostgreSQL database."""
    database, drop = str(tmp_path / "hq.sqlite3"), None
    if request.param == "postgresql":
        import psycopg

        name = f"kiosk_hq_web_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        database, drop = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name
    key = tmp_path / "hq.key"
    protocol.generate_key_file(key)
    path = tmp_path / "hq.toml"
    path.write_text(textwrap.dedent(f"""
        [hq]
        database = "{database}"
        signing_key_file = "{key}"

        [broker]
        url = "mqtt://127.0.0.1:1"

        [web]
        max_failed_logins = 3
    """), encoding="utf-8")
    config = hq_config.load(path, environ={"KIOSK_HQ_WEB_METRICS_TOKEN": METRICS_TOKEN})
    db = HQDatabase(config.hq.database)
    for name, role in (("vera", "viewer"), ("ana", "analyst"), ("adam", "admin")):
        users.add(db, name, role, PASSWORD)
    yield config, db, path
    db.close()
    if drop:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {drop} WITH (FORCE)")


def _crossing(seq, post="POST-A", kiosk="K1", nationality="MLI", sex="F", birth="1990-05-01", direction="entry",
              decision="cleared", days_ago=0, surname="TRAORE", hits=()):
    ident = f"{post}-{kiosk}-{seq}"
    return {"seq": seq, "kind": "crossing", "id": ident, "created_at": clock.iso(clock.utcnow()),
            "data": {"id": ident, "seq": seq, "post_id": post, "kiosk_id": kiosk, "direction": direction,
                     "recorded_at": clock.iso(clock.utcnow() - timedelta(days=days_ago)), "decision": decision,
                     "surname": surname, "given_names": "AMINATA", "nationality": nationality, "sex": sex,
                     "birth_date": birth, "document_number": f"D{seq:07d}", "training": False,
                     "screening": {"hits": list(hits)}}}


def _login(client, name, password=PASSWORD):
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf": csrf}, follow_redirects=False)


def _client(hq, name=None):
    config, db, _ = hq
    client = TestClient(create_app(config, db))
    if name:
        assert _login(client, name).status_code == 303
    return client


def _session_csrf(client, path="/"):
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def test_pages_need_a_login_and_a_wrong_password_locks_out(hq):
    client = _client(hq)
    assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=/"
    assert client.get("/healthz").text == "ok\n"
    assert _login(client, "vera", "wrong password!").status_code == 401
    forged = client.post("/login", data={"name": "vera", "password": PASSWORD, "csrf": "forged"})
    assert forged.status_code == 403 and "expired" in forged.text
    _login(client, "ana", "wrong password!")
    _login(client, "ana", "wrong password!")
    assert _login(client, "ana", "wrong password!").status_code == 423  # the third in a row locks
    locked = _login(client, "ana")  # and the right password does not end it early
    assert locked.status_code == 423 and "locked out" in locked.text
    assert _login(client, "nobody").status_code == 401
    audit = [line["action"] for line in users.audit_log(hq[1])]
    assert audit.count("login.failed") == 5 and "login.locked" in audit
    ok = _login(client, "vera")
    assert ok.status_code == 303 and "hq_session" in ok.headers["set-cookie"]
    assert "HttpOnly" in ok.headers["set-cookie"] and "SameSite=strict" in ok.headers["set-cookie"]
    assert client.get("/").status_code == 200
    db = hq[1]
    db.enrol("POST-A", "K1", "key")
    db.enrol("POST-B", "K1", "key")
    filtered = client.get("/?post=POST-B").text
    assert 'id="kiosk-POST-B-K1"' in filtered and 'id="kiosk-POST-A-K1"' not in filtered
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    client.post("/logout", data={"csrf": _session_csrf(client)})
    assert client.get("/", follow_redirects=False).status_code == 303


def test_users_add_refuses_bad_input_and_changes_nothing(hq):
    _, db, path = hq
    runner = CliRunner()
    for args, text, problem in (
        (["users", "add", "bo", "--role", "viewer"], "short\n", "at least 12"),
        (["users", "add", "Bad Name!", "--role", "viewer"], PASSWORD + "\n", "user name"),
        (["users", "add", "vera", "--role", "viewer"], PASSWORD + "\n", "already exists"),
    ):
        result = runner.invoke(hq_cli, [*args, "--config", str(path)], input=text)
        assert result.exit_code == 1 and problem in result.stderr, result.output
    assert [u["name"] for u in users.users(db)] == ["adam", "ana", "vera"]
    made = runner.invoke(hq_cli, ["users", "add", "zoe", "--role", "analyst", "--generate", "--config", str(path)])
    assert made.exit_code == 0
    password = made.stdout.split("password: ")[1].strip()
    assert users.login(db, "zoe", password, 3, 5).user.role == "analyst"
    assert "scrypt$" in str(db.query("SELECT password_hash FROM hq_users WHERE name = 'zoe'")[0][0])
    assert password not in str(db.query("SELECT * FROM hq_users"))


def test_roles_viewer_sees_aggregates_analyst_acknowledges_and_exports(hq):
    _, db, _ = hq
    db.enrol("POST-A", "K1", "key")
    hit = {"list": "persons", "entry_id": "P-1", "kind": "name", "score": 0.97, "explanation": "name and birth date"}
    db.store_items("POST-A", "K1", [_crossing(1, surname="DOE", decision="referred", hits=[hit])])
    db.store_items("POST-A", "K1", [{"seq": 2, "kind": "alert", "id": "POST-A-K1-1", "created_at": clock.iso(clock.utcnow()),
                                     "data": {"crossing_id": "POST-A-K1-1", "hits": [hit], "surname": "DOE",
                                              "document_number": "D0000001", "decision": "referred"}}])
    viewer = _client(hq, "vera")
    page = viewer.get("/alerts")
    assert "name and birth date" in page.text and "DOE" not in page.text and "hidden for your role" in page.text
    csrf = _session_csrf(viewer)
    refused = viewer.post("/alerts/POST-A/K1/POST-A-K1-1/acknowledge", data={"csrf": csrf})
    assert refused.status_code == 403
    assert viewer.get("/crossings").status_code == 403
    assert viewer.get("/crossings/export.csv").status_code == 403
    assert viewer.get("/crossings/POST-A-K1-1").status_code == 403
    assert viewer.get("/statistics/export.csv?table=nationality").status_code == 200
    assert alerts.get(db, "POST-A", "K1", "POST-A-K1-1")["acknowledged_by"] is None

    analyst = _client(hq, "ana")
    assert analyst.post("/alerts/POST-A/K1/POST-A-K1-1/acknowledge", data={"csrf": "forged"}).status_code == 403
    csrf = _session_csrf(analyst, "/alerts")
    done = analyst.post("/alerts/POST-A/K1/POST-A-K1-1/acknowledge", data={"csrf": csrf, "note": "called the post"},
                        follow_redirects=False)
    assert done.status_code == 303
    assert alerts.get(db, "POST-A", "K1", "POST-A-K1-1")["acknowledged_by"] == "ana"
    again = analyst.post("/alerts/POST-A/K1/POST-A-K1-1/acknowledge", data={"csrf": csrf})
    assert again.status_code == 422 and "already acknowledged by ana" in again.text
    assert "DOE" in analyst.get("/alerts").text
    assert [line["actor"] for line in users.audit_log(db, action="alert.acknowledge")] == ["ana"]
    record = analyst.get("/crossings/POST-A-K1-1")
    assert record.status_code == 200 and "D0000001" in record.text
    assert analyst.post("/kiosks/POST-A/K1/command", data={"csrf": csrf, "name": "health"}).status_code == 403


def test_statistics_and_their_exports_match_the_crossings(hq):
    _, db, _ = hq
    db.enrol("POST-A", "K1", "key")
    db.enrol("POST-B", "K1", "key")
    db.store_items("POST-A", "K1", [
        _crossing(1), _crossing(2, nationality="NER", sex="M", birth="1950", direction="exit"),
        _crossing(3, birth="2015-01-01", decision="refused"), _crossing(4, days_ago=40)])
    db.store_items("POST-B", "K1", [_crossing(1, post="POST-B", nationality="NER")])
    training = _crossing(9)
    training["data"]["training"] = True
    db.store_items("POST-A", "K1", [training])
    stats = records.statistics(db, clock.utcnow().date() - timedelta(days=29), clock.utcnow().date(), "month")
    assert stats["total"] == 4
    assert {r["key"]: (r["entry"], r["exit"]) for r in stats["nationality"]} == {"MLI": (2, 0), "NER": (1, 1)}
    assert {r["key"]: r["total"] for r in stats["age_band"]} == {"30-44": 2, "60+": 1, "0-17": 1}
    assert {r["key"]: r["total"] for r in stats["decision"]} == {"cleared": 3, "refused": 1}
    assert {r["key"]: r["total"] for r in stats["post"]} == {"POST-A": 3, "POST-B": 1}

    client = _client(hq, "vera")
    page = client.get("/statistics")
    assert page.status_code == 200 and 'id="total">4 crossings' in page.text
    csv_text = client.get("/statistics/export.csv?table=nationality").content.decode("utf-8-sig")
    assert csv_text.splitlines() == ["nationality,entry,exit,total", "MLI,2,0,2", "NER,1,1,2"]
    xlsx = client.get("/statistics/export.xlsx?table=post")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        ["post", "entry", "exit", "total"], ["POST-A", 2, 1, 3], ["POST-B", 1, 0, 1]]
    bad = client.get("/statistics?first=2026-13-01")
    assert bad.status_code == 422 and "not YYYY-MM-DD" in bad.text
    assert client.get("/statistics/export.pdf").status_code == 422
    reversed_range = client.get("/statistics?first=2026-02-01&last=2026-01-01")
    assert reversed_range.status_code == 422 and "reversed" in reversed_range.text

    analyst = _client(hq, "ana")
    found = analyst.get("/crossings?nationality=NER")
    assert found.status_code == 200 and "2 crossings found" in found.text
    export = analyst.get("/crossings/export.xlsx?nationality=NER")
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    assert len(rows) == 3 and rows[0][0] == "recorded_at"
    assert [line["detail"]["rows"] for line in users.audit_log(db, action="crossings.export")] == [2]
    assert "1 crossings found" in analyst.get("/crossings?q=D0000003").text


def test_kiosk_page_charts_history_and_metrics_for_prometheus(hq):
    config, db, _ = hq
    db.enrol("POST-A", "K1", "key")
    now = clock.utcnow()
    db.record_status("POST-A", "K1", {"state": "online", "boot_id": "b1", "version": "0.1.0", "lists": {}},
                     clock.iso(now))
    history.record_status(db, "POST-A", "K1", {"state": "online", "boot_id": "b1"}, clock.iso(now - timedelta(hours=2)))
    for minutes, battery in ((90, 80.0), (60, 64.5)):
        health = {"battery_percent": battery, "charging": False, "solar_w": 12.0, "outbox_depth": 3,
                  "oldest_unsent_age_s": 120, "lists": {"persons": {"version": "v1", "age_s": 600}}}
        db.record_health("POST-A", "K1", health)
        history.record_health(db, "POST-A", "K1", health, clock.iso(now - timedelta(minutes=minutes)))
    page = _client(hq, "vera").get("/kiosks/POST-A/K1")
    assert page.status_code == 200
    assert "Battery (%): 2 points, min 64.5 %, max 80.0 %, last 64.5 %" in page.text
    assert "list versions changed" in page.text and "Send health now" not in page.text
    assert _client(hq, "vera").get("/kiosks/POST-A/NOPE").status_code == 404

    assert _client(hq).get("/metrics").status_code == 401
    scraped = _client(hq).get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200
    assert 'hq_kiosk_battery_percent{kiosk="K1",post="POST-A"} 64.5' in scraped.text
    assert 'hq_kiosk_online{kiosk="K1",post="POST-A"} 1.0' in scraped.text
    assert 'hq_kiosk_oldest_unsent_age_seconds{kiosk="K1",post="POST-A"} 120.0' in scraped.text
    assert "hq_kiosk_last_seen_seconds" in scraped.text and "# TYPE hq_ingest_messages_total counter" in scraped.text
    # A log cut on the kiosk: an event on its page.
    db.record_health("POST-A", "K1", {"audit_head": {"seq": 9, "hash": "a9"}})
    db.record_health("POST-A", "K1", {"audit_head": {"seq": 4, "hash": "a4"}})
    events = _client(hq, "vera").get("/kiosks/POST-A/K1").text.split('id="events"')[1]
    assert "audit alarm" in events and "went back from 9 to 4" in events


def test_the_console_speaks_french(hq):
    client = _client(hq, "vera")
    client.get("/language/fr?next=/")
    page = client.get("/")
    assert '<html lang="fr">' in page.text and "Flotte" in page.text and "Se déconnecter" in page.text


def test_hq_users_and_sessions_on_both_databases(hq_db):
    users.add(hq_db, "ana", "analyst", PASSWORD)
    session = users.login(hq_db, "ana", PASSWORD, 3, 5)
    assert users.session(hq_db, session.token, 30).user == users.User("ana", "analyst")
    assert users.session(hq_db, session.token + "x", 30) is None
    users.logout(hq_db, session.token)
    assert users.session(hq_db, session.token, 30) is None
    idle = users.login(hq_db, "ana", PASSWORD, 3, 5)
    with hq_db.transaction():
        hq_db.run("UPDATE hq_sessions SET last_seen = ?", (clock.iso(clock.utcnow() - timedelta(minutes=31)),))
    assert users.session(hq_db, idle.token, 30) is None  # idle too long
    stale = users.login(hq_db, "ana", PASSWORD, 3, 5)
    with hq_db.transaction():
        hq_db.run("UPDATE hq_sessions SET last_seen = ?", (clock.iso(clock.utcnow() - timedelta(days=2)),))
    users.login(hq_db, "ana", PASSWORD, 3, 5)  # the next login sweeps sessions a day idle
    assert len(hq_db.query("SELECT 1 FROM hq_sessions")) == 1 and users.session(hq_db, stale.token, 3000) is None
    assert json.dumps(users.audit_log(hq_db))  # serialisable, newest first


def test_every_console_string_has_its_french():
    from pathlib import Path

    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    hq_dir = Path(__file__).resolve().parent.parent / "hq"
    methods = [("**.py", "python"), ("web/templates/**.html", "jinja2")]
    options = {"web/templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}}
    wanted = {message for _, _, message, _, _ in extract_from_dir(
        str(hq_dir), methods, options, keywords={"_": None, "N_": None})}
    with open(hq_dir / "web/locale/fr/LC_MESSAGES/messages.po", "rb") as handle:
        french = {m.id for m in read_po(handle, locale="fr") if m.id and m.string and not m.fuzzy}
    assert len(wanted) > 100 and sorted(wanted - french) == []


def test_the_grafana_dashboard_uses_only_metrics_the_console_serves():
    from pathlib import Path

    from hq import metrics

    served = {f"hq_{name}" for name, _, _ in metrics.KIOSK_GAUGES}
    served |= {"hq_kiosk_last_seen_seconds", "hq_kiosks", "hq_alerts_unacknowledged"}
    served |= {f"hq_ingest_{name}_total" for name in metrics.COUNTERS}
    docs = Path(__file__).resolve().parent.parent / "docs"
    dashboard = json.loads((docs / "grafana-hq-dashboard.json").read_text(encoding="utf-8"))
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"\bhq_[a-z_]+", target["expr"])}
    assert used and used <= served, sorted(used - served)
    page = (docs / "hq.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in page or name in page for name in served), sorted(n for n in served if n not in page)


def test_bad_requests_are_refused_with_a_reason_and_change_nothing(hq):
    _, db, _ = hq
    db.enrol("POST-A", "K1", "key")
    db.store_items("POST-A", "K1", [{"seq": 1, "kind": "alert", "id": "A-1", "created_at": clock.iso(clock.utcnow()),
                                     "data": {"crossing_id": "A-1", "hits": [], "decision": "referred"}}])
    analyst = _client(hq, "ana")
    csrf = _session_csrf(analyst, "/alerts")
    too_long = analyst.post("/alerts/POST-A/K1/A-1/acknowledge", data={"csrf": csrf, "note": "x" * 1001})
    assert too_long.status_code == 422 and "at most 1000" in too_long.text
    unknown = analyst.post("/alerts/POST-A/K1/NOPE/acknowledge", data={"csrf": csrf})
    assert unknown.status_code == 404 and "no alert NOPE" in unknown.text
    assert alerts.get(db, "POST-A", "K1", "A-1")["acknowledged_by"] is None
    for query, problem in (("decision=maybe", "is not cleared, referred or refused"),
                           ("first=2026-02-30", "is not a date"),
                           ("first=2026-03-01&last=2026-01-01", "reversed")):
        answer = analyst.get(f"/crossings?{query}")
        assert answer.status_code == 422 and problem in answer.text, query
    assert analyst.get("/crossings/export.pdf").status_code == 422
    assert analyst.get("/crossings/NOPE").status_code == 404
    assert analyst.get("/statistics?period=year").status_code == 422
    assert analyst.get("/statistics/export.csv?table=secrets").status_code == 422
    admin = _client(hq, "adam")
    csrf = _session_csrf(admin, "/kiosks/POST-A/K1")
    odd = admin.post("/kiosks/POST-A/K1/command", data={"csrf": csrf, "name": "format-disk"})
    assert odd.status_code == 404 and "no command &#39;format-disk&#39;" in odd.text
    assert admin.post("/kiosks/POST-A/K1/command", data={"csrf": "forged", "name": "health"}).status_code == 403
    assert users.audit_log(db, action="kiosk.command") == []
    # A login redirect never leaves the console.
    page = _client(hq).get("/login?next=//evil.example/")
    assert 'name="next" value="/"' in page.text
