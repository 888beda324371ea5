"""Routing on the fakes and on SQL gives the same notices for the benchmark's event mix (issue
14): the same events, in the same groups, through the real routing service twice, once over
SqlUnitOfWork on SQLite, once over FakeUnitOfWork; the notices' records and their bodies (as
decrypted) must be the same.

The fake run's directory answers from a second SQLite database holding the same directory
(routing's directory writes, a move or a step-down, go there too), with each family's history
taken from the fake run's own chronology: the stores under test (routed events, pattern
records, chronology, notice records, steps owed, full views, proposals) are the fakes."""

import secrets
import shutil
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from broker.adapters import chronology, db
from broker.adapters.data_keys import FileDataKeys
from broker.adapters.directory import FamilyContext, Organisations
from broker.adapters.kafka import Topics
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import routing_deps
from broker.keys import KeyStore
from broker.ports import DataKeyStore, NoticeRecordView, UnitOfWork
from broker.rules.family import Addressee, Family
from broker.services import notice_records
from broker.services.routing import Delivery, Routed, RoutingDeps, record_events
from broker.services.scenario import CollectingPublisher
from producers.envelopes import seal_event, sign_event
from schemas.events import FamilyMovingArea, PersonRef, ServiceWithdrawal
from schemas.transport import EventHeader
from tests.benchmark import population
from tests.fakes import FakeRoutedEvents, FakeUnitOfWork

# 300 events over 200 people (about 50 households): every event type of the mix, and the
# pattern rules firing on the households seen again and again (asserted below), were met by
# the 300th event, where 400 over 1,000 people met them by the 300th too (a quarter of the
# routing, twice over, spent on nothing new).
PEOPLE, EVENTS, GROUP = 200, 300, 25  # GROUP: the router's group size (consumers/router.py)
# Rules that fire on a family's history, not on one event: the mix must make each fire.
PATTERN_RULES = {"repeated_crises", "accumulation", "co_occurrence", "strategy_discussion",
                 "ed.frequent_attender", "was_not_brought"}  # fmt: skip
# What a notice's record says, but for its sealed copy and wrapped body (sealed afresh each
# time: compared as decrypted).
COMPARED = ("notice_id", "chain_id", "event_id", "household", "recipient_id", "recipient_org",
            "notice_type", "severity", "rule_id", "created_at", "deadline", "escalate_to",
            "reroute_to", "follows", "level")  # fmt: skip
RULE = COMPARED.index("rule_id")


class DirectoryOverSql:
    """The FamilyDirectory of the fake run: the directory's reads and writes on a database of
    its own, each in a unit of work of its own; a family's history from the fake chronology."""

    def __init__(self, sessions: Any, routed: FakeRoutedEvents) -> None:
        self._sessions, self._routed = sessions, routed

    async def _call(self, name: str, *args: Any) -> Any:
        async with SqlUnitOfWork(self._sessions) as uow:
            return await getattr(uow.directory, name)(*args)

    async def family_for(self, named: Sequence[PersonRef], source_org: str) -> FamilyContext:
        context: FamilyContext = await self._call("family_for", named, source_org)
        family = context.family
        homes = {m.household_id for m in family.members if m.household_id}
        empty = replace(family.history, events=(), notices=())
        history = chronology.with_lines(empty, self._routed.chronology, homes)
        return replace(context, family=replace(family, history=history))

    async def families_of(self, named: Sequence[tuple[Sequence[PersonRef], str]]) -> Any:
        return await self._call("families_of", named)

    async def read_ahead(self, families: Any) -> set[str]:
        """Each family is read in a unit of work of its own."""
        return set()

    async def match(self, person: PersonRef, source_org: str) -> str | None:
        found: str | None = await self._call("match", person, source_org)
        return found

    async def organisations(self) -> Organisations:
        known: Organisations = await self._call("organisations")
        return known

    async def organisation(self, org_id: str) -> Any:
        return await self._call("organisation", org_id)

    async def contact_for(self, addressee: Addressee) -> Any:
        return await self._call("contact_for", addressee)

    async def webhook_url(self, contact_id: str) -> str | None:
        found: str | None = await self._call("webhook_url", contact_id)
        return found

    async def signing_key(self, org_id: str, key_id: str, at: datetime) -> Any:
        return await self._call("signing_key", org_id, key_id, at)

    async def check_may_publish(self, org_id: str, event_type: Any) -> None:
        await self._call("check_may_publish", org_id, event_type)

    async def school_calendar(self, org_id: str) -> Any:
        return await self._call("school_calendar", org_id)

    async def record_move(self, households: Iterable[str], to_area: str | None, on: date) -> Any:
        return await self._call("record_move", list(households), to_area, on)

    async def record_step_down(self, event: ServiceWithdrawal, family: Family) -> Any:
        return await self._call("record_step_down", event, family)

    async def record_listed_plans(self, event: FamilyMovingArea, family: Family) -> Any:
        return await self._call("record_listed_plans", event, family)

    def end(self, committed: bool) -> None:
        """Its writes were committed as they were made (the fake run's groups all commit)."""


@asynccontextmanager
async def directory_database(
    pop: population.Population, path: Path, copy_of: Path | None = None
) -> AsyncIterator[Any]:
    """Sessions over a new SQLite database holding the population's directory: loaded, or
    copied from the file of a database it was loaded into (the same rows, in a tenth of the
    time)."""
    url = f"sqlite+aiosqlite:///{path}"
    if copy_of is None:
        await population.load_in_chunks(pop.spec, url)
    else:
        shutil.copyfile(copy_of, path)
    engine = db.make_engine(url)
    try:
        yield db.sessions(engine, secrets.token_bytes(32))
    finally:
        await engine.dispose()


def deliveries(pop: population.Population, keys: KeyStore, now: datetime) -> list[Delivery]:
    sealed = []
    for offset, (org, event) in enumerate(population.events(pop, EVENTS, seed=7)):
        header = EventHeader(event_id=event.event_id, event_type=event.event_type,
                             source_org=org, received_at=now,
                             broker_key_id=keys.public.hpke_key_id)  # fmt: skip
        signed = sign_event(event, pop.producer_keys[org])
        sealed.append((seal_event(signed, header, keys.public.hpke), f"t.events/0/{offset}", now))
    return sealed


async def routed(deps: RoutingDeps, events: list[Delivery]) -> list[list[str]]:
    """Each event's notice ids, routed in the router's groups."""
    ids = []
    for start in range(0, len(events), GROUP):
        for outcome in await record_events(events[start : start + GROUP], deps):
            assert isinstance(outcome, Routed), outcome
            ids.append(outcome.notice_ids)
    return ids


async def records(
    uow: UnitOfWork, ids: list[str], data_keys: DataKeyStore
) -> dict[str, tuple[Any, ...]]:
    async with uow:
        found: dict[str, NoticeRecordView] = await uow.notice_records.of(ids)
    return {
        notice_id: (*(getattr(r, f) for f in COMPARED), notice_records.body_of(r, data_keys))
        for notice_id, r in found.items()
    }


class TestRoutingOnFakesAndSql:
    async def test_the_benchmarks_mix_gives_the_same_notices(self, tmp_path: Path) -> None:
        """Every event's notices: the same ids, records and bodies on both."""
        now = datetime.now(UTC).replace(microsecond=0)
        pop = population.population(PEOPLE, now.date())
        keys = KeyStore.create(tmp_path / "keys")
        events = deliveries(pop, keys, now)
        topics = Topics.with_prefix("t.")

        sql_keys, fake_keys = FileDataKeys(tmp_path / "sql-hh"), FileDataKeys(tmp_path / "hh")
        fake = FakeUnitOfWork()
        async with (
            directory_database(pop, tmp_path / "sql.db") as sql_sessions,
            directory_database(
                pop, tmp_path / "directory.db", copy_of=tmp_path / "sql.db"
            ) as directory_sessions,
        ):
            on_sql = routing_deps(sql_sessions, keys, CollectingPublisher(), topics,
                                  clock=lambda: now, data_keys=sql_keys)  # fmt: skip
            sql_ids = await routed(on_sql, events)
            from_sql = await records(SqlUnitOfWork(sql_sessions), _all(sql_ids), sql_keys)

            fake.directory = DirectoryOverSql(directory_sessions, fake.routed_events)  # type: ignore[assignment]
            on_fakes = RoutingDeps(lambda: fake, keys, CollectingPublisher(), topics,
                                   clock=lambda: now, data_keys=fake_keys)  # fmt: skip
            fake_ids = await routed(on_fakes, events)

        assert fake_ids == sql_ids
        assert len(from_sql) > EVENTS  # the mix tells more than one reader of most events
        assert _event_types(pop) == set(population.MIX)
        fired = {rule for r in from_sql.values() for rule in r[RULE].split("+")}
        assert {p for p in PATTERN_RULES if any(f.startswith(p) for f in fired)} == PATTERN_RULES
        assert await records(fake, _all(fake_ids), fake_keys) == from_sql


def _event_types(pop: population.Population) -> set[str]:
    return {str(event.event_type.value) for _, event in population.events(pop, EVENTS, seed=7)}


def _all(ids: list[list[str]]) -> list[str]:
    return [notice_id for each in ids for notice_id in each]
