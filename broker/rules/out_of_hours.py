"""Out of hours, a person is told now. Pure: the time of receipt comes in as an argument.

Every local authority runs an emergency duty team (EDT) for evenings, nights, weekends and
bank holidays. A high-severity referral to a front door that arrives outside that front
door's working hours also goes, at once, to the authority's EDT, due within the hour in real
time (``NoticeType.OUT_OF_HOURS``); the front door keeps its own referral for its next
working day. A high-risk referral at 19:30 on a Friday cannot wait for Monday morning.
"""

from datetime import datetime

from broker.rules.deadlines import OFFICE_HOURS, is_working_time, nation_of
from broker.rules.family import Addressee, ContactRole, Decision, Family
from broker.rules.table import Route
from schemas.notices import NoticeType, Severity

SUFFIX = ".out_of_hours"
ROUTES = (
    Route(f"*{SUFFIX}", "a high-severity referral to a front door that is closed (its hours, "
          "weekends, its nation's bank holidays)", "the authority's emergency duty team, at "
          "once; the front door keeps its referral", NoticeType.OUT_OF_HOURS,
          ContactRole.EMERGENCY_DUTY, (Severity.HIGH,)),
)  # fmt: skip


def with_out_of_hours(
    decisions: list[Decision], family: Family, received_at: datetime
) -> list[Decision]:
    """The decisions, and an EDT alert for each high-severity front-door referral that
    arrives while its front door is closed."""
    return decisions + [
        _alert(d)
        for d in decisions
        if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL
        and d.severity is Severity.HIGH
        and not front_door_open(d.addressee.org_id, family, received_at)
    ]


def front_door_open(org_id: str, family: Family, at: datetime) -> bool:
    """Whether the front door is within its working hours, on a working day of its nation."""
    area = next((a for a, door in family.front_doors.items() if door == org_id), None)
    hours = family.working_hours.get(org_id, OFFICE_HOURS)
    return is_working_time(at, hours, nation_of(area))


def _alert(referral: Decision) -> Decision:
    return Decision(
        Addressee(referral.addressee.org_id, ContactRole.EMERGENCY_DUTY),
        NoticeType.OUT_OF_HOURS,
        Severity.HIGH,
        referral.rule_id + SUFFIX,
        referral.about,
        {**referral.facts, "front_door_closed": True},
    )
