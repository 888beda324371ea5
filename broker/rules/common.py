"""Addressing helpers the event rules share: who a child's school or health team is, and GPs."""

from collections.abc import Iterable
from datetime import date

from broker.rules.fallback import FALLBACK_REASON, nobody_to_tell
from broker.rules.family import Addressee, ContactRole, Decision, Family, Member
from broker.rules.table import Route
from schemas.notices import NoticeType, Severity

NO_FRONT_DOOR_FOR_AREA = "no_front_door_for_area"
SCHOOL_AGE_YEARS = 5  # compulsory school age; younger children are seen by health visiting


def child_contact(
    child: Member,
    family: Family,
    on: date,
    severity: Severity,
    rule_id: str,
    facts: dict[str, str | int | bool],
) -> Decision | None:
    """Who looks out for this child day to day: the school's key adult; under school age, the
    health visiting team; of school age with no school place (home education, missing
    education), the local authority's education safeguarding officer."""
    age = child.age_in_years(on)
    if child.school:
        addressee = Addressee(child.school, ContactRole.KEY_ADULT)
        notice_type = NoticeType.SCHOOL_SUPPORT
    elif age is None or age < SCHOOL_AGE_YEARS:
        if not child.health_visiting:
            return _unregistered_under_five(child, family, severity, rule_id, facts)
        addressee = Addressee(child.health_visiting, ContactRole.SAFEGUARDING_LEAD)
        notice_type = NoticeType.HEALTH_VISITING
    else:
        authority = family.front_door(child.area)
        if authority is None:  # the child's area has no front door the broker knows
            about = (child.person_id,)
            return _front_door_instead(family.front_door(), severity, f"{rule_id}.child", about,
                                       facts, NO_FRONT_DOOR_FOR_AREA,
                                       child.area or family.area)  # fmt: skip
        addressee = Addressee(authority, ContactRole.EDUCATION_SAFEGUARDING_OFFICER)
        notice_type = NoticeType.SCHOOL_SUPPORT
    return Decision(addressee, notice_type, severity, f"{rule_id}.child", (child.person_id,), facts)


def _unregistered_under_five(
    child: Member, family: Family, severity: Severity, rule_id: str,
    facts: dict[str, str | int | bool],
) -> Decision | None:  # fmt: skip
    """No health visitor knows this young child: the front door of the child's area hears
    instead, and the gap goes on the data-quality report."""
    door = family.front_door(child.area) or family.front_door()
    return _front_door_instead(door, severity, f"{rule_id}.child", (child.person_id,), facts,
                               "no_health_visiting_registration",
                               child.area or family.area)  # fmt: skip


def _front_door_instead(
    door: str | None, severity: Severity, rule_id: str, about: tuple[str, ...],
    facts: dict[str, str | int | bool], reason: str, area: str | None,
) -> Decision:  # fmt: skip
    """A referral to ``door`` standing in for a notice nobody else could take, saying why;
    with no front door at all, one to nobody, which routing reports and parks with ``area``
    (rules/fallback.py): never nothing."""
    why = {**facts, FALLBACK_REASON: reason}
    if door is None:
        return nobody_to_tell(rule_id, NoticeType.FRONT_DOOR_REFERRAL, severity, about, why,
                              area)  # fmt: skip
    return Decision(Addressee(door, ContactRole.DUTY_MANAGER), NoticeType.FRONT_DOOR_REFERRAL,
                    severity, f"{rule_id}.fallback", about, why)  # fmt: skip


def children_contacts(
    children: Iterable[Member],
    family: Family,
    on: date,
    severity: Severity,
    rule_id: str,
    facts: dict[str, str | int | bool],
) -> list[Decision]:
    found = (child_contact(c, family, on, severity, rule_id, facts) for c in children)
    return [d for d in found if d is not None]


def gp_decisions(
    people: Iterable[Member],
    severity: Severity,
    rule_id: str,
    facts: dict[str, str | int | bool],
    subject: str | None = None,
) -> list[Decision]:
    """One notice per GP practice, naming every listed person registered there. A practice
    that also holds the subject's record gets the subject's notice apart: the subject's
    clinical detail is filed under the subject alone, never under a relative's name."""
    by_practice: dict[tuple[str, bool], list[str]] = {}
    for person in people:
        key = (person.gp or "", person.person_id == subject)
        if person.gp and person.person_id not in by_practice.get(key, []):
            by_practice.setdefault(key, []).append(person.person_id)
    return [
        Decision(
            Addressee(gp, ContactRole.SAFEGUARDING_LEAD),
            NoticeType.GP_INFORMATION,
            severity,
            f"{rule_id}.gp",
            tuple(about),
            facts,
        )
        for (gp, _), about in by_practice.items()
    ]


def front_door_decision(
    family: Family,
    severity: Severity,
    rule_id: str,
    about: tuple[str, ...],
    facts: dict[str, str | int | bool],
    areas: Iterable[str | None] = (None,),
) -> list[Decision]:
    """A referral to the front door of each area given (by default the family's own). When
    none of those areas has a front door the broker knows, the family's own front door hears
    instead, with the reason; with none at all, nobody, reported and parked."""
    areas = tuple(areas)
    doors = dict.fromkeys(d for area in areas if (d := family.front_door(area)))
    if not doors:
        missing = next((a for a in areas if a), family.area)
        return [_front_door_instead(family.front_door(), severity, f"{rule_id}.front_door",
                                    about, facts, NO_FRONT_DOOR_FOR_AREA, missing)]  # fmt: skip
    return [
        Decision(Addressee(door, ContactRole.DUTY_MANAGER), NoticeType.FRONT_DOOR_REFERRAL,
                 severity, f"{rule_id}.front_door", about, facts)
        for door in doors
    ]  # fmt: skip


def child_contact_routes(
    rule_id: str, when: str, severities: tuple[Severity, ...]
) -> tuple[Route, ...]:
    """The routes ``child_contact`` decides, for a rule whose condition is ``when``."""
    child = f"{rule_id}.child"
    return (
        Route(child, f"{when}; a child with a school place", "the school's key adult",
              NoticeType.SCHOOL_SUPPORT, ContactRole.KEY_ADULT, severities),
        Route(child, f"{when}; a child under school age", "the child's health visiting team",
              NoticeType.HEALTH_VISITING, ContactRole.SAFEGUARDING_LEAD, severities),
        Route(child, f"{when}; a child of school age with no school place",
              "the local authority's education safeguarding officer",
              NoticeType.SCHOOL_SUPPORT, ContactRole.EDUCATION_SAFEGUARDING_OFFICER, severities),
    )  # fmt: skip


def gp_route(rule_id: str, when: str, who: str, severities: tuple[Severity, ...]) -> Route:
    """The route ``gp_decisions`` decides: one notice per practice."""
    return Route(f"{rule_id}.gp", when, who, NoticeType.GP_INFORMATION,
                 ContactRole.SAFEGUARDING_LEAD, severities)  # fmt: skip


def front_door_route(rule_id: str, when: str, severities: tuple[Severity, ...]) -> Route:
    """The route ``front_door_decision`` decides."""
    return Route(f"{rule_id}.front_door", when, "the front door's duty manager",
                 NoticeType.FRONT_DOOR_REFERRAL, ContactRole.DUTY_MANAGER, severities)  # fmt: skip


def ordinal(n: int) -> str:
    """A count in words, for the who-is-told table ("the second in a row")."""
    return {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(n, f"{n}th")
