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

from datetime import UTC, datetime, timedelta

from broker.ports import AuditDetails, AuditRecord, DataKeyStore, UnitOfWork
from broker.pseudonyms import unmatched_key_name
from broker.services import matching
from producers.pseudonyms import pseudonym


async def shred_household(
    uow: UnitOfWork, keys: DataKeyStore, secret: bytes, household_id: str, actor: str
) -> bool:
    """Makes everything stored for the household unreadable or deleted; audited. Answers
    whether it had a data key."""
    household = pseudonym(secret, "household", household_id)
    identifiers = await uow.retention.identifiers_of(household_id)
    unmatched = [unmatched_key_name(secret, i) for i in identifiers]
    purged = await uow.retention.purge_household(household_id)
    shredded = keys.shred(household)
    # What was kept about its members before the directory knew them goes too.
    unmatched_keys = sum(keys.shred(name) for name in unmatched)
    await uow.audit.append(AuditRecord("household_shredded", actor, household,
                                       {"had_a_key": shredded, "unmatched_keys": unmatched_keys,
                                        **purged}), datetime.now(UTC))  # fmt: skip
    return shredded


async def sweep_unknown_people(
    uow: UnitOfWork, keys: DataKeyStore, now: datetime, retention: timedelta, actor: str
) -> list[str]:
    """Shreds the data key of each unknown person whose newest notice (an escalation
    included) is older than ``retention``; answers the names of the keys deleted now."""
    swept = []
    for name, last in await uow.retention.unknown_keys_used_by(now - retention):
        if keys.shred(name):  # False: swept before (a tombstone, and no key since)
            swept.append(name)
            details: AuditDetails = {"last_used": last.date().isoformat(),
                                     "retention_days": retention.days}  # fmt: skip
            await uow.audit.append(AuditRecord("unknown_person_key_swept", actor, name, details),
                                   now)  # fmt: skip
    return swept


async def purge_unmatched_queue(
    uow: UnitOfWork, keys: DataKeyStore, now: datetime, retention: timedelta
) -> list[str]:
    """The matching queue's entries nobody matched within ``retention`` of their receipt:
    each row is deleted (its event, sealed to the broker) and its data key shredded (the
    people it names), audited by event id and type only. Answers their event ids. An entry
    matched meanwhile is not waiting, and is not purged: routed, it keeps nothing readable."""
    expired = await uow.retention.take_expired_queue_entries(now - retention, PURGE_BATCH)
    for entry in expired:
        keys.shred(matching.people_key(entry.event_id))
        await uow.audit.append(AuditRecord("queue_entry_purged", "retention", entry.event_id,
                                           {"event_type": entry.event_type,
                                            "front_door": entry.front_door,
                                            "retention_days": retention.days}), now)  # fmt: skip
    return [entry.event_id for entry in expired]


PURGE_BATCH = 100
