"""The authorization matrix: every role × every action so far, as one table."""

from __future__ import annotations

import pytest

from chat.authz import Action, ConversationRef, OrgRef, Principal, Target, UserRef, can, require
from chat.errors import Forbidden
from chat.models import OrgKind, Role

# Reseller 20 has customer company 10; reseller 21 has customer company 11.
PRINCIPALS = {
    "V": Principal(1, Role.VISITOR, None, site_id=5),
    "C": Principal(2, Role.CUSTOMER, 10),
    "A": Principal(3, Role.AGENT, None),
    "S": Principal(4, Role.SUPPORT_ADMIN, None),
    "R": Principal(5, Role.RESELLER_ADMIN, 20),
    "O": Principal(6, Role.READ_ONLY, None),
}

# Each row: action, target, the roles (by letter, in the order V C A S R O) that may.
MATRIX: list[tuple[str, Action, Target, str]] = [
    ("read own profile", Action.READ_PROFILE, None, "VCASRO"),
    ("update own profile", Action.UPDATE_PROFILE, None, "VCASR-"),
    ("view customer org of reseller 20", Action.VIEW_ORGANIZATION, OrgRef(10, OrgKind.CUSTOMER, 20), "-CASRO"),
    ("view reseller 20 itself", Action.VIEW_ORGANIZATION, OrgRef(20, OrgKind.RESELLER, None), "--ASRO"),
    ("view customer org of reseller 21", Action.VIEW_ORGANIZATION, OrgRef(11, OrgKind.CUSTOMER, 21), "--AS-O"),
    ("create customer org under 20", Action.MANAGE_ORGANIZATION, OrgRef(None, OrgKind.CUSTOMER, 20), "---SR-"),
    ("create customer org under 21", Action.MANAGE_ORGANIZATION, OrgRef(None, OrgKind.CUSTOMER, 21), "---S--"),
    ("create a reseller", Action.MANAGE_ORGANIZATION, OrgRef(None, OrgKind.RESELLER, None), "---S--"),
    ("manage widget sites", Action.MANAGE_SITES, None, "---S--"),
    ("view a customer of reseller 20", Action.VIEW_USER, UserRef(99, Role.CUSTOMER, 10, 20), "--ASRO"),
    ("view a customer of reseller 21", Action.VIEW_USER, UserRef(98, Role.CUSTOMER, 11, 21), "--AS-O"),
    ("view an agent", Action.VIEW_USER, UserRef(97, Role.AGENT, None, None), "--AS-O"),
    ("create a customer of reseller 20", Action.CREATE_USER, UserRef(None, Role.CUSTOMER, 10, 20), "---SR-"),
    ("create a customer of reseller 21", Action.CREATE_USER, UserRef(None, Role.CUSTOMER, 11, 21), "---S--"),
    ("create an agent", Action.CREATE_USER, UserRef(None, Role.AGENT, None, None), "---S--"),
    ("create a support admin", Action.CREATE_USER, UserRef(None, Role.SUPPORT_ADMIN, None, None), "---S--"),
    ("disable a customer of reseller 20", Action.DISABLE_USER, UserRef(99, Role.CUSTOMER, 10, 20), "---SR-"),
    ("disable a customer of reseller 21", Action.DISABLE_USER, UserRef(98, Role.CUSTOMER, 11, 21), "---S--"),
    ("disable an agent", Action.DISABLE_USER, UserRef(97, Role.AGENT, None, None), "---S--"),
    ("view a conversation one takes part in", Action.VIEW_CONVERSATION, ConversationRef(1, 10, 20, True, True), "VCASRO"),
    ("view a foreign conversation of reseller 20", Action.VIEW_CONVERSATION, ConversationRef(2, 10, 20, False, True), "--ASRO"),
    ("view a foreign conversation of reseller 21", Action.VIEW_CONVERSATION, ConversationRef(3, 11, 21, False, True), "--AS-O"),
    ("post in an open conversation one takes part in", Action.POST_MESSAGE, ConversationRef(1, 10, 20, True, True), "VCASR-"),
    ("post in a closed conversation one takes part in", Action.POST_MESSAGE, ConversationRef(1, 10, 20, True, False), "--AS--"),
    ("post in a foreign conversation", Action.POST_MESSAGE, ConversationRef(3, 11, 21, False, True), "--AS--"),
    ("post an internal note", Action.POST_INTERNAL_NOTE, ConversationRef(1, 10, 20, True, True), "--AS--"),
    ("see internal notes", Action.VIEW_INTERNAL_NOTES, None, "--AS-O"),
]


@pytest.mark.parametrize(("case", "action", "target", "allowed"), MATRIX, ids=[row[0] for row in MATRIX])
def test_matrix(case: str, action: Action, target: Target, allowed: str) -> None:
    assert len(allowed) == 6
    for letter, expected in zip("VCASRO", allowed, strict=True):
        principal = PRINCIPALS[letter]
        may = expected != "-"
        assert can(principal, action, target) is may, f"{principal.role.value} / {case}: expected {may}"
        if may:
            require(principal, action, target)
        else:
            with pytest.raises(Forbidden):
                require(principal, action, target)


def test_matrix_covers_every_action() -> None:
    assert {row[1] for row in MATRIX} == set(Action)


@pytest.mark.parametrize("letter", list("VCASRO"))
def test_everyone_sees_themselves_and_nobody_disables_themselves(letter: str) -> None:
    p = PRINCIPALS[letter]
    me = UserRef(p.user_id, p.role, p.organization_id, 20 if p.organization_id == 10 else None)
    assert can(p, Action.VIEW_USER, me)
    assert not can(p, Action.DISABLE_USER, me)


def test_wrong_target_kind_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        can(PRINCIPALS["A"], Action.VIEW_CONVERSATION, OrgRef(1, OrgKind.CUSTOMER, None))
