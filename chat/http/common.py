"""What every HTTP handler shares: JSON in and out, errors, the caller's identity."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from chat import metrics, validation
from chat.auth import authenticate
from chat.authz import Principal
from chat.errors import (
    AppError,
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from chat.models import User
from chat.services import Services

log = logging.getLogger(__name__)

T = TypeVar("T")

# JSON request bodies are small forms; uploads have their own endpoint and limit.
MAX_JSON_BODY_BYTES = 64 * 1024
SESSION_COOKIE = "sc_session"
# A JSON \u0000 escape: one not itself escaped (preceded by an even run of backslashes).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")

_encoder = msgspec.json.Encoder()


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def int_query(request: Request, name: str, low: int, high: int) -> int | None:
    """An optional integer query parameter within ``low..high``; 422 otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    return validation.id_text(raw, name, low=low, high=high)


def error_response(
    code: str, message: str, status: int, headers: Mapping[str, str] | None = None, *, field: str | None = None
) -> JSON:
    error = {"code": code, "message": message}
    if field is not None:
        error["field"] = field  # the input field a form should mark (chat.errors.AppError)
    return JSON({"error": error}, status_code=status, headers=headers)


async def app_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    headers = {"Retry-After": str(exc.retry_after)} if hasattr(exc, "retry_after") else None
    if exc.status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return error_response(exc.code, exc.message, exc.status, headers, field=exc.field)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(code, str(exc.detail), exc.status_code, exc.headers)


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response("internal_error", "something went wrong on our side; it has been logged", 500)


async def read_json(request: Request, schema: type[T]) -> T:
    """Decode the body into ``schema``; unknown, missing and mistyped fields are refused."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        # Also our CSRF guard: a cross-site form cannot send application/json.
        raise UnsupportedMediaType("send the body as Content-Type: application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (validation.ascii_int(declared) or 0) > MAX_JSON_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_JSON_BODY_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BODY_BYTES:
            raise PayloadTooLarge(f"the body is larger than {MAX_JSON_BODY_BYTES} bytes")
    if _NUL_ESCAPE.search(body):
        # PostgreSQL cannot store a NUL character in text; refused here for every field
        # (SQLite would have stored it: one answer on both).
        raise ValidationFailed("text must not contain the NUL character (\\u0000)")
    try:
        return msgspec.json.decode(body, type=schema)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="malformed_json") from None
    except RecursionError:
        # A schema with a free-form part (dict[str, Any]) decodes whatever nesting comes;
        # msgspec stops at the interpreter's depth limit, which is ours to answer.
        raise BadRequest("the body is nested too deeply", code="malformed_json") from None


def path_id(request: Request, name: str) -> int:
    """A positive integer path parameter, or 422 naming it."""
    value = validation.ascii_int(request.path_params[name])
    if value is None or value < 1:
        raise ValidationFailed(f"{name} must be a positive integer (at most {validation.MAX_ID})")
    return value


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'", code="invalid_token")
        return value.strip()
    return request.cookies.get(SESSION_COOKIE)


async def current(request: Request) -> tuple[Principal, User]:
    """The caller, or 401. Checked against the database on every request. A token that
    is refused counts as an authentication failure (``token``); no token at all does not
    (a signed-out page asking who it is)."""
    try:
        token = bearer_token(request)
        if token:
            return await authenticate(services(request), token)
    except (Unauthenticated, Forbidden):  # Forbidden: a disabled account's token
        metrics.AUTH_FAILURES["token"].inc()
        raise
    raise Unauthenticated("sign in first", code="unauthenticated")


def client_address(request: Request) -> str | None:
    # uvicorn already rewrote this from X-Forwarded-For when the proxy is trusted
    # (--forwarded-allow-ips), so a client cannot spoof its way around throttling.
    return request.client.host if request.client else None


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    """Base for request bodies: an unexpected field is an error, not silently dropped."""

