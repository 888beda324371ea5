"""The directory as routing reads it, from the same records: organisations, contacts with their
stand-ins, producers' signing keys and what they may publish, school calendars, who a named
person is, and the family of someone the directory does not know.

The SQL directory is given its records through the directory's rows, the fake from the same
plain records (``FakeDirectory``); the writes routing makes (a move, a step-down's plans, a
move's listed plans) need a whole family and are covered by tests/integration."""

from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.adapters.directory import ContactRecord, OrgRecord, SigningKeyRecord
from broker.errors import EventNotPermitted, UnknownSigningKey
from broker.ports import UnitOfWork
from broker.rules.deadlines import SchoolCalendar
from broker.rules.family import Addressee, ContactRole
from producers import crypto
from schemas.events import EventType, PersonRef
from tests.contracts.conftest import UnitsOfWork
from tests.contracts.test_directory_rows import person
from tests.fakes import FakeDirectory, FakeUnitOfWork, organisations_of

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
AREA = "E09000099"
ORGS = [
    OrgRecord("la-front-door", "Front door", "front_door", AREA, "0100", None),
    OrgRecord("school-oakfield", "Oakfield", "school", AREA, None, "08:45"),
    OrgRecord("mh-demo", "Mental health trust", "mental_health", AREA, None, None),
]
CONTACTS = [
    (ContactRole.KEY_ADULT, ContactRecord("oak-ka", "school-oakfield", "pk-1", "k1")),
    (ContactRole.SAFEGUARDING_LEAD,
     ContactRecord("fd-lead", "la-front-door", "pk-2", "k2", webhook_url="https://fd.example/in")),
]  # fmt: skip
PRODUCER = Ed25519PrivateKey.generate().public_key()
KEY = SigningKeyRecord(
    crypto.encode_public(PRODUCER), AT - timedelta(days=1), AT + timedelta(days=1)
)
TERMS = {"school-oakfield": ((date(2026, 9, 3), date(2026, 12, 18)),)}
NHS = "9990000018"


async def given_the_directory(units: UnitsOfWork) -> None:
    async with units() as uow:
        if isinstance(uow, FakeUnitOfWork):
            known = organisations_of(ORGS, CONTACTS, [("mh-demo", "key-1", KEY)], TERMS)
            uow.directory = FakeDirectory(known, people={NHS: "p-1"})
            return
        await _rows(uow)


async def _rows(uow: UnitOfWork) -> None:
    rows = uow.directory_rows
    await rows.insert("organisations", [vars(org) for org in ORGS])
    await rows.insert("contacts", [
        {"id": c.contact_id, "org_id": c.org_id, "role": role.value,
         "hpke_public_key": c.hpke_public_key, "key_id": c.key_id,
         "daily_digest": c.daily_digest, "webhook_url": c.webhook_url}
        for role, c in CONTACTS
    ])  # fmt: skip
    await rows.insert("org_signing_keys", [
        {"org_id": "mh-demo", "key_id": "key-1", "public_key": KEY.public_key,
         "valid_from": KEY.valid_from, "valid_until": KEY.valid_until}])  # fmt: skip
    await rows.insert("school_terms", [
        {"org_id": org, "starts_on": start, "ends_on": end}
        for org, terms in TERMS.items() for start, end in terms])  # fmt: skip
    await rows.insert("people", [person("p-1") | {"nhs_number": NHS}])


class TestFamilyDirectory:
    async def test_an_organisation_is_read_as_recorded(self, unit_of_work: UnitsOfWork) -> None:
        """Its record, and none for an organisation the directory does not have."""
        await given_the_directory(unit_of_work)
        async with unit_of_work() as uow:
            assert await uow.directory.organisation("school-oakfield") == ORGS[1]
            assert await uow.directory.organisation("nowhere") is None
            assert (await uow.directory.organisations()).orgs == {o.id: o for o in ORGS}

    async def test_a_contact_or_its_organisations_stand_in(self, unit_of_work: UnitsOfWork) -> None:
        """The addressee's own contact; else the organisation's safeguarding lead; never a
        stand-in for the emergency duty team."""
        await given_the_directory(unit_of_work)
        async with unit_of_work() as uow:
            directory = uow.directory
            own = await directory.contact_for(Addressee("school-oakfield", ContactRole.KEY_ADULT))
            stand_in = await directory.contact_for(
                Addressee("la-front-door", ContactRole.DUTY_MANAGER)
            )
            night = await directory.contact_for(
                Addressee("la-front-door", ContactRole.EMERGENCY_DUTY)
            )
            assert (own, stand_in, night) == (CONTACTS[0][1], CONTACTS[1][1], None)
            assert await directory.webhook_url("fd-lead") == "https://fd.example/in"
            assert await directory.webhook_url("oak-ka") is None

    async def test_a_signing_key_only_while_valid(self, unit_of_work: UnitsOfWork) -> None:
        """The producer's key within its validity; UnknownSigningKey after it, or for a key
        id the producer never registered."""
        await given_the_directory(unit_of_work)
        async with unit_of_work() as uow:
            found = await uow.directory.signing_key("mh-demo", "key-1", AT)
            assert crypto.encode_public(found) == KEY.public_key
            with pytest.raises(UnknownSigningKey):
                await uow.directory.signing_key("mh-demo", "key-1", AT + timedelta(days=2))
            with pytest.raises(UnknownSigningKey):
                await uow.directory.signing_key("mh-demo", "key-2", AT)

    async def test_what_an_organisation_may_publish(self, unit_of_work: UnitsOfWork) -> None:
        """A mental health trust may publish a parent's crisis; a school may not, nor an
        organisation the directory does not have."""
        await given_the_directory(unit_of_work)
        crisis = EventType.PARENT_MENTAL_HEALTH_CRISIS
        async with unit_of_work() as uow:
            await uow.directory.check_may_publish("mh-demo", crisis)
            for org_id in ("school-oakfield", "nowhere"):
                with pytest.raises(EventNotPermitted):
                    await uow.directory.check_may_publish(org_id, crisis)

    async def test_a_schools_calendar(self, unit_of_work: UnitsOfWork) -> None:
        """Its terms and session start, in its nation."""
        await given_the_directory(unit_of_work)
        async with unit_of_work() as uow:
            calendar = await uow.directory.school_calendar("school-oakfield")
            assert calendar.terms == TERMS["school-oakfield"]
            assert calendar.session_start.isoformat(timespec="minutes") == "08:45"
            assert await uow.directory.school_calendar("nowhere") == SchoolCalendar()

    async def test_a_named_person_is_matched_by_nhs_number(self, unit_of_work: UnitsOfWork) -> None:
        """The directory's person id, and None for someone it does not know."""
        await given_the_directory(unit_of_work)
        async with unit_of_work() as uow:
            assert await uow.directory.match(PersonRef(nhs_number=NHS), "mh-demo") == "p-1"
            assert await uow.directory.match(PersonRef(nhs_number="9990000085"), "mh-demo") is None

    async def test_someone_unknown_has_a_family_of_nobody(self, unit_of_work: UnitsOfWork) -> None:
        """No subject, held for the front door of the source organisation's area, with a
        view of whom the event named."""
        await given_the_directory(unit_of_work)
        named = [PersonRef(nhs_number="9990000085", given_name="Sam", family_name="Cole")]
        async with unit_of_work() as uow:
            context = await uow.directory.family_for(named, "mh-demo")
        family = context.family
        assert (family.subject, family.members, family.area) == (None, (), AREA)
        assert family.front_door() == "la-front-door"
        assert [v.given_name for v in context.people.values()] == ["Sam"]
