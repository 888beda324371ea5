"""Who is told when a family moves area. Pure: no I/O, no clock.

The receiving authority is always told, by name, whether or not it uses this system (domain
brief, "Across borders"). When the partnership holds its front door (a front door of that
area in the directory: its own, or a peer broker's that serves it), the transfer notice with
the history goes there, by that front door's channel. Otherwise the originating front door
gets the transfer as a task, "send the history to <the authority's name>", tracked as a next
step (``history_sent``, next_steps.py) and chased until it is recorded as sent. "Unknown"
means only that no destination was given: the originating front door then gets the transfer
so that someone goes looking. A code the table of authorities does not hold (authorities are
reorganised) is routed all the same, and the task says so. The new school and GP are told
when known.

The originating front door is where the directory says the family lives; a directory with no
front door there (an area left out, a household given the wrong code) must not lose the move:
the front door of the authority the event says they leave hears instead, else the family's
own area's, the notice saying which and the gap reported. With no front door at all, the
transfer is kept for nobody and routing reports and parks it (rules/fallback.py).

The receiving nation sets the terms (a child protection register in Wales, a plan in England:
language.py's wording keys) and its procedures the next steps (next_steps.py); a child with an
open child protection plan who moves into Wales is marked as a registered child, for the
register's custodian, the receiving front door. Where either authority is in Wales, every
agency involved with those who move is told of the move (Wales Safeguarding Procedures).
Plans count whether the event lists them or only the directory holds them: an open child
protection plan of any child in the household makes the move HIGH.
"""

from datetime import date

from broker.rules.authorities import authority
from broker.rules.common import SCHOOL_AGE_YEARS
from broker.rules.deadlines import nation_of
from broker.rules.fallback import NO_FRONT_DOOR_WHO, nobody_to_tell
from broker.rules.family import (
    Addressee,
    ContactRole,
    Decision,
    Family,
    HouseholdRole,
    Member,
    OrgKind,
)
from broker.rules.next_steps import SEND_HISTORY_TO, TASK
from broker.rules.table import Route, Rule
from schemas.events import FamilyMovingArea, PlanKind
from schemas.notices import NoticeType, Severity

RULE = "move"
LISTED_PLAN = "move:"
# A code not in the table, on the task (sealing reports it to the data-quality report).
NOT_IN_TABLE = "to_authority_not_in_table"
RECEIVING_NATION = "receiving_nation"
REGISTERED_CHILD = "child_protection_register"
# Which fallback chose the originating front door (originating_front_door), and the area
# that has none in the directory (sealing reports it to the data-quality report).
ORIGINATING_CHOSEN_BY = "originating_front_door_chosen_by"
BY_FROM_AUTHORITY = "the_authority_the_event_says_they_leave"
BY_FAMILY_AREA = "the_family_area"
DIRECTORY_AREA_WITHOUT_FRONT_DOOR = "area_without_front_door"
Facts = dict[str, str | int | bool]


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
    decisions = _to_the_receiving_authority(event, family, everyone, severity, facts)
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
    if _touches_wales(facts):
        told = {d.addressee.org_id for d in decisions} | {event.source_org}
        decisions += _involved_agencies(movers, family, everyone, facts, told)
    return decisions


def _to_the_receiving_authority(
    event: FamilyMovingArea, family: Family, about: tuple[str, ...], severity: Severity,
    facts: Facts,
) -> list[Decision]:  # fmt: skip
    """The transfer: to the receiving front door the partnership holds; else to the
    originating front door, as a task naming the authority, or, with no destination given,
    so that someone goes looking; with no front door to be found at all, to nobody, so that
    routing reports and parks it (never nothing: the history must not be lost)."""
    receiving = family.front_door(event.to_authority) if event.to_authority else None
    if receiving:
        return [_transfer(receiving, "move.transfer", severity, about, facts)]
    found = originating_front_door(event, family)
    if event.to_authority is None:
        rule_id, severity, facts = ("move.destination_unknown", Severity.HIGH,
                                    {**facts, "destination_unknown": True})  # fmt: skip
    else:
        rule_id, facts = "move.send_history", _task(event.to_authority, facts)
    if found is None:
        return [nobody_to_tell("move", NoticeType.TRANSFER, severity, about, facts,
                               _leaving(event, family))]  # fmt: skip
    originating, why = found
    return [_transfer(originating, rule_id, severity, about, {**facts, **why})]


def originating_front_door(event: FamilyMovingArea, family: Family) -> tuple[str, Facts] | None:
    """The front door of the area the family leaves, and, when a fallback chose it, facts
    saying which one and why (so that its reader knows why the history came to them):

    1. where the directory says those who move live;
    2. else the authority the event says they leave: the event's word, as a fallback only
       (it must never override the directory, nor choose who receives the history when the
       directory has a front door for them);
    3. else the family's own area (the publishing organisation's, when the directory places
       the family in none)."""
    home = next((m.area for m in family.movers() if m.area), None)
    if home and (door := family.front_door(home)):
        return door, {}
    missing: Facts = {DIRECTORY_AREA_WITHOUT_FRONT_DOOR: home} if home else {}
    if door := family.front_door(event.from_authority):
        return door, {**missing, ORIGINATING_CHOSEN_BY: BY_FROM_AUTHORITY}
    if door := family.front_door():
        return door, {**missing, ORIGINATING_CHOSEN_BY: BY_FAMILY_AREA}
    return None


def _leaving(event: FamilyMovingArea, family: Family) -> str:
    """The authority whose front door is missing, for the report: where the directory says
    the family lives, else where the event says they leave."""
    home = next((m.area for m in family.movers() if m.area), None)
    return home or family.area or event.from_authority


def area_without_front_door(decision: Decision) -> str | None:
    """The area of those who move that has no front door in the directory, on a transfer a
    fallback sent elsewhere, for the data-quality report; None for any other decision."""
    area = decision.facts.get(DIRECTORY_AREA_WITHOUT_FRONT_DOOR)
    return str(area) if area and decision.notice_type is NoticeType.TRANSFER else None


def _task(code: str, facts: Facts) -> Facts:
    """What the originating front door must do by hand: send the history to the authority,
    by name; by code, saying so, when the table does not hold it (the front door knows
    every authority the directory holds a front door for, so this one is not among them)."""
    named = authority(code)
    whom = named.name if named else f"the authority with code {code}, a code not in the table"
    task: Facts = {**facts, SEND_HISTORY_TO: code, TASK: f"send the history to {whom}"}
    if named is None:
        task[NOT_IN_TABLE] = True
    return task


def unlisted_authority(decision: Decision) -> str | None:
    """The authority code a move's task names when the table does not hold it, for the
    data-quality report; None for any other decision."""
    return str(decision.facts[SEND_HISTORY_TO]) if decision.facts.get(NOT_IN_TABLE) else None


def _transfer(
    front_door: str, rule_id: str, severity: Severity, about: tuple[str, ...], facts: Facts
) -> Decision:  # fmt: skip
    addressee = Addressee(front_door, ContactRole.DUTY_MANAGER)
    return Decision(addressee, NoticeType.TRANSFER, severity, rule_id, about, facts)


def _facts(event: FamilyMovingArea, family: Family, on: date) -> Facts:
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
    facts: Facts = {
        "from_authority": event.from_authority,
        "to_authority": event.to_authority or "unknown",
        "open_plans": len(open_plans),
        "previous_plans": len(event.plans) - len(open_plans),
        "open_plans_in_directory": len(known),
        "open_child_protection_plan": PlanKind.CHILD_PROTECTION.value in kinds,
    }
    return facts | _authorities(event, facts)


def _authorities(event: FamilyMovingArea, facts: Facts) -> Facts:
    """Each authority by name where the table holds it, and the receiving nation, whose
    terms and procedures apply: a child on a plan who moves into Wales is on its register."""
    named: Facts = {}
    for side, code in (("from", event.from_authority), ("to", event.to_authority)):
        if found := authority(code):
            named[f"{side}_authority_name"] = found.name
    if event.to_authority:
        found = authority(event.to_authority)
        nation = found.nation if found else nation_of(event.to_authority)
        named[RECEIVING_NATION] = nation
        if nation == "WLS" and facts["open_child_protection_plan"]:
            named[REGISTERED_CHILD] = True
    return named


def _touches_wales(facts: Facts) -> bool:
    areas = (str(facts.get("from_authority") or ""), str(facts.get("to_authority") or ""))
    return any(nation_of(area) == "WLS" for area in areas if area != "unknown")


def _involved_agencies(
    movers: tuple[Member, ...], family: Family, about: tuple[str, ...], facts: Facts,
    told: set[str],
) -> list[Decision]:  # fmt: skip
    """Every agency involved with those who move, not told already; the GP practices hear
    as GPs do (the new one named), not here."""
    involved = dict.fromkeys(org for m in movers for org in m.involved if org not in told)
    return [
        Decision(Addressee(org, ContactRole.SAFEGUARDING_LEAD), NoticeType.AGENCY_INFORMATION,
                 Severity.LOW, "move.involved_agency", about, facts)
        for org in involved if family.org_kinds.get(org) is not OrgKind.GP_PRACTICE
    ]  # fmt: skip


_EITHER = (Severity.MEDIUM, Severity.HIGH)  # HIGH with an open child protection plan
MOVE = Rule(
    FamilyMovingArea,
    lambda event, family, _history, received_on, _limits: route_move(event, family, received_on),
    (
        Route("move.transfer", "a family moves to an authority whose front door the "
              "partnership holds, its own or a peer broker's (high with an open child "
              "protection plan)", "the receiving front door, with the history",
              NoticeType.TRANSFER, ContactRole.DUTY_MANAGER, _EITHER),
        Route("move.send_history", "a family moves to an authority whose front door the "
              "partnership does not hold (high with an open child protection plan)",
              "the originating front door (where the directory says they live; else the "
              "authority the event says they leave; else the family's own area, saying "
              "which), with the task \"send the history to <authority>\", "
              "chased until it is recorded as sent", NoticeType.TRANSFER,
              ContactRole.DUTY_MANAGER, _EITHER),
        Route("move.destination_unknown", "a family moves, no destination given",
              "the originating front door, so that someone goes looking",
              NoticeType.TRANSFER, ContactRole.DUTY_MANAGER, (Severity.HIGH,)),
        Route("move.no_front_door", "a family moves, and neither the receiving authority, "
              "the area the directory says they live in, the authority the event says they "
              "leave nor the family's own area has a front door in the directory",
              NO_FRONT_DOOR_WHO, NoticeType.TRANSFER, ContactRole.DUTY_MANAGER, _EITHER),
        Route("move.new_school", "a family moves, a new school named, a child of school age "
              "among those who move", "the new school's key adult",
              NoticeType.SCHOOL_SUPPORT, ContactRole.KEY_ADULT, _EITHER),
        Route("move.new_gp", "a family moves, a new GP named", "the new GP practice",
              NoticeType.GP_INFORMATION, ContactRole.SAFEGUARDING_LEAD, _EITHER),
        Route("move.involved_agency", "a family moves into, out of or within Wales",
              "every agency involved with those who move (not their GP practices)",
              NoticeType.AGENCY_INFORMATION, ContactRole.SAFEGUARDING_LEAD, (Severity.LOW,)),
    ),
)  # fmt: skip
