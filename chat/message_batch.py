"""One transaction that stores a batch of sends: the synchronous core of the message writer.

:func:`write_batch` runs inside a transaction that the caller opened (SQLite: ``BEGIN
IMMEDIATE`` on the writer's own connection; PostgreSQL: an ordinary transaction) and
commits after it returns. It reads first — idempotency, authorization facts, attachments —
decides every item, and only then writes, set-based: per conversation one ``UPDATE …
RETURNING`` hands out a run of consecutive ``seq`` (gap-free with any number of processes,
as the row lock or SQLite's write lock serializes them), then one multi-row ``INSERT`` of
every event. An item refused by a rule gets its own error and writes nothing; the others
go on. A write that fails for a reason no rule foresaw (a race with another process that
a constraint caught) raises, and the caller retries each item in a transaction of its own.

The SQL is plain and portable (SQLite 3.35+ and PostgreSQL both have ``RETURNING``); the
:class:`Tx` adapters bind parameters and convert values for each driver. Nothing here
awaits, so the same code runs on the writer's thread for SQLite and under
``AsyncConnection.run_sync`` for PostgreSQL.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, NamedTuple, Protocol

from sqlalchemy.engine import Connection

from chat.authz import Action, ConversationRef, Principal, can
from chat.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from chat.events import Ack, ConversationClosed, EventKind, attachment_json, attribution, stored_event_json
from chat.models import ConversationStatus, Role
from chat.numbering import number_run


class SendItem(NamedTuple):
    """One ``send`` as the writer takes it (checked for shape already)."""

    actor: Principal
    conversation_id: int
    client_msg_id: str
    body: str
    internal: bool
    attachments: tuple[int, ...]
    masked: tuple[str, ...] = ()  # kinds of secrets masked in ``body`` (chat.secrets_mask)


class SendResult(NamedTuple):
    ack: Ack
    events: list[dict[str, Any]]


Outcome = SendResult | Exception


class BatchConflict(Exception):
    """A write found the database other than the reads of the same transaction had
    promised (another process won a race); the batch is retried item by item."""


class Tx(Protocol):
    """The open transaction, as the batch sees it."""

    def rows(self, sql: str, params: dict[str, Any]) -> list[Sequence[Any]]: ...

    def ts(self, value: datetime) -> Any:
        """A timestamp as this driver stores it."""
        ...

    def read_ts(self, value: Any) -> datetime: ...


# -- adapters ----------------------------------------------------------------------------

def _sqlite_ts(value: datetime) -> str:
    # What SQLAlchemy's SQLite DATETIME stores for chat.db.UTCDateTime: naive UTC text,
    # always with microseconds, so text comparison orders correctly.
    v = value.astimezone(UTC)
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}:{v.second:02d}."
            f"{v.microsecond:06d}")


def _read_sqlite_ts(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


class SqliteTx:
    """The standard library's sqlite3, which takes ``:name`` parameters as they are."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def rows(self, sql: str, params: dict[str, Any]) -> list[Sequence[Any]]:
        return self._db.execute(sql, params).fetchall()

    def ts(self, value: datetime) -> str:
        return _sqlite_ts(value)

    def read_ts(self, value: Any) -> datetime:
        return _read_sqlite_ts(value)


_NAME = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class SqlAlchemyTx:
    """A SQLAlchemy connection (asyncpg or aiosqlite under ``run_sync``), driven through
    ``exec_driver_sql``: no compilation, the driver's own parameter style."""

    # Shared by every connection: the statements are few and fixed.
    _converted: ClassVar[dict[tuple[str, str], tuple[str, list[str]]]] = {}

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._style = conn.dialect.paramstyle
        self._sqlite = conn.dialect.name == "sqlite"

    def _convert(self, sql: str) -> tuple[str, list[str]]:
        key = (self._style, sql)
        found = self._converted.get(key)
        if found is not None:
            return found
        names: list[str] = []
        if self._style == "numeric_dollar":
            def dollar(m: re.Match[str]) -> str:
                if m.group(1) not in names:
                    names.append(m.group(1))
                return f"${names.index(m.group(1)) + 1}"
            text = _NAME.sub(dollar, sql)
        elif self._style == "qmark":
            def qmark(m: re.Match[str]) -> str:
                names.append(m.group(1))
                return "?"
            text = _NAME.sub(qmark, sql)
        else:
            raise NotImplementedError(f"parameter style {self._style}")
        self._converted[key] = (text, names)
        return text, names

    def rows(self, sql: str, params: dict[str, Any]) -> list[Sequence[Any]]:
        text, names = self._convert(sql)
        result = self._conn.exec_driver_sql(text, tuple(params[n] for n in names))
        return list(result.fetchall()) if result.returns_rows else []

    def ts(self, value: datetime) -> Any:
        return _sqlite_ts(value) if self._sqlite else value.astimezone(UTC)

    def read_ts(self, value: Any) -> datetime:
        return _read_sqlite_ts(value)


# -- the statements ----------------------------------------------------------------------

# The facts chat.conversations.conversation_ref loads for the rules, in one statement,
# plus the author's name and role for the event. Keep the two in step (a test compares
# their decisions for every role).
_FACTS = """
SELECT c.organization_id, o.parent_id, c.status, p.id, p.left_at, u.name, u.role, t.handled_by_org_id
FROM conversations AS c
JOIN users AS u ON u.id = :user_id
LEFT JOIN organizations AS o ON o.id = c.organization_id
LEFT JOIN participants AS p ON p.conversation_id = c.id AND p.user_id = :user_id
LEFT JOIN tickets AS t ON t.conversation_id = c.id
WHERE c.id = :conversation_id
"""

_TAKE_SEQ = """
UPDATE conversations SET last_seq = last_seq + :n, updated_at = :now
WHERE id = :conversation_id
RETURNING last_seq, last_public_seq
"""

_SET_PUBLIC = "UPDATE conversations SET last_public_seq = :seq WHERE id = :conversation_id"

_ADD_PARTICIPANT = """
INSERT INTO participants (conversation_id, user_id, joined_at, last_read_seq)
VALUES (:conversation_id, :user_id, :now, 0)
"""

_REJOIN_PARTICIPANT = "UPDATE participants SET left_at = NULL WHERE conversation_id = :conversation_id AND user_id = :user_id"

_EVENT_COLUMNS = ("conversation_id", "seq", "prev_public_seq", "type", "author_id", "client_msg_id", "body", "data",
                  "internal", "created_at")


def _in_list(prefix: str, values: Sequence[Any], params: dict[str, Any]) -> str:
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        names.append(f":{prefix}{i}")
    return ", ".join(names)


# -- the batch ---------------------------------------------------------------------------

@dataclass
class _Facts:
    ref: ConversationRef
    participant_row: bool  # a row exists (current or left)
    author: dict[str, Any]


@dataclass
class _Planned:
    item: int  # index of the send it belongs to
    conversation_id: int
    kind: EventKind
    author: dict[str, Any] | None
    body: str | None
    data: dict[str, Any]
    client_msg_id: str | None
    internal: bool
    attachments: tuple[int, ...] = ()
    seq: int = 0
    prev_public_seq: int = 0
    id: int = 0


@dataclass
class _Decision:
    events: list[_Planned] = field(default_factory=list)
    duplicate_of: int | None = None  # an earlier send of this batch with the same client id
    stored: Ack | None = None  # the ack of an already stored original


def _facts(tx: Tx, actor: Principal, conversation_id: int) -> _Facts | None:
    found = tx.rows(_FACTS, {"user_id": actor.user_id, "conversation_id": conversation_id})
    if not found:
        return None
    org_id, parent_id, status, participant_id, left_at, name, role, handled_by = found[0]
    ref = ConversationRef(
        id=conversation_id,
        organization_id=org_id,
        org_parent_id=parent_id,
        is_participant=participant_id is not None and left_at is None,
        is_open=status == ConversationStatus.OPEN.value,
        handled_by_org_id=handled_by,
    )
    return _Facts(ref, participant_id is not None, {"id": actor.user_id, "name": name, "role": Role(role).value})


def _authorize(actor: Principal, item: SendItem, ref: ConversationRef) -> None:
    """The rules of chat.conversations.post_message, in its order: who may not see it learns
    nothing; a closed conversation takes nothing more from anyone, staff included (closed is
    final: the customer starts a new one, linked); then the rule of the action."""
    if not can(actor, Action.VIEW_CONVERSATION, ref):
        raise NotFound("no such conversation", code="not_found")
    if not ref.is_open:
        raise ConversationClosed("this conversation is closed; start a new one")
    if item.internal:
        if not can(actor, Action.POST_INTERNAL_NOTE, ref):
            raise Forbidden(f"you may not {Action.POST_INTERNAL_NOTE.value.replace('_', ' ')}")
    elif not can(actor, Action.POST_MESSAGE, ref):
        raise Forbidden(f"you may not {Action.POST_MESSAGE.value.replace('_', ' ')}")


def _existing(tx: Tx, items: Sequence[SendItem]) -> dict[tuple[int, str], Ack]:
    """Acks of sends already stored (idempotent resend), by (author, client id)."""
    params: dict[str, Any] = {}
    authors = _in_list("a", sorted({i.actor.user_id for i in items}), params)
    ids = _in_list("k", sorted({i.client_msg_id for i in items}), params)
    found = tx.rows(
        f"SELECT author_id, client_msg_id, conversation_id, id, seq, created_at FROM events "
        f"WHERE author_id IN ({authors}) AND client_msg_id IN ({ids})", params)
    return {(a, k): Ack(c, k, i, s, tx.read_ts(t), True) for a, k, c, i, s, t in found}


def _unsent_attachments(tx: Tx, actor: Principal, conversation_id: int, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    params: dict[str, Any] = {"conversation_id": conversation_id, "user_id": actor.user_id}
    listed = _in_list("t", sorted(set(ids)), params)
    found = tx.rows(
        f"SELECT id, filename, content_type, size FROM attachments WHERE id IN ({listed}) "
        f"AND conversation_id = :conversation_id AND uploader_id = :user_id AND event_id IS NULL", params)
    return {i: attachment_json(i, conversation_id, f, ct, sz) for i, f, ct, sz in found}


def write_batch(tx: Tx, items: Sequence[SendItem], now: datetime) -> list[Outcome]:
    """Decide and store ``items`` inside the caller's transaction; one outcome per item,
    in order. Raises (and the caller rolls back) only for failures of the database."""
    outcomes: list[Outcome | None] = [None] * len(items)
    decisions: dict[int, _Decision] = {}
    stored = _existing(tx, items)
    facts: dict[tuple[int, int], _Facts | None] = {}
    first_of: dict[tuple[int, str], int] = {}
    claimed: set[int] = set()
    for index, item in enumerate(items):
        key = (item.actor.user_id, item.client_msg_id)
        try:
            original = stored.get(key)
            earlier = first_of.get(key)
            if original is not None or earlier is not None:
                conv = original.conversation_id if original is not None else items[earlier or 0].conversation_id
                if conv != item.conversation_id:
                    raise Conflict("client_msg_id was already used for another conversation", code="invalid_frame")
                decisions[index] = _Decision(duplicate_of=earlier, stored=original)
                continue
            pair = (item.conversation_id, item.actor.user_id)
            if pair not in facts:
                facts[pair] = _facts(tx, item.actor, item.conversation_id)
            fact = facts[pair]
            if fact is None:
                raise NotFound("no such conversation", code="not_found")
            _authorize(item.actor, item, fact.ref)
            data: dict[str, Any] = attribution(item.actor)
            if item.masked:
                data["masked"] = list(item.masked)
            if item.attachments:
                found = _unsent_attachments(tx, item.actor, item.conversation_id, item.attachments)
                if set(found) != set(item.attachments) or claimed & set(found):
                    raise ValidationFailed("attachments must be your own unsent uploads to this conversation",
                                           code="invalid_attachment")
                claimed.update(found)
                data["attachments"] = [found[i] for i in sorted(found)]
            decision = _Decision()
            if not fact.ref.is_participant and not item.internal:
                # Staff answering for the first time join the conversation, visibly.
                decision.events.append(_Planned(
                    index, item.conversation_id, EventKind.SYSTEM, None, None,
                    {"event": "participant.joined", "user": fact.author}, None, False))
                fact.ref = replace(fact.ref, is_participant=True)
            decision.events.append(_Planned(
                index, item.conversation_id, EventKind.NOTE if item.internal else EventKind.MESSAGE, fact.author,
                item.body, data, item.client_msg_id, item.internal, tuple(sorted(set(item.attachments)))))
            decisions[index] = decision
            first_of[key] = index
        except AppError as exc:
            outcomes[index] = exc
    _store(tx, items, decisions, facts, now)
    created = now
    for index, decision in decisions.items():
        if decision.stored is not None:
            outcomes[index] = SendResult(decision.stored, [])
            continue
        if decision.duplicate_of is not None:
            first = outcomes[decision.duplicate_of]
            assert isinstance(first, SendResult)
            outcomes[index] = SendResult(replace(first.ack, duplicate=True), [])
            continue
        item = items[index]
        message = decision.events[-1]
        outcomes[index] = SendResult(
            Ack(item.conversation_id, item.client_msg_id, message.id, message.seq, created, False),
            [_event_json(e, created) for e in decision.events],
        )
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]


def _event_json(e: _Planned, created: datetime) -> dict[str, Any]:
    return stored_event_json(
        conversation_id=e.conversation_id, seq=e.seq, id=e.id, kind=e.kind.value, author=e.author, body=e.body,
        data=e.data, client_msg_id=e.client_msg_id, created_at=created, internal=e.internal,
        prev_public_seq=e.prev_public_seq,
    )


def _store(tx: Tx, items: Sequence[SendItem], decisions: dict[int, _Decision],
           facts: dict[tuple[int, int], _Facts | None], now: datetime) -> None:
    planned = [e for index in sorted(decisions) for e in decisions[index].events]
    if not planned:
        return
    ts = tx.ts(now)
    by_conv: dict[int, list[_Planned]] = {}
    for event in planned:
        by_conv.setdefault(event.conversation_id, []).append(event)
    # Rows locked in one order by every writer: two processes' batches cannot deadlock.
    for conv_id in sorted(by_conv):
        events = by_conv[conv_id]
        row = tx.rows(_TAKE_SEQ, {"n": len(events), "now": ts, "conversation_id": conv_id})
        if not row:
            raise BatchConflict(f"conversation {conv_id} vanished")
        last, last_public = int(row[0][0]), int(row[0][1])
        numbers, new_public = number_run(last - len(events), last_public, [e.internal for e in events])
        for event, (seq, prev_public) in zip(events, numbers, strict=True):
            event.seq, event.prev_public_seq = seq, prev_public
        if new_public != last_public:
            tx.rows(_SET_PUBLIC, {"seq": new_public, "conversation_id": conv_id})
    for index, decision in sorted(decisions.items()):
        if decision.events and decision.events[0].kind is EventKind.SYSTEM:
            item = items[index]
            fact = facts[(item.conversation_id, item.actor.user_id)]
            assert fact is not None
            params: dict[str, Any] = {"conversation_id": item.conversation_id, "user_id": item.actor.user_id, "now": ts}
            if fact.participant_row:
                tx.rows(_REJOIN_PARTICIPANT, params)
            else:
                tx.rows(_ADD_PARTICIPANT, params)
                fact.participant_row = True
    params = {}
    values = []
    for n, e in enumerate(planned):
        row_values = (e.conversation_id, e.seq, e.prev_public_seq, e.kind.value,
                      e.author["id"] if e.author else None, e.client_msg_id, e.body, json.dumps(e.data),
                      e.internal, ts)
        for column, value in zip(_EVENT_COLUMNS, row_values, strict=True):
            params[f"{column}{n}"] = value
        values.append("(" + ", ".join(f":{column}{n}" for column in _EVENT_COLUMNS) + ")")
    inserted = tx.rows(
        f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES {', '.join(values)} RETURNING id, conversation_id, seq",
        params)
    ids = {(int(c), int(s)): int(i) for i, c, s in inserted}
    for e in planned:
        e.id = ids[(e.conversation_id, e.seq)]
        if e.attachments:
            claim: dict[str, Any] = {"event_id": e.id}
            listed = _in_list("t", e.attachments, claim)
            done = tx.rows(f"UPDATE attachments SET event_id = :event_id WHERE event_id IS NULL AND id IN ({listed}) "
                           f"RETURNING id", claim)
            if len(done) != len(e.attachments):
                raise BatchConflict("an attachment was claimed by another message meanwhile")
