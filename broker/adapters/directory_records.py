"""The directory's records as plain frozen values: what resolving a family reads.

Both ways of resolving a family use them: ``SqlDirectory`` converts the rows it reads, and
``DirectoryProjection`` keeps them in memory (no ORM object outlives its session). Slots keep
a million people small.
"""

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class PersonRow:
    id: str
    nhs_number: str | None
    upn: str | None
    given_name: str | None
    family_name: str | None
    date_of_birth: date | None
    unborn: bool = False
    expected_on: date | None = None
    has_send: bool = False
    has_ehcp: bool = False
    learning_disability: bool = False
    preferred_language: str | None = None
    interpreter_needed: bool = False


@dataclass(frozen=True, slots=True)
class Membership:
    household_id: str
    person_id: str
    role: str


@dataclass(frozen=True, slots=True)
class OwnerRow:
    position: int
    is_lead: bool
    name: str
    role: str
    org_id: str
    phone: str | None
    email: str | None


@dataclass(frozen=True, slots=True)
class PlanRow:
    id: str
    person_id: str
    kind: str
    started_on: date
    ended_on: date | None
    step_down_until: date | None
    if_concerns_return: str | None
    owners: tuple[OwnerRow, ...] = ()
