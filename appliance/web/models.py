"""The JSON API's request bodies; an unknown field is refused (422), never ignored."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from appliance.workflow.crossings import ManualDocument


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    officer_id: str = Field(min_length=1, max_length=64)
    pin: str = Field(min_length=1, max_length=32)


class CrossingBody(_Body):
    direction: Literal["entry", "exit"]
    mrz: str | None = Field(default=None, max_length=400, description="MRZ lines as read (newline separated)")
    document: ManualDocument | None = Field(default=None, description="Fields typed by hand when no MRZ")
    decision: Literal["cleared", "referred", "refused"] | None = None
    note: str = Field(default="", max_length=2000)
    capture_ids: list[str] = Field(default_factory=list, max_length=20,
                                   description="Ids from POST /api/captures/photo and /fingerprint")
    unavailable: dict[str, str] | None = Field(
        default=None, description='Why a capture is missing: {"photo": reason, "fingerprint": reason}')
    face_embedding: list[float] | None = Field(
        default=None, min_length=1, max_length=4096,
        description="The traveller's face embedding; screened against the listed faces with the rest")
    request_id: str | None = Field(
        default=None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9-]+$",
        description="The client's id of this record call, one per traveller: a repeat answers the first "
                    "call's crossing (same 201 body) and records nothing")
    purpose: str | None = Field(default=None, max_length=32, description="Purpose of travel, a code of [crossings] purposes")
    visa_number: str | None = Field(default=None, max_length=20, description="A visa holder's visa number")
    visa_type: str | None = Field(default=None, max_length=2, description="The visa's type, as its MRZ prints it (V, VC...)")


class CaptureBody(_Body):
    timeout: float | None = Field(default=None, ge=0, le=60, description="Seconds to wait for a finger")


class OutcomeBody(_Body):
    outcome: Literal["cleared", "refused"]
    note: str = Field(default="", max_length=2000)
    reason: str | None = Field(
        default=None, max_length=40, description="Why: not_the_listed_person, listed_person_confirmed, "
        "document_checked_valid, document_invalid or other (other needs a note)")


class StickExportBody(_Body):
    photos: bool = Field(default=False, description="Include the photos and fingerprint templates HQ does not have "
                                                    "yet, up to [stick] max_photo_mib")


class StickReceiptBody(_Body):
    lists: bool = Field(default=True, description="Also apply the list bundles in lists/ beside the receipt")
