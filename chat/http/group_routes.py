"""Group support chats, join requests and their decisions, members, partner settings,
system alerts — and the customer area (``/portal/``) that uses them.

The use cases in :mod:`chat.groups` authorize; these handlers only translate.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from chat import validation
from chat.errors import ValidationFailed
from chat.groups import alerts, partners, requests, service, ticketing
from chat.groups.models import AlertType, HistoryVisibility, RequestStatus
from chat.http.common import JSON, Strict, current, path_id, read_json, services
from chat.http.files import file_response, upload_of
from chat.validation import Count, Id, SmallInt

PORTAL_DIR = Path(__file__).resolve().parents[2] / "static" / "portal"


def _int_param(request: Request, name: str, default: int | None, *, low: int = 1) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    return validation.id_text(raw, name, low=low)


# -- groups ----------------------------------------------------------------------------


class GroupBody(Strict):
    organization: Id | str
    name: str
    history: HistoryVisibility = HistoryVisibility.FULL


class GroupPatch(Strict):
    name: str | None = None
    history: HistoryVisibility | None = None


async def list_groups(request: Request) -> Response:
    principal, _ = await current(request)
    items = await service.list_groups(services(request), principal, organization=request.query_params.get("organization"))
    return JSON({"groups": items})


async def create_group(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, GroupBody)
    group = await service.create_group(
        services(request), principal, organization=body.organization, name=body.name, history=body.history
    )
    return JSON({"group": service.ChatGroupView.of(group)}, status_code=201)


async def get_group(request: Request) -> Response:
    principal, _ = await current(request)
    detail = await service.group_detail(services(request), principal, path_id(request, "group_id"))
    return JSON({"group": service.ChatGroupView.of(detail.group, detail.membership), "members": detail.members})


async def update_group(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, GroupPatch)
    group = await service.update_group(
        services(request), principal, path_id(request, "group_id"), name=body.name, history=body.history
    )
    return JSON({"group": service.ChatGroupView.of(group)})


class RemoveBody(Strict):
    reason: str | None = None


async def remove_member(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, RemoveBody)
    member = await service.remove_member(
        services(request), principal, path_id(request, "group_id"), path_id(request, "user_id"), reason=body.reason
    )
    return JSON({"member": member})


class EscalateBody(Strict):
    seq: Count
    subject: str | None = None
    category: str | None = None
    severity: SmallInt | None = None


async def escalate_message(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, EscalateBody)
    result = await ticketing.escalate_group_message(
        services(request), principal, path_id(request, "group_id"), seq=body.seq, subject=body.subject,
        category=body.category, severity=body.severity,
    )
    return JSON(result, status_code=201)


# -- join requests ---------------------------------------------------------------------


class JoinBody(Strict):
    group: Id | str
    note: str = ""


class DecisionBody(Strict):
    reason: str | None = None


async def request_join(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, JoinBody)
    made = await requests.request_join(services(request), principal, group=body.group, note=body.note)
    return JSON({"request": made}, status_code=201)


async def list_requests(request: Request) -> Response:
    principal, _ = await current(request)
    status_raw = request.query_params.get("status")
    try:
        status = RequestStatus(status_raw) if status_raw else None
    except ValueError:
        raise ValidationFailed(f"status must be one of {', '.join(s.value for s in RequestStatus)}") from None
    mine_raw = request.query_params.get("mine", "false").lower()
    if mine_raw not in {"true", "false", "1", "0"}:
        raise ValidationFailed("mine must be true or false")
    items = await requests.list_requests(
        services(request), principal, status=status, group_id=_int_param(request, "group_id", None),
        mine=mine_raw in {"true", "1"}, limit=_int_param(request, "limit", 100) or 100,
        before_id=_int_param(request, "before_id", None),
    )
    return JSON({"requests": items})


async def _decide(request: Request, approve: bool) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, DecisionBody)
    decided = await requests.decide(
        services(request), principal, path_id(request, "request_id"), approve=approve, reason=body.reason
    )
    return JSON({"request": decided})


async def approve(request: Request) -> Response:
    return await _decide(request, True)


async def reject(request: Request) -> Response:
    return await _decide(request, False)


# -- partner first line ----------------------------------------------------------------


class ResellerSettingsBody(Strict):
    own_first_line: bool


async def get_reseller_settings(request: Request) -> Response:
    principal, _ = await current(request)
    found = await partners.get_reseller_settings(services(request), principal, path_id(request, "org_id"))
    return JSON({"reseller_settings": found})


async def put_reseller_settings(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, ResellerSettingsBody)
    saved = await partners.set_reseller_settings(
        services(request), principal, path_id(request, "org_id"), own_first_line=body.own_first_line
    )
    return JSON({"reseller_settings": saved})


async def first_line(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON(await partners.first_line_of(services(request), principal, path_id(request, "org_id")))


# -- system alerts ---------------------------------------------------------------------


class AlertBody(Strict):
    organization: Id | str
    type: AlertType
    title: str
    body: str
    files: list[Id] = msgspec.field(default_factory=list)


async def open_alert(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, AlertBody)
    alert = await alerts.open_alert(
        services(request), principal, organization=body.organization, type=body.type, title=body.title,
        body=body.body, files=body.files,
    )
    return JSON({"alert": alert}, status_code=201)


async def list_alerts(request: Request) -> Response:
    principal, _ = await current(request)
    items = await alerts.list_alerts(
        services(request), principal, organization=request.query_params.get("organization"),
        limit=_int_param(request, "limit", 50) or 50, before_id=_int_param(request, "before_id", None),
    )
    return JSON({"alerts": items})


async def get_alert(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON({"alert": await alerts.get_alert(services(request), principal, path_id(request, "alert_id"))})


async def upload_alert_file(request: Request) -> Response:
    """``POST /api/alert-files?filename=…`` with the file as the body."""
    principal, _ = await current(request)
    row = await alerts.upload_file(services(request), principal, **upload_of(request))
    return JSON({"file": alerts.AlertFileView.of(row)}, status_code=201)


async def download_alert_file(request: Request) -> Response:
    principal, _ = await current(request)
    row, path = await alerts.open_file(services(request), principal, path_id(request, "file_id"))
    return file_response(path, filename=row.filename, content_type=row.content_type)


# -- the customer area -----------------------------------------------------------------


async def portal_redirect(request: Request) -> Response:
    return RedirectResponse("/portal/", status_code=308)


class PortalFiles(StaticFiles):
    """The portal's files, with a policy that lets the page run only its own scripts and
    talk only to its own origin (the API and the websocket). ``blob:`` images: a chat's
    image attachments, fetched with the session's bearer token and shown from a blob URL
    (the token never goes into a URL)."""

    async def get_response(self, path: str, scope: object) -> Response:
        response = await super().get_response(path, scope)  # type: ignore[arg-type]
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response


ROUTES: list[BaseRoute] = [
    Route("/api/chat-groups", list_groups, methods=["GET"]),
    Route("/api/chat-groups", create_group, methods=["POST"]),
    Route("/api/chat-groups/{group_id}", get_group, methods=["GET"]),
    Route("/api/chat-groups/{group_id}", update_group, methods=["PATCH"]),
    Route("/api/chat-groups/{group_id}/members/{user_id}/remove", remove_member, methods=["POST"]),
    Route("/api/chat-groups/{group_id}/escalate", escalate_message, methods=["POST"]),
    Route("/api/group-join-requests", list_requests, methods=["GET"]),
    Route("/api/group-join-requests", request_join, methods=["POST"]),
    Route("/api/group-join-requests/{request_id}/approve", approve, methods=["POST"]),
    Route("/api/group-join-requests/{request_id}/reject", reject, methods=["POST"]),
    Route("/api/organizations/{org_id}/reseller-settings", get_reseller_settings, methods=["GET"]),
    Route("/api/organizations/{org_id}/reseller-settings", put_reseller_settings, methods=["PUT"]),
    Route("/api/organizations/{org_id}/first-line", first_line, methods=["GET"]),
    Route("/api/alerts", list_alerts, methods=["GET"]),
    Route("/api/alerts", open_alert, methods=["POST"]),
    Route("/api/alerts/{alert_id}", get_alert, methods=["GET"]),
    Route("/api/alert-files", upload_alert_file, methods=["POST"]),
    Route("/api/alert-files/{file_id}", download_alert_file, methods=["GET"]),
    Route("/portal", portal_redirect, methods=["GET"]),
    Mount("/portal", app=PortalFiles(directory=PORTAL_DIR, html=True, check_dir=False), name="portal"),
]
