"""Quick checks of a captured photo (size, exposure, glare, focus) and the preview the officer sees.

The checks use OpenCV when it is installed (the [pi] and dev extras). Without it only the
size is checked, and the hints say so: a photo is never refused for lack of a decoder.
"""

from __future__ import annotations

import base64
from typing import Any

from appliance.domain.reasons import Reason, reason
from appliance.hw.camera import Photo

MIN_SIDE = 160  # px; the face crop an embedder needs is ~112 px
DARK, BRIGHT = 60, 200  # mean grey level
MIN_CONTRAST = 20  # grey-level standard deviation
MAX_GLARE = 0.05  # share of blown-out pixels
MIN_SHARPNESS = 30.0  # variance of the Laplacian at preview size
PREVIEW_WIDTH = 320


def _cv2() -> Any:
    try:
        import cv2
        import numpy  # noqa: F401  (cv2 needs it; imported to fail here, not later)
    except ImportError:
        return None
    return cv2


def assess(photo: Photo) -> dict[str, Any]:
    """{"ok": bool, "hints": [str], "reasons": [reason]}: ok is False when a retake would clearly
    give a better photo; each hint in English, and as a code with parameters (``reasons``,
    ``appliance.domain.reasons``) for the officer's language."""
    found: list[Reason] = []
    if min(photo.width, photo.height) < MIN_SIDE:
        found.append(reason("photo.small", width=photo.width, height=photo.height))
    cv2 = _cv2()
    if cv2 is None:
        return _quality(not found, [*found, reason("photo.not_checked")])
    import numpy as np

    grey = cv2.imdecode(np.frombuffer(photo.data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        return _quality(False, [*found, reason("photo.undecodable")])
    if grey.shape[1] > PREVIEW_WIDTH:
        # Focus is judged at one scale, so the threshold does not depend on the camera.
        grey = cv2.resize(grey, (PREVIEW_WIDTH, round(grey.shape[0] * PREVIEW_WIDTH / grey.shape[1])),
                          interpolation=cv2.INTER_AREA)
    mean, spread = float(grey.mean()), float(grey.std())
    if mean < DARK:
        found.append(reason("photo.too_dark"))
    elif mean > BRIGHT:
        found.append(reason("photo.too_bright"))
    if spread < MIN_CONTRAST:
        found.append(reason("photo.no_contrast"))
    if float((grey >= 250).mean()) > MAX_GLARE:
        found.append(reason("photo.glare"))
    if float(cv2.Laplacian(grey, cv2.CV_64F).var()) < MIN_SHARPNESS:
        found.append(reason("photo.blurred"))
    return _quality(not found, found)


def _quality(ok: bool, found: list[Reason]) -> dict[str, Any]:
    return {"ok": ok, "hints": [item.text() for item in found], "reasons": [item.to_dict() for item in found]}


def preview(photo: Photo) -> str:
    """A small JPEG of the photo as a data: URL (the photo's own encoding when OpenCV is missing)."""
    cv2 = _cv2()
    if cv2 is not None:
        import numpy as np

        image = cv2.imdecode(np.frombuffer(photo.data, np.uint8), cv2.IMREAD_COLOR)
        if image is not None:
            if image.shape[1] > PREVIEW_WIDTH:
                image = cv2.resize(image, (PREVIEW_WIDTH, round(image.shape[0] * PREVIEW_WIDTH / image.shape[1])),
                                   interpolation=cv2.INTER_AREA)
            ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
            if ok:
                return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")
    return f"data:{photo.media_type};base64," + base64.b64encode(photo.data).decode("ascii")
