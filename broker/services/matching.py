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
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, TypeVar

from pydantic import BaseModel

from broker.errors import BrokerError
from broker.ports import AuditRecord, DataKeyStore, ParkedEvent, UnitOfWork
from broker.rules.admission import Arrival
from broker.services import directory_changes
from broker.services.directory_writes import find, put_row
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


class KeptPeople(Protocol):
    """An entry as far as its people go: a ``ParkedEvent``, or a row the router holds."""

    @property
    def event_id(self) -> str: ...

    @property
    def people(self) -> str | None: ...


class QueueRow(Protocol):
    """An entry the router's group state holds and changes as it routes the event."""

    event_id: str
    received_at: datetime
    sealed_event: str
    status: str
    people: str | None
    matched_at: datetime | None


Row = TypeVar("Row", bound=QueueRow)


def people_key(event_id: str) -> str:
    """The name of the entry's own data key: shredding it makes its people unreadable."""
    return "q-" + uuid.UUID(event_id).hex


async def park(
    uow: UnitOfWork,
    sealed: SealedEvent,
    header: Arrival,
    event: Event,
    front_door: str | None,
    data_keys: DataKeyStore,
) -> None:
    """The event parked for its front door, unless it is in the queue already."""
    await uow.matching_queue.park(queue_entry(sealed, header, event, front_door, data_keys))


def queue_entry(
    sealed: SealedEvent,
    header: Arrival,
    event: Event,
    front_door: str | None,
    data_keys: DataKeyStore,
) -> ParkedEvent:
    """The event parked for its front door, its people wrapped under the entry's own key."""
    people = QueuedPeople(source_org=event.source_org, people=list(event.people()))
    return ParkedEvent(
        event_id=str(header.event_id), front_door=front_door or "unknown",
        event_type=header.event_type.value, received_at=header.received_at,
        sealed_event=sealed.model_dump_json(),
        people=wrap_people(data_keys, str(header.event_id), people),
    )  # fmt: skip


def wrap_people(data_keys: DataKeyStore, event_id: str, people: QueuedPeople) -> str:
    stored = data_keys.wrap(people_key(event_id), people.model_dump_json().encode(),
                            _context(event_id))  # fmt: skip
    return crypto.b64encode(stored)


def people_of(entry: KeptPeople, data_keys: DataKeyStore) -> QueuedPeople:
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


async def read_queue(
    uow: UnitOfWork, front_door: str, reader: str, now: datetime
) -> list[ParkedEvent]:
    """The front door's queue, oldest first; each entry shown is an audited read (it names
    people), by ``reader``."""
    entries = await uow.matching_queue.to_do(front_door)
    await uow.audit.append_many(
        [AuditRecord("matching_queue_read", reader, entry.event_id,
                     {"event_type": entry.event_type}) for entry in entries], now,
    )  # fmt: skip
    return entries


async def queued(
    uow: UnitOfWork, front_door: str, event_id: str, data_keys: DataKeyStore
) -> tuple[ParkedEvent, QueuedPeople]:
    """An entry of this front door's queue still waiting for a match, and its people."""
    entry = await uow.matching_queue.for_match(event_id)
    if entry is None or entry.front_door != front_door or entry.status != WAITING:
        raise NotInQueue("no such event waiting in this front door's queue")
    return entry, people_of(entry, data_keys)


async def match(
    uow: UnitOfWork,
    entry: ParkedEvent,
    named: QueuedPeople,
    links: Mapping[int, str],
    actor: str,
    now: datetime,
) -> None:
    """Links the event's people (by position) to directory people, and records the front
    door's decision for the router's timer, which publishes the event again (and routes it
    afresh, to the whole family)."""
    for index, person_id in links.items():
        if not 0 <= index < len(named.people):
            raise NotInQueue(f"the event names no person at position {index}")
        await _check_in_area(uow, person_id, actor)
    for index, person_id in links.items():
        await _learn(uow, named.people[index], person_id, named.source_org, actor, now,
                     entry.event_id)  # fmt: skip
    await uow.matching_queue.accept(entry.event_id, actor, now)


async def release_claims(uow: UnitOfWork) -> int:
    """Entries a router claimed and never saw published (it stopped between the two) go back
    to be published. Publishing one twice is harmless: the router routes an event once."""
    return await uow.matching_queue.release_claims()


def republished(entry: Row | None, header: EventHeader) -> Row | None:
    """The event's queue entry (if it has one) when this is the broker's own publication of
    a matched event: the entry is being routed and the header carries the time of its match.
    The times the router trusts then come from the broker's database, not from the header."""
    if entry is None or entry.status not in REPUBLISHED or entry.matched_at is None:
        return None
    return entry if entry.matched_at == header.received_at else None


def left_queue(entry: QueueRow | None, data_keys: DataKeyStore, *, resolved: bool) -> None:
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


async def _check_in_area(uow: UnitOfWork, person_id: str, front_door: str) -> None:
    """Before anything is written: the person lives in the front door's area (now)."""
    rows = uow.directory_rows
    org = await find(uow, "organisations", {"id": front_door})
    members = await rows.select_in("household_members", "person_id", [person_id])
    homes = await rows.select_in("households", "id", [m["household_id"] for m in members])
    if org is None or org["area"] not in {home["area"] for home in homes}:
        raise NotInArea("the person does not live in this front door's area")


async def _learn(
    uow: UnitOfWork, ref: PersonRef, person_id: str, source_org: str, actor: str,
    now: datetime, event_id: str,
) -> None:  # fmt: skip
    person = await find(uow, "people", {"id": person_id})
    if person is None:
        raise NotInQueue(f"no person {person_id} in the directory")
    learnt = {}
    for field in ("nhs_number", "upn"):
        given, known = getattr(ref, field), person[field]
        if given and known and given != known:
            raise MatchConflict(f"person {person_id} already has a different {field}")
        if given and not known:
            learnt[field] = given
    if learnt:
        await uow.directory_rows.update("people", [{"id": person_id, **learnt}])
    if ref.local_id:
        alias = {"source_org": source_org, "local_id": ref.local_id}
        await put_row(uow, "person_aliases", alias, {"person_id": person_id})
    fields = [*learnt, "alias"] if ref.local_id else list(learnt)
    # Which kinds of identifier were learnt, from whose records, through which event: never
    # their values (the audit log outlives the data).
    details = {"entity": "person", "action": "matched", "fields": ",".join(fields),
               "source_org": source_org, "event_id": event_id}  # fmt: skip
    await directory_changes.record(
        uow, actor, "person", person_id, "matched", fields, at=now,
        audited=AuditRecord("directory_changed", actor, person_id, details),
    )  # fmt: skip
