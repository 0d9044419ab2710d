"""The desk configuration a process keeps: read once, built again when any process
writes a calendar, category, SLA policy or support group — never kept from a transaction
that did not commit."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import event, select

from chat.services import Services
from chat.wiring import build_services
from escalation.config import load_desk
from escalation.models import DeskVersion, SupportGroup


async def _version(svc: Services) -> int:
    async with svc.reads() as db:
        return int(await db.scalar(select(DeskVersion.version).where(DeskVersion.id == 1)) or 0)


async def _desk_reads(svc: Services) -> list[str]:
    """The statements one load_desk issues."""
    seen: list[str] = []

    def listen(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(svc.engine.sync_engine, "before_cursor_execute", listen)
    try:
        async with svc.sessions.begin() as db:
            await load_desk(db, svc.settings)
    finally:
        event.remove(svc.engine.sync_engine, "before_cursor_execute", listen)
    return [s for s in seen if s.lstrip().upper().startswith("SELECT")]


async def test_kept_until_a_write_moves_the_version(svc: Services) -> None:
    await _desk_reads(svc)  # built once
    assert len(await _desk_reads(svc)) == 1, "a kept desk costs the version read only"
    before = await _version(svc)
    async with svc.sessions.begin() as db:
        db.add(SupportGroup(key="night", name="Night shift", level=1, lead_id=None, position=9))
    assert await _version(svc) == before + 1
    assert len(await _desk_reads(svc)) > 1, "a moved version reads the tables again"
    async with svc.sessions.begin() as db:
        assert "night" in (await load_desk(db, svc.settings)).groups


async def test_another_process_sees_the_change(svc: Services) -> None:
    # Another bundle of engines on the same database: what it kept is checked against the
    # stored counter at every load, as another process's would be.
    other = build_services(replace(svc.settings), clock=svc.clock)
    try:
        async with other.sessions.begin() as db:
            assert "night" not in (await load_desk(db, other.settings)).groups
        async with svc.sessions.begin() as db:  # this process writes
            db.add(SupportGroup(key="night", name="Night shift", level=1, lead_id=None, position=9))
        async with other.sessions.begin() as db:
            assert "night" in (await load_desk(db, other.settings)).groups
    finally:
        await other.close()


async def test_an_uncommitted_change_is_not_kept(svc: Services) -> None:
    class Abandon(Exception):
        pass

    with pytest.raises(Abandon):
        async with svc.sessions.begin() as db:
            db.add(SupportGroup(key="ghost", name="Never committed", level=1, lead_id=None, position=9))
            # The writing transaction sees its own change...
            assert "ghost" in (await load_desk(db, svc.settings)).groups
            raise Abandon
    # ...and nobody keeps it after the rollback, not even when the next committed write
    # moves the version to the number the abandoned one had.
    async with svc.sessions.begin() as db:
        db.add(SupportGroup(key="real", name="Committed", level=1, lead_id=None, position=9))
    async with svc.sessions.begin() as db:
        groups = (await load_desk(db, svc.settings)).groups
    assert "real" in groups and "ghost" not in groups
