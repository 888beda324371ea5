"""The matching queue: events about people the directory does not know, held for the front
door of the area they came from until someone there says who each person is.

Nothing is dropped: the event stays sealed to the broker in the queue. Matching teaches the
directory the identifier the event used (an NHS number, a pupil number, an agency's own id),
then the event is published again and routed like any other.

A front door matches only to people who live in its own area (a match elsewhere would send
the event, and the identifier learnt, to another authority's family), and each match is an
audited directory change made by the front door whose token asked for it.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit, db
from broker.adapters.envelopes import open_event, seal_event
from broker.errors import BrokerError
from broker.keys import KeyStore
from broker.rules.admission import Arrival
from schemas.events import Event, PersonRef
from schemas.transport import EventHeader, SealedEvent

# "publishing": matched, and being handed back to Kafka; "routing": Kafka has it, the router
# not yet. Both stay to do (and in the queue) until the router has routed it: an event the
# router refuses is then not lost but still waiting for its front door.
TO_DO = ("waiting", "publishing", "routing")
REPUBLISHED = ("publishing", "routing")


class NotInQueue(BrokerError):
    """No waiting event with this id in this front door's queue."""


class MatchConflict(BrokerError):
    """The person already has a different identifier of that kind: not the same person."""


class NotInArea(BrokerError):
    """A person named in a match lives in no household of the front door's area."""


async def park(
    session: AsyncSession,
    sealed: SealedEvent,
    header: Arrival,
    front_door: str | None,
    now: datetime,
) -> None:
    if await session.get(db.MatchingQueueEntry, str(header.event_id)) is not None:
        return
    session.add(db.MatchingQueueEntry(
        event_id=str(header.event_id), front_door=front_door or "unknown",
        event_type=header.event_type.value, received_at=header.received_at,
        sealed_event=sealed.model_dump_json(), status="waiting",
    ))  # fmt: skip


async def waiting(session: AsyncSession, front_door: str) -> Sequence[db.MatchingQueueEntry]:
    query = (
        select(db.MatchingQueueEntry)
        .where(db.MatchingQueueEntry.front_door == front_door,
               db.MatchingQueueEntry.status.in_(TO_DO))
        .order_by(db.MatchingQueueEntry.received_at)
    )  # fmt: skip
    return (await session.scalars(query)).all()


async def queued_event(
    session: AsyncSession, front_door: str, event_id: str, keys: KeyStore
) -> tuple[db.MatchingQueueEntry, Event]:
    entry = await session.get(db.MatchingQueueEntry, event_id)
    if entry is None or entry.front_door != front_door or entry.status not in TO_DO:
        raise NotInQueue("no such event waiting in this front door's queue")
    sealed = SealedEvent.model_validate_json(entry.sealed_event)
    _, signed = open_event(sealed, keys.hpke_for(_sealed_to(sealed)))
    event = signed.event()  # its signature was verified when it was first routed
    return entry, event


async def match(
    session: AsyncSession,
    entry: db.MatchingQueueEntry,
    event: Event,
    links: Mapping[int, str],
    actor: str,
    now: datetime,
    keys: KeyStore,
) -> SealedEvent:
    """Links the event's people (by position) to directory people; returns the event to
    publish again, under a header the broker stamps with the time of the match."""
    named = event.people()
    for index, person_id in links.items():
        if not 0 <= index < len(named):
            raise NotInQueue(f"the event names no person at position {index}")
        await _check_in_area(session, person_id, actor)
    for index, person_id in links.items():
        await _learn(session, named[index], person_id, event.source_org, actor, now,
                     entry.event_id)  # fmt: skip
    entry.status, entry.matched_at, entry.matched_by = "publishing", now, actor
    routed = await session.get(db.RoutedEvent, entry.event_id)
    if routed is not None:
        await session.delete(routed)  # so the router routes it afresh, to the whole family
    return _stamped(entry, keys, now)


def _stamped(entry: db.MatchingQueueEntry, keys: KeyStore, now: datetime) -> SealedEvent:
    """The producer's signed event as it was (its ``occurred_at`` and signature untouched),
    sealed again under a header the broker writes: received at the time of the match, so
    that a match made more than a week after the event came is not refused as too old."""
    sealed = SealedEvent.model_validate_json(entry.sealed_event)
    header, signed = open_event(sealed, keys.hpke_for(_sealed_to(sealed)))
    stamped = header.model_copy(
        update={"received_at": now, "broker_key_id": keys.public.hpke_key_id}
    )
    return seal_event(signed, stamped, keys.public.hpke)


def _sealed_to(sealed: SealedEvent) -> str:
    return EventHeader.model_validate_json(sealed.header).broker_key_id


async def published(session: AsyncSession, event_id: str, *, succeeded: bool) -> None:
    """Kafka has the event again (it waits for the router), or did not take it (it waits
    for a match again). Only an event still being published moves: the router may have
    routed it already."""
    entry = await session.get(db.MatchingQueueEntry, event_id)
    if entry is not None and entry.status == "publishing":
        entry.status = "routing" if succeeded else "waiting"


async def republication(session: AsyncSession, header: EventHeader) -> db.MatchingQueueEntry | None:
    """The queue's entry when this is the broker's own publication of a matched event: the
    entry is being routed and the header carries the time of its match. The times the router
    trusts then come from the broker's database, not from the header."""
    entry = await session.get(db.MatchingQueueEntry, str(header.event_id))
    if entry is None or entry.status not in REPUBLISHED or entry.matched_at is None:
        return None
    return entry if entry.matched_at == header.received_at else None


async def routed(session: AsyncSession, event_id: str, *, resolved: bool) -> None:
    """The router has routed the matched event: it leaves the queue, or waits again for a
    person still unknown."""
    entry = await session.get(db.MatchingQueueEntry, event_id)
    if entry is not None and entry.status in REPUBLISHED:
        entry.status = "matched" if resolved else "waiting"


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
