"""Signed list bundles: HQ publishes, the kiosk verifies and applies atomically; bad bundles change nothing."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from appliance.domain import clock
from appliance import config as config_module
from appliance.errors import BundleError
from appliance.lists import indexes
from appliance.lists.apply import apply_bundle
from appliance.config import ScreeningSection
from appliance.domain.models import Traveller
from appliance.workflow.screening import screen
from appliance.lists.csv_format import COLUMNS
from appliance.lists.csv_import import import_bytes
from appliance.lists.status import list_status
from hq import lists as hq_lists
from hq.cli import cli as hq_cli

PERSONS = [
    {"id": "P-1", "surname": "DOE", "given_names": "JOHN", "aliases": "", "birth_date": "1980-01-01", "sex": "M",
     "nationality": "UTO", "document_issuer": "", "document_number": "", "reason": "arrest warrant"},
    {"id": "P-2", "surname": "Иванов", "given_names": "Пётр", "aliases": "IVANOV, Petr", "birth_date": "1966",
     "sex": "M", "nationality": "XXA", "document_issuer": "", "document_number": "", "reason": "missing"},
]
DOCUMENTS = [{"issuing_state": "UTO", "document_type": "P", "document_number": "AB123", "reason": "stolen"},
             {"issuing_state": "UTO", "document_type": "I", "document_number": "CD456", "reason": "lost"}]


@pytest.fixture
def keys(tmp_path):
    private, public = tmp_path / "hq-list.key", tmp_path / "hq-list.pub"
    hq_lists.keygen(private, public)
    return hq_lists.load_private_key(private), public


@pytest.fixture
def kiosk(config_path, keys, store):
    """The conftest kiosk, trusting the HQ key above."""
    text = config_path.read_text(encoding="utf-8") + f'\n[screening]\ntrusted_key = "{keys[1]}"\n'
    config_path.write_text(text, encoding="utf-8")
    return store, config_module.load(config_path, environ={})


def bundle(keys, kind="documents", version="d1", records=DOCUMENTS, base=None, name=None, when=None) -> bytes:
    return hq_lists.publish(kind, name or kind, version, records, keys[0], base_version=base, published_at=when)


def state(store) -> dict:
    """What a refused bundle must not change: lists, entries, bundle log, audit, index dirs on disk."""
    conn = store.conn
    root = indexes.default_root(store)
    return {
        "lists": conn.execute("SELECT name, version, index_dir, published_at FROM lists ORDER BY name").fetchall(),
        **{t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
           for t in ("watchlist_persons", "watchlist_person_names", "list_bundles", "audit")},
        "dirs": sorted(str(p) for p in root.glob("*/*")) if root.exists() else [],
    }


def doc_hit(store, number="AB123"):
    found = screen(store, Traveller(document_issuer="UTO", document_number=number), ScreeningSection())
    return [h.entry_id for h in found.hits]


# -- Applying -----------------------------------------------------------------------------

def test_full_documents_bundle_then_delta(kiosk, keys):
    store, config = kiosk
    result = apply_bundle(store, config, bundle(keys))
    assert result["applied"] and result["entries"] == 2 and result["replaced_version"] is None
    assert doc_hit(store, "CD456") == ["UTO:CD456"]
    delta = hq_lists.diff("documents", DOCUMENTS, DOCUMENTS[:1] + [
        {"issuing_state": "D", "document_type": "P", "document_number": "EF789", "reason": "stolen"}])
    result = apply_bundle(store, config, bundle(keys, version="d2", records=delta, base="d1"))
    assert (result["type"], result["entries"], result["replaced_version"]) == ("delta", 2, "d1")
    assert doc_hit(store, "CD456") == []
    assert [h.entry_id for h in screen(store, Traveller(document_issuer="D", document_number="EF789"),
                                       ScreeningSection()).hits] == [
        "D:EF789"]
    [status] = list_status(store)
    assert (status["version"], status["source"], status["entries"]) == ("d2", "bundle", 2)
    assert status["published_at"] is not None
    # The old version's directory is gone; only the one in force remains.
    assert [p.name.split("~")[0] for p in (indexes.default_root(store) / "documents").iterdir()] == ["d2"]
    assert store.conn.execute("SELECT type, version, base_version FROM list_bundles ORDER BY seq").fetchall() == [
        ("full", "d1", None), ("delta", "d2", "d1")]


def test_same_version_again_is_not_an_error_and_changes_nothing(kiosk, keys):
    store, config = kiosk
    data = bundle(keys)
    apply_bundle(store, config, data)
    before = state(store)
    result = apply_bundle(store, config, data)  # a retained MQTT message arrives at every reconnect
    assert result["applied"] is False and "already in force" in result["message"]
    assert state(store) == before


def test_persons_bundle_with_faces_screens_names_and_faces(kiosk, keys):
    store, config = kiosk
    rng = np.random.default_rng(1)
    face = rng.standard_normal(32).astype(np.float32)
    records = [dict(PERSONS[0], face=face.tolist()), PERSONS[1]]
    apply_bundle(store, config, bundle(keys, "persons", "n1", records))
    hit = screen(store, Traveller(surname="IVANOV", given_names="PYOTR", birth_date="1966"), settings=config.screening)
    assert [(h.entry_id, h.score) for h in hit.hits] == [("P-2", 0.855)]
    assert hit.hits[0].explanation.startswith("surname equal, given names phonetic match, birth date compatible")
    seen = face + rng.standard_normal(32).astype(np.float32) * 0.2
    by_face = screen(store, Traveller(), face_embedding=seen, settings=config.screening)
    assert [h.entry_id for h in by_face.hits] == ["P-1"]
    assert "face similarity" in by_face.hits[0].explanation and by_face.lists == {"persons": "n1"}
    stranger = rng.standard_normal(32).astype(np.float32)
    assert screen(store, Traveller(), face_embedding=stranger, settings=config.screening).hits == []
    # A delta removes P-1 (and its face), changes P-2's reason; entries and faces follow.
    delta = hq_lists.diff("persons", [PERSONS[0], PERSONS[1]], [dict(PERSONS[1], reason="found")])
    apply_bundle(store, config, bundle(keys, "persons", "n2", delta, base="n1"))
    assert screen(store, Traveller(), face_embedding=seen, settings=config.screening).hits == []
    assert store.conn.execute("SELECT entry_id, reason FROM watchlist_persons").fetchall() == [("P-2", "found")]


def test_csv_import_and_bundles_feed_the_same_list(kiosk, keys):
    store, config = kiosk
    header = ",".join(COLUMNS["documents"])
    import_bytes(store, "documents", f"{header}\nUTO,P,AB123,stolen\nUTO,I,CD456,lost\n".encode(), version="d1")
    assert doc_hit(store) == ["UTO:AB123"]
    delta = [{"op": "remove", "issuing_state": "UTO", "document_number": "AB123", "document_type": ""}]
    apply_bundle(store, config, bundle(keys, version="d2", records=delta, base="d1"))
    assert doc_hit(store) == [] and doc_hit(store, "CD456") == ["UTO:CD456"]


# -- Refused bundles ------------------------------------------------------------------------

def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1:]


BAD = [
    ("truncated", lambda keys, good: good[:-100], "bundle is truncated"),
    ("truncated-header", lambda keys, good: good[:30], "bundle is truncated"),
    ("bad-signature", lambda keys, good: _flip(good, len(good) - 80), "signature does not verify"),
    ("other-key", lambda keys, good: hq_lists.publish("documents", "documents", "d2", DOCUMENTS,
                                                      hq_lists.Ed25519PrivateKey.generate()), "this kiosk trusts key"),
    ("wrong-base", lambda keys, good: bundle(keys, version="d3", records=[], base="d0"), "wrong base version"),
    ("rollback", lambda keys, good: bundle(keys, version="d0", when=clock.utcnow() - timedelta(days=9)),
     "refusing to roll back"),
    ("kind-mismatch", lambda keys, good: bundle(keys, "persons", "p1", PERSONS, name="documents"),
     "holds documents, the bundle carries persons"),
    ("bad-record", lambda keys, good: bundle(keys, version="d2", records=[
        DOCUMENTS[0], {"issuing_state": "UTOPIA", "document_type": "P", "document_number": "X1", "reason": ""}]),
     "line 2: field issuing_state: 'UTOPIA'"),
    ("not-a-bundle", lambda keys, good: b"issuing_state,document_type\n", "not a list bundle"),
    ("trailing-bytes", lambda keys, good: good + b"x", "bytes after its signature"),
]


@pytest.mark.parametrize("name, make, message", BAD, ids=[b[0] for b in BAD])
def test_bad_bundle_is_refused_and_the_old_list_stays_in_force(kiosk, keys, name, make, message):
    store, config = kiosk
    good = bundle(keys)
    apply_bundle(store, config, good)
    before = state(store)
    with pytest.raises(BundleError, match=message):
        apply_bundle(store, config, make(keys, good))
    assert state(store) == before
    assert doc_hit(store) == ["UTO:AB123"]


def test_delta_for_a_list_the_kiosk_does_not_have(kiosk, keys):
    store, config = kiosk
    with pytest.raises(BundleError, match="apply a full bundle first"):
        apply_bundle(store, config, bundle(keys, version="d2", records=[], base="d1"))
    assert state(store)["lists"] == []


def test_persons_delta_removing_an_unknown_id_is_refused(kiosk, keys):
    store, config = kiosk
    apply_bundle(store, config, bundle(keys, "persons", "n1", PERSONS))
    before = state(store)
    with pytest.raises(BundleError, match="line 1: remove: no entry with id 'P-9'"):
        apply_bundle(store, config, bundle(keys, "persons", "n2", [{"op": "remove", "id": "P-9"}], base="n1"))
    assert state(store) == before


def test_without_a_trusted_key_nothing_is_applied(store, config, keys):
    with pytest.raises(BundleError, match="no trusted HQ list key"):
        apply_bundle(store, config, bundle(keys))


def test_a_failed_build_leaves_no_directory(kiosk, keys, monkeypatch):
    store, config = kiosk
    apply_bundle(store, config, bundle(keys))
    before = state(store)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(indexes, "build_documents", broken)
    with pytest.raises(OSError, match="disk full"):
        apply_bundle(store, config, bundle(keys, version="d2"))
    assert state(store) == before


def test_unfinished_builds_are_removed_at_start_up(kiosk, keys):
    store, config = kiosk
    apply_bundle(store, config, bundle(keys))
    root = indexes.root_for(config)
    dead = root / "documents" / "d9~999999999~deadbeef"  # a pid that cannot be alive
    dead.mkdir()
    (dead / "keys.npy").write_bytes(b"half")
    removed = indexes.remove_unfinished(store, root)
    assert removed == [dead] and not dead.exists()
    assert doc_hit(store) == ["UTO:AB123"]


def test_missing_index_of_a_csv_list_is_rebuilt_but_a_bundle_list_is_reported(kiosk, keys):
    store, config = kiosk
    header = ",".join(COLUMNS["persons"])
    import_bytes(store, "persons", f"{header}\nP-1,DOE,JOHN,,1980-01-01,M,UTO,,,x\n".encode(), version="p1")
    apply_bundle(store, config, bundle(keys))
    for (directory,) in store.conn.execute("SELECT index_dir FROM lists").fetchall():
        indexes.discard(Path(directory))
    result = screen(store, Traveller(surname="DOE", given_names="JOHN", birth_date="1980-01-01",
                                     document_issuer="UTO", document_number="AB123"), settings=config.screening)
    assert [h.entry_id for h in result.hits] == ["P-1"]  # rebuilt from SQLite
    assert result.refer and "list documents version d1 could not be consulted" in result.refer


# -- Stale lists ---------------------------------------------------------------------------

def test_stale_list_warns_or_refers_by_policy(kiosk, keys):
    store, config = kiosk
    apply_bundle(store, config, bundle(keys, when=clock.utcnow() - timedelta(days=20)))
    assert list_status(store)[0]["stale"] is True
    warned = screen(store, Traveller(surname="NOBODY"), settings=config.screening)
    assert warned.refer is None and warned.stale == {"documents": "20d 00h"}
    assert "stale list(s): documents is 20d 00h old (stale after 14d 00h)" in warned.warnings[0]
    config.screening.stale_policy = "refer"
    referred = screen(store, Traveller(surname="NOBODY"), settings=config.screening)
    assert referred.refer.endswith("the stale-list policy refers every traveller to secondary")


def test_stale_refer_policy_refers_a_crossing(kiosk, keys, officers):
    from appliance.workflow import crossings

    from .samples import CLEAR_OKAFOR

    store, config = kiosk
    config.screening.stale_policy = "refer"
    apply_bundle(store, config, bundle(keys, when=clock.utcnow() - timedelta(days=20)))
    crossing = crossings.record(store, config, officers.get("alice"),
                                crossings.CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR)).to_dict()
    assert crossing["decision"] == "referred" and "stale" in crossing["decision_reason"]
    assert crossing["screening"]["stale"] == {"documents": "20d 00h"}
    assert crossing["screening"]["lists"] == {"documents": "d1"}


# -- Command lines --------------------------------------------------------------------------

def test_hq_publish_and_kiosk_apply_from_the_command_line(kiosk, keys, run_cli, tmp_path):
    store, _ = kiosk
    export = tmp_path / "sltd.csv"
    export.write_text(",".join(COLUMNS["documents"]) + "\nUTO,P,AB123,stolen\n", encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "sltd-1.bundle"
    published = runner.invoke(hq_cli, ["lists", "publish", str(export), "--kind", "documents", "--list", "sltd",
                                       "--version", "1", "--key", str(tmp_path / "hq-list.key"), "-o", str(out)])
    assert published.exit_code == 0, published.output
    assert published.output.startswith("full bundle sltd 1: 1 record(s)")
    applied = run_cli("lists", "apply", str(out), "--json")
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.stdout)["applied"] is True
    status = json.loads(run_cli("lists", "status", "--json").stdout)
    assert [(s["name"], s["version"], s["source"], s["stale"]) for s in status["lists"]] == [
        ("sltd", "1", "bundle", False)]
    damaged = tmp_path / "damaged.bundle"
    damaged.write_bytes(out.read_bytes()[:-10])
    refused = run_cli("lists", "apply", str(damaged))
    assert refused.exit_code == 1 and "error: bundle is truncated" in refused.stderr
    lines = run_cli("lists", "status").stdout.splitlines()
    assert lines[1].split()[:4] == ["sltd", "documents", "1", "bundle"]


def test_hq_publish_needs_a_key_and_keygen_never_overwrites(tmp_path, monkeypatch):
    monkeypatch.delenv(hq_lists.ENV_KEY_FILE, raising=False)
    export = tmp_path / "x.csv"
    export.write_text(",".join(COLUMNS["documents"]) + "\nUTO,P,AB123,stolen\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(hq_cli, ["lists", "publish", str(export), "--kind", "documents", "--list", "x",
                                    "--version", "1", "-o", str(tmp_path / "x.bundle")])
    assert result.exit_code == 1 and "no list signing key" in result.output
    args = ["lists", "keygen", "--private-key", str(tmp_path / "k"), "--public-key", str(tmp_path / "k.pub")]
    assert runner.invoke(hq_cli, args).exit_code == 0
    assert oct(os.stat(tmp_path / "k").st_mode & 0o777) == "0o600"
    again = runner.invoke(hq_cli, args)
    assert again.exit_code == 1 and "already exists" in again.output


def test_hq_refuses_a_bad_export_before_signing(tmp_path, keys):
    export = tmp_path / "bad.ndjson"
    export.write_text('{"issuing_state": "UTO", "document_type": "P", "document_number": "A#1", "reason": ""}\n',
                      encoding="utf-8")
    with pytest.raises(BundleError, match="line 1: field document_number"):
        hq_lists.read_export("documents", export)


def test_the_crossing_workflow_screens_a_face_embedding_with_the_document(kiosk, keys, officers):
    from fastapi.testclient import TestClient

    from appliance.web.app import create_app

    from .conftest import OFFICER_PIN
    from .samples import CLEAR_OKAFOR

    store, config = kiosk
    rng = np.random.default_rng(5)
    face = rng.standard_normal(32).astype(np.float32)
    apply_bundle(store, config, bundle(keys, "persons", "n1", [dict(PERSONS[0], face=face.tolist()), PERSONS[1]]))
    client = TestClient(create_app(config, store))
    token = client.post("/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    seen = (face + rng.standard_normal(32).astype(np.float32) * 0.2).tolist()
    # The document and name are clear; only the face is on the list.
    recorded = client.post("/api/crossings", headers=headers,
                           json={"direction": "entry", "mrz": CLEAR_OKAFOR, "face_embedding": seen})
    assert recorded.status_code == 201, recorded.text
    crossing = recorded.json()
    assert crossing["decision"] == "referred"
    assert [h["entry_id"] for h in crossing["screening"]["hits"]] == ["P-1"]
    assert "face similarity" in crossing["screening"]["hits"][0]["explanation"]
    # An embedder that does not match the list's faces: the list cannot be consulted, so the
    # traveller is referred with the reason rather than cleared unchecked.
    mismatch = client.post("/api/crossings", headers=headers,
                           json={"direction": "entry", "mrz": CLEAR_OKAFOR, "face_embedding": [0.1] * 7})
    assert mismatch.status_code == 201 and mismatch.json()["decision"] == "referred"
    assert "7 dimensions" in " ".join(mismatch.json()["screening"]["warnings"])
    for bad in ([], ["x"] * 32, "face"):
        refused = client.post("/api/crossings", headers=headers,
                              json={"direction": "entry", "mrz": CLEAR_OKAFOR, "face_embedding": bad})
        assert refused.status_code == 422
    clear = client.post("/api/crossings", headers=headers, json={"direction": "entry", "mrz": CLEAR_OKAFOR})
    assert clear.json()["decision"] == "cleared"
    decisions = [row[0] for row in store.conn.execute("SELECT decision FROM crossings ORDER BY seq")]
    assert decisions == ["referred", "referred", "cleared"]


# -- The model that embedded a list's faces ---------------------------------------------------

MODEL_A, MODEL_B = "a" * 64, "0123456789abcdef" * 4


def _faces(seed=11, n=2, dim=32):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(dim).astype(np.float32) for _ in range(n)]


def _persons_with_faces(faces):
    return [dict(PERSONS[0], face=faces[0].tolist()), dict(PERSONS[1], face=faces[1].tolist())]


def _face_model_row(store):
    return store.conn.execute("SELECT version, face_model FROM lists WHERE name = 'persons'").fetchone()


def test_face_model_travels_in_the_signed_header_and_stays_with_the_version(kiosk, keys):
    from appliance.lists import bundle as bundle_format

    store, config = kiosk
    data = hq_lists.publish("persons", "persons", "n1", _persons_with_faces(_faces()), keys[0], face_model=MODEL_A)
    decoded = bundle_format.decode(data, bundle_format.load_public_key(keys[1].read_bytes(), "test"))
    assert decoded.face_model == MODEL_A and decoded.header["face_model"] == MODEL_A
    # Inside the signed body: changing it breaks the signature.
    tampered = data.replace(MODEL_A.encode(), MODEL_B.encode())
    with pytest.raises(BundleError, match="signature does not verify"):
        apply_bundle(store, config, tampered)
    result = apply_bundle(store, config, data)
    assert result["applied"] and result["face_model"] == MODEL_A
    assert _face_model_row(store) == ("n1", MODEL_A)
    [status] = list_status(store)
    assert status["face_model"] == MODEL_A
    # A bundle without the field: faces of unknown model, as before the field existed.
    plain = bundle(keys, "persons", "n2", _persons_with_faces(_faces()))
    assert bundle_format.decode(plain, bundle_format.load_public_key(keys[1].read_bytes(), "t")).face_model is None
    assert apply_bundle(store, config, plain)["face_model"] is None
    assert _face_model_row(store) == ("n2", None)


def _signed(keys, **header):
    """A bundle signed by HQ's key whose header HQ's publisher would have refused."""
    from appliance.lists import bundle as bundle_format

    base = {"list": "persons", "kind": "persons", "type": "full", "version": "n1", "base_version": None,
            "published_at": clock.iso(clock.utcnow())}
    return bundle_format.encode({**base, **header}, [PERSONS[0]], keys[0])


@pytest.mark.parametrize("value", ["A" * 64, "a" * 63, "g" * 64, "", 7, None, ["a" * 64]])
def test_a_malformed_face_model_is_refused_by_hq_and_by_the_kiosk(kiosk, keys, value):
    store, config = kiosk
    before = state(store)
    with pytest.raises(BundleError, match="face_model .* is not the SHA-256 of a model file"):
        apply_bundle(store, config, _signed(keys, face_model=value))
    assert state(store) == before
    if isinstance(value, str):
        with pytest.raises(BundleError, match="is not the SHA-256 of a model file"):
            hq_lists.publish("persons", "persons", "n1", [PERSONS[0]], keys[0], face_model=value)


def test_a_documents_bundle_with_a_face_model_is_refused(kiosk, keys):
    store, config = kiosk
    before = state(store)
    with pytest.raises(BundleError, match="a documents bundle has no face_model"):
        apply_bundle(store, config, _signed(keys, list="documents", kind="documents", face_model=MODEL_A))
    assert state(store) == before
    with pytest.raises(BundleError, match="a documents bundle has no face_model"):
        hq_lists.publish("documents", "documents", "d1", DOCUMENTS, keys[0], face_model=MODEL_A)


@pytest.mark.parametrize("delta_model", [MODEL_B, None])
def test_a_delta_adding_faces_of_another_model_is_refused_and_the_list_stays(kiosk, keys, delta_model):
    store, config = kiosk
    faces = _faces()
    apply_bundle(store, config, hq_lists.publish("persons", "persons", "n1", _persons_with_faces(faces), keys[0],
                                                 face_model=MODEL_A))
    before = state(store)
    newcomer = dict(PERSONS[0], id="P-3", face=_faces(seed=12, n=1)[0].tolist())
    delta = hq_lists.publish("persons", "persons", "n2", [{"op": "add", **newcomer}], keys[0], base_version="n1",
                             face_model=delta_model)
    shown = delta_model[:12] if delta_model else "unknown"
    with pytest.raises(BundleError, match=f"delta's faces were embedded by model {shown}, the list's by "
                                          f"{MODEL_A[:12]}: publish a full bundle"):
        apply_bundle(store, config, delta)
    assert state(store) == before and _face_model_row(store) == ("n1", MODEL_A)
    hit = screen(store, Traveller(), face_embedding=faces[0], face_model=MODEL_A, settings=config.screening)
    assert [h.entry_id for h in hit.hits] == ["P-1"]


def test_deltas_of_the_same_model_or_without_faces_apply(kiosk, keys):
    store, config = kiosk
    apply_bundle(store, config, hq_lists.publish("persons", "persons", "n1", _persons_with_faces(_faces()), keys[0],
                                                 face_model=MODEL_A))
    newcomer = dict(PERSONS[0], id="P-3", face=_faces(seed=12, n=1)[0].tolist())
    same = hq_lists.publish("persons", "persons", "n2", [{"op": "add", **newcomer}], keys[0], base_version="n1",
                            face_model=MODEL_A)
    assert apply_bundle(store, config, same)["face_model"] == MODEL_A
    # No face added: nothing to compare, whatever model HQ names; the list's faces keep theirs.
    reason = hq_lists.publish("persons", "persons", "n3", [{"op": "add", **dict(PERSONS[1], reason="found")}],
                              keys[0], base_version="n2", face_model=MODEL_B)
    assert apply_bundle(store, config, reason)["face_model"] == MODEL_A
    assert _face_model_row(store) == ("n3", MODEL_A)


def test_a_delta_bringing_the_first_faces_names_their_model(kiosk, keys):
    store, config = kiosk
    apply_bundle(store, config, bundle(keys, "persons", "n1", PERSONS))  # names only
    assert _face_model_row(store) == ("n1", None)
    first = dict(PERSONS[0], face=_faces(n=1)[0].tolist())
    delta = hq_lists.publish("persons", "persons", "n2", [{"op": "add", **first}], keys[0], base_version="n1",
                             face_model=MODEL_B)
    assert apply_bundle(store, config, delta)["face_model"] == MODEL_B
    assert _face_model_row(store) == ("n2", MODEL_B)


def test_a_full_bundle_changes_the_model(kiosk, keys):
    store, config = kiosk
    old, new = _faces(seed=1), _faces(seed=2, dim=64)
    apply_bundle(store, config, hq_lists.publish("persons", "persons", "n1", _persons_with_faces(old), keys[0],
                                                 face_model=MODEL_A))
    result = apply_bundle(store, config, hq_lists.publish("persons", "persons", "n2", _persons_with_faces(new),
                                                          keys[0], face_model=MODEL_B))
    assert result["applied"] and result["face_model"] == MODEL_B
    assert _face_model_row(store) == ("n2", MODEL_B)
    hit = screen(store, Traveller(), face_embedding=new[1], face_model=MODEL_B, settings=config.screening)
    assert [h.entry_id for h in hit.hits] == ["P-2"] and hit.skipped_face_lists == []
    # A full bundle without faces: the list no longer has faces of any model.
    apply_bundle(store, config, hq_lists.publish("persons", "persons", "n3", PERSONS, keys[0], face_model=MODEL_B))
    assert _face_model_row(store) == ("n3", None)


def test_faces_of_another_model_are_not_searched_and_the_result_says_so(kiosk, keys):
    store, config = kiosk
    faces = _faces()
    apply_bundle(store, config, hq_lists.publish("persons", "persons", "n1", _persons_with_faces(faces), keys[0],
                                                 face_model=MODEL_A))
    doe = Traveller(surname="DOE", given_names="JOHN", birth_date="1980-01-01")
    for known in (MODEL_A, None):  # same model, or a query of unknown model: searched as before
        found = screen(store, doe, face_embedding=faces[1], face_model=known, settings=config.screening)
        assert sorted(h.entry_id for h in found.hits) == ["P-1", "P-2"] and found.warnings == []
    other = screen(store, doe, face_embedding=faces[1], face_model=MODEL_B, settings=config.screening)
    # The name still finds P-1; the face search that would have found P-2 did not run.
    assert [h.entry_id for h in other.hits] == ["P-1"] and other.lists == {"persons": "n1"}
    assert other.skipped_face_lists == [{"list": "persons", "face_model": MODEL_A}]
    assert other.warnings == [f"face not screened against list persons: its faces were embedded by model "
                              f"{MODEL_A[:12]}, this kiosk's photo by {MODEL_B[:12]}"]
    assert other.refer is None
    config.screening.face_model_mismatch = "refer"
    referred = screen(store, Traveller(), face_embedding=faces[1], face_model=MODEL_B, settings=config.screening)
    assert referred.hits == [] and referred.refer.endswith("the face-model policy refers the traveller to secondary")
    # A list whose faces are of unknown model is searched whatever the query's model.
    apply_bundle(store, config, bundle(keys, "persons", "n2", _persons_with_faces(faces)))
    unknown = screen(store, Traveller(), face_embedding=faces[1], face_model=MODEL_B, settings=config.screening)
    assert [h.entry_id for h in unknown.hits] == ["P-2"] and unknown.refer is None


def test_lists_status_shows_the_face_model(kiosk, keys, run_cli):
    store, config = kiosk
    apply_bundle(store, config, hq_lists.publish("persons", "persons", "n1", _persons_with_faces(_faces()), keys[0],
                                                 face_model=MODEL_B))
    apply_bundle(store, config, bundle(keys))
    status = json.loads(run_cli("lists", "status", "--json").stdout)
    assert [(s["name"], s["face_model"]) for s in status["lists"]] == [("documents", None), ("persons", MODEL_B)]
    lines = run_cli("lists", "status").stdout.splitlines()
    assert lines[0].split()[-2:] == ["face", "model"]
    assert lines[1].split()[-1] == "-"
    assert lines[2].split()[-1] == MODEL_B[:12]
