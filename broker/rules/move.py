"""Who is told when a family moves area. Pure: no I/O, no clock.

The receiving authority's front door gets a transfer notice with the history; when the
destination is unknown, the originating front door gets it so that someone goes looking.
The new school and GP are told when known. Plans count whether the event lists them or only
the directory holds them: an open child protection plan of any child in the household makes
the move HIGH.
"""

from datetime import date

from broker.rules.common import SCHOOL_AGE_YEARS
from broker.rules.family import Addressee, ContactRole, Decision, Family, HouseholdRole
from broker.rules.table import Route, Rule
from schemas.events import FamilyMovingArea, PlanKind
from schemas.notices import NoticeType, Severity

RULE = "move"
LISTED_PLAN = "move:"


def listed_plans_prefix(event: FamilyMovingArea) -> str:
    """The ids the broker gives the plans this move lists when it keeps them
    (``move:<event id>:<index>``), so that they are not counted twice."""
    return f"{LISTED_PLAN}{event.event_id}:"


def route_move(event: FamilyMovingArea, family: Family, received_on: date) -> list[Decision]:
    # Those who move, not everyone the family spans: a child's other home, or a parent's
    # child living elsewhere, stays where it is.
    movers = family.movers()
    everyone = tuple(m.person_id for m in movers) or family.subjects
    facts = _facts(event, family, received_on)
    severity = Severity.HIGH if facts["open_child_protection_plan"] else Severity.MEDIUM
    receiving = family.front_door(event.to_authority) if event.to_authority else None
    if receiving:
        decisions = [_transfer(receiving, "move.transfer", severity, everyone, facts)]
    else:
        # Where the directory says they live, not the area the event claims they leave:
        # the event's word must not choose who receives the history.
        originating = family.front_door(next((m.area for m in movers if m.area), None))
        unknown = {**facts, "destination_unknown": True}
        decisions = [_transfer(originating, "move.destination_unknown", Severity.HIGH,
                               everyone, unknown)] if originating else []  # fmt: skip
    pupils = tuple(
        c.person_id for c in movers if c.role is HouseholdRole.CHILD
        and (c.school or (c.age_in_years(received_on) or 0) >= SCHOOL_AGE_YEARS)
    )  # fmt: skip
    if event.new_school and pupils:
        decisions.append(Decision(Addressee(event.new_school, ContactRole.KEY_ADULT),
                                  NoticeType.SCHOOL_SUPPORT, severity, "move.new_school",
                                  pupils, facts))  # fmt: skip
    if event.new_gp:
        decisions.append(Decision(Addressee(event.new_gp, ContactRole.SAFEGUARDING_LEAD),
                                  NoticeType.GP_INFORMATION, severity, "move.new_gp",
                                  everyone, facts))  # fmt: skip
    return decisions


def _transfer(
    front_door: str, rule_id: str, severity: Severity, about: tuple[str, ...],
    facts: dict[str, str | int | bool],
) -> Decision:  # fmt: skip
    addressee = Addressee(front_door, ContactRole.DUTY_MANAGER)
    return Decision(addressee, NoticeType.TRANSFER, severity, rule_id, about, facts)


def _facts(event: FamilyMovingArea, family: Family, on: date) -> dict[str, str | int | bool]:
    """The event's plans and the directory's are counted apart: a plan in both cannot be told
    to be the same one (the event names the child as its producer knows them)."""
    open_plans = [p for p in event.plans if p.ended_on is None or p.ended_on >= on]
    children = {m.person_id for m in family.movers() if m.role is HouseholdRole.CHILD}
    # Not the plans the broker kept from this very move (a confirmation decides after it).
    own = listed_plans_prefix(event)
    known = [
        p for p in family.open_plans(on)
        if p.person_id in children and not p.plan_id.startswith(own)
    ]  # fmt: skip
    kinds = {p.kind.value for p in open_plans} | {p.kind for p in known}
    return {
        "from_authority": event.from_authority,
        "to_authority": event.to_authority or "unknown",
        "open_plans": len(open_plans),
        "previous_plans": len(event.plans) - len(open_plans),
        "open_plans_in_directory": len(known),
        "open_child_protection_plan": PlanKind.CHILD_PROTECTION.value in kinds,
    }


_EITHER = (Severity.MEDIUM, Severity.HIGH)  # HIGH with an open child protection plan
MOVE = Rule(
    FamilyMovingArea,
    lambda event, family, _history, received_on, _limits: route_move(event, family, received_on),
    (
        Route("move.transfer", "a family moves to a known area (high with an open child "
              "protection plan)", "the receiving front door, with the history",
              NoticeType.TRANSFER, ContactRole.DUTY_MANAGER, _EITHER),
        Route("move.destination_unknown", "a family moves, destination unknown",
              "the originating front door, so that someone goes looking",
              NoticeType.TRANSFER, ContactRole.DUTY_MANAGER, (Severity.HIGH,)),
        Route("move.new_school", "a family moves, a new school named, a child of school age "
              "among those who move", "the new school's key adult",
              NoticeType.SCHOOL_SUPPORT, ContactRole.KEY_ADULT, _EITHER),
        Route("move.new_gp", "a family moves, a new GP named", "the new GP practice",
              NoticeType.GP_INFORMATION, ContactRole.SAFEGUARDING_LEAD, _EITHER),
    ),
)  # fmt: skip
