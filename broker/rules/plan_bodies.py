"""Plans as their readers act on them, for a notice's body. Pure: no I/O, no clock.

- A transfer carries the family's history structured: each plan with its kind, category,
  dates, child and lead professional, whether the move listed it or the broker kept it.
- A step-down plan's owners read the plan (``step_down``): at the step-down, from the event;
  when concerns return inside its window, from the plan the broker keeps, and then who to
  call is the lead professional, not whoever published the new concern. A school among the
  owners is told as discreetly as in any school notice.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

from broker.rules.family import Decision, Family, OrgKind, PlanView
from broker.rules.minimisation import (
    DISCREET_EVENT_LABEL,
    PERSON_FIELDS,
    SCHOOL_SAFE_FACTS,
    rule_for_reader,
)
from broker.rules.move import listed_plans_prefix
from broker.rules.step_down import LEAD, OWNER
from broker.rules.step_down import RULE as STEP_DOWN_RULE
from schemas.events import Event, FamilyMovingArea, PlanRecord, Professional, ServiceWithdrawal
from schemas.events import StepDownPlan as EventStepDown
from schemas.notices import (
    HistoryPlan,
    NoticeBody,
    NoticeType,
    PersonView,
    ProfessionalView,
    StepDownView,
    TransferHistory,
)

CONCERN_RETURNED = "step_down.concern_returned"
HISTORY_READERS = frozenset({NoticeType.TRANSFER})
STEP_DOWN_READERS = frozenset({NoticeType.PLAN_OWNER})
SCHOOL_OWNER_FACTS = SCHOOL_SAFE_FACTS | {"step_down_role", "review_by", "plan",
                                         "step_down_until"}  # fmt: skip


def plan_blocks(
    decision: Decision,
    event: Event,
    family: Family,
    people: Mapping[str, PersonView],
    on: date,
    told: Mapping[str, StepDownView] | None = None,
) -> dict[str, Any]:
    """The body fields this decision's reader gets beyond minimisation's: ``history``,
    ``step_down`` and, when concerns return, ``who_to_call``. ``told``: step-down plans (by
    plan id) as their step-down's sealed notices told them, for what the directory does not
    keep (people's names and contacts, actions, what to do if concerns return)."""
    kind, rules = decision.notice_type, decision.rule_id.split("+")
    blocks: dict[str, Any] = {}
    if isinstance(event, FamilyMovingArea) and kind in HISTORY_READERS:
        blocks["history"] = transfer_history(event, family, people, on)
    if kind not in STEP_DOWN_READERS:
        return blocks
    org = decision.addressee.org_id
    if _school_owner(decision, family):
        blocks |= school_owner_view(decision)
    if isinstance(event, ServiceWithdrawal) and event.step_down and STEP_DOWN_RULE in rules:
        children = _children(decision.about, people)
        blocks["step_down"] = from_event(event.step_down, org, children, family)
    elif CONCERN_RETURNED in rules and (plan := _plan_in_window(decision, family, on)):
        role = LEAD if org == plan.lead_org else OWNER
        kept = (told or {}).get(plan.plan_id)
        view = (
            kept.model_copy(update={"your_role": role}) if kept
            else from_plan(plan, org, _children((plan.person_id,), people), family)
        )  # fmt: skip
        blocks["step_down"] = view
        if view.lead_professional is not None:
            blocks["who_to_call"] = contact_line(view.lead_professional)
    return blocks


def digest_kind(decision: Decision, family: Family) -> NoticeType:
    """Whose digest view the reader gets: a school owning part of a plan, a school's."""
    if _school_owner(decision, family):
        return NoticeType.SCHOOL_SUPPORT
    return decision.notice_type


def _school_owner(decision: Decision, family: Family) -> bool:
    school = family.org_kinds.get(decision.addressee.org_id) is OrgKind.SCHOOL
    return school and decision.notice_type in STEP_DOWN_READERS


def school_owner_view(decision: Decision) -> dict[str, Any]:
    """A school that owns part of a plan reads the plan and that a concern has returned,
    but, as in any school notice, nothing that names a parent's condition: not the event's
    kind or detail, the service that reported it, nor a rule that names it."""
    facts = {k: v for k, v in decision.facts.items() if k in SCHOOL_OWNER_FACTS}
    return {"event_type": DISCREET_EVENT_LABEL, "source_org": None, "detail": {},
            "facts": facts,
            "rule_id": rule_for_reader(decision.rule_id, NoticeType.SCHOOL_SUPPORT)}  # fmt: skip


def transfer_history(
    event: FamilyMovingArea, family: Family, people: Mapping[str, PersonView], on: date
) -> TransferHistory:
    """Every plan of the children who move: the move's own list, then those the broker kept
    that the move did not list (ended ones included), oldest first."""
    listed = [_listed(p, family, on) for p in event.plans]
    seen = {(p.kind, p.started_on, p.child.nhs_number if p.child else None) for p in listed}
    movers = {m.person_id for m in family.movers()}
    kept = [
        _kept(p, people.get(p.person_id), family, on)
        for p in family.plans
        if p.person_id in movers and not p.plan_id.startswith(listed_plans_prefix(event))
    ]
    kept = [p for p in kept if (p.kind, p.started_on, _nhs(p)) not in seen]
    plans = sorted([*listed, *kept], key=lambda p: (p.started_on, p.kind))
    return TransferHistory(plans=tuple(plans), previous_areas=_previous_areas(event, family))


def _previous_areas(event: FamilyMovingArea, family: Family) -> tuple[str, ...]:
    """The areas on record here, and for a move a peer broker transferred, those the peer
    knew and the one the family leaves there (issue 16)."""
    carried = event.carried_history
    areas = (*carried.previous_areas, event.from_authority) if carried else ()
    return tuple(dict.fromkeys((*family.history.previous_areas, *areas)))


def from_event(
    plan: EventStepDown, org: str, children: tuple[PersonView, ...], family: Family
) -> StepDownView:
    lead = professional(plan.lead_professional, family)
    return StepDownView(
        from_level=plan.from_level,
        to_level=plan.to_level,
        children=children,
        lead_professional=lead,
        action_owners=tuple(professional(o, family) for o in plan.action_owners),
        your_role=LEAD if org == lead.org_id else OWNER,
        if_concerns_return=plan.if_concerns_return,
        review_by=plan.review_by,
    )


def from_plan(
    plan: PlanView, org: str, children: tuple[PersonView, ...], family: Family
) -> StepDownView:
    lead = _kept_lead(plan, family)
    owners = tuple(_with_org(o, family) for o in plan.action_owners) or tuple(
        _org_only(o, family) for o in plan.owner_orgs
    )
    return StepDownView(
        to_level=plan.kind,
        children=children,
        lead_professional=lead,
        action_owners=owners,
        your_role=LEAD if org == plan.lead_org else OWNER,
        if_concerns_return=plan.if_concerns_return,
        review_by=plan.step_down_until,
    )


def professional(person: Professional, family: Family) -> ProfessionalView:
    return ProfessionalView(
        name=person.name, role=person.role, org_id=person.org_id,
        organisation=family.org_lines.get(person.org_id), phone=person.phone,
        email=person.email, action=person.action,
    )  # fmt: skip


def contact_line(person: ProfessionalView) -> str:
    """Who to call, as a reader dials it: "Priya Shah, Early help lead professional, Demo
    Early Help Service (01632 960300); 01632 960301" (their own number after the office's)."""
    parts = [person.name, person.role, person.organisation or person.org_id]
    line = ", ".join(p for p in parts if p)
    extra = [c for c in (person.phone, person.email) if c]
    return f"{line}; {', '.join(extra)}" if extra else line


def _plan_in_window(decision: Decision, family: Family, on: date) -> PlanView | None:
    org = decision.addressee.org_id
    return next(
        (p for p in family.plans
         if p.person_id in decision.about and p.in_step_down_window(on)
         and org in (p.lead_org, *p.owner_orgs)),
        None,
    )  # fmt: skip


def _listed(plan: PlanRecord, family: Family, on: date) -> HistoryPlan:
    child = PersonView(given_name=plan.child.given_name, family_name=plan.child.family_name,
                       date_of_birth=plan.child.date_of_birth, nhs_number=plan.child.nhs_number,
                       role="child")  # fmt: skip
    lead = professional(plan.lead_professional, family) if plan.lead_professional else None
    return HistoryPlan(
        kind=plan.kind.value, category=plan.category, started_on=plan.started_on,
        ended_on=plan.ended_on, open=plan.ended_on is None or plan.ended_on >= on,
        child=child, lead_professional=lead, recorded_by="event",
    )  # fmt: skip


def _kept(plan: PlanView, child: PersonView | None, family: Family, on: date) -> HistoryPlan:
    lead = _kept_lead(plan, family)
    return HistoryPlan(
        kind=plan.kind, started_on=plan.started_on, ended_on=plan.ended_on,
        open=plan.is_open(on), child=_minimised(child, NoticeType.TRANSFER),
        lead_professional=lead, recorded_by="directory",
    )  # fmt: skip


def _nhs(plan: HistoryPlan) -> str | None:
    return plan.child.nhs_number if plan.child else None


def _kept_lead(plan: PlanView, family: Family) -> ProfessionalView | None:
    if plan.lead is not None:
        return _with_org(plan.lead, family)
    return _org_only(plan.lead_org, family) if plan.lead_org else None


def _with_org(person: ProfessionalView, family: Family) -> ProfessionalView:
    line = person.organisation or family.org_lines.get(person.org_id)
    return person.model_copy(update={"organisation": line})


def _org_only(org_id: str, family: Family) -> ProfessionalView:
    return ProfessionalView(org_id=org_id, organisation=family.org_lines.get(org_id))


def _children(about: tuple[str, ...], people: Mapping[str, PersonView]) -> tuple[PersonView, ...]:
    found = (_minimised(people.get(p), NoticeType.PLAN_OWNER) for p in about)
    return tuple(p for p in found if p is not None)


def _minimised(person: PersonView | None, kind: NoticeType) -> PersonView | None:
    if person is None:
        return None
    allowed = PERSON_FIELDS[kind] - {"present"}  # the plan's, not an incident's
    return PersonView.model_validate(person.model_dump(include=set(allowed)))


REVIEW_SUMMARY = (
    "The review date of a step-down plan you lead has come: review the plan with its action "
    "owners and the family, and record the outcome."
)
REVIEW_WORDING = "step_down.review_due"


def review_reminder(step_down_notice: NoticeBody) -> NoticeBody:
    """The lead professional's reminder: the plan as they received it at the step-down,
    worded as its review."""
    wording = (*step_down_notice.wording, REVIEW_WORDING)
    return step_down_notice.model_copy(update={"summary": REVIEW_SUMMARY, "wording": wording})
