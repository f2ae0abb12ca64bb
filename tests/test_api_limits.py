"""Oversized request bodies and uploads are refused with 413 before anything reads them (appliance/web/limits.py)."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from appliance import config as config_module
from appliance.errors import ConfigError
from appliance.storage import audit
from appliance.web.app import create_app
from appliance.web.limits import BodyLimit

from .conftest import OFFICER_PIN
from .samples import CLEAR_OKAFOR

LIMIT = 4096


@pytest.fixture
def small_limit(config_path):
    with config_path.open("a") as handle:
        handle.write(f"\n[api]\nmax_body_bytes = {LIMIT}\n")
    return config_module.load(config_path, environ={})


@pytest.fixture
def client(small_limit, store, officers):
    return TestClient(create_app(small_limit, store))


def _token(client):
    response = client.post("/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN})
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _state(store):
    with store.lock:
        crossings = store.conn.execute("SELECT count(*) FROM crossings").fetchone()[0]
    checked, problems = audit.verify(store)
    assert problems == []
    return crossings, checked  # crossings stored, audit rows


def test_the_default_limit_is_one_mebibyte_and_configurable(config, small_limit):
    assert config.api.max_body_bytes == 1024 * 1024
    assert small_limit.api.max_body_bytes == LIMIT


def test_a_limit_out_of_range_is_a_config_error(config_path):
    with config_path.open("a") as handle:
        handle.write("\n[api]\nmax_body_bytes = 10\n")
    with pytest.raises(ConfigError, match="max_body_bytes"):
        config_module.load(config_path, environ={})


def test_a_declared_oversized_body_is_refused_with_the_error_shape(client, store):
    headers = _token(client)
    before = _state(store)
    note = "x" * (LIMIT + 1)
    response = client.post("/api/crossings", json={"direction": "entry", "mrz": CLEAR_OKAFOR, "note": note},
                           headers=headers)
    assert response.status_code == 413
    body = response.json()
    assert body["kind"] == "PayloadTooLarge" and str(LIMIT) in body["error"]
    assert _state(store) == before


def test_it_is_refused_before_authentication_too(client):
    # Refused before any route runs: even an anonymous caller cannot make the kiosk read it.
    response = client.post("/api/login", content=b"{" + b" " * LIMIT + b"}", headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["kind"] == "PayloadTooLarge"


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(client, store):
    headers = _token(client)
    before = _state(store)

    def chunks():
        yield b'{"direction": "entry", "note": "'
        for _ in range(LIMIT // 512 + 2):
            yield b"y" * 512
        yield b'"}'

    response = client.post("/api/crossings", content=chunks(), headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["kind"] == "PayloadTooLarge"
    assert _state(store) == before


def test_an_oversized_form_upload_is_refused(client):
    files = {"photo": ("face.jpg", b"\xff\xd8" + b"\x00" * (LIMIT * 2), "image/jpeg")}
    response = client.post("/login", data={"officer_id": "alice", "pin": OFFICER_PIN}, files=files)
    assert response.status_code == 413 and response.json()["kind"] == "PayloadTooLarge"


def test_a_body_under_the_limit_goes_through(client):
    headers = _token(client)
    response = client.post("/api/crossings", json={"direction": "entry", "mrz": CLEAR_OKAFOR}, headers=headers)
    assert response.status_code == 201


def test_a_declared_length_is_answered_without_reading_the_body():
    called = []

    async def app(scope, receive, send):  # the route: must never run
        called.append("app")

    async def receive():
        called.append("receive")
        return {"type": "http.request", "body": b"", "more_body": False}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/crossings",
             "headers": [(b"content-length", b"999999999")]}
    asyncio.run(BodyLimit(app, 1024)(scope, receive, send))
    assert called == []
    assert sent[0]["status"] == 413
