"""The local HTTP API (FastAPI): login, crossings, statistics, devices, health; serves the UI.

Every route except ``/api/health`` needs a bearer token from ``POST /api/login`` (or the
touchscreen's session cookie, see ``appliance.web.pages``; its pages are included here).
Errors come back as ``{"error": message, "kind": ErrorClass}`` with a status that says
which side is wrong (401/403/404/422/423).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from appliance import __version__
from appliance.config import Config
from appliance.domain import clock, mrz
from appliance.errors import (
    AuthError,
    ConfigError,
    DeviceError,
    Forbidden,
    KioskError,
    LockedOut,
    MRZError,
    NotFound,
    WorkflowError,
)
from appliance.lists.csv_import import list_status
from appliance.storage.officers import Officer, Officers
from appliance.storage.store import Store
from appliance.web.pages import build_router, ui_session_token
from appliance.workflow import biometrics, crossings, stats

log = logging.getLogger(__name__)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    officer_id: str = Field(min_length=1, max_length=64)
    pin: str = Field(min_length=1, max_length=32)


class CrossingBody(_Body):
    direction: Literal["entry", "exit"]
    mrz: str | None = Field(default=None, max_length=400, description="MRZ lines as read (newline separated)")
    document: crossings.ManualDocument | None = Field(default=None, description="Fields typed by hand when no MRZ")
    decision: Literal["cleared", "referred", "refused"] | None = None
    note: str = Field(default="", max_length=2000)
    capture_ids: list[str] = Field(default_factory=list, max_length=20,
                                   description="Ids from POST /api/captures/photo and /fingerprint")
    unavailable: dict[str, str] | None = Field(
        default=None, description='Why a capture is missing: {"photo": reason, "fingerprint": reason}')
    face_embedding: list[float] | None = Field(
        default=None, min_length=1, max_length=4096,
        description="The traveller's face embedding; screened against the listed faces with the rest")


class CaptureBody(_Body):
    timeout: float | None = Field(default=None, ge=0, le=60, description="Seconds to wait for a finger")


class OutcomeBody(_Body):
    outcome: Literal["cleared", "refused"]
    note: str = Field(default="", max_length=2000)


_STATUS = [
    (LockedOut, 423),
    (Forbidden, 403),
    (AuthError, 401),
    (NotFound, 404),
    (MRZError, 422),
    (WorkflowError, 422),
    (KioskError, 400),
]


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthError("not logged in: send 'Authorization: Bearer <token>' from POST /api/login")
    return authorization[7:].strip()


def current_officer(request: Request, authorization: Annotated[str | None, Header()] = None) -> Officer:
    """The officer of the bearer token (or the touchscreen's cookie); raises AuthError without a live session."""
    token = None if authorization else ui_session_token(request)
    return request.app.state.officers.session(token or _bearer(authorization)).officer


def _capture(take: Any) -> Any:
    """Run a capture; a missing or failing device, or no biometric key, is 503 {"detail": ...}."""
    try:
        return take()
    except (DeviceError, ConfigError) as exc:
        return JSONResponse({"detail": str(exc), "kind": type(exc).__name__}, status_code=503)


# Module level, not inside create_app: FastAPI resolves these annotations by name.
Authenticated = Annotated[Officer, Depends(current_officer)]


def create_app(config: Config, store: Store, devices: Any = None) -> FastAPI:
    """The kiosk's app over one store; ``devices`` is the opened hardware (None: no devices)."""
    app = FastAPI(title="Border kiosk", version=__version__, description=__doc__)
    officers = Officers(store, config.security)
    app.state.officers = officers
    app.state.devices = devices
    app.state.power_policy = None  # set by the service once the policy runs

    @app.exception_handler(KioskError)
    async def _kiosk_error(_request: Request, exc: KioskError) -> JSONResponse:
        status = next(code for kind, code in _STATUS if isinstance(exc, kind))
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": str(exc), "kind": type(exc).__name__}, status_code=status, headers=headers)

    @app.get("/api/health", tags=["health"])
    def health() -> dict[str, Any]:
        """Liveness for systemd, the browser and HQ; no authentication, no personal data."""
        return {
            "status": "ok",
            "version": __version__,
            "post_id": config.kiosk.post_id,
            "kiosk_id": config.kiosk.kiosk_id,
            "training": config.kiosk.training,
            "time": clock.iso(clock.utcnow()),
        }

    @app.post("/api/login", tags=["session"])
    def login(body: LoginBody) -> dict[str, Any]:
        session = officers.login(body.officer_id, body.pin)
        return {
            "token": session.token,
            "officer": {"id": session.officer.id, "role": session.officer.role},
            "idle_timeout_seconds": config.security.session_idle_minutes * 60,
        }

    @app.post("/api/logout", tags=["session"])
    def logout(officer: Authenticated, authorization: Annotated[str | None, Header()] = None) -> dict[str, str]:
        officers.logout(_bearer(authorization))
        return {"logged_out": officer.id}

    @app.get("/api/me", tags=["session"])
    def me(officer: Authenticated) -> dict[str, Any]:
        return {"id": officer.id, "role": officer.role}

    @app.post("/api/crossings", tags=["crossings"], status_code=201)
    def record_crossing(body: CrossingBody, officer: Authenticated) -> dict[str, Any]:
        """Screen and record a crossing; the answer comes only after it is durably stored."""
        request = crossings.CrossingRequest(
            direction=body.direction, mrz=body.mrz, document=body.document, decision=body.decision, note=body.note,
            capture_ids=tuple(body.capture_ids), unavailable=body.unavailable,
            face_embedding=tuple(body.face_embedding) if body.face_embedding is not None else None,
        )
        crossing = crossings.record(store, config, officer, request)
        indicators = getattr(devices, "indicators", None)
        if crossing["screening"]["hits"] and indicators is not None:
            try:
                indicators.watchlist_hit()
            except Exception:
                # The crossing is recorded; a buzzer fault must not turn that into an error.
                log.exception("watchlist hit indicators failed")
        return crossing

    @app.post("/api/captures/photo", tags=["captures"], status_code=201)
    def capture_photo(officer: Authenticated) -> Any:
        """Take a face photo now; stored encrypted until linked to a crossing. 503 if no camera."""
        return _capture(lambda: biometrics.capture_photo(store, config, devices, officer))

    @app.post("/api/captures/fingerprint", tags=["captures"], status_code=201)
    def capture_fingerprint(officer: Authenticated, body: CaptureBody | None = None) -> Any:
        """Wait for a finger and store its template encrypted. 503 if no module or no finger."""
        timeout = body.timeout if body is not None else None
        return _capture(lambda: biometrics.capture_fingerprint(store, config, devices, officer, timeout))

    @app.get("/api/crossings", tags=["crossings"])
    def list_crossings(
        officer: Authenticated,
        day: Annotated[date | None, Query(alias="date", description="Post-local day, YYYY-MM-DD")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        since = until = None
        if day is not None:
            since, until = clock.day_bounds(day, config.kiosk.timezone)
        items = crossings.list_crossings(store, since=since, until=until, limit=limit, offset=offset)
        return {"crossings": items, "count": len(items)}

    @app.get("/api/crossings/{crossing_id}", tags=["crossings"])
    def get_crossing(crossing_id: str, officer: Authenticated) -> dict[str, Any]:
        return crossings.get(store, crossing_id)

    @app.post("/api/crossings/{crossing_id}/outcome", tags=["crossings"])
    def resolve_crossing(crossing_id: str, body: OutcomeBody, officer: Authenticated) -> dict[str, Any]:
        """A supervisor records the outcome of a referred crossing."""
        return crossings.resolve(store, officer, crossing_id, body.outcome, body.note)

    @app.get("/api/stats/daily", tags=["statistics"])
    def daily_stats(
        officer: Authenticated,
        first: Annotated[date | None, Query(alias="from", description="First day (default: today)")] = None,
        last: Annotated[date | None, Query(alias="to", description="Last day (default: same as from)")] = None,
        training: bool = False,
    ) -> dict[str, Any]:
        first = first or clock.local_today(config.kiosk.timezone)
        return {
            "timezone": config.kiosk.timezone,
            "training": training,
            "days": stats.daily(store, first, last or first, config.kiosk.timezone, training=training),
        }

    @app.get("/api/lists", tags=["screening"])
    def lists(officer: Authenticated) -> dict[str, Any]:
        return {"lists": list_status(store)}

    @app.get("/api/devices", tags=["devices"])
    def device_status(officer: Authenticated) -> dict[str, Any]:
        if devices is None:
            return {"devices": {}}
        return {"devices": devices.status()}

    @app.post("/api/reader/read", tags=["devices"])
    def read_document(officer: Authenticated, timeout: Annotated[float, Query(ge=0, le=30)] = 5.0) -> dict[str, Any]:
        """Wait for a document on the MRZ reader and return its parsed MRZ (nothing is recorded)."""
        if devices is None:
            raise NotFound("this kiosk has no MRZ reader configured")
        text = devices.mrz_reader.read(timeout)
        if text is None:
            return {"mrz": None, "parsed": None}
        return {"mrz": text, "parsed": mrz.parse(text).to_dict()}

    app.include_router(build_router(config, store, devices))
    return app

