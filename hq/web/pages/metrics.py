"""``/metrics`` for Prometheus (bearer token from web.metrics_token) and ``/healthz``, the one open route."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from hq import metrics
from hq.web.deps import ConfigDep, DbDep

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def scrape(request: Request, db: DbDep, config: ConfigDep) -> Response:
    token = config.web.metrics_token
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if token is None or not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        return PlainTextResponse("a bearer token (web.metrics_token) is needed\n", status_code=401,
                                 headers={"WWW-Authenticate": "Bearer"})
    return Response(metrics.exposition(db, config.hq.offline_after_s), media_type=metrics.CONTENT_TYPE)


@router.get("/healthz")
def healthz() -> Response:
    return PlainTextResponse("ok\n")
