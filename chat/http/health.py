"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from chat.broker import BrokerUnavailable
from chat.db import DatabaseUnavailable, ping
from chat.http.common import JSON, services

# A probe that waits longer than the balancer's own timeout tells it nothing.
PROBE_TIMEOUT_SECONDS = 2.0


async def healthz(request: Request) -> Response:
    """The process is alive and serving. Touches nothing else, on purpose: a database
    outage must not make an orchestrator restart every web process."""
    return JSON({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Database and broker both answer; otherwise 503 with what failed."""
    svc = services(request)
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(ping(svc.engine), PROBE_TIMEOUT_SECONDS)
        checks["database"] = "ok"
    except (DatabaseUnavailable, TimeoutError) as exc:  # the reason goes in the body
        checks["database"] = f"unavailable: {str(exc) or type(exc).__name__}"
    try:
        await asyncio.wait_for(svc.broker.ping(), PROBE_TIMEOUT_SECONDS)
        checks["broker"] = "ok"
    except (BrokerUnavailable, TimeoutError) as exc:
        checks["broker"] = f"unavailable: {type(exc).__name__}"
    if all(v == "ok" for v in checks.values()):
        return JSON({"status": "ready", "checks": checks})
    failed = ", ".join(k for k, v in checks.items() if v != "ok")
    return JSON(
        {"error": {"code": "not_ready", "message": f"not ready: {failed}"}, "checks": checks},
        status_code=503,
    )
