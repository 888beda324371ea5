"""Who is told when a service withdraws from a person. Pure: no I/O, no clock.

Every other agency involved with anyone in the household, and the GPs. When a parent with
known mental health needs disengages, the children's schools and the front door too, so that
someone considers whether the children's needs should be assessed.

A notice about a child with SEND or an education, health and care plan, or about a parent with
a learning disability (or a child of one), is raised one step, low to medium and medium to
high, with a fact saying which (``needs``): a service withdrawing from someone who needs help
to engage is a greater concern.
"""

from datetime import date

from broker.rules.common import (
    child_contact_routes,
    children_contacts,
    front_door_decision,
    front_door_route,
    gp_decisions,
    gp_route,
)
from broker.rules.family import (
    Addressee,
    ContactRole,
    Decision,
    Family,
    HouseholdRole,
    Member,
    OrgKind,
)
from broker.rules.needs import with_needs
from broker.rules.step_down import STEP_DOWN_ROUTES, route_step_down
from broker.rules.table import Route, Rule
from schemas.events import ServiceWithdrawal, WithdrawalReason
from schemas.notices import NoticeType, Severity

RULE = "withdrawal"
DISENGAGING = frozenset({WithdrawalReason.NON_ENGAGEMENT, WithdrawalReason.DECLINED})
MENTAL_HEALTH_SERVICES = frozenset({OrgKind.MENTAL_HEALTH, OrgKind.TALKING_THERAPY})


def route_withdrawal(event: ServiceWithdrawal, family: Family, received_on: date) -> list[Decision]:
    subject = family.subject
    if subject is None:
        return []
    facts: dict[str, str | int | bool] = {"reason": event.reason.value}
    about = (subject.person_id,)
    decisions = [
        Decision(Addressee(org, ContactRole.SAFEGUARDING_LEAD), NoticeType.AGENCY_INFORMATION,
                 Severity.LOW, f"{RULE}.involved_agency", about, facts)
        for org in _other_agencies(family, event.source_org)
    ]  # fmt: skip
    decisions += gp_decisions(family.members, Severity.LOW, RULE, facts, subject.person_id)
    if _parent_with_mental_health_needs_disengaging(event, family):
        concern = {**facts, "consider_childrens_needs": True}
        children = _children_concerned(family, subject)
        decisions += children_contacts(
            children, family, received_on, Severity.MEDIUM, RULE, concern
        )
        everyone = (subject.person_id, *(c.person_id for c in children))
        areas = family.children_areas(subject.person_id)
        decisions += front_door_decision(family, Severity.MEDIUM, RULE, everyone, concern, areas)
    return with_needs(decisions, family)


def _other_agencies(family: Family, source_org: str) -> list[str]:
    involved = dict.fromkeys(org for m in family.members for org in m.involved)
    involved.pop(source_org, None)
    return [org for org in involved if family.org_kinds.get(org) is not OrgKind.GP_PRACTICE]


def _parent_with_mental_health_needs_disengaging(event: ServiceWithdrawal, family: Family) -> bool:
    """A parent known to mental health services disengages, or does not bring a child: a
    child discharged for non-attendance is a parent's non-engagement."""
    subject = family.subject
    if subject is None or event.reason not in DISENGAGING:
        return False
    if subject.role is HouseholdRole.PARENT_OR_CARER:
        services = {family.org_kinds.get(org) for org in (*subject.involved, event.source_org)}
        return bool(services & MENTAL_HEALTH_SERVICES)
    return any(
        family.org_kinds.get(org) in MENTAL_HEALTH_SERVICES
        for parent in family.parents
        for org in parent.involved
    )


def _children_concerned(family: Family, subject: Member) -> tuple[Member, ...]:
    if subject.role is HouseholdRole.CHILD:
        return family.children  # the child and its brothers and sisters
    return family.children_of(subject.person_id)


# One step higher for someone with additional needs (``needs``).
_LOW, _MEDIUM = (Severity.LOW, Severity.MEDIUM), (Severity.MEDIUM, Severity.HIGH)
_DISENGAGING = "a parent known to mental health services disengages"
_NEEDS = ("; one step higher about a child with SEND or an EHCP, a parent with a learning "
          "disability, or a child of such a parent")  # fmt: skip
_WITHDRAWS = f"a service withdraws from someone in the household{_NEEDS}"
WITHDRAWAL = Rule(
    ServiceWithdrawal,
    lambda event, family, _history, received_on, _limits: (
        route_withdrawal(event, family, received_on) + route_step_down(event, family)
    ),
    (
        Route(f"{RULE}.involved_agency", _WITHDRAWS,
              "every other agency involved with anyone in the household",
              NoticeType.AGENCY_INFORMATION, ContactRole.SAFEGUARDING_LEAD, _LOW),
        gp_route(RULE, _WITHDRAWS,
                 "the GPs of everyone in the household", _LOW),
        *child_contact_routes(RULE, f"{_DISENGAGING}: each child concerned{_NEEDS}", _MEDIUM),
        front_door_route(RULE, f"{_DISENGAGING}{_NEEDS}", _MEDIUM),
        *STEP_DOWN_ROUTES,
    ),
)  # fmt: skip
