"""Addressing helpers the event rules share: who a child's school or health team is, and GPs."""

from collections.abc import Iterable
from datetime import date

from broker.rules.family import Addressee, ContactRole, Decision, Family, Member
from schemas.notices import NoticeType, Severity

SCHOOL_AGE_YEARS = 5  # compulsory school age; younger children are seen by health visiting


def child_contact(
    child: Member, on: date, severity: Severity, rule_id: str, facts: dict[str, str | int | bool]
) -> Decision | None:
    """The school's key adult, or the health visiting team for a child under school age."""
    if child.school:
        addressee = Addressee(child.school, ContactRole.KEY_ADULT)
        notice_type = NoticeType.SCHOOL_SUPPORT
    elif child.health_visiting and (child.age_in_years(on) or 0) < SCHOOL_AGE_YEARS:
        addressee = Addressee(child.health_visiting, ContactRole.SAFEGUARDING_LEAD)
        notice_type = NoticeType.HEALTH_VISITING
    else:
        return None
    return Decision(addressee, notice_type, severity, f"{rule_id}.child", (child.person_id,), facts)


def gp_decisions(
    people: Iterable[Member], severity: Severity, rule_id: str, facts: dict[str, str | int | bool]
) -> list[Decision]:
    """One notice per GP practice, naming every listed person registered there."""
    by_practice: dict[str, list[str]] = {}
    for person in people:
        if person.gp and person.person_id not in by_practice.get(person.gp, []):
            by_practice.setdefault(person.gp, []).append(person.person_id)
    return [
        Decision(
            Addressee(gp, ContactRole.SAFEGUARDING_LEAD),
            NoticeType.GP_INFORMATION,
            severity,
            f"{rule_id}.gp",
            tuple(about),
            facts,
        )
        for gp, about in by_practice.items()
    ]


def front_door_decision(
    family: Family,
    severity: Severity,
    rule_id: str,
    about: tuple[str, ...],
    facts: dict[str, str | int | bool],
    area: str | None = None,
) -> list[Decision]:
    front_door = family.front_door(area)
    if front_door is None:
        return []
    addressee = Addressee(front_door, ContactRole.DUTY_MANAGER)
    return [
        Decision(addressee, NoticeType.FRONT_DOOR_REFERRAL, severity, f"{rule_id}.front_door",
                 about, facts)
    ]  # fmt: skip
