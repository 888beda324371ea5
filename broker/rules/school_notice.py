"""What a school's key adult is asked to do, and by when (Operation Encompass practice). Pure.

A school notice says what happened as the school may know it (an incident at home, something
about this child, a service that stopped, a child joining), when, in London time, a reference
to quote, whom to call (``broker.rules.school_contact``) and what to do: offer quiet support,
do not raise it with the parent or the child, record it on the child's safeguarding file, and
what to do if the child discloses. A service stopping is no incident: its notice says so and
when, and asks for no support after an incident. The instruction's time is worded from the
notice's deadline and the school's calendar: "before school on Monday 10 May", never "today"
on a Friday night or in the holidays. Instructions are fixed wording keys, worded by the
school's system; the times and names are fields beside them.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from broker.rules.deadlines import LONDON, SchoolCalendar
from broker.rules.family import Decision, Family, HouseholdRole
from broker.rules.school_contact import Caller, plans_for_school, who_to_call
from schemas.events import EdAttendance, Event, FamilyMovingArea, ServiceWithdrawal
from schemas.events import PoliceDomesticAbuseIncident as DomesticAbuse
from schemas.notices import NoticeBody, PersonView, SchoolGuidance, SchoolMatter

# When to act, from the deadline. "Today" only when the notice is due on the day it arrives:
# read before its deadline, it can mean no other day.
TODAY = "school.act_by.today"  # "before school starts today, Tuesday 11 May"
ON_DAY = "school.act_by.on_day"  # "before school on Monday 10 May"
# Weekdays without school lie between (a holiday, a bank holiday, a training day): the school
# is closed until then.
WHEN_SCHOOL_REOPENS = "school.act_by.when_school_reopens"  # "when school reopens on ..."

QUIET_SUPPORT = "school.action.offer_quiet_support"
DO_NOT_RAISE = "school.action.do_not_raise_with_parent_or_child"
RECORD = "school.action.record_on_safeguarding_file"
IF_CHILD_DISCLOSES = "school.action.if_child_discloses"  # listen, do not question, call
# The child's own attendance: the child knows; agree with whom to call before raising it.
AGREE_FIRST = "school.action.agree_with_contact_before_raising"
# A service stopped: nothing happened to support the child through; notice any change.
WATCH_FOR_CHANGE = "school.action.notice_and_share_any_change"
CONTACT_LEAD = "school.action.contact_lead_professional"
REQUEST_FILE = "school.action.request_child_protection_file"

ACTIONS: Mapping[SchoolMatter, tuple[str, ...]] = {
    SchoolMatter.INCIDENT_AT_HOME: (QUIET_SUPPORT, DO_NOT_RAISE, RECORD, IF_CHILD_DISCLOSES),
    SchoolMatter.ABOUT_THIS_CHILD: (QUIET_SUPPORT, AGREE_FIRST, RECORD, IF_CHILD_DISCLOSES),
    SchoolMatter.SERVICE_STOPPED: (WATCH_FOR_CHANGE, DO_NOT_RAISE, RECORD, IF_CHILD_DISCLOSES),
    SchoolMatter.JOINING_SCHOOL: (RECORD,),
    SchoolMatter.DOMESTIC_ABUSE_INCIDENT: (QUIET_SUPPORT, DO_NOT_RAISE, RECORD, IF_CHILD_DISCLOSES),
}
WITH_OPEN_PLAN = (CONTACT_LEAD, REQUEST_FILE)

INCIDENTS = frozenset({SchoolMatter.INCIDENT_AT_HOME, SchoolMatter.ABOUT_THIS_CHILD,
                       SchoolMatter.DOMESTIC_ABUSE_INCIDENT})  # fmt: skip

# The summary a school reads first; none says "today".
SUMMARIES: Mapping[SchoolMatter, str] = {
    SchoolMatter.INCIDENT_AT_HOME: (
        "Something has happened at home that may affect this child. Please make sure a key "
        "adult is ready to offer quiet support when the child is next in school."
    ),
    SchoolMatter.ABOUT_THIS_CHILD: (
        "Something has happened to this child that the school should know about, so that a "
        "key adult can offer quiet support."
    ),
    SchoolMatter.SERVICE_STOPPED: (
        "A service working with this child or their family has stopped. This is not news of "
        "an incident: please keep the child in mind and share any change you notice."
    ),
    SchoolMatter.JOINING_SCHOOL: "A child joining your school, whose records you should have.",
    SchoolMatter.DOMESTIC_ABUSE_INCIDENT: (
        "Operation Encompass: the police attended a domestic abuse incident in this child's "
        "home. Please make sure a key adult is ready to offer quiet support when the child is "
        "next in school."
    ),
}
JOINING_WITH_PLAN = (
    "A child joining your school has an open plan. Please contact the social worker or lead "
    "professional and ask the previous school for the child protection file."
)


def matter_of(event: Event, decision: Decision, family: Family) -> SchoolMatter:
    """What the school is told happened: no service, condition or event kind."""
    if isinstance(event, ServiceWithdrawal):
        return SchoolMatter.SERVICE_STOPPED
    if isinstance(event, FamilyMovingArea):
        return SchoolMatter.JOINING_SCHOOL
    if isinstance(event, DomesticAbuse):
        return SchoolMatter.DOMESTIC_ABUSE_INCIDENT
    subject = family.subject
    if subject and subject.role is HouseholdRole.CHILD and subject.person_id in decision.about:
        return SchoolMatter.ABOUT_THIS_CHILD
    return SchoolMatter.INCIDENT_AT_HOME


def act_by(deadline: datetime, received_at: datetime, calendar: SchoolCalendar) -> str:
    """The wording key of the instruction's time; the time itself is the deadline."""
    due = deadline.astimezone(LONDON).date()
    received = received_at.astimezone(LONDON).date()
    if due <= received:
        return TODAY
    days = (received + timedelta(days=n) for n in range((due - received).days))
    closed = any(d.weekday() < 5 and not calendar.is_school_day(d) for d in days)
    return WHEN_SCHOOL_REOPENS if closed else ON_DAY


# 48 bits of a keyed id: a reference names one notice among millions, and the front door's
# look-up shows only its own households' notices, so a clash would cost a question, no more.
REFERENCE_PATTERN = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}$"


def reference_for(notice_id: UUID) -> str:
    """A short reference to quote on the phone: the start of the notice's id (which is keyed,
    and so tells nothing), by which the front door finds the notice."""
    text = notice_id.hex.upper()
    return f"{text[:8]}-{text[8:12]}"


def notice_id_start(reference: str) -> str:
    """The start of the notice id a reference quotes, as the broker writes ids."""
    return reference.lower()


@dataclass(frozen=True)
class SchoolNotice:
    """What a school notice is worded from, besides the event: its id, deadline, the time the
    event was received, the school's calendar, and every notice the event produced."""

    notice_id: UUID
    deadline: datetime
    received_at: datetime
    calendar: SchoolCalendar
    decisions: Sequence[Decision]


def school_guidance(
    decision: Decision, event: Event, family: Family, people: Mapping[str, PersonView],
    notice: SchoolNotice,
) -> tuple[SchoolGuidance, Caller | None]:  # fmt: skip
    """The school block of ``decision``'s notice, and whom the school is told to call."""
    on = notice.received_at.astimezone(LONDON).date()
    matter = matter_of(event, decision, family)
    caller = who_to_call(decision, notice.decisions, event.source_org, family, on)
    plans = plans_for_school(decision, event, family, people, on)
    guidance = SchoolGuidance(
        matter=matter,
        reference=reference_for(notice.notice_id),
        happened_at=_happened_at(event, matter),
        stopped_on=event.withdrawn_on if isinstance(event, ServiceWithdrawal) else None,
        act_by=notice.deadline.astimezone(LONDON),
        act_by_wording=act_by(notice.deadline, notice.received_at, notice.calendar),
        who_to_call_role=caller.role if caller else None,
        actions=ACTIONS[matter] + (WITH_OPEN_PLAN if plans else ()),
        open_plans=plans,
        police_reference=event.police_reference if isinstance(event, DomesticAbuse) else None,
    )
    return guidance, caller


def _happened_at(event: Event, matter: SchoolMatter) -> datetime | None:
    """When an incident happened, in London time; a service's end or a move is no incident."""
    if matter not in INCIDENTS:
        return None
    if isinstance(event, DomesticAbuse):
        return event.incident_at.astimezone(LONDON)
    at = event.arrived_at if isinstance(event, EdAttendance) else event.occurred_at
    return at.astimezone(LONDON)


def for_school(body: NoticeBody, guidance: SchoolGuidance, caller: Caller | None) -> NoticeBody:
    """The school's body: its summary worded for what happened, whom to call (nobody rather
    than someone who was not told), and the school block."""
    joining_with_plan = guidance.matter is SchoolMatter.JOINING_SCHOOL and guidance.open_plans
    summary = JOINING_WITH_PLAN if joining_with_plan else SUMMARIES[guidance.matter]
    return body.model_copy(update={"summary": summary, "school": guidance,
                                   "who_to_call": caller.line if caller else None})  # fmt: skip
