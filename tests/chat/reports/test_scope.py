"""Who sees which tickets in the reports (chat/reports/scope.py), on SQLite and PostgreSQL:
staff everything; an agent its own and its groups'; a reseller admin its customers'; a
company id outside the scope matches nothing; customers and visitors are refused."""

from __future__ import annotations

import pytest

from chat.authz import Principal
from chat.clock import ManualClock
from chat.errors import AppError
from chat.reports import drill, selection
from chat.reports.breakdown import breakdown_report
from chat.reports.volume import volume_report
from chat.services import Services
from tests.chat.reports.world import World, build, query_of, table

RANGE = [("from", "2026-03-02"), ("to", "2026-03-04")]


@pytest.fixture
async def world(svc: Services, clock: ManualClock) -> World:
    return await build(svc, clock)


async def listed(world: World, who: Principal, pairs: list[tuple[str, str]] | None = None) -> set[int]:
    query = query_of(world.svc, [*RANGE, *(pairs or [])])
    page = await drill.drill_tickets(world.svc, who, query, selection.Cell("created"))
    return {t.id for t in page["tickets"]}


async def created(world: World, who: Principal, pairs: list[tuple[str, str]] | None = None) -> int:
    document = await volume_report(world.svc, who, query_of(world.svc, [*RANGE, *(pairs or [])]))
    return int(table(document, "per_day")["totals"]["created"])


async def test_scope_per_role(world: World) -> None:
    ids, desk = world.ids, world.desk
    letters = {v: k for k, v in ids.items()}

    async def sees(who: Principal, pairs: list[tuple[str, str]] | None = None) -> str:
        found = "".join(sorted(letters[i] for i in await listed(world, who, pairs)))
        assert await created(world, who, pairs) == len(found)  # the number and the list agree
        return found

    assert await sees(desk.admin) == "ABCDEF"
    assert await sees(desk.readonly) == "ABCDEF"
    # Ann: A is assigned to her. Bob: E is his, and he leads second_level, where C was
    # transferred and where the SLA ladder raised D, E and F.
    assert await sees(desk.agent) == "A"
    assert await sees(desk.agent2) == "CDEF"
    # An agent's filter narrows its scope; it never widens it.
    assert await sees(desk.agent, [("agent", str(desk.agent2.user_id))]) == ""
    # Partner's admin: Beta's tickets. Rival's admin: none (Gamma opened nothing).
    assert await sees(world.reseller) == "EF"
    assert await sees(world.other_reseller) == ""
    # Another reseller's company, or a company that does not exist: nothing, no error.
    assert await sees(world.reseller, [("company", str(desk.org_id))]) == ""
    assert await sees(world.other_reseller, [("company", str(world.beta_id))]) == ""
    assert await sees(world.reseller, [("company", str(world.beta_id))]) == "EF"
    assert await sees(desk.admin, [("company", "999999999")]) == ""


async def test_names_outside_the_scope_do_not_show(world: World) -> None:
    document = await breakdown_report(world.svc, world.reseller, query_of(world.svc, RANGE))
    assert {r["name"] for r in table(document, "company")["rows"]} == {"Beta"}


async def test_customers_and_visitors_are_refused(world: World) -> None:
    query = query_of(world.svc, RANGE)
    for who in ("customer", "colleague", "visitor", "stranger"):
        principal = getattr(world.desk, who)
        for call in (volume_report(world.svc, principal, query),
                     drill.drill_tickets(world.svc, principal, query, selection.Cell("created"))):
            with pytest.raises(AppError) as info:
                await call
            assert (info.value.status, info.value.code) == (403, "forbidden"), who
