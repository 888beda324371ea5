"""The benchmark's partnership: a generated directory of realistic size, and its events.

Households have the fault suite's shape (two parents, a school-age child, a young child),
spread over the schools, GP practices, health visiting teams and mental health services of
one local authority, with an acute trust reporting emergency department attendances and a
neighbouring authority for families that move. Each run loads its own database through the
bulk directory import (100,000 people in well under a minute), so nothing is cached.

Events come in a mix of every type, in rough proportion to how often each happens, and some
children attend the emergency department or miss appointments again and again, so that the
pattern rules fire as well.
"""

import random
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.services.directory_admin import ImportSummary
from broker.services.directory_bulk import bulk_load_directory
from schemas.directory import DirectorySpec, InvolvementSpec, RegistrationSpec
from schemas.events import (
    AppointmentOutcome,
    EdAttendance,
    Event,
    FamilyMovingArea,
    PersonRef,
    PresentingCategory,
)
from tests.faults.population import Household, Population, Shape, build, event_for

NEIGHBOUR_AREA = "E09000098"
ACUTE_TRUST = "acute-0"
SHAPE = Shape(
    schools=40,
    gp_practices=20,
    health_visiting=5,
    mental_health=3,
    others=(
        (ACUTE_TRUST, "acute_trust", "E09000099"),
        ("fd-neighbour", "front_door", NEIGHBOUR_AREA),
    ),
)
# Shares of each event type: attendances and appointments are most of what agencies report.
MIX = {
    "ed_attendance": 0.35,
    "appointment_outcome": 0.35,
    "parent_mental_health_crisis": 0.12,
    "service_withdrawal": 0.12,
    "family_moving_area": 0.06,
}
FREQUENT_SHARE = 0.2  # of events about the 2% of households seen again and again
CHUNK = 5_000  # households loaded per transaction (about 20,000 people)
SEED = 11
R = TypeVar("R", RegistrationSpec, InvolvementSpec)
Loader = Callable[[SqlUnitOfWork, DirectorySpec], Awaitable[ImportSummary]]


def people_to_households(people: int) -> int:
    return -(-people // 4)


def population(people: int, today: date) -> Population:
    return build(people_to_households(people), seed=SEED, today=today, shape=SHAPE)


async def load_in_chunks(
    spec: DirectorySpec, url: str, load: Loader = bulk_load_directory
) -> float:
    """The directory through the real import (the bulk one unless told), ``CHUNK`` households
    per transaction; answers the seconds it took (the schema's creation apart)."""
    engine = db.make_engine(url)
    try:
        await db.create_schema(engine)
        # A key of its own: the benchmark never verifies the audit chain it starts here.
        sessions = db.sessions(engine, secrets.token_bytes(32))
        shared = spec.model_copy(update={"people": (), "households": (), "registrations": (),
                                         "involvements": ()})  # fmt: skip
        started = time.perf_counter()
        async with SqlUnitOfWork(sessions) as uow:
            await load(uow, shared)
        for part in _chunks(spec):
            async with SqlUnitOfWork(sessions) as uow:
                await load(uow, part)
        seconds = time.perf_counter() - started
        await _analysed(engine)
        return seconds
    finally:
        await engine.dispose()


async def _analysed(engine: AsyncEngine) -> None:
    """On PostgreSQL, the tables' statistics gathered, as after any bulk load (autovacuum
    would within a minute or so): a statement prepared before a table has any plans as if it
    held a few thousand rows, and a generic plan made then scanned the whole change log for
    every routing group (5 ms at 60,000 changes)."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()


def records_in(spec: DirectorySpec) -> int:
    """How many records the import is given (a household with its members is one)."""
    return sum(len(getattr(spec, kind)) for kind in type(spec).model_fields)


def _chunks(spec: DirectorySpec) -> Iterator[DirectorySpec]:
    people = {p.id: p for p in spec.people}
    registrations, involvements = _by_person(spec.registrations), _by_person(spec.involvements)
    for start in range(0, len(spec.households), CHUNK):
        homes = spec.households[start : start + CHUNK]
        ids = list(dict.fromkeys(m.person_id for h in homes for m in h.members))
        yield DirectorySpec(
            people=tuple(people[i] for i in ids),
            households=homes,
            registrations=tuple(r for i in ids for r in registrations.get(i, ())),
            involvements=tuple(v for i in ids for v in involvements.get(i, ())),
        )


def _by_person(records: Sequence[R]) -> dict[str, list[R]]:
    grouped: dict[str, list[R]] = {}
    for record in records:
        grouped.setdefault(record.person_id, []).append(record)
    return grouped


def events(pop: Population, count: int, seed: int = 1) -> Iterator[tuple[str, Event]]:
    """``count`` events as (publishing organisation, event), dated now as each is made."""
    rng = random.Random(seed)
    frequent = pop.households[: max(1, len(pop.households) // 50)]
    kinds, weights = list(MIX), list(MIX.values())
    for _ in range(count):
        pool = frequent if rng.random() < FREQUENT_SHARE else pop.households
        home = rng.choice(pool)
        kind = rng.choices(kinds, weights)[0]
        yield _event(kind, home, rng, datetime.now(UTC))


def _event(kind: str, home: Household, rng: random.Random, now: datetime) -> tuple[str, Event]:
    envelope = {
        "event_id": uuid.uuid4(),
        "occurred_at": now - timedelta(minutes=rng.randrange(5, 240)),
        "correlation_id": uuid.uuid4(),
    }
    child = rng.choice((home.pupil, home.young_child))
    match kind:
        case "ed_attendance":
            return ACUTE_TRUST, EdAttendance(
                event_type="ed_attendance", source_org=ACUTE_TRUST, **envelope,
                subject=PersonRef(nhs_number=child.nhs_number),
                arrived_at=now - timedelta(minutes=rng.randrange(10, 300)),
                presenting_category=rng.choice(list(PresentingCategory)),
            )  # fmt: skip
        case "appointment_outcome":
            return home.health_visiting, AppointmentOutcome(
                event_type="appointment_outcome", source_org=home.health_visiting, **envelope,
                subject=PersonRef(nhs_number=home.young_child.nhs_number),
                service="Health visiting review",
                booked_for=now - timedelta(hours=rng.randrange(1, 48)),
                outcome="was_not_brought" if rng.random() < 0.3 else "attended",
            )  # fmt: skip
        case "family_moving_area":
            members = (home.mother, home.father, home.pupil, home.young_child)
            return "fd-demo", FamilyMovingArea(
                event_type="family_moving_area", source_org="fd-demo", **envelope,
                members=tuple(PersonRef(nhs_number=p.nhs_number) for p in members),
                from_authority="E09000099", to_authority=NEIGHBOUR_AREA,
                moved_on=now.date() + timedelta(days=rng.randrange(1, 28)),
            )  # fmt: skip
        case _:
            event = event_for(home, rng, now)
            return home.mental_health, event
