"""Pure additions to the core for tickets in the product: live chats and tracking on the
SLA clock, the escalation ladder, delays, labels, and the JSON forms admins edit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.autoclose import Delay, DelayUnit
from escalation.calendars import always_open, moscow_business_calendar
from escalation.errors import IllegalTransition, InvalidCalendar, InvalidLabel, InvalidPolicy, InvalidSlaFacts
from escalation.history_facts import sla_facts
from escalation.labels import parse_labels
from escalation.ladder import DEFAULT_LADDER, Ladder, LadderAction
from escalation.lifecycle import Actor, EventType, TicketStatus, open_chat, start, track
from escalation.policies import (
    Category,
    calendar_from_json,
    calendar_to_json,
    effective_policy,
    spec_from_json,
    spec_to_json,
)
from escalation.policy_table import PlanTier, PolicyRule, PolicyTable, Severity
from escalation.seeds import FFC_CATEGORIES, default_policy_table, seed_category_rows, seed_policy_rows
from escalation.sla import DeadlineState, FactKind, SlaClock, SlaEvent, SlaEventKind, SlaFact
from escalation.sla_targets import SlaPolicy, SlaTarget, TargetSpec

MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H, MIN = timedelta(hours=1), timedelta(minutes=1)
ALWAYS = always_open()
POLICY = SlaPolicy("p", "24x7", first_response=TargetSpec.hours(1), next_response=TargetSpec.hours(2),
                   stage_one=TargetSpec.hours(8), resolution=TargetSpec.hours(24))
FR, NR, S1, RES = SlaTarget.FIRST_RESPONSE, SlaTarget.NEXT_RESPONSE, SlaTarget.STAGE_ONE, SlaTarget.RESOLUTION


def clock(*facts: tuple[FactKind, datetime]) -> SlaClock:
    return SlaClock(POLICY, ALWAYS, tuple(SlaFact(kind, at) for kind, at in facts))


# -- live chats on the SLA clock --------------------------------------------------------------


def test_a_live_chat_times_only_its_first_response_until_it_is_tracked() -> None:
    live = clock((FactKind.CHAT_OPENED, T0), (FactKind.AGENT_REPLY, T0 + 10 * MIN),
                 (FactKind.CUSTOMER_REPLY, T0 + 20 * MIN))
    deadlines = live.deadlines(T0 + H)
    first = deadlines[FR]
    assert first is not None and first.state is DeadlineState.MET
    assert deadlines[NR] is None and deadlines[S1] is None and deadlines[RES] is None
    tracked = live.record(SlaFact(FactKind.TRACKED, T0 + 3 * H), SlaFact(FactKind.CUSTOMER_REPLY, T0 + 4 * H))
    deadlines = tracked.deadlines(T0 + 5 * H)
    resolution, stage_one, next_response = deadlines[RES], deadlines[S1], deadlines[NR]
    # Stage one and resolution run from the tracking, not from the chat's start.
    assert resolution is not None and resolution.due_at == T0 + 27 * H
    assert stage_one is not None and stage_one.due_at == T0 + 11 * H
    # The next-response clock runs only on a tracked ticket.
    assert next_response is not None and next_response.started_at == T0 + 4 * H


@pytest.mark.parametrize(
    "facts",
    [
        ((FactKind.TRACKED, T0),),
        ((FactKind.OPENED, T0), (FactKind.TRACKED, T0 + H)),
        ((FactKind.CHAT_OPENED, T0), (FactKind.TRACKED, T0 + H), (FactKind.TRACKED, T0 + 2 * H)),
        ((FactKind.CHAT_OPENED, T0), (FactKind.OPENED, T0 + H)),
    ],
)
def test_tracking_facts_out_of_place_are_refused(facts: tuple[tuple[FactKind, datetime], ...]) -> None:
    with pytest.raises(InvalidSlaFacts):
        clock(*facts)


@settings(max_examples=60, deadline=None)
@given(
    track_after=st.integers(min_value=0, max_value=600),
    later=st.lists(st.tuples(st.sampled_from([FactKind.PAUSED, FactKind.RESUMED, FactKind.STAGE_ONE_DONE]),
                             st.integers(min_value=0, max_value=2000)), max_size=4),
)
def test_tracking_at_t_is_opening_at_t_for_stage_one_and_resolution(
    track_after: int, later: list[tuple[FactKind, int]]
) -> None:
    tracked_at = T0 + track_after * MIN
    rest = sorted(((kind, tracked_at + minutes * MIN) for kind, minutes in later), key=lambda f: f[1])
    converted = clock((FactKind.CHAT_OPENED, T0), (FactKind.TRACKED, tracked_at), *rest)
    direct = clock((FactKind.OPENED, tracked_at), *rest)
    now = tracked_at + 3000 * MIN
    for target in (S1, RES):
        assert converted.deadlines(now)[target] == direct.deadlines(now)[target]


def test_the_lifecycle_opens_chats_untracked_and_tracks_once() -> None:
    opened = open_chat(T0, Actor.system())
    assert not opened.state.tracked and opened.state.status is TicketStatus.NEW
    tracked = track(opened.state, T0 + H, Actor.agent("a"))
    assert tracked.state.tracked and [e.type for e in tracked.events] == [EventType.TRACKED]
    assert [f.kind for f in sla_facts(opened.events + tracked.events)] == [FactKind.CHAT_OPENED, FactKind.TRACKED]
    with pytest.raises(IllegalTransition):
        track(tracked.state, T0 + 2 * H, Actor.agent("a"))
    started = start(tracked.state, T0 + 2 * H, Actor.agent("a"))
    assert started.state.status is TicketStatus.IN_PROGRESS
    assert sla_facts(started.events) == []  # taking a ticket into work is no response


# -- the ladder -------------------------------------------------------------------------------


def test_the_ladder_parses_prints_and_refuses_nonsense() -> None:
    ladder = Ladder.parse(DEFAULT_LADDER)
    assert [s.action for s in ladder.steps] == [LadderAction.RAISE_LEVEL, LadderAction.NOTIFY_GROUP_LEAD,
                                                LadderAction.NOTIFY_ADMINS]
    assert str(ladder) == DEFAULT_LADDER and Ladder.parse("").steps == ()
    for bad in ("raise_level@0", "raise_level:1@0", "notify_admins:2@0", "page_ceo@0", "notify_admins@-5",
                "notify_admins@60, notify_assignee@30", "notify_admins@99999", "notify_admins",
                ", ".join(["notify_admins@1"] * 11)):
        with pytest.raises(InvalidPolicy):
            Ladder.parse(bad)


def test_ladder_steps_wait_in_business_time_and_are_done_once() -> None:
    moscow = moscow_business_calendar()
    breached_at = datetime(2026, 11, 6, 17, 50, tzinfo=MSK)  # Friday, 10 min before closing
    breach = SlaEvent(RES, SlaEventKind.BREACH, breached_at, breached_at - 9 * H)
    warning = SlaEvent(FR, SlaEventKind.WARNING, breached_at, breached_at - H)
    ladder = Ladder.parse("raise_level:2@0, notify_group_lead@60")
    due = ladder.due_steps([warning, breach], moscow, breached_at)
    assert [(d.index, d.step.action) for d in due] == [(1, LadderAction.RAISE_LEVEL)]  # warnings climb nothing
    # 10 minutes on Friday, 50 on Monday morning: no page over the weekend (Zammad #4432).
    monday = datetime(2026, 11, 9, 10, 20, tzinfo=MSK)
    assert ladder.pending_at([breach], moscow, done=[due[0].key]) == monday
    assert ladder.due_steps([breach], moscow, monday - MIN, done=[due[0].key]) == []
    assert [d.index for d in ladder.due_steps([breach], moscow, monday, done=[due[0].key])] == [2]
    assert ladder.pending_at([breach], moscow, done=[d.key for d in ladder.due_steps([breach], moscow, monday)]) is None


# -- delays and labels ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit", "printed"),
    [("48h", DelayUnit.CALENDAR_TIME, "2d"), ("7d", DelayUnit.CALENDAR_TIME, "7d"), ("90m", DelayUnit.CALENDAR_TIME, "90m"),
     ("16bh", DelayUnit.BUSINESS_TIME, "16bh"), ("30bm", DelayUnit.BUSINESS_TIME, "30bm"),
     ("2bd", DelayUnit.BUSINESS_DAYS, "2bd")],
)
def test_delays_parse_and_print(text: str, unit: DelayUnit, printed: str) -> None:
    delay = Delay.parse(text)
    assert delay.unit is unit and str(delay) == printed and Delay.parse(printed) == delay


@pytest.mark.parametrize("text", ["", "48", "h48", "0h", "-1d", "366d", "2.5h", "3w", "1000bd"])
def test_bad_delays_are_refused(text: str) -> None:
    with pytest.raises(InvalidPolicy):
        Delay.parse(text)


def test_status_labels() -> None:
    labels = parse_labels("Re-check approved=in_progress, Solved=closed")
    assert [(label.name, label.status) for label in labels.labels] == [
        ("Re-check approved", TicketStatus.IN_PROGRESS), ("Solved", TicketStatus.CLOSED)]
    assert str(labels) == "Re-check approved=in_progress, Solved=closed" and parse_labels("").labels == ()
    for bad in ("Solved", "=closed", "Solved=done", "A=new, A=closed", "x" * 101 + "=new"):
        with pytest.raises(InvalidLabel):
            parse_labels(bad)


# -- the JSON forms ---------------------------------------------------------------------------


def test_target_specs_round_trip_and_bad_ones_are_refused() -> None:
    assert spec_from_json({"hours": 4}) == TargetSpec.hours(4)
    assert spec_to_json(spec_from_json({"hours": 0.5})) == {"minutes": 30}
    assert spec_to_json(spec_from_json({"business_days": 3})) == {"business_days": 3}
    assert spec_from_json(None) is None
    for bad in ({"hours": 0}, {"hours": -4}, {"minutes": 10**7}, {"business_days": 1.5}, {"business_days": 0},
                {"weeks": 1}, {"hours": 1, "minutes": 1}, {"hours": "4"}, {"hours": True}, [4]):
        with pytest.raises(InvalidPolicy):
            spec_from_json(bad)


def test_calendars_round_trip_and_bad_ones_are_refused() -> None:
    moscow = moscow_business_calendar()
    again = calendar_from_json("moscow", calendar_to_json(moscow))
    assert again == moscow
    custom = calendar_from_json("split", {"timezone": "Europe/Berlin",
                                          "weekly": {"0": [["09:00", "12:00"], ["13:00", "17:00"]]},
                                          "closed_dates": ["2026-03-09"], "special_days": {"2026-03-08": [["10:00", "12:00"]]}})
    assert custom.business_time_between(datetime(2026, 3, 2, 0, 0, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)) == 7 * H
    assert not custom.is_business_day(date(2026, 3, 9)) and custom.is_business_day(date(2026, 3, 8))
    for bad in ({"timezone": "Nowhere/Land", "weekly": {"0": [["09:00", "17:00"]]}},
                {"weekly": {"0": [["09:00", "17:00"]]}},
                {"timezone": "UTC", "weekly": {"7": [["09:00", "17:00"]]}},
                {"timezone": "UTC", "weekly": {"0": [["09:00", "25:00"]]}},
                {"timezone": "UTC", "weekly": {"0": ["09:00-17:00"]}},
                {"timezone": "UTC", "weekly": {"0": [["09:00", "17:00"]]}, "closed_dates": ["tomorrow"]},
                {"timezone": "UTC", "weekly": {"0": [["09:00", "17:00"]]}, "colour": "blue"}):
        with pytest.raises(InvalidCalendar):
            calendar_from_json("bad", bad)


def test_the_seeded_rows_describe_the_same_desk_as_the_seed_table() -> None:
    """Tier rules + categories' own targets (what migration 0004 stores) select the same
    targets as the cross-product table of the pure seeds, for every plan, category and
    severity."""
    from escalation.config import category_of, policy_rule_of
    from escalation.models import SlaPolicyRow, TicketCategory

    categories = {row["key"]: category_of(TicketCategory(**row, active=True)) for row in seed_category_rows()}
    rules = tuple(policy_rule_of(SlaPolicyRow(**row)) for row in seed_policy_rows())
    table, reference = PolicyTable(rules), default_policy_table()
    for tier in PlanTier:
        for category in [None, *(c.key for c in FFC_CATEGORIES)]:
            for severity in [None, *Severity]:
                ours = effective_policy(table, categories, tier, category, severity)
                theirs = reference.select(tier, category, severity)
                assert ours is not None and theirs is not None
                assert (ours.first_response, ours.resolution, ours.calendar_key) == (
                    theirs.first_response, theirs.resolution, theirs.calendar_key), (tier, category, severity)


def test_a_rule_that_pins_the_category_keeps_its_own_targets() -> None:
    general = PolicyRule(SlaPolicy("general", "24x7", resolution=TargetSpec.hours(48)))
    pinned = PolicyRule(SlaPolicy("pinned", "24x7", resolution=TargetSpec.hours(2)), category="outage")
    categories = {"outage": Category("outage", "Outage", TargetSpec.business_days(5))}
    table = PolicyTable((general, pinned))
    policy = effective_policy(table, categories, None, "outage", None)
    assert policy is not None and policy.resolution == TargetSpec.hours(2)
    policy = effective_policy(PolicyTable((general,)), categories, None, "outage", None)
    assert policy is not None and policy.resolution == TargetSpec.business_days(5)
