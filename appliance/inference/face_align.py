"""Alignment: a similarity transform from the detector's keypoints onto the ArcFace 112 x 112 template.

Embedders of the MobileFaceNet/ArcFace family were trained on faces warped so that the eyes,
nose and mouth land on fixed points of a 112 x 112 image; a plain crop of the detector's box
gives them faces they never saw (with the pack's embedder, impostors then score above
genuine pairs). BlazeFace gives the two eyes, the nose tip and the mouth centre; the
template's mouth point is the mean of its two mouth corners. The transform (rotation,
uniform scale, translation) is the least-squares fit of Umeyama (1991) over those four points.

A face far larger than the template (a 1280 x 960 frame whose eyes are 200 px apart) is
first cut out and shrunk with area averaging, so that the warp, which samples bilinearly,
does not alias.
"""

from __future__ import annotations

import numpy as np

from appliance.inference.face_detector import LEFT_EYE, MOUTH, NOSE, RIGHT_EYE
from appliance.inference.face_embedder import opencv

SIZE = 112
# InsightFace's arcface_dst: the image's left eye (the subject's right), right eye, nose tip,
# left and right mouth corners, in 112 x 112 pixels.
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)
TARGET = np.vstack([ARCFACE_TEMPLATE[:3], ARCFACE_TEMPLATE[3:].mean(axis=0)])
SOURCE_POINTS = (RIGHT_EYE, LEFT_EYE, NOSE, MOUTH)
MAX_DOWNSCALE = 0.5  # below this warp scale the face is shrunk with INTER_AREA first


def similarity(source: np.ndarray, target: np.ndarray = TARGET) -> np.ndarray:
    """The 2 x 3 similarity transform mapping ``source`` points [K, 2] onto ``target`` in the least-squares sense."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mean_s, mean_t = source.mean(0), target.mean(0)
    s, t = source - mean_s, target - mean_t
    covariance = t.T @ s / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1  # a reflection is not a similarity
    rotation = u @ np.diag(d) @ vt
    variance = (s ** 2).sum() / len(source)
    scale = float((singular * d).sum() / variance) if variance > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mean_t - scale * rotation @ mean_s
    return matrix


def align(image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """The 112 x 112 RGB face of an RGB frame, warped from its keypoints [6, 2] onto the template."""
    cv2 = opencv()
    points = np.asarray(keypoints, np.float64)[list(SOURCE_POINTS)]
    matrix = similarity(points)
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))
    if scale < MAX_DOWNSCALE:
        # Cut out the region the template covers (with a margin), shrink it by area averaging
        # to about the template's scale, then warp that: cheap, and no aliasing.
        inverse = cv2.invertAffineTransform(matrix)
        corners = np.array([[0, 0, 1], [SIZE, 0, 1], [0, SIZE, 1], [SIZE, SIZE, 1]], np.float64) @ inverse.T
        height, width = image.shape[:2]
        x0, y0 = np.floor(corners.min(0)).astype(int) - 2
        x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            factor = 1.0 / scale  # shrink by this much: the warp is then about 1:1
            region = image[y0:y1, x0:x1]
            new_w, new_h = max(2, round((x1 - x0) / factor)), max(2, round((y1 - y0) / factor))
            small = cv2.resize(region, (new_w, new_h), interpolation=cv2.INTER_AREA)
            sx, sy = new_w / (x1 - x0), new_h / (y1 - y0)
            points = (points - [x0, y0]) * [sx, sy]
            matrix = similarity(points)
            image = small
    return cv2.warpAffine(image, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
