"""Retention on the fakes: shredding a household takes its key, its unknown members' keys
and its records, audited with the counts; stale unknown people's keys are swept once; the
matching queue's expired entries are purged with their keys."""

from datetime import UTC, datetime, timedelta

from broker.ports import ExpiredQueueEntry
from broker.pseudonyms import pseudonym, unmatched_key_name
from broker.services import matching
from broker.services.retention import (
    purge_unmatched_queue,
    shred_household,
    sweep_unknown_people,
)
from tests.fakes import FakeDataKeys, FakeUnitOfWork, RetainedState

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SECRET = b"s" * 32
EVENT = "e0000000-0000-4000-8000-000000000001"
RETENTION = timedelta(days=90)


class TestShredHousehold:
    async def test_the_household_and_its_records_go_audited(self) -> None:
        """Its data key and its members' unknown-person keys are shredded, its records
        purged, and the audit entry names the household's pseudonym and the counts."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        uow.retention.state = RetainedState(identifiers={"hh-1": {"nhs:9434765919"}},
                                            chronology={"hh-1": [EVENT]})  # fmt: skip
        async with uow:
            assert await shred_household(uow, keys, SECRET, "hh-1", "cli")
        household = pseudonym(SECRET, "household", "hh-1")
        assert keys.shredded == {household, unmatched_key_name(SECRET, "nhs:9434765919")}
        [entry] = await uow.audit.entries_for(household)
        assert (entry.action, entry.actor) == ("household_shredded", "cli")
        assert entry.details["chronology_lines"] == 1
        assert entry.details["unmatched_keys"] == 1


class TestSweepUnknownPeople:
    async def test_only_stale_keys_are_swept(self) -> None:
        """A key whose newest notice is older than the retention goes, audited; a fresh
        one stays."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        uow.retention.state = RetainedState(unknown_keys={"u-old": AT - RETENTION, "u-new": AT})
        async with uow:
            swept = await sweep_unknown_people(uow, keys, AT, RETENTION, "sweep")
        assert swept == ["u-old"]
        assert keys.shredded == {"u-old"}
        [entry] = await uow.audit.entries_for("u-old")
        assert entry.details == {"last_used": "2026-09-01", "retention_days": 90}


class TestPurgeUnmatchedQueue:
    async def test_an_expired_entry_is_purged_with_its_key(self) -> None:
        """An entry nobody matched within the retention is removed, its people's key
        shredded, audited by event id and type."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        entry = ExpiredQueueEntry(EVENT, "ed_attendance", "fd-1")
        uow.retention.state = RetainedState(queued={EVENT: (entry, AT - RETENTION, "waiting")})
        async with uow:
            assert await purge_unmatched_queue(uow, keys, AT, RETENTION) == [EVENT]
        assert keys.shredded == {matching.people_key(EVENT)}
        [audited] = await uow.audit.entries_for(EVENT)
        assert audited.details == {"event_type": "ed_attendance", "front_door": "fd-1",
                                   "retention_days": 90}  # fmt: skip
