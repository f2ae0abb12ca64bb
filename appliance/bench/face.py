"""``kiosk bench face``: the model pack's face pipeline on real photos, beside its peers in the same run.

Peers: the float32 embedder for each int8 variant (latency, and the cosine between the two
embeddings of one face), and a plain crop of the detector's box (no alignment) for the
separation of genuine and impostor pairs. Photos are the real faces the packages ship
(``pack_build.SAMPLES``: three photos of one person, one each of two others), then the same
photos under the capture conditions of a post (rotation, blur, JPEG at low quality, dim and
glaring light, small faces). Given a folder in LFW layout with its pairs file, TAR at FAR
1e-3 and ROC points, so HQ can validate a model on its own data.
"""

from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from appliance.inference import face_align, pack_build
from appliance.inference.face_embedder import decode
from appliance.inference.face_pipeline import PackEmbedder

TARGET_PIPELINE_MS = 30.0
TARGET_INT8_COSINE = 0.95
PEER_CROP_MARGIN = 0.2  # the raw-model contract's box crop (face_embedder.CROP_MARGIN)


def _cv2() -> Any:
    import cv2

    return cv2


def stage_times(embedder: PackEmbedder, image: np.ndarray, rounds: int) -> dict[str, float]:
    """Median milliseconds of each stage (resize, detect, align, embed) and their total, one photo."""
    samples: dict[str, list[float]] = {"resize": [], "detect": [], "align": [], "embed": []}
    for round_ in range(rounds + 1):
        analysis = embedder.analyse(image)
        assert analysis.aligned is not None
        started = time.perf_counter()
        embedder.embed_aligned(analysis.aligned)
        embed_ms = (time.perf_counter() - started) * 1e3
        if round_ == 0:
            continue  # warm-up: first-call allocations
        for stage in ("resize", "detect", "align"):
            samples[stage].append(analysis.timings.get(stage, 0.0))
        samples["embed"].append(embed_ms)
    medians = {stage: round(statistics.median(values), 2) for stage, values in samples.items()}
    medians["total"] = round(sum(medians.values()), 2)
    # The target's measure: what the models and the warp cost, without the frame's resize.
    medians["detect_align_embed"] = round(medians["detect"] + medians["align"] + medians["embed"], 2)
    return medians


def box_crop(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The peer's face: the detector's box widened by 20 %, made square, resized to 112 (no alignment)."""
    cv2 = _cv2()
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1 + 2 * PEER_CROP_MARGIN)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    height, width = image.shape[:2]
    side = min(side, height, width)
    left = int(round(min(max(cx - side / 2, 0), width - side)))
    top = int(round(min(max(cy - side / 2, 0), height - side)))
    crop = image[top:top + int(side), left:left + int(side)]
    return cv2.resize(crop, (face_align.SIZE, face_align.SIZE), interpolation=cv2.INTER_AREA)


def conditions(image: np.ndarray, interocular: float) -> dict[str, np.ndarray]:
    """The photo as a post's camera might take it: each condition a new image."""
    cv2 = _cv2()
    height, width = image.shape[:2]
    out: dict[str, np.ndarray] = {}
    for degrees in (15, 30):
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
        out[f"rotated {degrees} deg"] = cv2.warpAffine(image, matrix, (width, height))
    for sigma in (0.02, 0.04, 0.1):  # in eye distances: slight and strong motion/focus blur
        out[f"blur sigma {sigma} IOD"] = cv2.GaussianBlur(image, (0, 0), max(interocular * sigma, 0.5))
    for quality in (10, 5):
        encoded = cv2.imencode(".jpg", image[:, :, ::-1].copy(), [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
        out[f"JPEG quality {quality}"] = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1].copy()
    for factor in (0.35, 0.15):
        out[f"dim x{factor}"] = (image.astype(np.float32) * factor).astype(np.uint8)
    for offset in (90, 160):
        out[f"glare +{offset}"] = np.clip(image.astype(np.int16) + offset, 0, 255).astype(np.uint8)
    for target in (40, 24):
        scale = target / max(interocular, 1.0)
        out[f"small: eyes {target} px"] = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return out


def read_lfw_pairs(folder: Path, pairs_file: Path) -> list[tuple[Path, Path, bool]]:
    """(photo, photo, same person) of an LFW-style pairs file: "name i j" (genuine) or "name1 i name2 j"."""
    pairs = []
    for line in pairs_file.read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.split()
        if len(parts) == 3:
            name, first, second = parts
            pairs.append((folder / name / f"{name}_{int(first):04d}.jpg", folder / name / f"{name}_{int(second):04d}.jpg",
                          True))
        elif len(parts) == 4:
            pairs.append((folder / parts[0] / f"{parts[0]}_{int(parts[1]):04d}.jpg",
                          folder / parts[2] / f"{parts[2]}_{int(parts[3]):04d}.jpg", False))
    return pairs


def roc(genuine: list[float], impostor: list[float]) -> dict[str, Any]:
    """TAR at FAR 1e-3 (and 1e-2) and ROC points (threshold, FAR, TAR) from the two score lists."""
    g, i = np.sort(np.asarray(genuine)), np.sort(np.asarray(impostor))
    points = []
    for threshold in np.linspace(-0.2, 1.0, 25):
        points.append({"threshold": round(float(threshold), 3), "far": round(float((i >= threshold).mean()), 5),
                       "tar": round(float((g >= threshold).mean()), 5)})
    result: dict[str, Any] = {"genuine_pairs": len(g), "impostor_pairs": len(i), "roc": points}
    for far in (1e-3, 1e-2):
        # The threshold that lets through at most that share of impostors.
        index = min(len(i) - 1, int(np.ceil(len(i) * (1 - far))))
        threshold = float(i[index]) if len(i) else 1.0
        result[f"tar_at_far_{far:g}"] = {"threshold": round(threshold, 4), "tar": round(float((g > threshold).mean()), 4)}
    return result


def _pairs(vectors: dict[str, np.ndarray], person: dict[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    genuine: list[dict[str, Any]] = []
    impostor: list[dict[str, Any]] = []
    for a, b in itertools.combinations(sorted(vectors), 2):
        item = {"pair": f"{a}-{b}", "cosine": round(float(vectors[a] @ vectors[b]), 4)}
        (genuine if person[a] == person[b] else impostor).append(item)
    return genuine, impostor


def run(pack: Path, rounds: int = 20, lfw: Path | None = None, lfw_pairs: Path | None = None,
        say: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Every figure of the benchmark as one dict (``kiosk bench face --json`` prints it)."""
    say("loading the pack's embedders")
    embedders = {name: PackEmbedder(pack, name, threads=1) for name in sorted(PackEmbedder(pack).pack.embedders)}
    reference = embedders["float32"] if "float32" in embedders else next(iter(embedders.values()))
    say("fetching the sample photos from their packages")
    photos = {name: decode(data) for name, data in pack_build.samples().items()}
    person = pack_build.SAMPLE_PERSON
    analyses = {name: reference.analyse(image) for name, image in photos.items()}
    failed = {name: a.verdict.reason.text() for name, a in analyses.items() if not a.verdict.ok and a.verdict.reason}
    usable = {name: a for name, a in analyses.items() if a.aligned is not None and a.verdict.ok}
    report: dict[str, Any] = {
        "pack": str(pack), "threads": 1, "rounds": rounds,
        "photos": {name: {"size": list(photos[name].shape[:2]), "person": person[name],
                          "gates": analyses[name].verdict.measures,
                          "passed": analyses[name].verdict.ok} for name in photos},
        "photos_failing_gates": failed,
    }
    say("timing the stages on every photo")
    latency: dict[str, Any] = {}
    for variant, embedder in embedders.items():
        per_photo = {name: stage_times(embedder, photos[name], rounds) for name in usable}
        totals = [t["total"] for t in per_photo.values()]
        latency[variant] = {"per_photo": per_photo, "median_total_ms": round(statistics.median(totals), 2),
                            "max_total_ms": round(max(totals), 2),
                            "median_detect_align_embed_ms": round(statistics.median(
                                t["detect_align_embed"] for t in per_photo.values()), 2),
                            "max_detect_align_embed_ms": round(max(t["detect_align_embed"] for t in per_photo.values()), 2),
                            "median_embed_ms": round(statistics.median(t["embed"] for t in per_photo.values()), 2)}
    report["latency_ms"] = latency
    report["pipeline_target_ms"] = TARGET_PIPELINE_MS
    vectors = {variant: {name: e.embed_aligned(a.aligned) for name, a in usable.items() if a.aligned is not None}
               for variant, e in embedders.items()}
    report["cosine_vs_float32"] = {
        variant: {name: round(float(vectors[variant][name] @ vectors[reference.variant][name]), 4)
                  for name in usable}
        for variant in embedders if variant != reference.variant}
    report["cosine_target"] = TARGET_INT8_COSINE
    separation = {}
    for variant, embedder in embedders.items():
        genuine, impostor = _pairs(vectors[variant], person)
        threshold = embedder.threshold
        separation[variant] = {
            "threshold": threshold, "genuine": genuine, "impostor": impostor,
            "every_genuine_above": all(p["cosine"] >= threshold for p in genuine),
            "every_impostor_below": all(p["cosine"] < threshold for p in impostor)}
    peer_vectors = {name: reference.embed_aligned(box_crop(photos[name], max(a.faces, key=lambda f: f.interocular).box))
                    for name, a in usable.items()}
    genuine, impostor = _pairs(peer_vectors, person)
    separation["peer_box_crop_float32"] = {"genuine": genuine, "impostor": impostor,
                                           "lowest_genuine": min((p["cosine"] for p in genuine), default=None),
                                           "highest_impostor": max((p["cosine"] for p in impostor), default=None)}
    report["separation"] = separation
    say("the same faces under a post's capture conditions")
    report["conditions"] = _conditions(reference, photos, usable)
    if lfw is not None and lfw_pairs is not None:
        say(f"LFW pairs from {lfw_pairs}")
        report["lfw"] = _lfw(embedders[reference.pack.default_embedder], lfw, lfw_pairs)
    return report


def _conditions(embedder: PackEmbedder, photos: dict[str, np.ndarray], usable: dict[str, Any]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, analysis in usable.items():
        original = embedder.embed_aligned(analysis.aligned)
        face = max(analysis.faces, key=lambda f: f.interocular)
        for condition, image in conditions(photos[name], face.interocular).items():
            entry = results.setdefault(condition, {"photos": 0, "caught": {}, "passed": 0, "similarity": []})
            entry["photos"] += 1
            verdict = embedder.analyse(image)
            if verdict.verdict.ok and verdict.aligned is not None:
                entry["passed"] += 1
                entry["similarity"].append(round(float(embedder.embed_aligned(verdict.aligned) @ original), 4))
            else:
                code = verdict.verdict.code or "unknown"
                entry["caught"][code] = entry["caught"].get(code, 0) + 1
    for entry in results.values():
        entry["caught_rate"] = round(1 - entry["passed"] / entry["photos"], 3)
        entry["min_similarity"] = min(entry["similarity"]) if entry["similarity"] else None
    return results


def _lfw(embedder: PackEmbedder, folder: Path, pairs_file: Path) -> dict[str, Any]:
    cache: dict[Path, np.ndarray | None] = {}

    def vector(path: Path) -> np.ndarray | None:
        if path not in cache:
            try:
                cache[path] = embedder.embed(path.read_bytes()).vector
            except Exception:  # a photo the gates refuse is counted, not fatal
                cache[path] = None
        return cache[path]

    genuine: list[float] = []
    impostor: list[float] = []
    skipped = 0
    for first, second, same in read_lfw_pairs(folder, pairs_file):
        a, b = vector(first), vector(second)
        if a is None or b is None:
            skipped += 1
            continue
        (genuine if same else impostor).append(float(a @ b))
    return {"variant": embedder.variant, "skipped_pairs": skipped, **roc(genuine, impostor)}
