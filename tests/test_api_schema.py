"""Schemathesis against the local API's own OpenAPI schema, anonymously and as a logged-in officer.

Every operation gets generated requests (valid and not) on the real app over a real store,
with the simulated devices: no answer may be a 5xx, except a device missing or failing
(503, documented in docs/api.md), and every 4xx must be the one error shape
``{"error": str, "kind": str}`` of appliance/web/errors.py.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from appliance.hw import open_devices
from appliance.web.app import create_app

from .conftest import OFFICER_PIN
from .samples import import_demo_lists

EXAMPLES = 25
PUBLIC = ("/api/health", "/api/login")
# The one 5xx the API documents: a device missing or failing (DeviceError and its kin).
DEVICE_KINDS = {"DeviceError", "FrameError", "ConfigError"}
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture
def api(store, config, officers):
    import_demo_lists(store)
    devices = open_devices(config.hardware)
    yield create_app(config, store, devices)
    devices.close()


@pytest.fixture
def operations(api):
    # The schemathesis pytest plugin does not load under this pytest; the operations' own
    # hypothesis strategies do the same generation.
    found = [result.ok() for result in schemathesis.openapi.from_asgi("/openapi.json", api).get_all_operations()]
    assert len(found) >= 13
    return found


@pytest.fixture
def officer_headers(api):
    response = TestClient(api).post("/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN})
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['token']}"}


def check(case, response) -> None:
    where = f"{case.method} {case.formatted_path} {case.query or ''} {case.body!r:.300}"
    status = response.status_code
    if status >= 400:
        body = response.json()
        # An error with a reason code also gives it ("reason") and says it in the officer's language ("message").
        assert isinstance(body, dict) and {"error", "kind"} <= set(body) <= {"error", "kind", "reason", "message"}, \
            f"{where}: {status} {body}"
        assert isinstance(body["error"], str) and body["error"] and isinstance(body["kind"], str), where
        if "reason" in body:
            assert set(body["reason"]) == {"code", "params", "text"} and isinstance(body["message"], str), where
    if status >= 500:
        assert status == 503 and response.json()["kind"] in DEVICE_KINDS, f"{where}: {status} {response.text}"


def _fuzz(operation, mode: GenerationMode, headers: dict[str, str] | None, seen: Counter[int]) -> None:
    @given(operation.as_strategy(generation_mode=mode))
    @SETTINGS
    def one(case) -> None:
        response = case.call(headers=headers)
        seen[response.status_code] += 1
        check(case, response)
        if headers is None and case.path not in PUBLIC:
            assert response.status_code in (400, 401, 404, 405, 413, 422), f"{case.method} {case.path}: {response.status_code}"

    try:
        one()
    except Unsatisfiable:
        # No invalid request exists for an operation without parameters or body (GET /api/health).
        assert mode is GenerationMode.NEGATIVE, operation.label
        seen[0] += 1  # 0: an operation with no invalid case


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_anonymous_requests_never_fail_the_server(operations, mode):
    seen: Counter[int] = Counter()
    for operation in operations:
        _fuzz(operation, mode, None, seen)
    assert seen[401] > 0  # the generated requests did reach the routes


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_officer_requests_never_fail_the_server(operations, officer_headers, mode):
    seen: Counter[int] = Counter()
    for operation in operations:
        if operation.path == "/api/logout":
            continue  # it would end the token the other operations use; test_api.py covers it
        _fuzz(operation, mode, officer_headers, seen)
    # Valid requests reach the handlers and succeed; invalid ones are refused, not crashed on.
    if mode is GenerationMode.POSITIVE:
        assert sum(n for status, n in seen.items() if 200 <= status < 300) > 0, seen
    else:
        assert sum(n for status, n in seen.items() if 400 <= status < 500) > 0, seen
