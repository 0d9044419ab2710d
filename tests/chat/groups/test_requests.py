"""Join requests and membership through the use cases, on SQLite and PostgreSQL: who may
ask and decide, bad input that changes nothing, and exactly what is published."""

from __future__ import annotations

import email
import email.policy
from typing import Any

import pytest
from sqlalchemy import func, select

from chat.conversations import events_after, post_message
from chat.directory import user_channel
from chat.errors import AppError
from chat.events import conversation_channel
from chat.groups import requests, service
from chat.groups.models import ChatGroupJoinRequest, ChatGroupMember, RequestStatus
from chat.mail.models import OutboxMail
from chat.models import Participant
from chat.services import Services
from tests.chat.groups.helpers import GroupWorld, drain, make_group_world


@pytest.fixture
async def world(svc: Services) -> GroupWorld:
    return await make_group_world(svc)


async def _counts(svc: Services) -> tuple[int, int, int]:
    async with svc.reads() as db:
        return (
            int(await db.scalar(select(func.count()).select_from(ChatGroupJoinRequest)) or 0),
            int(await db.scalar(select(func.count()).select_from(ChatGroupMember)) or 0),
            int(await db.scalar(select(func.count()).select_from(Participant)) or 0),
        )


async def _refused(svc: Services, code: str, call: Any) -> AppError:
    """``call`` raises ``code`` and stores nothing."""
    before = await _counts(svc)
    with pytest.raises(AppError) as caught:
        await call
    assert caught.value.code == code, caught.value.message
    assert await _counts(svc) == before
    return caught.value


async def test_request_goes_to_the_reseller_and_approval_makes_a_member(svc: Services, world: GroupWorld) -> None:
    conv = world.ops.conversation_id
    sub = await svc.broker.subscribe(
        conversation_channel(conv), user_channel(world.alice.id), user_channel(world.r1admin.id),
        user_channel(world.r2admin.id), "staff",
    )
    made = await requests.request_join(svc, world.alice.principal, group="Ops", note="I run the night shift")
    assert made.status == "pending" and made.route == "reseller" and made.reseller_id == world.reseller1
    # The requester and their reseller's admins hear of it; nobody else.
    assert [(c, m["type"]) for c, m in await drain(sub)] == [
        (user_channel(world.alice.id), "join_request"), (user_channel(world.r1admin.id), "join_request"),
    ]
    decided = await requests.decide(svc, world.r1admin.principal, made.id, approve=True, reason="welcome")
    assert decided.status == "approved" and decided.decided_by["id"] == world.r1admin.id
    published = await drain(sub)
    assert [(c, m["type"]) for c, m in published] == [
        (conversation_channel(conv), "event"),
        (user_channel(world.alice.id), "join_request"),
        (user_channel(world.r1admin.id), "join_request"),
        (user_channel(world.alice.id), "membership"),
    ]
    joined = published[0][1]
    assert joined["data"]["event"] == "member.joined" and joined["data"]["user"]["id"] == world.alice.id
    assert published[3][1] | {} == {
        "type": "membership", "user_id": world.alice.id, "group_id": world.ops.id, "group_name": "Ops",
        "conversation_id": conv, "state": "member", "reason": None,
    }
    # Now a member: she reads and posts like in any chat.
    ack, _ = await post_message(svc, world.alice.principal, conv, client_msg_id="a1", body="hello team")
    assert ack.seq == joined["seq"] + 1
    mine = await service.list_groups(svc, world.alice.principal)
    assert [(g.name, g.membership) for g in mine] == [("Ops", "member")]


async def test_bad_requests_are_refused_and_change_nothing(svc: Services, world: GroupWorld) -> None:
    alice = world.alice.principal
    await _refused(svc, "group_not_found", requests.request_join(svc, alice, group="No Such Group"))
    await _refused(svc, "group_not_found", requests.request_join(svc, alice, group=999_999))
    # Another company's group: by id it looks missing; by name it is not hers to find.
    await _refused(svc, "group_not_found", requests.request_join(svc, alice, group=world.direct_group.id))
    await _refused(svc, "group_not_found", requests.request_join(svc, world.carol.principal, group=world.ops.id))
    # Staff and resellers do not ask to join a customer's group.
    await _refused(svc, "forbidden", requests.request_join(svc, world.agent.principal, group=world.ops.id))
    await _refused(svc, "forbidden", requests.request_join(svc, world.r1admin.principal, group=world.ops.id))
    await _refused(svc, "validation_failed", requests.request_join(svc, alice, group="Ops", note="x" * 1001))

    first = await requests.request_join(svc, alice, group=world.ops.id)
    await _refused(svc, "request_pending", requests.request_join(svc, alice, group="Ops"))
    # Deciding: a reseller admin of another reseller sees nothing; agents leave reseller
    # customers to their reseller; read-only users decide nothing.
    await _refused(svc, "request_not_found", requests.decide(svc, world.r2admin.principal, first.id, approve=True))
    await _refused(svc, "forbidden", requests.decide(svc, world.agent.principal, first.id, approve=True))
    await _refused(svc, "forbidden", requests.decide(svc, world.readonly.principal, first.id, approve=True))
    await _refused(svc, "forbidden", requests.decide(svc, alice, first.id, approve=True))
    await _refused(svc, "request_not_found", requests.decide(svc, world.r1admin.principal, 999_999, approve=True))
    await _refused(svc, "validation_failed", requests.decide(svc, world.r1admin.principal, first.id, approve=False))

    rejected = await requests.decide(svc, world.r1admin.principal, first.id, approve=False, reason="not on the list")
    assert rejected.status == "rejected" and rejected.reason == "not on the list"
    await _refused(svc, "already_decided", requests.decide(svc, world.r1admin.principal, first.id, approve=True))
    await _refused(svc, "already_decided", requests.decide(svc, world.admin.principal, first.id, approve=False,
                                                           reason="again"))
    mine = await requests.list_requests(svc, alice)
    assert [(r.id, r.status, r.reason) for r in mine] == [(first.id, "rejected", "not on the list")]
    # After a rejection she may ask again.
    again = await requests.request_join(svc, alice, group="Ops")
    await requests.decide(svc, world.r1admin.principal, again.id, approve=True)
    await _refused(svc, "already_member", requests.request_join(svc, alice, group="Ops"))


async def test_a_direct_customer_is_decided_by_platform_staff(svc: Services, world: GroupWorld) -> None:
    sub = await svc.broker.subscribe("staff", user_channel(world.r1admin.id))
    made = await requests.request_join(svc, world.dave.principal, group="Ops")
    assert made.group.id == world.direct_group.id  # his company's "Ops", not Acme's
    assert made.route == "platform" and made.reseller_id is None
    published = await drain(sub)
    # Staff hear of the request, and of the "service request" ticket it opened for them.
    assert made.ticket_id is not None
    assert [m["request"]["id"] for c, m in published if m["type"] == "join_request"] == [made.id]
    assert {(c, m["conversation_id"]) for c, m in published if m["type"] == "inbox"} == {("staff", made.ticket_id)}
    assert {c for c, _ in published} == {"staff"}
    # No reseller may decide it; any agent may.
    with pytest.raises(AppError) as caught:
        await requests.decide(svc, world.r1admin.principal, made.id, approve=True)
    assert caught.value.code == "request_not_found"
    staff_view = await requests.list_requests(svc, world.readonly.principal, status=RequestStatus.PENDING)
    assert [r.id for r in staff_view] == [made.id]
    decided = await requests.decide(svc, world.agent.principal, made.id, approve=True)
    assert decided.status == "approved"


async def test_who_sees_which_requests(svc: Services, world: GroupWorld) -> None:
    a = await requests.request_join(svc, world.alice.principal, group="Ops")
    b = await requests.request_join(svc, world.bob.principal, group="Ops")
    d = await requests.request_join(svc, world.dave.principal, group="Ops")
    ids = lambda items: [r.id for r in items]  # noqa: E731
    assert ids(await requests.list_requests(svc, world.alice.principal)) == [a.id]
    assert ids(await requests.list_requests(svc, world.r1admin.principal)) == [b.id, a.id]
    assert ids(await requests.list_requests(svc, world.r2admin.principal)) == []
    assert ids(await requests.list_requests(svc, world.agent.principal)) == [d.id, b.id, a.id]
    assert ids(await requests.list_requests(svc, world.agent.principal, group_id=world.direct_group.id)) == [d.id]


async def test_removal_ends_reading_posting_and_is_told(svc: Services, world: GroupWorld) -> None:
    conv = world.ops.conversation_id
    made = await requests.request_join(svc, world.alice.principal, group="Ops")
    await requests.decide(svc, world.r1admin.principal, made.id, approve=True)
    sub = await svc.broker.subscribe(conversation_channel(conv), user_channel(world.alice.id))
    # Another reseller's admin cannot remove her; a group of another company is invisible.
    with pytest.raises(AppError) as caught:
        await service.remove_member(svc, world.r2admin.principal, world.ops.id, world.alice.id)
    assert caught.value.code == "group_not_found"
    with pytest.raises(AppError) as caught:
        await service.remove_member(svc, world.r1admin.principal, world.ops.id, world.bob.id)
    assert caught.value.code == "member_not_found"
    await service.remove_member(svc, world.r1admin.principal, world.ops.id, world.alice.id, reason="left the company")
    published = await drain(sub)
    assert [(c, m["type"]) for c, m in published] == [
        (conversation_channel(conv), "event"), (user_channel(world.alice.id), "membership"),
    ]
    assert published[0][1]["data"]["event"] == "member.removed"
    assert "left the company" not in str(published[0][1])  # the reason is hers alone
    assert published[1][1]["state"] == "removed" and published[1][1]["reason"] == "left the company"
    for call in (
        events_after(svc, world.alice.principal, conv, after_seq=0),
        post_message(svc, world.alice.principal, conv, client_msg_id="late", body="still here?"),
    ):
        with pytest.raises(AppError) as caught:
            await call
        assert caught.value.code == "not_found"
    assert [(g.name, g.membership) for g in await service.list_groups(svc, world.alice.principal)] == [
        ("Ops", "removed")
    ]


async def test_the_requester_is_mailed_the_decision_once_and_refused_decisions_mail_nothing(
    svc: Services, world: GroupWorld
) -> None:
    alice = world.alice.principal
    first = await requests.request_join(svc, alice, group="Ops")
    await _refused(svc, "forbidden", requests.decide(svc, world.agent.principal, first.id, approve=True))
    await requests.decide(svc, world.r1admin.principal, first.id, approve=False, reason="not on the list")
    await _refused(svc, "already_decided", requests.decide(svc, world.r1admin.principal, first.id, approve=True))
    again = await requests.request_join(svc, alice, group="Ops")
    await requests.decide(svc, world.r1admin.principal, again.id, approve=True)
    async with svc.reads() as db:
        mails = list(await db.scalars(select(OutboxMail).order_by(OutboxMail.id)))
    assert [(m.kind, m.to_user_id) for m in mails] == [("join_decided", world.alice.id)] * 2
    texts = [email.message_from_bytes(m.raw, policy=email.policy.default).get_body(("plain",)) for m in mails]
    assert "not on the list" in str(texts[0].get_content() if texts[0] else "")
