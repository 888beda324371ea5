"""Nothing silent, no poison pill, through the real router, Kafka, delivery and database.

A notice whose reader cannot receive it (a school with no contact registered, an under-five
with no health visiting registration, a contact whose key cannot be sealed to) goes to the
front door of the children's area with the reason, and the gap appears in the data-quality
report (``sgb report data-quality`` and the front door's API). One bad directory record
costs only its own notice: every other notice of the event arrives, and the router goes on
to route the next event. Neither the report nor a dead letter names a person.

The demo family: the mother (GP Riverside), the father (GP Hillview), Child B at Oakfield
Primary and twin babies under health visiting, the children all at GP Northgate. A crisis of
the mother reaches the school's key adult, the health visitors (a notice per twin), the three
GP practices and (the twins being under one, a high-risk signal) the front door.
"""

import asyncio
import base64
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from conftest import Routed
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import (
    audited_sessions,
    clear_of_the_front_doors_opening_or_closing,
    front_door_closed,
    open_listed,
    post_signed,
    wait_for_notices,
)
from typer.testing import CliRunner

from broker.adapters import db
from broker.adapters.dead_letter_topic import DeadLetter
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.demo import family
from broker.entrypoints.cli import app as cli
from broker.keys import KeyStore
from broker.services.directory_changes import record
from integration.test_auth import access_token, bearer
from integration.test_family_routing import crisis
from integration.test_no_front_door import cli_report
from integration.test_router import dead_letters, until_routed

pytestmark = pytest.mark.integration
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(autouse=True)
async def front_door_hours_steady() -> None:
    """So that ``out_of_hours``, read as a test checks, agrees with the router's reading."""
    await clear_of_the_front_doors_opening_or_closing()


FRONT_DOOR = "la-front-door"
FRONT_DOOR_INBOX = "la-front-door:duty_manager"
EDT_INBOX = "la-front-door:emergency_duty_team"
SCHOOL = "school-oakfield"
HEALTH_VISITORS = "hv-demo:safeguarding_lead"
GPS = ("gp-riverside:safeguarding_lead", "gp-hillview:safeguarding_lead",
       "gp-northgate:safeguarding_lead")  # fmt: skip
# 32 zero bytes: a low-order X25519 point, of the right length, that nothing can be sealed to.
UNUSABLE_KEY = base64.b64encode(bytes(32)).decode()
# What the report and the dead letters must never hold: the family's names, NHS numbers and
# dates of birth (the directory's person ids too, though they name nobody outside it).
PERSONAL = ("Jess", "Dan", "Leo", "Mia", "Noah", "Carter", family.MOTHER, family.FATHER,
            family.CHILD_B, family.TWIN_1, family.TWIN_2, "p-mother", "p-father", "p-child-b",
            "p-twin-1", "p-twin-2")  # fmt: skip

Post = Callable[[dict[str, Any]], Awaitable[None]]
Keys = dict[str, Any]


@pytest.fixture
def post(gateway: httpx.AsyncClient, producer_keys: dict[str, Ed25519PrivateKey]) -> Post:
    """Posts an event to the gateway, signed by its source organisation."""

    async def signed(payload: dict[str, Any]) -> None:
        answer = await post_signed(gateway, payload, producer_keys)
        assert answer.status_code == 202, answer.text

    return signed


# --------------------------------------------------------------------------- bad records
# Written straight into the tables, as a record that slipped past the admin API would be;
# the change log is told, as any edit tells it, so every process reads the directory again.


async def _edit(
    sessions: Sessions, statement: Any, entity: str, entity_id: str, field: str
) -> None:
    async with sessions.begin() as session:
        await session.execute(statement)
        await record(SqlUnitOfWork.joined(session), "test-bypass", entity, entity_id, "updated",
                     [field])  # fmt: skip


async def school_not_onboarded(sessions: Sessions, school: str = SCHOOL) -> None:
    """The school has no contact at all (its key adult and deputy never registered)."""
    await _edit(sessions, delete(db.Contact).where(db.Contact.org_id == school), "organisation",
                school, "contacts")  # fmt: skip


async def no_health_visitor(sessions: Sessions, person_id: str = "p-twin-1") -> None:
    """A baby with no health visiting registration."""
    gone = delete(db.Registration).where(
        db.Registration.person_id == person_id, db.Registration.kind == "health_team"
    )
    await _edit(sessions, gone, "registration", f"{person_id}/health_team", "org_id")


async def unusable_key(sessions: Sessions, contact_id: str) -> None:
    """The contact's key replaced by one nothing can be sealed to."""
    bad = update(db.Contact).where(db.Contact.id == contact_id).values(hpke_public_key=UNUSABLE_KEY)
    await _edit(sessions, bad, "contact", contact_id, "hpke_public_key")


# --------------------------------------------------------------------------- what arrived


async def inbox_rows(rt: Runtime) -> list[tuple[dict[str, Any], str]]:
    """Every notice routing delivered to any inbox: its header, and the rule the broker
    recorded for it (no header names its rule). Follow-ups are left out: in the hour before
    a school day starts, the router's timer escalates the school's notice at once."""
    async with rt.sessions() as session:
        rows = (await session.execute(
            select(db.InboxNotice.header, db.NoticeRecord.rule_id)
            .join(db.NoticeRecord, db.NoticeRecord.notice_id == db.InboxNotice.notice_id)
            .where(db.NoticeRecord.follows.is_(None))
        )).all()  # fmt: skip
    return [(json.loads(header), rule) for header, rule in rows]


def told(rows: list[tuple[dict[str, Any], str]], event_id: str) -> Counter[tuple[str, str]]:
    """(recipient, rule) of each notice the event produced."""
    return Counter((h["recipient_id"], rule) for h, rule in rows if h["event_id"] == event_id)


def everyone_but_the_school() -> Counter[tuple[str, str]]:
    """What a crisis of the mother produces besides the school's notice (and besides any
    out-of-hours alert: ``out_of_hours``)."""
    return Counter({(FRONT_DOOR_INBOX, "crisis.front_door"): 1,
                    (HEALTH_VISITORS, "crisis.child"): 2,
                    **{(gp, "crisis.gp"): 1 for gp in GPS}})  # fmt: skip


def the_deputy() -> Counter[tuple[str, str]]:
    """The deputy's own copy of the school's high notice: its key is not the one at fault."""
    return Counter({(f"{SCHOOL}:deputy_key_adult", "crisis.child"): 1})


def out_of_hours(*referrals: str) -> Counter[tuple[str, str]]:
    """While the front door is closed (the tests run at whatever time it is), its emergency
    duty team is told of each high-risk referral at once."""
    if not front_door_closed():
        return Counter()
    return Counter({(EDT_INBOX, f"{rule}.out_of_hours"): 1 for rule in referrals})


async def opened_fallback(
    inbox: httpx.AsyncClient, rt: Runtime, keys: Keys, rule_id: str
) -> tuple[Any, Any]:
    """The front door's fallback notice of this rule, opened with the front door's key: the
    rule is in the body, which the front door may read."""
    listed = await wait_for_notices(inbox, FRONT_DOOR_INBOX, 1)
    opened = [await open_listed(inbox, FRONT_DOOR_INBOX, i, keys, rt.keys.public) for i in listed]
    return next((header, body) for header, body in opened if body.rule_id == rule_id)


async def issues(session: AsyncSession, kind: str) -> list[db.DataQualityIssue]:
    query = select(db.DataQualityIssue).where(db.DataQualityIssue.kind == kind)
    return list((await session.scalars(query)).all())


async def letters_with(rt: Runtime, reason: str, count: int) -> list[DeadLetter]:
    async with asyncio.timeout(30):
        while True:
            found = [d for d in await dead_letters(rt, 0) if d.reason_name == reason]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)


def no_personal_data(text: str) -> None:
    for value in PERSONAL:
        assert value not in text


# --------------------------------------------------------------------------- the tests


class TestRecipientNotOnboarded:
    async def test_the_schools_notice_goes_to_the_front_door_with_the_reason(
        self, post: Post, inbox: httpx.AsyncClient, running_broker: Runtime,
        recipient_keys: Keys,
    ) -> None:  # fmt: skip
        """No contact at the school: the front door gets a referral saying so and naming the
        school, and every other notice of the crisis still arrives."""
        await school_not_onboarded(running_broker.sessions)
        event = crisis()
        await post(event)
        await until_routed(running_broker, 1)
        assert told(await inbox_rows(running_broker), event["event_id"]) == (
            everyone_but_the_school()
            + Counter({(FRONT_DOOR_INBOX, "crisis.child.fallback"): 1})
            + out_of_hours("crisis.front_door", "crisis.child.fallback")
        )
        header, body = await opened_fallback(inbox, running_broker, recipient_keys,
                                             "crisis.child.fallback")  # fmt: skip
        assert header.notice_type.value == "front_door_referral"
        assert body.facts["fallback_reason"] == "recipient_not_onboarded"
        assert body.facts["intended_for"] == SCHOOL

    async def test_the_gap_is_recorded_against_the_school(
        self, post: Post, running_broker: Runtime
    ) -> None:
        """A data-quality row names the school, in the front door's report."""
        await school_not_onboarded(running_broker.sessions)
        event = crisis()
        await post(event)
        await until_routed(running_broker, 1)
        async with running_broker.sessions() as session:
            rows = await issues(session, "recipient_not_onboarded")
        assert rows
        assert {(r.org_id, r.front_door, r.event_id) for r in rows} == {
            (SCHOOL, FRONT_DOOR, event["event_id"])
        }

    async def test_the_notice_is_not_dead_lettered_when_the_front_door_took_it(
        self, post: Post, running_broker: Runtime
    ) -> None:
        """Re-addressed is not lost: a dead letter is for a notice nobody could take."""
        await school_not_onboarded(running_broker.sessions)
        await post(crisis())
        await until_routed(running_broker, 1)
        assert [d.reason_name for d in await dead_letters(running_broker, 0)] == []


class TestUnderFiveWithoutHealthVisiting:
    async def test_the_front_door_hears_of_the_baby(
        self, post: Post, inbox: httpx.AsyncClient, running_broker: Runtime,
        recipient_keys: Keys,
    ) -> None:  # fmt: skip
        """A twin with no health visiting registration: the front door is told, with the
        reason; the other twin's health visitor still is."""
        await no_health_visitor(running_broker.sessions, "p-twin-1")
        event = crisis()
        await post(event)
        await until_routed(running_broker, 1)
        # The rules chose the front door for the baby: one incident, one referral.
        merged = "crisis.child.fallback+crisis.front_door"
        assert told(await inbox_rows(running_broker), event["event_id"]) == Counter({
            (FRONT_DOOR_INBOX, merged): 1,
            (HEALTH_VISITORS, "crisis.child"): 1,
            (f"{SCHOOL}:key_adult", "crisis.child"): 1,
            (f"{SCHOOL}:deputy_key_adult", "crisis.child"): 1,  # high: told together
            **{(gp, "crisis.gp"): 1 for gp in GPS},
        }) + out_of_hours(merged)  # fmt: skip
        _, body = await opened_fallback(inbox, running_broker, recipient_keys, merged)
        assert body.facts["fallback_reason"] == "no_health_visiting_registration"
        async with running_broker.sessions() as session:
            rows = await issues(session, "no_health_visiting_registration")
        assert {r.front_door for r in rows} == {FRONT_DOOR}


class TestUnsealableKey:
    async def test_dead_lettered_and_the_front_door_told_instead(
        self, post: Post, inbox: httpx.AsyncClient, running_broker: Runtime,
        recipient_keys: Keys,
    ) -> None:  # fmt: skip
        """A key adult's key that slipped through unusable: that notice is dead-lettered
        with the reason, the front door gets it instead, and the rest arrive."""
        await unusable_key(running_broker.sessions, f"{SCHOOL}:key_adult")
        event = crisis()
        await post(event)
        await until_routed(running_broker, 1)
        assert told(await inbox_rows(running_broker), event["event_id"]) == (
            everyone_but_the_school()
            + Counter({(FRONT_DOOR_INBOX, "crisis.child.fallback"): 1})
            + the_deputy()
            + out_of_hours("crisis.front_door", "crisis.child.fallback")
        )
        _, body = await opened_fallback(inbox, running_broker, recipient_keys,
                                        "crisis.child.fallback")  # fmt: skip
        assert body.facts["fallback_reason"] == "unsealable_recipient_key"
        assert body.facts["intended_for"] == SCHOOL
        [letter] = await letters_with(running_broker, "unsealable_recipient_key", 1)
        assert (letter.reason["org_id"], letter.reason["event_id"]) == (SCHOOL, event["event_id"])
        no_personal_data(letter.value.decode())

    async def test_the_router_goes_on_to_route_the_next_event(
        self, post: Post, running_broker: Runtime
    ) -> None:
        """No poison pill: the next event is routed, its own notices all delivered."""
        await unusable_key(running_broker.sessions, f"{SCHOOL}:key_adult")
        await post(crisis())
        await until_routed(running_broker, 1)
        following = crisis()
        await post(following)
        await until_routed(running_broker, 2)
        assert told(await inbox_rows(running_broker), following["event_id"]) == (
            everyone_but_the_school()
            + Counter({(FRONT_DOOR_INBOX, "crisis.child.fallback"): 1})
            + the_deputy()
            + out_of_hours("crisis.front_door", "crisis.child.fallback")
        )
        assert len(await letters_with(running_broker, "unsealable_recipient_key", 2)) == 2


async def three_bad_records(settings: Settings) -> None:
    """The school not onboarded, a baby with no health visiting, the GP's key unusable."""
    async with audited_sessions(settings) as sessions:
        await school_not_onboarded(sessions)
        await no_health_visitor(sessions, "p-twin-1")
        await unusable_key(sessions, "gp-hillview:safeguarding_lead")


async def both_routed(sessions: Sessions) -> bool:
    async with sessions() as session:
        done = await db.routing_progress(session)
    return done.events >= 2 and done.produced == done.stored


# Routed once a session after the three bad records are made; each test reads a copy.
TWO_CRISES = Routed("two-crises-three-bad-records", lambda: [crisis(), crisis()], both_routed,
                    prepare=three_bad_records)  # fmt: skip


class TestDataQualityReport:
    """Three bad records, two crises: each gap reported once per organisation, with the
    number of notices it cost, in the CLI and the front door's own API only."""

    @pytest.fixture
    def already_routed(self) -> Routed:
        return TWO_CRISES

    @pytest.fixture
    def two_crises(self, already_routed: Routed, settings: Settings) -> Settings:
        return settings

    async def test_the_cli_lists_each_gap_against_the_record_at_fault(
        self, two_crises: Settings
    ) -> None:
        """``sgb report data-quality --json``: each gap, the organisation whose record to
        mend, the front door's area and what to do; nothing that names a person."""
        lines = await cli_report(two_crises.database_url, "--front-door", FRONT_DOOR)
        gaps = {(line["gap"], line["org_id"]) for line in lines}
        assert {("recipient_not_onboarded", SCHOOL),
                ("unsealable_recipient_key", "gp-hillview")} <= gaps  # fmt: skip
        assert "no_health_visiting_registration" in {gap for gap, _ in gaps}
        assert {line["front_door"] for line in lines} == {FRONT_DOOR}
        assert all(line["what_to_do"] for line in lines)
        no_personal_data(json.dumps(lines))

    async def test_the_cli_counts_each_notice_once(self, two_crises: Settings) -> None:
        """Two crises, each costing the school's, the baby's and the GP's notice once: each
        gap counts two occurrences in all, however the report splits its lines."""
        counts: Counter[tuple[str, str | None]] = Counter()
        for line in await cli_report(two_crises.database_url, "--front-door", FRONT_DOOR):
            counts[line["gap"], line["org_id"]] += line["occurrences"]
        assert counts[("recipient_not_onboarded", SCHOOL)] == 2
        assert counts[("unsealable_recipient_key", "gp-hillview")] == 2
        assert sum(n for (gap, _), n in counts.items()
                   if gap == "no_health_visiting_registration") == 2  # fmt: skip

    async def test_the_cli_table_names_the_records_at_fault(self, two_crises: Settings) -> None:
        """The table for people: the gaps and the organisations whose records to mend."""
        answer = await asyncio.to_thread(
            CliRunner().invoke, cli, ["report", "data-quality"],
            env={"SGB_DATABASE_URL": two_crises.database_url},
        )  # fmt: skip
        assert answer.exit_code == 0, answer.output
        for shown in ("recipient_not_onboarded", "unsealable_recipient_key", SCHOOL,
                      "gp-hillview", "no_health_visiting_registration"):  # fmt: skip
            assert shown in answer.output
        no_personal_data(answer.output)

    async def test_the_front_door_reads_its_own_report(
        self, two_crises: Settings, inbox: httpx.AsyncClient
    ) -> None:
        """GET /v1/front-doors/{org}/data-quality answers the front door its area's gaps."""
        answer = await inbox.get(f"/v1/front-doors/{FRONT_DOOR}/data-quality")
        assert answer.status_code == 200
        gaps = {(line["gap"], line["org_id"]) for line in answer.json()}
        assert {("recipient_not_onboarded", SCHOOL),
                ("unsealable_recipient_key", "gp-hillview")} <= gaps  # fmt: skip
        assert "no_health_visiting_registration" in {gap for gap, _ in gaps}
        no_personal_data(answer.text)

    async def test_another_front_door_is_refused(
        self, two_crises: Settings, inbox: httpx.AsyncClient
    ) -> None:
        """One front door cannot read another's report."""
        other = access_token(KeyStore.load(two_crises.keys_dir).token, sub="other-front-door",
                             scope="front-door notices:read")  # fmt: skip
        answer = await inbox.get(f"/v1/front-doors/{FRONT_DOOR}/data-quality",
                                 headers=bearer(other))  # fmt: skip
        assert answer.status_code == 403
        no_personal_data(answer.text)

    async def test_a_school_is_refused(
        self, two_crises: Settings, inbox: httpx.AsyncClient
    ) -> None:
        """The report is for front doors only."""
        school = access_token(KeyStore.load(two_crises.keys_dir).token, sub=SCHOOL)
        answer = await inbox.get(f"/v1/front-doors/{FRONT_DOOR}/data-quality",
                                 headers=bearer(school))  # fmt: skip
        assert answer.status_code == 403
