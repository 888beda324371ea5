"""The short history digest each notice carries, within what its recipient may see. Pure.

A new referral should never be handled without its history: earlier notices, earlier events
by type, plans open and closed, previous areas and the agencies involved. A school learns how
many earlier notices there were and the plans, not what kinds of events they were.
"""

from collections import Counter
from datetime import datetime, timedelta

from broker.rules.family import Family
from schemas.notices import HistoryDigest, NoticeType, PlanSummary

YEAR = timedelta(days=365)
BASIC = frozenset({"earlier_notices_12_months", "plans"})
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
}


def digest_for(kind: NoticeType, family: Family, received_at: datetime) -> HistoryDigest:
    recent = family.history.since(received_at - YEAR)
    on = received_at.date()
    everything = {
        "earlier_notices_12_months": len(recent.notices),
        "events_12_months": dict(Counter(e.event_type for e in recent.events)),
        "plans": tuple(
            PlanSummary(
                kind=p.kind, started_on=p.started_on, ended_on=p.ended_on, open=p.is_open(on)
            )
            for p in sorted(family.plans, key=lambda p: p.started_on)
        ),
        "previous_areas": family.history.previous_areas,
        "agencies": tuple(
            family.org_lines.get(org, org)
            for org in dict.fromkeys(o for m in family.members for o in m.involved)
        ),
    }
    allowed = DIGEST_VIEW[kind]
    return HistoryDigest.model_validate({k: v for k, v in everything.items() if k in allowed})
