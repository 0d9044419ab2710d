"""Which SLA policy a ticket gets: rules keyed by (plan tier, category, severity), the most
specific matching one winning. Pure; the rules are stored as rows (``sla_policies``) and
built into a :class:`PolicyTable` by :mod:`escalation.config`.

:class:`PlanTier` is defined here, in the pure core, and is also the stored enum of
``organizations.plan_tier`` and ``sla_policies.tier`` (the storage models import it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from escalation.autoclose import NO_OVERRIDE, AutoCloseOverride
from escalation.errors import InvalidPolicy
from escalation.sla_targets import SlaPolicy


class PlanTier(StrEnum):
    BASIC = "basic"
    REGULAR = "regular"
    PREMIUM = "premium"


class Severity(IntEnum):
    CRITICAL = 1
    MAJOR = 2
    MINOR = 3


@dataclass(frozen=True)
class PolicyRule:
    """``policy`` applies to tickets matching every key that is not ``None``.
    ``auto_close``: the rule's own auto-close delays (between a company's and the desk's)."""

    policy: SlaPolicy
    tier: PlanTier | None = None
    category: str | None = None
    severity: Severity | None = None
    auto_close: AutoCloseOverride = NO_OVERRIDE

    def matches(self, tier: PlanTier | None, category: str | None, severity: Severity | None) -> bool:
        return (
            (self.tier is None or self.tier == tier)
            and (self.category is None or self.category == category)
            and (self.severity is None or self.severity == severity)
        )

    @property
    def specificity(self) -> tuple[bool, bool, bool]:
        return (self.category is not None, self.severity is not None, self.tier is not None)


@dataclass(frozen=True)
class PolicyTable:
    """Chooses a policy by (plan tier, category, severity); the most specific rule wins.

    Matching order: among the rules that match, one that pins the *category* beats any that
    does not; then one that pins the *severity*; then one that pins the *tier*; the
    catch-all ``(None, None, None)`` comes last. (What the problem is decides first, how bad
    it is second, who asks third - so a category override beats the tier default, and a
    severity-1 rule gives every plan the emergency treatment.) Two rules with the same
    keys raise :class:`InvalidPolicy`, so there are never ties.
    """

    rules: tuple[PolicyRule, ...]

    def __post_init__(self) -> None:
        seen: set[tuple[PlanTier | None, str | None, Severity | None]] = set()
        for rule in self.rules:
            key = (rule.tier, rule.category, rule.severity)
            if key in seen:
                raise InvalidPolicy(f"two SLA rules for tier={key[0]} category={key[1]} severity={key[2]}")
            seen.add(key)

    def select(
        self, tier: PlanTier | None, category: str | None, severity: Severity | None
    ) -> SlaPolicy | None:
        """The winning policy, or ``None`` when no rule matches (the ticket has no SLA)."""
        rule = self.select_rule(tier, category, severity)
        return None if rule is None else rule.policy

    def select_rule(
        self, tier: PlanTier | None, category: str | None, severity: Severity | None
    ) -> PolicyRule | None:
        """The winning rule itself (callers may need to know what it pins)."""
        matching = [rule for rule in self.rules if rule.matches(tier, category, severity)]
        if not matching:
            return None
        return max(matching, key=lambda rule: rule.specificity)


def never_selected(
    table: PolicyTable, categories: frozenset[str], *, severities: tuple[Severity | None, ...] = (None, *Severity)
) -> tuple[PolicyRule, ...]:
    """The rules of ``table`` that no ticket could ever get: *unmatchable* rules.

    A ticket's keys range over every plan tier (a customer without a company counts as
    basic, so the tier is never missing), ``categories`` (the keys a ticket can be given:
    the active ticket categories; ``None``, no category, is added here) and every severity
    or none. A rule is unmatchable when :meth:`PolicyTable.select_rule` picks it for none
    of those tickets — because it pins a category a ticket cannot have (retired, handled
    by e-mail, unknown) or because, for every ticket it matches, a more specific rule
    matches too (three tier rules shadow the catch-all). The domain is small (3 tiers x
    categories x 4 severities), so this is an exhaustive check, not a proof.
    """
    chosen: set[int] = set()
    for tier in PlanTier:
        for category in (None, *sorted(categories)):
            for severity in severities:
                rule = table.select_rule(tier, category, severity)
                if rule is not None:
                    chosen.add(id(rule))
    return tuple(rule for rule in table.rules if id(rule) not in chosen)
