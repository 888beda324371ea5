"""The recipient side's read ports: the directory as the recipient side reads it, and
households' chronologies. They have no write methods (the directory and routing write those
rows), so each case is given its rows through the store's own means: ORM rows on SQL, the
fake's fields in memory; what is read back must be the same."""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.ports import ChronologyLine, ChronologyNotice, Reach, UnitOfWork
from broker.rules.family import Addressee, ContactRole
from tests.contracts.conftest import UnitsOfWork
from tests.fakes import FakeUnitOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LEAD = Addressee("la-1", ContactRole.SAFEGUARDING_LEAD)
DUTY = Addressee("la-1", ContactRole.DUTY_MANAGER)


@dataclass
class Given:
    front_doors: dict[str, str] = field(default_factory=dict)  # org -> area
    others: dict[str, str] = field(default_factory=dict)  # org that is no front door -> area
    homes: dict[str, tuple[str, set[str]]] = field(default_factory=dict)  # now, before
    contacts: dict[Addressee, tuple[str, str | None]] = field(default_factory=dict)
    events: dict[str, list[ChronologyLine]] = field(default_factory=dict)
    notices: list[ChronologyNotice] = field(default_factory=list)
    transfers: list[tuple[str, str, bool]] = field(default_factory=list)  # org, hh, rejected


async def given(uow: UnitOfWork, rows: Given) -> None:
    if isinstance(uow, FakeUnitOfWork):
        _in_memory(uow, rows)
    else:
        assert isinstance(uow, SqlUnitOfWork)
        await _in_sql(uow, rows)


def _in_memory(uow: FakeUnitOfWork, rows: Given) -> None:
    uow.recipients.front_doors |= rows.front_doors
    uow.recipients.kinds |= dict.fromkeys(rows.others, "school")
    uow.recipients.areas |= {h: {now, *before} for h, (now, before) in rows.homes.items()}
    uow.recipients.contacts |= {a: contact for a, (contact, _) in rows.contacts.items()}
    uow.recipients.webhooks |= {c: url for c, url in rows.contacts.values() if url}
    uow.chronologies.lines |= rows.events
    uow.chronologies.notices += rows.notices
    uow.chronologies.transfers |= {(o, h) for o, h, rejected in rows.transfers if not rejected}


async def _in_sql(uow: SqlUnitOfWork, rows: Given) -> None:
    kinds = {o: (a, "front_door") for o, a in rows.front_doors.items()}
    kinds |= {o: (a, "school") for o, a in rows.others.items()}
    uow.session.add_all(db.Organisation(id=o, name=o, kind=k, area=a)
                        for o, (a, k) in kinds.items())  # fmt: skip
    for household, (now, before) in rows.homes.items():
        uow.session.add(db.Household(id=household, area=now))
        uow.session.add_all(db.HouseholdArea(household_id=household, area=a) for a in before)
    await uow.session.flush()  # the rows below refer to these: no ORM relationship orders them
    uow.session.add_all(db.Contact(id=c, org_id=a.org_id, role=a.role.value, hpke_public_key="k",
                                   key_id="k", webhook_url=url)
                        for a, (c, url) in rows.contacts.items())  # fmt: skip
    for household, lines in rows.events.items():
        uow.session.add_all(
            db.ChronologyEntry(household_id=household, at=line.at, kind=line.kind,
                               event_id=line.event_id, event_type=line.event_type,
                               source_org=line.source_org)
            for line in lines
        )  # fmt: skip
    uow.session.add_all(db.ChronologyEntry(household_id=n.household_id, at=n.at, kind="notice",
                                           event_id=n.event_id, event_type="family_moving_area",
                                           source_org="la-0", notice_id=n.notice_id,
                                           recipient_id=n.recipient_id)
                        for n in rows.notices)  # fmt: skip
    for n, (org, household, rejected) in enumerate(rows.transfers):
        notice_id = f"7a000000-0000-4000-8000-{n:012d}"
        uow.session.add(db.ChronologyEntry(household_id=household, at=AT, kind="notice",
                                           event_id="e-t", event_type="family_moving_area",
                                           source_org="la-0", notice_id=notice_id))  # fmt: skip
        uow.session.add(db.NoticeRecord(
            notice_id=notice_id, chain_id=notice_id, event_id="e-t", household="h",
            recipient_id=f"{org}:front_door", recipient_org=org, notice_type="transfer",
            severity="medium", rule_id="move", created_at=AT, deadline=AT, escalate_to="[]",
            body="b", rejected_at=AT if rejected else None,
        ))  # fmt: skip


class TestRecipientDirectory:
    async def test_a_front_doors_area(self, unit_of_work: UnitsOfWork) -> None:
        """A front door's area; nothing for an organisation that is no front door, or none;
        each known organisation's kind."""
        async with unit_of_work() as uow:
            await given(uow, Given(front_doors={"fd-1": "E1"}, others={"school-1": "E1"}))
        async with unit_of_work() as uow:
            areas = [await uow.recipients.front_door_area(o) for o in ("fd-1", "school-1", "x")]
            kinds = [await uow.recipients.organisation_kind(o) for o in ("fd-1", "school-1", "x")]
        assert areas == ["E1", None, None]
        assert kinds == ["front_door", "school", None]

    async def test_a_households_areas_now_and_before(self, unit_of_work: UnitsOfWork) -> None:
        """Where the household lives and every area it lived in; nothing for a stranger."""
        async with unit_of_work() as uow:
            await given(uow, Given(homes={"hh-1": ("E1", {"E2", "E3"})}))
        async with unit_of_work() as uow:
            assert await uow.recipients.household_areas("hh-1") == {"E1", "E2", "E3"}
            assert await uow.recipients.household_areas("hh-9") == set()

    async def test_a_contact_and_its_webhook(self, unit_of_work: UnitsOfWork) -> None:
        """An addressee's own contact, else its organisation's safeguarding lead; a webhook
        only where the contact gave one."""
        async with unit_of_work() as uow:
            lead = ("la-1:lead", "https://la-1.example/n")
            await given(uow, Given(others={"la-1": "E1"}, contacts={LEAD: lead}))
        async with unit_of_work() as uow:
            assert await uow.recipients.contact_for(DUTY) == "la-1:lead"
            assert await uow.recipients.contact_for(Addressee("la-9", DUTY.role)) is None
            assert await uow.recipients.webhook_url("la-1:lead") == "https://la-1.example/n"
            assert await uow.recipients.webhook_url("nobody") is None

    async def test_a_contacts_organisation(self, unit_of_work: UnitsOfWork) -> None:
        """The organisation each contact belongs to; nothing for one the directory lacks."""
        async with unit_of_work() as uow:
            contacts = {LEAD: ("la-1:lead", None), Addressee("la-2", DUTY.role): ("la-2:d", None)}
            await given(uow, Given(others={"la-1": "E1", "la-2": "E1"}, contacts=contacts))
        async with unit_of_work() as uow:
            found = [await uow.recipients.organisation_of(c) for c in ("la-1:lead", "la-2:d", "x")]
        assert found == ["la-1", "la-2", None]

    async def test_how_each_contact_is_reached(self, unit_of_work: UnitsOfWork) -> None:
        """A contact's webhook, MESH mailbox and alert channels, each as it has them; one
        reached nowhere else, or unknown, is reached by nothing."""
        duty = ("la-1:duty", None)
        async with unit_of_work() as uow:
            lead = ("la-1:lead", "https://la-1.example/n")
            await given(uow, Given(others={"la-1": "E1"}, contacts={LEAD: lead, DUTY: duty}))
            await _give_mailbox(uow, "la-1:lead", "X26LA0001")
            await uow.alert_channels.replace("la-1:lead", [("email", "lead@la-1.example")])
        async with unit_of_work() as uow:
            reach = await uow.recipients.reach(["la-1:lead", "la-1:duty", "nobody"])
        lead_reach = reach["la-1:lead"]
        assert (lead_reach.webhook, lead_reach.mesh) == (True, True)
        assert [(c.kind, c.address) for c in lead_reach.alert_channels] == [
            ("email", "lead@la-1.example")
        ]
        for other in ("la-1:duty", "nobody"):
            assert reach.get(other, Reach()) == Reach()


async def _give_mailbox(uow: UnitOfWork, contact_id: str, mailbox: str) -> None:
    if isinstance(uow, FakeUnitOfWork):
        uow.mesh.mailboxes[contact_id] = mailbox
        return
    assert isinstance(uow, SqlUnitOfWork)
    await uow.session.flush()
    contact = await uow.session.get(db.Contact, contact_id)
    assert contact is not None
    contact.mesh_mailbox = mailbox


class TestChronologies:
    async def test_a_households_events_in_time_order(self, unit_of_work: UnitsOfWork) -> None:
        """The household's own lines only."""
        first = ChronologyLine(at=AT, kind="event", event_id="e-1", event_type="ed_attendance",
                               source_org="acute-1")  # fmt: skip
        later = ChronologyLine(at=AT.replace(hour=10), kind="event", event_id="e-2",
                               event_type="school_absence", source_org="school-1")  # fmt: skip
        async with unit_of_work() as uow:
            await given(uow, Given(events={"hh-1": [later, first], "hh-2": [first]}))
        async with unit_of_work() as uow:
            assert await uow.chronologies.of_household("hh-1") == [first, later]

    async def test_notices_by_the_start_of_their_id(self, unit_of_work: UnitsOfWork) -> None:
        """Every notice, in any household, whose id starts as given (a wildcard in the start
        matches itself only)."""
        one = ChronologyNotice("ab12cd34-0000-4000-8000-000000000001", "hh-1", "e-1", "s:d", AT)
        two = ChronologyNotice("ab12cd34-0000-4000-8000-000000000002", "hh-2", "e-2", None, AT)
        other = ChronologyNotice("ab12cd35-0000-4000-8000-000000000003", "hh-1", "e-3", None, AT)
        async with unit_of_work() as uow:
            await given(uow, Given(notices=[one, two, other]))
        async with unit_of_work() as uow:
            found = await uow.chronologies.notices_starting("ab12cd34-0000")
            assert await uow.chronologies.notices_starting("ab12cd3_") == []
        assert sorted(found, key=lambda n: n.notice_id) == [one, two]

    async def test_an_open_transfer(self, unit_of_work: UnitsOfWork) -> None:
        """A transfer notice to the front door about the household, not rejected by it."""
        async with unit_of_work() as uow:
            await given(uow, Given(transfers=[("fd-1", "hh-1", False), ("fd-2", "hh-1", True)]))
        async with unit_of_work() as uow:
            assert await uow.chronologies.transfer_open_to("fd-1", "hh-1")
            assert not await uow.chronologies.transfer_open_to("fd-2", "hh-1")
            assert not await uow.chronologies.transfer_open_to("fd-1", "hh-2")
