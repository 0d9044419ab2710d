"""Output shapes (chat.wire): the bytes a view encodes to are the documented wire, checked
against literal JSON — key order, null vs absent, and times as ``isoformat()`` gives them
(``+00:00``, never msgspec's own ``Z``). The rows are built in memory: a view reads only
the row it is given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec

from chat.desk.canned import CannedReplyView
from chat.desk.models import CannedReply
from chat.groups.models import ChatGroup, ChatGroupJoinRequest, HistoryVisibility, RequestRoute, RequestStatus
from chat.groups.requests import JoinRequestView
from chat.http.common import JSON
from chat.http.views import SiteView
from chat.models import Role, Site, User
from chat.wire import as_data, iso
from escalation.admin import CategoryView, SupportGroupView
from escalation.models import SupportGroup, TaskStatus, TaskType, TicketCategory, TicketTask
from escalation.policies import Availability
from escalation.views import TaskView

AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
AT_MICRO = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def encoded(view: msgspec.Struct) -> str:
    return msgspec.json.encode(view).decode()


def test_times_are_isoformat_with_an_offset_not_z() -> None:
    assert iso(AT) == "2026-03-04T05:06:07+00:00"
    assert iso(AT_MICRO) == "2026-03-04T05:06:07.123456+00:00"
    assert iso(datetime(2026, 3, 4, 8, 6, 7, tzinfo=timezone(timedelta(hours=3)))) == "2026-03-04T08:06:07+03:00"
    assert iso(None) is None
    # Why views hold strings: msgspec would write the same instant differently.
    assert msgspec.json.encode(AT) == b'"2026-03-04T05:06:07Z"'


def test_a_canned_reply_keeps_its_nulls() -> None:
    reply = CannedReply(id=2, title="Bye", body="See you", shortcut=None, kb_url=None, created_by_id=None,
                        created_at=AT, updated_at=AT_MICRO)
    assert encoded(CannedReplyView.of(reply)) == (
        '{"id":2,"title":"Bye","body":"See you","shortcut":null,"kb_url":null,"created_by_id":null,'
        '"created_at":"2026-03-04T05:06:07+00:00","updated_at":"2026-03-04T05:06:07.123456+00:00"}'
    )


def test_a_site_shows_its_secret_only_when_asked() -> None:
    site = Site(id=3, public_key="pk_x", name="Shop", organization_id=None, allowed_origins=["https://a.test"],
                identity_secret="s3cret", default_language="en", created_at=AT)
    common = ('{"id":3,"public_key":"pk_x","name":"Shop","organization_id":null,"allowed_origins":["https://a.test"],'
              '"default_language":"en","created_at":"2026-03-04T05:06:07+00:00","previous_secret_until":null')
    assert encoded(SiteView.of(site, with_secret=True)) == common + ',"identity_secret":"s3cret"}'
    assert encoded(SiteView.of(site, with_secret=False)) == common + "}"


def test_a_category_hides_the_desk_fields_from_customers() -> None:
    # The titles per language are for everyone: a customer reads the category in theirs.
    row = TicketCategory(key="billing", name="Billing", availability=Availability.CUSTOMER,
                         resolution={"business_days": 2}, stage_one=None, default_severity=2, position=1, active=True,
                         titles={"ru": "Оплата"})
    customer = ('{"key":"billing","name":"Billing","titles":{"ru":"Оплата"},'
                '"sla":{"resolution":{"business_days":2},"stage_one":null},"customer_selectable":true,"default_severity":2')
    assert encoded(CategoryView.of(row, staff=False)) == customer + "}"
    assert encoded(CategoryView.of(row, staff=True)) == customer + ',"availability":"customer","position":1,"active":true}'


def test_one_shape_for_a_support_group_whoever_edits_it() -> None:
    group = SupportGroup(key="vendor", name="Vendor", level=3, lead_id=None, position=4)
    assert encoded(SupportGroupView.of(group)) == '{"key":"vendor","name":"Vendor","level":3,"lead_id":null,"position":4}'


def test_a_join_request_nests_its_group_user_and_decider() -> None:
    group = ChatGroup(id=11, organization_id=7, conversation_id=40, name="Ops", history=HistoryVisibility.FULL,
                      created_at=AT)
    user = User(id=2, email=None, name="Visitor", role=Role.CUSTOMER)
    decider = User(id=3, email="zed@x.test", name="Zed", role=Role.SUPPORT_ADMIN)
    req = ChatGroupJoinRequest(id=9, group_id=11, user_id=2, status=RequestStatus.REJECTED, route=RequestRoute.PLATFORM,
                               reseller_id=None, note="please", ticket_conversation_id=77, decided_by_id=3,
                               decided_at=AT_MICRO, reason="no", created_at=AT)
    assert encoded(JoinRequestView.of(req, group, user, decider)) == (
        '{"id":9,"group":{"id":11,"name":"Ops","organization_id":7},"user":{"id":2,"name":"Visitor","email":null},'
        '"status":"rejected","route":"platform","reseller_id":null,"note":"please","reason":"no",'
        '"decided_by":{"id":3,"name":"Zed","role":"support_admin"},"decided_at":"2026-03-04T05:06:07.123456+00:00",'
        '"ticket_id":77,"created_at":"2026-03-04T05:06:07+00:00"}'
    )


def test_a_task_is_the_same_as_a_response_and_as_stored_event_data() -> None:
    task = TicketTask(id=3, conversation_id=40, text="Ship a unit", hours=1.5, type=TaskType.FIRMWARE, due_at=None,
                      status=TaskStatus.OPEN, created_by_id=1, created_at=AT, updated_at=AT_MICRO)
    expected = (
        '{"id":3,"ticket_id":40,"text":"Ship a unit","hours":1.5,"type":"firmware","due_at":null,"status":"open",'
        '"created_by_id":1,"created_at":"2026-03-04T05:06:07+00:00","updated_at":"2026-03-04T05:06:07.123456+00:00",'
        '"assignee_id":null}'
    )
    view = TaskView.of(task)
    assert encoded(view) == expected
    assert JSON(view).body.decode() == expected
    data = as_data(view)
    assert isinstance(data, dict) and msgspec.json.encode(data).decode() == expected
