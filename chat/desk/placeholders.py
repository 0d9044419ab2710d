"""Placeholders in canned replies: ``{customer.name}``, ``{agent.first_name|there}`` …

Pure: the caller gathers the values. A placeholder may carry a fallback after ``|``, used
when the value is unknown (an anonymous visitor has no name). Unknown placeholder names
are refused when a reply is saved, so a typo is caught by the admin who made it rather
than sent to a customer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from chat.errors import ValidationFailed

PLACEHOLDERS: Mapping[str, str] = {
    "customer.name": "the customer's name",
    "customer.first_name": "the customer's first name",
    "customer.email": "the customer's e-mail",
    "organization.name": "the customer's company",
    "agent.name": "your name",
    "agent.first_name": "your first name",
    "conversation.id": "the conversation (ticket) number",
    "conversation.subject": "the conversation's subject",
}

_PATTERN = re.compile(r"\{([a-z_]+\.[a-z_]+)(?:\|([^{}]*))?\}")


def names_in(text: str) -> list[str]:
    return [m.group(1) for m in _PATTERN.finditer(text)]


def check(text: str, field: str = "body") -> None:
    """Raise naming the first unknown placeholder."""
    for name in names_in(text):
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + k + "}" for k in PLACEHOLDERS)
            raise ValidationFailed(f"{field}: unknown placeholder {{{name}}}; known ones: {known}")


def render(text: str, values: Mapping[str, str | None]) -> str:
    """Fill in every placeholder; an unknown value becomes its fallback (or nothing)."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value:
            return value
        return match.group(2) or ""

    return _PATTERN.sub(fill, text)


def first_name(name: str | None) -> str | None:
    if not name:
        return None
    return name.split()[0]
