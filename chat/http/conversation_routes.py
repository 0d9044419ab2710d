"""Conversations over HTTP: start one, list mine, read one, page through its history."""

from __future__ import annotations

from datetime import datetime

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chat import conversations, validation
from chat.errors import ValidationFailed
from chat.events import HISTORY_PAGE_MAX, render_event
from chat.http.common import JSON, Strict, current, path_id, read_json, services
from chat.models import ConversationStatus
from chat.validation import Id, SmallInt
from escalation.closing import start_follow_up
from escalation.prechat import check_prechat


def _int_param(request: Request, name: str, default: int | None, *, low: int = 0) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    return validation.id_text(raw, name, low=low)


class StartBody(Strict):
    subject: str = ""
    body: str | None = None
    client_msg_id: str | None = None
    linked_to: Id | None = None  # a closed conversation of yours this one follows up
    # The pre-chat answers: fields of the chat's ticket (escalation.prechat).
    category: str | None = None
    severity: SmallInt | None = None
    assets: list[str] = msgspec.field(default_factory=list)
    happened_at: datetime | None = None
    email: str | None = None
    name: str | None = None


async def start(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, StartBody)
    svc = services(request)
    answers = await check_prechat(
        svc, category=body.category, severity=body.severity, assets=body.assets, happened_at=body.happened_at,
        email=body.email, name=body.name,
    )
    if body.linked_to is not None:
        created = await start_follow_up(
            svc, principal, linked_to=body.linked_to, subject=body.subject, body=body.body,
            client_msg_id=body.client_msg_id, prechat=answers,
        )
    else:
        created = await conversations.start_conversation(
            svc, principal, subject=body.subject, body=body.body, client_msg_id=body.client_msg_id, prechat=answers
        )
    # A retry with the same client_msg_id answers the chat its first send opened: 200, not 201.
    conversation = conversations.conversation_json(created.conversation, 0, staff=principal.is_staff)
    return JSON({"conversation": conversation, "duplicate": created.duplicate}, status_code=200 if created.duplicate else 201)


async def list_mine(request: Request) -> Response:
    principal, _ = await current(request)
    status_raw = request.query_params.get("status")
    try:
        status = ConversationStatus(status_raw) if status_raw else None
    except ValueError:
        raise ValidationFailed(f"status must be one of {', '.join(s.value for s in ConversationStatus)}") from None
    items = await conversations.list_conversations(
        services(request), principal, status=status,
        limit=_int_param(request, "limit", 50, low=1) or 50, before_id=_int_param(request, "before_id", None, low=1),
    )
    return JSON({"conversations": items})


async def history(request: Request) -> Response:
    """``GET /api/conversations/{id}/events?after_seq=N&limit=M`` — events with seq > N."""
    principal, _ = await current(request)
    conv_id = path_id(request, "conversation_id")
    after = _int_param(request, "after_seq", 0) or 0
    limit = _int_param(request, "limit", 100, low=1) or 100
    events, _ = await conversations.events_after(services(request), principal, conv_id, after_seq=after, limit=limit)
    staff = principal.is_staff
    rendered = [render_event(e, staff=staff) for e in events]
    return JSON({"events": rendered, "has_more": len(events) == min(limit, HISTORY_PAGE_MAX)})


async def detail(request: Request) -> Response:
    principal, _ = await current(request)
    conv_id = path_id(request, "conversation_id")
    return JSON({"conversation": await conversations.conversation_detail(services(request), principal, conv_id)})
