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
