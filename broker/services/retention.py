"""Retention: shredding a household deletes what the broker holds about it, for good.

Its data key goes (so every notice and record sealed under it can never be read again, in
any copy of the database) and a tombstone stays in the key store; so do the keys of what was
kept about its members while the directory did not know them (by each identifier of theirs).
In the same transaction the records kept in clear go too: the household's chronology (which
is also the memory of its history digests), the pattern records of its members who live in
no other household (the others' records also serve their other home, whose retention holds
them), and the matching queue's copies of events that were matched to it (sealed only to the
broker, so readable to it for as long as they were kept). The audit log keeps the fact and
the counts, no more.

The matching queue forgets on its own too: an event nobody matched within
``matching_queue_retention_days`` (90 by default) is purged by the router's timer
(``purge_unmatched_queue``): its row and sealed event deleted, the data key of the people it
names shredded, audited by event id and type.

What is kept about people the directory does not know is sealed under a key per identifier
(``unmatched_key_name``), which goes with a household they are later found in. Someone never
found would keep theirs for ever: ``sweep_unknown_people`` shreds each such key no notice has
used for the retention period (``unknown_person_retention_days``), audited one by one.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from broker.adapters import audit, db
from broker.ports import DataKeyStore
from broker.pseudonyms import unmatched_key_name
from broker.services import matching
from producers.pseudonyms import pseudonym


async def shred_household(
    session: AsyncSession, keys: DataKeyStore, secret: bytes, household_id: str, actor: str
) -> bool:
    """Makes everything stored for the household unreadable or deleted; audited. Answers
    whether it had a data key."""
    household = pseudonym(secret, "household", household_id)
    unmatched = [unmatched_key_name(secret, i) for i in await _identifiers(session, household_id)]
    purged = await purge_records(session, household_id)
    shredded = keys.shred(household)
    # What was kept about its members before the directory knew them goes too.
    unmatched_keys = sum(keys.shred(name) for name in unmatched)
    await audit.append(session, "household_shredded", actor, household,
                       {"had_a_key": shredded, "unmatched_keys": unmatched_keys, **purged},
                       datetime.now(UTC))  # fmt: skip
    return shredded


# Unknown people's key names: "u" and a hex pseudonym; a household's never start with "u".
UNKNOWN_PERSON_KEYS = "u%"


async def sweep_unknown_people(
    session: AsyncSession, keys: DataKeyStore, now: datetime, retention: timedelta, actor: str
) -> list[str]:
    """Shreds the data key of each unknown person whose newest notice (an escalation
    included) is older than ``retention``; answers the names of the keys deleted now."""
    last_used = func.max(db.NoticeRecord.created_at)
    stale = await session.execute(
        select(db.NoticeRecord.household, last_used)
        .where(db.NoticeRecord.household.like(UNKNOWN_PERSON_KEYS))
        .group_by(db.NoticeRecord.household)
        .having(last_used <= now - retention)
    )
    swept = []
    for name, last in stale.all():
        if keys.shred(name):  # False: swept before (a tombstone, and no key since)
            swept.append(name)
            await audit.append(session, "unknown_person_key_swept", actor, name,
                               {"last_used": last.date().isoformat(),
                                "retention_days": retention.days}, now)  # fmt: skip
    return swept


async def purge_records(session: AsyncSession, household_id: str) -> dict[str, int]:
    """Deletes the household's chronology, its only-here members' pattern records, the
    queued events matched to it and the events held as proposals about it; answers how many
    of each went."""
    events = await _chronology_events(session, household_id)
    queued = await _delete(session, db.MatchingQueueEntry, db.MatchingQueueEntry.event_id, events)
    held = await _delete(session, db.DirectoryProposal, db.DirectoryProposal.event_id, events)
    people = await _members_of_no_other_household(session, household_id)
    patterns = await _delete(session, db.PatternRecord, db.PatternRecord.person_id, people)
    lines = (await session.execute(
        delete(db.ChronologyEntry).where(db.ChronologyEntry.household_id == household_id)
    )).rowcount  # type: ignore[attr-defined]  # fmt: skip
    return {"chronology_lines": lines, "pattern_records": patterns, "queued_events": queued,
            "proposals": held}  # fmt: skip


async def _identifiers(session: AsyncSession, household_id: str) -> set[str]:
    """Every identifier an event may have named a member by (``person_identifier``)."""
    members = select(db.HouseholdMember.person_id).where(
        db.HouseholdMember.household_id == household_id
    )
    people = (await session.scalars(select(db.Person).where(db.Person.id.in_(members)))).all()
    aliases = (await session.scalars(
        select(db.PersonAlias).where(db.PersonAlias.person_id.in_(members))
    )).all()  # fmt: skip
    return (
        {f"nhs:{p.nhs_number}" for p in people if p.nhs_number}
        | {f"upn:{p.upn}" for p in people if p.upn}
        | {f"local:{a.source_org}:{a.local_id}" for a in aliases}
    )


async def _chronology_events(session: AsyncSession, household_id: str) -> list[str]:
    rows = await session.scalars(
        select(db.ChronologyEntry.event_id)
        .where(db.ChronologyEntry.household_id == household_id)
        .distinct()
    )
    return list(rows.all())


async def _members_of_no_other_household(session: AsyncSession, household_id: str) -> list[str]:
    members = select(db.HouseholdMember.person_id).where(
        db.HouseholdMember.household_id == household_id
    )
    elsewhere = select(db.HouseholdMember.person_id).where(
        db.HouseholdMember.household_id != household_id
    )
    rows = await session.scalars(members.where(db.HouseholdMember.person_id.not_in(elsewhere)))
    return list(rows.all())


async def _delete(
    session: AsyncSession, model: type[db.Base], column: InstrumentedAttribute[str],
    values: Sequence[str],
) -> int:  # fmt: skip
    if not values:
        return 0
    result = await session.execute(delete(model).where(column.in_(values)))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def purge_unmatched_queue(
    session: AsyncSession, keys: DataKeyStore, now: datetime, retention: timedelta
) -> list[str]:
    """The matching queue's entries nobody matched within ``retention`` of their receipt:
    each row is deleted (its event, sealed to the broker) and its data key shredded (the
    people it names), audited by event id and type only. Answers their event ids. An entry
    matched meanwhile is not waiting, and is not purged: routed, it keeps nothing readable."""
    expired = (await session.scalars(
        select(db.MatchingQueueEntry)
        .where(db.MatchingQueueEntry.status == matching.WAITING,
               db.MatchingQueueEntry.received_at <= now - retention)
        .order_by(db.MatchingQueueEntry.received_at)
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )).all()  # fmt: skip
    for entry in expired:
        await session.delete(entry)
        keys.shred(matching.people_key(entry.event_id))
        await audit.append(session, "queue_entry_purged", "retention", entry.event_id,
                           {"event_type": entry.event_type, "front_door": entry.front_door,
                            "retention_days": retention.days}, now)  # fmt: skip
    return [entry.event_id for entry in expired]


PURGE_BATCH = 100
