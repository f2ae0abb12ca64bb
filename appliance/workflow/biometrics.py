"""Face photos and fingerprint templates: captured from the devices, encrypted at rest, linked to crossings.

Each capture is one row of ``captures``: AES-256-GCM ciphertext under
``security.biometric_key``, with the capture's id, kind and format as associated data so a
ciphertext moved to another row does not decrypt. A capture is taken before the crossing
is recorded (the officer sees the quality and may retake) and is linked to it in the
crossing's own transaction; captures never linked can be purged with
``purge_unlinked``. Without a key nothing is captured: biometrics are never stored in
clear.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from appliance.domain import clock
from appliance.domain.models import Capture
from appliance.domain.reasons import reason
from appliance.errors import ConfigError, DeviceError, KioskError, NotFound, WorkflowError
from appliance.hw.photo_quality import assess, preview
from appliance.inference import face_pipeline
from appliance.storage import audit, key_files
from appliance.storage.officers import Officer, require_role

if TYPE_CHECKING:
    from appliance.config import Config
    from appliance.storage.store import Store

KINDS = ("face", "fingerprint")
# Keys of a crossing's "unavailable" map, and the capture kind each one stands for.
UNAVAILABLE_KINDS = {"photo": "face", "fingerprint": "fingerprint"}
MAX_REASON = 500


def key_configured(config: Config) -> bool:
    """Whether the config names a biometric key (in the config, the environment or a key file)."""
    return config.security.biometric_key is not None or config.security.biometric_key_file is not None


def key(config: Config) -> bytes:
    """The 32-byte biometric key, from ``security.biometric_key`` or ``security.biometric_key_file``.

    Raises ConfigError if neither is set, or if the key file is missing, readable by group or
    others (``appliance.storage.key_files``) or not 64 hex characters (never echoed).
    """
    path = config.security.biometric_key_file
    if path is not None:
        text = key_files.read_private(path, "biometric key file").decode("ascii", "replace").strip()
        if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
            raise ConfigError(f"biometric key file {path} must hold 64 hex characters (32 bytes), "
                              f"not {len(text)} characters")
        return bytes.fromhex(text)
    secret = config.security.biometric_key
    if secret is None:
        raise ConfigError(
            "security.biometric_key is not set (64 hex characters, or $KIOSK_SECURITY_BIOMETRIC_KEY, or a "
            "security.biometric_key_file): photos and fingerprints are not captured without it"
        )
    return bytes.fromhex(secret.get_secret_value())


def _aad(capture_id: str, kind: str, fmt: str) -> bytes:
    return f"{capture_id}|{kind}|{fmt}".encode()


def encrypt(key_bytes: bytes, capture_id: str, kind: str, fmt: str, data: bytes) -> tuple[bytes, bytes]:
    """(nonce, ciphertext) of ``data`` bound to its capture id, kind and format."""
    nonce = os.urandom(12)
    return nonce, AESGCM(key_bytes).encrypt(nonce, data, _aad(capture_id, kind, fmt))


def capture_photo(store: Store, config: Config, devices: Any, officer: Officer) -> dict[str, Any]:
    """Take a face photo, store it encrypted, and return {capture_id, kind, quality, preview}.

    Raises Forbidden for a technician, ConfigError without a biometric key, DeviceError
    if no camera is configured or the capture failed. Nothing is stored when it raises.
    """
    key_bytes, camera = _key_and_device(config, devices, officer, "camera", "no camera is configured on this kiosk")
    with _busy(devices):
        photo = camera.capture()
    quality = assess(photo)
    gate = photo_gate(config, photo.data)
    if gate is not None:
        # The model pack's gates (face found, size, pose, exposure, sharpness): a photo the
        # kiosk could not screen by face is a retake now, not a surprise on the result screen.
        quality["face"] = gate
        if not gate["ok"]:
            quality["ok"] = False
            quality["hints"] = [*quality["hints"], gate["reason"]["text"]]
            quality["reasons"] = [*quality["reasons"], gate["reason"]]
    capture_id = _store(store, key_bytes, officer, "face", photo.media_type, photo.data, quality)
    return {"capture_id": capture_id, "kind": "face", "quality": quality, "preview": preview(photo)}


def photo_gate(config: Config, photo: bytes) -> dict[str, Any] | None:
    """The model pack's quality gates on a just-taken photo: {"ok", "reason"} (``reason`` a
    ``face.<gate>`` code with its text, None when it passes); None when no pack is installed
    (raw model files have no gates) or the pack cannot be loaded (the crossing will say so)."""
    try:
        embedder = face_pipeline.for_settings(config.screening)
        if not isinstance(embedder, face_pipeline.PackEmbedder):
            return None
    except KioskError:
        return None
    # A photo that is no image, or a model that fails: the officer reads what to do (a code);
    # the model's own words are a technician's, in the face record when the crossing is made.
    try:
        image = face_pipeline.decode(photo)
    except KioskError:
        return {"ok": False, "reason": reason("face.photo_unreadable").to_dict()}
    try:
        verdict = embedder.analyse(image).verdict
    except KioskError:
        return {"ok": False, "reason": reason("face.model_failed").to_dict()}
    return {"ok": verdict.ok, "reason": verdict.reason.to_dict() if verdict.reason is not None else None}


def face_captures(store: Store, capture_ids: list[str]) -> list[str]:
    """The face photos among ``capture_ids``, in their order (unknown ids are left out)."""
    if not capture_ids:
        return []
    marks = ",".join("?" * len(capture_ids))
    with store.lock:
        faces = {row[0] for row in store.conn.execute(
            f"SELECT id FROM captures WHERE kind = 'face' AND id IN ({marks})", capture_ids)}
    return [capture_id for capture_id in capture_ids if capture_id in faces]


def capture_fingerprint(store: Store, config: Config, devices: Any, officer: Officer,
                        timeout: float | None = None) -> dict[str, Any]:
    """Read one finger, store its template encrypted, and return {capture_id, kind, quality}.

    Raises Forbidden for a technician, ConfigError without a biometric key, DeviceError
    if no fingerprint module is fitted, no finger came, or the module failed.
    """
    key_bytes, scanner = _key_and_device(config, devices, officer, "fingerprint",
                                         "no fingerprint module is fitted on this kiosk")
    with _busy(devices):
        result = scanner.capture(timeout)
    quality = {"ok": result.ok, "hints": list(result.hints), "reasons": [item.to_dict() for item in result.reasons]}
    capture_id = _store(store, key_bytes, officer, "fingerprint", result.format, result.template, quality)
    return {"capture_id": capture_id, "kind": "fingerprint", "quality": quality}


def _key_and_device(config: Config, devices: Any, officer: Officer, name: str, missing: str) -> tuple[bytes, Any]:
    """(biometric key, device ``name``) for a capture by ``officer``.

    Checked before the device is touched, in this order: the role (Forbidden), the key
    (ConfigError), the device (DeviceError with ``missing``).
    """
    require_role(officer, "officer", "supervisor")
    key_bytes = key(config)
    device = getattr(devices, name, None)
    if device is None:
        raise DeviceError(missing)
    return key_bytes, device


class _busy:
    """The busy LED while a device works, back to ready after (an alert stays an alert)."""

    def __init__(self, devices: Any) -> None:
        self.indicators = getattr(devices, "indicators", None)

    def __enter__(self) -> None:
        if self.indicators is not None and self.indicators.state == "ready":
            self.indicators.set_state("busy")

    def __exit__(self, *_exc: object) -> None:
        if self.indicators is not None and self.indicators.state == "busy":
            self.indicators.set_state("ready")


def _store(store: Store, key_bytes: bytes, officer: Officer, kind: str, fmt: str, data: bytes,
           quality: dict[str, Any]) -> str:
    capture_id = str(uuid.uuid4())
    nonce, ciphertext = encrypt(key_bytes, capture_id, kind, fmt, data)
    with store.transaction():
        store.conn.execute(
            "INSERT INTO captures(id, crossing_id, kind, format, nonce, ciphertext, quality, created_at)"
            " VALUES (?, NULL, ?, ?, ?, ?, ?, ?)",
            (capture_id, kind, fmt, nonce, ciphertext, json.dumps(quality, ensure_ascii=False),
             clock.iso(clock.utcnow())),
        )
        audit.append(store, officer.id, f"capture.{kind}", capture_id,
                     {"format": fmt, "bytes": len(data), "quality_ok": quality["ok"]})
    return capture_id


def check_unavailable(unavailable: dict[str, str] | None) -> dict[str, str]:
    """The crossing's "unavailable" map, checked; raises WorkflowError naming a bad key or reason."""
    if not unavailable:
        return {}
    if not isinstance(unavailable, dict):
        raise WorkflowError("unavailable must map 'photo'/'fingerprint' to a reason", reason("record.unavailable_kinds"))
    checked = {}
    for name, text in unavailable.items():
        if name not in UNAVAILABLE_KINDS:
            raise WorkflowError(f"unavailable: {name!r} is not one of {', '.join(UNAVAILABLE_KINDS)}",
                                reason("record.unavailable_kinds"))
        if not isinstance(text, str) or not text.strip():
            raise WorkflowError(f"unavailable.{name}: give the reason as text",
                                reason("record.unavailable_empty", kind=name))
        if len(text) > MAX_REASON:
            raise WorkflowError(f"unavailable.{name}: reason is longer than {MAX_REASON} characters",
                                reason("record.unavailable_too_long", kind=name, limit=MAX_REASON))
        checked[name] = text.strip()
    return checked


def link(store: Store, crossing_id: str, capture_ids: Iterable[str],
         unavailable: dict[str, str] | None = None) -> list[Capture]:
    """Attach captures to a crossing; call inside the crossing's ``store.transaction()``.

    Returns the captures in the order given. Raises WorkflowError for an
    unknown id, an id given twice, a capture already linked to a crossing, or a kind
    that is also declared unavailable; the caller's transaction then rolls back.
    """
    ids = list(capture_ids)
    if len(set(ids)) != len(ids):
        raise WorkflowError("capture_ids names the same capture twice", reason("record.capture_ids"))
    linked: list[Capture] = []
    for capture_id in ids:
        if not isinstance(capture_id, str):
            raise WorkflowError(f"capture id {capture_id!r} is not a string", reason("record.capture_ids"))
        row = store.conn.execute("SELECT kind, format, crossing_id FROM captures WHERE id = ?",
                                 (capture_id,)).fetchone()
        if row is None:
            raise WorkflowError(f"unknown capture {capture_id!r} (expired, or taken on another kiosk?)",
                                reason("record.capture_unknown"))
        kind, fmt, already = row
        if already is not None:
            raise WorkflowError(f"capture {capture_id} already belongs to crossing {already}",
                                reason("record.capture_linked", crossing=already))
        linked.append(Capture(id=capture_id, kind=kind, format=fmt))
    for name, kind in UNAVAILABLE_KINDS.items():
        if unavailable and name in unavailable and any(capture.kind == kind for capture in linked):
            raise WorkflowError(f"{name} is both captured and declared unavailable",
                                reason("record.captured_and_missing", kind=name))
    store.conn.executemany("UPDATE captures SET crossing_id = ? WHERE id = ?",
                           [(crossing_id, capture.id) for capture in linked])
    return linked


def of_crossings(store: Store, crossing_ids: list[str]) -> dict[str, list[Capture]]:
    """crossing id -> its captures, in capture order."""
    found: dict[str, list[Capture]] = {crossing_id: [] for crossing_id in crossing_ids}
    if not crossing_ids:
        return found
    marks = ",".join("?" * len(crossing_ids))
    with store.lock:
        rows = store.conn.execute(
            f"SELECT crossing_id, id, kind, format FROM captures WHERE crossing_id IN ({marks})"
            " ORDER BY created_at, id",
            crossing_ids,
        ).fetchall()
    for crossing_id, capture_id, kind, fmt in rows:
        found[crossing_id].append(Capture(id=capture_id, kind=kind, format=fmt))
    return found


def read(store: Store, config: Config, capture_id: str) -> tuple[bytes, str]:
    """(plain bytes, format) of one capture.

    Raises NotFound for an unknown id, ConfigError without a key, WorkflowError if the
    ciphertext does not decrypt with the configured key (wrong key or altered row).
    """
    key_bytes = key(config)
    with store.lock:
        row = store.conn.execute("SELECT kind, format, nonce, ciphertext FROM captures WHERE id = ?",
                                 (capture_id,)).fetchone()
    if row is None:
        raise NotFound(f"no capture {capture_id!r}")
    kind, fmt, nonce, ciphertext = row
    try:
        return AESGCM(key_bytes).decrypt(nonce, ciphertext, _aad(capture_id, kind, fmt)), fmt
    except InvalidTag:
        raise WorkflowError(
            f"capture {capture_id} does not decrypt: wrong security.biometric_key, or the row was altered"
        ) from None


def uplink_reader(store: Store, config: Config) -> Callable[[str], tuple[bytes, str] | None]:
    """For the uplink: capture id -> (bytes, format), or None once the capture is gone."""
    def capture_bytes(capture_id: str) -> tuple[bytes, str] | None:
        try:
            return read(store, config, capture_id)
        except NotFound:
            return None

    return capture_bytes


def purge_unlinked(store: Store, older_than: timedelta = timedelta(hours=1),
                   now: datetime | None = None) -> int:
    """Delete captures never linked to a crossing (the traveller left); returns how many went."""
    cutoff = clock.iso((now or clock.utcnow()) - older_than)
    with store.transaction():
        before = store.conn.total_changes
        store.conn.execute("DELETE FROM captures WHERE crossing_id IS NULL AND created_at < ?", (cutoff,))
        purged = store.conn.total_changes - before
        if purged:
            audit.append(store, "system", "capture.purge_unlinked", "", {"count": purged})
    return purged
