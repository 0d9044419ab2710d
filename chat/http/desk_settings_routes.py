"""The desk-wide ticket rules and the source desks' presets over HTTP: ``GET``/``PATCH
/api/desk/settings`` (staff read, support admins change), ``GET /api/sla/presets`` and
``POST /api/sla/presets/{name}/apply`` (support admins). Mounted in chat/app.py."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from chat.http.common import JSON, current, read_json, services
from escalation import desk_settings, preset_apply


async def get_settings(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON(await desk_settings.get_desk_settings(services(request), principal))


async def patch_settings(request: Request) -> Response:
    principal, _ = await current(request)
    # Free-form on purpose: each key has its own shape, checked (with the field named) by
    # the core's parsers in escalation.desk_rules.
    body = await read_json(request, dict[str, Any])
    return JSON(await desk_settings.update_desk_settings(services(request), principal, body))


async def list_presets(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON({"presets": preset_apply.list_presets(principal)})


async def apply_preset(request: Request) -> Response:
    principal, _ = await current(request)
    applied = await preset_apply.apply_preset(services(request), principal, request.path_params["name"])
    return JSON({"applied": applied})


ROUTES: list[BaseRoute] = [
    Route("/api/desk/settings", get_settings, methods=["GET"]),
    Route("/api/desk/settings", patch_settings, methods=["PATCH"]),
    Route("/api/sla/presets", list_presets, methods=["GET"]),
    Route("/api/sla/presets/{name}/apply", apply_preset, methods=["POST"]),
]
