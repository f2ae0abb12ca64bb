"""HQ's store (SQLite and PostgreSQL) and the kiosk-hq command line."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from click.testing import CliRunner

from appliance.uplink import protocol
from hq.cli import cli as hq_cli
from hq.db import HQDatabase
from hq.fleet import fleet_rows, render_table

POSTGRES_ADMIN_URL = os.environ.get("KIOSK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")


@pytest.fixture(params=["sqlite", "postgresql"])
def hq_db(request, tmp_path):
    if request.param == "sqlite":
        with HQDatabase(str(tmp_path / "hq.sqlite3")) as db:
            yield db
        return
    import psycopg

    name = f"kiosk_hq_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    with HQDatabase(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}") as db:
        yield db
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name}")


def _item(seq: int, kind: str = "crossing", **data):
    ident = data.pop("id", f"c-{seq}")
    return {"seq": seq, "kind": kind, "id": ident, "created_at": f"2026-11-2{seq % 10}T10:00:00.000000Z",
            "data": {"id": ident, "seq": seq, "recorded_at": f"2026-11-20T10:00:{seq:02d}.000000Z",
                     "direction": "entry", "decision": "cleared", **data}}


def test_items_are_stored_once_in_kiosk_order_whatever_the_arrival(hq_db):
    hq_db.enrol("P", "K", "key")
    assert hq_db.store_items("P", "K", [_item(3), _item(4)]) == [[3, "c-3"], [4, "c-4"]]
    hq_db.store_items("P", "K", [_item(1), _item(2), _item(3)])  # a resend overlapping the first batch
    hq_db.store_items("P", "K", [_item(5, kind="crossing_outcome", id="c-2", outcome="refused")])
    held = hq_db.crossings()
    assert [c["seq"] for c in held] == [1, 2, 3, 4]
    assert held[1]["outcome"] == "refused"
    assert [e["kind"] for e in hq_db.events()] == ["crossing_outcome"]


def test_capture_chunks_assemble_and_ignore_resends(hq_db):
    data = bytes(range(256)) * 10
    chunk = {"seq": 9, "id": "cap-1", "crossing_id": "c-1", "kind": "face", "format": "jpeg", "total": len(data)}
    assert hq_db.store_capture_chunk("P", "K", {**chunk, "offset": 0, "chunk": data[:1000]}) == (1000, False)
    assert hq_db.store_capture_chunk("P", "K", {**chunk, "offset": 0, "chunk": data[:1000]}) == (1000, False)
    assert hq_db.store_capture_chunk("P", "K", {**chunk, "offset": 2000, "chunk": data[2000:]}) == (1000, False)
    assert hq_db.store_capture_chunk("P", "K", {**chunk, "offset": 1000, "chunk": data[1000:]}) == (len(data), True)
    [capture] = hq_db.captures()
    assert capture["data"] == data and capture["complete"]


def test_fleet_rows_from_status_and_health(hq_db):
    hq_db.enrol("P", "K1", "key")
    hq_db.enrol("P", "K2", "key")
    hq_db.record_status("P", "K1", {"state": "online", "boot_id": "b", "version": "0.1.0", "lists": {"persons": "v3"}},
                        "2026-11-23T10:00:00.000000Z")
    hq_db.record_health("P", "K1", {"battery_percent": 64.0, "charging": True, "outbox_depth": 12,
                                    "lists": {"persons": {"version": "v3", "age_s": 7200}}})
    rows = fleet_rows(hq_db, 900)
    assert [(r["kiosk_id"], r["state"]) for r in rows] == [("K1", "online"), ("K2", "never seen")]
    assert rows[0]["battery_percent"] == 64.0 and rows[0]["outbox_depth"] == 12 and rows[0]["list_age_s"] == 7200
    table = render_table(rows)
    assert "64%+" in table and "2h" in table and "never seen" in table


@pytest.fixture
def hq_config_file(tmp_path):
    path = tmp_path / "hq.toml"
    path.write_text(f"""
[hq]
database = "{tmp_path / 'hq.sqlite3'}"
signing_key_file = "{tmp_path / 'hq.key'}"

[broker]
url = "mqtt://127.0.0.1:1"
""", encoding="utf-8")
    return path


def _hq(*args, config=None):
    return CliRunner().invoke(hq_cli, [*args, *(["--config", str(config)] if config else [])], catch_exceptions=False)


def test_keygen_enrol_crossings_and_fleet_commands(hq_config_file, tmp_path):
    keygen = _hq("keygen", config=hq_config_file)
    assert keygen.exit_code == 0
    protocol.load_public_key(keygen.stdout.strip())
    again = _hq("keygen", config=hq_config_file)
    assert again.exit_code == 1 and "already exists" in again.stderr

    kiosk_public = protocol.generate_key_file(tmp_path / "kiosk.key")
    assert _hq("enrol", "POST-A", "K1", kiosk_public, config=hq_config_file).exit_code == 0
    bad = _hq("enrol", "POST-A", "K2", "not-a-key", config=hq_config_file)
    assert bad.exit_code == 1 and "Ed25519" in bad.stderr

    with HQDatabase(str(tmp_path / "hq.sqlite3")) as db:
        db.store_items("POST-A", "K1", [_item(1, surname="OKAFOR")])
    crossings = json.loads(_hq("crossings", "--json", config=hq_config_file).stdout)
    assert [(c["id"], c["surname"]) for c in crossings] == [("c-1", "OKAFOR")]
    fleet = json.loads(_hq("fleet", "--json", config=hq_config_file).stdout)
    assert [(f["kiosk_id"], f["state"]) for f in fleet] == [("K1", "unknown")]
    assert "POST-A" in _hq("fleet", config=hq_config_file).stdout


def test_hq_config_errors_name_the_key(tmp_path):
    path = tmp_path / "hq.toml"
    path.write_text('[hq]\ndatabase = "x"\nsigning_key_file = "k"\nsurprise = 1\n[broker]\nurl = "http://x"\n')
    result = _hq("fleet", config=path)
    assert result.exit_code == 1
    assert "unknown key 'hq.surprise'" in result.stderr and "broker.url" in result.stderr
    missing = _hq("fleet", config=tmp_path / "nope.toml")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


def test_every_kiosk_hq_command_is_documented_with_help():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for name, command in hq_cli.commands.items():
        assert command.help, f"kiosk-hq {name} has no help"
        assert all(p.help for p in command.params if hasattr(p, "help") and p.param_type_name == "option"), name
        assert f"`kiosk-hq {name}" in readme or f"`{name}" in readme, f"kiosk-hq {name} is missing from README.md"


def test_hq_keeps_the_audit_heads_and_raises_an_alarm_on_a_rewritten_or_cut_log(hq_db):
    hq_db.enrol("P", "K", "key")
    for seq, digest in ((3, "a3"), (5, "a5"), (5, "a5"), (9, "a9")):
        hq_db.record_health("P", "K", {"audit_head": {"seq": seq, "hash": digest}})
    assert hq_db.audit_alarm("P", "K") is None
    assert fleet_rows(hq_db, 900)[0]["audit_alarm"] is None and "ok" in render_table(fleet_rows(hq_db, 900))
    hq_db.record_health("P", "K", {"audit_head": {"seq": 7, "hash": "b7"}})
    assert "went back from 9 to 7" in hq_db.audit_alarm("P", "K")
    hq_db.enrol("P", "L", "key")
    hq_db.record_health("P", "L", {"audit_head": {"seq": 4, "hash": "x4"}})
    hq_db.record_health("P", "L", {"audit_head": {"seq": 4, "hash": "y4"}})
    assert "two different hashes" in hq_db.audit_alarm("P", "L")
    assert "ALARM" in render_table(fleet_rows(hq_db, 900))
    hq_db.record_health("P", "L", {"audit_head": "junk"})  # a malformed head is ignored, not stored
    hq_db.enrol("P", "L", "key")  # the same key again: the trail stays
    assert hq_db.audit_alarm("P", "L") is not None
    hq_db.enrol("P", "L", "new-key")  # re-provisioned: a new log starts
    assert hq_db.audit_alarm("P", "L") is None


def test_lists_publish_names_the_face_model_of_the_export(tmp_path, face_models):
    from appliance.inference import litert
    from appliance.lists import bundle as bundle_format
    from hq import lists as hq_lists

    key = tmp_path / "list.key"
    assert _hq("lists", "keygen", "--private-key", str(key), "--public-key", str(tmp_path / "list.pub")).exit_code == 0
    export = tmp_path / "persons.ndjson"
    export.write_text(json.dumps({"id": "P-1", "surname": "DOE", "given_names": "JOHN", "face": [0.5] * 32}) + "\n",
                      encoding="utf-8")
    common = ["lists", "publish", str(export), "--list", "national", "--version", "1", "--key", str(key)]
    out = tmp_path / "national-1.bundle"
    published = _hq(*common, "--kind", "persons", "--face-model", str(face_models["embedder"]), "-o", str(out),
                    "--json")
    assert published.exit_code == 0, published.output
    digest = litert.sha256(face_models["embedder"])
    assert json.loads(published.stdout)["face_model"] == digest
    public = bundle_format.load_public_key((tmp_path / "list.pub").read_bytes(), "list.pub")
    assert bundle_format.decode(out.read_bytes(), public).face_model == digest
    text = _hq(*common, "--kind", "persons", "--face-model", str(face_models["embedder"]), "-o", str(out))
    assert f"1 record(s), faces of model {digest[:12]}, " in text.stdout
    # Without the option: the bundle and its summary are as before.
    plain = _hq(*common, "--kind", "persons", "-o", str(out), "--json")
    assert "face_model" not in json.loads(plain.stdout)
    assert bundle_format.decode(out.read_bytes(), public).face_model is None
    documents = _hq(*common, "--kind", "documents", "--face-model", str(face_models["embedder"]), "-o", str(out))
    assert documents.exit_code == 2 and "--face-model is for persons lists" in documents.output
    not_a_model = tmp_path / "photo.png"
    not_a_model.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    refused = _hq(*common, "--kind", "persons", "--face-model", str(not_a_model), "-o", str(tmp_path / "x.bundle"))
    assert refused.exit_code == 1 and "is not a TFLite model" in refused.stderr
    assert not (tmp_path / "x.bundle").exists()
    missing = _hq(*common, "--kind", "persons", "--face-model", str(tmp_path / "nope.tflite"), "-o", str(out))
    assert missing.exit_code == 1 and "cannot read face model" in missing.stderr
    assert hq_lists.face_model_id(face_models["embedder"]) == digest
