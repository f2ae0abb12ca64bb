"""Face photo -> face embedding on the kiosk: decode, find the face (optional detector), crop, embed.

Two models, each a ``.tflite`` file run by the LiteRT interpreter (``appliance.inference.litert``):

Detector contract (optional, ``screening.face_detector_model``):

- one input ``[1, H, W, 3]``, RGB: the whole photo resized to H x W (aspect not kept);
  float32 input gets ``(pixel - 127.5) / 128``, uint8/int8 input the pixel through the
  tensor's quantization parameters (as for the embedder, below);
- outputs boxes ``[1, N, 4]`` (ymin, xmin, ymax, xmax, normalised 0..1 to the photo) and
  scores ``[1, N]`` (0..1), told apart by their shape, never by their order; any other
  outputs are ignored. Models whose raw output needs anchor decoding and non-maximum
  suppression (BlazeFace's own export) must have it built in (as TFLite's
  ``TFLite_Detection_PostProcess`` models do) before they fit.

The best box scoring at least ``screening.face_detector_min_score`` is the face; if none
does, ``NoFaceFound`` says the best score seen. The box is widened by ``CROP_MARGIN`` on
every side and made square around its centre, inside the photo.

Without a detector the crop is the centred square of the photo: the touchscreen's photo
step frames the traveller's face in the middle.

Embedder contract (required, ``screening.face_embedder_model``):

- one input ``[1, S, S, 3]``, RGB. float32 input gets ``(pixel - 127.5) / 128`` (the
  MobileFaceNet/ArcFace convention); uint8/int8 input gets that same value through the
  tensor's quantization parameters (``round(value / scale + zero_point)``), or the raw
  pixel (uint8; minus 128 for int8) when the tensor has none;
- output ``[1, D]``, dequantized when quantized. The kiosk L2-normalises it and refuses a
  zero or non-finite vector.

Sizes and types are read from each model, never assumed. Each model has one interpreter
and one lock (interpreters are not thread-safe). ``for_settings`` keeps one
``FaceEmbedder`` per process for a given configuration.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from appliance.errors import InferenceError, NoFaceFound
from appliance.inference import litert

CROP_MARGIN = 0.2  # of the box's larger side, added on every side: forehead, chin and ears
PIXEL_MEAN, PIXEL_SCALE = 127.5, 128.0


def opencv() -> Any:
    """The cv2 module; InferenceError naming the extra to install when OpenCV is missing."""
    try:
        import cv2
    except ImportError:
        raise InferenceError("decoding photos needs OpenCV (opencv-python-headless, a dependency of the kiosk: reinstall it)") from None
    return cv2


def decode(photo: bytes) -> np.ndarray:
    """The photo (JPEG or PNG bytes) as an H x W x 3 uint8 RGB array.

    Raises InferenceError if OpenCV is missing or the bytes are not a decodable image.
    """
    cv2 = opencv()
    if not photo:
        raise InferenceError("the photo is empty")
    image = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise InferenceError(f"the photo cannot be decoded as JPEG or PNG ({len(photo)} bytes)")
    return np.ascontiguousarray(image[:, :, ::-1])  # OpenCV decodes to BGR


def _input_tensor(image: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """An RGB uint8 image resized and converted to the model input's size, type and quantization."""
    cv2 = opencv()
    _, height, width, _ = (int(n) for n in detail["shape"])
    interpolation = cv2.INTER_AREA if image.shape[0] > height else cv2.INTER_LINEAR
    resized = cv2.resize(image, (width, height), interpolation=interpolation).astype(np.float32)
    value = (resized - PIXEL_MEAN) / PIXEL_SCALE
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        tensor = value
    elif dtype in (np.uint8, np.int8):
        scale, zero_point = detail.get("quantization", (0.0, 0))
        info = np.iinfo(dtype)
        if scale:
            quantized = np.rint(value / scale + zero_point)
        else:  # no parameters: the pixel itself (uint8), or centred on zero (int8)
            quantized = resized if dtype == np.uint8 else resized - 128
        tensor = np.clip(quantized, info.min, info.max).astype(dtype)
    else:
        raise InferenceError(f"model input type {dtype} is not supported (float32, uint8 or int8)")
    return tensor[None].astype(dtype, copy=False)


def _dequantize(array: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if array.dtype != np.float32 and scale:
        return (array.astype(np.float32) - zero_point) * scale
    return array.astype(np.float32)


def _check_image_input(model: litert.Model, role: str) -> None:
    shape = [int(n) for n in model.input["shape"]]
    if len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or shape[1] < 8 or shape[2] < 8:
        raise InferenceError(f"{role} {model.path} takes input {shape}; the contract is [1, H, W, 3] RGB")


def _distinct(below: float, limit: float) -> tuple[str, str]:
    """Both numbers with two decimals, or as many more as it takes to show they differ."""
    for digits in range(2, 7):
        if f"{below:.{digits}f}" != f"{limit:.{digits}f}":
            break
    return f"{below:.{digits}f}", f"{limit:.{digits}f}"


def centre_square(image: np.ndarray) -> np.ndarray:
    """The largest centred square of an image: the crop when there is no detector."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return image[top:top + side, left:left + side]


@dataclass(frozen=True)
class Embedding:
    """One photo's embedding: the L2-normalised vector, and the face box used (None: centre crop)."""

    vector: np.ndarray  # float32, shape (D,), norm 1
    face_box: tuple[float, float, float, float] | None  # ymin, xmin, ymax, xmax, normalised to the photo
    score: float | None  # the detector's score of that box

    def rounded_box(self) -> list[float] | None:
        """The face box as stored with a crossing and printed by the CLI (4 decimals), or None."""
        return [round(v, 4) for v in self.face_box] if self.face_box is not None else None


@dataclass(frozen=True)
class Detection:
    score: float
    box: tuple[float, float, float, float]


class FaceEmbedder:
    """The configured embedder (and optional detector), loaded once; ``embed(photo)`` per traveller."""

    def __init__(self, embedder_model: str | os.PathLike[str], detector_model: str | os.PathLike[str] | None = None,
                 min_score: float = 0.5, threads: int = 1) -> None:
        """Load and check both models. Raises InferenceError for a missing or unreadable
        file, a file that is not a TFLite model, a model outside its contract, or no runtime."""
        if not 0.0 <= min_score <= 1.0:
            raise InferenceError(f"face detector minimum score must be 0..1, got {min_score}")
        self.min_score = min_score
        self.embedder = litert.Model(embedder_model, threads)
        _check_image_input(self.embedder, "face embedder")
        shape = [int(n) for n in self.embedder.input["shape"]]
        if shape[1] != shape[2]:
            raise InferenceError(f"face embedder {self.embedder.path} takes {shape[2]}x{shape[1]} images; "
                                 "the contract is a square [1, S, S, 3]")
        if len(self.embedder.outputs) != 1 or len(self.embedder.outputs[0]["shape"]) != 2:
            raise InferenceError(f"face embedder {self.embedder.path} has outputs "
                                 f"{[list(o['shape']) for o in self.embedder.outputs]}; the contract is one [1, D]")
        self.dim = int(self.embedder.outputs[0]["shape"][1])
        self.input_size = shape[1]
        self.embedder_sha256 = litert.sha256(self.embedder.path)
        self.detector: litert.Model | None = None
        self.detector_sha256: str | None = None
        if detector_model is not None:
            self.detector = litert.Model(detector_model, threads)
            _check_image_input(self.detector, "face detector")
            self._boxes_at, self._scores_at = self._detector_outputs(self.detector)
            self.detector_sha256 = litert.sha256(self.detector.path)

    @staticmethod
    def _detector_outputs(model: litert.Model) -> tuple[int, int]:
        """Positions of the boxes [1, N, 4] and scores [1, N] outputs, found by shape."""
        boxes = [i for i, o in enumerate(model.outputs) if len(o["shape"]) == 3 and int(o["shape"][2]) == 4]
        scores = [i for i, o in enumerate(model.outputs) if len(o["shape"]) == 2]
        counts = {int(model.outputs[i]["shape"][1]) for i in boxes}
        scores = [i for i in scores if int(model.outputs[i]["shape"][1]) in counts]
        if len(boxes) != 1 or len(scores) != 1:
            raise InferenceError(f"face detector {model.path} has outputs {[list(o['shape']) for o in model.outputs]};"
                                 " the contract is one boxes [1, N, 4] and one scores [1, N]")
        return boxes[0], scores[0]

    @property
    def model_ids(self) -> dict[str, str | None]:
        """{"embedder": sha256, "detector": sha256 or None}: which models made an embedding."""
        return {"embedder": self.embedder_sha256, "detector": self.detector_sha256}

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Every box of the detector on an RGB image, best first (empty without a detector)."""
        if self.detector is None:
            return []
        outputs = self.detector.run(_input_tensor(image, self.detector.input))
        boxes = _dequantize(outputs[self._boxes_at], self.detector.outputs[self._boxes_at])[0]
        scores = _dequantize(outputs[self._scores_at], self.detector.outputs[self._scores_at])[0]
        found = [Detection(float(score), tuple(float(v) for v in box))  # type: ignore[arg-type]
                 for score, box in zip(scores, boxes) if np.isfinite(score) and np.all(np.isfinite(box))]
        return sorted(found, key=lambda d: -d.score)

    def crop(self, image: np.ndarray) -> tuple[np.ndarray, Detection | None]:
        """The square face crop of an RGB image and the detection it came from (None: centre crop).

        Raises NoFaceFound when a detector is configured and no box reaches the minimum score.
        """
        height, width = image.shape[:2]
        if self.detector is None:
            return centre_square(image), None
        detections = self.detect(image)
        valid = [d for d in detections if d.box[2] > d.box[0] and d.box[3] > d.box[1]]
        best = valid[0] if valid else None
        if best is None or best.score < self.min_score:
            if best is None:
                raise NoFaceFound(f"no face found in the photo (no box; minimum score {self.min_score:.2f})")
            score, minimum = _distinct(best.score, self.min_score)
            raise NoFaceFound(f"no face found in the photo (best score {score} < {minimum})")
        ymin, xmin, ymax, xmax = (min(max(v, 0.0), 1.0) for v in best.box)
        box_h, box_w = (ymax - ymin) * height, (xmax - xmin) * width
        side = max(box_h, box_w) * (1 + 2 * CROP_MARGIN)
        side = int(round(min(side, height, width)))
        if side < 1:
            raise NoFaceFound(f"no face found in the photo (the best box, score {best.score:.2f}, is empty)")
        centre_y, centre_x = (ymin + ymax) / 2 * height, (xmin + xmax) / 2 * width
        # Shifted rather than padded where it would cross the photo's edge: no invented pixels.
        top = int(round(min(max(centre_y - side / 2, 0), height - side)))
        left = int(round(min(max(centre_x - side / 2, 0), width - side)))
        return image[top:top + side, left:left + side], Detection(best.score, (ymin, xmin, ymax, xmax))

    def embed_image(self, image: np.ndarray) -> Embedding:
        """The embedding of an RGB uint8 image (H x W x 3). Raises NoFaceFound or InferenceError."""
        face, detection = self.crop(image)
        return Embedding(self.embed_crop(face), detection.box if detection else None,
                         detection.score if detection else None)

    def embed(self, photo: bytes) -> Embedding:
        """The embedding of a JPEG/PNG photo.

        Raises InferenceError if it cannot be decoded (or OpenCV is missing), NoFaceFound if
        the detector finds no face, InferenceError if the embedder's output is unusable.
        """
        return self.embed_image(decode(photo))

    def embed_crop(self, face: np.ndarray) -> np.ndarray:
        """The L2-normalised embedding of an already cropped RGB face; raises InferenceError for an
        unusable output (zero or not finite)."""
        detail = self.embedder.outputs[0]
        raw = _dequantize(self.embedder.run(_input_tensor(face, self.embedder.input))[0], detail).reshape(-1)
        if not np.all(np.isfinite(raw)):
            raise InferenceError(f"face embedder {self.embedder.path.name} gave a non-finite output")
        norm = float(np.linalg.norm(raw))
        if norm < 1e-6:
            raise InferenceError(f"face embedder {self.embedder.path.name} gave a zero output")
        return (raw / norm).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        """What a technician needs to see: runtime, models, sizes, dimensions."""
        info: dict[str, Any] = {
            **litert.runtime_info(),
            "embedder": {"path": str(self.embedder.path), "sha256": self.embedder_sha256,
                         "input": [int(n) for n in self.embedder.input["shape"]],
                         "input_type": np.dtype(self.embedder.input["dtype"]).name, "dim": self.dim},
            "detector": None,
        }
        if self.detector is not None:
            info["detector"] = {"path": str(self.detector.path), "sha256": self.detector_sha256,
                                "input": [int(n) for n in self.detector.input["shape"]],
                                "input_type": np.dtype(self.detector.input["dtype"]).name,
                                "boxes": int(self.detector.outputs[self._boxes_at]["shape"][1]),
                                "min_score": self.min_score}
        return info


_cache: dict[tuple, FaceEmbedder] = {}
_cache_lock = threading.Lock()


def _file_key(path: Path | None) -> tuple | None:
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return (str(path),)
    # A model replaced in place (new file, same name) is loaded again, not served stale.
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def for_settings(settings: Any) -> FaceEmbedder | None:
    """The process's FaceEmbedder for the config's ``screening`` section, or None when
    ``face_embedder_model`` is not set. Loaded once per configuration (and model file
    version), then shared; a failed load is not kept, so a fixed file is picked up.

    Raises InferenceError as ``FaceEmbedder`` does.
    """
    if settings is None or settings.face_embedder_model is None:
        return None
    embedder = Path(settings.face_embedder_model)
    detector = Path(settings.face_detector_model) if settings.face_detector_model is not None else None
    key = (_file_key(embedder), _file_key(detector), float(settings.face_detector_min_score),
           int(settings.inference_threads))
    with _cache_lock:
        # Loading under the lock: two first crossings at once load the models once.
        if key not in _cache:
            loaded = FaceEmbedder(embedder, detector, settings.face_detector_min_score, settings.inference_threads)
            _cache.clear()  # one configuration per process: drop the one it replaced
            _cache[key] = loaded
        return _cache[key]
