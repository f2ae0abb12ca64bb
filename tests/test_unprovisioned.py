"""A kiosk without a usable config (a refused first boot): ``kiosk run --fallback-screen`` says why on the touchscreen.

The kiosk runs as systemd runs it, a ``kiosk run`` process; the refusal is a real
``kiosk provision`` of a technician's set whose client key is missing; the screen is looked
at in Debian's Chromium at 800x480 in English and French.
"""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner
from playwright.sync_api import expect

from appliance.bench.rig import free_port
from appliance.cli import cli
from appliance.service import unprovisioned
from appliance.workflow import provision

from .provisioning import KEY_FILE, write_provisioning_set
from .ui.fixtures import SMALL, _free_socket, check_screen

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _run_kiosk(config_path, status_file, port, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "appliance", "--config", str(config_path), "run", "--fallback-screen",
         "--fallback-port", str(port), "--fallback-status-file", str(status_file), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_health(process: subprocess.Popen, url: str) -> tuple[int, dict]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            return _get(url + "/api/health")
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the fallback screen did not answer")


@pytest.fixture
def refused_first_boot(tmp_path):
    """A fresh kiosk whose first boot refused the technician's set: no config, a refusal in the status file."""
    config_path = tmp_path / "etc" / "kiosk.toml"
    data_dir = tmp_path / "data"
    folder = write_provisioning_set(tmp_path / "boot" / "kiosk", post_id="POST-UP", kiosk_id="K9", data_dir=data_dir)
    (folder / KEY_FILE).unlink()
    status_file = data_dir / provision.STATUS_FILE
    result = CliRunner().invoke(cli, ["--config", str(config_path), "provision", str(folder), "--owner",
                                      getpass.getuser(), "--status-file", str(status_file)])
    assert result.exit_code == 1 and not config_path.exists()
    return {"config_path": config_path, "status_file": status_file, "folder": folder, "data_dir": data_dir}


def test_a_refused_first_boot_is_shown_on_the_screen_until_the_config_appears(browser, refused_first_boot):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _run_kiosk(refused_first_boot["config_path"], refused_first_boot["status_file"], port)
    try:
        status, health = _wait_for_health(process, url)
        assert status == 503 and health["status"] == "unprovisioned", health
        assert health["provisioning"]["state"] == "refused"
        assert "uplink.key_file names kiosk.key" in health["provisioning"]["message"]
        assert "does not exist" in health["problem"] or "not found" in health["problem"], health["problem"]
        # Only health answers: no officer route exists on this screen.
        assert _get(url + "/api/crossings")[0] == 503

        context = browser.new_context(viewport=SMALL, base_url=url)
        page = context.new_page()
        page.goto("/login")  # the browser's usual page: every page is the screen
        expect(page.locator("#unprovisioned-en h1")).to_have_text("This kiosk is not provisioned")
        expect(page.locator("#unprovisioned-fr h1")).to_have_text("Cette borne n'est pas mise en service")
        expect(page.locator("#unprovisioned-en .unprovisioned-problems")).to_contain_text(
            "uplink.key_file names kiosk.key")
        check_screen(page, "unprovisioned-refused")
        context.close()

        # The technician provisions a good set: the screen exits 75 so systemd starts the real kiosk.
        (refused_first_boot["folder"] / provision.FAILED_NOTE).unlink()
        good = write_provisioning_set(refused_first_boot["folder"].parent / "good", post_id="POST-UP", kiosk_id="K9",
                                      data_dir=refused_first_boot["data_dir"])
        result = CliRunner().invoke(cli, ["--config", str(refused_first_boot["config_path"]), "provision",
                                          str(good), "--owner", getpass.getuser()])
        assert result.exit_code == 0, result.output
        assert process.wait(timeout=unprovisioned.WATCH_INTERVAL_S * 4) == unprovisioned.EXIT_CONFIG_CHANGED
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_an_invalid_config_is_shown_with_its_reason(tmp_path):
    config_path = tmp_path / "kiosk.toml"
    config_path.write_text('[kiosk]\npost_id = "P"\nkiosk_id = "K"\nbrokr = 1\n', encoding="utf-8")
    port = free_port()
    process = _run_kiosk(config_path, tmp_path / "provision.json", port)
    try:
        status, health = _wait_for_health(process, f"http://127.0.0.1:{port}")
        assert status == 503 and "brokr" in health["problem"], health
        assert health["provisioning"] is None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
            page = answer.read().decode()
        assert "The kiosk cannot start: its config cannot be used." in page and "brokr" in page
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0


def test_without_the_flag_a_missing_config_is_an_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "appliance", "--config", str(tmp_path / "none.toml"), "run"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "none.toml" in result.stderr, result.stderr


def test_a_taken_port_is_an_error_not_a_hang(tmp_path):
    with _free_socket() as sock:
        sock.listen()
        port = sock.getsockname()[1]
        process = _run_kiosk(tmp_path / "none.toml", tmp_path / "provision.json", port)
        assert process.wait(timeout=30) == 1
        assert f"error: port {port} on 127.0.0.1 is in use" in process.communicate()[1]
