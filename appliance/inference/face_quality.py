"""Quality gates of a face photo, each with a reason code and a sentence an officer understands.

Each reason is a code of ``appliance.domain.reasons`` (``face.<gate>``) with its numbers, so
the touchscreen shows it in the officer's language. A photo that fails a gate is not embedded: a blurred, dark or turned face gives an embedding
that matches no one (or the wrong one), and the officer can retake it at once. The gates run
in this order and the first that fails is the reason:

======================  =================================================================
code                    failed when
======================  =================================================================
``no_face``             no detector finds a face
``several_faces``       another face at least half as large as the largest is in the photo
``too_small``           the eyes are less than ``MIN_INTEROCULAR`` pixels apart
``tilted``              the eye line is more than ``MAX_ROLL_DEGREES`` from horizontal
``turned``              the nose is off the eyes' midline by more than ``MAX_YAW`` eye distances
``too_dark``            the aligned face's mean grey level is below ``DARK``
``too_bright``          its mean is above ``BRIGHT``, or more than ``MAX_CLIPPED`` of it is saturated
``blurred``             the variance of its Laplacian is below ``MIN_SHARPNESS``
======================  =================================================================

The limits were set on the real photos the model pack's packages ship (all pass) and on the
same photos blurred, darkened, brightened, turned and shrunk (``kiosk bench face`` prints the
rate each gate catches). Exposure is judged before sharpness because a dark face also has
little detail.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from appliance.domain.reasons import Reason, reason
from appliance.errors import InferenceError, NoFaceFound
from appliance.inference.face_detector import LEFT_EYE, NOSE, RIGHT_EYE, Face
from appliance.inference.face_embedder import opencv

MIN_INTEROCULAR = 32.0  # pixels in the captured frame; the ArcFace template's eyes are 35 apart
MAX_ROLL_DEGREES = 20.0
MAX_YAW = 0.35  # nose offset from the eyes' midline, in eye distances (frontal photos: under 0.3)
SEVERAL_FACES_RATIO = 0.5  # a second face at least this fraction of the largest's eye distance
DARK, BRIGHT = 50.0, 215.0  # mean grey level of the aligned face's centre
MAX_CLIPPED = 0.3  # share of the face's centre at 250 or more
MIN_SHARPNESS = 40.0  # variance of the Laplacian of the aligned face's centre (sharp photos: 250+)
CENTRE = (slice(16, 100), slice(20, 92))  # rows, columns of the 112 x 112 face: no background

CODES = ("no_face", "several_faces", "too_small", "tilted", "turned", "too_dark", "too_bright", "blurred")


@dataclass(frozen=True)
class Verdict:
    """The gates' result: ``reason`` None when the photo passes, else the first gate that failed and why."""

    reason: Reason | None
    measures: dict[str, float]

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def code(self) -> str | None:
        """The gate that failed (a code of ``CODES``), or None."""
        return self.reason.code.removeprefix("face.") if self.reason is not None else None


class QualityRejected(InferenceError):
    """A face photo failed a quality gate; ``reason`` says which and why (codes ``face.<gate>``)."""

    def __init__(self, verdict: Verdict) -> None:
        assert verdict.reason is not None
        super().__init__(verdict.reason.text())
        self.reason = verdict.reason
        self.verdict = verdict


class NoFaceRejected(QualityRejected, NoFaceFound):
    """The no_face gate: also a ``NoFaceFound``, which callers of the raw-model contract expect."""


def rejected(verdict: Verdict) -> QualityRejected:
    """The error a failed verdict raises."""
    return NoFaceRejected(verdict) if verdict.code == "no_face" else QualityRejected(verdict)


def pose(face: Face) -> tuple[float, float]:
    """(roll in degrees, yaw as the nose's offset from the eyes' midline in eye distances)."""
    points = face.keypoints.astype(np.float64)
    eyes = points[LEFT_EYE] - points[RIGHT_EYE]
    distance = float(np.linalg.norm(eyes))
    if distance == 0:
        return 90.0, 1.0
    roll = float(np.degrees(np.arctan2(eyes[1], eyes[0])))
    unit = eyes / distance
    offset = points[NOSE] - (points[LEFT_EYE] + points[RIGHT_EYE]) / 2
    yaw = float(offset @ unit) / distance
    return roll, yaw


def geometry(faces: list[Face]) -> Verdict:
    """The gates that need only the detections: face count, size and pose. ``faces`` best first."""
    if not faces:
        return Verdict(reason("face.no_face"), {})
    largest = max(faces, key=lambda f: f.interocular)
    others = [f for f in faces if f is not largest and f.interocular >= SEVERAL_FACES_RATIO * largest.interocular]
    roll, yaw = pose(largest)
    measures = {"faces": float(len(faces)), "interocular_px": round(largest.interocular, 1),
                "roll_degrees": round(roll, 1), "yaw": round(yaw, 3)}
    if others:
        return Verdict(reason("face.several_faces", count=len(others) + 1), measures)
    if largest.interocular < MIN_INTEROCULAR:
        return Verdict(reason("face.too_small", distance=f"{largest.interocular:.0f}",
                              minimum=f"{MIN_INTEROCULAR:.0f}"), measures)
    if abs(roll) > MAX_ROLL_DEGREES:
        return Verdict(reason("face.tilted", degrees=f"{abs(roll):.0f}", maximum=f"{MAX_ROLL_DEGREES:.0f}"), measures)
    if abs(yaw) > MAX_YAW:
        return Verdict(reason("face.turned", offset=f"{abs(yaw):.2f}", maximum=f"{MAX_YAW:.2f}"), measures)
    return Verdict(None, measures)


def appearance(aligned: np.ndarray, measures: dict[str, float] | None = None) -> Verdict:
    """The gates on the aligned 112 x 112 RGB face: exposure, then sharpness."""
    cv2 = opencv()
    grey = cv2.cvtColor(aligned, cv2.COLOR_RGB2GRAY)[CENTRE]
    mean = float(grey.mean())
    clipped = float((grey >= 250).mean())
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    measures = {**(measures or {}), "brightness": round(mean, 1), "clipped": round(clipped, 3),
                "sharpness": round(sharpness, 1)}
    if mean < DARK:
        return Verdict(reason("face.too_dark", brightness=f"{mean:.0f}", minimum=f"{DARK:.0f}"), measures)
    if mean > BRIGHT or clipped > MAX_CLIPPED:
        return Verdict(reason("face.too_bright", brightness=f"{mean:.0f}", saturated=f"{clipped * 100:.0f}"),
                       measures)
    if sharpness < MIN_SHARPNESS:
        return Verdict(reason("face.blurred", sharpness=f"{sharpness:.0f}", minimum=f"{MIN_SHARPNESS:.0f}"), measures)
    return Verdict(None, measures)
