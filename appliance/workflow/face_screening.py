"""The crossing's face: which photo, its embedding with the installed models, or why it was not screened.

Every crossing recorded without a client's embedding gets a ``face`` record: the model ids,
the threshold and the face box when the photo was embedded, otherwise the reason as a code
(``face.no_model``: no model installed; ``face.no_photo``: no photo linked; a quality gate
``face.<gate>``; ``face.error``: anything else), so the officer's result screen always says
whether the face was screened, never silently nothing. The photo step runs the same gates
(``biometrics.photo_gate``) so the officer can retake at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from appliance.domain.models import FaceScreening
from appliance.domain.reasons import Reason, reason
from appliance.errors import KioskError
from appliance.inference import face_pipeline, face_quality
from appliance.workflow import biometrics

if TYPE_CHECKING:
    from appliance.config import Config
    from appliance.storage.store import Store

log = logging.getLogger(__name__)


def _not_screened(why: Reason, capture_id: str | None = None) -> FaceScreening:
    return FaceScreening(source="photo", capture_id=capture_id, error=why.text(), reason=why.to_dict())


def _error_reason(exc: KioskError) -> Reason:
    if isinstance(exc, face_quality.QualityRejected):
        return exc.reason
    return reason("face.error", text=str(exc))


def for_crossing(store: Store, config: Config, capture_ids: Iterable[Any]) -> tuple[np.ndarray | None, FaceScreening]:
    """(embedding to screen or None, the screening's ``face`` record) of a crossing's captures.

    The last face photo among ``capture_ids`` is decrypted and embedded. When there is no model,
    no photo, or the photo cannot be embedded (a gate, no face, a broken model), the crossing is
    still screened by document and name and the record says why. Never raises.
    """
    try:
        embedder = face_pipeline.for_settings(config.screening)
    except KioskError as exc:
        return None, _not_screened(reason("face.error", text=str(exc)))
    if embedder is None:
        return None, _not_screened(reason("face.no_model"))
    ids = [capture_id for capture_id in capture_ids if isinstance(capture_id, str)]
    photos = biometrics.face_captures(store, ids)
    if not photos:
        return None, _not_screened(reason("face.no_photo"))  # unknown ids are refused by biometrics.link
    photo = photos[-1]
    threshold = face_pipeline.face_threshold(config.screening, embedder)
    variant = embedder.variant if isinstance(embedder, face_pipeline.PackEmbedder) else None
    try:
        data, _format = biometrics.read(store, config, photo)
        result = embedder.embed(data)
    except KioskError as exc:
        why = _error_reason(exc)
        return None, FaceScreening(source="photo", capture_id=photo, error=str(exc), reason=why.to_dict(),
                                   threshold=threshold, variant=variant)
    except Exception as exc:  # a model or OpenCV bug must not stop the crossing being recorded
        log.exception("embedding face photo %s failed", photo)
        text = f"face embedding failed unexpectedly ({type(exc).__name__}: {exc}); see the kiosk log"
        return None, FaceScreening(source="photo", capture_id=photo, error=text,
                                   reason=reason("face.error", text=text).to_dict())
    return result.vector, FaceScreening(
        source="photo", capture_id=photo, model=embedder.model_ids, dim=int(result.vector.shape[0]),
        face_box=result.rounded_box(), detector_score=round(result.score, 4) if result.score is not None else None,
        threshold=threshold, variant=variant)


def is_notice(face: FaceScreening) -> bool:
    """Whether a face record's error is the kiosk's state (no model, no photo) rather than this
    traveller's photo failing: shown on the result screen, not added to the screening's warnings."""
    return face.reason is not None and face.reason.get("code") in ("face.no_model", "face.no_photo")
