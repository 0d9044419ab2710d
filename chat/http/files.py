"""Stored files over HTTP, the same for chat attachments and system alert files: what an
upload request says about its file, and the response that hands a file back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypedDict
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse

from chat import validation
from chat.attachments import INLINE_TYPES
from chat.errors import ValidationFailed


class Upload(TypedDict):
    filename: str
    content_type: str
    declared_size: int | None
    chunks: AsyncIterator[bytes]


def upload_of(request: Request) -> Upload:
    """An upload is the raw file as the body (no multipart) and its name as ``?filename=``,
    so a browser can send a File with upload progress and nothing is parsed but the bytes."""
    filename = request.query_params.get("filename")
    if not filename:
        raise ValidationFailed("give the file's name as ?filename=")
    declared = request.headers.get("content-length")
    return Upload(
        filename=filename,
        content_type=request.headers.get("content-type", ""),
        declared_size=validation.ascii_int(declared) if declared else None,
        chunks=request.stream(),
    )


def file_response(path: Path, *, filename: str, content_type: str) -> FileResponse:
    """A stored file: images shown inline, anything else downloaded, under the name it was
    uploaded with."""
    disposition = "inline" if content_type in INLINE_TYPES else "attachment"
    return FileResponse(
        path,
        media_type=content_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(filename)}",
            "X-Content-Type-Options": "nosniff",
            # Even if a file were opened as a page, it could run nothing.
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, max-age=3600",
        },
    )
