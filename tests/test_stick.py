"""Crossings by USB stick: `kiosk export`, `kiosk-hq import`, `kiosk import-receipt`, and every refusal."""

from __future__ import annotations

import json
import secrets
import textwrap
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance import config as config_module
from appliance.cli import cli as kiosk_cli
from appliance.hw import open_devices
from appliance.storage.store import Store
from appliance.uplink import outbox, protocol, stick
from appliance.workflow import biometrics
from hq import config as hq_config_module
from hq import lists as hq_lists
from hq.cli import cli as hq_cli
from hq.db import HQDatabase

from .uplink_env import add_officer, record_many

BIOMETRIC_KEY = secrets.token_hex(32)


class Post:
    """One HQ and two kiosks of post P (K1, K2) on disk, enrolled; a stick folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        hq_dir = root / "hq"
        hq_dir.mkdir()
        self.hq_public = protocol.generate_key_file(hq_dir / "hq.key")
        self.stick_public = stick.generate_key_file(hq_dir / "stick.key")
        self.hq_config_path = hq_dir / "hq.toml"
        self.hq_config_path.write_text(textwrap.dedent(f"""
            [hq]
            database = "{hq_dir / 'hq.sqlite3'}"
            signing_key_file = "{hq_dir / 'hq.key'}"
            stick_key_file = "{hq_dir / 'stick.key'}"
            [broker]
            url = "mqtt://127.0.0.1:1883"
        """))
        self.hq_config = hq_config_module.load(self.hq_config_path, environ={})
        self.kiosks = {name: self._kiosk(name) for name in ("K1", "K2")}
        self.stick = root / "stick"
        self.stick.mkdir()

    def _kiosk(self, name: str) -> tuple[config_module.Config, Path]:
        directory = self.root / name
        directory.mkdir()
        path = directory / "kiosk.toml"
        path.write_text(textwrap.dedent(f"""
            [kiosk]
            post_id = "P"
            kiosk_id = "{name}"
            data_dir = "{directory / 'data'}"
            [uplink]
            hq_public_key = "{self.hq_public}"
            hq_stick_key = "{self.stick_public}"
        """))
        config = config_module.load(path, environ={"KIOSK_SECURITY_BIOMETRIC_KEY": BIOMETRIC_KEY})
        public = protocol.generate_key_file(config.kiosk.data_dir / "uplink" / "kiosk_ed25519.key")
        with HQDatabase(self.hq_config.hq.database) as db:
            db.enrol("P", name, public)
        return config, path

    def kiosk(self, name: str, *args: str):
        result = CliRunner().invoke(kiosk_cli, ["--config", str(self.kiosks[name][1]), *args],
                                    env={"KIOSK_SECURITY_BIOMETRIC_KEY": BIOMETRIC_KEY}, catch_exceptions=False)
        return result

    def hq(self, *args: str):
        return CliRunner().invoke(hq_cli, [*args, "--config", str(self.hq_config_path)], catch_exceptions=False)

    def record(self, name: str, count: int, photos: bool = False) -> list[dict]:
        config = self.kiosks[name][0]
        with Store(config.db_path) as store:
            officer = add_officer(store, config) if not store.conn.execute(
                "SELECT 1 FROM officers").fetchone() else None
            from appliance.storage.officers import Officers

            officer = officer or Officers(store, config.security).get("alice")
            if not photos:
                return record_many(store, config, officer, count)
            from appliance.workflow import crossings
            from .samples import CLEAR_OKAFOR

            devices = open_devices(config.hardware)
            try:
                out = []
                for _ in range(count):
                    photo = biometrics.capture_photo(store, config, devices, officer)
                    out.append(crossings.record(store, config, officer, crossings.CrossingRequest(
                        direction="entry", mrz=CLEAR_OKAFOR, capture_ids=[photo["capture_id"]])).to_dict())
                return out
            finally:
                devices.close()

    def export(self, name: str, *args: str) -> dict:
        result = self.kiosk(name, "export", "--to", str(self.stick), "--json", *args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def outbox_depth(self, name: str) -> int:
        with Store(self.kiosks[name][0].db_path) as store:
            return outbox.depth(store)

    def hq_crossings(self) -> list[dict]:
        with HQDatabase(self.hq_config.hq.database) as db:
            return db.crossings()

    def two_exports(self, name: str) -> tuple[Path, Path]:
        """A crossing, an export, another crossing, another export: (first, second)."""
        files = []
        for _ in range(2):
            self.record(name, 1)
            files.append(Path(self.export(name)["file"]))
        return files[0], files[1]

    def audit_actions(self, name: str) -> list[str]:
        with Store(self.kiosks[name][0].db_path) as store:
            return [a for (a,) in store.conn.execute("SELECT action FROM audit ORDER BY seq")]


@pytest.fixture
def post(tmp_path: Path) -> Post:
    return Post(tmp_path)


def test_a_stick_carries_crossings_and_photos_to_hq_once_and_the_receipt_back(post):
    recorded = post.record("K1", 3, photos=True)
    exported = post.export("K1", "--photos")
    assert (exported["export_seq"], exported["crossings"], exported["captures"]) == (1, 3, 3)
    export_file = Path(exported["file"])
    assert export_file.name == "kiosk-export-P-K1-000001.kexp"
    raw = export_file.read_bytes()
    assert b"OKAFOR" not in raw and b"\x89PNG" not in raw, "no traveller in clear on the stick"
    assert post.outbox_depth("K1") == 3 + 3, "nothing leaves the outbox when the export is written"

    imported = post.hq("import", str(export_file), "--json")
    assert imported.exit_code == 0, imported.output
    summary = json.loads(imported.stdout)
    assert (summary["crossings"], summary["new_crossings"], summary["captures"]) == (3, 3, 3)
    assert sorted(c["id"] for c in post.hq_crossings()) == sorted(c["id"] for c in recorded)
    with HQDatabase(post.hq_config.hq.database) as db:
        captures = db.captures()
    assert len(captures) == 3 and all(c["complete"] and c["data"].startswith(b"\x89PNG") for c in captures)
    receipt = stick.receipt_path(export_file)
    assert Path(summary["receipt"]) == receipt and receipt.exists()

    applied = post.kiosk("K1", "import-receipt", str(receipt), "--json")
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.stdout)["released"] == 6
    assert post.outbox_depth("K1") == 0
    assert {"stick.export", "stick.receipt"} <= set(post.audit_actions("K1"))


def test_a_crossing_that_also_came_over_mqtt_is_held_once(post):
    recorded = post.record("K1", 2)
    with HQDatabase(post.hq_config.hq.database) as db:  # as ingest stores an MQTT batch of the first one
        from hq.ingest import store_batch

        with Store(post.kiosks["K1"][0].db_path) as store:
            first = outbox.next_rows(store, 2, 0, 1)[0]
        store_batch(db, "P", "K1", {"batch": "b", "items": [first.item()]})
    summary = json.loads(post.hq("import", post.export("K1")["file"], "--json").stdout)
    assert (summary["crossings"], summary["new_crossings"]) == (2, 1)
    assert [c["id"] for c in post.hq_crossings()] == [c["id"] for c in recorded]


def test_the_stick_brings_list_bundles_back_and_a_bad_one_is_refused(post, tmp_path):
    keys = tmp_path / "listkeys"
    keys.mkdir()
    hq_lists.keygen(keys / "list.key", keys / "list.pub")
    with post.kiosks["K1"][1].open("a") as handle:
        handle.write(f'\n[screening]\ntrusted_key = "{keys / "list.pub"}"\n')
    with resources.as_file(resources.files("appliance").joinpath("demo_data/persons.csv")) as path:
        records = hq_lists.read_export("persons", path)
    good = tmp_path / "national.bundle"
    good.write_bytes(hq_lists.publish("persons", "national", "2026.12.01", records,
                                      hq_lists.load_private_key(keys / "list.key")))
    forged_key = tmp_path / "other.key"
    hq_lists.keygen(forged_key, tmp_path / "other.pub")
    forged = tmp_path / "forged.bundle"
    forged.write_bytes(hq_lists.publish("persons", "other", "1", records, hq_lists.load_private_key(forged_key)))
    post.record("K1", 1)
    exported = post.export("K1")
    imported = post.hq("import", exported["file"], "--list-bundle", str(good), "--list-bundle", str(forged))
    assert imported.exit_code == 0, imported.output
    assert sorted(p.name for p in (post.stick / "lists").iterdir()) == ["01-national.bundle", "02-forged.bundle"]

    applied = post.kiosk("K1", "import-receipt", str(stick.receipt_path(Path(exported["file"]))), "--json")
    assert applied.exit_code == 1, "a refused bundle is reported"
    lists = json.loads(applied.stdout)["lists"]
    assert lists[0]["applied"] is True and lists[0]["version"] == "2026.12.01"
    assert "signature" in lists[1]["error"] or "key" in lists[1]["error"]
    status = json.loads(post.kiosk("K1", "lists", "status", "--json").stdout)
    assert [item["name"] for item in status["lists"]] == ["national"], "the forged list changed nothing"
    assert post.outbox_depth("K1") == 0, "the receipt itself applied"


def test_hq_refuses_a_list_bundle_argument_that_is_not_one_before_importing(post, tmp_path):
    post.record("K1", 1)
    exported = post.export("K1")
    (tmp_path / "notes.txt").write_text("hello")
    result = post.hq("import", exported["file"], "--list-bundle", str(tmp_path / "notes.txt"))
    assert result.exit_code == 1 and "is not a list bundle" in result.output
    assert post.hq_crossings() == [] and not stick.receipt_path(Path(exported["file"])).exists()


# --- refusals: each one changes nothing ---------------------------------------------------


def _refused_at_hq(post, path: Path, reason: str) -> None:
    before = post.hq_crossings()
    result = post.hq("import", str(path))
    assert result.exit_code == 1, result.output
    assert reason in result.output, result.output
    assert post.hq_crossings() == before
    assert not stick.receipt_path(path).exists(), "no receipt for a refused file"


def test_hq_refuses_a_truncated_export(post):
    post.record("K1", 2)
    path = Path(post.export("K1")["file"])
    path.write_bytes(path.read_bytes()[:-40])
    _refused_at_hq(post, path, "truncated")


def test_hq_refuses_a_file_that_is_not_an_export(post):
    path = post.stick / "holiday.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 not an export")
    _refused_at_hq(post, path, "not a kiosk export file")


def test_hq_refuses_an_altered_export(post):
    post.record("K1", 1)
    path = Path(post.export("K1")["file"])
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # inside the ciphertext or signature
    path.write_bytes(bytes(data))
    _refused_at_hq(post, path, "bad signature")


def test_hq_refuses_an_export_signed_by_another_kiosk_than_it_claims(post):
    post.record("K2", 1)
    k2 = Path(post.export("K2")["file"])
    with HQDatabase(post.hq_config.hq.database) as db:  # HQ's enrolment of K2 now names K1's key
        db.enrol("P", "K2", db.public_key("P", "K1"))
    _refused_at_hq(post, k2, "not signed by the key enrolled for kiosk P/K2")


def test_hq_refuses_an_export_of_a_kiosk_it_never_enrolled(post):
    post.record("K1", 1)
    path = Path(post.export("K1")["file"])
    # The database API has no un-enrol: a second HQ database stands for "not enrolled".
    other = post.root / "hq2.sqlite3"
    text = post.hq_config_path.read_text().replace(post.hq_config.hq.database, str(other))
    post.hq_config_path.write_text(text)
    result = post.hq("import", str(path))
    assert result.exit_code == 1 and "not enrolled at this HQ" in result.output


def test_hq_refuses_an_export_encrypted_for_another_hq(post, tmp_path):
    post.record("K1", 1)
    path = Path(post.export("K1")["file"])
    (post.root / "hq" / "stick.key").unlink()
    stick.generate_key_file(post.root / "hq" / "stick.key")  # this HQ's key is not the one the kiosk has
    _refused_at_hq(post, path, "does not decrypt with this HQ's stick key")


def test_hq_imports_an_export_once_and_refuses_an_older_one(post):
    first, second = post.two_exports("K1")
    assert post.hq("import", str(second)).exit_code == 0
    held = post.hq_crossings()
    assert len(held) == 2
    again = post.hq("import", str(second))
    assert again.exit_code == 1 and "was already imported" in again.output
    older = post.hq("import", str(first))
    assert older.exit_code == 1 and "older than export #2" in older.output
    assert post.hq_crossings() == held and not stick.receipt_path(first).exists()


def _refused_at_kiosk(post, name: str, path: Path, reason: str) -> None:
    before = post.outbox_depth(name)
    audit_before = post.audit_actions(name)
    result = post.kiosk(name, "import-receipt", str(path))
    assert result.exit_code == 1, result.output
    assert reason in result.output, result.output
    assert post.outbox_depth(name) == before and post.audit_actions(name) == audit_before


def _receipted(post, name: str = "K1") -> Path:
    post.record(name, 2)
    exported = post.export(name)
    assert post.hq("import", exported["file"]).exit_code == 0
    return stick.receipt_path(Path(exported["file"]))


def test_kiosk_refuses_a_truncated_receipt(post):
    receipt = _receipted(post)
    receipt.write_bytes(receipt.read_bytes()[:-10])
    _refused_at_kiosk(post, "K1", receipt, "truncated")


def test_kiosk_refuses_another_kiosks_receipt(post):
    receipt = _receipted(post, "K2")
    post.record("K1", 1)
    _refused_at_kiosk(post, "K1", receipt, "not this kiosk (P/K1)")


def test_kiosk_refuses_a_receipt_not_signed_by_its_hq(post):
    receipt = _receipted(post)
    impostor = post.root / "impostor.key"
    protocol.generate_key_file(impostor)
    payload = stick.open_receipt(receipt.read_bytes(), "P", "K1", protocol.load_public_key(post.hq_public))
    receipt.write_bytes(stick.seal_receipt(protocol.load_private_key(impostor), "P", "K1", payload))
    _refused_at_kiosk(post, "K1", receipt, "bad signature")


def test_kiosk_refuses_an_applied_receipt_and_an_older_one(post):
    first, second = post.two_exports("K1")
    assert post.hq("import", str(first)).exit_code == 0
    assert post.hq("import", str(second)).exit_code == 0
    applied = post.kiosk("K1", "import-receipt", str(stick.receipt_path(second)), "--json")
    assert json.loads(applied.stdout)["released"] == 2 and post.outbox_depth("K1") == 0
    post.record("K1", 1)  # something new waits: a replay must not touch it either
    _refused_at_kiosk(post, "K1", stick.receipt_path(second), "was already applied")
    _refused_at_kiosk(post, "K1", stick.receipt_path(first), "older than the receipt of export #2")


def test_kiosk_refuses_a_receipt_for_an_export_it_did_not_make(post):
    receipt = _receipted(post)
    payload = stick.open_receipt(receipt.read_bytes(), "P", "K1", protocol.load_public_key(post.hq_public))
    payload["export_seq"] = 7  # signed by HQ, but this kiosk made only export #1
    receipt.write_bytes(stick.seal_receipt(protocol.load_private_key(post.root / "hq" / "hq.key"), "P", "K1", payload))
    _refused_at_kiosk(post, "K1", receipt, "which this kiosk did not make")


def test_kiosk_refuses_a_file_that_is_not_a_receipt(post):
    post.record("K1", 1)
    exported = Path(post.export("K1")["file"])
    _refused_at_kiosk(post, "K1", exported, "not a kiosk receipt file")


def test_export_needs_hq_stick_key_and_a_mounted_stick(post, tmp_path):
    post.record("K1", 1)
    missing = post.kiosk("K1", "export", "--to", str(tmp_path / "no-stick"))
    assert missing.exit_code == 1 and "is not a directory (is the stick mounted?)" in missing.output
    path = post.kiosks["K1"][1]
    path.write_text(path.read_text().replace("hq_stick_key", "# hq_stick_key"))
    unset = post.kiosk("K1", "export", "--to", str(post.stick))
    assert unset.exit_code == 1 and "uplink.hq_stick_key is not set" in unset.output
    assert list(post.stick.iterdir()) == [] and "stick.export" not in post.audit_actions("K1")


# --- the image's automount (the image test checks they are installed; this, what they say) ---

REPO = Path(__file__).resolve().parent.parent


def test_the_image_mounts_only_fat_or_exfat_usb_sticks_for_the_kiosk_user_never_executable():
    import subprocess

    rule = (REPO / "image-build/rootfs/etc/udev/rules.d/90-kiosk-usb.rules").read_text()
    active = [line for line in rule.splitlines() if line and not line.startswith("#")]
    assert len(active) == 1
    assert 'ENV{ID_BUS}=="usb"' in active[0] and 'ENV{ID_FS_TYPE}=="vfat|exfat"' in active[0]
    assert 'ENV{SYSTEMD_WANTS}+="kiosk-usb@%k.service"' in active[0]
    script = REPO / "image-build/rootfs/usr/lib/kiosk/usb-mount"
    subprocess.run(["sh", "-n", str(script)], check=True)
    text = script.read_text()
    options = text.split('-o "', 1)[1].split('"', 1)[0].replace("$extra", "")
    assert {"nosuid", "nodev", "noexec", "uid=901", "gid=901", "fmask=0177", "dmask=0077"} <= set(options.split(","))
    unit = (REPO / "systemd/kiosk-usb@.service").read_text()
    assert "BindsTo=dev-%i.device" in unit and "ExecStart=/usr/lib/kiosk/usb-mount /dev/%I" in unit
    assert "/media/kiosk-usb" in text and "kiosk-usb@.service" in (REPO / "image-build/build").read_text()


def test_hq_stick_keygen_writes_the_key_once_and_prints_the_kiosks_config_value(tmp_path):
    hq_dir = tmp_path / "hq2"
    hq_dir.mkdir()
    protocol.generate_key_file(hq_dir / "hq.key")
    path = hq_dir / "hq.toml"
    base = f'[hq]\ndatabase = "{hq_dir / "hq.sqlite3"}"\nsigning_key_file = "{hq_dir / "hq.key"}"\n'
    broker = '[broker]\nurl = "mqtt://127.0.0.1:1883"\n'
    path.write_text(base + broker)
    runner = CliRunner()
    unset = runner.invoke(hq_cli, ["keygen", "--stick", "--config", str(path)])
    assert unset.exit_code == 1 and "set hq.stick_key_file" in unset.output
    path.write_text(base + f'stick_key_file = "{hq_dir / "stick.key"}"\n' + broker)
    made = runner.invoke(hq_cli, ["keygen", "--stick", "--config", str(path)])
    assert made.exit_code == 0, made.output
    printed = made.stdout.strip().splitlines()[-1]
    assert stick.load_public_key(printed)  # what uplink.hq_stick_key takes
    assert (hq_dir / "stick.key").stat().st_mode & 0o777 == 0o600
    again = runner.invoke(hq_cli, ["keygen", "--stick", "--config", str(path)])
    assert again.exit_code == 1 and "already exists" in again.output


@pytest.mark.parametrize("value, reason", [("not base64!", "hq_stick_key is not base64"),
                                           ("AAAA", "hq_stick_key must be 32 bytes (an X25519 public key)")])
def test_a_bad_hq_stick_key_is_a_config_error(post, value, reason):
    from appliance.errors import ConfigError

    path = post.kiosks["K1"][1]
    path.write_text(path.read_text().replace(post.stick_public, value))
    with pytest.raises(ConfigError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        config_module.load(path, environ={})


def test_photos_beyond_the_exports_budget_wait_for_the_next_one(post):
    from appliance.workflow import stick as stick_workflow

    post.record("K1", 2, photos=True)
    config = post.kiosks["K1"][0]
    with Store(config.db_path) as store:
        one = len(biometrics.read(store, config, outbox.next_rows(store, 3, 0, 1)[0].ref_id)[0])
        result = stick_workflow.export(store, config, post.stick, photos=True, max_photo_bytes=one + 1)
    assert (result["captures"], result["captures_left"]) == (1, 1)


def test_hq_stopped_between_storing_and_recording_the_import_stores_nothing_twice(post):
    recorded = post.record("K1", 3)
    path = post.export("K1")["file"]
    assert post.hq("import", path).exit_code == 0
    with HQDatabase(post.hq_config.hq.database) as db, db.transaction():
        db.run("DELETE FROM stick_imports")  # as if HQ had died before recording the import
    again = json.loads(post.hq("import", path, "--json").stdout)
    assert (again["crossings"], again["new_crossings"]) == (3, 0)
    assert sorted(c["id"] for c in post.hq_crossings()) == sorted(c["id"] for c in recorded)


def test_hq_that_cannot_write_the_receipt_records_nothing_and_the_file_imports_later(post):
    post.record("K1", 1)
    path = Path(post.export("K1")["file"])
    not_a_folder = post.root / "notes.txt"
    not_a_folder.write_text("a file where the receipt's folder should be")
    failed = post.hq("import", str(path), "--receipt-out", str(not_a_folder / "r.receipt"))
    assert failed.exit_code == 1 and "nothing was recorded, import the file again" in failed.output
    assert post.hq("import", str(path)).exit_code == 0, "not refused as a replay"
    assert stick.receipt_path(path).exists()
