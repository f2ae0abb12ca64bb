"""End to end with the real face model pack: HQ enrols a listed person's photo, publishes, the
kiosk applies the bundle, and a different photo of the same person from the simulated camera
is a face hit at the post; an unrelated person's photo is not. Also the CLI and self-test."""

from __future__ import annotations

import html
import json
import secrets

import pytest
from click.testing import CliRunner

from appliance import config as config_module
from appliance.inference import litert, model_pack
from appliance.workflow import crossings
from appliance.workflow.crossings import CrossingRequest
from hq.cli import cli as hq_cli

from .conftest import OFFICER_PIN, with_screening
from .face_pack import built_pack, sample_photos
from .samples import CLEAR_OKAFOR

HEADER = "id,surname,given_names,aliases,birth_date,sex,nationality,document_issuer,document_number,reason\n"


def _hq(*args):
    return CliRunner().invoke(hq_cli, list(args), catch_exceptions=False)


@pytest.fixture
def hq_export(tmp_path):
    """A persons export of two listed people, their photos in a folder named by entry id, a list key."""
    export = tmp_path / "persons.csv"
    export.write_text(HEADER + "P-OBAMA,LISTED,ONE,,,,,,,face on file\nP-COLLINS,LISTED,TWO,,,,,,,face on file\n",
                      encoding="utf-8")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "P-OBAMA.jpg").write_bytes(sample_photos()["obama"])
    (photos / "P-COLLINS.png").write_bytes(sample_photos()["astronaut"])
    key, public = tmp_path / "list.key", tmp_path / "list.pub"
    assert _hq("lists", "keygen", "--private-key", str(key), "--public-key", str(public)).exit_code == 0
    return export, photos, key, public


@pytest.fixture
def pack_kiosk(config_path, store, officers, tmp_path, hq_export):
    """A kiosk running the real pack, with HQ's bundle of photo-enrolled faces applied."""
    from appliance.lists.apply import apply_bundle

    export, photos, key, public = hq_export
    pack = built_pack()
    camera_dir = tmp_path / "camera"
    camera_dir.mkdir()
    with_screening(config_path, f'trusted_key = "{public}"\nface_pack = "{pack}"\n'
                                f'[hardware.simulated]\ncamera_dir = "{camera_dir}"\n')
    config = config_module.load(config_path, environ={"KIOSK_SECURITY_BIOMETRIC_KEY": secrets.token_hex(32)})
    bundle = tmp_path / "national-1.bundle"
    published = _hq("lists", "publish", str(export), "--kind", "persons", "--list", "national", "--version", "1",
                    "--key", str(key), "--photos", str(photos), "--face-pack", str(pack), "-o", str(bundle), "--json")
    assert published.exit_code == 0, published.output
    summary = json.loads(published.stdout)
    default = model_pack.load(pack).embedder()
    assert summary["face_model"] == default.sha256 and summary["records"] == 2
    applied = apply_bundle(store, config, bundle.read_bytes())
    assert applied["face_model"] == default.sha256
    return store, config, officers, camera_dir


def _photo_crossing(kiosk, photo: bytes, name: str):
    """The simulated camera shows ``photo``; the officer takes it and records a clear traveller with it."""
    from appliance.hw.camera_simulated import SimulatedCamera
    from appliance.workflow import biometrics

    store, config, officers, camera_dir = kiosk
    for old in camera_dir.iterdir():
        old.unlink()
    (camera_dir / name).write_bytes(photo)
    camera = SimulatedCamera.from_config(config.hardware)
    try:
        capture = biometrics.capture_photo(store, config, type("Devices", (), {"camera": camera})(),
                                           officers.get("alice"))
    finally:
        camera.close()
    recorded = crossings.record(store, config, officers.get("alice"), CrossingRequest(
        direction="entry", mrz=CLEAR_OKAFOR, capture_ids=(capture["capture_id"],)))
    return recorded.to_dict(), capture


def test_a_listed_persons_other_photo_is_a_face_hit_and_a_stranger_is_not(pack_kiosk):
    pack = built_pack()
    embedder = model_pack.load(pack).embedder()
    crossing, capture = _photo_crossing(pack_kiosk, sample_photos()["obama2"], "traveller.jpg")
    assert capture["quality"]["face"] == {"ok": True, "reason": None}
    assert crossing["decision"] == "referred"
    [hit] = crossing["screening"]["hits"]
    assert (hit["list"], hit["entry_id"], hit["kind"]) == ("national", "P-OBAMA", "person")
    assert hit["explanation"].startswith("face similarity 0.") and "(threshold 0.50)" in hit["explanation"]
    face = crossing["screening"]["face"]
    # The crossing records the model, the threshold and the pack's embedder it used.
    assert face["model"] == {"embedder": embedder.sha256, "detector": model_pack.load(pack).detectors[0].sha256}
    assert face["threshold"] == embedder.threshold == 0.5 and face["variant"] == "int8-weights"
    assert face["dim"] == 192 and "error" not in face and crossing["screening"]["warnings"] == []
    # The closest listed face's cosine, the one the hit explains.
    assert face["best_list"] == "national" and f"face similarity {face['best_similarity']:.2f}" in hit["explanation"]

    stranger, _ = _photo_crossing(pack_kiosk, sample_photos()["biden"], "stranger.jpg")
    assert stranger["decision"] == "cleared" and stranger["screening"]["hits"] == []
    assert stranger["screening"]["face"]["model"]["embedder"] == embedder.sha256
    # Not a hit, and the record still says how close the closest listed face came.
    assert stranger["screening"]["face"]["best_similarity"] < face["threshold"] < face["best_similarity"]
    assert stranger["screening"]["lists"] == {"national": "1"}


def test_a_photo_failing_a_gate_asks_for_a_retake_and_the_crossing_says_why(pack_kiosk):
    import cv2
    import numpy as np

    from appliance.web.app import create_app

    from .web_client import BrowserClient

    store, config = pack_kiosk[:2]
    dark = cv2.imencode(".jpg", (cv2.imdecode(np.frombuffer(sample_photos()["obama2"], np.uint8), 1) * 0.15)
                        .astype(np.uint8))[1].tobytes()
    crossing, capture = _photo_crossing(pack_kiosk, dark, "dark.jpg")
    # The photo step: not ok, and the gate's reason among the hints shown for a retake.
    assert capture["quality"]["ok"] is False and capture["quality"]["face"]["reason"]["code"] == "face.too_dark"
    assert any(hint.startswith("face too dark") for hint in capture["quality"]["hints"])
    # Recorded anyway, not screened by face, with the reason for the officer and for HQ.
    face = crossing["screening"]["face"]
    assert crossing["decision"] == "cleared" and face["reason"]["code"] == "face.too_dark"
    assert crossing["screening"]["warnings"] == [f"face not screened: {face['error']}"]
    client = BrowserClient(create_app(config, store))
    client.get("/login?lang=fr")
    client.post("/login", data={"officer_id": "alice", "pin": OFFICER_PIN})
    page = html.unescape(client.get(f"/crossings/{crossing['id']}").text)
    brightness = face["reason"]["params"]["brightness"]
    assert (f"Visage non contrôlé : visage trop sombre (luminosité {brightness}, au moins 50) : éclairez le visage "
            "du voyageur et reprenez la photo") in page


def test_the_photo_step_gives_the_gates_reason_in_the_officers_language(pack_kiosk):
    import cv2
    import numpy as np
    from fastapi.testclient import TestClient

    from appliance.hw.camera_simulated import SimulatedCamera
    from appliance.web.app import create_app

    store, config, _, camera_dir = pack_kiosk
    dark = (cv2.imdecode(np.frombuffer(sample_photos()["obama2"], np.uint8), 1) * 0.15).astype(np.uint8)
    (camera_dir / "dark.jpg").write_bytes(cv2.imencode(".jpg", dark)[1].tobytes())
    camera = SimulatedCamera.from_config(config.hardware)
    try:
        client = TestClient(create_app(config, store, type("Devices", (), {"camera": camera})()))
        token = client.post("/api/login", json={"officer_id": "alice", "pin": OFFICER_PIN}).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        english = client.post("/api/captures/photo").json()["quality"]
        client.cookies.set("kiosk_lang", "fr")
        french = client.post("/api/captures/photo").json()["quality"]
    finally:
        camera.close()
    assert english["ok"] is False and english["face"]["reason"]["code"] == "face.too_dark"
    assert any(hint.startswith("face too dark (brightness ") for hint in english["hints"])
    assert any(hint.startswith("visage trop sombre (luminosité ") and hint.endswith("reprenez la photo")
               for hint in french["hints"]), french["hints"]


def test_without_a_pack_the_result_screen_says_no_model_is_installed(config, store, officers):
    from appliance.web.app import create_app

    from .web_client import BrowserClient

    recorded = crossings.record(store, config, officers.get("alice"),
                                CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR)).to_dict()
    assert recorded["screening"]["face"]["reason"]["code"] == "face.no_model"
    for lang, text in (("en", "Face not screened: no face model is installed on this kiosk"),
                       ("fr", "Visage non contrôlé : aucun modèle de visage n'est installé sur ce kiosque")):
        client = BrowserClient(create_app(config, store))
        client.get(f"/login?lang={lang}")
        client.post("/login", data={"officer_id": "alice", "pin": OFFICER_PIN})
        assert text in html.unescape(client.get(f"/crossings/{recorded['id']}").text), lang


def test_with_a_pack_but_no_photo_the_crossing_says_no_photo(pack_kiosk):
    store, config, officers, _ = pack_kiosk
    recorded = crossings.record(store, config, officers.get("alice"),
                                CrossingRequest(direction="entry", mrz=CLEAR_OKAFOR)).to_dict()
    face = recorded["screening"]["face"]
    assert face["reason"]["code"] == "face.no_photo" and face["error"] == "no face photo was taken"
    assert recorded["screening"]["warnings"] == [] and recorded["decision"] == "cleared"


def test_hq_refuses_a_photo_that_fails_a_gate_and_publishes_nothing(tmp_path, hq_export):
    import cv2
    import numpy as np

    export, photos, key, _ = hq_export
    blank = cv2.imencode(".png", np.full((400, 300, 3), 128, np.uint8))[1].tobytes()
    (photos / "P-COLLINS.png").write_bytes(blank)
    (photos / "P-NOBODY.jpg").write_bytes(sample_photos()["biden"])
    out = tmp_path / "refused.bundle"
    refused = CliRunner().invoke(hq_cli, ["lists", "publish", str(export), "--kind", "persons", "--list", "national",
                                          "--version", "2", "--key", str(key), "--photos", str(photos),
                                          "--face-pack", str(built_pack()), "-o", str(out)])
    assert refused.exit_code == 1 and not out.exists()
    assert "2 photo(s) cannot be enrolled; nothing was published" in refused.stderr
    assert "entry P-COLLINS (P-COLLINS.png): no face found in the photo" in refused.stderr
    assert "photo P-NOBODY.jpg: no entry P-NOBODY in the export" in refused.stderr
    alone = CliRunner().invoke(hq_cli, ["lists", "publish", str(export), "--kind", "persons", "--list", "national",
                                        "--version", "2", "--key", str(key), "--photos", str(photos), "-o", str(out)])
    assert alone.exit_code == 2 and "--photos and --face-pack go together" in alone.output


def test_the_self_test_runs_the_pack_and_reports_its_latency(config_path):
    from appliance.workflow import selftest

    with_screening(config_path, f'face_pack = "{built_pack()}"\n')
    row = selftest.check_face_models(config_module.load(config_path))
    assert row is not None and row["ok"], row
    assert row["device"] == "face_models" and row["port"].endswith("(int8-weights)")
    assert "2 detector(s), no_face on a blank frame; embedder int8-weights -> 192-d, threshold 0.5" in row["result"]
    assert " ms, embed " in row["result"] and row["backend"].startswith("ai-edge-litert")


def test_a_face_pack_without_a_manifest_is_a_config_error(config_path, tmp_path):
    from appliance.errors import ConfigError

    with_screening(config_path, f'face_pack = "{tmp_path}"\n')
    with pytest.raises(ConfigError, match="face_pack .* holds no manifest.json"):
        config_module.load(config_path)


def test_kiosk_models_build_and_faces_embed_with_the_pack(run_cli, config_path, tmp_path):
    built = run_cli("models", "build", str(tmp_path / "pack"), "--json")
    assert built.exit_code == 0, built.output
    summary = json.loads(built.stdout)
    assert summary["default_embedder"] == "int8-weights"
    assert summary["embedders"]["int8"]["sha256"] == litert.sha256(tmp_path / "pack" / "mobilefacenet_int8.tflite")
    again = run_cli("models", "build", str(tmp_path / "pack"))
    assert again.exit_code == 1 and "is not empty: give an empty directory or --force" in again.stderr
    photo = tmp_path / "obama.jpg"
    photo.write_bytes(sample_photos()["obama"])
    with_screening(config_path, f'face_pack = "{tmp_path / "pack"}"\n')
    embedded = run_cli("faces", "embed", str(photo), "--json")
    assert embedded.exit_code == 0, embedded.output
    data = json.loads(embedded.stdout)
    assert data["dim"] == 192 and data["model"]["embedder"] == summary["embedders"]["int8-weights"]["sha256"]


def test_the_demo_screens_faces_with_a_pack(tmp_path):
    from appliance.cli import cli
    from appliance.storage.officers import Officers
    from appliance.storage.store import Store

    directory = tmp_path / "demo"
    made = CliRunner().invoke(cli, ["demo", "--dir", str(directory), "--setup-only", "--face-pack", str(built_pack())],
                              catch_exceptions=False)
    assert made.exit_code == 0, made.output
    assert "Faces are screened with the pack" in made.stdout
    config = config_module.load(directory / "kiosk.toml")
    with Store(config.db_path) as store:
        officers = Officers(store, config.security)
        officers.add("alice", "officer", OFFICER_PIN)
        camera = directory / "camera"
        shown = {path.name: path.read_bytes() for path in camera.iterdir()}
        assert sorted(shown) == ["1-same-person.jpg", "2-someone-else.jpg"]
        listed, _ = _photo_crossing((store, config, officers, camera), shown["1-same-person.jpg"], "1.jpg")
        assert [(h["list"], h["entry_id"]) for h in listed["screening"]["hits"]] == [("demo-faces", "P-DEMO-FACE")]
        other, _ = _photo_crossing((store, config, officers, camera), shown["2-someone-else.jpg"], "2.jpg")
        assert other["screening"]["hits"] == [] and other["screening"]["face"]["model"] is not None
    plain = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "plain"), "--setup-only"], catch_exceptions=False)
    assert plain.exit_code == 0 and "Faces are not screened (no model pack)" in plain.stdout
