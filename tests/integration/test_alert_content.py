"""Alerts carry no content: for every notice every scenario produces (every notice type, every
family shape the scenarios hold), each trigger's alert text names none of the notice's people,
none of its event's facts or vocabulary, and neither its type, severity nor rule."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from broker.fixtures import partnership
from broker.rules.alerts import AlertFacts, Trigger, alert_text
from broker.services.scenario import Scenario, Told
from schemas.notices import NoticeType
from tests.alert_content import leaks
from tests.scenario_runs import SCENARIOS, results_of

pytestmark = pytest.mark.integration

LINK = "https://inbox.example.org/inbox/notices/00000000-0000-4000-8000-000000000001"


def strings(value: Any) -> Iterator[str]:
    """Every string and number in a JSON-like value (a person's names, numbers, dates)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        yield str(value)


def org_names(scenario: Scenario) -> dict[str, str]:
    names = {org: name for org, name, _ in partnership.ORGANISATIONS}
    listed = {o["id"]: o["name"] for o in scenario.directory.get("organisations", [])}
    return names | listed | {p["id"]: p["name"] for p in scenario.peers}


def what_it_holds(scenario: Scenario, told: Told) -> list[str]:
    """The notice's people and the scenario's events and people, as values."""
    people = scenario.directory.get("people", [])
    events = [step.event for step in scenario.steps]
    body = told.body.model_dump(mode="json", include={"about", "detail", "digest"})
    return [*strings(body), *strings(events), *strings(people)]


class TestAlertContent:
    async def test_no_alert_says_anything_of_its_notice(self) -> None:
        """Every scenario's every notice, alerted as new, escalated and about to fall due:
        the text says whose inbox, when and where, and nothing it holds."""
        problems: list[str] = []
        types: set[NoticeType] = set()
        for path in SCENARIOS:
            scenario = Scenario.load(path)
            names = org_names(scenario)
            for result in await results_of(path):
                for told in result.notices:
                    header, role = told.header, told.header.recipient_id.rsplit(":", 1)[-1]
                    types.add(header.notice_type)
                    name = names[header.recipient_org]
                    held = [v for v in what_it_holds(scenario, told) if v not in name]
                    for trigger in Trigger:
                        facts = AlertFacts(trigger, name, role, header.deadline, None, LINK)
                        text = alert_text(facts, header.created_at - timedelta(hours=1))
                        found = leaks(text, name, role, held, told.rule)
                        problems += [f"{path.stem} {told.rule} {trigger}: {found}"] if found else []
        assert not problems, "\n".join(problems[:20])
        assert types == set(NoticeType), f"no scenario makes {set(NoticeType) - types}"
