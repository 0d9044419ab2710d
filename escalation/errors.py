"""Errors of the escalation domain (calendars, SLA, ticket lifecycle).

Every error carries a stable ``code`` (what clients branch on) and the HTTP ``status`` the
web layer should answer with; the body is ``{"error": {"code", "message"}}`` (see
:meth:`EscalationError.body`). Messages are for people and may change; codes may not.

The shape deliberately mirrors ``chat.errors.AppError`` (``code``, ``status``, ``message``)
without importing it: the domain core must not depend on the web side, but the web side
can render both hierarchies with one handler.

Errors about bad *input values* also subclass :class:`ValueError`, so plain-Python callers
(and tests) can catch them the ordinary way; errors about the *state* of a ticket
(:class:`IllegalTransition`) do not, because the input was fine - the moment was wrong.
"""

from __future__ import annotations

from typing import ClassVar


class EscalationError(Exception):
    """Base of the hierarchy; never raised itself."""

    code: ClassVar[str] = "escalation_error"
    status: ClassVar[int] = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The input field the error is about, when one is (a form marks it), e.g.
        # "definition.weekly.0" or "resolution"; see chat.errors.AppError.
        self.field = field

    def body(self) -> dict[str, dict[str, str]]:
        """The JSON error body the HTTP layer sends."""
        error = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


class NaiveDatetime(EscalationError, ValueError):
    """A datetime without a time zone crossed the API boundary; instants must be aware."""

    code = "naive_datetime"
    status = 422


class InvalidCalendar(EscalationError, ValueError):
    """A business calendar is malformed (unknown zone or country, overlapping or inverted
    periods, no open time at all)."""

    code = "invalid_calendar"
    status = 422


class InvalidPolicy(EscalationError, ValueError):
    """An SLA policy or policy table is malformed (non-positive or absurd targets,
    warning share out of range, duplicate rules)."""

    code = "invalid_policy"
    status = 422


class InvalidSlaFacts(EscalationError, ValueError):
    """The facts fed to an SLA clock are inconsistent (out of time order, no opening,
    facts after closing). Signals a bug in the caller rather than bad user input."""

    code = "invalid_sla_facts"
    status = 422


class IllegalTransition(EscalationError):
    """A command is not allowed in the ticket's current status."""

    code = "illegal_transition"
    status = 409

    def __init__(
        self,
        message: str,
        *,
        command: str,
        from_status: str,
        to_status: str | None,
    ) -> None:
        super().__init__(message)
        self.command = command
        self.from_status = from_status
        self.to_status = to_status


class RatingNotAllowed(IllegalTransition):
    """A rating on a ticket that is not closed, or a second rating for the same close."""

    code = "rating_not_allowed"
    status = 409


class AlreadyRated(RatingNotAllowed):
    """A second rating for the same resolution."""

    code = "already_rated"
    status = 409


class ActorNotAllowed(EscalationError):
    """The command exists but this kind of actor may not issue it (e.g. a customer
    proposing to close). Authorization proper happens in the web layer; this is the
    domain's own guard so a wiring mistake cannot corrupt a ticket."""

    code = "actor_not_allowed"
    status = 403


class InvalidTransfer(EscalationError, ValueError):
    """An escalation/transfer names an unknown group or level, or changes nothing."""

    code = "invalid_transfer"
    status = 422


class InvalidLabel(EscalationError, ValueError):
    """A status label that the deployment does not define, or one that belongs to
    another status."""

    code = "invalid_label"
    status = 422


class InvalidRating(EscalationError, ValueError):
    """A rating whose reason or comment is malformed (too long, blank)."""

    code = "invalid_rating"
    status = 422
