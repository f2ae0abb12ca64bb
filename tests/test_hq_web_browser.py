"""HQ's console in Debian's Chromium against the real console, a real broker and simulated kiosks.

The kiosks are ``hq.demo.kiosks.SimKiosk``: the kiosk's own store, workflow and uplink on
simulated devices. Every page is checked with axe-core's WCAG 2.0/2.1 A and AA rules and
screenshotted (artefacts in $KIOSK_TEST_ARTIFACTS, default tests/artifacts/).
"""

from __future__ import annotations

import io
import re
import time
from collections import Counter

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from hq import records
from hq.fleet import fleet_rows
from hq.demo.hq_side import HQ
from hq.demo.kiosks import SimKiosk

from .broker import Mosquitto
from .ui.fixtures import artifacts_dir, axe_violations
from .uplink_env import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Console:
    def __init__(self, hq: HQ, kiosks: dict[str, SimKiosk], passwords: dict[str, str]) -> None:
        self.hq, self.kiosks, self.passwords = hq, kiosks, passwords

    def held(self) -> int:
        return len(self.hq.db.crossings())


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hq-console")
    broker = Mosquitto(directory / "broker").start()
    hq = HQ(directory / "hq", broker.url, silent_after_s=60, metrics_token="browser-test-token")
    kiosks = {name: SimKiosk(directory / name, broker.url, hq.public_key, post, "K1", curve=curve, health_interval_s=5,
                             seed=index)
              for index, (name, post, curve) in enumerate((("a", "POST-A", "solar"), ("b", "POST-B", "draining"),
                                                           ("c", "POST-C", "mains")))}
    for kiosk in kiosks.values():
        hq.enrol(kiosk.post_id, kiosk.kiosk_id, kiosk.public_key)
        kiosk.power(0)
    passwords = {role: hq.add_user(role, role) for role in ("viewer", "analyst", "admin")}
    hq.start()
    for kiosk in kiosks.values():
        kiosk.start()
    try:
        wait_until(lambda: all(k.connected for k in kiosks.values()), 30, what="every kiosk connected")
        wait_until(lambda: [r["state"] for r in fleet_rows(hq.db, 60)] == ["online"] * 3, 30,
                   what="HQ to see every kiosk online")
        yield Console(hq, kiosks, passwords)
    finally:
        for kiosk in kiosks.values():
            kiosk.close()
        hq.stop()
        broker.kill()


@pytest.fixture
def page(browser, console):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=console.hq.url,
                                  accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"script errors in the page: {errors}"


def login(page, console, role: str) -> None:
    page.goto("/login")
    page.fill("#name", role)
    page.fill("#password", console.passwords[role])
    page.click("#login")
    expect(page.locator("#who")).to_contain_text(role)


def check(page, name: str) -> None:
    page.wait_for_load_state("load")
    page.screenshot(path=str(artifacts_dir() / f"hq-{name}.png"), full_page=True)
    problems = axe_violations(page)
    assert problems == [], f"HQ page {name}: {len(problems)} accessibility problem(s):\n  " + "\n  ".join(problems)


def test_fleet_shows_a_kiosk_going_offline(page, console):
    login(page, console, "viewer")
    row_b = page.locator("#kiosk-POST-B-K1")
    expect(row_b).to_have_attribute("data-state", "online")
    expect(page.locator("#kiosk-POST-A-K1")).to_have_attribute("data-state", "online")
    check(page, "fleet")
    page.goto("/kiosks/POST-A/K1")
    expect(page.locator("#kiosk-state")).to_contain_text("online")
    expect(page.locator("#charts svg")).to_have_count(5)
    expect(page.locator("#charts svg").first).to_have_attribute("aria-label", re.compile(r"^Battery \(%\): \d+ points"))
    check(page, "kiosk")

    console.kiosks["b"].go_offline()
    deadline = time.monotonic() + 20
    while True:
        page.goto("/?state=offline")
        if page.locator("#kiosk-POST-B-K1").count():
            break
        assert time.monotonic() < deadline, "the fleet never showed POST-B/K1 offline"
        time.sleep(0.5)
    expect(page.locator("#kiosk-POST-B-K1")).to_have_attribute("data-state", "offline")
    expect(page.locator("#kiosk-POST-B-K1 .problems")).to_contain_text("offline")
    expect(page.locator("#kiosk-POST-A-K1")).to_have_count(0)  # filtered out: online
    page.goto("/")
    # Problems first: the offline kiosk heads the table.
    expect(page.locator("#fleet tbody tr").first).to_have_id("kiosk-POST-B-K1")


def test_an_alert_appears_live_and_only_an_analyst_acknowledges_it(page, browser, console):
    login(page, console, "analyst")
    page.goto("/alerts")
    before = page.locator("#alert-rows tr").count()
    crossing = console.kiosks["a"].cross(listed=True, direction="entry")
    assert crossing["screening"]["hits"], "the listed traveller should raise a hit on the kiosk"
    row = page.locator(f"#alert-{crossing['id']}")
    expect(row).to_be_visible(timeout=20_000)  # pushed by server-sent events: no reload
    expect(row).to_contain_text("DOE")
    expect(row).to_contain_text("POST-A / K1")
    assert page.locator("#alert-rows tr").count() == before + 1
    check(page, "alerts")

    viewer_context = browser.new_context(base_url=console.hq.url)
    viewer = viewer_context.new_page()
    login(viewer, console, "viewer")
    viewer.goto("/alerts")
    expect(viewer.locator(f"#alert-{crossing['id']}")).to_contain_text("hidden for your role")
    expect(viewer.locator(f"#ack-{crossing['id']}")).to_have_count(0)
    assert viewer.request.get(f"/crossings/{crossing['id']}").status == 403
    assert viewer.request.get("/crossings/export.xlsx").status == 403
    viewer.goto("/crossings")
    expect(viewer.locator("#message")).to_contain_text("needs the analyst role")
    viewer_context.close()

    page.fill(f"#note-{crossing['id']}", "post called")
    page.click(f"#ack-{crossing['id']}")
    expect(page.locator(f"#alert-{crossing['id']}")).to_contain_text("acknowledged by analyst")
    # The post's supervisor decides: the outcome reaches the open page without a reload.
    assert crossing["decision"] == "referred"
    console.kiosks["a"].resolve(crossing["id"], "refused")
    expect(page.locator(f"#alert-{crossing['id']}")).to_contain_text("referred → refused", timeout=20_000)
    page.goto(f"/crossings/{crossing['id']}")
    expect(page.locator("#field-document_number")).to_have_text(crossing["document_number"])
    check(page, "crossing")


def test_an_admin_sends_a_command_and_sees_the_answer(page, console):
    login(page, console, "admin")
    page.goto("/kiosks/POST-C/K1")
    page.click("#command-health")
    expect(page.locator("#command-note")).to_contain_text("Command sent")
    expect(page.locator("#commands tbody tr").first).to_contain_text("health")
    deadline = time.monotonic() + 20
    while "health received" not in page.locator("#commands tbody tr").first.inner_text():
        assert time.monotonic() < deadline, "the kiosk's answer never showed"
        time.sleep(0.5)
        page.reload()
    check(page, "kiosk-admin")
    scraped = page.request.get("/metrics", headers={"Authorization": "Bearer browser-test-token"}).text()
    counts = {topic: float(value) for topic, value in re.findall(
        r'hq_ingest_messages_total\{topic="(\w+)",worker="[^"]+"\} ([0-9.]+)', scraped)}
    assert counts.get("health", 0) > 0 and counts.get("status", 0) > 0, scraped
    assert 'hq_kiosk_online{kiosk="K1",post="POST-C"} 1.0' in scraped


def test_statistics_match_the_crossings_sent_and_exports_open(page, console):
    kiosk = console.kiosks["c"]
    for _ in range(12):
        kiosk.cross()
    sent = [c for k in console.kiosks.values() for c in k.recorded]
    wait_until(lambda: console.held() >= len(sent), 30, what="HQ to hold every crossing sent")
    assert kiosk.pending() == 0 or wait_until(lambda: kiosk.pending() == 0, 20, what="receipts")

    login(page, console, "viewer")
    page.goto("/statistics?period=month")
    expect(page.locator("#total")).to_have_text(f"{len(sent)} crossings")
    by_nationality = Counter(c["nationality"] for c in sent)
    cells = page.locator("#table-nationality tbody tr")
    shown = {cells.nth(i).locator("td").nth(0).inner_text(): int(cells.nth(i).locator("td").nth(3).inner_text())
             for i in range(cells.count())}
    assert shown == dict(by_nationality)
    bands = Counter(records.age_band(c["birth_date"], records.clock.parse_iso(c["recorded_at"]).date()) for c in sent)
    with page.expect_download() as download_info:
        page.click("#export-age_band-xlsx")
    sheet = load_workbook(io.BytesIO(open(download_info.value.path(), "rb").read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("age_band", "entry", "exit", "total")
    assert {row[0]: row[3] for row in rows[1:]} == dict(bands)
    with page.expect_download() as download_info:
        page.click("#export-sex-csv")
    text = open(download_info.value.path(), encoding="utf-8-sig").read()
    assert {line.split(",")[0]: int(line.split(",")[3]) for line in text.splitlines()[1:]} == dict(
        Counter(c["sex"] for c in sent))
    check(page, "statistics")
    page.goto("/lists")
    expect(page.locator("#list-persons")).to_be_visible()
    check(page, "lists")


def test_crossing_search_export_in_french(page, console):
    sent = console.kiosks["c"].recorded or [console.kiosks["c"].cross()]
    wait_until(lambda: console.held() >= len(sent), 30, what="HQ to hold the crossings")
    login(page, console, "analyst")
    page.click("#lang-fr")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.goto("/crossings")
    page.fill("#q", sent[0]["document_number"])
    page.click("#search button[type=submit]")
    expect(page.locator("#found")).to_contain_text("1 passages trouvés")
    with page.expect_download() as download_info:
        page.click("#export-xlsx")
    rows = list(load_workbook(io.BytesIO(open(download_info.value.path(), "rb").read())).active.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][-1] == sent[0]["id"]
    check(page, "crossings-fr")
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Flotte")
    check(page, "fleet-fr")
    assert re.search(r"Se déconnecter", page.content())
