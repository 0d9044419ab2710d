"""Deployment-defined status labels ("Re-check approved", "Hard to configure", ...), each
mapped onto one core status, as configured in ``TICKET_STATUS_LABELS``."""

from __future__ import annotations

from dataclasses import dataclass

from escalation.errors import InvalidLabel
from escalation.lifecycle import TicketStatus
from escalation.transfers import StatusLabel

MAX_LABEL = 100  # shown in queue rows and on the customer's ticket page


@dataclass(frozen=True)
class LabelSet:
    labels: tuple[StatusLabel, ...]

    def __str__(self) -> str:
        return ", ".join(f"{label.name}={label.status.value}" for label in self.labels)


def parse_labels(text: str) -> LabelSet:
    """``"Re-check approved=in_progress, Hard to configure=in_progress"``; empty = none.
    Raises :class:`InvalidLabel` for an unknown status, a blank, long or repeated name."""
    labels: list[StatusLabel] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, status = item.rpartition("=")
        name = name.strip()
        if not sep or not name or len(name) > MAX_LABEL:
            raise InvalidLabel(f"a status label looks like 'Hard to configure=in_progress' (name up to {MAX_LABEL}); got {item!r}")
        try:
            core = TicketStatus(status.strip())
        except ValueError:
            known = ", ".join(s.value for s in TicketStatus)
            raise InvalidLabel(f"label {name!r}: unknown status {status.strip()!r}; known: {known}") from None
        if any(label.name == name for label in labels):
            raise InvalidLabel(f"label {name!r} is defined twice")
        labels.append(StatusLabel(name, core))
    return LabelSet(tuple(labels))
