"""The customer's rating of a resolution (SKAI/BX): Good / No rating / Bad, with an optional
reason and comment. A pure value, checked on construction; the ``rate`` command of
:mod:`escalation.lifecycle` records it on a ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from escalation.errors import InvalidRating


class RatingValue(StrEnum):
    GOOD = "good"
    NO_RATING = "none"
    BAD = "bad"


MAX_REASON = 200  # a reason is a short pick/phrase shown in report tables
MAX_COMMENT = 4000  # generous for free text, bounded so a report row stays a row


def _clean_text(value: str | None, limit: int, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRating(f"rating {name} must be text")
    value = value.strip()
    if len(value) > limit:
        raise InvalidRating(f"rating {name} is longer than {limit} characters")
    return value or None


@dataclass(frozen=True)
class Rating:
    """Feedback at close (SKAI/BX): Good / No rating / Bad, a reason and a comment."""

    value: RatingValue
    reason: str | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "value", RatingValue(self.value))
        except ValueError as exc:
            raise InvalidRating(f"rating must be one of {[v.value for v in RatingValue]}") from exc
        object.__setattr__(self, "reason", _clean_text(self.reason, MAX_REASON, "reason"))
        object.__setattr__(self, "comment", _clean_text(self.comment, MAX_COMMENT, "comment"))
