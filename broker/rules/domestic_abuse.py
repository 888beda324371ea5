"""Who is told of a domestic abuse incident police attended (Operation Encompass). Pure.

Every child of the household: the school's key adult before the next school day (under school
age: health visiting; no school place: the education safeguarding officer), with presence
per child. The victim's GP, never the alleged perpetrator's: what the police say of one adult
is third-party information in the other's record. The front door on medium or high risk, or
when a child under one was present; on high risk it is asked to consider a MARAC referral
(the multi-agency risk assessment conference for high-risk victims).
"""

from datetime import date

from broker.rules.accuracy import CHILD_PRESENT, incident_people, per_child
from broker.rules.common import (
    child_contact_routes,
    children_contacts,
    front_door_decision,
    front_door_route,
    gp_decisions,
    gp_route,
)
from broker.rules.family import Decision, Family, HouseholdRole, Member
from broker.rules.next_steps import CONSIDER_MARAC
from broker.rules.table import Rule
from schemas.events import PoliceDomesticAbuseIncident, RiskLevel
from schemas.notices import Severity

RULE = "domestic_abuse"
BABY_PRESENT = "child_under_one_present"
FRONT_DOOR_RISKS = frozenset({RiskLevel.MEDIUM, RiskLevel.HIGH})


def route_incident(
    event: PoliceDomesticAbuseIncident, family: Family, received_on: date
) -> list[Decision]:
    who = incident_people(event, family)
    # Only those the directory holds as children: a named person may have grown up.
    children = tuple(c for c in _members(family, who.children) if c.role is HouseholdRole.CHILD)
    baby_present = any(_under_one(c, received_on) for c in children if c.person_id in who.present)
    high = event.risk_level is RiskLevel.HIGH or baby_present
    severity = Severity.HIGH if high else Severity.MEDIUM
    facts: dict[str, str | int | bool] = {"domestic_abuse": True,
                                          "risk_level": event.risk_level.value}  # fmt: skip
    if who.present:
        facts[CHILD_PRESENT] = True  # kept per child by ``per_child``
    decisions = children_contacts(children, family, received_on, severity, RULE, facts)
    decisions += gp_decisions(_members(family, (who.victim,)), severity, RULE, facts, who.victim)
    if event.risk_level in FRONT_DOOR_RISKS or baby_present:
        told = facts | ({BABY_PRESENT: True} if baby_present else {})
        decisions += _front_door(event, family, who.victim, who.perpetrator, children,
                                 severity, told)  # fmt: skip
    return [per_child(d, who.present) for d in decisions]


def _front_door(
    event: PoliceDomesticAbuseIncident, family: Family, victim: str | None,
    perpetrator: str | None, children: tuple[Member, ...], severity: Severity,
    facts: dict[str, str | int | bool],
) -> list[Decision]:  # fmt: skip
    """The referral names everyone the police named and the directory knows: the front door
    sees the whole family, the alleged perpetrator included."""
    if event.risk_level is RiskLevel.HIGH:
        facts = {**facts, CONSIDER_MARAC: True}
    about = tuple(p for p in (victim, *(c.person_id for c in children), perpetrator) if p)
    areas = tuple(dict.fromkeys(c.area for c in children)) or (None,)
    return front_door_decision(family, severity, RULE, about, facts, areas)


def _members(family: Family, ids: tuple[str | None, ...]) -> tuple[Member, ...]:
    return tuple(m for i in ids if i and (m := family.person(i)))


def _under_one(child: Member, on: date) -> bool:
    months = child.age_in_months(on)
    return months is not None and months < 12


_WHEN = "police attended a domestic abuse incident"
DOMESTIC_ABUSE = Rule(
    PoliceDomesticAbuseIncident,
    lambda event, family, _history, received_on, _limits: route_incident(
        event, family, received_on
    ),
    (
        *child_contact_routes(RULE, f"{_WHEN}: each child of the household (Operation "
                              "Encompass: before the next school day)",
                              (Severity.MEDIUM, Severity.HIGH)),
        gp_route(RULE, _WHEN, "the victim's GP (never the alleged perpetrator's)",
                 (Severity.MEDIUM, Severity.HIGH)),
        front_door_route(RULE, f"{_WHEN}, medium or high risk or a child under one present "
                         "(high risk: consider a MARAC referral, a tracked next step)",
                         (Severity.MEDIUM, Severity.HIGH)),
    ),
)  # fmt: skip
