"""Where a ticket sits and what it shows beyond its status: transfers between support levels
and groups (:func:`escalate`) and the deployment's status labels (:func:`set_label`), the
two commands whose legality depends on the deployment's configuration
(:class:`LifecycleSettings`). Pure, like :mod:`escalation.lifecycle`, whose guard and
history events they use.

Deployment-defined statuses ("Re-check approved", "Hard to configure", ...) are *labels*:
shown to people, each mapped onto one core status, and cleared when the status changes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from escalation.calendars import as_utc
from escalation.errors import ActorNotAllowed, IllegalTransition, InvalidLabel, InvalidTransfer
from escalation.lifecycle import (
    Actor,
    ActorKind,
    Command,
    EventType,
    HistoryEvent,
    SupportLevel,
    TicketState,
    TicketStatus,
    Transition,
    guard,
)


@dataclass(frozen=True)
class StatusLabel:
    name: str
    status: TicketStatus


DEFAULT_GROUPS = ("Second level", "Marketing", "Vendor", "Incidents")  # PSD queues
DEFAULT_LABELS = (  # FFC's own statuses that are not core ones
    StatusLabel("Re-check approved", TicketStatus.IN_PROGRESS),
    StatusLabel("Hard to configure", TicketStatus.IN_PROGRESS),
)


@dataclass(frozen=True)
class LifecycleSettings:
    """Deployment configuration: transfer groups and status labels."""

    groups: tuple[str, ...] = DEFAULT_GROUPS
    labels: tuple[StatusLabel, ...] = DEFAULT_LABELS

    def label(self, name: str) -> StatusLabel:
        for label in self.labels:
            if label.name == name:
                return label
        raise InvalidLabel(f"unknown status label {name!r}")


DEFAULT_SETTINGS = LifecycleSettings()


def escalate(
    state: TicketState,
    now: datetime,
    actor: Actor,
    *,
    level: SupportLevel,
    group: str | None,
    settings: LifecycleSettings = DEFAULT_SETTINGS,
) -> Transition:
    """Transfer to support ``level`` and ``group`` (``None`` = the first-line queue).

    Raises :class:`InvalidTransfer` for an unknown group or a transfer that changes nothing.
    """
    now = as_utc(now, "now")
    guard(state, Command.ESCALATE, actor)
    try:
        level = SupportLevel(level)
    except ValueError as exc:
        raise InvalidTransfer(f"support level must be 1, 2 or 3, got {level!r}") from exc
    if group is not None and group not in settings.groups:
        raise InvalidTransfer(f"unknown group {group!r}; known: {', '.join(settings.groups)}")
    if level == state.level and group == state.group:
        raise InvalidTransfer("the ticket is already there")
    events: list[HistoryEvent] = []
    if level != state.level:
        events.append(HistoryEvent(EventType.LEVEL_CHANGED, now, actor, str(int(state.level)), str(int(level))))
    if group != state.group:
        events.append(HistoryEvent(EventType.GROUP_CHANGED, now, actor, state.group, group))
    return Transition(replace(state, level=level, group=group), tuple(events))


def set_label(
    state: TicketState,
    now: datetime,
    actor: Actor,
    label: str | None,
    settings: LifecycleSettings = DEFAULT_SETTINGS,
) -> Transition:
    """Show a deployment label (``None`` clears it). The label must belong to the current
    status - move the status with its own command first - else :class:`IllegalTransition`."""
    now = as_utc(now, "now")
    if actor.kind not in (ActorKind.AGENT, ActorKind.SYSTEM):
        raise ActorNotAllowed(f"a {actor.kind} may not set status labels")
    if label is not None:
        status = settings.label(label).status
        if status is not state.status:
            raise IllegalTransition(
                f"illegal transition: label {label!r} from {state.status} to {status} "
                f"(the label belongs to {status}; change the status first)",
                command="set_label",
                from_status=state.status.value,
                to_status=status.value,
            )
    if label == state.label:
        raise InvalidLabel("the ticket already has this label")
    event = HistoryEvent(EventType.LABEL_CHANGED, now, actor, state.label, label)
    return Transition(replace(state, label=label), (event,))
