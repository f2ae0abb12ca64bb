"""BlazeFace on LiteRT: letterbox the frame, run the model, decode its anchors, merge overlapping boxes.

The MediaPipe face detectors output raw regressors ``[1, N, 16]`` (box centre and size, then
six keypoints, in input pixels relative to an anchor) and logits ``[1, N, 1]``; the anchors
are not in the file. They are generated here the way MediaPipe's ``SsdAnchorsCalculator``
does with fixed anchor size: one anchor centre per feature-map cell, ``per_cell`` of them
per cell for each stride. Short range (128 x 128): strides 8, 16, 16, 16 (16 x 16 x 2 +
8 x 8 x 6 = 896 anchors); full range (192 x 192): stride 4 (48 x 48 x 1 = 2304). Boxes that
overlap are merged by MediaPipe's weighted non-maximum suppression (the score-weighted mean
of the cluster), which steadies the keypoints the alignment rests on.

Keypoints, in the order the model gives them: the subject's right eye, left eye, nose tip,
mouth centre, right ear tragion, left ear tragion (the subject's right eye is on the image's
left in a photo that is not mirrored).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
import numpy as np

from appliance.errors import InferenceError
from appliance.inference import litert
from appliance.inference.face_embedder import opencv

RIGHT_EYE, LEFT_EYE, NOSE, MOUTH, RIGHT_TRAGION, LEFT_TRAGION = range(6)
KEYPOINTS = 6
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold for both face detectors
SCORE_CLIP = 100.0  # logits are clipped before the sigmoid, as MediaPipe does


@dataclass(frozen=True)
class AnchorSpec:
    """How one BlazeFace variant lays its anchors out and how its outputs are scaled."""

    input_size: int
    strides: tuple[int, ...]
    per_cell: tuple[int, ...]  # anchors per cell for each distinct stride, in stride order


# The layouts of MediaPipe's face_detection_short_range and face_detection_full_range graphs.
SHORT_RANGE = AnchorSpec(128, (8, 16), (2, 6))
FULL_RANGE = AnchorSpec(192, (4,), (1,))
SPECS = {"short_range": SHORT_RANGE, "full_range": FULL_RANGE}


def anchors(spec: AnchorSpec) -> np.ndarray:
    """Anchor centres [N, 2] (x, y), normalised 0..1, in the order of the model's outputs."""
    centres = []
    for stride, count in zip(spec.strides, spec.per_cell):
        side = -(-spec.input_size // stride)
        ys, xs = np.meshgrid((np.arange(side) + 0.5) / side, (np.arange(side) + 0.5) / side, indexing="ij")
        cell = np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1)
        centres.append(np.repeat(cell, count, axis=0))
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class Face:
    """One detected face in the frame's pixels: box (x0, y0, x1, y1), score 0..1, keypoints [6, 2] (x, y)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray

    @property
    def interocular(self) -> float:
        """Distance between the eye centres, in the frame's pixels."""
        return float(np.linalg.norm(self.keypoints[LEFT_EYE] - self.keypoints[RIGHT_EYE]))

    def normalised_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """(ymin, xmin, ymax, xmax) normalised to the frame and clipped to it: the crossing's face box."""
        x0, y0, x1, y1 = self.box
        return (min(max(y0 / height, 0.0), 1.0), min(max(x0 / width, 0.0), 1.0),
                min(max(y1 / height, 0.0), 1.0), min(max(x1 / width, 0.0), 1.0))


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, int, int]:
    """The RGB frame scaled to fit ``size`` x ``size`` with its aspect kept, padded with black;
    and (scale, left pad, top pad) to map the model's pixels back to the frame's."""
    cv2 = opencv()
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    left, top = (size - new_w) // 2, (size - new_h) // 2
    canvas[top:top + new_h, left:left + new_w] = resized
    return canvas, scale, left, top


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0, y0 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x1, y1 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou: float = NMS_IOU) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression: each cluster around the best remaining box
    becomes one face whose box and keypoints are the score-weighted mean of the cluster's."""
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    merged = []
    remaining = np.arange(len(scores))
    while remaining.size:
        overlap = _iou(boxes[remaining[0]], boxes[remaining])
        cluster, remaining = remaining[overlap > iou], remaining[overlap <= iou]
        weights = scores[cluster][:, None]
        box = (boxes[cluster] * weights).sum(0) / weights.sum()
        points = (keypoints[cluster] * weights[:, :, None]).sum(0) / weights.sum()
        merged.append((box, points, float(scores[cluster[0]])))
    return merged


class BlazeFace:
    """One BlazeFace model and its anchors; ``detect(image)`` gives the faces of an RGB frame, best first."""

    def __init__(self, path: str | os.PathLike[str], spec: AnchorSpec, min_score: float, threads: int = 1) -> None:
        """Raises InferenceError if the model cannot be loaded or its tensors are not BlazeFace's."""
        self.model = litert.Model(path, threads)
        self.spec = spec
        self.min_score = min_score
        self.anchors = anchors(spec)
        shape = [int(n) for n in self.model.input["shape"]]
        if shape != [1, spec.input_size, spec.input_size, 3]:
            raise InferenceError(f"face detector {path} takes {shape}; this layout needs "
                                 f"[1, {spec.input_size}, {spec.input_size}, 3]")
        count = len(self.anchors)
        outputs = [[int(n) for n in o["shape"]] for o in self.model.outputs]
        try:
            self._regressors = outputs.index([1, count, 4 + 2 * KEYPOINTS])
            self._logits = outputs.index([1, count, 1])
        except ValueError:
            raise InferenceError(f"face detector {path} has outputs {outputs}; BlazeFace with {count} anchors has "
                                 f"[1, {count}, 16] and [1, {count}, 1]") from None

    def input_tensor(self, image: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        """The model's input for an RGB frame, and how to map back (see ``letterbox``)."""
        canvas, scale, left, top = letterbox(image, self.spec.input_size)
        return (canvas.astype(np.float32) / 127.5 - 1.0)[None], scale, left, top

    def detect_tensor(self, tensor: np.ndarray, scale: float, left: int, top: int) -> list[Face]:
        """Faces from an input tensor made by ``input_tensor``, in the frame's pixels, best first."""
        outputs = self.model.run(tensor)
        raw = outputs[self._regressors][0]
        logits = np.clip(outputs[self._logits][0, :, 0].astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
        scores = 1.0 / (1.0 + np.exp(-logits))
        keep = scores >= self.min_score
        if not np.any(keep):
            return []
        size = float(self.spec.input_size)
        raw, scores, centre = raw[keep], scores[keep], self.anchors[keep] * size
        cx, cy = raw[:, 0] + centre[:, 0], raw[:, 1] + centre[:, 1]
        half_w, half_h = raw[:, 2] / 2, raw[:, 3] / 2
        boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
        points = raw[:, 4:].reshape(-1, KEYPOINTS, 2) + centre[:, None, :]
        faces = []
        for box, keypoints, score in weighted_nms(boxes, points, scores):
            # From the letterboxed model input back to the frame's pixels.
            box = (box - np.array([left, top, left, top])) / scale
            keypoints = (keypoints - np.array([left, top])) / scale
            faces.append(Face((float(box[0]), float(box[1]), float(box[2]), float(box[3])), score,
                              keypoints.astype(np.float32)))
        return faces

    def detect(self, image: np.ndarray) -> list[Face]:
        """The faces in an RGB uint8 frame, best first. Raises InferenceError if the model fails."""
        return self.detect_tensor(*self.input_tensor(image))
