"""Contacts and lateral checks a practitioner records with another agency. Pure: no I/O.

Child B's review: midwifery checked with the front door by telephone, and because the check
was recorded nowhere it informed nobody's view of the family. A recorded contact or check
enters the family's chronology (as every routed event does, marked ``NOT_A_CONCERN`` so that
no pattern counts it) and so the digests of later notices; and the lead professional of any
open plan for a child it concerns (the child named, or a named parent's children) is told,
at low severity. No other notice: a contact is information, not a concern.
"""

from datetime import date

from broker.rules.family import Addressee, ContactRole, Decision, Family, HouseholdRole
from broker.rules.table import Route, Rule
from schemas.events import AgencyContact
from schemas.notices import NoticeType, Severity

RULE = "contact"


def route_contact(event: AgencyContact, family: Family, received_on: date) -> list[Decision]:
    subject = family.subject
    if subject is None:
        return []
    about_child = subject.role is HouseholdRole.CHILD
    children = (subject,) if about_child else family.children_of(subject.person_id)
    concerned = {c.person_id for c in children}
    facts: dict[str, str | int | bool] = {
        "contact_kind": event.contact_kind.value,
        "event_about": "this_child" if about_child else "a_parent",
    }
    told: dict[tuple[str, str], Decision] = {}  # one notice per lead and child
    for plan in family.open_plans(received_on):
        if plan.person_id in concerned and plan.lead_org:
            told.setdefault((plan.lead_org, plan.person_id), Decision(
                Addressee(plan.lead_org, ContactRole.SAFEGUARDING_LEAD), NoticeType.PLAN_OWNER,
                Severity.LOW, f"{RULE}.plan_lead", (plan.person_id,), facts | {"plan": plan.kind},
            ))  # fmt: skip
    return list(told.values())


CONTACT = Rule(
    AgencyContact,
    lambda event, family, _history, received_on, _limits: route_contact(event, family, received_on),
    (
        Route(f"{RULE}.plan_lead", "a practitioner records a contact or a lateral check with "
              "another agency about a child on an open plan, or a parent of one (it enters the "
              "chronology and later digests; no other notice)", "the plan's lead professional",
              NoticeType.PLAN_OWNER, ContactRole.SAFEGUARDING_LEAD, (Severity.LOW,)),
    ),
)  # fmt: skip
