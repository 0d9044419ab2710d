"""The desk's dictionaries over HTTP (support admins write, staff read): categories,
support groups, business calendars, SLA policies. Mounted through ``ticket_routes.ROUTES``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from chat.errors import ValidationFailed
from chat.http.common import JSON, Strict, current, path_id, read_json, services
from chat.validation import Id, SmallInt
from escalation import admin


class CategoryBody(Strict):
    name: str
    # The title per language; left out (null): the stored titles are kept.
    titles: dict[str, str] | None = None
    availability: str = "customer"
    resolution: dict[str, float] | None = None
    stage_one: dict[str, float] | None = None
    default_severity: SmallInt | None = None
    position: SmallInt = 0
    active: bool = True


def _fields(body: msgspec.Struct) -> dict[str, Any]:
    return {f: getattr(body, f) for f in body.__struct_fields__}


async def put_category(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, CategoryBody)
    key = request.path_params["key"]
    return JSON({"category": await admin.put_category(services(request), principal, key, _fields(body))})


async def delete_category(request: Request) -> Response:
    principal, _ = await current(request)
    await admin.delete_category(services(request), principal, request.path_params["key"])
    return Response(status_code=204)


class GroupBody(Strict):
    name: str
    level: SmallInt
    lead_id: Id | None = None
    position: SmallInt = 0


async def put_group(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, GroupBody)
    group = await admin.put_support_group(services(request), principal, request.path_params["key"], _fields(body))
    return JSON({"group": group})


async def list_calendars(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON({"calendars": await admin.list_calendars(services(request), principal)})


class CalendarBody(Strict):
    name: str
    definition: dict[str, Any]


async def put_calendar(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, CalendarBody)
    calendar = await admin.put_calendar(services(request), principal, request.path_params["key"], body.name,
                                        body.definition)
    return JSON({"calendar": calendar})


async def delete_calendar(request: Request) -> Response:
    principal, _ = await current(request)
    await admin.delete_calendar(services(request), principal, request.path_params["key"])
    return Response(status_code=204)


PREVIEW_DAYS = 42  # six weeks: what the screen shows unless asked for more


async def preview_calendar(request: Request) -> Response:
    """``?from=YYYY-MM-DD`` (default: today in the calendar's zone) ``&days=n`` (1-400)."""
    principal, _ = await current(request)
    start: date | None = None
    if request.query_params.get("from"):
        try:
            start = date.fromisoformat(request.query_params["from"])
        except ValueError:
            raise ValidationFailed("from: a date like 2026-12-31", field="from") from None
    days_text = request.query_params.get("days", str(PREVIEW_DAYS))
    if not (days_text.isascii() and days_text.isdigit()):
        raise ValidationFailed("days: a whole number of days", field="days")
    days = await admin.preview_calendar(services(request), principal, request.path_params["key"], start,
                                        int(days_text))
    return JSON({"days": days})


async def holiday_countries(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON({"countries": admin.list_holiday_countries(principal)})


class PolicyBody(Strict):
    name: str
    calendar: str = "24x7"
    tier: str | None = None
    category: str | None = None
    severity: SmallInt | None = None
    first_response: dict[str, float] | None = None
    next_response: dict[str, float] | None = None
    stage_one: dict[str, float] | None = None
    resolution: dict[str, float] | None = None
    warning_share: float = 0.8
    day_rule: str = "whole_days"
    auto_close_waiting: str | None = None
    auto_close_proposed: str | None = None


_AT_FIELD = re.compile(r"at `\$\.([A-Za-z_]+)|missing required field `([A-Za-z_]+)`|unknown field `([A-Za-z_]+)`")


async def _policy_body(request: Request) -> PolicyBody:
    """The body, a mistyped field refused naming it (msgspec says where: "... at `$.x`")."""
    try:
        return await read_json(request, PolicyBody)
    except ValidationFailed as exc:
        match = _AT_FIELD.search(exc.message)
        if match is None or exc.field is not None:
            raise
        field = next(group for group in match.groups() if group)
        raise ValidationFailed(exc.message, code=exc.code, field=field) from None


async def list_policies(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON({"policies": await admin.list_policies(services(request), principal)})


async def create_policy(request: Request) -> Response:
    principal, _ = await current(request)
    body = await _policy_body(request)
    return JSON({"policy": await admin.create_policy(services(request), principal, _fields(body))}, status_code=201)


async def update_policy(request: Request) -> Response:
    principal, _ = await current(request)
    body = await _policy_body(request)
    policy = await admin.update_policy(services(request), principal, path_id(request, "policy_id"), _fields(body))
    return JSON({"policy": policy})


async def delete_policy(request: Request) -> Response:
    principal, _ = await current(request)
    await admin.delete_policy(services(request), principal, path_id(request, "policy_id"))
    return Response(status_code=204)


ROUTES: list[BaseRoute] = [
    Route("/api/categories/{key}", put_category, methods=["PUT"]),
    Route("/api/categories/{key}", delete_category, methods=["DELETE"]),
    Route("/api/groups/support/{key}", put_group, methods=["PUT"]),
    Route("/api/sla/calendars", list_calendars, methods=["GET"]),
    Route("/api/sla/calendars/{key}", put_calendar, methods=["PUT"]),
    Route("/api/sla/calendars/{key}", delete_calendar, methods=["DELETE"]),
    Route("/api/sla/calendars/{key}/preview", preview_calendar, methods=["GET"]),
    Route("/api/sla/holiday-countries", holiday_countries, methods=["GET"]),
    Route("/api/sla/policies", list_policies, methods=["GET"]),
    Route("/api/sla/policies", create_policy, methods=["POST"]),
    Route("/api/sla/policies/{policy_id}", update_policy, methods=["PUT"]),
    Route("/api/sla/policies/{policy_id}", delete_policy, methods=["DELETE"]),
]
