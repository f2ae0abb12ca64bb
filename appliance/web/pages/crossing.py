"""The new-crossing screen and the calls its script makes while the officer works: MRZ and field checks, camera view.

The script records through the JSON API (``appliance.web.api``); the routes here read only.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from fastapi.responses import Response
from starlette.routing import NoMatchFound

from appliance.domain.reasons import unavailable_reason
from appliance.errors import DeviceError
from appliance.hw import photo_quality
from appliance.storage.officers import require_role
from appliance.web import reasons
from appliance.web.deps import ConfigDep, DevicesDep, PageOfficer, PeekOfficer, ScriptOfficer, StoreDep
from appliance.web.i18n import N_
from appliance.web.models import CrossingBody
from appliance.web.pages.feedback import (
    FIELD_LABEL,
    FIELD_RULES,
    FIELD_TEXT,
    REQUIRED_FIELDS,
    FieldText,
    document_feedback,
    mrz_feedback,
)
from appliance.web.pages.render import DIRECTION_TEXT, Translate, message, render, translate
from appliance.workflow import drafts

router = APIRouter(include_in_schema=False)


def _records_capture_fields() -> bool:
    # The capture steps send capture ids and "unavailable" reasons only once the API's
    # crossing body accepts them; before that the crossing is recorded without them.
    return "capture_ids" in CrossingBody.model_fields and "unavailable" in CrossingBody.model_fields


def _has_route(request: Request, name: str) -> bool:
    # By the handler's name: the app's own routes may be included routers, not a flat list.
    try:
        request.app.url_path_for(name)
    except NoMatchFound:
        return False
    return True


def missing_captures(request: Request, devices: Any, _: Translate) -> dict[str, dict[str, str]]:
    """Capture steps that cannot work on this kiosk, known before the officer tries: reason and text."""
    missing = {}
    for kind, device_attr, what in (("photo", "camera", N_("no camera")),
                                    ("fingerprint", "fingerprint", N_("no fingerprint reader"))):
        if not _has_route(request, f"capture_{kind}"):
            reason = f"{kind} capture is not installed on this kiosk"
            text = _("{kind} capture is not installed on this kiosk", kind=_(kind.capitalize()))
        elif getattr(devices, device_attr, None) is None:
            reason, text = f"device unavailable: {what}", _(what)
        else:
            continue
        missing[kind] = {"reason": reason, "text": text}
    return missing


def draft_unavailable_text(draft: dict[str, Any], _: Translate) -> dict[str, str]:
    """Why a kept crossing has no photo or fingerprint, in the officer's language, from the stored
    reason's code (``unavailable_reason``); the screen shows a reason button's own label instead."""
    return {kind: reasons.render(_, unavailable_reason(text))
            for kind, text in (draft.get("unavailable") or {}).items() if isinstance(text, str)}


class DraftBody(BaseModel):
    """The crossing screen's state before the record call (``appliance.workflow.drafts``); unknown fields refused."""

    model_config = ConfigDict(extra="forbid")

    direction: Literal["entry", "exit"]
    step: Literal["document", "photo", "fingerprint", "record"]
    mode: Literal["reader", "mrz", "fields"] = "reader"
    mrz: str | None = Field(default=None, max_length=400)
    document: dict[str, FieldText] | None = Field(default=None, max_length=20)
    captures: dict[Literal["photo", "fingerprint"], Annotated[str, StringConstraints(max_length=64)]] = {}
    unavailable: dict[Literal["photo", "fingerprint"], Annotated[str, StringConstraints(max_length=300)]] = {}


@router.put("/ui/draft")
def save_draft(officer: ScriptOfficer, store: StoreDep, body: DraftBody) -> dict[str, Any]:
    """Keep the crossing in progress for this officer (a reload or a new login picks it up); records nothing."""
    drafts.save(store, officer, body.model_dump())
    return {"kept": True}


@router.delete("/ui/draft")
def discard_draft(officer: ScriptOfficer, store: StoreDep) -> dict[str, Any]:
    """The officer cancelled the crossing in progress."""
    drafts.discard(store, officer.id)
    return {"kept": False}


@router.get("/crossing")
def crossing_page(request: Request, officer: PageOfficer, config: ConfigDep, devices: DevicesDep, store: StoreDep,
                  direction: str | None = None) -> Response:
    if officer.role not in ("officer", "supervisor"):
        return message(request, officer, 403, N_("Not allowed"), N_("Your role cannot record crossings."))
    draft = drafts.load(store, officer, config.security.draft_minutes)
    if draft is not None and direction in DIRECTION_TEXT and draft["direction"] != direction:
        draft = None  # a new crossing the other way: the one in progress stays kept for "Resume"
    if draft is not None:
        draft = {**draft, "unavailable_text": draft_unavailable_text(draft, translate(request))}
    return render(request, "crossing.html", officer, draft=draft,
                  direction=direction if direction in DIRECTION_TEXT else None,
                  capture_fields=_records_capture_fields(),
                  unavailable=missing_captures(request, devices, translate(request)),
                  refer_manual=config.screening.refer_on_document_problem,
                  purposes=config.crossings.purposes if config.crossings.ask_purpose else [],
                  FIELD_TEXT=FIELD_TEXT, FIELD_LABEL=FIELD_LABEL, FIELD_RULES=FIELD_RULES,
                  REQUIRED_FIELDS=REQUIRED_FIELDS)


@router.post("/ui/mrz-check")
def mrz_check(request: Request, officer: ScriptOfficer,
              text: Annotated[str, Body(embed=True, max_length=400)]) -> dict[str, Any]:
    """The typed MRZ's fields, check digits and document problems; nothing is recorded."""
    return mrz_feedback(text, translate(request))


@router.post("/ui/document-check")
def document_check(request: Request, officer: ScriptOfficer,
                   fields: Annotated[dict[str, FieldText], Body(embed=True, max_length=20)]) -> dict[str, Any]:
    """Per-field feedback for a document typed without an MRZ; nothing is recorded."""
    return document_feedback(fields, translate(request))


@router.get("/ui/camera/preview")
def camera_preview(officer: PeekOfficer, devices: DevicesDep) -> Response:
    """One small frame of the camera for the photo step's live view; never stored, never audited.

    503 ``{"error", "kind"}`` when there is no camera or it fails, as for a capture.
    """
    require_role(officer, "officer", "supervisor")
    camera = getattr(devices, "camera", None)
    if camera is None:
        raise DeviceError("no camera is configured on this kiosk")
    frame = camera.preview()
    # The same small JPEG a capture shows (photo_quality.preview), as bytes rather than a data: URL.
    header, _comma, payload = photo_quality.preview(frame).partition(",")
    media_type = header.removeprefix("data:").split(";")[0]
    return Response(base64.b64decode(payload), media_type=media_type, headers={"Cache-Control": "no-store"})
