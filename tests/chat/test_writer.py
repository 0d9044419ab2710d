"""The message writer (chat/writer.py, chat/message_batch.py): group commit of sends.

On SQLite and PostgreSQL (``svc`` runs each test on both): sends that wait together share
one transaction; each send keeps its own outcome; resends and races on one client id
store one event; a failure inside a batch leaves no trace; an ack means committed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from chat.attachments import upload
from chat.authz import Action, Principal, can
from chat.conversations import post_message, start_conversation, submit_message
from chat.errors import AppError, NotFound
from chat.events import Ack, load_visible
from chat.models import Conversation, ConversationStatus, Event, Participant, Role
from chat.services import Services
from chat.wiring import build_services
from chat.writer import writer_of
from tests.support.chatlog import SupportChat, new_staff, new_visitor, seed_support_chat, stored_log


@pytest.fixture
async def chat(svc: Services) -> SupportChat:
    return await seed_support_chat(svc)


def cid() -> str:
    return uuid.uuid4().hex


async def outcome(svc: Services, p: Principal, conv: int, body: str = "hello", **kw: Any) -> Ack | str:
    """The ack, or the error code."""
    try:
        ack, _ = await post_message(svc, p, conv, client_msg_id=kw.pop("client_msg_id", cid()), body=body, **kw)
    except AppError as exc:
        return exc.code
    return ack


async def stored(svc: Services, conv: int) -> tuple[list[int], int, int]:
    """Seqs of the stored events, the conversation's last_seq and last_public_seq."""
    async with svc.reads() as db:
        seqs = list(await db.scalars(select(Event.seq).where(Event.conversation_id == conv).order_by(Event.seq)))
        row = (await db.execute(select(Conversation.last_seq, Conversation.last_public_seq)
                                .where(Conversation.id == conv))).one()
    return seqs, int(row[0]), int(row[1])


async def test_sends_waiting_together_share_a_transaction_and_keep_their_order(svc: Services, chat: SupportChat) -> None:
    writer = writer_of(svc)
    before = writer.batches
    acks = await asyncio.gather(*(
        post_message(svc, chat.visitor.principal, chat.conversation_id, client_msg_id=f"m{i}", body=f"message {i}")
        for i in range(40)
    ))
    assert writer.batches - before < 5  # not one transaction each
    assert [a.seq for a, _ in acks] == list(range(2, 42))  # seq 1 is conversation.created
    assert all(not a.duplicate for a, _ in acks)
    log = await stored_log(svc, chat.agent.principal, chat.conversation_id)
    assert [e["body"] for e in log[1:]] == [f"message {i}" for i in range(40)]
    # The events handed back for publishing are the stored ones, byte for byte.
    assert [events for _, events in acks] == [[e] for e in log[1:]]
    assert await stored(svc, chat.conversation_id) == (list(range(1, 42)), 41, 41)


async def test_each_send_in_a_batch_keeps_its_own_outcome(svc: Services, chat: SupportChat) -> None:
    conv = chat.conversation_id
    other = await new_visitor(svc, chat.site_key, "Oscar Other")
    closed = (await start_conversation(svc, other.principal, subject="closed one")).conversation.id
    theirs = await upload(svc, other.principal, closed, filename="a.txt", content_type="text/plain",
                          declared_size=2, chunks=_chunks(b"hi"))
    async with svc.sessions.begin() as db:
        await db.execute(update(Conversation).where(Conversation.id == closed).values(status=ConversationStatus.CLOSED))
    mine = await upload(svc, chat.visitor.principal, conv, filename="b.txt", content_type="text/plain",
                        declared_size=2, chunks=_chunks(b"ok"))
    v, o = chat.visitor.principal, other.principal
    results = await asyncio.gather(
        outcome(svc, v, conv, "first"),
        outcome(svc, o, conv, "not mine to see"),
        outcome(svc, v, conv, "a note", internal=True),
        outcome(svc, o, closed, "too late"),
        outcome(svc, v, conv, "with someone else's file", attachments=[theirs.id]),
        outcome(svc, v, conv, "with my file", attachments=[mine.id]),
        outcome(svc, v, conv, "the same file again", attachments=[mine.id]),
        outcome(svc, v, 10**9, "nowhere"),
        outcome(svc, v, conv, "last"),
    )
    codes = [r if isinstance(r, str) else "ok" for r in results]
    assert codes == ["ok", "not_found", "forbidden", "conversation_closed", "invalid_attachment", "ok",
                     "invalid_attachment", "not_found", "ok"]
    assert [r.seq for r in results if isinstance(r, Ack)] == [2, 3, 4]
    log = await stored_log(svc, chat.agent.principal, conv)
    assert [e["body"] for e in log[1:]] == ["first", "with my file", "last"]
    assert log[2]["data"]["attachments"][0]["id"] == mine.id
    assert await stored(svc, conv) == ([1, 2, 3, 4], 4, 4)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_resends_and_a_race_on_one_client_id_store_one_event(svc: Services, chat: SupportChat) -> None:
    conv, v = chat.conversation_id, chat.visitor.principal
    # The same id twice in one batch, then resent after the commit.
    (first, events), (second, again) = await asyncio.gather(
        post_message(svc, v, conv, client_msg_id="same", body="once"),
        post_message(svc, v, conv, client_msg_id="same", body="once"),
    )
    third, later = await post_message(svc, v, conv, client_msg_id="same", body="once")
    assert (first.duplicate, second.duplicate, third.duplicate) == (False, True, True)
    assert first.id == second.id == third.id and first.seq == second.seq == third.seq == 2
    assert len(events) == 1 and again == [] and later == []
    # Another conversation may not reuse it (and stores nothing).
    elsewhere = (await start_conversation(svc, v, subject="another")).conversation.id
    assert await outcome(svc, v, elsewhere, "once", client_msg_id="same") == "invalid_frame"
    assert await stored(svc, elsewhere) == ([1], 1, 1)
    # Two processes (two writers on one database) racing on one id: one event stored.
    twin = build_services(svc.settings, clock=svc.clock)
    try:
        raced = await asyncio.gather(*(
            post_message(s, v, conv, client_msg_id=f"race-{i}", body="raced")
            for i in range(10) for s in (svc, twin)
        ))
    finally:
        await twin.close()
    for i in range(10):
        pair = [raced[2 * i][0], raced[2 * i + 1][0]]
        assert pair[0].id == pair[1].id and pair[0].seq == pair[1].seq
        assert sorted(a.duplicate for a in pair) == [False, True]
    seqs, last, _ = await stored(svc, conv)
    assert seqs == list(range(1, last + 1)) and last == 12


async def test_a_failing_write_rolls_back_its_batch_and_fails_only_its_send(svc: Services, chat: SupportChat) -> None:
    conv, v = chat.conversation_id, chat.visitor.principal
    await _install_refusal(svc)
    results = await asyncio.gather(
        post_message(svc, v, conv, client_msg_id=cid(), body="before"),
        post_message(svc, v, conv, client_msg_id=cid(), body="boom"),
        post_message(svc, v, conv, client_msg_id=cid(), body="after"),
        return_exceptions=True,
    )
    assert isinstance(results[1], SQLAlchemyError)
    assert [r[0].seq for r in (results[0], results[2]) if isinstance(r, tuple)] == [2, 3]
    # No seq was spent on the refused send, nothing half-written is left.
    assert await stored(svc, conv) == ([1, 2, 3], 3, 3)
    log = await stored_log(svc, chat.agent.principal, conv)
    assert [e["body"] for e in log[1:]] == ["before", "after"]


async def _install_refusal(svc: Services) -> None:
    """A trigger that refuses any event whose body is 'boom': a constraint no rule of
    the writer foresees, raised halfway through a batch's writes."""
    async with svc.engine.begin() as conn:
        if svc.settings.is_sqlite:
            await conn.exec_driver_sql(
                "CREATE TRIGGER refuse_boom BEFORE INSERT ON events WHEN NEW.body = 'boom' "
                "BEGIN SELECT RAISE(ABORT, 'boom refused'); END")
        else:
            await conn.exec_driver_sql(
                "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.body = 'boom' THEN RAISE EXCEPTION 'boom refused' USING ERRCODE = 'check_violation'; END IF; "
                "RETURN NEW; END $$")
            await conn.exec_driver_sql(
                "CREATE TRIGGER refuse_boom BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_boom()")


async def test_the_ack_comes_only_after_the_commit_and_a_sender_that_gives_up_stores_nothing(
    svc: Services, chat: SupportChat
) -> None:
    conv, v = chat.conversation_id, chat.visitor.principal
    async with _conversation_locked(svc, conv):
        first = submit_message(svc, v, conv, client_msg_id="first", body="first")
        await asyncio.sleep(0.05)  # the writer has taken it and waits for the lock
        gives_up = asyncio.ensure_future(post_message(svc, v, conv, client_msg_id="gone", body="never mind"))
        third = submit_message(svc, v, conv, client_msg_id="third", body="third")
        await asyncio.sleep(0.3)
        assert not first.done() and not third.done()  # nothing acknowledged while the write waits
        gives_up.cancel()
        await asyncio.sleep(0)
    ack, _ = await asyncio.wait_for(first, 10)
    # Acknowledged means committed: another connection sees it at once.
    async with svc.reads() as db:
        assert await db.scalar(select(Event.body).where(Event.id == ack.id)) == "first"
    assert (await asyncio.wait_for(third, 10)).ack.seq == 3
    with pytest.raises(asyncio.CancelledError):
        await gives_up
    assert await stored(svc, conv) == ([1, 2, 3], 3, 3)
    log = await stored_log(svc, chat.agent.principal, conv)
    assert [e["client_msg_id"] for e in log[1:]] == ["first", "third"]


class _conversation_locked:
    """Holds what the writer needs to store into ``conv``: SQLite's write lock, or the
    conversation's row lock on PostgreSQL."""

    def __init__(self, svc: Services, conv: int) -> None:
        self.svc, self.conv = svc, conv

    async def __aenter__(self) -> None:
        self._cm = self.svc.engine.connect()
        self.conn = await self._cm.__aenter__()
        self.tx = await self.conn.begin()  # BEGIN IMMEDIATE on SQLite: the write lock
        if not self.svc.settings.is_sqlite:
            await self.conn.execute(text("SELECT id FROM conversations WHERE id = :c FOR UPDATE"), {"c": self.conv})

    async def __aexit__(self, *exc: object) -> None:
        await self.tx.rollback()
        await self._cm.__aexit__(None, None, None)


async def test_staff_answering_first_join_the_conversation_in_the_same_batch(svc: Services, chat: SupportChat) -> None:
    conv, agent = chat.conversation_id, chat.agent.principal
    (first, events), (second, more) = await asyncio.gather(
        post_message(svc, agent, conv, client_msg_id=cid(), body="hello, I'm here"),
        post_message(svc, agent, conv, client_msg_id=cid(), body="what happened?"),
    )
    assert [e["kind"] for e in events] == ["system", "message"]
    assert events[0]["data"] == {"event": "participant.joined", "user": {"id": agent.user_id, "name": "agent",
                                                                          "role": "agent"}}
    assert [e["kind"] for e in more] == ["message"]  # joined once, not twice
    assert (first.seq, second.seq) == (3, 4)
    async with svc.reads() as db:
        count = await db.scalar(select(func.count()).select_from(Participant).where(
            Participant.conversation_id == conv, Participant.user_id == agent.user_id, Participant.left_at.is_(None)))
    assert count == 1
    # An internal note does not make its author a participant.
    agent2 = chat.agent2.principal
    _, notes = await post_message(svc, agent2, conv, client_msg_id=cid(), body="psst", internal=True)
    assert [e["kind"] for e in notes] == ["note"] and notes[0]["prev_public_seq"] == 4
    assert await stored(svc, conv) == ([1, 2, 3, 4, 5], 5, 4)


@pytest.mark.parametrize("internal", [False, True])
async def test_the_writer_decides_as_the_rules_do_for_every_role(svc: Services, chat: SupportChat, internal: bool) -> None:
    conv = chat.conversation_id
    other = await new_visitor(svc, chat.site_key, "Oscar Other")
    people = {
        "visitor": chat.visitor.principal,
        "other visitor": other.principal,
        "agent": chat.agent.principal,
        "read-only": (await new_staff(svc, "ro@x.example", Role.READ_ONLY)).principal,
        "support admin": (await new_staff(svc, "admin@x.example", Role.SUPPORT_ADMIN)).principal,
    }
    for status in (ConversationStatus.OPEN, ConversationStatus.CLOSED):
        async with svc.sessions.begin() as db:
            await db.execute(update(Conversation).where(Conversation.id == conv).values(status=status))
        for who, p in people.items():
            expected = await _by_the_rules(svc, p, conv, internal)
            got = await outcome(svc, p, conv, f"{who} {status}", internal=internal)
            assert (got if isinstance(got, str) else "ok") == expected, (who, status)


async def _by_the_rules(svc: Services, p: Principal, conv: int, internal: bool) -> str:
    """What post_message must answer, from chat.conversations.load_visible and chat.authz."""
    async with svc.reads() as db:
        try:
            _, ref = await load_visible(db, p, conv)
        except NotFound:
            return "not_found"
    if not ref.is_open:
        return "conversation_closed"  # for everyone who sees it, staff included
    action = Action.POST_INTERNAL_NOTE if internal else Action.POST_MESSAGE
    return "ok" if can(p, action, ref) else "forbidden"


async def test_bad_input_is_refused_before_anything_is_queued(svc: Services, chat: SupportChat) -> None:
    writer = writer_of(svc)
    before = writer.sends
    for kwargs, code in [({"body": " "}, "invalid_frame"), ({"body": "x" * 20_000}, "message_too_long"),
                         ({"client_msg_id": "x" * 65}, "invalid_frame"),
                         ({"attachments": list(range(1, 12))}, "invalid_frame")]:
        with pytest.raises(AppError) as refused:
            submit_message(svc, chat.visitor.principal, chat.conversation_id,
                           **{"client_msg_id": cid(), "body": "fine", **kwargs})
        assert refused.value.code == code
    assert writer.sends == before
    assert await stored(svc, chat.conversation_id) == ([1], 1, 1)
