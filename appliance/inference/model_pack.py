"""A face model pack on disk: its manifest, checked against the files it names.

A pack is a directory holding ``manifest.json`` and the ``.tflite`` files it lists: the
face detectors (BlazeFace layouts, tried in order: the first that finds a face wins) and one
or more embedders (variants of one model, e.g. float32, int8 weights, full int8, or an
operator's own licensed model), each with its SHA-256, where it came from, its licence,
input size, normalisation, output length and recommended cosine threshold. ``kiosk models
build DIR`` writes one (``appliance.inference.pack_build``); the image installs it in
``/opt/kiosk/models``. The kiosk and HQ read the same manifest, so both embed with the same
files: a file whose digest is not the manifest's is refused.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.errors import InferenceError
from appliance.inference import litert
from appliance.inference.face_detector import SPECS

FORMAT = "kiosk-face-pack/1"
MANIFEST = "manifest.json"
DEFAULT_DIR = Path("/opt/kiosk/models")  # where the image installs its pack (image-build/build)


@dataclass(frozen=True)
class Detector:
    name: str
    path: Path
    sha256: str
    layout: str  # a key of face_detector.SPECS
    min_score: float


@dataclass(frozen=True)
class Embedder:
    name: str
    path: Path
    sha256: str
    size: int
    mean: float
    scale: float
    dim: int
    threshold: float
    licence: str


@dataclass(frozen=True)
class Pack:
    directory: Path
    manifest: dict[str, Any]
    detectors: tuple[Detector, ...]
    embedders: dict[str, Embedder]
    default_embedder: str

    def embedder(self, name: str | None = None) -> Embedder:
        """The embedder ``name`` (None: the manifest's default); InferenceError naming the choices if absent."""
        chosen = name or self.default_embedder
        if chosen not in self.embedders:
            raise InferenceError(f"face model pack {self.directory} has no embedder {chosen!r} "
                                 f"(it has {', '.join(sorted(self.embedders))})")
        return self.embedders[chosen]


def _field(entry: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = entry.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InferenceError(f"{where}: {key} is missing or not a {getattr(kind, '__name__', 'number')}")
    return value


def _file(directory: Path, entry: dict[str, Any], where: str, verify: bool) -> tuple[Path, str]:
    name = _field(entry, "file", str, where)
    if Path(name).name != name:
        raise InferenceError(f"{where}: file {name!r} must be a plain file name inside the pack")
    path = directory / name
    digest = _field(entry, "sha256", str, where)
    if not path.is_file():
        raise InferenceError(f"{where}: {path} does not exist")
    if verify:
        actual = litert.sha256(path)
        if actual != digest:
            raise InferenceError(f"{where}: {path} has SHA-256 {actual}, the manifest says {digest}: "
                                 "the file was changed or replaced; rebuild the pack or fix the manifest")
    return path, digest


def load(directory: str | os.PathLike[str], verify: bool = True) -> Pack:
    """The pack in ``directory``, every file checked against its SHA-256 (unless ``verify`` is False).

    Raises InferenceError for a missing or malformed manifest, a missing file or a digest mismatch.
    """
    directory = Path(directory)
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InferenceError(f"no face model pack in {directory} ({MANIFEST} is missing): "
                             "build one with `kiosk models build DIR`") from None
    except (OSError, ValueError) as exc:
        raise InferenceError(f"{directory / MANIFEST} cannot be read as JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InferenceError(f"{directory / MANIFEST} is not a {FORMAT} manifest")
    detectors = []
    for index, entry in enumerate(manifest.get("detectors") or []):
        where = f"{MANIFEST} detectors[{index}]"
        layout = _field(entry, "layout", str, where)
        if layout not in SPECS:
            raise InferenceError(f"{where}: layout {layout!r} is not one of {', '.join(SPECS)}")
        path, digest = _file(directory, entry, where, verify)
        detectors.append(Detector(_field(entry, "name", str, where), path, digest, layout,
                                  float(_field(entry, "min_score", (int, float), where))))
    if not detectors:
        raise InferenceError(f"{directory / MANIFEST} lists no detector")
    embedders = {}
    for name, entry in (manifest.get("embedders") or {}).items():
        where = f"{MANIFEST} embedders.{name}"
        path, digest = _file(directory, entry, where, verify)
        size = _field(entry, "input", list, where)
        normalisation = _field(entry, "normalisation", dict, where)
        embedders[name] = Embedder(
            name, path, digest, int(size[1]), float(_field(normalisation, "mean", (int, float), where)),
            float(_field(normalisation, "scale", (int, float), where)), int(_field(entry, "dim", int, where)),
            float(_field(entry, "threshold", (int, float), where)), str(entry.get("licence", "unknown")))
    if not embedders:
        raise InferenceError(f"{directory / MANIFEST} lists no embedder")
    default = str(manifest.get("default_embedder"))
    if default not in embedders:
        raise InferenceError(f"{directory / MANIFEST}: default_embedder {default!r} is not one of its embedders")
    return Pack(directory, manifest, tuple(detectors), embedders, default)


def installed(configured: Path | None) -> Path | None:
    """The pack directory to use: the configured one, else the image's when it holds a manifest, else None."""
    if configured is not None:
        return configured
    if (DEFAULT_DIR / MANIFEST).is_file():
        return DEFAULT_DIR
    return None
