"""Who is told when a parent is in mental health crisis. Pure: no I/O, no clock.

Each child in the adult's households: the school's key adult (or health visiting under school
age). GPs: the adult's, the other parent's and each child's. The front door where the children
live whenever a high-risk signal is present: suicidal ideation, threats to kill or to harm
others (the children included), domestic abuse, substance misuse, self-harm, a child present,
a child under one, a sole carer sectioned or admitted (nobody at home is left to care for the
children), or a child of the adult on a child protection plan the directory holds.
"""

from datetime import date

from broker.rules.accuracy import children_present, per_child
from broker.rules.common import (
    child_contact_routes,
    children_contacts,
    front_door_decision,
    front_door_route,
    gp_decisions,
    gp_route,
)
from broker.rules.family import Decision, Family, HouseholdRole
from broker.rules.table import Route, Rule
from schemas.events import ParentMentalHealthCrisis, PlanKind
from schemas.notices import Severity

RULE = "crisis"
HIGH_RISK_SIGNALS = frozenset({
    "suicidal_ideation", "threats_to_kill", "threats_to_kill_a_child", "threats_to_harm_others",
    "domestic_abuse",
    "substance_misuse", "child_present", "child_under_one", "self_harm",
    "sole_carer_unavailable", "child_protection_plan",
})  # fmt: skip


def signals(event: ParentMentalHealthCrisis, family: Family, on: date) -> frozenset[str]:
    flags = {
        "sectioned": event.sectioned,
        "admitted": event.admitted,
        "suicidal_ideation": event.suicidal_ideation,
        "threats_to_kill": event.threats_to_kill,
        "threats_to_kill_a_child": event.threats_to_kill_a_child,
        "threats_to_harm_others": event.threats_to_harm_others,
        "domestic_abuse": event.domestic_abuse,
        "substance_misuse": event.substance_misuse,
        "child_present": bool(event.children_present),
    }
    flags["sole_carer_unavailable"] = (event.sectioned or event.admitted) and is_sole_carer(family)
    raised = frozenset(name for name, is_raised in flags.items() if is_raised)
    return raised | family_signals(family, on)


def family_signals(family: Family, on: date) -> frozenset[str]:
    """Signals that come from who the children are and what the directory knows of them,
    whatever the event says."""
    subject = family.subject
    children = family.children_of(subject.person_id) if subject else ()
    ids = {c.person_id for c in children}
    months = [c.age_in_months(on) for c in children]
    flags = {
        "child_under_one": any(m is not None and m < 12 for m in months),
        "child_protection_plan": any(
            p.person_id in ids and p.kind == PlanKind.CHILD_PROTECTION
            for p in family.open_plans(on)
        ),
    }
    return frozenset(name for name, is_raised in flags.items() if is_raised)


def is_sole_carer(family: Family) -> bool:
    """The subject is the only parent or carer in a household where children live: if they are
    sectioned or admitted, nobody there is left to look after the children."""
    subject = family.subject
    if subject is None:
        return False
    for home in family.households_of(subject.person_id):
        living_there = [m for m in family.members if m.household_id == home]
        carers = {m.person_id for m in living_there if m.role is HouseholdRole.PARENT_OR_CARER}
        if carers == {subject.person_id} and any(
            m.role is HouseholdRole.CHILD for m in living_there
        ):
            return True
    return False


def route_crisis(
    event: ParentMentalHealthCrisis, family: Family, received_on: date
) -> list[Decision]:
    raised = signals(event, family, received_on)
    present = children_present(event, family) or frozenset()
    return route_parent_in_crisis(family, raised, received_on, RULE, present)


def route_parent_in_crisis(
    family: Family, raised: frozenset[str], on: date, rule_id: str,
    present: frozenset[str] = frozenset(),
) -> list[Decision]:  # fmt: skip
    """Shared with ED attendances, where a parent's self-harm is treated as a crisis.
    ``present``: the children who were there; only their notices say a child was present."""
    subject = family.subject
    if subject is None:
        return []
    children = family.children_of(subject.person_id)
    high_risk = bool(raised & HIGH_RISK_SIGNALS)
    severity = Severity.HIGH if high_risk else Severity.MEDIUM
    facts: dict[str, str | int | bool] = dict.fromkeys(sorted(raised), True)
    decisions = children_contacts(children, family, on, severity, rule_id, facts)
    adults = (subject, *family.other_parents(subject.person_id))
    decisions += gp_decisions((*adults, *children), severity, rule_id, facts,
                              subject.person_id)  # fmt: skip
    if high_risk and children:
        about = (subject.person_id, *(c.person_id for c in children))
        areas = family.children_areas(subject.person_id)
        decisions += front_door_decision(family, Severity.HIGH, rule_id, about, facts, areas)
    return [per_child(d, present) for d in decisions]


def parent_in_crisis_routes(rule_id: str, when: str) -> tuple[Route, ...]:
    """The routes ``route_parent_in_crisis`` decides, for a rule whose condition is ``when``."""
    either = (Severity.MEDIUM, Severity.HIGH)
    return (
        *child_contact_routes(rule_id, f"{when}: each of the parent's children", either),
        gp_route(rule_id, when, "the GPs of the parent, the other parent and each child", either),
        front_door_route(rule_id, f"{when}, with a high-risk signal and children",
                         (Severity.HIGH,)),
    )  # fmt: skip


CRISIS = Rule(
    ParentMentalHealthCrisis,
    lambda event, family, _history, received_on, _limits: route_crisis(event, family, received_on),
    parent_in_crisis_routes(RULE, "a parent in crisis"),
)
