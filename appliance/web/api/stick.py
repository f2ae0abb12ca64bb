"""``/api/stick``: crossings to HQ on a USB stick and HQ's receipt back, for a supervisor (the USB stick screen's API).

The same workflow as ``kiosk export`` and ``kiosk import-receipt`` (``appliance.workflow.stick``,
which audits each export and receipt as the supervisor), on the stick at ``[stick] mount_dir``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from appliance.config import Config
from appliance.errors import NotFound
from appliance.storage.officers import require_role
from appliance.storage.store import Store
from appliance.web.deps import Authenticated, ConfigDep, StoreDep
from appliance.web.models import StickExportBody, StickReceiptBody
from appliance.workflow import stick

router = APIRouter(tags=["uplink"])

MIB = 1024 * 1024


def _mounted(store: Store, config: Config) -> dict[str, Any]:
    state = stick.survey(store, config, config.stick.mount_dir)
    if not state["mounted"]:
        raise NotFound(f"no USB stick at {config.stick.mount_dir} (no folder there the kiosk can write): "
                       "put one in and wait a few seconds")
    return state


@router.get("/api/stick")
def stick_status(officer: Authenticated, config: ConfigDep, store: StoreDep) -> dict[str, Any]:
    """The stick: ``mounted``, what waits for HQ (``crossings``, ``captures``, ``items``), HQ's ``receipts`` for
    this kiosk on it (newest export first) and the ``lists`` bundles beside them; supervisors only (403)."""
    require_role(officer, "supervisor")
    return stick.survey(store, config, config.stick.mount_dir)


@router.post("/api/stick/export", status_code=201)
def stick_export(officer: Authenticated, config: ConfigDep, store: StoreDep,
                 body: StickExportBody | None = None) -> dict[str, Any]:
    """Write everything HQ has not receipted onto the stick, as ``kiosk export``; supervisors only (403).

    404 without a stick; 400 ``ConfigError`` without ``uplink.hq_stick_key``, ``UplinkError`` when the
    stick cannot be written (nothing counted or audited then).
    """
    require_role(officer, "supervisor")
    _mounted(store, config)
    return stick.export(store, config, config.stick.mount_dir, photos=(body or StickExportBody()).photos,
                        max_photo_bytes=config.stick.max_photo_mib * MIB, actor=officer.id)


@router.post("/api/stick/receipt")
def stick_receipt(officer: Authenticated, config: ConfigDep, store: StoreDep,
                  body: StickReceiptBody | None = None) -> dict[str, Any]:
    """Apply HQ's newest receipt for this kiosk on the stick, then its list bundles; supervisors only (403).

    404 without a stick or a receipt on it; 400 ``ProtocolError`` for a refused receipt (replayed, older,
    another kiosk's, not signed by HQ, truncated: nothing changes), as ``kiosk import-receipt``.
    """
    require_role(officer, "supervisor")
    state = _mounted(store, config)
    if not state["receipts"]:
        raise NotFound(f"no receipt from HQ for kiosk {config.kiosk.post_id}/{config.kiosk.kiosk_id} on the stick "
                       f"at {config.stick.mount_dir}")
    result = stick.apply_receipt(store, config, config.stick.mount_dir / state["receipts"][0], actor=officer.id,
                                 lists=(body or StickReceiptBody()).lists)
    return {"file": state["receipts"][0], **result}
