"""A real kiosk app on a free loopback port and one headless Debian Chromium for the UI tests.

The app is the one ``kiosk run`` serves (``create_app`` over a real store and the
simulated devices), run by uvicorn in a thread so a test can put a document on the
simulated reader; the browser is Debian's /usr/bin/chromium driven by Playwright, never a
browser downloaded by a test tool.
"""

from __future__ import annotations

import contextlib
import os
import socket
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import uvicorn

from appliance import config as config_module
from appliance.web.app import create_app
from appliance.hw import open_devices
from appliance.storage.officers import Officers
from appliance.storage.store import Store

from ..conftest import OFFICER_PIN, SUPERVISOR_PIN
from ..samples import import_demo_lists

SMALL = {"width": 800, "height": 480}
LARGE = {"width": 1024, "height": 600}
LOCKME_PIN = "570318"
TECH_PIN = "615283"
BIOMETRIC_KEY = "5f" * 32  # a test key; a real kiosk gets its own from provisioning
A11Y_SCRIPT = (Path(__file__).parent / "a11y.js").read_text(encoding="utf-8")
# axe-core, the accessibility engine, as bundled by axe-playwright-python (a local file:
# nothing is fetched). Its WCAG 2.0/2.1 level A and AA rules run on every screen.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def artifacts_dir() -> Path:
    """Where screenshots go: $KIOSK_TEST_ARTIFACTS, default tests/artifacts/ (gitignored)."""
    path = Path(os.environ.get("KIOSK_TEST_ARTIFACTS") or Path(__file__).parent.parent / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class UIKiosk:
    url: str
    config: config_module.Config
    store: Store
    devices: Any
    app: Any

    def present(self, mrz_text: str) -> None:
        """Put a document on the simulated reader (the page's reader loop picks it up)."""
        self.devices.mrz_reader.present(mrz_text)

    def crossings(self) -> list[dict]:
        from appliance.workflow.crossings import list_crossings

        return [crossing.to_dict() for crossing in list_crossings(self.store, limit=1000)]


def _free_socket() -> socket.socket:
    # Bound here and handed to uvicorn, so no other process can take the port in between.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def serving(app, name: str) -> Iterator[str]:
    """The kiosk app served by uvicorn on a free loopback port, in a thread; yields its URL."""
    sock = _free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the kiosk app did not start"
        time.sleep(0.02)
    host, port = sock.getsockname()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def ui_kiosk(tmp_path_factory) -> Iterator[UIKiosk]:
    directory = tmp_path_factory.mktemp("ui-kiosk")
    # No sample MRZs: the simulated reader reads only what a test presents, like a real
    # reader with nothing on it.
    (directory / "none.mrz").write_text("", encoding="utf-8")
    (directory / "kiosk.toml").write_text(textwrap.dedent(f"""
        [kiosk]
        post_id = "POST-UI"
        kiosk_id = "K7"
        data_dir = "{directory / 'data'}"

        [security]
        max_failed_logins = 3
        lockout_minutes = 5
        session_idle_minutes = 10
        biometric_key = "{BIOMETRIC_KEY}"

        [hardware.simulated]
        mrz_file = "{directory / 'none.mrz'}"
        battery_percent = 76

        [hardware.fingerprint_r30x]
        finger_timeout_s = 1
    """), encoding="utf-8")
    config = config_module.load(directory / "kiosk.toml", environ={})
    store = Store(config.db_path)
    officers = Officers(store, config.security)
    officers.add("alice", "officer", OFFICER_PIN)
    officers.add("sam", "supervisor", SUPERVISOR_PIN)
    officers.add("tech", "technician", TECH_PIN)
    officers.add("lockme", "officer", LOCKME_PIN)
    import_demo_lists(store)
    devices = open_devices(config.hardware)
    app = create_app(config, store, devices)
    try:
        with serving(app, "ui-kiosk") as url:
            yield UIKiosk(url=url, config=config, store=store, devices=devices, app=app)
    finally:
        devices.close()
        store.close()


def _is_error(message) -> bool:
    # Chromium logs every 4xx/5xx answer as a console error; those are checked from the
    # responses instead (see ``_is_server_error``). A script error still fails the test.
    return message.type == "error" and not message.text.startswith("Failed to load resource:")


def _is_server_error(response) -> bool:
    # Screens answer a refused PIN or a bad request with an honest 4xx, and a missing or
    # failing capture device (or the camera behind the live preview) is the contract's 503;
    # any other 5xx is a bug.
    if response.status < 500:
        return False
    return not (response.status == 503 and ("/api/captures/" in response.url or "/ui/camera/preview" in response.url))


@pytest.fixture
def page(browser, ui_kiosk):
    context = browser.new_context(viewport=SMALL, base_url=ui_kiosk.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if _is_error(message) else None)
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
            if _is_server_error(response) else None)
    yield page
    context.close()
    # A script error on any screen fails the test that caused it.
    assert not errors, f"errors in the page: {errors}"


# -- Checks every screen goes through --------------------------------------------------

def axe_violations(page) -> list[str]:
    """Run axe-core's WCAG 2.x A/AA rules on the page; one line per violating element."""
    from axe_playwright_python.base import AXE_SCRIPT

    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)
    results = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    lines = []
    for violation in results["violations"]:
        for node in violation["nodes"]:
            target = ", ".join(" >> ".join(part) if isinstance(part, list) else part for part in node["target"])
            checks = node.get("any", []) + node.get("all", []) + node.get("none", [])
            reason = " ".join(checks[0]["message"].split()) if checks else ""
            lines.append(f"axe {violation['id']} ({violation['impact']}): {target}: {violation['help']} ({reason})")
    return lines


def check_screen(page, name: str, *, fits: bool = True) -> None:
    """Screenshot, accessibility (our a11y.js and axe-core) and, for the main flow, no overflow."""
    page.wait_for_load_state("load")
    page.screenshot(path=str(artifacts_dir() / f"{name}.png"))
    problems = page.evaluate(A11Y_SCRIPT) + axe_violations(page)
    assert problems == [], f"screen {name}: {len(problems)} accessibility problem(s):\n  " + "\n  ".join(problems)
    if fits:
        overflow = page.evaluate("""() => {
            const main = document.querySelector('main');
            const doc = document.scrollingElement;
            return {doc: [doc.scrollWidth, doc.scrollHeight, innerWidth, innerHeight],
                    main: [main.scrollWidth, main.scrollHeight, main.clientWidth, main.clientHeight]};
        }""")
        width, height, view_w, view_h = overflow["doc"]
        assert width <= view_w and height <= view_h, f"{name}: the page scrolls: {overflow}"
        main_w, main_h, client_w, client_h = overflow["main"]
        assert main_w <= client_w + 1 and main_h <= client_h + 1, f"{name}: the screen's content overflows: {overflow}"


def tap_keys(page, keyboard_id: str, text: str) -> None:
    """Type ``text`` with the on-screen keyboard ``keyboard_id``, key by key, as an officer would."""
    board = page.locator(f"#{keyboard_id}")
    for char in text:
        if char == "\n":
            board.locator("[data-action=newline]").click()
            continue
        key = board.locator(f'[data-key="{char}"]')
        if key.count() == 0 and char.isalpha():
            board.locator("[data-action=shift]").click()
            key = board.locator(f'[data-key="{char}"]')
        key.click()


def login(page, officer_id: str, pin: str) -> None:
    page.goto("/login")
    page.locator("#officer_id").click()
    tap_keys(page, "kb-id", officer_id)
    page.locator("#pin").click()
    tap_keys(page, "kb-pin", pin)
    page.locator("#kb-pin button[type=submit]").click()
