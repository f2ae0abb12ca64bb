"""``kiosk provision DIR`` on real files and a real store: a good set installed, every bad one refused with nothing changed."""

from __future__ import annotations

import getpass
import html
import json
import os
import shutil
import sqlite3
import stat
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance import config as config_module
from appliance.cli import cli
from appliance.storage import audit
from appliance.storage.officers import Officers, check_pin
from appliance.storage.store import Store
from appliance.uplink import protocol
from appliance.web.app import create_app
from appliance.web.qr import qr_svg
from appliance.workflow import biometrics, provision

from .provisioning import CA_FILE, CERT_FILE, KEY_FILE, write_provisioning_set
from .web_client import BrowserClient

SUPERVISOR = ("sup1", "739264")
OTHER_PIN = "582047"


class Kiosk:
    """A kiosk's two places on a test machine: its config folder (/etc/kiosk) and its data dir (/var/lib/kiosk)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_path = root / "etc" / "kiosk.toml"
        self.data_dir = root / "data"
        self.status_file = self.data_dir / provision.STATUS_FILE

    def set(self, name: str = "set", **kwargs) -> Path:
        """A provisioning set for this kiosk, as a technician copies it onto the boot partition."""
        kwargs.setdefault("post_id", "POST-1")
        kwargs.setdefault("kiosk_id", "K1")
        return write_provisioning_set(self.root / name, data_dir=self.data_dir, **kwargs)

    def provision(self, folder: Path, *args: str, status_file: Path | None = None):
        command = ["--config", str(self.config_path), "provision", str(folder), "--owner", getpass.getuser(), *args]
        if status_file is not None:
            command += ["--status-file", str(status_file)]
        return CliRunner().invoke(cli, command, catch_exceptions=False)

    def config(self) -> config_module.Config:
        return config_module.load(self.config_path, environ={})

    def status(self) -> dict:
        return json.loads(self.status_file.read_text(encoding="utf-8"))

    def snapshot(self) -> dict[str, object]:
        """Every stored file's mode and bytes, and the database's rows; the status file (a report) left out."""
        files: dict[str, object] = {}
        for top in (self.config_path.parent, self.data_dir):
            for path in sorted(top.rglob("*")) if top.exists() else []:
                if path.name == provision.STATUS_FILE or path.name.startswith("kiosk.sqlite3"):
                    continue
                files[str(path)] = (stat.S_IMODE(path.stat().st_mode), path.read_bytes() if path.is_file() else "dir")
        database = self.data_dir / "kiosk.sqlite3"
        if database.exists():
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
                files["database"] = list(conn.iterdump())
        return files


@pytest.fixture
def kiosk(tmp_path: Path) -> Kiosk:
    return Kiosk(tmp_path)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_good_set_is_installed_with_strict_modes_and_the_card_keeps_no_secret(kiosk):
    folder = kiosk.set(supervisor=SUPERVISOR)
    sent = {name: (folder / name).read_bytes() for name in (CA_FILE, CERT_FILE, KEY_FILE)}
    result = kiosk.provision(folder)
    assert result.exit_code == 0, result.output
    assert "enrolled supervisor sup1" in result.stdout and "enrol at HQ with: kiosk-hq enrol POST-1 K1 " in result.stdout

    config = kiosk.config()
    assert (config.kiosk.post_id, config.kiosk.kiosk_id) == ("POST-1", "K1")
    tls = kiosk.config_path.parent / provision.TLS_DIR
    # The config names the certificates where they now are, and they are the technician's files.
    assert (config.uplink.ca_file, config.uplink.cert_file, config.uplink.key_file) == (
        tls / CA_FILE, tls / CERT_FILE, tls / KEY_FILE)
    assert {name: (tls / name).read_bytes() for name in sent} == sent
    # Made on the kiosk, in its own file (not the config): captures work from the start.
    biometric = kiosk.config_path.parent / provision.KEYS_DIR / provision.BIOMETRIC_KEY_FILE
    assert config.security.biometric_key is None and config.security.biometric_key_file == biometric
    assert len(biometrics.key(config)) == 32 and biometric.read_text().strip() not in kiosk.config_path.read_text()
    key_path = config.kiosk.data_dir / "uplink" / "kiosk_ed25519.key"
    modes = {path: _mode(path) for path in (kiosk.config_path, tls / CA_FILE, tls / CERT_FILE, tls / KEY_FILE, key_path,
                                            biometric)}
    assert modes == {kiosk.config_path: 0o640, tls / CA_FILE: 0o640, tls / CERT_FILE: 0o640, tls / KEY_FILE: 0o600,
                     key_path: 0o600, biometric: 0o600}
    assert all(path.stat().st_uid == os.getuid() for path in modes)

    # The public key shown everywhere is the signing key's own.
    public = protocol.public_key_text(protocol.load_private_key(key_path).public_key())
    assert public in result.stdout and provision.public_key(config) == public

    # The boot partition: no PIN hash, no private key, a note; the secret-free kiosk.toml renamed.
    left = sorted(path.name for path in folder.iterdir())
    assert left == sorted([CA_FILE, CERT_FILE, provision.APPLIED_CONFIG, provision.PROVISIONED_NOTE])
    assert public in (folder / provision.PROVISIONED_NOTE).read_text(encoding="utf-8")

    with Store(config.db_path) as store:
        officers = Officers(store, config.security)
        assert officers.get("sup1").role == "supervisor"
        assert officers.login("sup1", SUPERVISOR[1]).officer.id == "sup1"
        checked, problems = audit.verify(store)
        actions = [row["action"] for row in store.db.query("SELECT action FROM audit WHERE actor = 'provision'")]
    assert problems == [] and checked > 0
    assert actions == ["officer.add", "provision.config", "provision.file", "provision.file", "provision.file",
                       "provision.file", "provision.signing_key"]
    status = kiosk.status()
    assert status["state"] == "applied" and status["public_key"] == public and status["kiosk_id"] == "K1"


def test_a_kiosk_toml_holding_secrets_is_removed_from_the_card(kiosk):
    key = "ab" * 32
    folder = kiosk.set(tls=False, extra_toml=f'[security]\nbiometric_key = "{key}"\n')
    result = kiosk.provision(folder)
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in folder.iterdir()) == [provision.PROVISIONED_NOTE]
    assert kiosk.config().security.biometric_key.get_secret_value() == key


def test_the_same_set_again_changes_nothing_and_says_so(kiosk):
    folder = kiosk.set(supervisor=SUPERVISOR)
    copy = shutil.copytree(folder, kiosk.root / "copy")
    assert kiosk.provision(folder).exit_code == 0
    before = kiosk.snapshot()
    again = shutil.copytree(copy, kiosk.root / "again")
    result = kiosk.provision(again)
    assert result.exit_code == 0, result.output
    assert "nothing changed" in result.stdout
    assert kiosk.snapshot() == before
    assert kiosk.status()["state"] == "unchanged"
    # The secrets are still taken off the card.
    assert not (again / provision.SET_PINHASH).exists() and not (again / KEY_FILE).exists()


def test_an_existing_signing_key_is_kept(kiosk):
    folder = kiosk.set(tls=False)
    shutil.copytree(folder, kiosk.root / "first")
    key_path = kiosk.data_dir / "uplink" / "kiosk_ed25519.key"
    public = protocol.generate_key_file(key_path)
    result = kiosk.provision(folder)
    assert result.exit_code == 0, result.output
    assert "signing key" not in result.stdout and f" {public}" in result.stdout


def _missing_toml(folder: Path) -> None:
    (folder / provision.SET_CONFIG).unlink()


def _invalid_toml(folder: Path) -> None:
    (folder / provision.SET_CONFIG).write_text("[kiosk\npost_id = 1\n", encoding="utf-8")


def _unknown_key(folder: Path) -> None:
    with (folder / provision.SET_CONFIG).open("a", encoding="utf-8") as out:
        out.write('brokr_url = "mqtts://typo.example:8883"\n')  # lands in [uplink], the last table


def _missing_certificate(folder: Path) -> None:
    (folder / CA_FILE).unlink()


def _not_pem(folder: Path) -> None:
    (folder / CERT_FILE).write_bytes(b"\x30\x82\x01\x0a not a certificate")


def _malformed_pin_hash(folder: Path) -> None:
    path = folder / provision.SET_PINHASH
    path.write_text(path.read_text(encoding="utf-8").replace("scrypt$16384", "scrypt$16"), encoding="utf-8")


def _path_not_name(folder: Path) -> None:
    text = (folder / provision.SET_CONFIG).read_text(encoding="utf-8")
    (folder / provision.SET_CONFIG).write_text(text.replace(f'"{CA_FILE}"', '"/etc/ssl/ca.pem"'), encoding="utf-8")


BAD_SETS = {
    "missing kiosk.toml": (_missing_toml, "holds no kiosk.toml"),
    "invalid toml": (_invalid_toml, "is not valid TOML"),
    "unknown key": (_unknown_key, "unknown key 'uplink.brokr_url'"),
    "missing certificate": (_missing_certificate, f"uplink.ca_file names {CA_FILE}, which is not in"),
    "not PEM": (_not_pem, f"uplink.cert_file: {CERT_FILE} is not a PEM certificate"),
    "malformed PIN hash": (_malformed_pin_hash, "scrypt cost must be a power of two"),
    "a path, not a file name": (_path_not_name, "must be a file name in the set's folder"),
}


@pytest.mark.parametrize("provisioned", [False, True], ids=["fresh", "provisioned"])
@pytest.mark.parametrize("kind", list(BAD_SETS))
def test_a_bad_set_is_refused_clearly_and_changes_nothing(kiosk, kind, provisioned):
    if provisioned:
        assert kiosk.provision(kiosk.set("first", supervisor=SUPERVISOR)).exit_code == 0
    damage, message = BAD_SETS[kind]
    folder = kiosk.set("bad", supervisor=("sup2", OTHER_PIN))
    damage(folder)
    on_card = {path.name: path.read_bytes() for path in folder.iterdir()}
    before = kiosk.snapshot()
    # A fresh kiosk's status goes where the touchscreen reads it, even when kiosk.toml cannot be read.
    result = kiosk.provision(folder, status_file=kiosk.status_file)
    assert result.exit_code == 1
    assert message in result.stderr and "nothing was changed" in result.stderr, result.stderr
    assert kiosk.snapshot() == before
    assert kiosk.config_path.exists() == provisioned
    # The technician's files stay on the card, with a note saying why.
    assert {path.name: path.read_bytes() for path in folder.iterdir() if path.name != provision.FAILED_NOTE} == on_card
    assert message in (folder / provision.FAILED_NOTE).read_text(encoding="utf-8")
    status = kiosk.status()
    assert status["state"] == "refused" and message in status["message"]


def test_a_different_set_on_a_provisioned_kiosk_needs_force_and_says_what_it_overwrites(kiosk):
    assert kiosk.provision(kiosk.set("first", supervisor=SUPERVISOR)).exit_code == 0
    first_key = provision.public_key(kiosk.config())
    first_biometric = biometrics.key(kiosk.config())
    before = kiosk.snapshot()
    folder = kiosk.set("second", kiosk_id="K2", supervisor=(SUPERVISOR[0], OTHER_PIN))
    refused = kiosk.provision(folder)
    assert refused.exit_code == 1
    for expected in ("provisioned already", "--force", "config kiosk.kiosk_id would change from 'K1' to 'K2'",
                     "uplink.ca_file) would be replaced", "the PIN of supervisor sup1 would be replaced"):
        assert expected in refused.stderr, refused.stderr
    assert kiosk.snapshot() == before

    forced = kiosk.provision(folder, "--force")
    assert forced.exit_code == 0, forced.output
    config = kiosk.config()
    assert config.kiosk.kiosk_id == "K2"
    assert provision.public_key(config) == first_key  # the kiosk's identity key is never replaced
    assert biometrics.key(config) == first_biometric  # nor its biometric key: earlier captures still decrypt
    with Store(config.db_path) as store:
        officers = Officers(store, config.security)
        assert officers.login("sup1", OTHER_PIN).officer.role == "supervisor"
        actions = [row["action"] for row in store.db.query("SELECT action FROM audit ORDER BY seq")]
    assert "officer.pin_reset" in actions


def test_the_set_supervisor_must_not_be_another_roles_officer(kiosk):
    assert kiosk.provision(kiosk.set("first", tls=False)).exit_code == 0
    with Store(kiosk.config().db_path) as store:
        Officers(store, kiosk.config().security).add("alice", "officer", "482915")
    before = kiosk.snapshot()
    result = kiosk.provision(kiosk.set("second", tls=False, supervisor=("alice", OTHER_PIN)), "--force")
    assert result.exit_code == 1 and "enrolled on this kiosk as officer" in result.stderr
    assert kiosk.snapshot() == before


def test_a_failure_while_installing_puts_everything_back(kiosk):
    folder = kiosk.set()
    # The database path is taken by a folder: the store cannot open, after the files were renamed into place.
    (kiosk.data_dir / "kiosk.sqlite3").mkdir(parents=True)
    result = kiosk.provision(folder)
    assert result.exit_code == 1 and "failed and was undone" in result.stderr, result.output
    assert not kiosk.config_path.exists()
    assert not (kiosk.config_path.parent / provision.TLS_DIR).exists()
    assert not (kiosk.data_dir / "uplink").exists()
    assert (folder / KEY_FILE).exists() and (folder / provision.SET_CONFIG).exists()


def test_pinhash_makes_a_file_the_kiosk_accepts_without_a_config(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_CONFIG", str(tmp_path / "missing.toml"))
    output = tmp_path / "supervisor.pinhash"
    result = CliRunner().invoke(cli, ["officers", "pinhash", "sam", "-o", str(output)], input="739264\n")
    assert result.exit_code == 0, result.output
    assert "739264" not in output.read_text(encoding="utf-8")
    officer_id, pin_hash = provision.read_pinhash(output)
    assert officer_id == "sam" and check_pin("739264", pin_hash) and not check_pin("739265", pin_hash)
    assert tomllib.loads(output.read_text(encoding="utf-8")).keys() == {"officer_id", "pin_hash"}
    weak = CliRunner().invoke(cli, ["officers", "pinhash", "sam"], input="123456\n")
    assert weak.exit_code == 1 and "consecutive" in weak.stderr


# -- The touchscreen: first supervisor and enrolment -------------------------------------------

def _app(kiosk: Kiosk, store: Store) -> BrowserClient:
    return BrowserClient(create_app(kiosk.config(), store))


def _officer_count(store: Store) -> int:
    with store.lock:
        return store.conn.execute("SELECT count(*) FROM officers").fetchone()[0]


def test_first_boot_asks_for_the_first_supervisor_then_the_setup_is_gone_for_good(kiosk):
    assert kiosk.provision(kiosk.set()).exit_code == 0  # no supervisor.pinhash: the screen asks
    config = kiosk.config()
    with Store(config.db_path) as store:
        client = _app(kiosk, store)
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"
        assert client.get("/login", follow_redirects=False).headers["location"] == "/setup"
        page = client.get("/setup")
        key = provision.public_key(config)
        assert page.status_code == 200 and key in page.text and 'class="qr"' in page.text
        assert str(qr_svg(key, "QR code of the kiosk's public key")) in page.text

        for data, message in [
            ({"officer_id": "sup 1", "pin": "739264", "pin_again": "739264"}, "An ID has 1 to 64"),
            ({"officer_id": "sup1", "pin": "739264", "pin_again": "739265"}, "The two PINs differ"),
            ({"officer_id": "sup1", "pin": "123456", "pin_again": "123456"}, "This PIN is not allowed"),
            ({"officer_id": "sup1", "pin": "7392", "pin_again": "7392"}, "at least 6 digits"),
        ]:
            refused = client.post("/setup", data=data)
            assert refused.status_code == 422 and message in html.unescape(refused.text), data
        assert _officer_count(store) == 0

        done = client.post("/setup", data={"officer_id": "sup1", "pin": "739264", "pin_again": "739264"},
                           follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/login?note=setup"
        officers = Officers(store, config.security)
        assert officers.get("sup1").role == "supervisor"
        assert store.db.execute("SELECT actor FROM audit WHERE action = 'officer.add'").fetchall() == [("setup",)]

        # Gone: neither the page nor the form can be used again, even after disabling the supervisor.
        officers.set_active("sup1", False)
        assert client.get("/setup", follow_redirects=False).headers["location"] == "/login"
        again = client.post("/setup", data={"officer_id": "mallory", "pin": "582047", "pin_again": "582047"},
                            follow_redirects=False)
        assert again.status_code == 303 and again.headers["location"] == "/login"
        assert _officer_count(store) == 1
        assert client.get("/login").status_code == 200


def test_the_diagnostics_screen_shows_a_key_made_while_the_kiosk_runs(kiosk):
    # A kiosk set up by hand, without a signing key, already running its touchscreen.
    kiosk.config_path.parent.mkdir(parents=True)
    kiosk.config_path.write_text(f'[kiosk]\npost_id = "POST-1"\nkiosk_id = "K1"\ndata_dir = "{kiosk.data_dir}"\n',
                                 encoding="utf-8")
    config = kiosk.config()
    with Store(config.db_path) as store:
        Officers(store, config.security).add("sam", "supervisor", "739264")
        client = _app(kiosk, store)
        client.post("/login", data={"officer_id": "sam", "pin": "739264"})
        assert "no signing key yet" in client.get("/diagnostics").text
        assert kiosk.provision(kiosk.set(tls=False), "--force").exit_code == 0
        page = client.get("/diagnostics").text
    key = provision.public_key(kiosk.config())
    assert f"kiosk-hq enrol POST-1 K1 {key}" in page and 'class="qr"' in page and "applied" in page


def test_the_config_folder_may_be_a_link_to_a_folder_not_made_yet(kiosk):
    # As on the image: /etc/kiosk links to /var/lib/kiosk/etc, which the first run makes.
    (kiosk.root / "etc").symlink_to(kiosk.data_dir / "etc")
    result = kiosk.provision(kiosk.set())
    assert result.exit_code == 0, result.output
    assert (kiosk.data_dir / "etc" / "kiosk.toml").is_file() and kiosk.config().kiosk.kiosk_id == "K1"
