"""First boot in Debian's Chromium at 800x480: the setup page sets the first supervisor's PIN and is then gone.

The kiosk is provisioned from a technician's set without a supervisor PIN hash, as on a
real first boot; the enrolment QR code is read back from a screenshot of the screen
(OpenCV's QR decoder), the way a phone at HQ would read it.
"""

from __future__ import annotations

import getpass
import re
from typing import Iterator

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from playwright.sync_api import expect

from appliance import config as config_module
from appliance.cli import cli
from appliance.storage.officers import Officers
from appliance.storage.store import Store
from appliance.web.app import create_app
from appliance.workflow import provision

from .provisioning import KEY_FILE, write_provisioning_set
from .ui.fixtures import SMALL, check_screen, serving, tap_keys  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FIRST_PIN = "739264"


def _provision(config_path, folder):
    return CliRunner().invoke(cli, ["--config", str(config_path), "provision", str(folder),
                                    "--owner", getpass.getuser()], catch_exceptions=False)


@pytest.fixture(scope="module")
def first_boot(tmp_path_factory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("first-boot")
    config_path = root / "etc" / "kiosk.toml"
    folder = write_provisioning_set(root / "boot" / "kiosk", post_id="POST-FB", kiosk_id="K3",
                                    data_dir=root / "data")
    assert _provision(config_path, folder).exit_code == 0
    config = config_module.load(config_path, environ={})
    store = Store(config.db_path)
    app = create_app(config, store)
    try:
        with serving(app, "first-boot-ui") as url:
            yield {"url": url, "config": config, "config_path": config_path, "store": store, "root": root}
    finally:
        store.close()


@pytest.fixture
def page(browser, first_boot):  # noqa: F811
    context = browser.new_context(viewport=SMALL, base_url=first_boot["url"])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"


def _decode_qr(png: bytes) -> str:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    text, _points, _code = cv2.QRCodeDetector().detectAndDecode(image)
    return text


def _type_pins(page, first: str, second: str) -> None:
    page.locator("#pin").click()
    tap_keys(page, "kb-pin", first)
    page.locator("#pin_again").click()
    tap_keys(page, "kb-pin", second)


def test_first_boot_sets_the_first_supervisor_and_shows_the_key_for_hq(page, first_boot):
    key = provision.public_key(first_boot["config"])
    assert key

    # No supervisor: the kiosk opens on the setup page, in French as in English, on one screen.
    page.goto("/login?lang=fr")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.locator("h1")).to_have_text("Mise en service de la borne")
    check_screen(page, "first-boot-0-setup-fr")
    page.locator("#lang-en").click()
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.locator("#public-key")).to_have_text(key)
    expect(page.locator("#enrolment-ids")).to_have_text("Post POST-FB, kiosk K3")
    check_screen(page, "first-boot-1-setup")
    # The QR code on the screen reads back as the key, as HQ's phone would read it.
    assert _decode_qr(page.locator("#public-key-qr svg").screenshot()) == key

    # A technician's second set, refused (its client key is missing), is reported on the screen.
    bad = write_provisioning_set(first_boot["root"] / "bad", post_id="POST-FB", kiosk_id="K4",
                                 data_dir=first_boot["config"].kiosk.data_dir)
    (bad / KEY_FILE).unlink()
    assert _provision(first_boot["config_path"], bad).exit_code == 1
    page.reload()
    expect(page.locator("#provision-refused")).to_contain_text("uplink.key_file names kiosk.key")
    check_screen(page, "first-boot-2-setup-provision-refused")

    # Typed on the on-screen keyboards: the PINs differ first, then match.
    page.locator("#officer_id").click()
    tap_keys(page, "kb-id", "sup1")
    _type_pins(page, FIRST_PIN, "739265")
    page.locator("#kb-pin button[type=submit]").click()
    expect(page.locator("#setup-error")).to_have_text("The two PINs differ. Type the same PIN twice.")
    expect(page.locator("#officer_id")).to_have_value("sup1")
    check_screen(page, "first-boot-3-setup-pins-differ")
    _type_pins(page, FIRST_PIN, FIRST_PIN)
    page.locator("#kb-pin button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/login\?note=setup$"))
    expect(page.locator("#setup-done")).to_be_visible()
    check_screen(page, "first-boot-4-login-after-setup")
    with first_boot["store"].lock:
        officers = Officers(first_boot["store"], first_boot["config"].security).list()
    assert [(officer.id, officer.role) for officer in officers] == [("sup1", "supervisor")]

    # The setup page is gone for good; the supervisor logs in and finds the key on diagnostics.
    page.goto("/setup")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.locator("#officer_id").click()
    tap_keys(page, "kb-id", "sup1")
    page.locator("#pin").click()
    tap_keys(page, "kb-pin", FIRST_PIN)
    page.locator("#kb-pin button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/$"))
    page.goto("/diagnostics")
    expect(page.locator("#public-key")).to_have_text(key)
    expect(page.locator("#enrol-command")).to_have_text(f"kiosk-hq enrol POST-FB K3 {key}")
    check_screen(page, "first-boot-5-diagnostics-enrolment", fits=False)
    assert _decode_qr(page.locator("#public-key-qr svg").screenshot()) == key
    page.goto("/setup")
    expect(page).to_have_url(re.compile(r"/login$"))
