"""A transfer from a peer broker, read as the move it reports. Pure: no I/O, no clock.

The peer's transfer notice (its body as its front door would read it: every person, the
move's detail, the history) becomes a ``family_moving_area`` from the peer's organisation
here, under the transfer's id, so that a transfer pushed again is the same event and is
applied once. The people are named as the peer's notice names them; the plans travel as the
move's own plans; the areas the family lived in before, and the count of plans whose child
the peer named by no NHS number (never dropped silently), travel in ``carried_history``. A
notice that is not a transfer, or names nobody by NHS number, is refused
(``TransferUnusable``): nothing is routed, and the transfer waits for a person here.
"""

from dataclasses import replace
from datetime import date

from pydantic import ValidationError

from broker.rules.family import Decision, Family, OrgKind
from broker.rules.move import route_move
from broker.rules.unmatched import unmatched_ids
from schemas.events import (
    CarriedHistory,
    Event,
    EventType,
    FamilyMovingArea,
    PersonRef,
    PlanKind,
    PlanRecord,
    Professional,
)
from schemas.notices import HistoryPlan, NoticeBody, NoticeHeader, NoticeType, PersonView


class TransferUnusable(ValueError):
    """Names what is missing, never a value from the notice."""


def move_from_transfer(header: NoticeHeader, body: NoticeBody, peer_org: str) -> FamilyMovingArea:
    """The move a peer's transfer notice reports, as an event from the peer."""
    if header.notice_type is not NoticeType.TRANSFER:
        raise TransferUnusable("only a transfer notice is taken from a peer")
    if header.follow_up is not None:
        # A peer's escalation or re-route of a transfer is its own business: taken as a new
        # move, it would travel back and forth between the two brokers.
        raise TransferUnusable("a follow-up of a transfer is not a new transfer")
    members = tuple(ref for person in body.about if (ref := person_ref(person)) is not None)
    if not members:
        raise TransferUnusable("the transfer names nobody by NHS number")
    detail = {**body.facts, **body.detail}
    history = body.history
    plans = tuple(p for plan in (history.plans if history else ()) if (p := plan_record(plan)))
    try:
        return FamilyMovingArea(
            event_type=EventType.FAMILY_MOVING_AREA,
            event_id=header.notice_id,
            source_org=peer_org,
            occurred_at=body.occurred_at,
            correlation_id=header.correlation_id,
            members=members,
            from_authority=_text(detail.get("from_authority")),
            to_authority=_text(detail.get("to_authority")),
            moved_on=_day(detail.get("moved_on")) or body.occurred_at.date(),
            plans=plans,
            new_school=_text(detail.get("new_school")),
            new_gp=_text(detail.get("new_gp")),
            previous_school=_text(detail.get("previous_school")),
            carried_history=CarriedHistory(
                transfer_id=header.notice_id, from_peer=peer_org,
                previous_areas=history.previous_areas if history else (),
                plans_not_carried=unnamed_plans(body),
            ),
        )  # fmt: skip
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
        raise TransferUnusable(
            f"the transfer cannot be read as a move: {', '.join(fields)}"
        ) from None


def matching_front_door(event: Event, family: Family) -> str | None:
    """Whose matching queue holds an event naming people the directory does not know: the
    front door of the family's area, as for any event; for a move a peer broker transferred
    here, the front door of the area the family moves to (the peer's own area maps to the
    peer, which matches nobody here)."""
    return receiving_front_door(event, family) or family.front_door()


def receiving_front_door(event: Event, family: Family) -> str | None:
    """For a move a peer broker transferred here, this partnership's front door for the area
    the family moves to; None for any other event, or an area this partnership has no door
    of its own for."""
    if not is_peer_transfer(event, family) or not isinstance(event, FamilyMovingArea):
        return None
    door = family.front_door(event.to_authority)
    return (
        door if door is not None and family.org_kinds.get(door) is not OrgKind.PEER_BROKER else None
    )


def is_peer_transfer(event: Event, family: Family) -> bool:
    """A move a peer broker transferred here: only the intake writes a carried history, and
    only a peer broker's event is signed by this broker (``peer_transfers.producer_key``)."""
    return (isinstance(event, FamilyMovingArea) and event.carried_history is not None
            and family.org_kinds.get(event.source_org) is OrgKind.PEER_BROKER)  # fmt: skip


def unknown_family_transfer(event: Event, family: Family, on: date) -> list[Decision]:
    """A peer's transfer of a family this directory does not know (usual: a family moving in
    is new to the area). Its receiving front door gets the transfer with the carried history
    at once, the people as the transfer names them, rather than a referral to whatever front
    door the peer's own area maps to (the peer itself); the event also waits in that door's
    matching queue, so that later events match. Nothing for any other event."""
    door = receiving_front_door(event, family)
    if door is None or not isinstance(event, FamilyMovingArea) or family.subject is not None:
        return []
    about = unmatched_ids(len(event.people()))
    return [
        replace(d, about=about, facts={**d.facts, "unmatched_people": len(about)})
        for d in route_move(event, family, on)
        if d.notice_type is NoticeType.TRANSFER and d.addressee.org_id == door
    ]


def completed_by_match(event: Event, family: Family, decisions: list[Decision]) -> list[Decision]:
    """A peer's transfer routed again once its receiving front door matched the people it
    names (the event republished from the matching queue). That door had the transfer when it
    came (``unknown_family_transfer``): the match completes it, so the notices the family's
    being known adds (the new school and GP this partnership knows) go out, and the transfer
    to that door is not repeated. Every decision stands for any other event."""
    door = receiving_front_door(event, family)
    if door is None:
        return decisions
    return [d for d in decisions
            if d.notice_type is not NoticeType.TRANSFER or d.addressee.org_id != door]  # fmt: skip


def person_ref(person: PersonView | None) -> PersonRef | None:
    """A person as the peer names them; only an NHS number identifies someone across two
    partnerships' directories (a pupil number would do as well, but a transfer carries none)."""
    if person is None or not person.nhs_number:
        return None
    return PersonRef(nhs_number=person.nhs_number, given_name=person.given_name,
                     family_name=person.family_name,
                     date_of_birth=person.date_of_birth)  # fmt: skip


def plan_record(plan: HistoryPlan) -> PlanRecord | None:
    """A plan of the history as the move's plan; None when its child cannot be named here."""
    child = person_ref(plan.child)
    if child is None or plan.kind not in set(PlanKind):
        return None
    lead = plan.lead_professional
    professional = (
        Professional(name=lead.name, role=lead.role, org_id=lead.org_id, phone=lead.phone,
                     email=lead.email)
        if lead and lead.name and lead.role else None
    )  # fmt: skip
    return PlanRecord(kind=PlanKind(plan.kind), child=child, started_on=plan.started_on,
                      ended_on=plan.ended_on, category=plan.category,
                      lead_professional=professional)  # fmt: skip


def unnamed_plans(body: NoticeBody) -> int:
    """How many of the history's plans could not travel as the move's plans."""
    plans = body.history.plans if body.history else ()
    return sum(1 for plan in plans if plan_record(plan) is None)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value and value != "unknown" else None


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
