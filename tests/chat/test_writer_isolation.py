"""One sender's bad send must not fail other people's sends (issue 20): a batch isolates a
bad item for ANY error from the database, not only the constraints it foresaw.

The poisoned send carries an attachment id past 2**63-1, as the ``attachments: [2**63]``
frame did before the edge bounded it (chat/hub/frames.py): SQLite's driver raises
OverflowError binding it, asyncpg a DataError — neither an IntegrityError. It stands for
any value that slips past the edge.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from sqlalchemy import func, select

from chat.conversations import post_message
from chat.errors import AppError
from chat.models import Event
from chat.services import Services
from chat.writer import writer_of
from tests.support.chatlog import seed_support_chat


async def test_a_poisoned_send_fails_alone_and_the_others_get_their_acks(
    svc: Services, caplog: pytest.LogCaptureFixture
) -> None:
    chat = await seed_support_chat(svc)
    conv, visitor, agent = chat.conversation_id, chat.visitor.principal, chat.agent.principal
    writer = writer_of(svc)
    before = writer.batches
    sends = [
        post_message(svc, agent if i % 2 else visitor, conv, client_msg_id=uuid.uuid4().hex, body=f"innocent {i}")
        for i in range(8)
    ]
    sends.insert(4, post_message(svc, visitor, conv, client_msg_id="poisoned", body="poison", attachments=[2**63]))
    results = await asyncio.gather(*sends, return_exceptions=True)
    poisoned = results.pop(4)
    assert isinstance(poisoned, AppError) and poisoned.code == "invalid_frame", repr(poisoned)
    assert all(isinstance(r, tuple) for r in results), results  # every innocent sender: its ack
    assert len({ack.seq for ack, _ in results}) == 8  # type: ignore[union-attr]
    assert writer.batches - before < 9  # they did share a transaction
    async with svc.reads() as db:
        bodies = list(await db.scalars(select(Event.body).where(Event.conversation_id == conv).order_by(Event.seq)))
        poison = await db.scalar(select(func.count()).select_from(Event).where(Event.client_msg_id == "poisoned"))
    assert poison == 0 and sorted(b for b in bodies if b) == sorted(f"innocent {i}" for i in range(8))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
