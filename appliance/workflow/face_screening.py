"""The crossing's face: which photo, its embedding with the installed models, or why it was not screened.

Every crossing recorded without a client's embedding gets a ``face`` record: the model ids,
the threshold and the face box when the photo was embedded, otherwise the reason as a code
(``face.no_model``: no model installed; ``face.no_photo``: no photo linked; a quality gate
``face.<gate>``; ``face.model_unusable``, ``face.photo_not_decrypted``, ``face.photo_unreadable``,
``face.model_failed`` when a part fails), so the officer's result screen always says, in the
officer's language, whether the face was screened, never silently nothing. The record's
``error`` keeps the failing part's own English text for HQ and a technician. The photo step runs the same gates
(``biometrics.photo_gate``) so the officer can retake at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from appliance.domain.models import FaceScreening
from appliance.domain.reasons import Reason, reason
from appliance.errors import KioskError, NoFaceFound
from appliance.inference import face_pipeline, face_quality
from appliance.workflow import biometrics

if TYPE_CHECKING:
    from appliance.config import Config
    from appliance.storage.store import Store

log = logging.getLogger(__name__)


def _not_screened(why: Reason, error: str | None = None) -> FaceScreening:
    return FaceScreening(source="photo", error=error or why.text(), reason=why.to_dict())


def _embedding_reason(exc: KioskError) -> Reason:
    """The code of an embedding that failed: the gate's own, no face, or the model failing."""
    if isinstance(exc, face_quality.QualityRejected):
        return exc.reason
    if isinstance(exc, NoFaceFound):  # the raw-file contract's detector: no gates, no measures
        return reason("face.no_face")
    return reason("face.model_failed")


def for_crossing(store: Store, config: Config, capture_ids: Iterable[Any]) -> tuple[np.ndarray | None, FaceScreening]:
    """(embedding to screen or None, the screening's ``face`` record) of a crossing's captures.

    The last face photo among ``capture_ids`` is decrypted and embedded. When there is no model,
    no photo, or the photo cannot be embedded (a gate, no face, a broken model), the crossing is
    still screened by document and name and the record says why. Never raises.
    """
    try:
        embedder = face_pipeline.for_settings(config.screening)
    except KioskError as exc:
        return None, _not_screened(reason("face.model_unusable"), str(exc))
    if embedder is None:
        return None, _not_screened(reason("face.no_model"))
    ids = [capture_id for capture_id in capture_ids if isinstance(capture_id, str)]
    photos = biometrics.face_captures(store, ids)
    if not photos:
        return None, _not_screened(reason("face.no_photo"))  # unknown ids are refused by biometrics.link
    photo = photos[-1]
    threshold = face_pipeline.face_threshold(config.screening, embedder)
    variant = embedder.variant if isinstance(embedder, face_pipeline.PackEmbedder) else None

    def failed(why: Reason, error: str) -> tuple[None, FaceScreening]:
        return None, FaceScreening(source="photo", capture_id=photo, error=error, reason=why.to_dict(),
                                   threshold=threshold, variant=variant)

    # Read, decode and embed apart, so the officer is told which part failed.
    try:
        data, _format = biometrics.read(store, config, photo)
    except KioskError as exc:  # no key, another key, or an altered row
        return failed(reason("face.photo_not_decrypted"), str(exc))
    try:
        image = face_pipeline.decode(data)
    except KioskError as exc:
        return failed(reason("face.photo_unreadable"), str(exc))
    try:
        result = embedder.embed_image(image)
    except KioskError as exc:
        return failed(_embedding_reason(exc), str(exc))
    except Exception as exc:  # a model or OpenCV bug must not stop the crossing being recorded
        log.exception("embedding face photo %s failed", photo)
        return failed(reason("face.model_failed"),
                      f"face embedding failed unexpectedly ({type(exc).__name__}: {exc}); see the kiosk log")
    return result.vector, FaceScreening(
        source="photo", capture_id=photo, model=embedder.model_ids, dim=int(result.vector.shape[0]),
        face_box=result.rounded_box(), detector_score=round(result.score, 4) if result.score is not None else None,
        threshold=threshold, variant=variant)


def is_notice(face: FaceScreening) -> bool:
    """Whether a face record's error is the kiosk's state (no model, no photo) rather than this
    traveller's photo failing: shown on the result screen, not added to the screening's warnings."""
    return face.reason is not None and face.reason.get("code") in ("face.no_model", "face.no_photo")
