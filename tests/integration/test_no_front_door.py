"""A move with no front door anywhere, through the real routing service and a throwaway SQLite
database: nobody can be told, and it is not silent. The data-quality report (as
``sgb report data-quality`` prints it) has a line naming the authority whose front door is
missing, the dead-letter topic a record of the notice nobody could take, and the router's log
an entry of ids only. None of them names a person.

The directory is the demo partnership's, with one more family: a mother and her son in an area
(E06000047) the partnership holds no front door for. Their GP reports that they move from
another such area (E06000057), destination unknown. When the event instead names Demo
Borough, whose front door the directory holds, that front door gets the transfer and its
data-quality report the area without one.
"""

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from rich.console import Console
from structlog.testing import capture_logs
from typer.testing import CliRunner

from broker.adapters import data_quality
from broker.adapters.data_quality import Gap, ReportLine
from broker.adapters.directory_projection import DirectoryProjection
from broker.adapters.scenario_database import scenario_database
from broker.entrypoints.cli import app as cli
from broker.entrypoints.report_cli import as_dict, report_table
from broker.ports import Message
from broker.rules.thresholds import Thresholds
from broker.services.directory_admin import load_directory
from broker.services.outbox import Outbox
from broker.services.routing import route_event
from broker.services.scenario import TOPICS, CollectingPublisher, Replay, Scenario, _directory
from producers.envelopes import seal_event, sign_event
from schemas.events import EventAdapter
from schemas.notices import NoticeHeader
from schemas.transport import EventHeader

pytestmark = pytest.mark.integration

HOME, LEAVING = "E06000047", "E06000057"  # no front door in the directory for either
MUM_NHS, SON_NHS = "9990007101", "9990007128"
PERSONAL = ("Ruth", "Alfie", "Hale", MUM_NHS, SON_NHS, "p-nfd-mum", "p-nfd-son", "1990-01-01")
START = datetime.fromisoformat("2027-06-07T10:00:00+01:00")
DIRECTORY: dict[str, Any] = {
    "people": [
        {"id": "p-nfd-mum", "nhs_number": MUM_NHS, "given_name": "Ruth", "family_name": "Hale",
         "date_of_birth": "1990-01-01"},
        {"id": "p-nfd-son", "nhs_number": SON_NHS, "given_name": "Alfie", "family_name": "Hale",
         "date_of_birth": "2017-09-09"},
    ],
    "households": [{"id": "h-nfd", "area": HOME, "members": [
        {"person_id": "p-nfd-mum", "role": "parent_or_carer"},
        {"person_id": "p-nfd-son", "role": "child"},
    ]}],
    "registrations": [
        {"person_id": "p-nfd-mum", "kind": "gp", "org_id": "gp-riverside"},
        {"person_id": "p-nfd-son", "kind": "gp", "org_id": "gp-riverside"},
    ],
}  # fmt: skip


@dataclass
class Routed:
    """What routing the move left: its notices, what went to Kafka, the report, the log."""

    notices: list[NoticeHeader]
    published: list[Message]
    report: list[ReportLine]
    logs: list[dict[str, Any]]
    nobody_told: list[dict[str, Any]]  # ``sgb report data-quality --no-front-door --json``

    def dead_letters(self) -> list[dict[str, Any]]:
        return [json.loads(m.value) for m in self.published if m.topic == TOPICS.dead_letters]


@pytest.fixture(scope="module")
async def routed() -> Routed:
    """The move to nowhere known, from an area with no front door, routed once."""
    return await route_move(LEAVING)


@pytest.fixture(scope="module")
async def from_demo_borough() -> Routed:
    """The same move, the event saying the family leaves Demo Borough, whose front door the
    directory holds."""
    return await route_move("E09000099")


async def route_move(leaving: str) -> Routed:
    """The family's GP reports that they move from ``leaving``, destination unknown: routed
    once, on a fresh database with the demo directory and the family."""
    scenario = Scenario(name="no-front-door", start=START, base_directory="demo",
                        directory=DIRECTORY, steps=[])  # fmt: skip
    async with scenario_database() as database:
        spec, recipients, producers = _directory(scenario)
        async with database.unit_of_work() as uow:
            await load_directory(uow, spec, actor="test")
        publisher = CollectingPublisher()
        outbox = Outbox(database.unit_of_work, publisher, TOPICS.notices,
                        database.keys.pseudonym_secret)  # fmt: skip
        replay = Replay(database, publisher, outbox, recipients, producers,
                        Thresholds(), DirectoryProjection())  # fmt: skip
        deps = replay.routing(START)
        event = EventAdapter.validate_python({
            "event_type": "family_moving_area", "event_id": str(uuid.uuid4()),
            "source_org": "gp-riverside", "occurred_at": START.isoformat(),
            "members": [{"nhs_number": MUM_NHS}, {"nhs_number": SON_NHS}],
            "from_authority": leaving, "moved_on": "2027-06-07",
        })  # fmt: skip
        header = EventHeader(event_id=event.event_id, event_type=event.event_type,
                             source_org=event.source_org, received_at=START,
                             broker_key_id=deps.keys.public.hpke_key_id)  # fmt: skip
        sealed = seal_event(sign_event(event, producers["gp-riverside"]), header,
                            deps.keys.public.hpke)  # fmt: skip
        with capture_logs() as logs:
            notices = await route_event(sealed, deps)
        async with database.sessions() as session:
            report = await data_quality.report(session)
        url = database.sessions.kw["bind"].url.render_as_string(hide_password=False)
        nobody_told = await cli_report(url, "--no-front-door")
        return Routed(notices, publisher.messages, report, logs, nobody_told)


async def cli_report(database_url: str, *options: str) -> list[dict[str, Any]]:
    """``sgb report data-quality --json`` run as the CLI runs it, against the database."""
    answer = await asyncio.to_thread(
        CliRunner().invoke, cli, ["report", "data-quality", *options, "--json"],
        env={"SGB_DATABASE_URL": database_url},
    )  # fmt: skip
    assert answer.exit_code == 0, answer.output
    return [json.loads(line) for line in answer.output.splitlines()]


class TestAMoveWithNoFrontDoorAnywhere:
    async def test_nobody_is_told(self, routed: Routed) -> None:
        """No front door can be found for the family's area nor the one the event names: no
        notice is sealed to anyone."""
        assert routed.notices == []

    async def test_the_data_quality_report_names_the_authority(self, routed: Routed) -> None:
        """One line: no front door, for the area the directory says the family lives in, on
        no front door's report (there is none), so the partnership's administrators see it."""
        lines = [line for line in routed.report if line.gap is Gap.NO_FRONT_DOOR]
        assert [(line.org_id, line.front_door, line.role, line.occurrences)
                for line in lines] == [(HOME, None, "duty_manager", 1)]  # fmt: skip

    async def test_the_command_line_report_shows_it(self, routed: Routed) -> None:
        """``sgb report data-quality`` prints the line with what to do about it."""
        [line] = [line for line in routed.report if line.gap is Gap.NO_FRONT_DOOR]
        assert as_dict(line)["gap"] == "no_front_door"
        console = Console(width=200, record=True)
        console.print(report_table([line]))
        printed = console.export_text()
        assert [w for w in ("no_front_door", HOME, "Nobody was told") if w not in printed] == []

    async def test_the_administrators_can_list_what_no_front_door_sees(
        self, routed: Routed
    ) -> None:
        """``sgb report data-quality --no-front-door`` lists only the lines that are on no
        front door's report."""
        assert [(line["gap"], line["org_id"], line["front_door"])
                for line in routed.nobody_told] == [("no_front_door", HOME, None)]  # fmt: skip

    async def test_the_dead_letter_records_it(self, routed: Routed) -> None:
        """One dead letter: why (no front door), the authority code, the notice's kind, the
        event's id; no rule and no person."""
        [letter] = routed.dead_letters()
        assert (letter["reason"], letter["org_id"], letter["notice_type"]) == (
            "no_front_door", HOME, "transfer")  # fmt: skip
        assert uuid.UUID(letter["event_id"])

    async def test_the_log_holds_ids_only(self, routed: Routed) -> None:
        """The router logs the undeliverable notice with the authority code and the rule."""
        [entry] = [e for e in routed.logs if e["event"] == "notice_undeliverable"]
        assert (entry["org_id"], entry["gap"], entry["rule_id"]) == (
            HOME, "no_front_door", "move.no_front_door")  # fmt: skip

    async def test_nothing_names_a_person(self, routed: Routed) -> None:
        """Neither the dead letter, the report nor the log holds a name, NHS number, date of
        birth or the directory's person ids."""
        seen = json.dumps(routed.dead_letters()) + json.dumps([as_dict(r) for r in routed.report])
        seen += json.dumps(routed.logs, default=str)
        assert not [p for p in PERSONAL if p in seen]


class TestTheFrontDoorTheEventNames:
    async def test_it_gets_the_transfer(self, from_demo_borough: Routed) -> None:
        """The directory's area has no front door: Demo Borough's, which the event names as
        the area the family leaves, gets the transfer, and nothing is dead-lettered."""
        assert [(n.recipient_id, n.notice_type.value) for n in from_demo_borough.notices] == [
            ("la-front-door:duty_manager", "transfer")]  # fmt: skip
        assert from_demo_borough.dead_letters() == []

    async def test_the_area_without_a_front_door_is_on_its_report(
        self, from_demo_borough: Routed
    ) -> None:
        """The gap that sent it there is on that front door's report, naming the area."""
        lines = [(line.gap, line.front_door, line.org_id) for line in from_demo_borough.report]
        assert lines == [(Gap.NO_FRONT_DOOR_FOR_AREA, "la-front-door", HOME)]
        assert from_demo_borough.nobody_told == []
