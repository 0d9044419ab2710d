"""Attachments over HTTP: the raw file is the request body (no multipart), so a browser
can send a File with upload progress and nothing is parsed but the bytes."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from chat import attachments
from chat.errors import ValidationFailed
from chat.http.common import JSON, current, path_id, services


async def upload(request: Request) -> Response:
    """``POST /api/conversations/{id}/attachments?filename=…`` with the file as the body."""
    principal, _ = await current(request)
    filename = request.query_params.get("filename")
    if not filename:
        raise ValidationFailed("give the file's name as ?filename=")
    declared = request.headers.get("content-length")
    row = await attachments.upload(
        services(request),
        principal,
        path_id(request, "conversation_id"),
        filename=filename,
        content_type=request.headers.get("content-type", ""),
        declared_size=int(declared) if declared and declared.isdigit() else None,
        chunks=request.stream(),
    )
    return JSON({"attachment": attachments.attachment_json(row)}, status_code=201)


async def download(request: Request) -> Response:
    principal, _ = await current(request)
    row, path = await attachments.open_for_download(services(request), principal, path_id(request, "attachment_id"))
    disposition = "inline" if row.content_type in attachments.INLINE_TYPES else "attachment"
    return FileResponse(
        path,
        media_type=row.content_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(row.filename)}",
            "X-Content-Type-Options": "nosniff",
            # Even if a file were opened as a page, it could run nothing.
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, max-age=3600",
        },
    )
