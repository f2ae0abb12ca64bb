"""``GET /api/lists``: the screening lists in force, their versions and ages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from appliance.web.deps import Authenticated, StoreDep
from appliance.workflow import status

router = APIRouter(tags=["screening"])


@router.get("/api/lists")
def lists(officer: Authenticated, store: StoreDep) -> dict[str, Any]:
    return {"lists": status.lists(store)}
