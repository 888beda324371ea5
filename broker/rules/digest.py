"""The short history digest each notice carries, within what its recipient may see. Pure.

A new referral should never be handled without its history: earlier incidents, earlier events
by type, plans open and closed, previous areas and the agencies involved. A school learns how
many earlier incidents there were and its own pupils' plans, not what kinds of events they
were nor a brother's or sister's plans.

Incidents are events: one event told to eight organisations is one incident, not eight. Plans
are every plan the broker keeps for the family's children (the directory's, a step-down's, and
those a move listed), ended ones with their end dates, each attributed to its child.
"""

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta

from broker.rules.family import Family, PlanView
from broker.rules.minimisation import PERSON_FIELDS
from schemas.notices import HistoryDigest, NoticeType, PersonView, PlanSummary

YEAR = timedelta(days=365)
NO_INCIDENT = frozenset({"agency_contact"})
BASIC = frozenset({"earlier_incidents_12_months", "plans"})
CLINICAL = BASIC | {"events_12_months"}
FULL = CLINICAL | {"previous_areas", "agencies"}

DIGEST_VIEW: dict[NoticeType, frozenset[str]] = {
    NoticeType.SCHOOL_SUPPORT: BASIC,
    NoticeType.HEALTH_VISITING: CLINICAL,
    NoticeType.GP_INFORMATION: CLINICAL,
    NoticeType.AGENCY_INFORMATION: CLINICAL,
    NoticeType.PLAN_OWNER: CLINICAL,
    NoticeType.FRONT_DOOR_REFERRAL: FULL,
    NoticeType.TRANSFER: FULL,
    NoticeType.OUT_OF_HOURS: FULL,
    NoticeType.OUTCOME: frozenset(),  # the referrer learns the decision, not the family's history
    NoticeType.STRATEGY_DISCUSSION: BASIC,  # how much has happened; the rest in the discussion
    NoticeType.EDUCATION_SAFEGUARDING: BASIC,  # earlier incidents and plans, not health's events
}

# A school is told of the plans of the children the notice is about, its own pupils: a
# sibling's plan at another school is not its business (need to know).
OWN_CHILDREN_ONLY = frozenset({NoticeType.SCHOOL_SUPPORT})


def digest_for(
    kind: NoticeType,
    family: Family,
    received_at: datetime,
    *,
    about: tuple[str, ...] = (),
    people: Mapping[str, PersonView] | None = None,
    event_id: str = "",
) -> HistoryDigest:
    """``about``: whom the notice is about; ``people``: how each person may be named;
    ``event_id``: the event the notice is for, never counted as an earlier incident."""
    recent = family.history.since(received_at - YEAR)
    earlier = [e for e in recent.events if not (event_id and e.event_id == event_id)]
    everything = {
        # A recorded contact or check is in the events, but it is no incident.
        "earlier_incidents_12_months": sum(1 for e in earlier if e.event_type not in NO_INCIDENT),
        "events_12_months": dict(Counter(e.event_type for e in earlier)),
        "plans": plan_summaries(kind, family, received_at, about, people or {}),
        "previous_areas": family.history.previous_areas,
        "agencies": tuple(
            family.org_lines.get(org, org)
            for org in dict.fromkeys(o for m in family.members for o in m.involved)
        ),
    }
    allowed = DIGEST_VIEW[kind]
    return HistoryDigest.model_validate({k: v for k, v in everything.items() if k in allowed})


def plan_summaries(
    kind: NoticeType,
    family: Family,
    received_at: datetime,
    about: tuple[str, ...],
    people: Mapping[str, PersonView],
) -> tuple[PlanSummary, ...]:
    """Every plan the reader may see, oldest first, each with its child and lead."""
    on = received_at.date()
    seen = [p for p in family.plans if kind not in OWN_CHILDREN_ONLY or p.person_id in about]
    return tuple(
        PlanSummary(
            kind=p.kind,
            started_on=p.started_on,
            ended_on=p.ended_on,
            open=p.is_open(on),
            child=_child(people.get(p.person_id), kind),
            lead_professional=_lead(p, family),
        )
        for p in sorted(seen, key=lambda p: (p.started_on, p.plan_id))
    )


def _child(person: PersonView | None, kind: NoticeType) -> PersonView | None:
    if person is None:
        return None
    allowed = PERSON_FIELDS[kind] - {"present"}  # presence is the event's, not the plan's
    return PersonView.model_validate(person.model_dump(include=set(allowed)))


def _lead(plan: PlanView, family: Family) -> str | None:
    if plan.lead_org is None:
        return None
    return family.org_lines.get(plan.lead_org, plan.lead_org)
