"""The desk-wide ticket rules an admin edits in the console: the escalation ladder, the
default auto-close delays, the statuses' labels, the chat-to-ticket timers and whether a
chat started with nobody online is a ticket at once.

Each has a first default in the environment (``chat.settings``: ``ESCALATION_LADDER``,
``AUTO_CLOSE_*_AFTER``, ...) and may be stored in ``desk_settings`` under the key named
here; a stored value wins. Pure: the stored JSON values come in, the core's objects (or an
error naming the input field, ``ladder.1.after_minutes``) come out. The JSON forms are the
console's: the ladder as a list of steps rather than the environment's one-line string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from escalation.autoclose import AutoCloseSettings, Delay
from escalation.errors import EscalationError, InvalidLabel, InvalidPolicy
from escalation.labels import MAX_LABEL, parse_labels
from escalation.ladder import MAX_STEPS, Ladder, LadderAction, LadderStep
from escalation.lifecycle import SupportLevel, TicketStatus
from escalation.transfers import StatusLabel

LADDER = "ladder"
AUTO_CLOSE_WAITING = "auto_close_waiting"
AUTO_CLOSE_PROPOSED = "auto_close_proposed"
STATUS_LABELS = "status_labels"
CHAT_IDLE = "chat_idle_ticket_minutes"
CHAT_UNANSWERED = "chat_unanswered_ticket_minutes"
CHAT_LEFT = "chat_left_ticket_minutes"
NO_AGENT_ONLINE = "ticket_when_no_agent_online"

# Stored under these keys in desk_settings, in the order the console shows them. The
# table also holds the default assignee ("default_assignee_id", chat.desk.rules): a key
# not listed here is none of this module's business.
KEYS = (LADDER, AUTO_CLOSE_WAITING, AUTO_CLOSE_PROPOSED, STATUS_LABELS, CHAT_IDLE, CHAT_UNANSWERED, CHAT_LEFT,
        NO_AGENT_ONLINE)
TIMER_KEYS = (CHAT_IDLE, CHAT_UNANSWERED, CHAT_LEFT)
MAX_TIMER_MINUTES = 24 * 60  # as chat.settings: a day is the longest a live chat stays untracked

# The actions a console offers for a step, with their argument spelled in: the ladder's
# own "raise_level" needs the line it raises to.
STEP_ACTIONS = ("raise_level:2", "raise_level:3", *(a.value for a in LadderAction if a is not LadderAction.RAISE_LEVEL))


@dataclass(frozen=True)
class DeskRules:
    """The desk-wide rules in force: the core's objects."""

    ladder: Ladder
    auto_close: AutoCloseSettings
    labels: tuple[StatusLabel, ...]
    idle_after: timedelta | None
    unanswered_after: timedelta | None
    left_after: timedelta | None
    ticket_when_no_agent_online: bool


@dataclass(frozen=True)
class Defaults:
    """The environment's first defaults, in its own forms (chat.settings has checked them)."""

    ladder: str
    auto_close_waiting: str
    auto_close_proposed: str
    status_labels: str
    chat_idle_ticket_minutes: int
    chat_unanswered_ticket_minutes: int
    chat_left_ticket_minutes: int
    ticket_when_no_agent_online: bool


def _fail(error: type[EscalationError], message: str, field: str) -> EscalationError:
    return error(message, field=field)


def step_json(step: LadderStep) -> dict[str, Any]:
    action = step.action.value if step.level is None else f"{step.action.value}:{int(step.level)}"
    return {"action": action, "after_minutes": int(step.after.total_seconds() // 60)}


def parse_ladder(value: Any, field: str = LADDER) -> Ladder:
    """A list of ``{"action": "raise_level:2", "after_minutes": 0}``; a refusal names the
    step and its input (``ladder.1.after_minutes``)."""
    if not isinstance(value, list):
        raise _fail(InvalidPolicy, "the escalation ladder is a list of steps", field)
    if len(value) > MAX_STEPS:
        raise _fail(InvalidPolicy, f"an escalation ladder has at most {MAX_STEPS} steps", field)
    steps: list[LadderStep] = []
    for index, item in enumerate(value):
        at = f"{field}.{index}"
        if not isinstance(item, dict) or set(item) - {"action", "after_minutes"}:
            raise _fail(InvalidPolicy, "a step is {\"action\": ..., \"after_minutes\": n}", at)
        action = item.get("action")
        if not isinstance(action, str) or action not in STEP_ACTIONS:
            raise _fail(InvalidPolicy, f"step {index + 1}: the action is one of {', '.join(STEP_ACTIONS)}", f"{at}.action")
        minutes = item.get("after_minutes")
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise _fail(InvalidPolicy, f"step {index + 1}: after how many minutes (a whole number)", f"{at}.after_minutes")
        name, _, level = action.partition(":")
        try:
            step = LadderStep(
                LadderAction(name), timedelta(minutes=minutes), SupportLevel(int(level)) if level else None)
        except (EscalationError, OverflowError) as exc:
            message = exc.message if isinstance(exc, EscalationError) else "too many minutes"
            raise _fail(InvalidPolicy, f"step {index + 1}: {message}", f"{at}.after_minutes") from None
        if steps and step.after < steps[-1].after:
            raise _fail(InvalidPolicy, f"step {index + 1} comes before step {index}: steps are in time order",
                        f"{at}.after_minutes")
        steps.append(step)
    return Ladder(tuple(steps))


def parse_delay(value: Any, field: str) -> Delay:
    if not isinstance(value, str):
        raise _fail(InvalidPolicy, "a delay looks like 48h, 7d or 2bd", field)
    try:
        return Delay.parse(value)
    except EscalationError as exc:
        raise _fail(InvalidPolicy, exc.message, field) from None


def parse_status_labels(value: Any, field: str = STATUS_LABELS) -> tuple[StatusLabel, ...]:
    """A list of ``{"label": "Hard to configure", "status": "in_progress"}``."""
    if not isinstance(value, list):
        raise _fail(InvalidLabel, "the statuses' labels are a list of {label, status}", field)
    labels: list[StatusLabel] = []
    for index, item in enumerate(value):
        at = f"{field}.{index}"
        if not isinstance(item, dict) or set(item) - {"label", "status"}:
            raise _fail(InvalidLabel, "a label is {\"label\": ..., \"status\": ...}", at)
        name = item.get("label")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_LABEL:
            raise _fail(InvalidLabel, f"a label has 1..{MAX_LABEL} characters", f"{at}.label")
        name = name.strip()
        if any(label.name == name for label in labels):
            raise _fail(InvalidLabel, f"label {name!r} is defined twice", f"{at}.label")
        try:
            status = TicketStatus(str(item.get("status")))
        except ValueError:
            known = ", ".join(s.value for s in TicketStatus)
            raise _fail(InvalidLabel, f"label {name!r}: the status is one of {known}", f"{at}.status") from None
        labels.append(StatusLabel(name, status))
    return tuple(labels)


def parse_minutes(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TIMER_MINUTES:
        raise _fail(InvalidPolicy, f"minutes are a whole number 0..{MAX_TIMER_MINUTES} (0 switches it off)", field)
    return value


def parse_flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(InvalidPolicy, "true or false", field)
    return value


def check(key: str, value: Any) -> Any:
    """``value`` for ``key`` in its stored (canonical JSON) form, or the error naming the
    field. The stored form is what GET shows back."""
    if key == LADDER:
        return [step_json(step) for step in parse_ladder(value).steps]
    if key in (AUTO_CLOSE_WAITING, AUTO_CLOSE_PROPOSED):
        parse_delay(value, key)
        return value.strip().lower()  # as written ("48h" stays 48h, not the core's "2d")
    if key == STATUS_LABELS:
        return [{"label": label.name, "status": label.status.value} for label in parse_status_labels(value)]
    if key in TIMER_KEYS:
        return parse_minutes(value, key)
    if key == NO_AGENT_ONLINE:
        return parse_flag(value, key)
    raise _fail(InvalidPolicy, f"unknown setting {key!r}; known: {', '.join(KEYS)}", key)


def default_values(defaults: Defaults) -> dict[str, Any]:
    """The environment's defaults in the stored JSON forms."""
    return {
        LADDER: [step_json(step) for step in Ladder.parse(defaults.ladder).steps],
        AUTO_CLOSE_WAITING: defaults.auto_close_waiting.strip().lower(),
        AUTO_CLOSE_PROPOSED: defaults.auto_close_proposed.strip().lower(),
        STATUS_LABELS: [{"label": label.name, "status": label.status.value}
                        for label in parse_labels(defaults.status_labels).labels],
        CHAT_IDLE: defaults.chat_idle_ticket_minutes,
        CHAT_UNANSWERED: defaults.chat_unanswered_ticket_minutes,
        CHAT_LEFT: defaults.chat_left_ticket_minutes,
        NO_AGENT_ONLINE: defaults.ticket_when_no_agent_online,
    }


def effective_values(defaults: Defaults, stored: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Every key's value in force (stored wins over the environment) and the keys whose
    stored value is the one in force. A stored value the rules refuse (a hand-edited row)
    is passed over for the environment's: the desk keeps working on its first default."""
    values = default_values(defaults)
    from_store: list[str] = []
    for key in KEYS:
        if key in stored:
            try:
                values[key] = check(key, stored[key])
            except EscalationError:
                continue
            from_store.append(key)
    return values, from_store


def _after(minutes: int) -> timedelta | None:
    return timedelta(minutes=minutes) if minutes else None


def rules_of(values: Mapping[str, Any]) -> DeskRules:
    """The core's objects of checked values (``effective_values``)."""
    return DeskRules(
        ladder=parse_ladder(values[LADDER]),
        auto_close=AutoCloseSettings(
            waiting_timeout=Delay.parse(values[AUTO_CLOSE_WAITING]),
            proposed_delay=Delay.parse(values[AUTO_CLOSE_PROPOSED]),
        ),
        labels=parse_status_labels(values[STATUS_LABELS]),
        idle_after=_after(values[CHAT_IDLE]),
        unanswered_after=_after(values[CHAT_UNANSWERED]),
        left_after=_after(values[CHAT_LEFT]),
        ticket_when_no_agent_online=bool(values[NO_AGENT_ONLINE]),
    )

