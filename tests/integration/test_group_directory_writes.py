"""A group of events in which one event writes to the directory (a step-down becomes a plan,
a move changes the households' area and keeps the plans it lists) and a later one concerns
the same family: the later event sees the write, with the router's directory in memory as
without it, exactly as when each event has a transaction of its own.

Through the routing service and a real database (SQLite and PostgreSQL)."""

import re
import uuid
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as orm_events
from support import demo_database

from broker.adapters.directory_projection import DirectoryProjection
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.demo import family
from broker.keys import KeyStore
from broker.services.routing import RoutingDeps
from schemas.events import Event, EventAdapter
from tests.integration.test_routing_group import NOW, Group

pytestmark = pytest.mark.integration

ELSEWHERE = "E09000098"  # an area the demo partnership has no organisation in


def step_down(days_ago: int) -> dict[str, Any]:
    """The family's own front door steps Child B down (applied at once: trust.py), the
    health visitors leading, his school an action owner, a review in three months."""
    on = (NOW - timedelta(days=days_ago)).date().isoformat()
    review = (NOW + timedelta(days=90)).date().isoformat()
    return {"event_type": "service_withdrawal", "source_org": "la-front-door",
            "occurred_at": (NOW - timedelta(days=days_ago)).isoformat(),
            "subject": {"nhs_number": family.CHILD_B}, "service": "Children's social care",
            "reason": "stepped_down", "withdrawn_on": on,
            "step_down": {"from_level": "child_protection", "to_level": "child_in_need",
                          "lead_professional": {"name": "Lead", "role": "Health visitor",
                                                "org_id": "hv-demo"},
                          "action_owners": [{"name": "Owner", "role": "DSL",
                                             "org_id": "school-oakfield"}],
                          "if_concerns_return": "Call the lead.", "review_by": review}}  # fmt: skip


def move(days_ago: int) -> dict[str, Any]:
    """The family's own front door moves the whole family out of the area, listing an
    earlier plan of Child B's."""
    on = NOW - timedelta(days=days_ago)
    people = [{"nhs_number": n} for n in (family.MOTHER, family.FATHER, family.CHILD_B,
                                         family.TWIN_1, family.TWIN_2)]  # fmt: skip
    return {"event_type": "family_moving_area", "source_org": "la-front-door",
            "occurred_at": on.isoformat(), "members": people, "from_authority": family.AREA,
            "to_authority": ELSEWHERE, "moved_on": on.date().isoformat(),
            "plans": [{"kind": "child_protection", "category": "neglect",
                       "child": {"nhs_number": family.CHILD_B}, "started_on": "2025-01-06",
                       "ended_on": "2025-09-01"}]}  # fmt: skip


def crisis(days_ago: int) -> dict[str, Any]:
    """The mother in crisis, suicidal ideation disclosed: a high-risk signal."""
    return {"event_type": "parent_mental_health_crisis", "source_org": "mh-demo",
            "occurred_at": (NOW - timedelta(days=days_ago)).isoformat(),
            "subject": {"nhs_number": family.MOTHER}, "suicidal_ideation": True,
            "clinical_summary": "Crisis team visit."}  # fmt: skip


def events(*payloads: dict[str, Any]) -> list[Event]:
    return [EventAdapter.validate_python({"event_id": str(uuid.uuid4()), **p}) for p in payloads]


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore.create(tmp_path / "keys")


# Each way of routing the same events: (one transaction each?, the directory in memory?).
WAYS = {"group, in memory": (False, True), "one by one, in memory": (True, True),
        "group, from SQL": (False, False)}  # fmt: skip


def in_memory_directory(routing: Group) -> RoutingDeps:
    """The group's routing with a router's projection of the directory."""
    units = partial(SqlUnitOfWork, routing.demo.sessions, DirectoryProjection())
    return replace(routing.deps, units=units)


async def routed_every_way(
    databases: Any, keys: KeyStore, tmp_path: Path, routed: list[Event]
) -> dict[str, tuple[dict[str, Any], set[str]]]:
    """What each way recorded, and the rules of the last event's notices."""
    recorded = {}
    for way, (one_by_one, in_memory) in WAYS.items():
        async with demo_database(await databases.new(), NOW.date()) as demo:
            routing = Group(demo, keys, tmp_path / f"households-{len(recorded)}")
            if in_memory:
                routing.deps = in_memory_directory(routing)
            await routing.route(routed, one_by_one=one_by_one)
            recorded[way] = await routing.recorded(), await routing.rules(routed[-1])
    return recorded


class TestAWriteSeenByTheRestOfTheGroup:
    async def test_a_step_down_reaches_the_later_concern_in_its_window(
        self, databases: Any, keys: KeyStore, tmp_path: Path
    ) -> None:
        """Child B stepped down, then his mother in crisis inside the step-down window, in
        one group: the crisis goes to the plan's lead professional and action owners (the
        brief: new concerns inside the step-down window go to them), and every way of
        routing the two records the same notices, chronology and audit."""
        recorded = await routed_every_way(
            databases, keys, tmp_path, events(step_down(3), crisis(1))
        )
        grouped, rules = recorded["group, in memory"]
        assert "step_down.concern_returned" in rules
        for way, (other, _) in recorded.items():
            assert other == grouped, way

    async def test_a_move_reaches_the_later_event_about_the_family(
        self, databases: Any, keys: KeyStore, tmp_path: Path
    ) -> None:
        """The family moved out of the area (and a plan it listed kept), then the mother in
        crisis, in one group: every way of routing the two records the same notices,
        chronology and audit, the crisis decided on the family where it now lives."""
        recorded = await routed_every_way(databases, keys, tmp_path, events(move(2), crisis(1)))
        grouped, _ = recorded["group, in memory"]
        assert grouped["notices"]
        for way, (other, _) in recorded.items():
            assert other == grouped, way


# What resolving a family reads when it is not in memory (plans aside: a step-down's plan
# is read back once written).
DIRECTORY_TABLES = {"people", "households", "household_members", "relationships",
                    "registrations", "involvements", "organisations", "contacts"}  # fmt: skip


def _table_read(statement: str) -> str | None:
    """The first table a SELECT reads."""
    found = re.search(r"\bFROM\s+(\w+)", statement)
    return found.group(1) if found and statement.lstrip().startswith("SELECT") else None


class TestTheGroupStaysInMemory:
    async def test_after_a_write_the_group_reads_no_directory_table_for_a_family(
        self, database_url: str, keys: KeyStore, tmp_path: Path
    ) -> None:
        """After the step-down is written, the crisis that follows in the same group
        resolves its family without reading the people, households or ties again: only the
        records the step-down wrote are read back."""
        async with demo_database(database_url, NOW.date()) as demo:
            routing = Group(demo, keys, tmp_path / "households")
            routing.deps = in_memory_directory(routing)
            [warm] = events(crisis(5))
            await routing.route([warm])  # the projection loaded
            statements: list[str] = []
            engine = routing.demo.sessions.kw["bind"].sync_engine

            def seen(*args: object) -> None:
                statements.append(str(args[2]))

            orm_events.listen(engine, "before_cursor_execute", seen)
            try:
                await routing.route(events(step_down(3), crisis(1), crisis(0)))
            finally:
                orm_events.remove(engine, "before_cursor_execute", seen)
        read = [s for s in statements if _table_read(s) in DIRECTORY_TABLES]
        assert not read, read
