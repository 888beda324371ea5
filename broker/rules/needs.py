"""Additional needs that make a pattern weigh more. Pure: no I/O, no clock.

A child with special educational needs and disabilities (SEND) or an education, health and
care plan (EHCP) who is not brought to appointments misses care the plan depends on; a parent
with a learning disability may not manage appointments or a service's letters without support,
and a service that withdraws for non-engagement may be withdrawing from a parent who needed
help to engage (the Child B review: a father's learning disability; a child with an EHCP and
missed appointments). So the was-not-brought and withdrawal notices about such a person are
raised one step (low to medium, medium to high; high stays high), and say why.

Whose needs count for a notice: those of the people it is about, and the learning disability
of a parent of a child it is about (the child's care depends on that parent). Each notice is
judged on its own: a school told of its pupil hears of that pupil's needs, not a sibling's.
What each reader may see of these facts is minimisation's (a parent's learning disability is
health information: not the school's).
"""

from collections.abc import Iterable
from dataclasses import replace

from broker.rules.family import Decision, Family, HouseholdRole, Member
from broker.rules.patterns import raise_one

CHILD_HAS_SEND = "child_has_send"
CHILD_HAS_EHCP = "child_has_ehcp"
PARENT_LEARNING_DISABILITY = "parent_learning_disability"
NEED_FACTS = frozenset({CHILD_HAS_SEND, CHILD_HAS_EHCP, PARENT_LEARNING_DISABILITY})
Facts = dict[str, str | int | bool]


def needs_of(about: Iterable[str], family: Family) -> Facts:
    """The needs that count for a notice about these people, as facts (none: empty)."""
    people = [m for p in about if (m := family.person(p)) is not None]
    children = [m for m in people if m.role is HouseholdRole.CHILD]
    parents = [m for m in people if m.role is HouseholdRole.PARENT_OR_CARER]
    parents += [p for c in children for p in family.parents_of(c.person_id)]
    found = {
        CHILD_HAS_SEND: _any(children, "has_send"),
        CHILD_HAS_EHCP: _any(children, "has_ehcp"),
        PARENT_LEARNING_DISABILITY: _any(parents, "learning_disability"),
    }
    return {name: True for name, present in found.items() if present}


def with_needs(decisions: Iterable[Decision], family: Family) -> list[Decision]:
    """Each decision raised one step, with the needs as facts, when a need counts for it."""
    return [_raised_for(d, needs_of(d.about, family)) for d in decisions]


def _raised_for(decision: Decision, needs: Facts) -> Decision:
    if not needs:
        return decision
    return replace(decision, severity=raise_one(decision.severity),
                   facts={**decision.facts, **needs})  # fmt: skip


def _any(members: Iterable[Member], need: str) -> bool:
    return any(getattr(m, need) for m in members)
