"""One error hierarchy for the product.

Each error carries a stable ``code`` (what clients branch on) and an HTTP ``status``.
HTTP handlers render ``{"error": {"code", "message"}}``, plus ``"field"`` when the error is
about one input field (a form marks that field: ``"calendar"``, ``"definition.weekly.0"``);
the websocket hub maps the same codes onto error frames. Messages are for people and may
change; codes and field names may not.
"""

from __future__ import annotations


class AppError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class BadRequest(AppError):
    status = 400
    code = "bad_request"


class ValidationFailed(AppError):
    status = 422
    code = "validation_failed"


class Unauthenticated(AppError):
    status = 401
    code = "unauthenticated"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class ImpersonationActive(Conflict):
    """Refused inside a support session acting as the user (logout, a password change):
    it ends only through ``POST /api/impersonation/end``, which audits the end."""

    code = "impersonation_active"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(AppError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)
