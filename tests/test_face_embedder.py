"""Face photo -> embedding on the real LiteRT interpreter, with the reference models written into tmp."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from appliance import config as config_module
from appliance.errors import ConfigError, InferenceError, NoFaceFound
from appliance.inference import face_embedder, litert, reference_models
from appliance.inference.face_embedder import FaceEmbedder, decode

from .conftest import with_screening
from .samples import blank_png, portrait_png, undecodable_png

PHOTO_A = portrait_png()
PHOTO_B = portrait_png(background=(90, 140, 90), skin=(170, 120, 90), hair=(20, 20, 20), centre=(150, 210))


@pytest.fixture(scope="module")
def embedder(face_models) -> FaceEmbedder:
    return FaceEmbedder(face_models["embedder"])


@pytest.fixture(scope="module")
def with_detector(face_models) -> FaceEmbedder:
    return FaceEmbedder(face_models["embedder"], face_models["detector"])


# -- Runtime seam --------------------------------------------------------------------------------

def test_the_runtime_is_ai_edge_litert_and_says_its_version():
    info = litert.runtime_info()
    assert info["runtime"] == "ai-edge-litert"
    assert info["version"][0].isdigit()


def test_tflite_runtime_is_the_fallback_and_no_runtime_is_a_clear_error(monkeypatch, face_models):
    monkeypatch.setattr(litert, "RUNTIMES", (("tflite-runtime", "no_such_tflite_runtime.interpreter"),
                                             ("ai-edge-litert", "ai_edge_litert.interpreter")))
    litert._runtime.cache_clear()
    try:
        assert litert.runtime_info()["runtime"] == "ai-edge-litert"  # the second is used when the first is absent
        monkeypatch.setattr(litert, "RUNTIMES", (("ai-edge-litert", "no_such_litert.interpreter"),
                                                 ("tflite-runtime", "no_such_tflite_runtime.interpreter")))
        litert._runtime.cache_clear()
        with pytest.raises(InferenceError, match="no LiteRT/TFLite runtime can be loaded .*pip install ai-edge-litert"):
            litert.load(face_models["embedder"])
    finally:
        litert._runtime.cache_clear()


def test_load_gives_an_allocated_interpreter(face_models):
    interpreter = litert.load(face_models["embedder"], threads=2)
    [detail] = interpreter.get_input_details()
    [output] = interpreter.get_output_details()
    assert list(detail["shape"]) == [1, 112, 112, 3] and list(output["shape"]) == [1, 128]
    embeddings = []
    for image in (np.zeros(detail["shape"], np.float32), np.random.default_rng(1).random(detail["shape"], np.float32)):
        interpreter.set_tensor(detail["index"], image)
        interpreter.invoke()  # allocated: runs without another call
        embeddings.append(interpreter.get_tensor(output["index"]).reshape(-1))
    # The reference embedder's output is L2-normalised; two different images give two
    # embeddings, so the interpreter computed them rather than returning a stale buffer.
    assert all(np.isfinite(vector).all() and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5 for vector in embeddings)
    assert float(embeddings[0] @ embeddings[1]) < 0.99


def test_missing_and_non_model_files_each_have_their_own_error(tmp_path, face_models):
    with pytest.raises(InferenceError, match=f"model file {tmp_path / 'none.tflite'} does not exist"):
        litert.load(tmp_path / "none.tflite")
    text = tmp_path / "notes.tflite"
    text.write_text("this is not a model, it is a note\n")
    with pytest.raises(InferenceError, match="notes.tflite is not a TFLite model \\(no TFL3 file identifier\\)"):
        FaceEmbedder(text)
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(face_models["embedder"].read_bytes()[:4096])
    with pytest.raises(InferenceError, match="truncated.tflite is not a TFLite model this runtime can run"):
        FaceEmbedder(truncated)
    with pytest.raises(InferenceError, match="is a directory"):
        litert.load(tmp_path)


def test_a_model_outside_the_contract_is_refused(face_models):
    # The detector's input is an image, but its outputs are not one [1, D] embedding.
    with pytest.raises(InferenceError, match="the contract is one \\[1, D\\]"):
        FaceEmbedder(face_models["detector"])
    # And an embedder has no boxes or scores to be a detector.
    with pytest.raises(InferenceError, match="the contract is one boxes \\[1, N, 4\\] and one scores \\[1, N\\]"):
        FaceEmbedder(face_models["embedder"], face_models["embedder"])


# -- Embeddings ----------------------------------------------------------------------------------

def test_same_photo_same_embedding_different_photos_differ(embedder):
    first, again, other = embedder.embed(PHOTO_A), embedder.embed(PHOTO_A), embedder.embed(PHOTO_B)
    assert np.array_equal(first.vector, again.vector)
    assert first.vector.dtype == np.float32 and first.vector.shape == (128,) == (embedder.dim,)
    assert abs(float(np.linalg.norm(first.vector)) - 1.0) < 1e-5
    assert float(first.vector @ other.vector) < 0.6
    assert first.face_box is None and first.score is None  # no detector: the centre square
    assert embedder.input_size == 112


def test_sizes_and_input_type_are_read_from_the_model(tmp_path, embedder):
    small = tmp_path / "small.tflite"
    small.write_bytes(reference_models.embedder_bytes(size=56, dim=64))
    model = FaceEmbedder(small)
    assert (model.input_size, model.dim) == (56, 64)
    assert model.embed(PHOTO_A).vector.shape == (64,)
    # A uint8-input model (scale 1/128, zero point 128) is fed through its quantization
    # parameters and gives the float model's embedding.
    quantized = tmp_path / "uint8.tflite"
    quantized.write_bytes(reference_models.embedder_bytes(quantized_input=True))
    model = FaceEmbedder(quantized)
    assert model.describe()["embedder"]["input_type"] == "uint8"
    assert float(model.embed(PHOTO_A).vector @ embedder.embed(PHOTO_A).vector) > 0.9999


def test_jpeg_and_png_of_one_photo_embed_alike(embedder):
    import cv2

    jpeg = cv2.imencode(".jpg", cv2.imdecode(np.frombuffer(PHOTO_A, np.uint8), cv2.IMREAD_COLOR),
                        [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    assert float(embedder.embed(jpeg).vector @ embedder.embed(PHOTO_A).vector) > 0.99


def test_the_detector_box_is_cropped_square_with_a_margin(with_detector, embedder):
    result = with_detector.embed(PHOTO_A)
    assert result.score >= 0.5
    assert list(result.face_box) in reference_models.detector_windows().tolist()
    # The crop is the detector's, not the centre square.
    assert not np.allclose(result.vector, embedder.embed(PHOTO_A).vector)
    image = decode(PHOTO_A)
    crop, detection = with_detector.crop(image)
    assert crop.shape[0] == crop.shape[1] and detection.box == result.face_box
    ymin, xmin, ymax, xmax = detection.box
    side = max((ymax - ymin) * image.shape[0], (xmax - xmin) * image.shape[1]) * (1 + 2 * face_embedder.CROP_MARGIN)
    assert crop.shape[0] == round(min(side, *image.shape[:2]))


def test_outputs_are_told_apart_by_shape_not_order(with_detector):
    # The reference detector puts its scores first; boxes are still found.
    shapes = [list(output["shape"]) for output in with_detector.detector.outputs]
    assert shapes == [[1, 9], [1, 9, 4]]
    detections = with_detector.detect(decode(PHOTO_A))
    assert len(detections) == 9 and all(0 <= d.score <= 1 for d in detections)
    assert detections == sorted(detections, key=lambda d: -d.score)


def test_no_face_below_the_minimum_score(face_models, with_detector):
    with pytest.raises(NoFaceFound, match=r"^no face found in the photo \(best score 0\.12 < 0\.50\)$"):
        with_detector.embed(blank_png())
    strict = FaceEmbedder(face_models["embedder"], face_models["detector"], min_score=0.999)
    with pytest.raises(NoFaceFound, match=r"best score 0\.99[0-8]\d* < 0\.999"):
        strict.embed(PHOTO_A)
    assert issubclass(NoFaceFound, InferenceError)


@pytest.mark.parametrize("photo, message", [
    (undecodable_png(), "the photo cannot be decoded as JPEG or PNG"),
    (b"", "the photo is empty"),
    (b"GIF89a not supported", "the photo cannot be decoded"),
])
def test_undecodable_photos_are_inference_errors(embedder, photo, message):
    with pytest.raises(InferenceError, match=message):
        embedder.embed(photo)


def test_without_opencv_photos_cannot_be_decoded(monkeypatch, embedder):
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    with pytest.raises(InferenceError, match=r"decoding photos needs OpenCV \(opencv-python-headless, a dependency of the kiosk"):
        embedder.embed(PHOTO_A)


def test_one_interpreter_per_model_is_safe_from_many_threads(with_detector):
    expected = with_detector.embed(PHOTO_B).vector
    results, errors = [], []

    def work():
        try:
            for _ in range(20):
                results.append(with_detector.embed(PHOTO_B).vector)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 80
    assert all(np.array_equal(vector, expected) for vector in results)


# -- Config --------------------------------------------------------------------------------------

def test_config_keys_defaults_and_checks(config_path, face_models, tmp_path):
    settings = config_module.load(config_path, environ={}).screening
    assert (settings.face_embedder_model, settings.face_detector_model) == (None, None)
    assert (settings.face_detector_min_score, settings.inference_threads) == (0.5, 1)
    original = config_path.read_text(encoding="utf-8")
    missing = tmp_path / "models" / "mobilefacenet.tflite"
    for text, message in [
        (f'face_embedder_model = "{missing}"',
         f"key 'screening.face_embedder_model': .*face_embedder_model {missing} does not exist"),
        (f'face_embedder_model = "{face_models["embedder"]}"\nface_detector_model = "{tmp_path}"',
         f"key 'screening.face_detector_model': .*face_detector_model {tmp_path} is not a file"),
        (f'face_detector_model = "{face_models["detector"]}"', "a detector alone screens nothing"),
        ("face_detector_min_score = 1.5", "screening.face_detector_min_score"),
        ("inference_threads = 8", "screening.inference_threads"),
        ("face_embedder = 'x'", "unknown key 'screening.face_embedder'"),
    ]:
        config_path.write_text(original, encoding="utf-8")
        with_screening(config_path, text)
        with pytest.raises(ConfigError, match=message):
            config_module.load(config_path, environ={})
    config_path.write_text(original, encoding="utf-8")
    with_screening(config_path, 'face_embedder_model = ""\nface_detector_model = ""')
    settings = config_module.load(config_path, environ={}).screening
    assert settings.face_embedder_model is None and face_embedder.for_settings(settings) is None


def test_the_embedder_is_loaded_once_per_configuration(config_path, face_models, tmp_path):
    with_screening(config_path, f'face_embedder_model = "{face_models["embedder"]}"')
    first = face_embedder.for_settings(config_module.load(config_path, environ={}).screening)
    second = face_embedder.for_settings(config_module.load(config_path, environ={}).screening)
    assert first is second
    # A model file replaced under the same name is loaded again.
    copy = tmp_path / "embedder.tflite"
    copy.write_bytes(face_models["embedder"].read_bytes())
    settings = config_module.load(config_path, environ={}).screening
    settings.face_embedder_model = copy
    loaded = face_embedder.for_settings(settings)
    copy.write_bytes(reference_models.embedder_bytes(size=56, dim=64))
    assert face_embedder.for_settings(settings) is not loaded
    assert face_embedder.for_settings(settings).dim == 64


# -- CLI -----------------------------------------------------------------------------------------

def test_cli_writes_the_models_and_refuses_to_overwrite(run_cli, tmp_path):
    target = tmp_path / "models"
    result = run_cli("faces", "models", str(target))
    assert result.exit_code == 0, result.output
    files = sorted(path.name for path in target.iterdir())
    assert files == ["face_detector.tflite", "face_embedder.tflite"]
    assert "not a face recogniser" in result.stdout
    before = {path.name: path.read_bytes() for path in target.iterdir()}
    (target / "face_embedder.tflite").write_bytes(b"an operator's own model")
    again = run_cli("faces", "models", str(target))
    assert again.exit_code == 1
    assert "refusing to overwrite" in again.stderr and "--force" in again.stderr
    assert (target / "face_embedder.tflite").read_bytes() == b"an operator's own model"
    forced = run_cli("faces", "models", str(target), "--force")
    assert forced.exit_code == 0 and {p.name: p.read_bytes() for p in target.iterdir()} == before


def test_cli_embeds_a_photo_as_json(run_cli, config_path, face_models, tmp_path, with_detector):
    photo, blank, junk = tmp_path / "a.png", tmp_path / "blank.png", tmp_path / "junk.png"
    photo.write_bytes(PHOTO_A)
    blank.write_bytes(blank_png())
    junk.write_bytes(undecodable_png())
    not_configured = run_cli("faces", "embed", str(photo), "--json")
    assert not_configured.exit_code == 1 and "no face model is installed" in not_configured.stderr
    with_screening(config_path, f'face_embedder_model = "{face_models["embedder"]}"\n'
                                f'face_detector_model = "{face_models["detector"]}"\n')
    result = run_cli("faces", "embed", str(photo), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["dim", "embedding", "face_box", "model"]
    assert data["dim"] == len(data["embedding"]) == 128
    expected = with_detector.embed(PHOTO_A)
    assert np.allclose(data["embedding"], expected.vector, atol=1e-6)
    assert data["face_box"] == [round(v, 4) for v in expected.face_box]
    assert data["model"] == {"embedder": litert.sha256(face_models["embedder"]),
                             "detector": litert.sha256(face_models["detector"])}
    text = run_cli("faces", "embed", str(photo))
    assert text.exit_code == 0 and text.stdout.startswith(f"128-d embedding of {photo}: face box")
    for path, message in [(blank, "no face found in the photo (best score 0.12 < 0.50)"),
                          (junk, "the photo cannot be decoded"),
                          (tmp_path / "missing.png", "cannot read photo")]:
        failed = run_cli("faces", "embed", str(path), "--json")
        assert failed.exit_code == 1 and failed.stdout == ""
        assert failed.stderr.startswith("error: ") and message in failed.stderr


def test_cli_centre_crop_has_a_null_box(run_cli, config_path, face_models, tmp_path):
    photo = tmp_path / "b.png"
    photo.write_bytes(PHOTO_B)
    with_screening(config_path, f'face_embedder_model = "{face_models["embedder"]}"\n')
    data = json.loads(run_cli("faces", "embed", str(photo), "--json").stdout)
    assert data["face_box"] is None and data["model"]["detector"] is None
    assert abs(float(np.linalg.norm(data["embedding"])) - 1.0) < 1e-5


def test_reference_models_are_real_tflite_files(face_models):
    for path in face_models.values():
        head = Path(path).read_bytes()[:8]
        assert head[4:8] == b"TFL3"
    assert reference_models.embedder_bytes() == Path(face_models["embedder"]).read_bytes()  # deterministic


def test_the_service_loads_the_models_at_start_up_and_survives_a_bad_one(config_path, face_models, tmp_path,
                                                                         caplog):
    from appliance.service.daemon import KioskService

    with_screening(config_path, f'face_embedder_model = "{face_models["embedder"]}"\n')
    config = config_module.load(config_path, environ={})
    with caplog.at_level("INFO", logger="kiosk"):
        KioskService(config).init_face_models()
    assert "face embedder" in caplog.text and "ready (ai-edge-litert" in caplog.text and "128-d" in caplog.text
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    config.screening.face_embedder_model = junk
    caplog.clear()
    with caplog.at_level("INFO", logger="kiosk"):
        KioskService(config).init_face_models()  # logged, not raised: the kiosk still records crossings
    assert "face models not loaded, photos will not be screened by face" in caplog.text
    assert "is not a TFLite model" in caplog.text
