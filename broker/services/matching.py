"""The matching queue: events about people the directory does not know, held for the front
door of the area they came from until someone there says who each person is.

Nothing is dropped: the event stays sealed to the broker in the queue. Matching teaches the
directory the identifier the event used (an NHS number, a pupil number, an agency's own id),
then the event is published again and routed like any other.

Who holds which key (issue 12, least privilege): the front door's API (the inbox process)
holds no key that opens an event. When the router parks an event it also keeps the people
the event names, wrapped under a data key of the entry's own (``people_key``), which is all
the API reads to list the queue and to learn identifiers at a match. The match only records
the front door's decision (``accepted``); the router's timer then opens the event, seals it
again under a header the broker stamps and publishes it (services/match_publication.py).
Once routed, or after its retention (services/retention.py), the entry keeps nothing
readable: its sealed event is emptied and its data key shredded.

A front door matches only to people who live in its own area (a match elsewhere would send
the event, and the identifier learnt, to another authority's family), and each match is an
audited directory change made by the front door whose token asked for it.
"""

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit, db
from broker.errors import BrokerError
from broker.ports import DataKeyStore, QueuedForMatching
from broker.rules.admission import Arrival
from producers import crypto
from schemas.events import Event, PersonRef
from schemas.transport import EventHeader, SealedEvent

# "accepted": matched by the front door, for the router's timer to publish; "publishing":
# being handed back to Kafka; "routing": Kafka has it, the router not yet. All stay to do
# (and in the queue) until the router has routed it: an event the router refuses is then
# not lost but still waiting for its front door.
WAITING, ACCEPTED, PUBLISHING = "waiting", "accepted", "publishing"
TO_DO = (WAITING, ACCEPTED, PUBLISHING, "routing")
REPUBLISHED = (PUBLISHING, "routing")


# An entry as the database holds it, or as a group of events routed reads it (the router's).
QueueEntry = TypeVar("QueueEntry", db.MatchingQueueEntry, QueuedForMatching)


class NotInQueue(BrokerError):
    """No waiting event with this id in this front door's queue."""


class MatchConflict(BrokerError):
    """The person already has a different identifier of that kind: not the same person."""


class NotInArea(BrokerError):
    """A person named in a match lives in no household of the front door's area."""


class QueuedPeople(BaseModel):
    """What the front door sees of a queued event, and what a match learns from."""

    source_org: str
    people: list[PersonRef]


def people_key(event_id: str) -> str:
    """The name of the entry's own data key: shredding it makes its people unreadable."""
    return "q-" + uuid.UUID(event_id).hex


async def park(
    session: AsyncSession,
    sealed: SealedEvent,
    header: Arrival,
    event: Event,
    front_door: str | None,
    data_keys: DataKeyStore,
) -> None:
    if await session.get(db.MatchingQueueEntry, str(header.event_id)) is not None:
        return
    session.add(queue_entry(sealed, header, event, front_door, data_keys))


def queue_entry(
    sealed: SealedEvent,
    header: Arrival,
    event: Event,
    front_door: str | None,
    data_keys: DataKeyStore,
) -> db.MatchingQueueEntry:
    """The event parked for its front door, its people wrapped under the entry's own key."""
    people = QueuedPeople(source_org=event.source_org, people=list(event.people()))
    return db.MatchingQueueEntry(
        event_id=str(header.event_id), front_door=front_door or "unknown",
        event_type=header.event_type.value, received_at=header.received_at,
        sealed_event=sealed.model_dump_json(), status=WAITING,
        people=wrap_people(data_keys, str(header.event_id), people),
    )  # fmt: skip


def wrap_people(data_keys: DataKeyStore, event_id: str, people: QueuedPeople) -> str:
    stored = data_keys.wrap(people_key(event_id), people.model_dump_json().encode(),
                            _context(event_id))  # fmt: skip
    return crypto.b64encode(stored)


def people_of(entry: db.MatchingQueueEntry, data_keys: DataKeyStore) -> QueuedPeople:
    """The people the queued event names; ``DataKeyShredded`` once its key is gone, and
    ``NotInQueue`` for an entry parked before its people were kept (the router's timer
    keeps them on its next round)."""
    if not entry.people:
        raise NotInQueue("this queued event is not yet readable: try again shortly")
    text = data_keys.unwrap(people_key(entry.event_id), crypto.b64decode(entry.people),
                            _context(entry.event_id))  # fmt: skip
    return QueuedPeople.model_validate_json(text)


def _context(event_id: str) -> bytes:
    # Binds the stored people to their entry: rows cannot be swapped.
    return f"sgb/matching-queue/v1/{event_id}/people".encode()


async def waiting(session: AsyncSession, front_door: str) -> Sequence[db.MatchingQueueEntry]:
    query = (
        select(db.MatchingQueueEntry)
        .where(db.MatchingQueueEntry.front_door == front_door,
               db.MatchingQueueEntry.status.in_(TO_DO))
        .order_by(db.MatchingQueueEntry.received_at)
    )  # fmt: skip
    return (await session.scalars(query)).all()


async def queued(
    session: AsyncSession, front_door: str, event_id: str, data_keys: DataKeyStore
) -> tuple[db.MatchingQueueEntry, QueuedPeople]:
    """An entry of this front door's queue still waiting for a match, and its people."""
    entry = await session.get(db.MatchingQueueEntry, event_id, with_for_update=True)
    if entry is None or entry.front_door != front_door or entry.status != WAITING:
        raise NotInQueue("no such event waiting in this front door's queue")
    return entry, people_of(entry, data_keys)


async def match(
    session: AsyncSession,
    entry: db.MatchingQueueEntry,
    named: QueuedPeople,
    links: Mapping[int, str],
    actor: str,
    now: datetime,
) -> None:
    """Links the event's people (by position) to directory people, and records the front
    door's decision for the router's timer, which publishes the event again."""
    for index, person_id in links.items():
        if not 0 <= index < len(named.people):
            raise NotInQueue(f"the event names no person at position {index}")
        await _check_in_area(session, person_id, actor)
    for index, person_id in links.items():
        await _learn(session, named.people[index], person_id, named.source_org, actor, now,
                     entry.event_id)  # fmt: skip
    entry.status, entry.matched_at, entry.matched_by = ACCEPTED, now, actor
    routed = await session.get(db.RoutedEvent, entry.event_id)
    if routed is not None:
        await session.delete(routed)  # so the router routes it afresh, to the whole family


async def published(session: AsyncSession, event_id: str, *, succeeded: bool) -> None:
    """Kafka has the event again (it waits for the router), or did not take it (the timer's
    next round publishes it again: the front door's match stands). Only an event still being
    published moves: the router may have routed it already."""
    entry = await session.get(db.MatchingQueueEntry, event_id)
    if entry is not None and entry.status == PUBLISHING:
        entry.status = "routing" if succeeded else ACCEPTED


async def release_claims(session: AsyncSession) -> int:
    """Entries a router claimed and never saw published (it stopped between the two) go back
    to be published. Publishing one twice is harmless: the router routes an event once."""
    released = await session.execute(
        update(db.MatchingQueueEntry)
        .where(db.MatchingQueueEntry.status == PUBLISHING)
        .values(status=ACCEPTED)
    )  # fmt: skip
    return int(released.rowcount)  # type: ignore[attr-defined]


async def republication(session: AsyncSession, header: EventHeader) -> db.MatchingQueueEntry | None:
    """The queue's entry when this is the broker's own publication of a matched event."""
    return republished(await session.get(db.MatchingQueueEntry, str(header.event_id)), header)


def republished(entry: "QueueEntry | None", header: EventHeader) -> "QueueEntry | None":
    """The event's queue entry (if it has one) when this is the broker's own publication of
    a matched event: the entry is being routed and the header carries the time of its match.
    The times the router trusts then come from the broker's database, not from the header."""
    if entry is None or entry.status not in REPUBLISHED or entry.matched_at is None:
        return None
    return entry if entry.matched_at == header.received_at else None


async def routed(
    session: AsyncSession, event_id: str, data_keys: DataKeyStore, *, resolved: bool
) -> None:
    """The router has routed the matched event (see ``left_queue``)."""
    entry = await session.get(db.MatchingQueueEntry, event_id)
    left_queue(entry, data_keys, resolved=resolved)


def left_queue(entry: "QueueEntry | None", data_keys: DataKeyStore, *, resolved: bool) -> None:
    """The router has routed the event of this entry (if it has one): a matched event leaves
    the queue keeping nothing readable (the event is in the family's chronology now), or
    waits again for a person still unknown."""
    if entry is None or entry.status not in REPUBLISHED:
        return
    if not resolved:
        entry.status = WAITING
        return
    entry.status, entry.sealed_event, entry.people = "matched", "", None
    data_keys.shred(people_key(entry.event_id))


async def _check_in_area(session: AsyncSession, person_id: str, front_door: str) -> None:
    """Before anything is written: the person lives in the front door's area (now)."""
    org = await session.get(db.Organisation, front_door)
    areas = await session.scalars(
        select(db.Household.area)
        .join(db.HouseholdMember, db.HouseholdMember.household_id == db.Household.id)
        .where(db.HouseholdMember.person_id == person_id)
    )
    if org is None or org.area not in set(areas):
        raise NotInArea("the person does not live in this front door's area")


async def _learn(
    session: AsyncSession, ref: PersonRef, person_id: str, source_org: str, actor: str,
    now: datetime, event_id: str,
) -> None:  # fmt: skip
    person = await session.get(db.Person, person_id)
    if person is None:
        raise NotInQueue(f"no person {person_id} in the directory")
    learnt = []
    for field in ("nhs_number", "upn"):
        given, known = getattr(ref, field), getattr(person, field)
        if given and known and given != known:
            raise MatchConflict(f"person {person_id} already has a different {field}")
        if given and not known:
            setattr(person, field, given)
            learnt.append(field)
    if ref.local_id:
        await session.merge(db.PersonAlias(source_org=source_org, local_id=ref.local_id,
                                           person_id=person_id))  # fmt: skip
        learnt.append("alias")
    fields = ",".join(learnt)
    session.add(db.DirectoryChange(at=now, actor=actor, entity="person", entity_id=person_id,
                                   action="matched", fields=fields))  # fmt: skip
    # Which kinds of identifier were learnt, from whose records, through which event: never
    # their values (the audit log outlives the data).
    await audit.append(session, "directory_changed", actor, person_id,
                       {"entity": "person", "action": "matched", "fields": fields,
                        "source_org": source_org, "event_id": event_id}, now)  # fmt: skip
