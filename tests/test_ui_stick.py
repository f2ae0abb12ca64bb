"""The supervisor's USB stick screen in Debian's Chromium, and its API: crossings to HQ on a stick, HQ's receipt back.

A kiosk and its HQ on disk (keys, enrolment) share a folder that stands for the stick
(``[stick] mount_dir``). The screen writes the export there; HQ imports it with its own
code (``hq.stick_import``, as ``kiosk-hq import``), which writes the signed receipt and the
list bundles beside it; the screen then applies them, and the kiosk's outbox drains. Every
refusal the workflow knows is made to happen once, and each says its own words in the
supervisor's language while nothing on the kiosk changes.
"""

from __future__ import annotations

import html
import shutil
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from playwright.sync_api import expect

from appliance import config as config_module
from appliance.errors import ConfigError
from appliance.hw import open_devices
from appliance.storage.officers import Officers
from appliance.storage.store import Store
from appliance.uplink import outbox, protocol, stick
from appliance.web.app import create_app
from appliance.workflow import biometrics, crossings
from appliance.workflow import stick as stick_workflow
from hq import config as hq_config_module
from hq import lists as hq_lists
from hq import stick_import
from hq.db import HQDatabase

from .conftest import OFFICER_PIN, SUPERVISOR_PIN
from .samples import CLEAR_OKAFOR
from .ui.fixtures import (
    LARGE,
    SMALL,
    TECH_PIN,
    artifacts_dir,
    check_screen,
    login,
    serving,
)
from .web_client import BrowserClient

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BIOMETRIC_KEY = "6a" * 32  # a test key
POST = "POST-ST"
LIST_VERSION = "2026.12.01"


def _kiosk_config(root: Path, name: str, hq_public: str, stick_public: str, list_pub: Path,
                  mount_dir: Path, camera_dir: Path | None = None) -> config_module.Config:
    directory = root / name
    directory.mkdir()
    (directory / "none.mrz").write_text("", encoding="utf-8")
    stick_key_line = f'hq_stick_key = "{stick_public}"' if stick_public else ""
    (directory / "kiosk.toml").write_text(textwrap.dedent(f"""
        [kiosk]
        post_id = "{POST}"
        kiosk_id = "{name}"
        data_dir = "{directory / 'data'}"

        [security]
        biometric_key = "{BIOMETRIC_KEY}"

        [hardware.simulated]
        mrz_file = "{directory / 'none.mrz'}"
        battery_percent = 81
        {f'camera_dir = "{camera_dir}"' if camera_dir else ""}

        [uplink]
        hq_public_key = "{hq_public}"
        {stick_key_line}

        [screening]
        trusted_key = "{list_pub}"

        [stick]
        mount_dir = "{mount_dir}"
    """), encoding="utf-8")
    return config_module.load(directory / "kiosk.toml", environ={})


class StickPost:
    """HQ and kiosk K1 of one post on disk, enrolled, with a stick folder; K2 of the same post for foreign files."""

    def __init__(self, root: Path, *, stick_key: bool = True, camera_dir: Path | None = None) -> None:
        self.root = root
        hq_dir = root / "hq"
        hq_dir.mkdir()
        self.hq_key_file = hq_dir / "hq.key"
        hq_public = protocol.generate_key_file(self.hq_key_file)
        stick_public = stick.generate_key_file(hq_dir / "stick.key")
        (hq_dir / "hq.toml").write_text(textwrap.dedent(f"""
            [hq]
            database = "{hq_dir / 'hq.sqlite3'}"
            signing_key_file = "{self.hq_key_file}"
            stick_key_file = "{hq_dir / 'stick.key'}"
            [broker]
            url = "mqtt://127.0.0.1:1883"
        """), encoding="utf-8")
        self.hq_config = hq_config_module.load(hq_dir / "hq.toml", environ={})
        list_keys = root / "listkeys"
        list_keys.mkdir()
        hq_lists.keygen(list_keys / "list.key", list_keys / "list.pub")
        self.list_key = list_keys / "list.key"
        self.stick = root / "stick"
        self.stick.mkdir()
        self.config = _kiosk_config(root, "K1", hq_public, stick_public if stick_key else "", list_keys / "list.pub",
                                    self.stick, camera_dir)
        self.other = _kiosk_config(root, "K2", hq_public, stick_public, list_keys / "list.pub", root / "stick-k2")
        (root / "stick-k2").mkdir()
        for config in (self.config, self.other):
            public = protocol.generate_key_file(config.kiosk.data_dir / "uplink" / "kiosk_ed25519.key")
            with HQDatabase(self.hq_config.hq.database) as db:
                db.enrol(POST, config.kiosk.kiosk_id, public)
        self.store = Store(self.config.db_path)
        officers = Officers(self.store, self.config.security)
        officers.add("alice", "officer", OFFICER_PIN)
        officers.add("sam", "supervisor", SUPERVISOR_PIN)
        officers.add("tech", "technician", TECH_PIN)
        self.officers = officers
        self.devices = open_devices(self.config.hardware)
        self.app = create_app(self.config, self.store, self.devices)

    def close(self) -> None:
        self.devices.close()
        self.store.close()

    # -- the kiosk's records -------------------------------------------------------------

    def record(self, count: int, photos: int = 0) -> list[str]:
        """``count`` crossings recorded by alice, the first ``photos`` of them with a face photo."""
        officer = self.officers.get("alice")
        ids = []
        for index in range(count):
            capture_ids = [biometrics.capture_photo(self.store, self.config, self.devices, officer)["capture_id"]] \
                if index < photos else []
            ids.append(crossings.record(self.store, self.config, officer, crossings.CrossingRequest(
                direction="entry", mrz=CLEAR_OKAFOR, capture_ids=tuple(capture_ids))).crossing.id)
        return ids

    def depth(self, kind: str | None = None) -> int:
        return outbox.depth(self.store, kind)

    def audit(self) -> list[tuple[str, str]]:
        with self.store.lock:
            return [(actor, action) for actor, action in self.store.conn.execute(
                "SELECT actor, action FROM audit WHERE action LIKE 'stick.%' OR action = 'lists.apply' ORDER BY seq")]

    def stick_files(self) -> list[str]:
        return sorted(str(p.relative_to(self.stick)) for p in self.stick.rglob("*") if p.is_file())

    # -- HQ's side -----------------------------------------------------------------------

    def list_bundle(self) -> Path:
        with resources.as_file(resources.files("appliance").joinpath("demo_data/persons.csv")) as path:
            records = hq_lists.read_export("persons", path)
        bundle = self.root / "national.bundle"
        bundle.write_bytes(hq_lists.publish("persons", "national", LIST_VERSION, records,
                                            hq_lists.load_private_key(self.list_key)))
        return bundle

    def hq_import(self, export_file: Path, with_lists: bool = False) -> dict[str, Any]:
        """``kiosk-hq import`` of one export file on the stick: HQ's own code, its receipt written beside it."""
        with HQDatabase(self.hq_config.hq.database) as db:
            return stick_import.import_file(self.hq_config, db, export_file,
                                            list_bundles=[self.list_bundle()] if with_lists else [])

    def hq_crossings(self) -> list[str]:
        with HQDatabase(self.hq_config.hq.database) as db:
            return [crossing["id"] for crossing in db.crossings(POST, "K1")]

    def export_files(self) -> list[Path]:
        return sorted(self.stick.glob(f"kiosk-export-{POST}-K1-*.kexp"))


@pytest.fixture
def post(tmp_path) -> Iterator[StickPost]:
    kiosk = StickPost(tmp_path)
    yield kiosk
    kiosk.close()


@dataclass
class Served:
    url: str


@pytest.fixture
def served(post) -> Iterator[Served]:
    with serving(post.app, "stick-ui") as url:
        yield Served(url)


def _page(browser, served: Served, viewport: dict[str, int]):
    context = browser.new_context(viewport=viewport, base_url=served.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
            if response.status >= 500 else None)
    return context, page, errors


def _screen(page, name: str) -> None:
    (artifacts_dir() / "screens").mkdir(exist_ok=True)
    check_screen(page, f"screens/{name}")


# -- the whole round trip, in the browser ------------------------------------------------------------


@pytest.mark.parametrize("size, viewport", [("800", SMALL), ("1024", LARGE)])
def test_a_supervisor_writes_the_crossings_to_a_stick_and_applies_hqs_receipt_from_it(browser, post, served, size,
                                                                                      viewport):
    recorded = post.record(3, photos=2)
    assert (post.depth("crossing"), post.depth("capture")) == (3, 2)
    context, page, errors = _page(browser, served, viewport)
    try:
        login(page, "sam", SUPERVISOR_PIN)
        _screen(page, f"stick-{size}-0-home")
        page.locator("#go-stick").click()
        expect(page.locator("#stick-state")).to_contain_text("USB stick ready")
        expect(page.locator("#stick-crossings")).to_have_text("3")
        expect(page.locator("#stick-captures")).to_have_text("2")
        expect(page.locator("#stick-receipt")).to_have_text("No receipt from HQ for this kiosk on the stick.")
        expect(page.locator("#stick-apply")).to_be_disabled()
        _screen(page, f"stick-{size}-1-ready")

        page.locator("#stick-photos").check()
        page.locator("#stick-export").click()
        result = page.locator("#stick-result")
        expect(result).to_contain_text("Export #1 written to the stick")
        expect(result).to_contain_text("Crossings written: 3")
        expect(result).to_contain_text(f"File: kiosk-export-{POST}-K1-000001.kexp")
        expect(result).to_contain_text("Photos and fingerprints written: 2")
        _screen(page, f"stick-{size}-2-written")
        assert post.stick_files() == [f"kiosk-export-{POST}-K1-000001.kexp"]
        # Nothing leaves the kiosk until HQ's receipt comes back.
        page.locator("#stick-check").click()
        expect(page.locator("#stick-crossings")).to_have_text("3")
        expect(page.locator("#stick-receipt")).to_have_text("No receipt from HQ for this kiosk on the stick.")
        assert post.depth() == 5

        # At HQ: the real import, which writes the receipt and the list bundle onto the stick.
        imported = post.hq_import(post.export_files()[0], with_lists=True)
        assert (imported["crossings"], imported["new_crossings"], imported["captures"]) == (3, 3, 2)
        assert sorted(post.hq_crossings()) == sorted(recorded)

        page.locator("#stick-check").click()
        expect(page.locator("#stick-receipt")).to_contain_text("HQ's receipt of export #1")
        expect(page.locator("#stick-receipt")).to_contain_text(f"kiosk-export-{POST}-K1-000001.receipt")
        expect(page.locator("#stick-lists")).to_have_text("List bundles on the stick: 1")
        _screen(page, f"stick-{size}-3-receipt-found")

        page.locator("#stick-apply").click()
        expect(result).to_contain_text("HQ's receipt of export #1 applied")
        expect(result).to_contain_text("Crossings released (HQ holds them): 3")
        expect(result).to_contain_text("Still waiting for HQ: 0")
        expect(result).to_contain_text(f"List national version {LIST_VERSION} applied.")
        _screen(page, f"stick-{size}-4-applied")
        page.locator("#stick-check").click()
        expect(page.locator("#stick-crossings")).to_have_text("0")
        expect(page.locator("#stick-captures")).to_have_text("0")
    finally:
        context.close()
    assert not errors, errors
    assert post.depth() == 0, "the outbox drained: HQ holds every crossing and photo"
    assert post.audit() == [("sam", "stick.export"), ("sam", "stick.receipt"), ("sam", "lists.apply")]
    assert sorted(post.hq_crossings()) == sorted(recorded), "HQ holds each crossing once"


def test_the_stick_screen_in_french_and_a_replayed_receipt_refused(browser, post, served):
    post.record(2)
    context, page, errors = _page(browser, served, SMALL)
    try:
        page.goto("/login?lang=fr")
        login(page, "sam", SUPERVISOR_PIN)
        expect(page.locator("#go-stick")).to_have_text("Clé USB")
        _screen(page, "stick-fr-800-0-home")
        page.locator("#go-stick").click()
        expect(page.locator("h1")).to_have_text("Clé USB")
        expect(page.locator("#stick-state")).to_contain_text("Clé USB prête")
        expect(page.locator("#stick-export")).to_have_text("Écrire les passages sur la clé")
        _screen(page, "stick-fr-800-1-ready")
        page.locator("#stick-export").click()
        result = page.locator("#stick-result")
        expect(result).to_contain_text("Export n° 1 écrit sur la clé")
        expect(result).to_contain_text("Passages écrits : 2")
        expect(result).to_contain_text("Portez la clé au QG.")
        _screen(page, "stick-fr-800-2-written")
        post.hq_import(post.export_files()[0])

        page.locator("#stick-check").click()
        expect(page.locator("#stick-receipt")).to_contain_text("Accusé de réception du QG pour l'export n° 1")
        expect(page.locator("#stick-lists")).to_have_text("Paquets de listes sur la clé : 0")
        page.locator("#stick-apply").click()
        expect(result).to_contain_text("Accusé de réception du QG pour l'export n° 1 appliqué")
        expect(result).to_contain_text("Passages libérés (le QG les détient) : 2")
        expect(result).to_contain_text("Aucun paquet de listes sur la clé.")
        _screen(page, "stick-fr-800-3-applied")
        audited = post.audit()

        # The same receipt again: refused in French, the workflow's own words beside it for a technician.
        page.locator("#stick-check").click()
        page.locator("#stick-apply").click()
        expect(result).to_contain_text("L'accusé de réception du QG n'a pas été appliqué")
        expect(result).to_contain_text("Cet accusé de réception a déjà été appliqué.")
        expect(result).to_contain_text("Rien n'a changé sur cette borne.")
        expect(page.locator("#stick-detail")).to_contain_text("already applied")
        _screen(page, "stick-fr-800-4-replayed")
        body = page.locator("main").inner_text()
        assert "HQ's receipt" not in body and "Nothing changed" not in body
    finally:
        context.close()
    assert not errors, errors
    assert post.audit() == audited, "a refused receipt is not applied, so not audited"


def test_a_refused_receipt_on_screen_at_1024(browser, post, served):
    post.record(1)
    other = _other_kiosks_receipt(post)
    context, page, errors = _page(browser, served, LARGE)
    try:
        login(page, "sam", SUPERVISOR_PIN)
        page.goto("/stick")
        page.locator("#stick-apply").click()
        expect(page.locator("#stick-result")).to_contain_text("This receipt is another kiosk's.")
        expect(page.locator("#stick-result")).to_contain_text("Nothing changed on this kiosk.")
        _screen(page, "stick-1024-refused-foreign")
    finally:
        context.close()
    assert not errors, errors
    assert other.exists() and post.depth("crossing") == 1 and post.audit() == []


def test_without_a_stick_the_screen_says_so_and_offers_nothing(browser, post, served):
    post.record(1)
    shutil.rmtree(post.stick)
    context, page, errors = _page(browser, served, SMALL)
    try:
        login(page, "sam", SUPERVISOR_PIN)
        page.goto("/stick")
        expect(page.locator("#stick-state")).to_have_text(
            "No USB stick: put one in the kiosk's USB port, wait a few seconds, then tap Check again.")
        expect(page.locator("#stick-export")).to_be_disabled()
        expect(page.locator("#stick-apply")).to_be_disabled()
        expect(page.locator("#stick-receipt")).to_have_text("No receipt from HQ for this kiosk on the stick.")
        expect(page.locator("#stick-crossings")).to_have_text("1")
        _screen(page, "stick-800-no-stick")
        # The stick goes in: Check again finds it.
        post.stick.mkdir()
        page.locator("#stick-check").click()
        expect(page.locator("#stick-state")).to_contain_text("USB stick ready")
        expect(page.locator("#stick-export")).to_be_enabled()
    finally:
        context.close()
    assert not errors, errors


# -- refusals over the page's forms: each says its own words and changes nothing -------------------


def _supervisor(post: StickPost, lang: str = "en") -> BrowserClient:
    client = BrowserClient(post.app)
    if lang != "en":
        client.get("/login", params={"lang": lang})
    response = client.post("/login", data={"officer_id": "sam", "pin": SUPERVISOR_PIN}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def _result(response) -> str:
    text = html.unescape(response.text)
    assert 'id="stick-result"' in text, text[:400]
    return " ".join(text.split('id="stick-result"', 1)[1].split("</section>", 1)[0].split())


def _receipt_path(seq: int = 1) -> str:
    return f"kiosk-export-{POST}-K1-{seq:06d}.receipt"


def _export_and_import(post: StickPost) -> Path:
    """Export #n written through the screen's form, imported at HQ: the receipt's path on the stick."""
    client = _supervisor(post)
    assert client.post("/stick/export", data={}).status_code == 200
    export_file = post.export_files()[-1]
    post.hq_import(export_file)
    return stick.receipt_path(export_file)


def _other_kiosks_receipt(post: StickPost) -> Path:
    """K2's own receipt from HQ, copied onto K1's stick under the name K1's receipt would have."""
    with Store(post.other.db_path) as store:
        officers = Officers(store, post.other.security)
        officers.add("kim", "officer", OFFICER_PIN)
        crossings.record(store, post.other, officers.get("kim"),
                         crossings.CrossingRequest(direction="exit", mrz=CLEAR_OKAFOR))
        exported = stick_workflow.export(store, post.other, post.root / "stick-k2")
    with HQDatabase(post.hq_config.hq.database) as db:
        imported = stick_import.import_file(post.hq_config, db, Path(exported["file"]))
    target = post.stick / _receipt_path(1)
    shutil.copy(imported["receipt"], target)
    return target


def _hq_payload(batch: str, seq: int) -> dict[str, Any]:
    return {"batch": batch, "export_seq": seq, "items": [], "progress": [], "at": "2026-12-01T10:00:00Z"}


def _replayed(post: StickPost) -> None:
    _export_and_import(post)
    assert "receipt of export #1 applied" in _result(_supervisor(post).post("/stick/receipt"))


def _older(post: StickPost) -> None:
    first = _export_and_import(post)
    post.record(1)
    second = _export_and_import(post)
    assert "receipt of export #2 applied" in _result(_supervisor(post).post("/stick/receipt"))
    second.unlink()  # only the older receipt is left on the stick
    assert first.exists()


def _foreign(post: StickPost) -> None:
    _other_kiosks_receipt(post)


def _not_signed_by_hq(post: StickPost) -> None:
    _export_and_import(post)
    real = stick.receipt_path(post.export_files()[0])
    protocol.generate_key_file(post.root / "other-hq.key")
    forged = stick.seal_receipt(protocol.load_private_key(post.root / "other-hq.key"), POST, "K1",
                                stick.open_receipt(real.read_bytes(), POST, "K1",
                                                   protocol.load_public_key(post.config.uplink.hq_public_key)))
    real.write_bytes(forged)


def _truncated(post: StickPost) -> None:
    receipt = _export_and_import(post)
    receipt.write_bytes(receipt.read_bytes()[:-30])


def _not_a_receipt(post: StickPost) -> None:
    (post.stick / _receipt_path(1)).write_bytes(b"holiday photo, not a receipt")


def _not_made_here(post: StickPost) -> None:
    key = protocol.load_private_key(post.hq_key_file)
    (post.stick / _receipt_path(7)).write_bytes(stick.seal_receipt(key, POST, "K1", _hq_payload(str(uuid.uuid4()), 7)))


REFUSALS = {
    "replayed": (_replayed, "This receipt was already applied.", "already applied"),
    "older": (_older, "This receipt is older than one already applied", "is older than the receipt of export #2"),
    "another kiosk's": (_foreign, "This receipt is another kiosk's.", "not this kiosk"),
    "not signed by HQ": (_not_signed_by_hq, "This receipt is not signed by this kiosk's HQ", "bad signature"),
    "truncated": (_truncated, "The receipt file is incomplete (the copy was interrupted)", "truncated"),
    "not a receipt": (_not_a_receipt, "This file is not a receipt from HQ.", "not a kiosk receipt file"),
    "an export not made here": (_not_made_here, "This receipt names an export this kiosk did not make.",
                                "which this kiosk did not make"),
}


@pytest.mark.parametrize("kind", list(REFUSALS))
def test_a_refused_receipt_says_why_and_changes_nothing(post, kind):
    prepare, sentence, detail = REFUSALS[kind]
    post.record(2)
    prepare(post)
    depth, audited, files = post.depth(), post.audit(), post.stick_files()
    response = _supervisor(post).post("/stick/receipt")
    result = _result(response)
    assert response.status_code == 400, (response.status_code, result)
    assert "✘ HQ's receipt was not applied" in result and sentence in result, result
    assert "Nothing changed on this kiosk." in result and detail in result, result
    assert (post.depth(), post.audit(), post.stick_files()) == (depth, audited, files)


def test_a_refusal_in_french_shows_no_english_but_the_technicians_detail(post):
    post.record(1)
    _truncated(post)
    result = _result(_supervisor(post, "fr").post("/stick/receipt"))
    assert "Le fichier d'accusé de réception est incomplet (copie interrompue)" in result
    assert "Rien n'a changé sur cette borne." in result
    said, detail = result.split('id="stick-detail">')
    assert "receipt" not in said and "Nothing" not in said, said
    assert "truncated" in detail  # the workflow's own words stay, for a technician


def test_a_refused_list_bundle_is_named_and_the_receipt_and_other_lists_still_apply(post):
    post.record(1)
    client = _supervisor(post)
    client.post("/stick/export", data={})
    hq_lists.keygen(post.root / "forger.key", post.root / "forger.pub")
    forged = post.root / "forged.bundle"
    with resources.as_file(resources.files("appliance").joinpath("demo_data/persons.csv")) as path:
        forged.write_bytes(hq_lists.publish("persons", "other", "1", hq_lists.read_export("persons", path),
                                            hq_lists.load_private_key(post.root / "forger.key")))
    with HQDatabase(post.hq_config.hq.database) as db:
        stick_import.import_file(post.hq_config, db, post.export_files()[0],
                                 list_bundles=[post.list_bundle(), forged])
    response = client.post("/stick/receipt")
    result = _result(response)
    assert response.status_code == 200, result
    assert "Crossings released (HQ holds them): 1" in result
    assert f"List national version {LIST_VERSION} applied." in result
    assert "List file 02-forged.bundle refused: that list is unchanged." in result
    assert "02-forged.bundle:" in result.split('id="stick-detail"', 1)[1]  # the bundle's own reason
    assert post.depth() == 0
    assert post.audit() == [("sam", "stick.export"), ("sam", "stick.receipt"), ("sam", "lists.apply")]


def test_no_receipt_and_no_stick_are_refused_with_nothing_written(post):
    post.record(1)
    client = _supervisor(post)
    response = client.post("/stick/receipt")
    assert response.status_code == 404 and "No receipt from HQ for this kiosk on the stick." in _result(response)
    shutil.rmtree(post.stick)
    for action in ("/stick/export", "/stick/receipt"):
        response = client.post(action, data={"photos": "1"} if action.endswith("export") else {})
        result = _result(response)
        assert response.status_code == 409 and "No USB stick: put one in" in result, result
    # A file where the stick should be is no stick either.
    post.stick.write_text("not a folder")
    assert _result(client.post("/stick/export", data={})).count("No USB stick") == 1
    assert post.depth("crossing") == 1 and post.audit() == []


def test_an_export_without_hqs_stick_key_is_refused_and_writes_nothing(tmp_path):
    post = StickPost(tmp_path, stick_key=False)
    try:
        post.record(1)
        response = _supervisor(post).post("/stick/export", data={"photos": "1"})
        result = _result(response)
        assert response.status_code == 400, result
        assert "This kiosk has no HQ stick key to encrypt an export with" in result
        assert "uplink.hq_stick_key is not set" in result  # the workflow's words, for a technician
        assert post.stick_files() == [] and post.audit() == []
    finally:
        post.close()


def test_photos_beyond_the_stick_budget_wait_for_the_next_stick(tmp_path):
    # Photos of ~420 KiB (noise does not compress): two fit [stick] max_photo_mib = 1, the third waits.
    camera = tmp_path / "camera"
    camera.mkdir()
    noise = np.random.default_rng(7).integers(0, 255, (600, 800, 3), dtype=np.uint8)
    cv2.imwrite(str(camera / "noise.jpg"), noise, [cv2.IMWRITE_JPEG_QUALITY, 90])
    (tmp_path / "post").mkdir()
    post = StickPost(tmp_path / "post", camera_dir=camera)
    try:
        post.record(3, photos=3)
        with post.store.lock:
            capture_id = post.store.conn.execute("SELECT ref_id FROM outbox WHERE kind = 'capture'").fetchone()[0]
        size = len(biometrics.read(post.store, post.config, capture_id)[0])
        assert 2 * size <= 1024 * 1024 < 3 * size, size
        post.app.state.config = post.config.model_copy(
            update={"stick": post.config.stick.model_copy(update={"max_photo_mib": 1})})
        result = _result(_supervisor(post).post("/stick/export", data={"photos": "1"}))
        assert "Photos and fingerprints written: 2" in result, result
        assert "Photos and fingerprints that did not fit, for the next stick: 1" in result, result
        assert post.depth("capture") == 3, "nothing leaves the outbox before HQ's receipt"
    finally:
        post.close()


# -- who may use it -----------------------------------------------------------------------------------


@pytest.mark.parametrize("officer_id, pin", [("alice", OFFICER_PIN), ("tech", TECH_PIN)])
def test_only_a_supervisor_may_use_the_stick(post, officer_id, pin):
    post.record(1)
    client = BrowserClient(post.app)
    client.post("/login", data={"officer_id": officer_id, "pin": pin})
    assert 'id="go-stick"' not in client.get("/").text
    for method, path in (("GET", "/stick"), ("POST", "/stick/export"), ("POST", "/stick/receipt")):
        response = client.request(method, path, data={"photos": "1"} if method == "POST" else None)
        assert response.status_code == 403, (path, response.status_code)
        assert "Only a supervisor can use the USB stick." in html.unescape(response.text)
    token = post.officers.login(officer_id, pin).token
    api = BrowserClient(post.app, headers={"Authorization": f"Bearer {token}"})
    for method, path in (("GET", "/api/stick"), ("POST", "/api/stick/export"), ("POST", "/api/stick/receipt")):
        response = api.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 403 and response.json()["kind"] == "Forbidden", response.text
    assert post.stick_files() == [] and post.audit() == [] and post.depth("crossing") == 1
    supervisor = _supervisor(post)
    assert 'id="go-stick"' in supervisor.get("/").text


def test_a_page_form_without_its_csrf_token_is_refused(post):
    client = _supervisor(post)
    response = client.request("POST", "/stick/export", data={}, csrf_token=False)
    assert response.status_code == 403 and post.stick_files() == []


# -- the API -----------------------------------------------------------------------------------------


def test_the_api_round_trip_and_its_refusals(post):
    recorded = post.record(2, photos=1)
    token = post.officers.login("sam", SUPERVISOR_PIN).token
    api = BrowserClient(post.app, headers={"Authorization": f"Bearer {token}"})
    state = api.get("/api/stick").json()
    assert (state["mounted"], state["crossings"], state["captures"], state["receipts"]) == (True, 2, 1, [])
    assert api.post("/api/stick/export", json={"photoz": True}).status_code == 422  # unknown field
    assert post.stick_files() == []
    missing = api.post("/api/stick/receipt", json={})
    assert missing.status_code == 404 and missing.json()["kind"] == "NotFound"

    exported = api.post("/api/stick/export", json={"photos": True})
    assert exported.status_code == 201, exported.text
    assert (exported.json()["crossings"], exported.json()["captures"]) == (2, 1)
    post.hq_import(Path(exported.json()["file"]), with_lists=True)
    # Only this kiosk's receipts count: another kiosk's on the same stick, or a name of another shape, do not.
    for name in (f"kiosk-export-{POST}-K2-000009.receipt", f"kiosk-export-{POST}-K1-00000x.receipt",
                 f"kiosk-export-{POST}-K1-000009.receipt.part", "receipt"):
        (post.stick / name).write_bytes(b"not for this kiosk")
    state = api.get("/api/stick").json()
    assert (state["receipts"], state["lists"]) == ([_receipt_path(1)], ["01-national.bundle"])

    applied = api.post("/api/stick/receipt", json={"lists": False})
    assert applied.status_code == 200, applied.text
    assert (applied.json()["file"], applied.json()["released"], applied.json()["lists"]) == (_receipt_path(1), 3, [])
    assert post.depth() == 0 and sorted(post.hq_crossings()) == sorted(recorded)
    again = api.post("/api/stick/receipt")
    assert again.status_code == 400 and again.json()["kind"] == "ProtocolError"
    assert "already applied" in again.json()["error"]
    assert post.audit() == [("sam", "stick.export"), ("sam", "stick.receipt")]

    shutil.rmtree(post.stick)
    for path in ("/api/stick/export", "/api/stick/receipt"):
        response = api.post(path, json={})
        assert response.status_code == 404 and "no USB stick at" in response.json()["error"], response.text
    assert api.get("/api/stick").json()["mounted"] is False


# -- the config field ---------------------------------------------------------------------------------


def test_the_stick_folder_is_a_strict_config_field(tmp_path):
    base = {"kiosk": {"post_id": "P", "kiosk_id": "K", "data_dir": str(tmp_path)}}
    assert config_module.from_mapping(base).stick.mount_dir == Path("/media/kiosk-usb")
    with pytest.raises(ConfigError, match="must be an absolute path"):
        config_module.from_mapping({**base, "stick": {"mount_dir": "media/usb"}})
    with pytest.raises(ConfigError, match="mount_point"):
        config_module.from_mapping({**base, "stick": {"mount_point": "/media/usb"}})
    with pytest.raises(ConfigError, match="max_photo_mib"):
        config_module.from_mapping({**base, "stick": {"max_photo_mib": 0}})
