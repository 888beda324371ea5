"""The data-quality log: every time a gap in the directory (or a chain of escalations that ran
out) changed who a notice reached, one row, and the report a front door and the partnership's
directory administrators work from. Ids, kinds and fixed wording only: no personal data.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db


class Gap(StrEnum):
    """Why a notice did not reach the reader the rules chose, or not in the way they chose."""

    RECIPIENT_NOT_ONBOARDED = "recipient_not_onboarded"  # no contact with a key there
    NO_HEALTH_VISITING_REGISTRATION = "no_health_visiting_registration"
    NO_FRONT_DOOR_CONTACT = "no_front_door_contact"  # not even the front door can be told
    NO_FRONT_DOOR_FOR_AREA = "no_front_door_for_area"  # the children's area has none known
    NO_EMERGENCY_DUTY_CONTACT = "no_emergency_duty_contact"  # nobody to tell out of hours
    UNSEALABLE_RECIPIENT_KEY = "unsealable_recipient_key"
    HOUSEHOLD_DATA_KEY_UNUSABLE = "household_data_key_unusable"
    STALE_TERM_DATES = "stale_term_dates"  # deadline from weekdays instead
    ESCALATION_EXHAUSTED = "escalation_exhausted"
    # A pregnancy booked for a mother with no unborn child in the directory (rules/pregnancy.py)
    NO_UNBORN_RECORD = "unborn_child_not_in_directory"
    # A move to an authority code the table of authorities does not hold (rules/authorities.py)
    AUTHORITY_NOT_IN_TABLE = "authority_code_not_in_table"
    # No front door anywhere: not the area's, the event's authority's nor the family's own, so
    # nobody was told and the notice is a dead letter (rules/fallback.py ``nobody_to_tell``).
    # The organisation column holds the authority code whose front door is missing.
    NO_FRONT_DOOR = "no_front_door"


WHAT_TO_DO: dict[Gap, str] = {
    Gap.RECIPIENT_NOT_ONBOARDED: "Register a contact with a key for this organisation.",
    Gap.NO_HEALTH_VISITING_REGISTRATION: "Register the child with a health visiting team.",
    Gap.NO_FRONT_DOOR_CONTACT: "Register the front door's duty manager or safeguarding lead.",
    Gap.NO_FRONT_DOOR_FOR_AREA: "Register the front door of the area where the children live.",
    Gap.NO_EMERGENCY_DUTY_CONTACT: "Register the authority's emergency duty team contact.",
    Gap.UNSEALABLE_RECIPIENT_KEY: "Ask the organisation to register a new key.",
    Gap.HOUSEHOLD_DATA_KEY_UNUSABLE: "Check the household's retention status.",
    Gap.STALE_TERM_DATES: "Load the school's term dates for this school year.",
    Gap.NO_UNBORN_RECORD: (
        "Add the unborn child to the mother's household, with its expected date, its parents "
        "and its health visiting team."
    ),
    Gap.ESCALATION_EXHAUSTED: "Nobody acknowledged a notice: make sure someone acts on it.",
    Gap.AUTHORITY_NOT_IN_TABLE: (
        "Check the code with the producer; refresh the table (sgb authorities refresh)."
    ),
    Gap.NO_FRONT_DOOR: (
        "Nobody was told: register the front door of the authority in the organisation "
        "column, and have the event's notices sent to it (its id is on the dead letter)."
    ),
}


@dataclass(frozen=True)
class Issue:
    """One occurrence, as the routing or escalation that found it knew it."""

    gap: Gap
    front_door: str | None  # whose report it appears in
    org_id: str | None = None  # the organisation whose record is at fault
    role: str | None = None
    event_id: str | None = None
    notice_id: str | None = None
    rule_id: str | None = None


@dataclass(frozen=True)
class ReportLine:
    gap: Gap
    front_door: str | None
    org_id: str | None
    role: str | None
    occurrences: int
    first_seen: datetime
    last_seen: datetime

    @property
    def what_to_do(self) -> str:
        return WHAT_TO_DO[self.gap]


def record(session: AsyncSession, issues: Sequence[Issue], at: datetime) -> None:
    """Adds the occurrences to the caller's transaction."""
    session.add_all(
        db.DataQualityIssue(at=at, kind=i.gap.value, front_door=i.front_door, org_id=i.org_id,
                            role=i.role, event_id=i.event_id, notice_id=i.notice_id,
                            rule_id=i.rule_id)
        for i in issues
    )  # fmt: skip


class SqlDataQualityLog:
    """The ``DataQualityLog`` port over the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, issues: Sequence[Issue], at: datetime) -> None:
        record(self._session, issues, at)

    async def report(
        self, front_door: str | None = None, since: datetime | None = None,
        *, no_front_door: bool = False,
    ) -> list[ReportLine]:  # fmt: skip
        return await report(self._session, front_door, since, no_front_door=no_front_door)


async def report(
    session: AsyncSession, front_door: str | None = None, since: datetime | None = None,
    *, no_front_door: bool = False,
) -> list[ReportLine]:  # fmt: skip
    """Each gap once per organisation and role, with how often and when it was seen; for one
    front door's area, or the whole partnership; with ``no_front_door``, only the lines no
    front door's report shows (nobody could be told: only the administrators see them)."""
    row = db.DataQualityIssue
    keys = (row.kind, row.front_door, row.org_id, row.role)
    query = select(*keys, func.count(), func.min(row.at), func.max(row.at)).group_by(*keys)
    if front_door is not None:
        query = query.where(row.front_door == front_door)
    if no_front_door:
        query = query.where(row.front_door.is_(None))
    if since is not None:
        query = query.where(row.at >= since)
    lines = [
        ReportLine(Gap(kind), door, org, role, count, first, last)
        for kind, door, org, role, count, first, last in (await session.execute(query)).all()
    ]
    return sorted(lines, key=lambda line: line.last_seen, reverse=True)
