"""Exports of crossings with personal data: a supervisor only, on the API and the CLI, each one audited."""

from __future__ import annotations

import csv
import io
import json
import stat

import pytest
from fastapi.testclient import TestClient

from appliance.domain import clock
from appliance.web.app import create_app
from appliance.workflow import crossings

from .conftest import OFFICER_PIN, SUPERVISOR_PIN
from .samples import CLEAR_OKAFOR, import_demo_lists


def _exports(store) -> list[dict]:
    return [json.loads(row[0]) | {"actor": row[1]} for row in store.conn.execute(
        "SELECT details, actor FROM audit WHERE action = 'crossings.export' ORDER BY seq")]


@pytest.fixture
def recorded(store, config, officers):
    import_demo_lists(store)
    return [crossings.record(store, config, officers.get("alice"),
                             crossings.CrossingRequest(direction=direction, mrz=CLEAR_OKAFOR)).crossing.id
            for direction in ("entry", "exit")]


def _bearer(client, officer_id, pin):
    token = client.post("/api/login", json={"officer_id": officer_id, "pin": pin}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_supervisor_exports_json_and_csv_and_each_export_is_audited(store, config, recorded):
    client = TestClient(create_app(config, store))
    today = clock.local_today(config.kiosk.timezone).isoformat()
    sam = _bearer(client, "sam", SUPERVISOR_PIN)
    body = client.get("/api/exports/crossings", params={"from": today}, headers=sam).json()
    assert body["count"] == 2 and [item["id"] for item in body["crossings"]] == recorded  # oldest first
    assert body["crossings"][0]["surname"] == "OKAFOR"
    response = client.get("/api/exports/crossings", params={"from": today, "to": today, "format": "csv"}, headers=sam)
    assert response.headers["content-type"].startswith("text/csv") and "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["id"] for row in rows] == recorded and rows[1]["direction"] == "exit"
    assert _exports(store) == [{"from": today, "to": today, "count": 2, "format": "json", "actor": "sam"},
                               {"from": today, "to": today, "count": 2, "format": "csv", "actor": "sam"}]


@pytest.mark.parametrize("who", ["alice", "tech", None])
def test_nobody_else_exports_and_a_refusal_is_not_an_export(store, config, recorded, who):
    client = TestClient(create_app(config, store))
    headers = _bearer(client, who, {"alice": OFFICER_PIN, "tech": "615283"}[who]) if who else {}
    response = client.get("/api/exports/crossings", headers=headers)
    assert response.status_code == (403 if who else 401) and response.json()["kind"] == ("Forbidden" if who else "AuthError")
    assert _exports(store) == []


@pytest.mark.parametrize("params, fragment", [({"from": "2026-03-02", "to": "2026-03-01"}, "before it starts"),
                                              ({"from": "2024-01-01", "to": "2026-01-01"}, "longer than 366 days"),
                                              ({"format": "xml"}, "format")])
def test_a_bad_export_request_is_refused_and_not_audited(store, config, recorded, params, fragment):
    client = TestClient(create_app(config, store))
    response = client.get("/api/exports/crossings", params=params, headers=_bearer(client, "sam", SUPERVISOR_PIN))
    assert response.status_code == 422 and fragment in response.json()["error"]
    assert _exports(store) == []


def test_cli_export_needs_the_supervisors_pin_and_writes_a_private_file(run_cli, store, config, recorded, tmp_path):
    today = clock.local_today(config.kiosk.timezone).isoformat()
    out = tmp_path / "export.csv"
    done = run_cli("crossings", "export", "--supervisor", "sam", "--from", today, "--output", str(out),
                   input=SUPERVISOR_PIN + "\n")
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [row["id"] for row in csv.DictReader(out.open())] == recorded
    assert _exports(store)[-1] == {"from": today, "to": today, "count": 2, "format": "csv", "actor": "sam"}
    # JSON on stdout works too.
    printed = run_cli("crossings", "export", "--supervisor", "sam", "--from", today, "--format", "json",
                      input=SUPERVISOR_PIN + "\n")
    assert [item["id"] for item in json.loads(printed.output)] == recorded


@pytest.mark.parametrize("who, pin, message", [("sam", "000999", "wrong PIN"), ("alice", OFFICER_PIN, "needs supervisor")])
def test_cli_export_refused_without_a_supervisor(run_cli, store, config, officers, recorded, tmp_path, who, pin, message):
    out = tmp_path / "export.csv"
    result = run_cli("crossings", "export", "--supervisor", who, "--from", "2026-01-01", "--output", str(out),
                     input=pin + "\n")
    assert result.exit_code == 1 and message in result.output and not out.exists()
    assert _exports(store) == []
    if who == "sam":
        assert officers.get("sam").failed_logins == 1  # a wrong PIN here counts towards the lockout
