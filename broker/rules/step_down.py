"""A step-down plan reaches its owners. Pure: no I/O, no clock.

At a step-down (a service withdrawal with a step-down plan) the lead professional and every
action owner receive the plan: who continues to support the family, each owner's action, what
to do if concerns return, and the review date. Owners the directory does not link to the
family are held for the front door's confirmation by the trust rule (trust.py), as any
organisation an event names. At the review date the lead professional is reminded
(``reminder_at``; the router's timer sends it).
"""

from datetime import date, datetime, timedelta

from broker.rules.deadlines import LONDON, OFFICE_HOURS, WorkingHours, is_working_day
from broker.rules.family import Addressee, ContactRole, Decision, Family, HouseholdRole, Member
from broker.rules.table import Route
from schemas.events import ServiceWithdrawal
from schemas.notices import NoticeType, Severity

RULE = "step_down.plan"
REMINDER_RULE = "step_down.review_reminder"
LEAD = "lead_professional"
OWNER = "action_owner"
STEP_DOWN_ROUTES = (
    Route(RULE, "a service steps down with a plan",
          "the plan's lead professional and every action owner, with the plan",
          NoticeType.PLAN_OWNER, ContactRole.SAFEGUARDING_LEAD, (Severity.MEDIUM,)),
)  # fmt: skip


def stepped_down_children(family: Family) -> tuple[Member, ...]:
    """Whose plan it is: the subject when a child, else the subject's children."""
    subject = family.subject
    if subject is None:
        return ()
    if subject.role is HouseholdRole.CHILD:
        return (subject,)
    return family.children_of(subject.person_id)


def route_step_down(event: ServiceWithdrawal, family: Family) -> list[Decision]:
    """One PLAN_OWNER notice to the lead professional's organisation and one to each action
    owner's, about the children the plan is for. MEDIUM: the plan must be taken up (and so
    acknowledged), though nothing new has happened."""
    plan, subject = event.step_down, family.subject
    if plan is None or subject is None:
        return []
    about = tuple(c.person_id for c in stepped_down_children(family)) or (subject.person_id,)
    lead = plan.lead_professional.org_id
    owners = dict.fromkeys((lead, *(o.org_id for o in plan.action_owners)))
    return [
        Decision(Addressee(org, ContactRole.SAFEGUARDING_LEAD), NoticeType.PLAN_OWNER,
                 Severity.MEDIUM, RULE, about,
                 {"step_down_role": LEAD if org == lead else OWNER,
                  "review_by": plan.review_by.isoformat()})
        for org in owners
    ]  # fmt: skip


def reminder_at(
    review_by: date, hours: WorkingHours = OFFICE_HOURS, nation: str = "ENG"
) -> datetime:
    """When the lead professional is reminded of the review: the start of their working day
    on the review date, or on the last working day before it when the review date falls on a
    weekend or bank holiday (so that the review is prepared, not missed)."""
    day = review_by
    while not is_working_day(day, nation):
        day -= timedelta(days=1)
    return datetime.combine(day, hours.opens, tzinfo=LONDON)


def is_reminded(notice_rule_id: str, step_down_role: object) -> bool:
    """Whether a step-down notice is one whose recipient is reminded at the review date:
    the lead professional's."""
    return RULE in notice_rule_id.split("+") and step_down_role == LEAD
