"""Tickets over HTTP: open, list, read, change, transition, assign, transfer, tasks; the
customer's end of a chat and its rating; categories and support groups. The use cases in
``escalation`` authorize; these handlers only parse and translate (docs/http.md, "Tickets").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from chat import validation
from chat.errors import ValidationFailed
from chat.http import sla_routes
from chat.http.common import JSON, Strict, current, int_query, path_id, read_json, services
from chat.validation import Id, SmallInt
from escalation import admin, intake, partner, queries, tickets
from escalation.closing import rating_of
from escalation.models import TicketChannel


class TicketBody(Strict):
    subject: str
    description: str
    category: str | None = None
    severity: SmallInt | None = None
    channel: TicketChannel = TicketChannel.WEB
    requester_id: Id | None = None
    requester_email: str | None = None
    email: str | None = None
    name: str | None = None
    assets: list[str] = msgspec.field(default_factory=list)
    happened_at: datetime | None = None
    cc: list[Id] = msgspec.field(default_factory=list)
    linked_from: Id | None = None


async def open_ticket(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, TicketBody)
    draft = tickets.TicketDraft(**{f: getattr(body, f) for f in body.__struct_fields__})
    opened = await intake.open_ticket_with_conversation(services(request), principal, draft)
    return JSON({"ticket": opened.ticket, "conversation": opened.conversation}, status_code=201)


def _bool_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise ValidationFailed(f"{name} must be true or false")
    return raw == "true"


async def list_tickets(request: Request) -> Response:
    """``GET /api/tickets?status=&level=&group=&assignee=&q=&tracked=&category=&handled_by=&cursor=&limit=``"""
    principal, _ = await current(request)
    params = request.query_params
    statuses, open_only = queries.parse_statuses(params["status"]) if "status" in params else ((), False)
    assignee = params.get("assignee")
    if assignee is not None and assignee not in ("me", "none") and not (validation.ascii_int(assignee) or 0) >= 1:
        raise ValidationFailed("assignee must be a user id, 'me' or 'none'")
    filters = queries.TicketFilter(
        statuses=statuses, open_only=open_only, level=int_query(request, "level", 1, 3), group=params.get("group"),
        assignee=assignee, tracked=_bool_param(request, "tracked"), category=params.get("category"),
        q=params.get("q") or None, handled_by=queries.parse_handled_by(params.get("handled_by")),
    )
    items, cursor = await queries.list_tickets(
        services(request), principal, filters, cursor=params.get("cursor"),
        limit=int_query(request, "limit", 1, queries.MAX_PAGE) or 50,
    )
    return JSON({"tickets": items, "next_cursor": cursor})


async def get_ticket(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON({"ticket": await tickets.get_ticket(services(request), principal, path_id(request, "ticket_id"))})


class PatchBody(Strict):
    subject: str | UnsetType = UNSET
    category: str | UnsetType | None = UNSET
    severity: SmallInt | UnsetType | None = UNSET
    assets: list[str] | UnsetType = UNSET
    cc: list[Id] | UnsetType = UNSET
    happened_at: datetime | UnsetType | None = UNSET
    label: str | UnsetType | None = UNSET


def _given(body: msgspec.Struct) -> dict[str, Any]:
    return {f: getattr(body, f) for f in body.__struct_fields__ if getattr(body, f) is not UNSET}


async def update_ticket(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, PatchBody)
    ticket = await tickets.update_ticket(services(request), principal, path_id(request, "ticket_id"), _given(body))
    return JSON({"ticket": ticket})


class StatusBody(Strict):
    action: str
    note: str | None = None


async def change_status(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, StatusBody)
    ticket = await tickets.change_status(services(request), principal, path_id(request, "ticket_id"), body.action,
                                         note=body.note)
    return JSON({"ticket": ticket})


class AssignBody(Strict):
    assignee_id: Id | None


async def assign(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, AssignBody)
    ticket = await tickets.assign_ticket(services(request), principal, path_id(request, "ticket_id"), body.assignee_id)
    return JSON({"ticket": ticket})


class TransferBody(Strict):
    level: SmallInt | None = None
    group: str | None = None
    note: str | None = None
    to_platform: bool = False  # a partner hands its own first line's ticket to platform staff


async def transfer(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, TransferBody)
    ticket_id = path_id(request, "ticket_id")
    if body.to_platform:
        ticket = await partner.transfer_to_platform(services(request), principal, ticket_id, level=body.level,
                                                    group=body.group, note=body.note)
    else:
        ticket = await tickets.transfer_ticket(services(request), principal, ticket_id, level=body.level,
                                               group=body.group, note=body.note)
    return JSON({"ticket": ticket})


class TaskBody(Strict):
    text: str | UnsetType = UNSET
    hours: float | UnsetType | None = UNSET
    type: str | UnsetType = UNSET
    due_at: datetime | UnsetType | None = UNSET
    status: str | UnsetType = UNSET
    assignee_id: int | UnsetType | None = UNSET


async def add_task(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, TaskBody)
    task = await tickets.add_task(services(request), principal, path_id(request, "ticket_id"), _given(body))
    return JSON({"task": task}, status_code=201)


async def update_task(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, TaskBody)
    task = await tickets.update_task(services(request), principal, path_id(request, "ticket_id"),
                                     path_id(request, "task_id"), _given(body))
    return JSON({"task": task})


class EscalateBody(Strict):
    level: SmallInt | None = None
    group: str | None = None
    category: str | None = None
    severity: SmallInt | None = None
    note: str | None = None


async def escalate(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, EscalateBody)
    ticket = await tickets.escalate_conversation(
        services(request), principal, path_id(request, "conversation_id"), reason="agent", level=body.level,
        group=body.group, category=body.category, severity=body.severity, note=body.note,
    )
    return JSON({"ticket": ticket})


class RatingBody(Strict):
    value: Literal["good", "none", "bad"]
    reason: str | None = None
    comment: str | None = None


class CloseBody(Strict):
    rating: RatingBody | None = None


async def close_conversation(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, CloseBody) if request.headers.get("content-length", "0") != "0" else CloseBody()
    rating = rating_of(body.rating.value, body.rating.reason, body.rating.comment) if body.rating else None
    ticket = await tickets.close_conversation(services(request), principal, path_id(request, "conversation_id"),
                                              rating=rating)
    return JSON({"ticket": ticket})


async def rate(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, RatingBody)
    ticket = await tickets.rate_ticket(services(request), principal, path_id(request, "conversation_id"), body.value,
                                       reason=body.reason, comment=body.comment)
    return JSON({"ticket": ticket}, status_code=201)


async def list_categories(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON({"categories": await admin.list_categories(services(request), principal)})


async def list_support_groups(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON(await admin.list_support_groups(services(request), principal))


ROUTES: list[BaseRoute] = [
    Route("/api/categories", list_categories, methods=["GET"]),
    Route("/api/groups/support", list_support_groups, methods=["GET"]),
    Route("/api/tickets", open_ticket, methods=["POST"]),
    Route("/api/tickets", list_tickets, methods=["GET"]),
    Route("/api/tickets/{ticket_id}", get_ticket, methods=["GET"]),
    Route("/api/tickets/{ticket_id}", update_ticket, methods=["PATCH"]),
    Route("/api/tickets/{ticket_id}/status", change_status, methods=["POST"]),
    Route("/api/tickets/{ticket_id}/assign", assign, methods=["POST"]),
    Route("/api/tickets/{ticket_id}/transfer", transfer, methods=["POST"]),
    Route("/api/tickets/{ticket_id}/tasks", add_task, methods=["POST"]),
    Route("/api/tickets/{ticket_id}/tasks/{task_id}", update_task, methods=["PATCH"]),
    Route("/api/conversations/{conversation_id}/escalate", escalate, methods=["POST"]),
    Route("/api/conversations/{conversation_id}/close", close_conversation, methods=["POST"]),
    Route("/api/conversations/{conversation_id}/rating", rate, methods=["POST"]),
    *sla_routes.ROUTES,
]
