"""Attachments over HTTP: the raw file is the request body (no multipart), so a browser
can send a File with upload progress and nothing is parsed but the bytes (chat.http.files,
shared with system alert files)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from chat import attachments
from chat.http.common import JSON, current, path_id, services
from chat.http.files import file_response, upload_of


async def upload(request: Request) -> Response:
    """``POST /api/conversations/{id}/attachments?filename=…`` with the file as the body."""
    principal, _ = await current(request)
    row = await attachments.upload(
        services(request), principal, path_id(request, "conversation_id"), **upload_of(request)
    )
    return JSON({"attachment": attachments.AttachmentView.of(row)}, status_code=201)


async def download(request: Request) -> Response:
    principal, _ = await current(request)
    row, path = await attachments.open_for_download(services(request), principal, path_id(request, "attachment_id"))
    return file_response(path, filename=row.filename, content_type=row.content_type)
