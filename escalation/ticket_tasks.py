"""Action tasks on a ticket (FFC): text, hours, type, due date, status. Staff only; the
events about them are internal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chat import validation
from chat.authz import Action, Principal
from chat.errors import NotFound, ValidationFailed
from chat.models import Role, User
from chat.secrets_mask import mask_secrets
from chat.services import Services
from chat.wire import as_data
from escalation.access import require_on_ticket
from escalation.models import TaskStatus, TaskType, TicketTask
from escalation.steps import actor_user
from escalation.unit_of_work import Work, run_unit
from escalation.views import TaskView

MAX_TASK_CHARS = 2000
MAX_HOURS = 10_000.0  # matches the table's check: a task of more than a year of work is a typo
TASK_FIELDS = ("text", "hours", "type", "due_at", "status", "assignee_id")


def _clean(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(TASK_FIELDS)
    if unknown:
        raise ValidationFailed(f"unknown fields: {', '.join(sorted(unknown))}")
    clean: dict[str, Any] = {}
    if "text" in changes:
        # Masked before it is stored: a task's text is copied into its ticket's events.
        clean["text"] = mask_secrets(validation.text(changes["text"], "text", max_length=MAX_TASK_CHARS)).text
    if "hours" in changes:
        hours = changes["hours"]
        if hours is not None and (isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 <= hours <= MAX_HOURS):
            raise ValidationFailed(f"hours must be between 0 and {MAX_HOURS:g}")
        clean["hours"] = float(hours) if hours is not None else None
    if "type" in changes:
        try:
            clean["type"] = TaskType(changes["type"])
        except ValueError:
            raise ValidationFailed(f"type must be one of {', '.join(t.value for t in TaskType)}") from None
    if "status" in changes:
        try:
            clean["status"] = TaskStatus(changes["status"])
        except ValueError:
            raise ValidationFailed(f"status must be one of {', '.join(s.value for s in TaskStatus)}") from None
    if "due_at" in changes:
        due = changes["due_at"]
        if due is not None and (not isinstance(due, datetime) or due.tzinfo is None):
            raise ValidationFailed("due_at needs a time zone, e.g. 2026-03-02T09:00:00Z")
        clean["due_at"] = due
    if "assignee_id" in changes:
        who = changes["assignee_id"]
        if who is not None and (isinstance(who, bool) or not isinstance(who, int) or not 1 <= who <= validation.MAX_ID):
            raise ValidationFailed("assignee_id must be a user's id or null")
        clean["assignee_id"] = who
    return clean


async def _check_assignee(db: AsyncSession, clean: Mapping[str, Any]) -> None:
    """A task is done by staff: an enabled agent or support admin (422 otherwise)."""
    who = clean.get("assignee_id")
    if who is None:
        return
    user = await db.get(User, who)
    if user is None or user.disabled or user.role not in (Role.AGENT, Role.SUPPORT_ADMIN):
        raise ValidationFailed(f"assignee_id: {who} is not an enabled agent or support admin")


def _as_text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else getattr(value, "value", value)


def _changed(task: TicketTask, clean: Mapping[str, Any]) -> dict[str, Any]:
    diff = {}
    for name, value in clean.items():
        before = getattr(task, name)
        if before != value:
            diff[name] = {"from": _as_text(before), "to": _as_text(value)}
            setattr(task, name, value)
    return diff


async def add_task(svc: Services, actor: Principal, ticket_id: int, values: Mapping[str, Any]) -> TaskView:
    """A new task; ``text`` and ``type`` are required, ``status`` defaults to ``open``."""
    clean = _clean(values)
    if "text" not in clean or "type" not in clean:
        raise ValidationFailed("a task needs text and type")

    async def change(work: Work) -> TaskView:
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.WORK_TICKET)
        await _check_assignee(work.db, clean)
        task = TicketTask(
            conversation_id=work.ticket.conversation_id, text=clean["text"], hours=clean.get("hours"),
            type=clean["type"], due_at=clean.get("due_at"), status=clean.get("status", TaskStatus.OPEN),
            created_by_id=actor.user_id, created_at=work.now, updated_at=work.now,
            assignee_id=clean.get("assignee_id"),
        )
        work.db.add(task)
        await work.db.flush()
        body = TaskView.of(task)
        # The event's data is stored as JSON: the task goes in as plain values.
        await work.append("ticket.task_added", await actor_user(work, actor), internal=True, task=as_data(body))
        return body

    result = await run_unit(svc, ticket_id, change)
    assert result is not None
    return result[0]


async def update_task(
    svc: Services, actor: Principal, ticket_id: int, task_id: int, changes: Mapping[str, Any]
) -> TaskView:
    """Change some of a task's fields; nothing different is 422 ``no_change``."""
    clean = _clean(changes)

    async def change(work: Work) -> TaskView:
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.WORK_TICKET)
        task = await work.db.get(TicketTask, task_id)
        if task is None or task.conversation_id != work.ticket.conversation_id:
            raise NotFound("no such task on this ticket", code="not_found")
        await _check_assignee(work.db, clean)
        diff = _changed(task, clean)
        if not diff:
            raise ValidationFailed("nothing to change", code="no_change")
        task.updated_at = work.now
        await work.db.flush()
        body = TaskView.of(task)
        await work.append("ticket.task_updated", await actor_user(work, actor), internal=True, task=as_data(body),
                          changes=diff)
        return body

    result = await run_unit(svc, ticket_id, change)
    assert result is not None
    return result[0]
