"""The model pack's face pipeline: decode, detect (BlazeFace), gate, align (ArcFace template), embed.

``PackEmbedder`` has the interface the crossing workflow, the self-test and HQ use of
``face_embedder.FaceEmbedder`` (``embed``, ``model_ids``, ``dim``, ``describe``), so one seam
serves the raw-file contract and packs. A photo that fails a quality gate raises
``QualityRejected`` with the gate's code and reason; with no face that error is also a
``NoFaceFound``, which callers of the raw-model contract expect.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from appliance.errors import InferenceError
from appliance.inference import face_align, face_embedder, face_quality, litert, model_pack
from appliance.inference.face_detector import SPECS, BlazeFace, Face
from appliance.inference.face_embedder import Embedding, FaceEmbedder, decode


@dataclass
class Analysis:
    """Everything one photo went through: faces found, the gates' verdict, the aligned face, stage times (ms)."""

    faces: list[Face]
    verdict: face_quality.Verdict
    aligned: np.ndarray | None
    detector: str | None
    timings: dict[str, float] = field(default_factory=dict)


class PackEmbedder:
    """A model pack loaded for one embedder variant; ``embed(photo)`` per traveller."""

    def __init__(self, directory: str | Path, variant: str | None = None, threads: int = 1) -> None:
        """Raises InferenceError for a bad pack (manifest, digests) or a model that will not load."""
        self.pack = model_pack.load(directory)
        self.entry = self.pack.embedder(variant)
        self.variant = self.entry.name
        self.detectors = [(d, BlazeFace(d.path, SPECS[d.layout], d.min_score, threads)) for d in self.pack.detectors]
        self.embedder = FaceEmbedder(self.entry.path, None, threads=threads)
        if self.embedder.input_size != face_align.SIZE:
            raise InferenceError(f"embedder {self.entry.path} takes {self.embedder.input_size} px faces; the pack's "
                                 f"alignment gives {face_align.SIZE}")
        self.dim = self.embedder.dim
        self.threshold = self.entry.threshold
        self.embedder_sha256 = self.entry.sha256
        self.detector_sha256: str | None = self.pack.detectors[0].sha256

    @property
    def model_ids(self) -> dict[str, str | None]:
        """{"embedder": sha256, "detector": sha256 of the first detector}: which models made an embedding."""
        return {"embedder": self.embedder_sha256, "detector": self.detector_sha256}

    def analyse(self, image: np.ndarray) -> Analysis:
        """Detect, gate and align the face of an RGB frame; never embeds. Raises InferenceError if a model fails."""
        timings: dict[str, float] = {"resize": 0.0, "detect": 0.0}
        faces: list[Face] = []
        used = None
        for entry, detector in self.detectors:
            started = time.perf_counter()
            tensor, scale, left, top = detector.input_tensor(image)
            resized = time.perf_counter()
            faces = detector.detect_tensor(tensor, scale, left, top)
            timings["resize"] += (resized - started) * 1e3
            timings["detect"] += (time.perf_counter() - resized) * 1e3
            if faces:
                used = entry.name
                break
        verdict = face_quality.geometry(faces)
        aligned = None
        if faces and verdict.code not in ("no_face", "several_faces"):
            started = time.perf_counter()
            aligned = face_align.align(image, max(faces, key=lambda f: f.interocular).keypoints)
            timings["align"] = (time.perf_counter() - started) * 1e3
            if verdict.ok:
                verdict = face_quality.appearance(aligned, verdict.measures)
        return Analysis(faces, verdict, aligned, used, timings)

    def embed_aligned(self, aligned: np.ndarray) -> np.ndarray:
        """The L2-normalised embedding of an aligned 112 x 112 RGB face."""
        return self.embedder.embed_crop(aligned)

    def embed_image(self, image: np.ndarray) -> Embedding:
        """The embedding of an RGB frame's one face. Raises NoFaceFound, QualityRejected or InferenceError."""
        analysis = self.analyse(image)
        verdict = analysis.verdict
        if not verdict.ok or analysis.aligned is None:
            raise face_quality.rejected(verdict)
        face = max(analysis.faces, key=lambda f: f.interocular)
        height, width = image.shape[:2]
        return Embedding(self.embed_aligned(analysis.aligned), face.normalised_box(width, height), face.score)

    def embed(self, photo: bytes) -> Embedding:
        """The embedding of a JPEG/PNG photo; raises as ``embed_image`` does, or InferenceError if it does not decode."""
        return self.embed_image(decode(photo))

    def describe(self) -> dict[str, Any]:
        """What a technician needs to see: runtime, pack, models, sizes, dimensions, threshold."""
        return {
            **litert.runtime_info(),
            "pack": str(self.pack.directory), "variant": self.variant, "threshold": self.threshold,
            "embedder": {"path": str(self.entry.path), "sha256": self.embedder_sha256,
                         "input": [int(n) for n in self.embedder.embedder.input["shape"]],
                         "input_type": np.dtype(self.embedder.embedder.input["dtype"]).name, "dim": self.dim},
            "detector": {"path": str(self.pack.detectors[0].path), "sha256": self.detector_sha256,
                         "detectors": [d.name for d in self.pack.detectors]},
        }


_cache: dict[tuple, PackEmbedder] = {}
_cache_lock = threading.Lock()


def for_pack(directory: Path, variant: str | None, threads: int) -> PackEmbedder:
    """The process's PackEmbedder for a pack directory (loaded again when its manifest changes)."""
    manifest = directory / model_pack.MANIFEST
    try:
        stat = manifest.stat()
        stamp: tuple = (stat.st_size, stat.st_mtime_ns)
    except OSError:
        stamp = ()
    key = (str(directory), stamp, variant, threads)
    with _cache_lock:
        if key not in _cache:
            loaded = PackEmbedder(directory, variant, threads)
            _cache.clear()
            _cache[key] = loaded
        return _cache[key]


def for_settings(settings: Any) -> FaceEmbedder | PackEmbedder | None:
    """The process's embedder for the config's ``screening`` section: the raw model files when
    ``face_embedder_model`` is set, else the model pack (``face_pack``, or the image's installed
    one), else None (no model installed: faces are not screened, and the crossing says so).

    Raises InferenceError when the configured models or pack cannot be loaded.
    """
    if settings is None:
        return None
    if settings.face_embedder_model is not None:
        return face_embedder.for_settings(settings)
    directory = model_pack.installed(settings.face_pack)
    if directory is None:
        return None
    return for_pack(directory, settings.face_pack_embedder, settings.inference_threads)


def face_threshold(settings: Any, embedder: FaceEmbedder | PackEmbedder | None) -> float:
    """The cosine a listed face must reach: ``face_threshold`` when the config sets it, else the
    pack's recommended threshold for its embedder, else the config's default."""
    if isinstance(embedder, PackEmbedder) and "face_threshold" not in settings.model_fields_set:
        return embedder.threshold
    return float(settings.face_threshold)
