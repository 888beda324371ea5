"""The passkey store: a challenge is used once, only for its kind and while young; a counter
moves only from the value read; a person is found by their recovery lookup (the new one once
renewed); removing a person's passkeys keeps the one named."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from broker.ports import Ceremony, Passkey, PasskeyPerson
from tests.contracts.conftest import UnitsOfWork
from tests.contracts.test_web_sessions import CONTACT, seed_contact

AT = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
PERSON = "6f1c7a52-0000-4000-8000-000000000001"
CHALLENGE = "c" * 43


def passkey(credential_id: str, count: int = 0) -> Passkey:
    return Passkey(credential_id, PERSON, CONTACT, "pk", count, '{"v": 1}', AT)


async def with_person(unit_of_work: UnitsOfWork, *credential_ids: str) -> None:
    async with unit_of_work() as uow:
        await seed_contact(uow)
        await uow.passkeys.add_person(PasskeyPerson(PERSON, CONTACT, "l" * 64, "{}", AT))
        for credential_id in credential_ids:
            await uow.passkeys.add_passkey(passkey(credential_id))


async def with_ceremony(unit_of_work: UnitsOfWork, kind: str = "authentication") -> None:
    async with unit_of_work() as uow:
        await seed_contact(uow)
        await uow.passkeys.add_ceremony(Ceremony(CHALLENGE, kind, CONTACT, PERSON, AT))


class TestCeremonies:
    async def test_used_once(self, unit_of_work: UnitsOfWork) -> None:
        """The first use answers the ceremony; the second, nothing."""
        await with_ceremony(unit_of_work)
        async with unit_of_work() as uow:
            used = await uow.passkeys.use_ceremony(CHALLENGE, "authentication", AT - MINUTE, AT)
            assert used == Ceremony(CHALLENGE, "authentication", CONTACT, PERSON, AT)
        async with unit_of_work() as uow:
            assert (
                await uow.passkeys.use_ceremony(CHALLENGE, "authentication", AT - MINUTE, AT)
                is None
            )

    async def test_only_for_its_kind_and_while_young(self, unit_of_work: UnitsOfWork) -> None:
        """Another kind, or issued at or before the cutoff: not used, and still usable."""
        await with_ceremony(unit_of_work, "registration")
        async with unit_of_work() as uow:
            assert (
                await uow.passkeys.use_ceremony(CHALLENGE, "authentication", AT - MINUTE, AT)
                is None
            )
            assert await uow.passkeys.use_ceremony(CHALLENGE, "registration", AT, AT) is None
            assert await uow.passkeys.use_ceremony(CHALLENGE, "registration", AT - MINUTE, AT)

    async def test_forgotten_once_issued_before_the_cutoff(self, unit_of_work: UnitsOfWork) -> None:
        """Challenges issued before the cutoff go; one issued at it stays."""
        await with_ceremony(unit_of_work)
        async with unit_of_work() as uow:
            assert await uow.passkeys.forget_ceremonies(AT) == 0
            assert await uow.passkeys.forget_ceremonies(AT + MINUTE) == 1
            assert (
                await uow.passkeys.use_ceremony(CHALLENGE, "authentication", AT - MINUTE, AT)
                is None
            )


class TestPeopleAndPasskeys:
    async def test_found_by_recovery_lookup_and_credential(self, unit_of_work: UnitsOfWork) -> None:
        """A person by their lookup, a passkey by its id, the contact as having passkeys."""
        await with_person(unit_of_work, "cred-1")
        async with unit_of_work() as uow:
            person = await uow.passkeys.person_by_recovery("l" * 64)
            assert person is not None
            assert person.person_id == PERSON
            assert await uow.passkeys.person_by_recovery("m" * 64) is None
            assert await uow.passkeys.passkey("cred-1") == passkey("cred-1")
            assert await uow.passkeys.contact_has_passkeys(CONTACT)
            assert not await uow.passkeys.contact_has_passkeys("school-1:nobody")

    async def test_a_renewed_recovery_key_finds_the_person_and_the_old_one_nobody(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """The new lookup finds the person, with the key wrapped under the new recovery key;
        the old lookup, nobody; a renewal from the old lookup again changes nothing, and the
        person's key is held as the new one only."""
        await with_person(unit_of_work, "cred-1")
        async with unit_of_work() as uow:
            assert await uow.passkeys.renew_recovery(PERSON, "l" * 64, "n" * 64, '{"renewed": 1}')
        async with unit_of_work() as uow:
            # Renewed from the old lookup again (a second replacement racing): not renewed;
            # nor held by an addition made with the old key.
            assert not await uow.passkeys.renew_recovery(PERSON, "l" * 64, "o" * 64, "{}")
            assert not await uow.passkeys.holds_recovery(PERSON, "l" * 64)
            assert await uow.passkeys.holds_recovery(PERSON, "n" * 64)
            assert await uow.passkeys.person_by_recovery("o" * 64) is None
            assert await uow.passkeys.person_by_recovery("l" * 64) is None
            person = await uow.passkeys.person_by_recovery("n" * 64)
            assert person == PasskeyPerson(PERSON, CONTACT, "n" * 64, '{"renewed": 1}', AT)

    async def test_a_counter_moves_only_from_the_value_read(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Of two sign-ins that read the same counter, the second finds it moved."""
        await with_person(unit_of_work, "cred-1")
        async with unit_of_work() as uow:
            assert await uow.passkeys.count_use("cred-1", 0, 1, AT)
            assert not await uow.passkeys.count_use("cred-1", 0, 1, AT)
            found = await uow.passkeys.passkey("cred-1")
            assert found is not None
            assert (found.sign_count, found.last_used_at) == (1, AT)

    async def test_removing_keeps_the_one_named(self, unit_of_work: UnitsOfWork) -> None:
        """A recovery's new passkey stays; the person's others go."""
        await with_person(unit_of_work, "cred-1", "cred-2", "cred-3")
        async with unit_of_work() as uow:
            assert await uow.passkeys.remove_passkeys(PERSON, keep="cred-3") == [
                "cred-1", "cred-2"]  # fmt: skip
            assert await uow.passkeys.passkey("cred-1") is None
            assert await uow.passkeys.passkey("cred-3") is not None


class TestListingAndRevoking:
    async def test_a_contacts_passkeys_oldest_first_with_their_authenticator(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Every passkey of the contact, oldest enrolled first, its AAGUID read back."""
        await with_person(unit_of_work)
        newer = replace(passkey("cred-b"), created_at=AT + MINUTE,
                        aaguid="08987058-cadc-4b81-b6e1-30de50dcbe96")  # fmt: skip
        async with unit_of_work() as uow:
            await uow.passkeys.add_passkey(newer)
            await uow.passkeys.add_passkey(passkey("cred-a"))
        async with unit_of_work() as uow:
            assert await uow.passkeys.passkeys_of(CONTACT) == [passkey("cred-a"), newer]
            assert await uow.passkeys.passkeys_of("school-1:nobody") == []

    async def test_a_revoked_passkey_is_gone_and_the_others_stay(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Removing one passkey removes it alone; removing it again finds none."""
        await with_person(unit_of_work, "cred-1", "cred-2")
        async with unit_of_work() as uow:
            assert await uow.passkeys.remove_passkey("cred-1")
        async with unit_of_work() as uow:
            assert not await uow.passkeys.remove_passkey("cred-1")
            assert await uow.passkeys.passkey("cred-1") is None
            assert await uow.passkeys.passkeys_of(CONTACT) == [passkey("cred-2")]

    async def test_held_are_those_still_there(self, unit_of_work: UnitsOfWork) -> None:
        """Holding passkeys answers those that exist (a removed one, or one never added,
        is not held) and changes nothing."""
        await with_person(unit_of_work, "cred-1", "cred-2")
        async with unit_of_work() as uow:
            assert await uow.passkeys.remove_passkey("cred-2")
        async with unit_of_work() as uow:
            assert await uow.passkeys.hold(["cred-2", "cred-1", "cred-9"]) == {"cred-1"}
            assert await uow.passkeys.passkeys_of(CONTACT) == [passkey("cred-1")]
