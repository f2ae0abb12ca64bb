"""The [screening] section: hit thresholds, stale lists, the list signing key and the face models."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from appliance.config.common import StrictModel


class ScreeningSection(StrictModel):
    refer_on_document_problem: bool = Field(
        default=True,
        title="Refer on document problem",
        description="When a check digit fails or the document is expired and the officer gave no "
        "decision, refer the traveller to secondary instead of clearing.",
    )
    threshold: float = Field(
        default=0.7, ge=0, le=1, title="Hit threshold",
        description="Document and name hits scoring at least this (0-1) are reported and refer the traveller.",
    )
    face_threshold: float = Field(
        default=0.6, ge=-1, le=1, title="Face hit threshold",
        description="Cosine similarity (-1..1) at or above which a listed face is a hit; depends on the "
        "embedding model, so set it from the model's calibration.",
    )
    max_list_age_hours: float = Field(
        default=14 * 24, gt=0, title="Stale list age",
        description="A list older than this (hours since HQ published it, or since its import) is stale.",
    )
    stale_policy: Literal["warn", "refer"] = Field(
        default="warn", title="Stale list policy",
        description="What a stale list does to each crossing: 'warn' shows it, 'refer' sends every "
        "traveller to secondary until a fresh list arrives.",
    )
    face_model_mismatch: Literal["warn", "refer"] = Field(
        default="warn", title="Face model mismatch policy",
        description="When the kiosk's embedder is not the model that made a persons list's faces, those "
        "faces are not searched (names and documents still are): 'warn' shows it with each crossing, "
        "'refer' sends the traveller to secondary, as a face screening that did not happen.",
    )
    trusted_key: Path | None = Field(
        default=None, title="HQ list signing key",
        description="PEM file of HQ's Ed25519 public key; list bundles signed by any other key are "
        "refused. Without it no bundle can be applied.",
    )
    index_dir: Path | None = Field(
        default=None, title="Index directory",
        description="Where each list version's index files live (default: <data_dir>/lists); "
        "must be on the same persistent storage as the database.",
    )
    face_embedder_model: Path | None = Field(
        default=None, title="Face embedder model",
        description="TFLite model turning the traveller's face photo into an embedding (docs/faces.md); "
        "unset or empty: photos are not screened by face. HQ must embed the listed faces with the same model.",
    )
    face_detector_model: Path | None = Field(
        default=None, title="Face detector model",
        description="TFLite face detector (boxes and scores) whose best box is cropped for the embedder; "
        "unset or empty: the centred square of the photo is used.",
    )
    face_pack: Path | None = Field(
        default=None, title="Face model pack",
        description="Directory of a face model pack (manifest.json, detectors, embedders; docs/faces.md); unset: "
        "the image's pack in /opt/kiosk/models when one is installed. face_embedder_model, when set, is used instead.",
    )
    face_pack_embedder: str | None = Field(
        default=None, title="Face model pack embedder",
        description="Which of the pack's embedders to run (e.g. float32, int8-weights, int8); unset: the manifest's "
        "default. HQ must embed the listed faces with the same one.",
    )
    face_detector_min_score: float = Field(
        default=0.5, ge=0, le=1, title="Face detector minimum score",
        description="A detected box scoring below this (0-1) is no face: the crossing is recorded and "
        "says the face was not screened.",
    )
    inference_threads: int = Field(
        default=1, ge=1, le=4, title="Inference threads",
        description="CPU threads each face model may use (1-4); more is faster on a Pi 4/5 but competes "
        "with the UI and the uplink.",
    )

    @field_validator("face_embedder_model", "face_detector_model", mode="before")
    @classmethod
    def _empty_is_off(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("face_embedder_model", "face_detector_model")
    @classmethod
    def _model_file_exists(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # Checked at load time: a typo must stop `kiosk run`, not surface at the first traveller.
        if value is not None and not value.is_file():
            state = "is not a file" if value.exists() else "does not exist"
            raise ValueError(f"{info.field_name} {value} {state}")
        return value

    @field_validator("face_pack", mode="before")
    @classmethod
    def _empty_pack_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("face_pack")
    @classmethod
    def _pack_has_manifest(cls, value: Path | None) -> Path | None:
        # Checked at load time, like the model files: a wrong path must stop `kiosk run`.
        if value is not None and not (value / "manifest.json").is_file():
            raise ValueError(f"face_pack {value} holds no manifest.json (build one with `kiosk models build DIR`)")
        return value

    @model_validator(mode="after")
    def _detector_needs_embedder(self) -> Self:
        if self.face_detector_model is not None and self.face_embedder_model is None:
            raise ValueError(f"face_detector_model {self.face_detector_model} is set but face_embedder_model is "
                             "not: a detector alone screens nothing")
        return self
