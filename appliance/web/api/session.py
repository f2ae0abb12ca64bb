"""The officer's API session: log in for a bearer token, log out, who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header

from appliance.web.deps import Authenticated, ConfigDep, OfficersDep, bearer_token
from appliance.web.models import LoginBody

router = APIRouter(tags=["session"])


@router.post("/api/login")
def login(body: LoginBody, config: ConfigDep, officers: OfficersDep) -> dict[str, Any]:
    session = officers.login(body.officer_id, body.pin)
    return {
        "token": session.token,
        "officer": {"id": session.officer.id, "role": session.officer.role},
        "idle_timeout_seconds": config.security.session_idle_minutes * 60,
    }


@router.post("/api/logout")
def logout(officer: Authenticated, officers: OfficersDep,
           authorization: Annotated[str | None, Header()] = None) -> dict[str, str]:
    officers.logout(bearer_token(authorization))
    return {"logged_out": officer.id}


@router.get("/api/me")
def me(officer: Authenticated) -> dict[str, Any]:
    return {"id": officer.id, "role": officer.role}
