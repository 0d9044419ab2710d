"""The hot reads (chat/hot_reads.py): plain SQL after every commit, on SQLite and PostgreSQL.

They must see every commit made before they run (a reaction reads what the message it
follows just stored), refuse to write, and fail as every other read fails.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from chat.conversations import post_message
from chat.hot_reads import hot_reads_of
from chat.services import Services
from tests.support.chatlog import SupportChat, seed_support_chat

_LAST = "SELECT last_seq, kind FROM conversations WHERE id = :id"


@pytest.fixture
async def chat(svc: Services) -> SupportChat:
    return await seed_support_chat(svc)


async def test_each_read_sees_every_earlier_commit(svc: Services, chat: SupportChat) -> None:
    reads = hot_reads_of(svc)
    assert reads is hot_reads_of(svc)  # one per process and database
    seen = []
    for i in range(3):
        ack, _ = await post_message(svc, chat.visitor.principal, chat.conversation_id, client_msg_id=f"h{i}", body="hi")
        rows = await reads.rows(_LAST, {"id": chat.conversation_id})
        seen.append(tuple(rows[0]))
        assert rows[0][0] == ack.seq
    assert [kind for _, kind in seen] == ["chat"] * 3  # stored values, as the driver gives them
    assert await reads.rows(_LAST, {"id": -1}) == []


async def test_a_write_is_refused_and_changes_nothing(svc: Services, chat: SupportChat) -> None:
    reads = hot_reads_of(svc)
    before = await reads.rows(_LAST, {"id": chat.conversation_id})
    if svc.engine.dialect.name == "sqlite":
        # The SQLite connection is query_only; on other databases the read engine is the
        # ordinary engine and a write is the caller's bug, not a guard of this module.
        with pytest.raises(DBAPIError):
            await reads.rows("UPDATE conversations SET last_seq = 99 WHERE id = :id", {"id": chat.conversation_id})
    with pytest.raises(DBAPIError):
        await reads.rows("SELECT no_such_column FROM conversations WHERE id = :id", {"id": chat.conversation_id})
    assert await reads.rows(_LAST, {"id": chat.conversation_id}) == before
    async with svc.reads() as db:
        assert (await db.execute(text("SELECT last_seq FROM conversations WHERE id = :id"),
                                 {"id": chat.conversation_id})).scalar() == before[0][0]


async def test_closed_with_the_services(svc: Services, chat: SupportChat) -> None:
    reads = hot_reads_of(svc)
    await reads.rows(_LAST, {"id": chat.conversation_id})
    await svc.engine.dispose()
    assert hot_reads_of(svc) is not reads  # the disposed engine's reader was closed and forgotten
